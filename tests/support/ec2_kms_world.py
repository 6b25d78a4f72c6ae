"""The EC2 and KMS apps in process over one identity service and one audit trail, the disk
keys being the real ones (``KmsDiskKeys`` over the customer-managed key service, its key
policies, IAM and grants): for what crosses the two, such as a shared image under a
customer-managed key (decision 0147, 2026-12-05). Each account has an EC2 client (botocore's
serializer and parser, :mod:`support.ec2app`) and a KMS client (botocore's signer)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from andromede.audit.model import AuditEvent
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Image
from andromede.compute.service import ComputeService
from andromede.compute.store_memory import MemoryComputeStore
from andromede.compute_adapters import KmsDiskKeys, compute_limits
from andromede.ec2api.app import Ec2App
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityLimits, IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.app import CONTENT_TYPE, KmsApp
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from support.asgi import post
from support.ec2app import REGION, Client

__all__ = ["Account", "KmsError", "KmsWorld", "ec2_kms_world"]


class KmsError(Exception):
    def __init__(self, status: int, error_type: str) -> None:
        super().__init__(f"{status} {error_type}")
        self.status = status
        self.error_type = error_type


@dataclass
class Account:
    """One account's clients: EC2 and KMS, signing as its root user or one of its users."""

    id: str
    ec2: Client
    kms_app: KmsApp
    credentials: Credentials

    @property
    def root_arn(self) -> str:
        return f"arn:aws:iam::{self.id}:root"

    async def kms(self, action: str, **payload: Any) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        request = AWSRequest(
            method="POST",
            url="http://127.0.0.1:9000/",
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"TrentService.{action}"},
        )
        SigV4Auth(self.credentials, "kms", REGION).add_auth(request)
        status, _, answer = await post(
            self.kms_app, dict(request.headers.items()), body, ("127.0.0.1", 50000)
        )
        parsed: dict[str, Any] = json.loads(answer) if answer else {}
        if status >= 300:
            raise KmsError(status, str(parsed.get("__type")))
        return parsed


@dataclass
class KmsWorld:
    compute: ComputeService
    identity: IdentityService
    audit: AuditService
    audit_store: MemoryAuditStore
    ec2_app: Ec2App
    kms_app: KmsApp
    image: Image

    async def account(self, name: str) -> Account:
        created = await self.identity.create_tenant(name)
        credentials = Credentials(created.access_key_id, created.secret_access_key)
        return Account(
            created.tenant.id, Client(self.ec2_app, credentials), self.kms_app, credentials
        )

    async def user(self, account: Account, name: str, policy: dict[str, Any]) -> Account:
        """A user of ``account`` with one inline policy, signing with its own access key."""
        await self.identity.create_user(account.id, name)
        await self.identity.put_user_policy(account.id, name, "inline", json.dumps(policy))
        created = await self.identity.create_access_key(account.id, name)
        credentials = Credentials(created.key.access_key_id, created.secret_access_key)
        return Account(account.id, Client(self.ec2_app, credentials), self.kms_app, credentials)

    async def events(self, account_id: str) -> list[AuditEvent]:
        """The events of ``account_id``'s trail, in order."""
        await self.audit.flush()
        found = await self.audit_store.list_events(account_id, after_id=0, limit=10_000)
        return [event for _, event in found]


@asynccontextmanager
async def ec2_kms_world(tmp_path: Path) -> AsyncIterator[KmsWorld]:
    settings = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        memory_hypervisor_vcpus=8,
        memory_hypervisor_memory_mib=8192,
    )
    identity = IdentityService(
        MemoryIdentityStore(), SecretSealer(os.urandom(32)), limits=IdentityLimits(cache_ttl=0)
    )
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    compute = ComputeService(
        MemoryComputeStore(),
        [MemoryDriver(vcpus=8, memory_mib=8192)],
        KmsDiskKeys(keys, inline=True, customer_keys=customer_keys, audit=audit),
        compute_limits(settings),
        ImageFiles(tmp_path / "images", max_size=1024**3),
    )
    source = tmp_path / "disk.raw"
    source.write_bytes(b"\0" * 4096)
    image = await compute.import_image_file(source, name="debian-12", owner_id=None)
    world = KmsWorld(
        compute,
        identity,
        audit,
        audit_store,
        Ec2App(compute, identity, audit, settings),
        KmsApp(customer_keys, identity, audit, settings),
        image,
    )
    try:
        yield world
    finally:
        await compute.close()
        await audit.close()
        keys.close()
