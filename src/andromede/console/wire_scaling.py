"""An Auto Scaling group's scaling in the console (decisions 0177, 0159, 0197 served; 0111
shown, session 50): its scaling policies of every type (DescribePolicies), one put
(PutScalingPolicy: target tracking on a predefined metric, simple, step) or deleted
(DeletePolicy); its scheduled actions (DescribeScheduledActions), one put
(PutScheduledUpdateGroupAction) or deleted (DeleteScheduledAction); its lifecycle hooks
(DescribeLifecycleHooks); and a CloudWatch alarm made to call a simple or step policy
(DescribeAlarms then PutMetricAlarm with the policy's ARN among its ``AlarmActions``, as AWS's
console does: the alarm is what runs such a policy).

Functions over ``AutoScalingWire.call`` and ``CloudWatchWire``'s JSON calls, made as the
signed-in principal: Auto Scaling's and CloudWatch's own authorisation, checks and words answer
them. Each answer is read into the small rows the page shows; nothing here decides what Auto
Scaling allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from xml.etree.ElementTree import Element

from andromede.console.wire_autoscaling import AutoScalingWire
from andromede.console.wire_metrics import CloudWatchWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "HookRow",
    "PolicyRow",
    "ScheduleRow",
    "attach_alarm",
    "delete_policy",
    "delete_scheduled_action",
    "lifecycle_hooks",
    "policies",
    "put_scheduled_action",
    "put_simple",
    "put_step",
    "put_target_tracking",
    "scheduled_actions",
]

_LISTED: Final = "100"  # DescribePolicies' and DescribeScheduledActions' MaxRecords bound
# PutMetricAlarm's members an alarm is put again with: all DescribeAlarms answers of a metric
# alarm that PutMetricAlarm takes, so that adding an action changes nothing else.
_ALARM_MEMBERS: Final = (
    "AlarmName",
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


@dataclass(frozen=True, slots=True)
class StepRow:
    lower: str  # "" : unbounded
    upper: str
    adjustment: str


@dataclass(frozen=True, slots=True)
class PolicyRow:
    name: str
    arn: str
    policy_type: str  # SimpleScaling, StepScaling, TargetTrackingScaling, PredictiveScaling
    adjustment_type: str
    adjustment: str  # a simple policy's ScalingAdjustment
    cooldown: str
    steps: tuple[StepRow, ...]
    metric: str  # target tracking's or predictive's metric, "custom" for a customized one
    target: str
    disable_scale_in: bool
    mode: str  # a predictive policy's ForecastOnly or ForecastAndScale
    alarms: tuple[str, ...]
    enabled: bool


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    name: str
    next_time: str  # UTC, to the minute
    end_time: str
    recurrence: str
    time_zone: str
    min_size: str
    max_size: str
    desired: str


@dataclass(frozen=True, slots=True)
class HookRow:
    name: str
    transition: str
    heartbeat_timeout: str
    default_result: str
    target_arn: str


def _text(element: Element, path: str) -> str:
    return element.findtext(path) or ""


def _minute(stamp: str) -> str:
    return stamp.replace("T", " ")[:16]


def _policy(item: Element) -> PolicyRow:
    tracking = "TargetTrackingConfiguration"
    spec = "PredictiveScalingConfiguration/MetricSpecifications/member"
    metric = (
        _text(item, f"{tracking}/PredefinedMetricSpecification/PredefinedMetricType")
        or _text(item, f"{spec}/PredefinedMetricPairSpecification/PredefinedMetricType")
        or _text(item, f"{spec}/PredefinedScalingMetricSpecification/PredefinedMetricType")
    )
    kind = _text(item, "PolicyType")
    if not metric and kind in ("TargetTrackingScaling", "PredictiveScaling"):
        metric = "custom"
    return PolicyRow(
        name=_text(item, "PolicyName"),
        arn=_text(item, "PolicyARN"),
        policy_type=kind,
        adjustment_type=_text(item, "AdjustmentType"),
        adjustment=_text(item, "ScalingAdjustment"),
        cooldown=_text(item, "Cooldown"),
        steps=tuple(
            StepRow(
                _text(m, "MetricIntervalLowerBound"),
                _text(m, "MetricIntervalUpperBound"),
                _text(m, "ScalingAdjustment"),
            )
            for m in item.iterfind("StepAdjustments/member")
        ),
        metric=metric,
        target=_text(item, f"{tracking}/TargetValue") or _text(item, f"{spec}/TargetValue"),
        disable_scale_in=_text(item, f"{tracking}/DisableScaleIn") == "true",
        mode=_text(item, "PredictiveScalingConfiguration/Mode"),
        alarms=tuple(_text(m, "AlarmName") for m in item.iterfind("Alarms/member")),
        enabled=_text(item, "Enabled") != "false",
    )


async def policies(
    wire: AutoScalingWire, origin: Scope, who: Principal, group: str
) -> list[PolicyRow]:
    """The group's scaling policies of every type, every page followed."""
    rows: list[PolicyRow] = []
    token = ""
    while True:
        params = {"AutoScalingGroupName": group, "MaxRecords": "50"}
        if token:
            params["NextToken"] = token
        root = await wire.call(origin, who, "DescribePolicies", params)
        rows.extend(_policy(m) for m in root.iterfind(".//ScalingPolicies/member"))
        token = _text(root, ".//NextToken")
        if not token:
            return rows


