"""Amazon Kinesis Data Streams' wiring (decision 0228): the service over the metadata
database with the settings' limits, its records sealed under the accounts' key rings or their
streams' KMS keys (``wiring.kinesis_keys``), its API app, and the upkeep every ``serve`` runs
(records past their retention period deleted; on-demand streams scaled out for their writes,
decision 0255, and in once their shards stay cold, decision 0260).

**Metrics and billing.** What a stream takes and gives is counted into its account's
``AWS/Kinesis`` metrics (dimension ``StreamName``): ``IncomingRecords``, ``IncomingBytes``,
``PutRecords.Records`` / ``PutRecord`` calls alike; ``GetRecords.Records`` and
``GetRecords.Bytes``, through the platform's metrics sink; and the shard-level metrics a
stream's enhanced monitoring enables (decision 0245), dimensions ``StreamName`` and
``ShardId``. Records put into a provisioned stream are billed as AWS bills PUT payload units:
one per 25 KiB begun of each record, into the account's ``kinesis.put-units``; into an
on-demand stream, as data ingested (each record rounded up to 1 KiB,
``kinesis.on-demand.ingested``). Bytes read are billed as AWS bills retrievals (decision
0255): GetRecords' from on-demand streams (``kinesis.on-demand.retrieved``; provisioned
streams' reads are in their shard hours), enhanced fan-out's from either mode
(``kinesis.fan-out.retrieved``, ``kinesis.on-demand.fan-out.retrieved``). What streams hold
(shards, consumers, metrics, retained bytes) is ``wiring.kinesis_billing``'s, sampled.

**The interface other contexts will use** (CloudWatch Logs subscription filters and Firehose
sources into a stream, next): :meth:`KinesisService.put` with the stream's account, name and
:class:`~andromede.kinesis.service.Entry` list, the caller None (the platform's own use: a KMS
key must only be usable), given through ``on_service`` as Firehose gives its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Final

from andromede.audit.service import AuditService
from andromede.billing.sampler import GroupedAmounts
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kinesis.metering import ingested_bytes
from andromede.kinesis.model import (
    MAX_RECORD_KIB,
    MIN_RECORD_KIB,
    Stream,
    StreamMode,
    shard_id,
)
from andromede.kinesis.scaling import OnDemandScaler, ShardCapacity, WriteTraffic
from andromede.kinesis.scaling_in import ColdShards
from andromede.kinesis.service import KinesisLimits, KinesisService, ReadCounts
from andromede.kinesis.store_sql import SqlKinesisStore
from andromede.kinesis.throughput import ShardReadThrottle, ShardThrottle
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.metrics.sink import MetricsSink
from andromede.settings import Settings
from andromede.wiring.kinesis_billing import kinesis_holdings
from andromede.wiring.kinesis_keys import KinesisRecordSealer

__all__ = ["KinesisMetrics", "kinesis_api", "kinesis_limits", "put_units"]

NAMESPACE: Final = "AWS/Kinesis"
PUT_UNITS: Final = "kinesis.put-units"
ON_DEMAND_INGESTED: Final = "kinesis.on-demand.ingested"
# The read meters by stream mode and reading API (decision 0255); GetRecords from a
# provisioned stream is in its shard hours.
_READ_METERS: Final = {
    (StreamMode.ON_DEMAND, "GetRecords"): "kinesis.on-demand.retrieved",
    (StreamMode.PROVISIONED, "SubscribeToShardEvent"): "kinesis.fan-out.retrieved",
    (StreamMode.ON_DEMAND, "SubscribeToShardEvent"): "kinesis.on-demand.fan-out.retrieved",
}
_UNIT: Final = 25 * 1024  # AWS's PUT payload unit
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
log = logging.getLogger(__name__)


def put_units(sizes: Sequence[int]) -> int:
    return sum(max(1, -(-size // _UNIT)) for size in sizes)


class KinesisMetrics:
    """``KinesisObserver`` over the metrics sink and billing."""

    def __init__(
        self,
        sink: MetricsSink | None,
        billing: BillingService | None,
        region: str,
        traffic: WriteTraffic | None = None,
    ) -> None:
        self._sink = sink
        self._billing = billing
        self._region = region
        self._traffic = traffic  # on-demand streams' writes, for their scaler (decision 0255)

    def _record(self, stream: Stream, name: str, value: float, unit: str) -> None:
        if self._sink is not None:
            dims = [("StreamName", stream.name)]
            self._sink.record(stream.tenant_id, NAMESPACE, name, dims, value, unit)

    def _shard(self, stream: Stream, shard: int, name: str, value: float, unit: str) -> None:
        """A shard-level metric, if the stream's enhanced monitoring enables it (0245)."""
        if self._sink is not None and name in stream.shard_level_metrics:
            dims = [("StreamName", stream.name), ("ShardId", shard_id(shard))]
            self._sink.record(stream.tenant_id, NAMESPACE, name, dims, value, unit)

    def incoming(
        self, stream: Stream, written: Sequence[tuple[int, int]], throttled: Sequence[int]
    ) -> None:
        if self._traffic is not None:
            self._traffic.note(stream, written, throttled)
        sizes = [size for _, size in written]
        if sizes:
            self._record(stream, "IncomingRecords", float(len(sizes)), "Count")
            self._record(stream, "IncomingBytes", float(sum(sizes)), "Bytes")
            if self._billing is not None:
                on_demand = stream.mode is StreamMode.ON_DEMAND
                meter = ON_DEMAND_INGESTED if on_demand else PUT_UNITS
                quantity = ingested_bytes(sizes) if on_demand else put_units(sizes)
                self._billing.count(stream.tenant_id, self._region, meter, quantity)
        if not stream.shard_level_metrics:
            return
        by_shard: dict[int, list[int]] = defaultdict(list)
        for shard, size in written:
            by_shard[shard].append(size)
        for shard, shard_sizes in sorted(by_shard.items()):
            self._shard(stream, shard, "IncomingRecords", float(len(shard_sizes)), "Count")
            self._shard(stream, shard, "IncomingBytes", float(sum(shard_sizes)), "Bytes")
        for shard, refused in sorted(Counter(throttled).items()):
            self._shard(stream, shard, "WriteProvisionedThroughputExceeded", float(refused),
                        "Count")  # fmt: skip

    def read(self, stream: Stream, shard: int, read: ReadCounts, operation: str) -> None:
        meter = _READ_METERS.get((stream.mode, operation))
        if self._billing is not None and meter is not None and read.size:
            self._billing.count(stream.tenant_id, self._region, meter, read.size)
        self._record(stream, f"{operation}.Records", float(read.records), "Count")
        self._record(stream, f"{operation}.Bytes", float(read.size), "Bytes")
        self._record(stream, f"{operation}.MillisBehindLatest", float(read.millis_behind),
                     "Milliseconds")  # fmt: skip
        # AWS counts a shard's Outgoing* over GetRecords and SubscribeToShard alike; a read
        # served exceeded nothing (a refused one is ``read_throttled``'s).
        self._shard(stream, shard, "OutgoingRecords", float(read.records), "Count")
        self._shard(stream, shard, "OutgoingBytes", float(read.size), "Bytes")
        self._shard(stream, shard, "IteratorAgeMilliseconds", float(read.age), "Milliseconds")
        self._shard(stream, shard, "ReadProvisionedThroughputExceeded", 0.0, "Count")

    def read_throttled(self, stream: Stream, shard: int) -> None:
        """A GetRecords refused past the shard's read throughput (decision 0248)."""
        self._record(stream, "ReadProvisionedThroughputExceeded", 1.0, "Count")
        self._shard(stream, shard, "ReadProvisionedThroughputExceeded", 1.0, "Count")

    def rate_exceeded(self, stream: Stream, operation: str) -> None:
        """A call refused by its per-second rate (``SubscribeToShard.RateExceeded``)."""
        self._record(stream, f"{operation}.RateExceeded", 1.0, "Count")


