"""S3's daily storage metrics (decision 0181): ``AWS/S3`` ``BucketSizeBytes`` (dimensions
``BucketName``, ``StorageType`` ``StandardStorage``: the platform keeps one storage class) and
``NumberOfObjects`` (``BucketName``, ``StorageType`` ``AllStorageTypes``) of every bucket of
every account, once a day. An adapter between storage and metrics, which do not import each
other.

One gateway does each day: it claims the day's slot in ``metric_runs``
(:class:`~andromede.metrics.runs_sql.SqlMetricRuns`) and reads each bucket's figures in one
query (``ObjectService.bucket_storage``: current objects,
noncurrent versions, delete markers and incomplete uploads' parts, as S3 counts them). The
points go straight to the store, not through the sink's current minute: AWS stamps a day's
figures at 00:00 UTC of the day, with a one-day period; they are stored at the store's
coarsest resolution (one hour) at that midnight, which a read at a 86,400-second period takes
(every stored resolution dividing the period counts, decision 0172) and which is kept 455 days
— what AWS keeps of its one-hour and daily data.

The slot: the day begins at ``hour`` UTC (the run waits for it) and lasts ``interval``
seconds (a day; tests shorten it, each shorter slot then merging into the same day's point).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.metrics.model import Aggregate, Series, epoch
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.store import Point
from andromede.storage.model import Bucket, BucketStorage

__all__ = ["S3", "BucketFigures", "StorageMetrics"]

S3: Final = "AWS/S3"
_JOB: Final = "s3-storage"
_DAY: Final = 86400
_HOUR: Final = 3600
# Buckets read before their points are written: a bounded batch, whatever the fleet's size.
_BATCH: Final = 500

log = logging.getLogger(__name__)


class BucketFigures(Protocol):
    """What the job reads: the object service (or, in tests, its metadata store)."""

    async def all_buckets(self) -> list[Bucket]: ...

    async def bucket_storage(self, name: str) -> BucketStorage: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StorageMetrics:
    def __init__(
        self,
        objects: BucketFigures,
        metrics: MetricsService,
        runs: SqlMetricRuns,
        *,
        holder: str,
        hour: int = 0,
        interval: int = _DAY,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._objects = objects
        self._metrics = metrics
        self._runs = runs
        self._holder = holder
        self._offset = hour * _HOUR
        self._interval = interval
        self._clock = clock

    async def run_once(self) -> int | None:
        """The current slot's figures written if this gateway claims it: the number of
        points; None when another gateway has it or did it."""
        now = epoch(self._clock())
        slot = (now - self._offset) // self._interval
        # The claim holds an hour at most: a gateway that died mid-way leaves the day to
        # another within the hour, and one hour is far more than a pass takes.
        lease = min(self._interval, _HOUR)
        if not await self._runs.claim(_JOB, slot, self._holder, now, lease):
            return None
        begins = slot * self._interval + self._offset
        day = begins - begins % _DAY
        written, points = 0, list[Point]()
        buckets = await self._objects.all_buckets()
        for at, bucket in enumerate(buckets, start=1):
            used = await self._objects.bucket_storage(bucket.name)
            name = ("BucketName", bucket.name)
            for metric, storage, unit, value in (
                ("BucketSizeBytes", "StandardStorage", "Bytes", used.bytes),
                ("NumberOfObjects", "AllStorageTypes", "Count", used.objects),
            ):
                series = Series.of(bucket.tenant_id, S3, metric, [name, ("StorageType", storage)])
                aggregate = Aggregate.of_values([(float(value), 1.0)])
                points.append(Point(series, _HOUR, day, unit, aggregate))
            if at % _BATCH == 0 or at == len(buckets):
                await self._metrics.put_platform(points)
                written, points = written + len(points), []
        await self._runs.done(_JOB, slot, self._holder)
        log.info("S3 storage metrics of %d buckets written", len(buckets))
        return written
