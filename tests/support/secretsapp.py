"""The Secrets Manager JSON protocol app in process (decision 0190): SecretsApp over the
in-memory identity store and a secret store (memory by default), each value sealed by the real
KMS envelope sealer over a CustomerKeyService with its in-memory key store and a key-file
provider (its KMS calls metered as ``kms.requests`` in the harness's memory billing), and a
client signing with botocore's SigV4 for service ``secretsmanager``. With ``regions``, the
deployment declares them beside ``REGION`` (decision 0207's replication), each an endpoint of
its own (``Harness.in_region``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.secrets.memory import MemorySecretStore
from andromede.secrets.service import SecretLimits, SecretService
from andromede.secrets.store import SecretStore
from andromede.secretsapi.app import CONTENT_TYPE, SecretsApp
from andromede.settings import Settings
from andromede.wiring.secrets import KmsSecretSealer, replication_policy
from support.json_client import JsonReply, Signers, signed_json_post
from support.metering import Metered

REGION = "eu-fr-1"


class Reply(JsonReply):
    def error_fields(self) -> dict[str, Any]:
        """The error body, once it is exactly ``__type`` and a non-empty ``Message`` (Secrets
        Manager's spelling)."""
        parsed = self.json()
        assert set(parsed) == {"__type", "Message"} and parsed["Message"], parsed
        return parsed

    @property
    def error_type(self) -> str:
        return str(self.error_fields()["__type"])


@dataclass
class Harness(Signers, Metered):
    app: SecretsApp
    identity: IdentityService
    audit_store: MemoryAuditStore
    audit: AuditService
    credentials: Credentials | None
    tenant_id: str
    keys: CustomerKeyService
    secrets: SecretService
    billing: BillingService
    region: str = REGION

    def in_region(self, region: str) -> Harness:
        """The same harness, signing for ``region``'s endpoint."""
        return dataclasses.replace(self, region=region)

    def key_caller(self, account: str | None = None) -> Caller:
        """The root user of ``account`` (this harness's tenant by default), as KMS's caller."""
        account = account or self.tenant_id
        root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
        return Caller(account, root.arn, root)

    async def call(self, action: str, payload: dict[str, Any] | bytes | None = None) -> Reply:
        reply = await signed_json_post(
            self.app,
            f"secretsmanager.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="secretsmanager",
            region=self.region,
        )
        return Reply(reply.status, reply.headers, reply.body)

    async def ok(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(action, payload)
        assert reply.status == 200, reply.body
        return reply.json()

    async def fails(self, action: str, payload: dict[str, Any], error_type: str) -> str:
        reply = await self.call(action, payload)
        assert reply.status == (501 if error_type == "NotImplemented" else 400), reply.body
        assert reply.error_type == error_type, reply.body
        assert reply.headers["x-amzn-requestid"]
        return str(reply.error_fields()["Message"])


async def harness(
    tmp_path: Path,
    store: SecretStore | None = None,
    *,
    regions: Sequence[str] = (),
    served: Sequence[str] = (),
    retry_interval: float = 5.0,
) -> AsyncIterator[Harness]:
    """``regions``: declared beside ``REGION``; ``served``: those this gateway serves (none
    said: every one)."""
    settings = Settings(
        data_dir=tmp_path,
        region=REGION,
        max_api_body_size=4096,
        secrets_max_value_size=1024,
        secrets_max_versions=4,
        regions=[{"name": r} for r in (REGION, *regions)] if regions else [],
        served_regions=tuple(served),
        secrets_replication_retry_interval=retry_interval,
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        keys,
        KmsAuthoriser(identity.policies_for, REGION),
        region=REGION,
        regions=(REGION, *regions),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    service = SecretService(
        store or MemorySecretStore(),
        KmsSecretSealer(customer_keys, REGION, audit, billing),
        # No grace: a version beyond the 4 kept goes at once (the grace is tested on its own).
        SecretLimits(
            max_value_size=1024, max_secrets=5, max_versions=4, max_tags=3, version_grace=0
        ),
        replication=replication_policy(settings, identity),
    )
    try:
        yield Harness(
            SecretsApp(service, identity, audit, settings, billing=billing),
            identity,
            audit_store,
            audit,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            customer_keys,
            service,
            billing,
        )
    finally:
        await billing.close()
        await audit.close()
        keys.close()


@pytest.fixture
async def sm(tmp_path: Path) -> AsyncIterator[Harness]:
    async for made in harness(tmp_path):
        yield made
