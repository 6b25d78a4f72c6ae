"""Amazon Data Firehose's JSON 1.1 app in process (decision 0223): FirehoseApp over the
in-memory identity store and a Firehose store (memory by default), its records sealed by the
real key-ring sealer or under a customer-managed key of its KMS (in memory), its deliveries
written as the stream's role into an in-memory object service, its metrics into a recording
sink and its bytes into a memory billing; calls made through botocore's own model of the
service (its serializer and parser, the parameters validated first), signed with SigV4 for
service ``firehose``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import botocore.session
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.firehose.memory import MemoryFirehoseStore
from andromede.firehose.service import FirehoseLimits, FirehoseService
from andromede.firehose.store import FirehoseStore
from andromede.firehose_delivery import KeyRingRecordSealer, RoleBucketWriter
from andromede.firehoseapi.app import CONTENT_TYPE, FirehoseApp
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wiring.firehose import FirehoseMetrics, endpoint_sender
from andromede.wiring.firehose_keys import StreamKmsSealer
from support.batch_world import LIMITS
from support.json_client import CallFailed, ModelledCalls
from support.keys import cipher_in, key_service_in
from support.metering import Metered

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("firehose")
TRUST: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "firehose.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def put_policy(resource: str = "arn:aws:s3:::*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": resource}],
        }
    )


@dataclass
class RecordingSink:
    points: list[tuple[str, str, str, tuple[tuple[str, str], ...], float]] = field(
        default_factory=list
    )

    def record(
        self,
        tenant_id: str,
        namespace: str,
        name: str,
        dimensions: Sequence[tuple[str, str]],
        value: float,
        unit: str = "None",
        *,
        resolution: int = 60,
    ) -> None:
        self.points.append((tenant_id, namespace, name, tuple(dimensions), value))

    def total(self, name: str) -> float:
        return sum(p[4] for p in self.points if p[2] == name)


@dataclass
class World(ModelledCalls, Metered):
    target_prefix = "Firehose_20150804"
    service = "firehose"
    model = MODEL
    content_type = CONTENT_TYPE

    app: FirehoseApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    firehose: FirehoseService
    objects: ObjectService
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    sink: RecordingSink
    deliverer: FirehoseDeliverer
    dropped: list[tuple[str, int, str]]
    customer_keys: CustomerKeyService

    async def role(
        self, name: str = "firehose", trust: str = TRUST, policy: str | None = None
    ) -> str:
        role = await self.identity.create_role(self.tenant_id, name, trust)
        await self.identity.put_role_policy(self.tenant_id, name, "put", policy or put_policy())
        return role.arn

    async def bucket(self, name: str = "landing") -> str:
        await self.objects.create_bucket(
            name, tenant_id=self.tenant_id, owner_id=self.tenant_id, region=REGION
        )
        return f"arn:aws:s3:::{name}"


async def firehose_world(
    tmp_path: Path, store: FirehoseStore | None = None, **overrides: Any
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, **overrides)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    objects = ObjectService(
        MemoryMetadataStore(), MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "keys")
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    sink = RecordingSink()
    metrics = FirehoseMetrics(sink, billing, REGION)
    keys = key_service_in(tmp_path / "firehose-keys")
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    stream_keys = StreamKmsSealer(
        KeyRingRecordSealer(keys), customer_keys, keys, audit, billing, cache_size=8
    )
    firehose = FirehoseService(
        store or MemoryFirehoseStore(),
        stream_keys,
        RoleBucketWriter(identity, objects, REGION),
        REGION,
        FirehoseLimits(
            max_streams=settings.firehose_max_delivery_streams,
            max_buffered_bytes=settings.firehose_max_buffered_bytes,
            http_endpoint_allow_http=settings.firehose_http_endpoint_allow_http,
        ),
        metrics,
        stream_keys,
    )
    dropped: list[tuple[str, int, str]] = []
    deliverer = FirehoseDeliverer(
        firehose,
        DeliveryPolicy(
            retry_interval_ms=5_000,
            retry_duration_ms=settings.firehose_delivery_retry_duration * 1000,
            max_backoff_ms=settings.firehose_http_endpoint_max_backoff * 1000,
        ),
        "gw-test",
        metrics,
        lambda stream, count, why: dropped.append((stream.name, count, why)),
        endpoint_sender(settings),
    )
    app = FirehoseApp(firehose, identity, audit, settings)
    yield World(
        app=app,
        identity=identity,
        credentials=Credentials(boot.access_key_id, boot.secret_access_key),
        tenant_id=boot.tenant.id,
        firehose=firehose,
        objects=objects,
        audit_store=audit_store,
        audit=audit,
        billing=billing,
        sink=sink,
        deliverer=deliverer,
        dropped=dropped,
        customer_keys=customer_keys,
    )


__all__ = [
    "MODEL",
    "REGION",
    "TRUST",
    "CallFailed",
    "RecordingSink",
    "World",
    "firehose_world",
    "put_policy",
]
