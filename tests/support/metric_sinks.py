"""A metrics sink for tests: what the platform's buffered sink (``metrics.sink``) and the
services' ``MetricRecorder`` ports are told, kept in order."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Point = tuple[str, str, str, tuple[tuple[str, str], ...], float, str]


class RecordingSink:
    """A :class:`~andromede.metrics.sink.MetricsSink` (and ``MetricRecorder``) keeping
    (tenant, namespace, name, dimensions, value, unit) of each datum it is given."""

    def __init__(self) -> None:
        self.points: list[Point] = []

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
        self.points.append((tenant_id, namespace, name, tuple(dimensions), value, unit))

    def counts(self, namespace: str, dimensions: Sequence[tuple[str, str]]) -> Counter[str]:
        """The sums of the Count data of ``namespace`` with exactly those dimensions."""
        found: Counter[str] = Counter()
        for _, space, name, dims, value, unit in self.points:
            if space == namespace and dims == tuple(dimensions) and unit == "Count":
                found[name] += int(value)
        return found
