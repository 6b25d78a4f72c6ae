"""What a metric stream sends each minute (decision 0233), and the loop that sends it.

**A minute.** The platform already rolls every datapoint into one aggregate per (series,
resolution, period, unit) as it is put (decision 0172): a minute of a series is its period of
60 s merged with its periods of 1 s inside that minute (high-resolution points are stored at 1
s only). Each (series, unit) with data in the minute is one datapoint of the stream, written as
AWS's JSON output format documents it — one object a line, ``metric_stream_name``,
``account_id``, ``region``, ``namespace``, ``metric_name``, ``dimensions`` (an object),
``timestamp`` (the minute's start, epoch milliseconds), ``value`` (``count``, ``sum``, ``max``,
``min`` and the stream's additional statistics for that metric, a percentile absent when the
period cannot give it), ``unit`` — lines packed into Firehose records of at most
``record_bytes``, put in batches of 500 (PutRecordBatch's bound).

**Which minutes, by whom.** A minute is sent ``delay`` seconds after it ends (the buffered
sinks and the agents' puts have landed by then); data put later for it is not streamed. One
gateway sends a minute for every account: it claims the minute in ``metric_runs`` (job
``metric-streams``, slot the minute's number; decision 0181's lease), sends it, and marks it
done. The minutes run in order from the one after the last done: a gateway that died mid-minute
leaves it to the next claimer once its lease runs out (its streams' records then sent at least
once), and an outage of every gateway is caught up for ``catch_up`` minutes at most. The metric
store keeps the data, so nothing needs an outbox of its own: a minute is not done until every
running stream's records are in its Firehose stream's durable buffer or refused.

**Refusals.** A stream whose Firehose stream or role is gone, or refuses, keeps its state
(``running``), as on AWS; the refusal is counted into the account's
``AWS/CloudWatch/MetricStreams`` ``PublishErrorRate`` and told to the observer (logged and
audited by the wiring); the minute's records of that stream are dropped. A stream sends the
minutes from the one it was made in."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from andromede.metrics.model import Aggregate, Series, epoch, merge_all, statistic
from andromede.metrics.store import MetricStore
from andromede.metrics.streams import MetricStream, MetricStreamStore

__all__ = [
    "JOB",
    "MemoryMinuteRuns",
    "MetricStreamDeliverer",
    "MinuteRuns",
    "StreamDestination",
    "StreamObserver",
    "StreamPolicy",
    "datapoint_line",
    "pack",
]

log = logging.getLogger(__name__)

JOB: Final = "metric-streams"
_MINUTE: Final = 60
_BATCH: Final = 500  # PutRecordBatch's bound
_SERIES_PAGE: Final = 500


class StreamDestination(Protocol):
    async def deliver(self, stream: MetricStream, records: Sequence[bytes]) -> str | None:
        """Put the records into the stream's Firehose stream as its role; None when taken,
        else why not."""
        ...


class StreamObserver(Protocol):
    def streamed(self, stream: MetricStream, updates: int, error: str | None) -> None:
        """A minute of ``stream``: ``updates`` datapoints put, or the refusal."""
        ...


class MinuteRuns(Protocol):
    """``metrics.runs_sql.SqlMetricRuns``'s claims, and the last slot done."""

    async def claim(self, name: str, slot: int, holder: str, now: int, lease: int) -> bool: ...

    async def done(self, name: str, slot: int, holder: str) -> None: ...

    async def last_done(self, name: str) -> int | None: ...


@dataclass
class MemoryMinuteRuns:
    """The claims in a dict, for the unit tests (one process: no lease to contend)."""

    finished: dict[str, int] = field(default_factory=dict)
    claims: dict[str, tuple[int, str, int]] = field(default_factory=dict)

    async def claim(self, name: str, slot: int, holder: str, now: int, lease: int) -> bool:
        if self.finished.get(name, -1) >= slot:
            return False
        held = self.claims.get(name)
        if held is not None and held[0] == slot and held[1] != holder and held[2] > now:
            return False
        self.claims[name] = (slot, holder, now + lease)
        return True

    async def done(self, name: str, slot: int, holder: str) -> None:
        held = self.claims.get(name)
        if held is not None and held[:2] == (slot, holder):
            self.finished[name] = max(self.finished.get(name, -1), slot)

    async def last_done(self, name: str) -> int | None:
        return self.finished.get(name)


@dataclass(frozen=True, slots=True)
class StreamPolicy:
    delay: int = 120
    catch_up: int = 60
    lease: int = 300
    record_bytes: int = 64 * 1024


