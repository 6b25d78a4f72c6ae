"""What a group keeps beside its sizes (decision 0159), inside its own document so that each
change is written with the group's, under its revision: scheduled actions, lifecycle hooks,
the lifecycle actions its instances wait on, its instance refreshes, and (decision 0177) its
scaling policies, (decision 0188) its notification configurations and (decision 0194) its
warm pool."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Final, TypeVar

__all__ = [
    "HOOK_LAUNCHING",
    "HOOK_TERMINATING",
    "LifecycleHook",
    "NotificationConfig",
    "Refresh",
    "RefreshStatus",
    "ScalingPolicy",
    "ScheduledAction",
    "Waiting",
    "WarmPool",
    "plain",
    "revive",
]

HOOK_LAUNCHING: Final = "autoscaling:EC2_INSTANCE_LAUNCHING"
HOOK_TERMINATING: Final = "autoscaling:EC2_INSTANCE_TERMINATING"


@dataclass(frozen=True, slots=True)
class ScheduledAction:
    name: str
    action_id: str
    # When it fires next, UTC (from StartTime, or the recurrence's next after it).
    next_time: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    recurrence: str | None = None
    time_zone: str | None = None
    min_size: int | None = None
    max_size: int | None = None
    desired_capacity: int | None = None


@dataclass(frozen=True, slots=True)
class LifecycleHook:
    name: str
    transition: str
    heartbeat_timeout: int = 3600
    default_result: str = "ABANDON"
    metadata: str | None = None
    notification_target_arn: str | None = None
    role_arn: str | None = None


@dataclass(frozen=True, slots=True)
class Waiting:
    """One instance held by one hook: until ``result`` is set (CompleteLifecycleAction, or
    the hook's default at ``deadline``), the instance stays in Pending:Wait or
    Terminating:Wait."""

    instance_id: str
    hook: str
    transition: str
    token: str
    started: datetime
    deadline: datetime
    # The hook's timeout cannot be stretched past this by heartbeats (AWS: 100 times the
    # heartbeat timeout or 48 hours, whichever is less).
    last_deadline: datetime
    default_result: str = "ABANDON"
    result: str | None = None


@dataclass(frozen=True, slots=True)
class NotificationConfig:
    """PutNotificationConfiguration's (decision 0188): the events of the group sent to one
    topic of the account's (a second put for the topic replaces its types, as on AWS)."""

    topic_arn: str
    types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WarmPool:
    """PutWarmPool's configuration (decision 0194). ``max_prepared`` None: the group's
    MaxSize stands in (AWS's default); ``deleting``: DeleteWarmPool asked, the pool's
    instances are going (``Status`` PendingDelete)."""

    min_size: int = 0
    max_prepared: int | None = None
    pool_state: str = "Stopped"
    reuse_on_scale_in: bool = False
    deleting: bool = False

    def size(self, max_size: int, desired: int, ceiling: int) -> int:
        """The instances the pool keeps: AWS's MaxGroupPreparedCapacity (or the group's
        MaxSize) minus the desired capacity, at least MinSize; none while it is deleted;
        at most ``ceiling`` (the platform's setting)."""
        if self.deleting:
            return 0
        prepared = max_size if self.max_prepared is None else self.max_prepared
        return min(max(prepared - desired, self.min_size, 0), ceiling)


class RefreshStatus:
    PENDING: Final = "Pending"
    IN_PROGRESS: Final = "InProgress"
    SUCCESSFUL: Final = "Successful"
    FAILED: Final = "Failed"
    CANCELLED: Final = "Cancelled"


@dataclass(frozen=True, slots=True)
class Refresh:
    refresh_id: str
    status: str
    start_time: datetime
    min_healthy_percentage: int = 90
    instance_warmup: int = 0
    skip_matching: bool = False
    # The instances to replace, named when the refresh began; those replaced so far.
    to_replace: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    end_time: datetime | None = None
    status_reason: str = ""
    # Decision 0182: ScaleInProtectedInstances "Refresh" (replaced) or "Ignore" (left out);
    # StandbyInstances "Ignore" (always left out).
    protected_instances: str = "Refresh"
    standby_instances: str = "Ignore"

    @property
    def percentage(self) -> int:
        if not self.to_replace:
            return 100
        return 100 * len(self.replaced) // len(self.to_replace)

    @property
    def active(self) -> bool:
        return self.status in (RefreshStatus.PENDING, RefreshStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """A simple, step, target tracking (decision 0177) or predictive (decision 0197) scaling
    policy. Step adjustments are (lower bound, upper bound, adjustment) triples, the bounds
    relative to the alarm's threshold, None unbounded; a target tracking policy names the
    two alarms it owns."""

    name: str
    policy_id: str
    policy_type: str
    adjustment_type: str | None = None
    scaling_adjustment: int | None = None
    min_adjustment_magnitude: int | None = None
    cooldown: int | None = None
    step_adjustments: tuple[tuple[float | None, float | None, int], ...] = ()
    metric_aggregation_type: str | None = None
    estimated_instance_warmup: int | None = None
    target_value: float | None = None
    predefined_metric: str | None = None
    # CustomizedMetricSpecification as JSON (Namespace, MetricName, Dimensions, Statistic,
    # Unit).
    customized_metric: str | None = None
    disable_scale_in: bool = False
    alarm_names: tuple[str, ...] = ()
    enabled: bool = True
    # Decision 0197: a predictive scaling policy's PredictiveScalingConfiguration, checked,
    # as JSON in AWS's shape.
    predictive: str | None = None


_DATES: Final = {
    "next_time",
    "start_time",
    "end_time",
    "started",
    "deadline",
    "last_deadline",
}
_TUPLES: Final = {"to_replace", "replaced", "alarm_names", "types"}
_R = TypeVar("_R")


def plain(record: Any) -> dict[str, Any]:
    """A record's JSON-ready form (datetimes in ISO 8601)."""
    data: dict[str, Any] = asdict(record)
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
        elif isinstance(value, tuple):
            data[key] = list(value)
    return data


def revive(kind: type[_R], data: dict[str, Any]) -> _R:
    """The record of ``kind`` from its JSON form (fields it lacks take their defaults)."""
    known = {f.name for f in fields(kind)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            continue
        if key in _DATES and value is not None:
            value = datetime.fromisoformat(value)
        elif key in _TUPLES:
            value = tuple(value)
        elif key == "step_adjustments":
            value = tuple(tuple(step) for step in value)
        values[key] = value
    return kind(**values)
