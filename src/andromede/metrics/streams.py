"""CloudWatch metric streams (decision 0233): the stream as AWS describes it, what its filters
select, the statistics it adds, its store's interface and the store's in-memory twin.

A stream sends, each minute, the datapoints of its account's metrics that its filters select
(``IncludeFilters`` or ``ExcludeFilters`` — a namespace, and optionally metric names of it —
or every metric) into an Amazon Data Firehose stream, as the role it names; its state is
``running`` or ``stopped``. Streams are kept per account and Region; their configuration is
no customer data (as alarms and dashboards, it is stored as given)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, Protocol

__all__ = [
    "JSON",
    "RUNNING",
    "STOPPED",
    "MemoryMetricStreamStore",
    "MetricStream",
    "MetricStreamStore",
    "StatisticsConfiguration",
    "StreamFilter",
    "metric_stream_arn",
]

RUNNING: Final = "running"
STOPPED: Final = "stopped"
JSON: Final = "json"


def metric_stream_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{tenant_id}:metric-stream/{name}"


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """A namespace, and the metric names of it the filter names (none: all of them)."""

    namespace: str
    metric_names: tuple[str, ...] = ()

    def matches(self, namespace: str, name: str) -> bool:
        return namespace == self.namespace and (not self.metric_names or name in self.metric_names)


@dataclass(frozen=True, slots=True)
class StatisticsConfiguration:
    """The ``AdditionalStatistics`` streamed for the (namespace, metric name) pairs listed."""

    metrics: tuple[tuple[str, str], ...]
    statistics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MetricStream:
    tenant_id: str
    name: str
    firehose_arn: str
    role_arn: str
    output_format: str
    state: str
    created: datetime
    updated: datetime
    include: tuple[StreamFilter, ...] = ()
    exclude: tuple[StreamFilter, ...] = ()
    statistics: tuple[StatisticsConfiguration, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    def selects(self, namespace: str, name: str) -> bool:
        if self.include:
            return any(f.matches(namespace, name) for f in self.include)
        return not any(f.matches(namespace, name) for f in self.exclude)

    def additional(self, namespace: str, name: str) -> tuple[str, ...]:
        """The additional statistics streamed for the metric, in the order first given."""
        found: dict[str, None] = {}
        for configuration in self.statistics:
            if (namespace, name) in configuration.metrics:
                found.update(dict.fromkeys(configuration.statistics))
        return tuple(found)


class MetricStreamStore(Protocol):
    async def put(self, stream: MetricStream, max_streams: int) -> bool:
        """Create or replace the stream (by account and name); False when it is new and the
        account already holds ``max_streams``."""
        ...

    async def get(self, tenant_id: str, name: str) -> MetricStream | None: ...

    async def page(self, tenant_id: str, after: str, limit: int) -> list[MetricStream]:
        """The account's streams named after ``after``, by name."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool: ...

    async def set_state(
        self, tenant_id: str, names: Sequence[str], state: str, now: datetime
    ) -> None:
        """The named streams of the account (those that exist) put in ``state``."""
        ...

    async def running(self) -> list[MetricStream]:
        """Every account's running streams (the deliverer's work), by account and name."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete a closed account's streams; how many there were."""
        ...


@dataclass
class MemoryMetricStreamStore:
    """The store in a dict: the contract suite's reference, and the unit tests' store."""

    streams: dict[tuple[str, str], MetricStream] = field(default_factory=dict)

    async def put(self, stream: MetricStream, max_streams: int) -> bool:
        key = (stream.tenant_id, stream.name)
        held = sum(1 for tenant, _ in self.streams if tenant == stream.tenant_id)
        if key not in self.streams and held >= max_streams:
            return False
        self.streams[key] = stream
        return True

    async def get(self, tenant_id: str, name: str) -> MetricStream | None:
        return self.streams.get((tenant_id, name))

    async def page(self, tenant_id: str, after: str, limit: int) -> list[MetricStream]:
        names = sorted(n for t, n in self.streams if t == tenant_id and n > after)[:limit]
        return [self.streams[(tenant_id, n)] for n in names]

    async def delete(self, tenant_id: str, name: str) -> bool:
        return self.streams.pop((tenant_id, name), None) is not None

    async def set_state(
        self, tenant_id: str, names: Sequence[str], state: str, now: datetime
    ) -> None:
        for name in names:
            held = self.streams.get((tenant_id, name))
            if held is not None and held.state != state:
                self.streams[(tenant_id, name)] = replace(held, state=state, updated=now)

    async def running(self) -> list[MetricStream]:
        return [s for _, s in sorted(self.streams.items()) if s.state == RUNNING]

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [key for key in self.streams if key[0] == tenant_id]
        for key in gone:
            del self.streams[key]
        return len(gone)
