"""The records of Auto Scaling: a group, its tags, and a scaling activity; their JSON form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Final

from andromede.autoscaling.mixed import MixedPolicy
from andromede.autoscaling.records import (
    LifecycleHook,
    NotificationConfig,
    Refresh,
    ScalingPolicy,
    ScheduledAction,
    Waiting,
    WarmPool,
    plain,
    revive,
)

__all__ = [
    "FORMAT_VERSION",
    "GROUP_TAG",
    "Activity",
    "ActivityStatus",
    "Group",
    "GroupTag",
    "Member",
    "group_arn",
]

FORMAT_VERSION: Final = 1
# The tag AWS puts on every instance a group launches; the reconciler counts the group's
# instances by it.
GROUP_TAG: Final = "aws:autoscaling:groupName"


def group_arn(region: str, tenant_id: str, group_id: str, name: str) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{tenant_id}:autoScalingGroup:{group_id}:"
        f"autoScalingGroupName/{name}"
    )


@dataclass(frozen=True, slots=True)
class GroupTag:
    key: str
    value: str
    propagate_at_launch: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    tenant_id: str
    name: str
    group_id: str
    template_id: str
    template_name: str
    # As asked: "$Latest", "$Default" or a number; resolved at each launch (as AWS does).
    template_version: str
    min_size: int
    max_size: int
    desired_capacity: int
    subnets: tuple[str, ...]
    created_at: datetime
    tags: tuple[GroupTag, ...] = ()
    default_cooldown: int = 300
    health_check_type: str = "EC2"
    health_check_grace_period: int = 0
    # ForceDelete asked: the reconciler terminates what is left, then deletes the record.
    deleting: bool = False
    # The gateway whose reconciler holds the group until ``claimed_until`` (a lease, taken by
    # a conditional update on ``revision``).
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    # Decision 0159: kept in the group's document, each change written under its revision.
    scheduled_actions: tuple[ScheduledAction, ...] = ()
    hooks: tuple[LifecycleHook, ...] = ()
    waiting: tuple[Waiting, ...] = ()
    refreshes: tuple[Refresh, ...] = ()  # newest first
    # Decision 0177: the scaling policies, and the end of the cooldown the last simple
    # scaling started (others wait for it, as AWS's simple scaling does).
    policies: tuple[ScalingPolicy, ...] = ()
    cooldown_until: datetime | None = None
    # Decision 0182: instance protection from scale-in (the group's default for the instances
    # it launches, and the instances protected), the instances in Standby (and those whose
    # ExitStandby has them Pending until they are counted again), the processes suspended
    # (name, reason) and the group metrics collected.
    new_instances_protected: bool = False
    protected: tuple[str, ...] = ()
    standby: tuple[str, ...] = ()
    suspended: tuple[tuple[str, str], ...] = ()
    enabled_metrics: tuple[str, ...] = ()
    # Instances AttachInstances / DetachInstances are moving, written with the capacity's
    # change before compute's tag moves: the reconciler counts the first and not the second
    # meanwhile, so that it neither launches nor scales in for the moment between.
    attaching: tuple[str, ...] = ()
    detaching: tuple[str, ...] = ()
    # Decision 0188: the topics the group's launches and terminations are sent to.
    notifications: tuple[NotificationConfig, ...] = ()
    # Decision 0194: the warm pool, the instances in it (launched into it or returned to it
    # on scale-in; out of the group's capacity), and the group's DefaultInstanceWarmup
    # (None: not set, AWS's default).
    warm_pool: WarmPool | None = None
    warmed: tuple[str, ...] = ()
    default_instance_warmup: int | None = None
    # Decision 0191: the Elastic Load Balancing target groups (ARNs) its instances join.
    target_groups: tuple[str, ...] = ()
    # Decision 0197: each ForecastAndScale policy's forecast capacity for the hour it was
    # last read for (policy name, the hour's start in ISO 8601, capacity).
    forecast_floor: tuple[tuple[str, str, int], ...] = ()
    # Decision 0198: the instances its ELB health check marked Unhealthy (replaced unless
    # ReplaceUnhealthy is suspended; dropped once gone).
    unhealthy: tuple[str, ...] = ()
    # Decision 0198's session-49 addendum: those of ``unhealthy`` SetInstanceHealth marked
    # (their replacement's cause is AWS's user health-check, not the ELB one).
    marked_by_user: tuple[str, ...] = ()
    # Decision 0201: each target group attachment's state (ARN, Adding, Added, InService or
    # Removing): the attached ones (``target_groups``; one without a state is Added, as
    # documents before it read) and those detached still deregistering (Removing).
    attachment_states: tuple[tuple[str, str], ...] = ()
    # Decision 0208: the service-linked role the group acts as (its ARN; None: the account's
    # default AWSServiceRoleForAutoScaling, as in documents written before).
    service_linked_role: str | None = None
    # Decision 0209: the mixed instances policy (None: every launch is the template's, On-
    # Demand) and CapacityRebalance (kept and shown).
    mixed: MixedPolicy | None = None
    capacity_rebalance: bool = False
    format_version: int = FORMAT_VERSION
    revision: int = 0

    def document(self) -> str:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["claimed_until"] = self.claimed_until.isoformat() if self.claimed_until else None
        data["scheduled_actions"] = [plain(a) for a in self.scheduled_actions]
        data["hooks"] = [plain(h) for h in self.hooks]
        data["waiting"] = [plain(w) for w in self.waiting]
        data["refreshes"] = [plain(r) for r in self.refreshes]
        data["policies"] = [plain(p) for p in self.policies]
        data["notifications"] = [plain(n) for n in self.notifications]
        data["warm_pool"] = plain(self.warm_pool) if self.warm_pool else None
        data["warmed"] = list(self.warmed)
        data["unhealthy"] = list(self.unhealthy)
        data["marked_by_user"] = list(self.marked_by_user)
        data["cooldown_until"] = self.cooldown_until.isoformat() if self.cooldown_until else None
        data["suspended"] = [list(pair) for pair in self.suspended]
        data["forecast_floor"] = [list(entry) for entry in self.forecast_floor]
        data["attachment_states"] = [list(pair) for pair in self.attachment_states]
        data["mixed"] = self.mixed.plain() if self.mixed else None
        del data["revision"]
        return json.dumps(data, sort_keys=True)

    def waiting_on(self, instance_id: str) -> list[Waiting]:
        return [w for w in self.waiting if w.instance_id == instance_id]

    def suspends(self, process: str) -> bool:
        """Whether ``process`` (Launch, Terminate, HealthCheck…) is suspended."""
        return any(name == process for name, _ in self.suspended)

    @property
    def active_refresh(self) -> Refresh | None:
        return next((r for r in self.refreshes if r.active), None)

    @classmethod
    def from_document(cls, document: str, revision: int) -> Group:
        data: dict[str, Any] = json.loads(document)
        data["created_at"] = datetime.fromisoformat(data["created_at"])
        until = data.get("claimed_until")
        data["claimed_until"] = datetime.fromisoformat(until) if until else None
        data["subnets"] = tuple(data["subnets"])
        data["tags"] = tuple(GroupTag(**t) for t in data["tags"])
        # Absent from the documents written before decision 0159: the defaults.
        data["scheduled_actions"] = tuple(
            revive(ScheduledAction, a) for a in data.get("scheduled_actions", ())
        )
        data["hooks"] = tuple(revive(LifecycleHook, h) for h in data.get("hooks", ()))
        data["waiting"] = tuple(revive(Waiting, w) for w in data.get("waiting", ()))
        data["refreshes"] = tuple(revive(Refresh, r) for r in data.get("refreshes", ()))
        data["policies"] = tuple(revive(ScalingPolicy, p) for p in data.get("policies", ()))
        # Absent from the documents written before decision 0182: the defaults.
        data["protected"] = tuple(data.get("protected", ()))
        data["standby"] = tuple(data.get("standby", ()))
        data["suspended"] = tuple((n, r) for n, r in data.get("suspended", ()))
        data["enabled_metrics"] = tuple(data.get("enabled_metrics", ()))
        data["attaching"] = tuple(data.get("attaching", ()))
        data["detaching"] = tuple(data.get("detaching", ()))
        # Absent from the documents written before decision 0188: none.
        data["notifications"] = tuple(
            revive(NotificationConfig, n) for n in data.get("notifications", ())
        )
        # Absent from the documents written before decision 0194: no pool.
        pool = data.get("warm_pool")
        data["warm_pool"] = revive(WarmPool, pool) if pool else None
        data["warmed"] = tuple(data.get("warmed", ()))
        data["target_groups"] = tuple(data.get("target_groups", ()))  # decision 0191
        data["forecast_floor"] = tuple(  # decision 0197
            (str(n), str(h), int(c)) for n, h, c in data.get("forecast_floor", ())
        )
        data["unhealthy"] = tuple(data.get("unhealthy", ()))  # decision 0198
        data["marked_by_user"] = tuple(data.get("marked_by_user", ()))  # 0198, session 49
        data["attachment_states"] = tuple(  # decision 0201
            (str(a), str(s)) for a, s in data.get("attachment_states", ())
        )
        mixed = data.get("mixed")  # decision 0209
        data["mixed"] = MixedPolicy.revive(mixed) if mixed else None
        cooled = data.get("cooldown_until")
        data["cooldown_until"] = datetime.fromisoformat(cooled) if cooled else None
        return cls(**data, revision=revision)


class ActivityStatus:
    SUCCESSFUL: Final = "Successful"
    FAILED: Final = "Failed"
    WAITING_TERMINATE: Final = "WaitingForTerminateLifecycleAction"


@dataclass(frozen=True, slots=True)
class Activity:
    """A launch or a termination the group did, with its cause and how it ended."""

    activity_id: str
    tenant_id: str
    group_name: str
    description: str
    cause: str
    status_code: str
    start_time: datetime
    end_time: datetime
    status_message: str = ""
    details: str = "{}"
    progress: int = 100

    def document(self) -> str:
        data = asdict(self)
        data["start_time"] = self.start_time.isoformat()
        data["end_time"] = self.end_time.isoformat()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_document(cls, document: str) -> Activity:
        data: dict[str, Any] = json.loads(document)
        data["start_time"] = datetime.fromisoformat(data["start_time"])
        data["end_time"] = datetime.fromisoformat(data["end_time"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Member:
    """One of a group's instances as the fleet reports it."""

    instance_id: str
    state: str  # EC2's: pending, running, stopping, stopped, shutting-down, terminated
    launch_time: datetime
    availability_zone: str
    subnet_id: str | None
    template_id: str | None
    template_version: int | None
    instance_type: str
    protected: bool = field(default=False)
    lifecycle: str | None = None  # EC2's InstanceLifecycle: "spot", or None (On-Demand)
    # A Spot Instance under its interruption notice (decision 0202): replaced at once by a
    # group with CapacityRebalance (decision 0209).
    interrupted: bool = False

    @property
    def alive(self) -> bool:
        """In service or on its way there: EC2's health check counts the others unhealthy."""
        return self.state in ("pending", "running")
