"""Amazon DynamoDB's wiring (decision 0237): the service over the metadata database with the
settings' limits, its items sealed under the accounts' key rings (``wiring.dynamodb_keys``),
its API app (with DynamoDB Streams', decision 0246), and the upkeep every ``serve`` runs
(items past their table's time to live deleted, stream records past their retention).

**Billing.** What each call reads and writes is counted as AWS bills on-demand tables:
read request units (one per 4 KB begun of a strongly consistent read, half for an
eventually consistent one, a page of a query or scan counted by its bytes) into the account's
``dynamodb.read-units``, write request units (one per 1 KB begun of the larger of the old and
the new item) into ``dynamodb.write-units``; halves are summed before being counted. Each
GetRecords of DynamoDB Streams answered is a streams read request unit (up to 1 MB, as AWS
bills them) into ``dynamodb.stream-read-units`` (decision 0246).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.dynamodb.backfill import IndexBackfill
from andromede.dynamodb.backup_store_sql import SqlBackupStore
from andromede.dynamodb.backups import DynamoBackups
from andromede.dynamodb.exports import DynamoExports
from andromede.dynamodb.exports_sql import SqlExportStore
from andromede.dynamodb.global_tables_service import GlobalTables
from andromede.dynamodb.global_tables_store_sql import SqlReplicationStore
from andromede.dynamodb.kinesis_destination_service import KinesisForwarder
from andromede.dynamodb.model import Table, TableLimits
from andromede.dynamodb.resource_policies import DynamoResourcePolicies
from andromede.dynamodb.resource_policies_sql import SqlResourcePolicyStore
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodb.throttling import ThroughputGate, ThroughputLimits
from andromede.dynamodb_export_buckets import CallerBuckets
from andromede.dynamodbapi.app import DynamoApp
from andromede.dynamodbapi.streams import shard_layout, stream_limits
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.metrics.sink import MetricsSink
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.wiring.dynamodb_global import global_tables
from andromede.wiring.dynamodb_keys import DynamoItemSealer
from andromede.wiring.dynamodb_kinesis import kinesis_destinations
from andromede.wiring.dynamodb_metrics import DynamoMetrics
from andromede.wiring.dynamodb_table_keys import DynamoKmsSealer

__all__ = [
    "READ_UNITS",
    "STREAM_READ_UNITS",
    "WRITE_UNITS",
    "DynamoMeter",
    "dynamodb_api",
    "dynamodb_limits",
    "throughput_limits",
]

READ_UNITS: Final = "dynamodb.read-units"
WRITE_UNITS: Final = "dynamodb.write-units"
STREAM_READ_UNITS: Final = "dynamodb.stream-read-units"
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
log = logging.getLogger(__name__)


class DynamoMeter:
    """``DynamoObserver`` into billing: whole units counted, the halves of eventually
    consistent reads carried per account until they make one."""

    def __init__(self, billing: BillingService | None, region: str) -> None:
        self._billing = billing
        self._region = region
        self._carried: defaultdict[str, float] = defaultdict(float)

    def consumed(self, table: Table, read_units: float, write_units: float) -> None:
        if self._billing is None:
            return
        tenant = table.tenant_id
        self._carried[tenant] += read_units
        whole = math.floor(self._carried[tenant])
        if whole:
            self._carried[tenant] -= whole
            self._billing.count(tenant, self._region, READ_UNITS, whole)
        if write_units:
            self._billing.count(tenant, self._region, WRITE_UNITS, math.ceil(write_units))

    def stream_read(self, tenant_id: str) -> None:
        if self._billing is not None:
            self._billing.count(tenant_id, self._region, STREAM_READ_UNITS, 1)


def throughput_limits(settings: Settings) -> ThroughputLimits:
    """Decision 0267's enforcement and UpdateTable's bounds, from the settings."""
    return ThroughputLimits(
        table_max_read=settings.dynamodb_table_max_read_capacity,
        table_max_write=settings.dynamodb_table_max_write_capacity,
        account_max_read=settings.dynamodb_account_max_read_capacity,
        account_max_write=settings.dynamodb_account_max_write_capacity,
        on_demand_max_read=settings.dynamodb_on_demand_max_read,
        on_demand_max_write=settings.dynamodb_on_demand_max_write,
        burst_seconds=settings.dynamodb_burst_seconds,
        partition_max_read=settings.dynamodb_partition_max_read,  # decision 0291
        partition_max_write=settings.dynamodb_partition_max_write,
        gateways=settings.dynamodb_capacity_gateways,
        enforced=settings.dynamodb_capacity_enforced,
    )


def dynamodb_limits(settings: Settings) -> TableLimits:
    return TableLimits(
        max_tables=settings.dynamodb_max_tables,
        max_item_size=settings.dynamodb_max_item_size,
        max_global_indexes=settings.dynamodb_max_global_indexes,
        max_local_indexes=settings.dynamodb_max_local_indexes,
        max_projected_attributes=settings.dynamodb_max_projected_attributes,
    )


async def _expire_forever(
    settings: Settings,
    dynamodb: DynamoService,
    streams: DynamoStreams,
    backups: DynamoBackups | None = None,
    metrics: DynamoMetrics | None = None,
) -> None:
    """Every ``dynamodb_ttl_interval``: items past their time to live deleted, and stream
    records past the streams' retention (decision 0246), item versions past the point-in-time
    recovery periods (decision 0253), transactions' client tokens past their ten minutes
    (decision 0259). Every gateway may run it: deleting
    twice deletes nothing more."""
    while True:
        await asyncio.sleep(settings.dynamodb_ttl_interval)
        try:
            while True:  # a backlog is worked through now, a thousand at a time
                deleted = await dynamodb.expire()
                if metrics is not None:
                    metrics.expired(deleted)  # TimeToLiveDeletedItemCount (decision 0254)
                if sum(deleted.values()) < 1000:
                    break
            await streams.prune()
            if backups is not None:  # point-in-time recovery's history (decision 0253)
                await backups.prune()
            await dynamodb.store.prune_tokens(int(time.time() * 1000))  # decision 0259
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("DynamoDB time-to-live deletion failed")


async def _upkeep(
    settings: Settings,
    dynamodb: DynamoService,
    streams: DynamoStreams,
    metrics: DynamoMetrics | None,
    backfill: IndexBackfill,
    backups: DynamoBackups | None = None,
    exports: DynamoExports | None = None,
    forwarder: KinesisForwarder | None = None,
    replicas: GlobalTables | None = None,
    regional_backfills: Sequence[IndexBackfill] = (),
) -> None:
    """The time-to-live upkeep, the indexes' backfill (decision 0254), the Kinesis
    streaming destinations' forwarder (decision 0262) and the global tables' replicator
    (decision 0265), in one task; first, the export and import jobs whose gateway stopped
    marked FAILED (decision 0261)."""
    jobs = [] if exports is None else [exports.forever(settings.dynamodb_ttl_interval)]
    replication = [] if replicas is None else [_replicate_forever(settings, replicas)]
    await asyncio.gather(
        _expire_forever(settings, dynamodb, streams, backups, metrics),
        backfill.forever(settings.dynamodb_ttl_interval),
        *(b.forever(settings.dynamodb_ttl_interval) for b in regional_backfills),
        *jobs,
        *([] if forwarder is None else [forwarder.run()]),
        *replication,
    )


async def _replicate_forever(settings: Settings, replicas: GlobalTables) -> None:
    """Every ``dynamodb_replication_interval``, a replication pass (decision 0265); every
    ``dynamodb_ttl_interval``, the replicator's marks past the streams' retention forgotten."""
    pruned = time.monotonic()
    while True:
        await replicas.wait(settings.dynamodb_replication_interval)  # or a replica begun (0291)
        try:
            await replicas.replicate_all()
            if time.monotonic() - pruned >= settings.dynamodb_ttl_interval:
                pruned = time.monotonic()
                await replicas.prune(int(settings.dynamodb_stream_retention * 1000))
        except Exception:  # a failed pass must not end the loop; the next one retries
            log.exception("DynamoDB global tables' replication failed")


def dynamodb_api(
    apis: MutableMapping[str, ASGIApp], settings: Settings, db: Database, keys: KeyService,
    identity: IdentityService, audit: AuditService, rate_limiter: RateLimiter | None,
    billing: BillingService | None, customer_keys: CustomerKeyService | None = None,
    metrics_sink: MetricsSink | None = None, objects: ObjectService | None = None,
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]]]:  # fmt: skip
    """The DynamoDB API app of ``serve`` put into ``apis`` (under ``dynamodb``, its SigV4
    service), its time-to-live upkeep, started, and what closing a tenant deletes of it (its
    tables, their items, streams and records, its backups, already unreadable once its key ring is
    destroyed)."""
    sealer = DynamoItemSealer(keys)
    if customer_keys is not None:  # tables under KMS keys (decision 0254)
        check = settings.dynamodb_table_key_check
        sealer = DynamoKmsSealer(keys, customer_keys, audit, billing, check_period=check)
    meter = DynamoMeter(billing, settings.region)
    dynamodb = DynamoService(
        SqlDynamoStore(db), sealer, settings.region, dynamodb_limits(settings), meter
    )
    dynamodb.throttle = ThroughputGate(throughput_limits(settings))  # decision 0267
    dynamodb.stream_shards = shard_layout(settings)  # decision 0275
    streams = DynamoStreams(dynamodb, stream_limits(settings), meter.stream_read)
    backups = DynamoBackups(  # decision 0253
        dynamodb, SqlBackupStore(db), settings.dynamodb_pitr_restore_lag
    )
    table_keys = sealer if isinstance(sealer, DynamoKmsSealer) else None
    metrics = None if metrics_sink is None else DynamoMetrics(metrics_sink)
    exports = (
        None if objects is None else _exports(settings, db, identity, objects, dynamodb, backups)
    )
    app = DynamoApp(
        dynamodb, identity, audit, settings, rate_limiter, streams,
        backups=backups, table_keys=table_keys, observer=metrics, exports=exports,
    )  # fmt: skip
    apis[DynamoApp.name] = app
    app.resource_policies = DynamoResourcePolicies(  # decision 0266
        SqlResourcePolicyStore(db), settings.dynamodb_max_resource_policy_size
    )
    backfill = IndexBackfill(dynamodb)  # decision 0254
    forwarder = kinesis_destinations(app, apis, settings, db)  # decision 0262
    replication = SqlReplicationStore(db)  # decision 0265: each served region, the replicas
    replicas = global_tables(
        app, settings, replication, sealer, dynamodb_limits(settings), billing,
        lambda region: DynamoMeter(billing, region),
        lambda region: DynamoMeter(billing, region).stream_read,
    )  # fmt: skip
    regional = [IndexBackfill(s) for s, _ in app.regions.values() if s is not dynamodb]
    upkeep = _upkeep(
        settings, dynamodb, streams, metrics, backfill, backups, exports, forwarder, replicas,
        regional,
    )  # fmt: skip
    task = asyncio.create_task(
        upkeep,
        name="dynamodb-ttl",
    )

    async def forget(tenant_id: str) -> int:
        sealer.forget(tenant_id)
        await backups.store.forget_tenant(tenant_id)
        if app.resource_policies is not None:
            await app.resource_policies.store.forget_tenant(tenant_id)
        await replication.forget_tenant(tenant_id)
        if exports is not None:
            await exports.forget_tenant(tenant_id)
        return await dynamodb.store.forget_tenant(tenant_id)

    return task, forget


def _exports(
    settings: Settings,
    db: Database,
    identity: IdentityService,
    objects: ObjectService,
    dynamodb: DynamoService,
    backups: DynamoBackups,
) -> DynamoExports:
    """Exports to S3 and imports from S3 (decision 0261): the buckets as the caller."""
    buckets = CallerBuckets(
        objects,
        S3Authoriser(identity.policies_for, settings.region),
        settings.max_object_size,
        settings.dynamodb_import_max_objects,
    )
    return DynamoExports(
        dynamodb,
        backups.store,
        SqlExportStore(db),
        buckets,
        settings.dynamodb_export_items_per_file,
        settings.dynamodb_job_lease,
    )