def datapoint_line(
    stream: MetricStream, region: str, series: Series, unit: str, minute: int, data: Aggregate
) -> bytes:
    value: dict[str, float] = {
        "count": data.count,
        "sum": data.total,
        "max": data.maximum,
        "min": data.minimum,
    }
    for name in stream.additional(series.namespace, series.name):
        found = statistic(data, name)
        if found is not None:
            value[name] = found
    document: dict[str, Any] = {
        "metric_stream_name": stream.name,
        "account_id": series.tenant_id,
        "region": region,
        "namespace": series.namespace,
        "metric_name": series.name,
        "dimensions": dict(series.dimensions),
        "timestamp": minute * _MINUTE * 1000,
        "value": value,
        "unit": unit,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def pack(lines: Sequence[bytes], limit: int) -> list[bytes]:
    """Whole lines gathered into records of at most ``limit`` bytes (a longer line alone)."""
    records: list[bytes] = []
    current = bytearray()
    for line in lines:
        if current and len(current) + len(line) > limit:
            records.append(bytes(current))
            current = bytearray()
        current += line
    if current:
        records.append(bytes(current))
    return records


def _utcnow() -> datetime:
    return datetime.now(UTC)


_Minute = list[tuple[Series, str, Aggregate]]


class MetricStreamDeliverer:
    def __init__(
        self,
        streams: MetricStreamStore,
        metrics: MetricStore,
        destination: StreamDestination,
        runs: MinuteRuns,
        *,
        holder: str,
        region: str,
        policy: StreamPolicy | None = None,
        observer: StreamObserver | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._streams = streams
        self._metrics = metrics
        self._destination = destination
        self._runs = runs
        self._holder = holder
        self._region = region
        self._policy = policy or StreamPolicy()
        self._observer = observer
        self._clock = clock

    async def run_once(self) -> int:
        """The due minutes this gateway claims sent, in order; how many."""
        now = epoch(self._clock())
        due = (now - self._policy.delay) // _MINUTE - 1
        last = await self._runs.last_done(JOB)
        first = due if last is None else max(last + 1, due - self._policy.catch_up + 1)
        sent = 0
        for minute in range(first, due + 1):
            if not await self._runs.claim(JOB, minute, self._holder, now, self._policy.lease):
                break  # another gateway has it: the later minutes are its, in order
            await self.send_minute(minute)
            await self._runs.done(JOB, minute, self._holder)
            sent += 1
        return sent

    async def send_minute(self, minute: int) -> int:
        """Every running stream's datapoints of ``minute`` put; how many, all streams."""
        start = minute * _MINUTE
        by_tenant: dict[str, list[MetricStream]] = defaultdict(list)
        for stream in await self._streams.running():
            if epoch(stream.created) < start + _MINUTE:
                by_tenant[stream.tenant_id].append(stream)
        total = 0
        for tenant_id, streams in by_tenant.items():
            data = await self._read(tenant_id, streams, start)
            for stream in streams:
                total += await self._send(stream, minute, data)
        return total

    async def _read(self, tenant_id: str, streams: Sequence[MetricStream], start: int) -> _Minute:
        """The account's (series, unit, aggregate) of the minute that some stream selects."""
        found: _Minute = []
        after: tuple[str, str, str] | None = None
        while True:
            page = await self._metrics.list_series(
                tenant_id, None, None, after, start, _SERIES_PAGE
            )
            for stored in page:
                series = stored.series
                if not any(s.selects(series.namespace, series.name) for s in streams):
                    continue
                points = await self._metrics.read(series, (1, _MINUTE), start, start + _MINUTE)
                units: dict[str, list[Aggregate]] = defaultdict(list)
                for point in points:
                    units[point.unit].append(point.aggregate)
                for unit, aggregates in sorted(units.items()):
                    merged = merge_all(aggregates)
                    if merged is not None:
                        found.append((series, unit, merged))
            if len(page) < _SERIES_PAGE:
                return found
            last = page[-1].series
            after = (last.namespace, last.name, last.dimensions_hash)

    async def _send(self, stream: MetricStream, minute: int, data: _Minute) -> int:
        lines = [
            datapoint_line(stream, self._region, series, unit, minute, aggregate)
            for series, unit, aggregate in data
            if stream.selects(series.namespace, series.name)
        ]
        if not lines:
            return 0
        records = pack(lines, self._policy.record_bytes)
        error: str | None = None
        for at in range(0, len(records), _BATCH):
            try:
                error = await self._destination.deliver(stream, records[at : at + _BATCH])
            except Exception as exc:  # a destination's fault must not end the minute
                log.exception("metric stream %s: delivery failed", stream.name)
                error = f"{type(exc).__name__}"
            if error is not None:
                break
        if error is not None:
            log.warning(
                "metric stream %s of %s: minute %d not delivered: %s",
                stream.name,
                stream.tenant_id,
                minute,
                error,
            )
        if self._observer is not None:
            self._observer.streamed(stream, 0 if error else len(lines), error)
        return 0 if error else len(lines)
