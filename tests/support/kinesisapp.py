"""Amazon Kinesis Data Streams' JSON 1.1 app in process (decision 0228): KinesisApp over the
in-memory identity store and a Kinesis store (memory by default), its records sealed by the
real sealer (the account's key ring, or a customer-managed key of its KMS, in memory), its
metrics into a recording sink and its meters into a memory billing, its on-demand streams'
writes noted for their scaler (decision 0255); calls made through
botocore's own model of the service (its serializer and parser, the parameters validated
first), signed with SigV4 for service ``kinesis``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import botocore.session
from botocore.credentials import Credentials

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.model import Principal, PrincipalKind
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kinesis.memory import MemoryKinesisStore
from andromede.kinesis.scaling import ShardCapacity, WriteTraffic
from andromede.kinesis.service import KinesisService
from andromede.kinesis.store import KinesisStore
from andromede.kinesis.throughput import ShardReadThrottle, ShardThrottle
from andromede.kinesisapi.app import CONTENT_TYPE, KinesisApp
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.settings import Settings
from andromede.wiring.kinesis import KinesisMetrics, kinesis_limits
from andromede.wiring.kinesis_keys import KinesisRecordSealer
from support.firehoseapp import RecordingSink
from support.json_client import ModelledCalls
from support.keys import key_service_in
from support.metering import Audited, Metered

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("kinesis")


@dataclass
class World(ModelledCalls, Metered, Audited):
    target_prefix = "Kinesis_20131202"
    service = "kinesis"
    model = MODEL
    content_type = CONTENT_TYPE

    app: KinesisApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    kinesis: KinesisService
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    sink: RecordingSink
    customer_keys: CustomerKeyService
    traffic: WriteTraffic

    def root(self) -> Caller:
        account = self.tenant_id
        arn = f"arn:aws:iam::{account}:root"
        return Caller(account, arn, Principal(account, None, None, PrincipalKind.ROOT, arn))


async def kinesis_world(
    tmp_path: Path, store: KinesisStore | None = None, **overrides: Any
) -> AsyncIterator[World]:
    # The tests read a shard faster than AWS's 5 GetRecords a second; the read throughput's
    # own test (test_kinesis_records) sets its bound.
    overrides.setdefault("kinesis_shard_read_calls", 1000)
    settings = Settings(data_dir=tmp_path, region=REGION, **overrides)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    sink = RecordingSink()
    keys = key_service_in(tmp_path / "kinesis-keys")
    customer_keys = CustomerKeyService(
        MemoryCustomerKeyStore(), keys, KmsAuthoriser(identity.policies_for, REGION), region=REGION
    )
    traffic = WriteTraffic(
        ShardCapacity(settings.kinesis_shard_write_records, settings.kinesis_shard_write_bytes)
    )
    kinesis = KinesisService(
        store or MemoryKinesisStore(),
        KinesisRecordSealer(keys, customer_keys, audit, billing, cache_size=8),
        REGION,
        kinesis_limits(settings),
        KinesisMetrics(sink, billing, REGION, traffic),
        ShardThrottle(settings.kinesis_shard_write_records, settings.kinesis_shard_write_bytes),
        ShardReadThrottle(settings.kinesis_shard_read_calls, settings.kinesis_shard_read_bytes),
    )
    yield World(
        app=KinesisApp(kinesis, identity, audit, settings),
        identity=identity,
        credentials=Credentials(boot.access_key_id, boot.secret_access_key),
        tenant_id=boot.tenant.id,
        kinesis=kinesis,
        audit_store=audit_store,
        audit=audit,
        billing=billing,
        sink=sink,
        customer_keys=customer_keys,
        traffic=traffic,
    )


__all__ = ["MODEL", "REGION", "World", "kinesis_world"]