def kinesis_limits(settings: Settings) -> KinesisLimits:
    return KinesisLimits(
        max_shards=settings.kinesis_max_shards,
        max_on_demand_streams=settings.kinesis_max_on_demand_streams,
        max_consumers=settings.kinesis_max_consumers,
        iterator_lifetime_ms=settings.kinesis_iterator_lifetime * 1000,
        # The largest MaxRecordSizeInKiB a stream may set: the platform's record bound, within
        # AWS's 1 to 10 MiB (decision 0260).
        max_record_kib=min(MAX_RECORD_KIB,
                           max(MIN_RECORD_KIB, settings.kinesis_max_record_size // 1024)),
    )  # fmt: skip


async def _trim_forever(settings: Settings, kinesis: KinesisService) -> None:
    """Every ``kinesis_trim_interval``: records past their retention period deleted. Every
    gateway may run it: trimming twice trims nothing more."""
    while True:
        await asyncio.sleep(settings.kinesis_trim_interval)
        try:
            await kinesis.trim()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Kinesis retention trim failed")


async def _scale_forever(settings: Settings, scaler: OnDemandScaler) -> None:
    """Every ``kinesis_scale_interval``: on-demand streams scaled out for the writes this
    gateway took (decision 0255), and in where their shards stayed cold (decision 0260)."""
    while True:
        await asyncio.sleep(settings.kinesis_scale_interval)
        try:
            for stream in await scaler.scale():
                log.info("on-demand stream %s of %s scaled out to %d shards", stream.name,
                         stream.tenant_id, len(stream.open_shards))  # fmt: skip
            for stream in await scaler.scale_in():
                log.info("on-demand stream %s of %s scaled in to %d shards", stream.name,
                         stream.tenant_id, len(stream.open_shards))  # fmt: skip
        except Exception:  # the next round scales from what it sees then
            log.exception("Kinesis on-demand scaling failed")


async def _upkeep(settings: Settings, kinesis: KinesisService, scaler: OnDemandScaler) -> None:
    await asyncio.gather(_trim_forever(settings, kinesis), _scale_forever(settings, scaler))


def kinesis_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
    customer_keys: CustomerKeyService,
    sink: MetricsSink | None,
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]], GroupedAmounts]:
    """The Kinesis API app of ``serve`` put into ``apis`` (under ``kinesis``, its SigV4
    service), its upkeep (retention, on-demand scaling), started, what closing a tenant
    deletes of it (its streams and their records, already unreadable once its key ring is
    destroyed), and billing's reading of what its streams hold (decision 0255)."""
    traffic = WriteTraffic(
        ShardCapacity(settings.kinesis_shard_write_records, settings.kinesis_shard_write_bytes)
    )
    sealer = KinesisRecordSealer(
        keys, customer_keys, audit, billing, cache_size=settings.queue_kms_data_key_cache_size
    )
    kinesis = KinesisService(
        SqlKinesisStore(db),
        sealer,
        settings.region,
        kinesis_limits(settings),
        KinesisMetrics(sink, billing, settings.region, traffic),
        ShardThrottle(settings.kinesis_shard_write_records, settings.kinesis_shard_write_bytes),
        ShardReadThrottle(settings.kinesis_shard_read_calls, settings.kinesis_shard_read_bytes),
    )
    apis[KinesisApp.name] = KinesisApp(kinesis, identity, audit, settings, rate_limiter)
    scaler = OnDemandScaler(
        kinesis.store, traffic, max_stream_shards=settings.kinesis_max_on_demand_shards,
        max_account_shards=settings.kinesis_max_shards, cold=ColdShards(
            load=settings.kinesis_scale_in_load, window=settings.kinesis_scale_in_window,
            records_per_second=settings.kinesis_shard_write_records,
        ),
    )  # fmt: skip
    task = asyncio.create_task(_upkeep(settings, kinesis, scaler), name="kinesis-upkeep")
    return task, kinesis.store.forget_tenant, kinesis_holdings(kinesis.store)
