"""S3's CloudWatch request metrics (decision 0187): for each request to a bucket with request
metrics configurations, the ``AWS/S3`` 1-minute metrics of each configuration whose filter
it matches, in the bucket owner's account, with dimensions ``BucketName`` and ``FilterId``.
An adapter between the S3 API (which tells it each request's outcome through its
:class:`~andromede.s3.request_metrics.RequestMetricsHook`), storage (where the
configurations are) and metrics, which do not import each other.

The metrics and their units are AWS's: ``AllRequests``, ``GetRequests``, ``PutRequests``,
``DeleteRequests``, ``HeadRequests``, ``PostRequests``, ``ListRequests`` (Count, 1 per
request), ``BytesDownloaded`` and ``BytesUploaded`` (Bytes, for requests with a body),
``4xxErrors`` and ``5xxErrors`` (Count, 0 or 1 per request: their Average is the error
rate, as on AWS), ``FirstByteLatency`` and ``TotalRequestLatency`` (Milliseconds).
``SelectRequests`` (Count), ``SelectBytesScanned`` and ``SelectBytesReturned`` (Bytes) for
SelectObjectContent (decision 0234): the object bytes its scan read, and those of its
``Records`` events.

Cost: which buckets have configurations is a dictionary re-read every
``s3_request_metrics_refresh`` (and told at once of this gateway's own changes), so that a
request to any other bucket costs one look-up. A counted request only merges into an
in-memory tally per (bucket, filter, minute), at most ``s3_request_metrics_max_series``
of them (request counts as integers, bytes and latencies as values folded into an aggregate
every thousand, so that memory stays bounded however busy the bucket); a background task
writes them every ``s3_request_metrics_flush_interval`` through the metrics service's
platform write (the one the platform-metrics sink uses), each at its own minute — never a
database write on the request's path. A gateway that dies loses its
last interval's counts, as the platform's other metrics do (decision 0172).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final, Protocol

from andromede.errors import AndromedeError
from andromede.metrics.errors import MetricsError
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.store import Point
from andromede.s3.request_metrics import RequestOutcome
from andromede.storage.metrics_configuration import (
    METRICS_DOCUMENT,
    MetricsConfiguration,
    metrics_from_text,
)

__all__ = ["UNITS", "BucketDocuments", "PlatformWriter", "S3RequestMetrics"]

S3: Final = "AWS/S3"
UNITS: Final = {
    "AllRequests": "Count",
    "GetRequests": "Count",
    "PutRequests": "Count",
    "DeleteRequests": "Count",
    "HeadRequests": "Count",
    "PostRequests": "Count",
    "ListRequests": "Count",
    "BytesDownloaded": "Bytes",
    "BytesUploaded": "Bytes",
    "4xxErrors": "Count",
    "5xxErrors": "Count",
    "FirstByteLatency": "Milliseconds",
    "TotalRequestLatency": "Milliseconds",
    "SelectRequests": "Count",
    "SelectBytesScanned": "Bytes",
    "SelectBytesReturned": "Bytes",
}
_BUCKETS_PER_READ: Final = 500
_MINUTE: Final = 60
# Values a tally holds of one metric before it folds them into its aggregate.
_FOLD: Final = 1000

log = logging.getLogger(__name__)

# (account, bucket, filter id, minute start)
_Key = tuple[str, str, str, int]


class BucketDocuments(Protocol):
    """Where the configurations are read from: the metadata store."""

    async def list_bucket_documents(
        self, kind: str, after: str | None, limit: int
    ) -> list[tuple[str, str]]: ...


class PlatformWriter(Protocol):
    """Where the points go: the metrics service's write of the platform's own metrics."""

    async def put_platform(self, points: Sequence[Point]) -> None: ...


class _Tally:
    """One (bucket, filter, minute)'s counts so far."""

    __slots__ = ("client_errors", "folded", "kinds", "requests", "server_errors", "values")

    def __init__(self) -> None:
        self.requests = 0
        self.client_errors = 0
        self.server_errors = 0
        self.kinds: dict[str, int] = {}
        self.values: dict[str, list[float]] = {}
        self.folded: dict[str, Aggregate] = {}

    def add(self, outcome: RequestOutcome, measured: Sequence[tuple[str, float]]) -> None:
        self.requests += 1
        if outcome.kind is not None:
            self.kinds[outcome.kind] = self.kinds.get(outcome.kind, 0) + 1
        if 400 <= outcome.status < 500:
            self.client_errors += 1
        elif outcome.status >= 500:
            self.server_errors += 1
        for name, value in measured:
            held = self.values.get(name)
            if held is None:
                held = self.values[name] = []
            held.append(value)
            if len(held) >= _FOLD:
                self._fold(name)

    def _fold(self, name: str) -> None:
        made = Aggregate.of_values((value, 1.0) for value in self.values.pop(name))
        before = self.folded.get(name)
        self.folded[name] = made if before is None else before.merged(made)

    def aggregates(self) -> list[tuple[str, Aggregate]]:
        for name in list(self.values):
            self._fold(name)
        total = float(self.requests)
        made = [("AllRequests", _ones(total, total))]
        made += [(kind, _ones(float(n), float(n))) for kind, n in self.kinds.items()]
        made.append(("4xxErrors", _ones(float(self.client_errors), total)))
        made.append(("5xxErrors", _ones(float(self.server_errors), total)))
        return made + list(self.folded.items())


