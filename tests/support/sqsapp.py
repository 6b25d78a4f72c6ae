"""The SQS JSON protocol app in process: SqsApp over the in-memory identity and queue stores,
messages sealed by the real key sealer over a key-file provider (and, for queues under a KMS
key, by the real KMS sealer over a CustomerKeyService with its in-memory key store, decision
0165), and a client signing with botocore's SigV4 for service ``sqs``."""

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
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.move_tasks import MemoryMoveTaskStore
from andromede.queues.mover import MessageMover
from andromede.queues.service import QueueLimits, QueueService
from andromede.settings import Settings
from andromede.sqsapi.app import CONTENT_TYPE, SqsApp
from andromede.wiring.queue_keys import QueueKmsSealer
from andromede.wiring.queues import KeySealer
from support.json_client import JsonReply, Signers, signed_json_post

REGION = "eu-fr-1"


class Reply(JsonReply):
    @property
    def error_type(self) -> str:
        parsed = self.error_fields()
        assert self.headers["x-amzn-query-error"].endswith((";Sender", ";Receiver"))
        return str(parsed["__type"]).rsplit("#", 1)[1]


@dataclass
class Harness(Signers):
    app: SqsApp
    identity: IdentityService
    audit_store: MemoryAuditStore
    audit: AuditService
    credentials: Credentials | None
    tenant_id: str
    keys: CustomerKeyService
    queues: QueueService
    billing: BillingService
    store: MemoryQueueStore
    mover: MessageMover

    def key_caller(self, account: str | None = None) -> Caller:
        """The root user of ``account`` (this harness's tenant by default), as KMS's caller."""
        account = account or self.tenant_id
        root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
        return Caller(account, root.arn, root)

    async def call(self, action: str, payload: dict[str, Any] | bytes | None = None) -> Reply:
        reply = await signed_json_post(
            self.app,
            f"AmazonSQS.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="sqs",
            region=REGION,
        )
        return Reply(reply.status, reply.headers, reply.body)

    async def ok(self, action: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = await self.call(action, payload)
        assert reply.status == 200, reply.body
        return reply.json()


@pytest.fixture
async def sqs(tmp_path: Path) -> AsyncIterator[Harness]:
    settings = Settings(
        data_dir=tmp_path, region=REGION, max_api_body_size=4096, queue_max_message_size=2048
    )
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    mover = MessageMover(
        store := MemoryQueueStore(), MemoryMoveTaskStore(), region=REGION, max_rate=50
    )
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    queues = QueueService(
        store,
        KeySealer(keys),
        region=REGION,
        limits=QueueLimits(max_queues=5, max_message_size=2048, poll_interval=0.05),
        kms=QueueKmsSealer(customer_keys, keys, audit, billing, cache_size=4),
    )
    try:
        yield Harness(
            SqsApp(queues, identity, audit, settings, mover=mover, billing=billing),
            identity,
            audit_store,
            audit,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            customer_keys,
            queues,
            billing,
            store,
            mover,
        )
    finally:
        await billing.close()
        await audit.close()
        keys.close()