async def _put(wire: AutoScalingWire, origin: Scope, who: Principal, params: dict[str, str]) -> str:
    root = await wire.call(origin, who, "PutScalingPolicy", params)
    return _text(root, ".//PolicyARN")


async def put_target_tracking(
    wire: AutoScalingWire,
    origin: Scope,
    who: Principal,
    group: str,
    name: str,
    *,
    metric: str,
    target: str,
    disable_scale_in: bool,
    warmup: str,
) -> str:
    """PutScalingPolicy of a target tracking policy on a predefined metric (Auto Scaling puts
    its two alarms); its ARN."""
    prefix = "TargetTrackingConfiguration."
    params = {
        "AutoScalingGroupName": group,
        "PolicyName": name,
        "PolicyType": "TargetTrackingScaling",
        f"{prefix}PredefinedMetricSpecification.PredefinedMetricType": metric,
        f"{prefix}TargetValue": target,
        f"{prefix}DisableScaleIn": "true" if disable_scale_in else "false",
    }
    if warmup:
        params["EstimatedInstanceWarmup"] = warmup
    return await _put(wire, origin, who, params)


async def put_simple(
    wire: AutoScalingWire,
    origin: Scope,
    who: Principal,
    group: str,
    name: str,
    *,
    adjustment_type: str,
    adjustment: str,
    cooldown: str,
) -> str:
    """PutScalingPolicy of a simple policy (an empty cooldown: the group's default); its ARN."""
    params = {
        "AutoScalingGroupName": group,
        "PolicyName": name,
        "PolicyType": "SimpleScaling",
        "AdjustmentType": adjustment_type,
        "ScalingAdjustment": adjustment,
    }
    if cooldown:
        params["Cooldown"] = cooldown
    return await _put(wire, origin, who, params)


async def put_step(
    wire: AutoScalingWire,
    origin: Scope,
    who: Principal,
    group: str,
    name: str,
    *,
    adjustment_type: str,
    steps: Sequence[StepRow],
    warmup: str,
) -> str:
    """PutScalingPolicy of a step policy, its steps as typed (an empty bound: unbounded);
    its ARN."""
    params = {
        "AutoScalingGroupName": group,
        "PolicyName": name,
        "PolicyType": "StepScaling",
        "AdjustmentType": adjustment_type,
    }
    for n, step in enumerate(steps, 1):
        prefix = f"StepAdjustments.member.{n}."
        if step.lower:
            params[prefix + "MetricIntervalLowerBound"] = step.lower
        if step.upper:
            params[prefix + "MetricIntervalUpperBound"] = step.upper
        params[prefix + "ScalingAdjustment"] = step.adjustment
    if warmup:
        params["EstimatedInstanceWarmup"] = warmup
    return await _put(wire, origin, who, params)


async def delete_policy(
    wire: AutoScalingWire, origin: Scope, who: Principal, group: str, name: str
) -> None:
    params = {"AutoScalingGroupName": group, "PolicyName": name}
    await wire.call(origin, who, "DeletePolicy", params)


