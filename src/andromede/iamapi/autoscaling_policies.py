"""Auto Scaling's scaling policies on the wire (decision 0177): PutScalingPolicy,
DescribePolicies, DeletePolicy, ExecutePolicy, DescribeAdjustmentTypes and
DescribeMetricCollectionTypes, in AWS's shapes; the rules are ``autoscaling.policies``'.
A predictive policy's configuration (decision 0197) is read and written by
``autoscaling_predictive``."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from andromede.autoscaling.controls import METRICS
from andromede.autoscaling.model import Group
from andromede.autoscaling.policies import (
    ADJUSTMENT_TYPES,
    PolicyAlarms,
    PolicySpec,
    Step,
    delete_policy,
    execute_policy,
    policy_arn,
    put_policy,
)
from andromede.autoscaling.records import ScalingPolicy
from andromede.autoscaling.service import AutoScalingService
from andromede.http.xml import XmlWriter
from andromede.iamapi.autoscaling_predictive import PREFIX, structure, write_structure
from andromede.iamapi.autoscaling_wire import guarded, page, refuse_unhandled
from andromede.iamapi.errors import QueryError
from andromede.iamapi.protocol import Call

__all__ = ["handlers"]

_TRACKING: Final = "TargetTrackingConfiguration."
_PARAMS: Final = (
    "AutoScalingGroupName",
    "PolicyName",
    "PolicyType",
    "AdjustmentType",
    "MinAdjustmentMagnitude",
    "ScalingAdjustment",
    "Cooldown",
    "MetricAggregationType",
    "EstimatedInstanceWarmup",
    "Enabled",
)
_METRICS: Final = METRICS  # decision 0182 collects them
_MAX: Final = 1_000_000


def _number(call: Call, name: str) -> float | None:
    raw = call.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise QueryError("ValidationError", f"{name} must be a number") from exc
    if not math.isfinite(value):
        raise QueryError("ValidationError", f"{name} must be a finite number")
    return value


def _optional_int(call: Call, name: str, low: int = -_MAX) -> int | None:
    if call.get(name) is None:
        return None
    return call.integer(name, minimum=low, maximum=_MAX, default=0)


def _steps(call: Call) -> tuple[Step, ...]:
    steps = []
    index = 1
    while True:
        prefix = f"StepAdjustments.member.{index}."
        if call.get(prefix + "ScalingAdjustment") is None:
            if any(k.startswith(prefix) for k in call.params):
                raise QueryError("ValidationError", f"{prefix}ScalingAdjustment is required")
            break
        steps.append(
            (
                _number(call, prefix + "MetricIntervalLowerBound"),
                _number(call, prefix + "MetricIntervalUpperBound"),
                call.integer(prefix + "ScalingAdjustment", minimum=-_MAX, maximum=_MAX, default=0),
            )
        )
        index += 1
    return tuple(steps)


def _customized(call: Call) -> str | None:
    prefix = _TRACKING + "CustomizedMetricSpecification."
    if not any(k.startswith(prefix) for k in call.params):
        return None
    if any(k.startswith(prefix + "Metrics.") for k in call.params):
        raise QueryError(
            "ValidationError", "Metric math in target tracking is not supported yet (0177)"
        )
    dimensions = []
    index = 1
    while (name := call.get(f"{prefix}Dimensions.member.{index}.Name")) is not None:
        value = call.get(f"{prefix}Dimensions.member.{index}.Value") or ""
        dimensions.append({"Name": name, "Value": value})
        index += 1
    spec = {
        "Namespace": call.required(prefix + "Namespace"),
        "MetricName": call.required(prefix + "MetricName"),
        "Dimensions": dimensions,
        "Statistic": call.get(prefix + "Statistic") or "Average",
    }
    if call.get(prefix + "Unit"):
        spec["Unit"] = call.get(prefix + "Unit") or ""
    if spec["Statistic"] not in ("Average", "Minimum", "Maximum", "SampleCount", "Sum"):
        raise QueryError(
            "ValidationError", "Statistic: Average, Minimum, Maximum, SampleCount, Sum"
        )
    return json.dumps(spec, sort_keys=True)


def _spec(call: Call) -> PolicySpec:
    handled = [*_PARAMS]
    handled += [k for k in call.params if k.startswith(("StepAdjustments.", _TRACKING, PREFIX))]
    refuse_unhandled(call, handled)
    if any(
        k.startswith(_TRACKING)
        and not k.startswith(
            (
                _TRACKING + "TargetValue",
                _TRACKING + "DisableScaleIn",
                _TRACKING + "PredefinedMetricSpecification.PredefinedMetricType",
                _TRACKING + "CustomizedMetricSpecification.",
            )
        )
        for k in call.params
    ):
        raise QueryError(
            "ValidationError", "ResourceLabel and other tracking options are not supported"
        )
    return PolicySpec(
        name=call.required("PolicyName"),
        policy_type=call.get("PolicyType") or "SimpleScaling",
        adjustment_type=call.get("AdjustmentType"),
        scaling_adjustment=_optional_int(call, "ScalingAdjustment"),
        min_adjustment_magnitude=_optional_int(call, "MinAdjustmentMagnitude"),
        cooldown=_optional_int(call, "Cooldown", 0),
        step_adjustments=_steps(call),
        metric_aggregation_type=call.get("MetricAggregationType"),
        estimated_instance_warmup=_optional_int(call, "EstimatedInstanceWarmup", 0),
        target_value=_number(call, _TRACKING + "TargetValue"),
        predefined_metric=call.get(
            _TRACKING + "PredefinedMetricSpecification.PredefinedMetricType"
        ),
        customized_metric=_customized(call),
        disable_scale_in=call.boolean(_TRACKING + "DisableScaleIn", default=False),
        enabled=call.boolean("Enabled", default=True),
        predictive=structure(dict(call.params), PREFIX),
    )


def _alarms(xml: XmlWriter, region: str, group: Group, names: Sequence[str]) -> None:
    xml.open("Alarms")
    for name in names:
        xml.open("member")
        xml.element("AlarmName", name)
        xml.element("AlarmARN", f"arn:aws:cloudwatch:{region}:{group.tenant_id}:alarm:{name}")
        xml.close("member")
    xml.close("Alarms")


def _bound(value: float | None) -> str:
    return repr(value)


def _write(
    xml: XmlWriter, region: str, group: Group, policy: ScalingPolicy, alarms: Sequence[str]
) -> None:
    xml.element("AutoScalingGroupName", group.name)
    xml.element("PolicyName", policy.name)
    xml.element("PolicyARN", policy_arn(region, group, policy))
    xml.element("PolicyType", policy.policy_type)
    for name, value in (
        ("AdjustmentType", policy.adjustment_type),
        ("MinAdjustmentMagnitude", policy.min_adjustment_magnitude),
        ("ScalingAdjustment", policy.scaling_adjustment),
        ("Cooldown", policy.cooldown),
        ("MetricAggregationType", policy.metric_aggregation_type),
        ("EstimatedInstanceWarmup", policy.estimated_instance_warmup),
    ):
        if value is not None:
            xml.element(name, value)
    if policy.policy_type == "StepScaling":
        xml.open("StepAdjustments")
        for lower, upper, adjustment in policy.step_adjustments:
            xml.open("member")
            if lower is not None:
                xml.element("MetricIntervalLowerBound", _bound(lower))
            if upper is not None:
                xml.element("MetricIntervalUpperBound", _bound(upper))
            xml.element("ScalingAdjustment", adjustment)
            xml.close("member")
        xml.close("StepAdjustments")
    _alarms(xml, region, group, alarms)
    if policy.policy_type == "TargetTrackingScaling":
        xml.open("TargetTrackingConfiguration")
        if policy.predefined_metric is not None:
            xml.open("PredefinedMetricSpecification")
            xml.element("PredefinedMetricType", policy.predefined_metric)
            xml.close("PredefinedMetricSpecification")
        if policy.customized_metric is not None:
            custom = json.loads(policy.customized_metric)
            xml.open("CustomizedMetricSpecification")
            xml.element("MetricName", custom["MetricName"])
            xml.element("Namespace", custom["Namespace"])
            xml.open("Dimensions")
            for dimension in custom["Dimensions"]:
                xml.open("member")
                xml.element("Name", dimension["Name"])
                xml.element("Value", dimension["Value"])
                xml.close("member")
            xml.close("Dimensions")
            xml.element("Statistic", custom["Statistic"])
            if "Unit" in custom:
                xml.element("Unit", custom["Unit"])
            xml.close("CustomizedMetricSpecification")
        xml.element("TargetValue", repr(policy.target_value))
        xml.element("DisableScaleIn", "true" if policy.disable_scale_in else "false")
        xml.close("TargetTrackingConfiguration")
    if policy.predictive is not None:
        write_structure(xml, "PredictiveScalingConfiguration", json.loads(policy.predictive))
    xml.element("Enabled", "true" if policy.enabled else "false")


def handlers(
    service: AutoScalingService, region: str, alarms: PolicyAlarms | None
) -> dict[str, tuple[Callable[[Call], Awaitable[None]], bool, bool]]:
    async def put(call: Call) -> None:
        spec = _spec(call)
        name = call.required("AutoScalingGroupName")
        group, policy = await guarded(
            put_policy(service, call.tenant_id, name, spec, region, alarms)
        )
        call.result.element("PolicyARN", policy_arn(region, group, policy))
        _alarms(call.result, region, group, policy.alarm_names)

    async def describe(call: Call) -> None:
        name = call.get("AutoScalingGroupName")
        if name:
            groups = [await guarded(service.group(call.tenant_id, name))]
        else:
            groups = [g for g in await service.store.groups(call.tenant_id) if not g.deleting]
        names = set(call.members("PolicyNames"))
        kinds = set(call.members("PolicyTypes"))
        found = [
            (g, p)
            for g in groups
            for p in g.policies
            if (not names or p.name in names) and (not kinds or p.policy_type in kinds)
        ]
        found.sort(key=lambda item: f"{item[0].name}\n{item[1].name}")
        chosen, token = page(call, found, lambda item: f"{item[0].name}\n{item[1].name}")
        xml = call.result
        xml.open("ScalingPolicies")
        for group, policy in chosen:
            listed: Sequence[str] = policy.alarm_names
            if not listed and alarms is not None:  # the alarms naming a simple or step policy
                listed = await alarms.naming(call.tenant_id, policy_arn(region, group, policy))
            xml.open("member")
            _write(xml, region, group, policy, listed)
            xml.close("member")
        xml.close("ScalingPolicies")
        if token is not None:
            xml.element("NextToken", token)

    async def delete(call: Call) -> None:
        await guarded(
            delete_policy(
                service,
                call.tenant_id,
                call.get("AutoScalingGroupName"),
                call.required("PolicyName"),
                alarms,
            )
        )

    async def execute(call: Call) -> None:
        await guarded(
            execute_policy(
                service,
                call.tenant_id,
                call.get("AutoScalingGroupName"),
                call.required("PolicyName"),
                honor_cooldown=call.boolean("HonorCooldown", default=False),
                metric_value=_number(call, "MetricValue"),
                breach_threshold=_number(call, "BreachThreshold"),
            )
        )

    async def adjustment_types(call: Call) -> None:
        call.result.open("AdjustmentTypes")
        for kind in ADJUSTMENT_TYPES:
            call.result.open("member")
            call.result.element("AdjustmentType", kind)
            call.result.close("member")
        call.result.close("AdjustmentTypes")

    async def collection_types(call: Call) -> None:
        xml = call.result
        xml.open("Metrics")
        for metric in _METRICS:
            xml.open("member")
            xml.element("Metric", metric)
            xml.close("member")
        xml.close("Metrics")
        xml.open("Granularities")
        xml.open("member")
        xml.element("Granularity", "1Minute")
        xml.close("member")
        xml.close("Granularities")

    return {
        "PutScalingPolicy": (put, True, True),
        "DescribePolicies": (describe, False, True),
        "DeletePolicy": (delete, True, False),
        "ExecutePolicy": (execute, True, False),
        "DescribeAdjustmentTypes": (adjustment_types, False, True),
        "DescribeMetricCollectionTypes": (collection_types, False, True),
    }
