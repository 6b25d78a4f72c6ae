"""The KMS JSON protocol app in process: KmsApp over the in-memory identity and key stores, a
real key-file provider, and a client signing with botocore's SigV4 for service ``kms``.

For the wire-level KMS tests in the fast loop (no server process, no sockets).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.custom_key_stores import CustomKeyStoreService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kms.xks_client import XksCall, XksClient
from andromede.kms.xks_store import MemoryCustomKeyStoreStore
from andromede.kmsapi.app import CONTENT_TYPE, KmsApp
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from support.json_client import JsonReply, Signers, signed_json_post
from support.xks_fake import FakeXksProxy

__all__ = ["REGION", "Harness", "Reply", "kms_harness"]

REGION = "eu-fr-1"


class Reply(JsonReply):
    @property
    def error_type(self) -> str:
        return str(self.error_fields()["__type"])


@dataclass
class Harness(Signers):
    app: KmsApp
    store: MemoryCustomerKeyStore
    audit_store: MemoryAuditStore
    audit: AuditService
    credentials: Credentials | None
    tenant_id: str
    identity: IdentityService
    xks: FakeXksProxy
    xks_calls: list[XksCall]

    async def call(
        self,
        action: str,
        payload: dict[str, Any] | bytes | None = None,
        *,
        content_type: str = CONTENT_TYPE,
        sign: bool = True,
    ) -> Reply:
        reply = await signed_json_post(
            self.app,
            f"TrentService.{action}",
            payload,
            content_type=content_type,
            credentials=self.credentials if sign else None,
            service="kms",
            region=REGION,
        )
        assert reply.headers["content-type"] == CONTENT_TYPE
        return Reply(reply.status, reply.headers, reply.body)


async def kms_harness(tmp_path: Path, store: MemoryCustomerKeyStore) -> AsyncIterator[Harness]:
    """The app with a first tenant, whose root the harness signs as."""
    settings = Settings(data_dir=tmp_path, region=REGION, max_api_body_size=64 * 1024)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    authoriser = KmsAuthoriser(identity.policies_for, REGION)
    proxy = FakeXksProxy(REGION)
    xks_calls: list[XksCall] = []
    client = XksClient(
        region=REGION,
        timeout=0.5,
        on_call=xks_calls.append,
        transport=proxy.transport(),
        resolver=proxy.resolver,
    )
    stores = CustomKeyStoreService(
        MemoryCustomKeyStoreStore(),
        store,
        authoriser,
        client,
        SecretSealer(os.urandom(32)),
    )
    service = CustomerKeyService(store, keys, authoriser, region=REGION, external_stores=stores)
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    app = KmsApp(service, identity, audit, settings)
    try:
        yield Harness(
            app,
            store,
            audit_store,
            audit,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            identity,
            proxy,
            xks_calls,
        )
    finally:
        await audit.close()
        keys.close()