async def attach_alarm(
    wire: CloudWatchWire, origin: Scope, who: Principal, alarm: str, action_arn: str
) -> bool:
    """The metric alarm ``alarm`` put again with ``action_arn`` among its ALARM actions,
    everything else as DescribeAlarms answers it (PutMetricAlarm replaces a whole alarm);
    False when the account has no such metric alarm."""
    payload = {"AlarmNames": [alarm], "AlarmTypes": ["MetricAlarm"]}
    answer = await wire._json(origin, who, "DescribeAlarms", payload)
    found = [a for a in answer.get("MetricAlarms", []) if isinstance(a, dict)]
    if not found:
        return False
    definition: dict[str, Any] = {k: found[0][k] for k in _ALARM_MEMBERS if k in found[0]}
    actions = list(definition.get("AlarmActions") or [])
    if action_arn not in actions:
        definition["AlarmActions"] = [*actions, action_arn]
        await wire._json(origin, who, "PutMetricAlarm", definition)
    return True


async def scheduled_actions(
    wire: AutoScalingWire, origin: Scope, who: Principal, group: str
) -> list[ScheduleRow]:
    """The group's scheduled actions, every page followed."""
    rows: list[ScheduleRow] = []
    token = ""
    while True:
        params = {"AutoScalingGroupName": group, "MaxRecords": _LISTED}
        if token:
            params["NextToken"] = token
        root = await wire.call(origin, who, "DescribeScheduledActions", params)
        rows.extend(
            ScheduleRow(
                name=_text(m, "ScheduledActionName"),
                next_time=_minute(_text(m, "Time") or _text(m, "StartTime")),
                end_time=_minute(_text(m, "EndTime")),
                recurrence=_text(m, "Recurrence"),
                time_zone=_text(m, "TimeZone"),
                min_size=_text(m, "MinSize"),
                max_size=_text(m, "MaxSize"),
                desired=_text(m, "DesiredCapacity"),
            )
            for m in root.iterfind(".//ScheduledUpdateGroupActions/member")
        )
        token = _text(root, ".//NextToken")
        if not token:
            return rows


async def put_scheduled_action(
    wire: AutoScalingWire,
    origin: Scope,
    who: Principal,
    group: str,
    name: str,
    *,
    window: tuple[datetime | None, datetime | None],
    recurrence: str,
    time_zone: str,
    sizes: tuple[str, str, str],
) -> None:
    """PutScheduledUpdateGroupAction: its start (or first time) and end, its recurrence (cron)
    and time zone, its ``(min, max, desired)``, each sent only when given."""
    params = {"AutoScalingGroupName": group, "ScheduledActionName": name}
    start, end = window
    if start is not None:
        params["StartTime"] = start.isoformat()
    if end is not None:
        params["EndTime"] = end.isoformat()
    if recurrence:
        params["Recurrence"] = recurrence
    if time_zone:
        params["TimeZone"] = time_zone
    for key, value in zip(("MinSize", "MaxSize", "DesiredCapacity"), sizes, strict=True):
        if value:
            params[key] = value
    await wire.call(origin, who, "PutScheduledUpdateGroupAction", params)


async def delete_scheduled_action(
    wire: AutoScalingWire, origin: Scope, who: Principal, group: str, name: str
) -> None:
    params = {"AutoScalingGroupName": group, "ScheduledActionName": name}
    await wire.call(origin, who, "DeleteScheduledAction", params)


async def lifecycle_hooks(
    wire: AutoScalingWire, origin: Scope, who: Principal, group: str
) -> list[HookRow]:
    """The group's lifecycle hooks (DescribeLifecycleHooks)."""
    root = await wire.call(origin, who, "DescribeLifecycleHooks", {"AutoScalingGroupName": group})
    return [
        HookRow(
            name=_text(m, "LifecycleHookName"),
            transition=_text(m, "LifecycleTransition"),
            heartbeat_timeout=_text(m, "HeartbeatTimeout"),
            default_result=_text(m, "DefaultResult"),
            target_arn=_text(m, "NotificationTargetARN"),
        )
        for m in root.iterfind(".//LifecycleHooks/member")
    ]
