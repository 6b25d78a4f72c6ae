"""Amazon Kinesis Data Streams' wiring (decision 0228): the service over the metadata
database with the settings' limits, its records sealed under the accounts' key rings or their
streams' KMS keys (``wiring.kinesis_keys``), its API app, and the upkeep every ``serve`` runs
(records past their retention period deleted).

**Metrics and billing.** What a stream takes and gives is counted into its account's
``AWS/Kinesis`` metrics (dimension ``StreamName``): ``IncomingRecords``, ``IncomingBytes``,
``PutRecords.Records`` / ``PutRecord`` calls alike; ``GetRecords.Records`` and
``GetRecords.Bytes``, through the platform's metrics sink; and the shard-level metrics a
stream's enhanced monitoring enables (decision 0245), dimensions ``StreamName`` and
``ShardId``. Records put are billed as AWS bills
PUT payload units: one per 25 KiB begun of each record, into the account's
``kinesis.put-units``.

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
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import IdentityService
from andromede.kinesis.model import Stream, shard_id
from andromede.kinesis.service import KinesisLimits, KinesisService, ReadCounts
from andromede.kinesis.store_sql import SqlKinesisStore
from andromede.kinesis.throughput import ShardReadThrottle, ShardThrottle
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.metrics.sink import MetricsSink
from andromede.settings import Settings
from andromede.wiring.kinesis_keys import KinesisRecordSealer

__all__ = ["KinesisMetrics", "kinesis_api", "kinesis_limits", "put_units"]

NAMESPACE: Final = "AWS/Kinesis"
PUT_UNITS: Final = "kinesis.put-units"
_UNIT: Final = 25 * 1024  # AWS's PUT payload unit
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
log = logging.getLogger(__name__)


def put_units(sizes: Sequence[int]) -> int:
    return sum(max(1, -(-size // _UNIT)) for size in sizes)


class KinesisMetrics:
    """``KinesisObserver`` over the metrics sink and billing."""

    def __init__(
        self, sink: MetricsSink | None, billing: BillingService | None, region: str
    ) -> None:
        self._sink = sink
        self._billing = billing
        self._region = region

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
        sizes = [size for _, size in written]
        if sizes:
            self._record(stream, "IncomingRecords", float(len(sizes)), "Count")
            self._record(stream, "IncomingBytes", float(sum(sizes)), "Bytes")
            if self._billing is not None:
                self._billing.count(stream.tenant_id, self._region, PUT_UNITS, put_units(sizes))
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
    )


async def _trim_forever(settings: Settings, kinesis: KinesisService) -> None:
    """Every ``kinesis_trim_interval``: records past their retention period deleted. Every
    gateway may run it: trimming twice trims nothing more."""
    while True:
        await asyncio.sleep(settings.kinesis_trim_interval)
        try:
            await kinesis.trim()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("Kinesis retention trim failed")


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
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]]]:
    """The Kinesis API app of ``serve`` put into ``apis`` (under ``kinesis``, its SigV4
    service), its retention upkeep, started, and what closing a tenant deletes of it (its
    streams and their records, already unreadable once its key ring is destroyed)."""
    sealer = KinesisRecordSealer(
        keys, customer_keys, audit, billing, cache_size=settings.queue_kms_data_key_cache_size
    )
    kinesis = KinesisService(
        SqlKinesisStore(db),
        sealer,
        settings.region,
        kinesis_limits(settings),
        KinesisMetrics(sink, billing, settings.region),
        ShardThrottle(settings.kinesis_shard_write_records, settings.kinesis_shard_write_bytes),
        ShardReadThrottle(settings.kinesis_shard_read_calls, settings.kinesis_shard_read_bytes),
    )
    apis[KinesisApp.name] = KinesisApp(kinesis, identity, audit, settings, rate_limiter)
    task = asyncio.create_task(_trim_forever(settings, kinesis), name="kinesis-retention")
    return task, kinesis.store.forget_tenant
