"""How the platform writes its own metrics (decision 0172): the :class:`MetricsSink` a context
is handed, and the buffer behind it.

A sink's :meth:`~MetricsSink.record` is synchronous and cheap — it is called on hot paths (an
SQS send, a receive) — and never fails the caller: points are merged in memory, one
aggregate per (account, namespace, metric, dimensions, unit, minute), and written by
:meth:`BufferedSink.flush`, which the platform's sampler calls every
``metrics_platform_interval``. A gateway that dies loses at most its last interval's counts,
as a lost CloudWatch agent would. EC2's metrics (decision 0178) are one more caller of the
same interface, at 5-minute periods for basic monitoring (``resolution``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

from andromede.metrics.errors import MetricsError
from andromede.metrics.model import RESOLUTIONS, Aggregate, Series
from andromede.metrics.service import MetricsService
from andromede.metrics.store import Point

__all__ = ["BufferedSink", "MetricsSink"]

log = logging.getLogger(__name__)


class MetricsSink(Protocol):
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
        """One value of the platform's metric ``name`` in ``namespace`` (``AWS/…``) for the
        account it describes, at the current time, in its period of ``resolution`` seconds
        (a stored resolution: 60, or 300 for EC2's basic monitoring, which then has no
        1-minute data, as on AWS)."""
        ...


_Key = tuple[str, str, str, tuple[tuple[str, str], ...], str, int, int]


class BufferedSink:
    """A :class:`MetricsSink` merging in memory until :meth:`flush` writes the points."""

    def __init__(self, metrics: MetricsService, *, max_keys: int = 100_000) -> None:
        self._metrics = metrics
        self._pending: dict[_Key, Aggregate] = {}
        # Beyond this many pending points, new ones are dropped (and logged once a flush)
        # rather than let a stuck database grow the gateway's memory without end.
        self._max_keys = max_keys
        self._dropped = 0

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
        if resolution not in RESOLUTIONS:
            raise ValueError(f"{resolution} is no stored resolution")
        now = int(datetime.now(UTC).timestamp())
        start = now - now % resolution
        key = (tenant_id, namespace, name, tuple(sorted(dimensions)), unit, resolution, start)
        point = Aggregate.of_values([(value, 1.0)])
        held = self._pending.get(key)
        if held is None and len(self._pending) >= self._max_keys:
            self._dropped += 1
            return
        self._pending[key] = point if held is None else held.merged(point)

    async def flush(self) -> int:
        """Write the pending points; the number written."""
        pending, self._pending = self._pending, {}
        if self._dropped:
            log.warning("%d platform metric points dropped: the buffer was full", self._dropped)
            self._dropped = 0
        points = [
            Point(Series.of(tenant_id, namespace, name, dimensions), resolution, start, unit, value)
            for (tenant_id, namespace, name, dimensions, unit, resolution, start), value in (
                pending.items()
            )
        ]
        try:
            await self._metrics.put_platform(points)
        except MetricsError:
            log.exception("platform metrics refused")
            return 0
        return len(points)
