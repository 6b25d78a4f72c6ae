"""An in-process S3 app over a real CustomerKeyService (memory store, local key file), for the
SSE-KMS and DSSE-KMS tests: key policies, key states, the stored key ARN and the audit trail
are the real ones."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from botocore.credentials import Credentials

from andromede.app import operator_access_service, s3_services, storage_limits
from andromede.audit.access_store import MemoryAccessRequestStore
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.custom_key_stores import CustomKeyStoreService
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kms.xks_client import XksCall, XksClient
from andromede.kms.xks_store import MemoryCustomKeyStoreStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.object_keys import KmsObjectCipher
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.sse_kms_keys import S3KmsKeys
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from support.s3app import Client
from support.server import REGION
from support.xks_fake import FakeXksProxy

__all__ = ["Kit", "make_kit"]


@dataclasses.dataclass
class Kit:
    client: Client
    keys: CustomerKeyService
    caller: Caller
    objects: ObjectService
    key_service: KeyService
    cipher: KmsObjectCipher
    blobs: MemoryBlobStore  # what the object service stores blobs in
    # With ``xks=True``: the in-process XKS proxy the KMS keys of external key stores use, and
    # the gateway's record of each call to it.
    xks: FakeXksProxy | None = None
    xks_calls: list[XksCall] = dataclasses.field(default_factory=list)
    # The meters the S3 app and its KMS key uses count into (decision 0150).
    billing: BillingService | None = None


@asynccontextmanager
async def make_kit(
    tmp_path: Path, *, allow_insecure_sse: bool, xks: bool = False
) -> AsyncIterator[Kit]:
    settings = Settings(data_dir=tmp_path, region=REGION, allow_insecure_sse=allow_insecure_sse)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    key_store = MemoryCustomerKeyStore()
    authoriser = KmsAuthoriser(identity.policies_for, REGION)
    proxy = FakeXksProxy(REGION) if xks else None
    xks_calls: list[XksCall] = []
    stores = None
    if proxy is not None:
        client = XksClient(
            region=REGION,
            timeout=0.5,
            on_call=xks_calls.append,
            transport=proxy.transport(),
            resolver=proxy.resolver,
        )
        stores = CustomKeyStoreService(
            MemoryCustomKeyStoreStore(), key_store, authoriser, client, SecretSealer(os.urandom(32))
        )
    customer_keys = CustomerKeyService(
        key_store, keys, authoriser, region=REGION, external_stores=stores
    )
    cipher = KmsObjectCipher(keys, inline=True)
    if stores is not None:
        cipher.attach_external(customer_keys)
    blobs = MemoryBlobStore()
    objects = ObjectService(
        MemoryMetadataStore(),
        blobs,
        dataclasses.replace(storage_limits(settings), deletion_grace=0),
        cipher,
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    # Operator access requests (decisions 0107, 0114): an operator's SSE-KMS reads.
    operator_access = operator_access_service(settings, MemoryAccessRequestStore(), audit)
    services = s3_services(
        settings,
        objects,
        identity,
        S3KmsKeys(customer_keys, audit, billing=billing),
        operator_access=operator_access,
    )
    app = S3App(services, identity, audit, billing=billing)
    client = Client(
        app,
        Credentials(boot.access_key_id, boot.secret_access_key),
        audit_store,
        audit,
        boot.tenant.id,
        identity,
        operator_access=operator_access,
    )
    account = boot.tenant.id
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    caller = Caller(account, root.arn, root)
    assert (await client.request("PUT", "/vault")).status == 200
    try:
        yield Kit(
            client, customer_keys, caller, objects, keys, cipher, blobs, proxy, xks_calls, billing
        )
    finally:
        await audit.close()
        keys.close()
