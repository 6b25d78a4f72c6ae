"""Scaling policies (decision 0177): PutScalingPolicy's checks for simple, step and target
tracking policies, their deletion, and their execution — by ExecutePolicy or by a CloudWatch
alarm — which sets the group's desired capacity within its bounds in one conditional write
and records a scaling activity with AWS's cause.

The arithmetic is pure and tested alone:

- :func:`adjusted` — ChangeInCapacity adds, ExactCapacity sets, PercentChangeInCapacity adds
  that percentage of the current capacity, truncated toward zero but at least
  MinAdjustmentMagnitude (and at least 1 when the percentage is not zero), as AWS rounds it;
- :func:`step_for` — the step adjustment whose bounds (relative to the alarm's threshold,
  lower inclusive, upper exclusive) hold the metric's breach;
- :func:`tracking_capacity` — target tracking's proportional capacity, the current capacity
  times the metric over the target, rounded up (scale-out fast, scale-in conservative);
- :func:`warm_capacity` — (decision 0194) step scaling's current capacity: the instances
  past their warm-up. A step firing while others warm up adds only what it asks beyond the
  desired capacity (never again what is warming), and scales in only once they are warm.

Target tracking policies own two CloudWatch alarms, created and deleted through the
:class:`PolicyAlarms` port (the contexts do not import each other): AlarmHigh (metric above
the target, 3 of 3 minutes) and AlarmLow (below 90 % of it, 15 of 15 minutes), named as
AWS names them.

Predictive scaling policies (decision 0197) are checked, forecast and applied in
``predictive``; here they are stored like the others, cannot be executed, and the capacity
they hold the group at bounds the others' scale-in.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final, Protocol

from andromede.autoscaling.errors import GroupLimitExceeded, NoSuchGroup, ScalingValidationError
from andromede.autoscaling.model import ActivityStatus, Group, Member
from andromede.autoscaling.predictive import PREDICTIVE, check_config, floor
from andromede.autoscaling.records import ScalingPolicy
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = [
    "ADJUSTMENT_TYPES",
    "PolicyAlarms",
    "PolicySpec",
    "Step",
    "TrackingAlarm",
    "adjusted",
    "delete_policy",
    "execute_policy",
    "invoke",
    "policy_arn",
    "put_policy",
    "step_for",
    "tracking_capacity",
    "warm_capacity",
]

ADJUSTMENT_TYPES: Final = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
POLICY_TYPES: Final = ("SimpleScaling", "StepScaling", "TargetTrackingScaling", PREDICTIVE)
_PREDEFINED: Final = {
    "ASGAverageCPUUtilization": ("AWS/EC2", "CPUUtilization", "Percent"),
    "ASGAverageNetworkIn": ("AWS/EC2", "NetworkIn", "Bytes"),
    "ASGAverageNetworkOut": ("AWS/EC2", "NetworkOut", "Bytes"),
}
_MAX_NAME: Final = 255
_ARN = re.compile(
    r"^arn:aws:autoscaling:[a-z0-9-]+:(?P<tenant>[^:]+):scalingPolicy:(?P<id>[0-9a-f-]{36}):"
    r"autoScalingGroupName/(?P<group>[^:]+):policyName/(?P<policy>[^:]+)$"
)
Step = tuple[float | None, float | None, int]


def policy_arn(region: str, group: Group, policy: ScalingPolicy) -> str:
    return (
        f"arn:aws:autoscaling:{region}:{group.tenant_id}:scalingPolicy:{policy.policy_id}:"
        f"autoScalingGroupName/{group.name}:policyName/{policy.name}"
    )


@dataclass(frozen=True, slots=True)
class TrackingAlarm:
    """One alarm a target tracking policy owns, as the alarm context is asked to put it."""

    name: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str
    unit: str | None
    threshold: float
    comparison: str
    evaluation_periods: int
    period: int
    action_arn: str
    description: str


class PolicyAlarms(Protocol):
    async def put(self, tenant_id: str, alarm: TrackingAlarm) -> None: ...

    async def delete(self, tenant_id: str, names: Sequence[str]) -> None: ...

    async def naming(self, tenant_id: str, action_arn: str) -> list[str]:
        """The account's alarms whose actions name ``action_arn`` (DescribePolicies'
        ``Alarms`` of a simple or step policy)."""
        ...


@dataclass(frozen=True, slots=True)
class PolicySpec:
    name: str
    policy_type: str = "SimpleScaling"
    adjustment_type: str | None = None
    scaling_adjustment: int | None = None
    min_adjustment_magnitude: int | None = None
    cooldown: int | None = None
    step_adjustments: tuple[Step, ...] = ()
    metric_aggregation_type: str | None = None
    estimated_instance_warmup: int | None = None
    target_value: float | None = None
    predefined_metric: str | None = None
    customized_metric: str | None = None  # JSON: Namespace, MetricName, Dimensions…
    disable_scale_in: bool = False
    enabled: bool = True
    # Decision 0197: PredictiveScalingConfiguration in AWS's shape (checked by ``_check``).
    predictive: dict[str, object] | None = None


# --- the arithmetic ------------------------------------------------------------------------


def adjusted(
    current: int, adjustment_type: str, adjustment: int, min_magnitude: int | None = None
) -> int:
    """The capacity an adjustment asks for (before the group's bounds)."""
    if adjustment_type == "ExactCapacity":
        return adjustment
    if adjustment_type == "ChangeInCapacity":
        return current + adjustment
    change = current * adjustment / 100
    step = math.trunc(change)
    if step == 0 and adjustment != 0:
        step = 1 if adjustment > 0 else -1
    if min_magnitude is not None and abs(step) < min_magnitude:
        step = min_magnitude if adjustment > 0 else -min_magnitude
    return current + step


def step_for(steps: Sequence[Step], breach: float) -> int | None:
    """The adjustment of the step holding ``breach`` (the metric minus the threshold)."""
    for lower, upper, adjustment in steps:
        if (lower is None or breach >= lower) and (upper is None or breach < upper):
            return adjustment
    return None


def tracking_capacity(current: int, metric: float, target: float) -> int:
    """Target tracking's capacity: proportional to the metric's distance from the target."""
    if current <= 0:
        return 1 if metric > target else 0
    return math.ceil(current * metric / target - 1e-9)


def _check_steps(steps: Sequence[Step]) -> None:
    if not steps:
        raise ScalingValidationError("StepAdjustments must be specified for StepScaling")
    ordered = sorted(steps, key=lambda s: -math.inf if s[0] is None else s[0])
    nulls_low = sum(1 for s in steps if s[0] is None)
    nulls_high = sum(1 for s in steps if s[1] is None)
    if nulls_low > 1 or nulls_high > 1:
        raise ScalingValidationError("Only one step adjustment may have a null bound each way")
    for (lower, upper, _), following in zip(ordered, [*ordered[1:], None], strict=True):
        if lower is not None and upper is not None and lower >= upper:
            raise ScalingValidationError(
                "The upper bound of a step adjustment must be greater than its lower bound"
            )
        if following is not None and upper != following[0]:
            raise ScalingValidationError("Step adjustment bounds must not overlap or leave gaps")


def _check_alone(spec: PolicySpec) -> None:
    """A predictive policy takes none of the other types' parameters."""
    others = (
        spec.adjustment_type,
        spec.scaling_adjustment,
        spec.min_adjustment_magnitude,
        spec.cooldown,
        spec.metric_aggregation_type,
        spec.estimated_instance_warmup,
        spec.target_value,
        spec.predefined_metric,
        spec.customized_metric,
    )
    if any(v is not None for v in others) or spec.step_adjustments or spec.disable_scale_in:
        raise ScalingValidationError(
            "A PredictiveScaling policy takes only PredictiveScalingConfiguration"
        )


def _check(spec: PolicySpec) -> None:
    if not 1 <= len(spec.name) <= _MAX_NAME or ":" in spec.name:
        raise ScalingValidationError(f"PolicyName must be 1 to {_MAX_NAME} characters without ':'")
    if spec.policy_type not in POLICY_TYPES:
        raise ScalingValidationError(f"Invalid PolicyType: {spec.policy_type[:64]}")
    if (spec.policy_type == PREDICTIVE) != (spec.predictive is not None):
        raise ScalingValidationError(
            "PredictiveScalingConfiguration is required for, and only for, PredictiveScaling"
        )
    if spec.policy_type == PREDICTIVE:
        _check_alone(spec)
        return
    if spec.policy_type == "TargetTrackingScaling":
        if spec.target_value is None:
            raise ScalingValidationError("TargetTrackingConfiguration needs a TargetValue")
        if spec.target_value <= 0:
            raise ScalingValidationError("TargetValue must be greater than zero")
        if (spec.predefined_metric is None) == (spec.customized_metric is None):
            raise ScalingValidationError(
                "Exactly one of PredefinedMetricSpecification and "
                "CustomizedMetricSpecification must be given"
            )
        if spec.predefined_metric is not None and spec.predefined_metric not in _PREDEFINED:
            raise ScalingValidationError(
                f"PredefinedMetricType {spec.predefined_metric[:64]} is not supported here "
                "(ALBRequestCountPerTarget needs load balancers, not yet)"
            )
        return
    if spec.adjustment_type not in ADJUSTMENT_TYPES:
        raise ScalingValidationError(f"AdjustmentType must be one of {', '.join(ADJUSTMENT_TYPES)}")
    if spec.min_adjustment_magnitude is not None and (
        spec.adjustment_type != "PercentChangeInCapacity" or spec.min_adjustment_magnitude < 1
    ):
        raise ScalingValidationError(
            "MinAdjustmentMagnitude is for PercentChangeInCapacity, at least 1"
        )
    if spec.policy_type == "SimpleScaling":
        if spec.scaling_adjustment is None:
            raise ScalingValidationError("ScalingAdjustment must be specified for SimpleScaling")
        if spec.step_adjustments:
            raise ScalingValidationError("StepAdjustments are for StepScaling policies")
        if spec.adjustment_type == "ExactCapacity" and spec.scaling_adjustment < 0:
            raise ScalingValidationError("An ExactCapacity adjustment cannot be negative")
        return
    if spec.scaling_adjustment is not None or spec.cooldown is not None:
        raise ScalingValidationError("ScalingAdjustment and Cooldown are for SimpleScaling")
    if spec.metric_aggregation_type not in (None, "Minimum", "Maximum", "Average"):
        raise ScalingValidationError("MetricAggregationType: Minimum, Maximum or Average")
    _check_steps(spec.step_adjustments)


def _tracking_alarms(
    region: str, group: Group, policy: ScalingPolicy
) -> tuple[TrackingAlarm, TrackingAlarm]:
    if policy.predefined_metric is not None:
        namespace, metric, unit = _PREDEFINED[policy.predefined_metric]
        dimensions: tuple[tuple[str, str], ...] = (("AutoScalingGroupName", group.name),)
        statistic = "Average"
    else:
        custom = json.loads(policy.customized_metric or "{}")
        namespace, metric = custom["Namespace"], custom["MetricName"]
        unit = custom.get("Unit")
        dimensions = tuple(sorted((d["Name"], d["Value"]) for d in custom.get("Dimensions", [])))
        statistic = custom.get("Statistic", "Average")
    target = float(policy.target_value or 0.0)
    arn = policy_arn(region, group, policy)
    common = {
        "namespace": namespace,
        "metric_name": metric,
        "dimensions": dimensions,
        "statistic": statistic,
        "unit": unit,
        "period": 60,
        "action_arn": arn,
        "description": f"DO NOT EDIT OR DELETE. For TargetTrackingScaling policy {arn}.",
    }
    high, low = policy.alarm_names
    return (
        TrackingAlarm(
            name=high,
            threshold=target,
            comparison="GreaterThanThreshold",
            evaluation_periods=3,
            **common,  # type: ignore[arg-type]
        ),
        TrackingAlarm(
            name=low,
            threshold=target * 0.9,
            comparison="LessThanThreshold",
            evaluation_periods=15,
            **common,  # type: ignore[arg-type]
        ),
    )


# --- the calls -----------------------------------------------------------------------------


async def put_policy(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str,
    spec: PolicySpec,
    region: str,
    alarms: PolicyAlarms | None,
) -> tuple[Group, ScalingPolicy]:
    """Create the policy, or replace the group's policy of that name; a target tracking
    policy's alarms put (again) after."""
    _check(spec)
    predictive = None
    if spec.predictive is not None:
        predictive = json.dumps(check_config(spec.predictive), sort_keys=True)
    if spec.policy_type == "TargetTrackingScaling" and alarms is None:
        raise ScalingValidationError("Target tracking needs CloudWatch alarms, not wired here")
    made: list[ScalingPolicy] = []
    dropped: list[str] = []

    def change(group: Group) -> Group:
        held = {p.name: p for p in group.policies}
        previous = held.get(spec.name)
        limit = service.limits.max_policies
        if previous is None and len(held) >= limit:
            raise GroupLimitExceeded(
                f"A group holds at most {limit} scaling policies "
                "(max_scaling_policies_per_autoscaling_group)"
            )
        policy_id = previous.policy_id if previous else str(uuid.uuid4())
        names: tuple[str, ...] = ()
        if spec.policy_type == "TargetTrackingScaling":
            names = (
                previous.alarm_names
                if previous and previous.alarm_names
                else (
                    f"TargetTracking-{group.name}-AlarmHigh-{uuid.uuid4()}",
                    f"TargetTracking-{group.name}-AlarmLow-{uuid.uuid4()}",
                )
            )
        dropped[:] = [n for n in (previous.alarm_names if previous else ()) if n not in set(names)]
        policy = ScalingPolicy(
            name=spec.name,
            policy_id=policy_id,
            policy_type=spec.policy_type,
            adjustment_type=spec.adjustment_type,
            scaling_adjustment=spec.scaling_adjustment,
            min_adjustment_magnitude=spec.min_adjustment_magnitude,
            cooldown=spec.cooldown,
            step_adjustments=tuple(spec.step_adjustments),
            metric_aggregation_type=(
                spec.metric_aggregation_type or "Average"
                if spec.policy_type == "StepScaling"
                else None
            ),
            estimated_instance_warmup=spec.estimated_instance_warmup,
            target_value=spec.target_value,
            predefined_metric=spec.predefined_metric,
            customized_metric=spec.customized_metric,
            disable_scale_in=spec.disable_scale_in,
            alarm_names=names,
            enabled=spec.enabled,
            predictive=predictive,
        )
        made[:] = [policy]
        held[spec.name] = policy
        return replace(group, policies=tuple(sorted(held.values(), key=lambda p: p.name)))

    group = await service.mutate(tenant_id, group_name, change)
    policy = made[0]
    if alarms is not None:
        if dropped:
            await alarms.delete(tenant_id, dropped)
        if policy.alarm_names:
            for alarm in _tracking_alarms(region, group, policy):
                await alarms.put(tenant_id, alarm)
    return group, policy


async def delete_policy(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str | None,
    name_or_arn: str,
    alarms: PolicyAlarms | None,
) -> None:
    """Delete the policy (named in the group, or by its ARN) and the alarms it owns."""
    group_name, name = _locate(group_name, name_or_arn)
    owned: list[str] = []

    def change(group: Group) -> Group:
        policy = next((p for p in group.policies if p.name == name), None)
        if policy is None:
            raise ScalingValidationError(f"Policy {name[:255]} not found")
        owned[:] = list(policy.alarm_names)
        return replace(group, policies=tuple(p for p in group.policies if p.name != name))

    await service.mutate(tenant_id, group_name, change)
    if owned and alarms is not None:
        await alarms.delete(tenant_id, owned)


def _locate(group_name: str | None, name_or_arn: str) -> tuple[str, str]:
    found = _ARN.match(name_or_arn)
    if found is not None:
        return found.group("group"), found.group("policy")
    if not group_name:
        raise ScalingValidationError("AutoScalingGroupName is required with a policy name")
    return group_name, name_or_arn


async def execute_policy(
    service: AutoScalingService,
    tenant_id: str,
    group_name: str | None,
    name_or_arn: str,
    *,
    honor_cooldown: bool,
    metric_value: float | None = None,
    breach_threshold: float | None = None,
    trigger: str | None = None,
) -> bool:
    """Execute the policy: the group's desired capacity moved within its bounds, recorded
    as a scaling activity. ``trigger`` names the alarm (None: a user's request). False when
    nothing was done (in cooldown, no step matched, the capacity already there)."""
    group_name, name = _locate(group_name, name_or_arn)
    now = service.clock()
    outcome: list[tuple[int, int]] = []
    policy_used: list[ScalingPolicy] = []
    # Step scaling's warm-up (decision 0194) counts the group's instances past it.
    held = await service.group(tenant_id, group_name)
    stepping = any(p.name == name and p.policy_type == "StepScaling" for p in held.policies)
    members = await service.fleet.members(tenant_id, group_name) if stepping else []

    def change(group: Group) -> Group | None:
        outcome.clear()
        policy = next((p for p in group.policies if p.name == name), None)
        if policy is None:
            raise ScalingValidationError(f"Policy {name[:255]} not found")
        policy_used[:] = [policy]
        if policy.policy_type == PREDICTIVE:
            raise ScalingValidationError("A PredictiveScaling policy cannot be executed")
        if not policy.enabled:
            return None
        current = group.desired_capacity
        simple = policy.policy_type == "SimpleScaling"
        if simple and honor_cooldown and group.cooldown_until and group.cooldown_until > now:
            return None
        if policy.policy_type == "StepScaling":
            ready = min(warm_capacity(group, members, policy, now), current)
            wanted = _wanted(policy, ready, metric_value, breach_threshold)
            if wanted is None:
                return None
            if ready < current and wanted <= current:
                # Instances are warming up: a step they already cover adds nothing again,
                # and no scale-in happens until they are warm (AWS's step warm-up).
                return None
        else:
            wanted = _wanted(policy, current, metric_value, breach_threshold)
            if wanted is None:
                return None
        if policy.policy_type == "TargetTrackingScaling" and policy.disable_scale_in:
            wanted = max(wanted, current)
        # Decision 0197: no scale-in below the capacity predictive scaling holds for the
        # hour (the larger of the two wins, as AWS says).
        lowest = max(group.min_size, min(floor(group, now), group.max_size))
        desired = min(max(wanted, lowest), group.max_size)
        if desired == current:
            return None
        outcome.append((current, desired))
        changed = replace(group, desired_capacity=desired)
        if simple:
            cooldown = group.default_cooldown if policy.cooldown is None else policy.cooldown
            changed = replace(changed, cooldown_until=now + timedelta(seconds=cooldown))
        return changed

    group = await service.mutate(tenant_id, group_name, change)
    if not outcome:
        return False
    before, after = outcome[0]
    who = (
        f"a monitor alarm {trigger} in state ALARM triggered policy {name}"
        if trigger is not None
        else f"a user request executed policy {name}"
    )
    await service.record(
        group,
        f"Executing scaling policy {name}",
        f"At {iso(now)} {who} changing the desired capacity from {before} to {after}.",
        ActivityStatus.SUCCESSFUL,
        now,
    )
    return True


def warm_capacity(
    group: Group, members: Sequence[Member], policy: ScalingPolicy, now: datetime
) -> int:
    """The group's current capacity as step scaling counts it: its running instances past
    their warm-up — the policy's EstimatedInstanceWarmup, else the group's
    DefaultInstanceWarmup, else its DefaultCooldown (AWS's order) — since their launch (an
    instance taken from a warm pool: since its start), and done with their launch hooks.
    Those warming, pending or still to launch are not counted."""
    warmup = policy.estimated_instance_warmup
    if warmup is None:
        warmup = group.default_instance_warmup
    if warmup is None:
        warmup = group.default_cooldown
    out = {*group.warmed, *group.standby, *group.detaching}
    return sum(
        1
        for m in members
        if m.state == "running"
        and m.instance_id not in out
        and not group.waiting_on(m.instance_id)
        and m.launch_time + timedelta(seconds=warmup) <= now
    )


def _wanted(
    policy: ScalingPolicy, current: int, value: float | None, threshold: float | None
) -> int | None:
    if policy.policy_type == "TargetTrackingScaling":
        if value is None:
            return None
        return tracking_capacity(current, value, float(policy.target_value or 1.0))
    adjustment_type = policy.adjustment_type or "ChangeInCapacity"
    if policy.policy_type == "SimpleScaling":
        return adjusted(
            current,
            adjustment_type,
            int(policy.scaling_adjustment or 0),
            policy.min_adjustment_magnitude,
        )
    if value is None or threshold is None:
        raise ScalingValidationError(
            "Executing a StepScaling policy needs MetricValue and BreachThreshold"
        )
    step = step_for(policy.step_adjustments, value - threshold)
    if step is None:
        return None
    return adjusted(current, adjustment_type, step, policy.min_adjustment_magnitude)


async def invoke(
    service: AutoScalingService,
    tenant_id: str,
    arn: str,
    alarm_name: str,
    value: float | None,
    threshold: float,
) -> bool:
    """A CloudWatch alarm's action: the policy its ARN names, executed honouring cooldowns
    (False when the ARN names no policy of the account)."""
    found = _ARN.match(arn)
    if found is None or found.group("tenant") != tenant_id:
        return False
    try:
        group = await service.group(tenant_id, found.group("group"))
    except NoSuchGroup:
        return False
    policy = next((p for p in group.policies if p.policy_id == found.group("id")), None)
    if policy is None:
        return False
    if group.suspends("AlarmNotification"):
        return True  # decision 0182: the alarm's action is taken and dropped, as on AWS
    # Done even when the cooldown, a step or the bounds left the capacity as it was.
    await execute_policy(
        service,
        tenant_id,
        group.name,
        policy.name,
        honor_cooldown=True,
        metric_value=value,
        breach_threshold=threshold,
        trigger=alarm_name,
    )
    return True
