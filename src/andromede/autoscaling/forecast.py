"""Predictive scaling's port and rules (decision 0197), pure: the load metric a policy
forecasts, the :class:`LoadForecaster` port through which the metrics context answers (the
contexts do not import each other), and the arithmetic from a load forecast to a capacity.

- :func:`capacity_for` — the instances a load needs: the load over the target per instance,
  rounded up (never fewer than none);
- :func:`bounded` — a capacity within the group's MinSize and MaxSize; with
  ``IncreaseMaxCapacity`` the maximum yields: it becomes the larger of MaxSize and the
  capacity plus ``MaxCapacityBuffer`` percent of it, rounded up (AWS's example: a buffer
  of 10, a forecast of 50 and a maximum of 40 make an effective maximum of 55), never past
  the platform's ceiling on a group's instances;
- :func:`due_hour` — the hour whose forecast capacity is in force at a time:
  ``SchedulingBufferTime`` seconds before each hour, the next hour's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

__all__ = [
    "HONOR",
    "HOUR",
    "INCREASE",
    "LoadForecast",
    "LoadForecaster",
    "LoadMetric",
    "bounded",
    "capacity_for",
    "due_hour",
    "hour_of",
]

HOUR: Final = timedelta(hours=1)
HONOR: Final = "HonorMaxCapacity"
INCREASE: Final = "IncreaseMaxCapacity"


@dataclass(frozen=True, slots=True)
class LoadMetric:
    """The load a policy forecasts: a predefined load metric (``ASGTotalCPUUtilization``,
    ``ASGTotalNetworkIn``, ``ASGTotalNetworkOut``), or custom MetricDataQueries as the
    policy holds them (AWS's shape: Id, Expression or MetricStat, Label, ReturnData)."""

    predefined: str | None = None
    queries: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class LoadForecast:
    """Hourly load values from ``start`` (an hour's start, UTC) on."""

    start: datetime
    values: tuple[float, ...]

    def hours(self) -> list[datetime]:
        return [self.start + i * HOUR for i in range(len(self.values))]

    def at(self, hour: datetime) -> float | None:
        index = (hour - self.start) // HOUR
        return self.values[index] if 0 <= index < len(self.values) else None


class LoadForecaster(Protocol):
    async def forecast(
        self, tenant_id: str, group_name: str, load: LoadMetric, now: datetime
    ) -> LoadForecast | None:
        """The group's load forecast from the hour holding ``now`` on, from the load's hourly
        history before that hour; None when that history is too short (AWS: 24 hours)."""
        ...


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def due_hour(now: datetime, buffer: int) -> datetime:
    """The hour whose capacity is in force at ``now``: ``buffer`` seconds early."""
    return hour_of(now + timedelta(seconds=buffer))


def capacity_for(load: float, target: float) -> int:
    """The instances ``load`` needs at ``target`` per instance, rounded up (the tolerance
    keeps a float's 4.000000001 at 4)."""
    if not math.isfinite(load) or load <= 0:
        return 0
    return max(0, math.ceil(load / target - 1e-9))


def bounded(
    capacity: int,
    min_size: int,
    max_size: int,
    behavior: str,
    buffer: int | None,
    ceiling: int,
) -> tuple[int, int]:
    """``capacity`` within the group's bounds, and the maximum in force with it."""
    capacity = max(capacity, min_size)
    if behavior != INCREASE:
        return min(capacity, max_size), max_size
    widened = math.ceil(capacity * (100 + (buffer or 0)) / 100 - 1e-9)
    highest = min(max(max_size, widened), max(ceiling, max_size))
    return min(capacity, highest), highest