def _ones(ones: float, of: float) -> Aggregate:
    """``of`` values, ``ones`` of them 1 and the rest 0 (a count, or an error's 0 or 1)."""
    return Aggregate.of_values(pair for pair in ((1.0, ones), (0.0, of - ones)) if pair[1] > 0)


class S3RequestMetrics:
    """The request metrics of this gateway: the configurations cache, the counters, their
    writes (:meth:`run_forever`)."""

    def __init__(
        self,
        documents: BucketDocuments,
        writer: PlatformWriter,
        *,
        flush_interval: float,
        refresh_interval: float,
        max_series: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._documents = documents
        self._writer = writer
        self._flush_interval = flush_interval
        self._refresh_interval = refresh_interval
        self._max_series = max_series
        self._clock = clock
        self._configs: dict[str, tuple[MetricsConfiguration, ...]] = {}
        self._pending: dict[_Key, _Tally] = {}
        # This gateway's own changes while a refresh reads: they win over what it read,
        # which may be older than them.
        self._changed: dict[str, tuple[MetricsConfiguration, ...]] | None = None
        self._dropped = 0

    def observes(self, bucket: str) -> bool:
        return bucket in self._configs

    def configured(self, bucket: str, configs: Sequence[MetricsConfiguration]) -> None:
        if self._changed is not None:
            self._changed[bucket] = tuple(configs)
        if configs:
            self._configs[bucket] = tuple(configs)
        else:
            self._configs.pop(bucket, None)

    def record(self, outcome: RequestOutcome) -> None:
        configs = self._configs.get(outcome.bucket.name, ())
        matched = [
            c for c in configs if c.matches(outcome.key, outcome.tags, outcome.access_point_arn)
        ]
        if not matched:
            return
        measured = _measured(outcome)
        now = int(self._clock())
        minute = now - now % _MINUTE
        owner, bucket = outcome.bucket.tenant_id, outcome.bucket.name
        for config in matched:
            key = (owner, bucket, config.config_id, minute)
            tally = self._pending.get(key)
            if tally is None:
                if len(self._pending) >= self._max_series:
                    self._dropped += 1
                    continue
                tally = self._pending[key] = _Tally()
            tally.add(outcome, measured)

    async def refresh(self) -> None:
        """Re-read which buckets have configurations (another gateway may have changed
        them)."""
        found: dict[str, tuple[MetricsConfiguration, ...]] = {}
        after: str | None = None
        changed: dict[str, tuple[MetricsConfiguration, ...]] = {}
        self._changed = changed
        try:
            while page := await self._documents.list_bucket_documents(
                METRICS_DOCUMENT, after, _BUCKETS_PER_READ
            ):
                for bucket, text in page:
                    configs = metrics_from_text(text)
                    if configs:
                        found[bucket] = tuple(configs)
                after = page[-1][0]
        finally:
            self._changed = None
        for bucket, mine in changed.items():
            if mine:
                found[bucket] = mine
            else:
                found.pop(bucket, None)
        self._configs = found

    async def flush(self) -> int:
        """Write the counters held; the number of points written."""
        pending, self._pending = self._pending, {}
        if self._dropped:
            log.warning("%d S3 request metric counts dropped: too many series", self._dropped)
            self._dropped = 0
        points = [
            Point(
                Series.of(owner, S3, name, (("BucketName", bucket), ("FilterId", filter_id))),
                _MINUTE,
                minute,
                UNITS[name],
                aggregate,
            )
            for (owner, bucket, filter_id, minute), tally in pending.items()
            for name, aggregate in tally.aggregates()
        ]
        if not points:
            return 0
        try:
            await self._writer.put_platform(points)
        except MetricsError:
            log.exception("S3 request metrics refused")
            return 0
        return len(points)

    async def run_forever(self) -> None:
        refreshed = 0.0
        try:
            while True:
                try:
                    if time.monotonic() - refreshed >= self._refresh_interval:
                        await self.refresh()
                        refreshed = time.monotonic()
                    await self.flush()
                except AndromedeError:
                    log.warning("S3 request metrics pass failed; the next retries", exc_info=True)
                await asyncio.sleep(self._flush_interval)
        finally:
            # Stopping: what is counted goes out, if the store still answers.
            with contextlib.suppress(Exception):
                await asyncio.shield(self.flush())


def _measured(outcome: RequestOutcome) -> list[tuple[str, float]]:
    """The metrics of one request that are values, not counts: bytes (of the requests with
    a body) and latencies."""
    measured: list[tuple[str, float]] = []
    if outcome.sent:
        measured.append(("BytesDownloaded", float(outcome.sent)))
    if outcome.received:
        measured.append(("BytesUploaded", float(outcome.received)))
    if outcome.select_scanned is not None:
        measured.append(("SelectBytesScanned", float(outcome.select_scanned)))
        measured.append(("SelectBytesReturned", float(outcome.select_returned)))
    measured.append(("FirstByteLatency", outcome.first_byte_ms))
    measured.append(("TotalRequestLatency", outcome.total_ms))
    return measured
