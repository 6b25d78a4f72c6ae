"""The metrics store's interface, and its in-memory twin (decision 0172).

A store keeps, per account, the series it was given (for ListMetrics, with the time of their
last datapoint) and one :class:`~andromede.metrics.model.Aggregate` per (series, resolution,
period start, unit), merged into on each write. A read names one series and a time range and
gets its periods back, each at its stored resolution: the caller (the service) groups them
into the period asked for. That one read is also what an alarm evaluator needs: one series'
last few periods, by the table's primary key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from andromede.metrics.model import Aggregate, Series

__all__ = ["MemoryMetricStore", "MetricStore", "Point", "StoredSeries"]


@dataclass(frozen=True, slots=True)
class Point:
    """One period of a series: at ``start`` (epoch seconds), ``resolution`` seconds long."""

    series: Series
    resolution: int
    start: int
    unit: str
    aggregate: Aggregate


@dataclass(frozen=True, slots=True)
class StoredSeries:
    series: Series
    last_put: int


class MetricStore(Protocol):
    async def put(self, points: Sequence[Point], now: int) -> None:
        """Merge each point into its period (created when new); record the series as put
        at ``now``."""
        ...

    async def read(
        self, series: Series, resolutions: Sequence[int], start: int, end: int
    ) -> list[Point]:
        """The series' periods of these resolutions starting in [start, end), by start."""
        ...

    async def list_series(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        after: tuple[str, str, str] | None,
        active_since: int | None,
        limit: int,
    ) -> list[StoredSeries]:
        """Series of the account ordered by (namespace, name, dimensions hash), after the
        key ``after``, put at or after ``active_since`` when given."""
        ...

    async def roll_up(self, resolution: int, into: int | None, before: int, limit: int) -> int:
        """Merge up to ``limit`` periods of ``resolution`` that start before ``before`` into
        periods of ``into`` (deleted when None); the number of periods moved."""
        ...

    async def forget_series(self, before: int, limit: int) -> int:
        """Drop up to ``limit`` series last put before ``before``; the number dropped."""
        ...


_Key = tuple[Series, int, int, str]


@dataclass
class MemoryMetricStore:
    """The store in a dict: the contract suite's reference, and the unit tests' store."""

    points: dict[_Key, Aggregate] = field(default_factory=dict)
    series: dict[Series, int] = field(default_factory=dict)

    async def put(self, points: Sequence[Point], now: int) -> None:
        for point in points:
            key = (point.series, point.resolution, point.start, point.unit)
            held = self.points.get(key)
            self.points[key] = point.aggregate if held is None else held.merged(point.aggregate)
            self.series[point.series] = max(self.series.get(point.series, 0), now)

    async def read(
        self, series: Series, resolutions: Sequence[int], start: int, end: int
    ) -> list[Point]:
        found = [
            Point(s, resolution, at, unit, aggregate)
            for (s, resolution, at, unit), aggregate in self.points.items()
            if s == series and resolution in resolutions and start <= at < end
        ]
        return sorted(found, key=lambda p: (p.start, p.resolution, p.unit))

    async def list_series(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        after: tuple[str, str, str] | None,
        active_since: int | None,
        limit: int,
    ) -> list[StoredSeries]:
        found = sorted(
            (
                (s.namespace, s.name, s.dimensions_hash),
                StoredSeries(s, last),
            )
            for s, last in self.series.items()
            if s.tenant_id == tenant_id
            and (namespace is None or s.namespace == namespace)
            and (name is None or s.name == name)
            and (active_since is None or last >= active_since)
        )
        return [one for key, one in found if after is None or key > after][:limit]

    async def roll_up(self, resolution: int, into: int | None, before: int, limit: int) -> int:
        due = sorted(
            (key for key in self.points if key[1] == resolution and key[2] < before),
            key=lambda k: k[2],
        )[:limit]
        for key in due:
            aggregate = self.points.pop(key)
            if into is not None:
                series, _, start, unit = key
                target = (series, into, start - start % into, unit)
                held = self.points.get(target)
                self.points[target] = aggregate if held is None else held.merged(aggregate)
        return len(due)

    async def forget_series(self, before: int, limit: int) -> int:
        due = [s for s, last in self.series.items() if last < before][:limit]
        for one in due:
            del self.series[one]
        return len(due)
