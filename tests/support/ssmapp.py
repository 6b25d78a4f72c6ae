"""The Systems Manager Parameter Store app in process (decision 0229): SsmApp over the
in-memory identity store and parameter store, each value sealed by the real sealer (the
account's key ring, or the KMS envelope over a CustomerKeyService with its in-memory key store
and a key-file provider), and a client signing with botocore's SigV4 for service ``ssm``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from andromede.ssm.memory import MemoryParameterStore
from andromede.ssm.service import ParameterLimits, ParameterService
from andromede.ssmapi.app import CONTENT_TYPE, SsmApp
from andromede.wiring.ssm import ParameterSealer
from support.json_client import JsonReply, Signers, signed_json_post

REGION = "eu-fr-1"


@dataclass
class Harness(Signers):
    app: SsmApp
    identity: IdentityService
    audit_store: MemoryAuditStore
    audit: AuditService
    credentials: Credentials | None
    tenant_id: str
    keys: CustomerKeyService
    store: MemoryParameterStore
    region: str = REGION

    def key_caller(self) -> Caller:
        """The tenant's root user, as KMS's caller."""
        account = self.tenant_id
        root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
        return Caller(account, root.arn, root)

    async def call(self, action: str, payload: dict[str, Any] | bytes | None = None) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"AmazonSSM.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="ssm",
            region=self.region,
        )

    async def ok(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(action, payload)
        assert reply.status == 200, reply.body
        return reply.json()

    async def fails(self, action: str, payload: dict[str, Any], error_type: str) -> str:
        reply = await self.call(action, payload)
        assert reply.status == 400, reply.body
        body = reply.json()
        assert set(body) == {"__type", "message"}, body
        assert body["__type"] == error_type, reply.body
        assert reply.headers["x-amzn-requestid"]
        return str(body["message"])


@pytest.fixture
async def ssm(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(data_dir=tmp_path, region=REGION, max_api_body_size=4096)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(),
        keys,
        KmsAuthoriser(identity.policies_for, REGION),
        region=REGION,
        regions=(REGION,),
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    store = MemoryParameterStore()
    service = ParameterService(
        store,
        ParameterSealer(keys, customer_keys, REGION, audit),
        ParameterLimits(max_standard_parameters=8, max_versions=3, max_tags=3,
                        max_standard_value_size=64, max_advanced_value_size=128),
    )  # fmt: skip
    try:
        yield Harness(
            SsmApp(service, identity, audit, settings),
            identity,
            audit_store,
            audit,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            customer_keys,
            store,
        )
    finally:
        await audit.close()
        keys.close()
