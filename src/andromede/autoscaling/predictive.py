"""Predictive scaling policies (decision 0197): the checks of a
``PredictiveScalingConfiguration`` (kept in AWS's own shape, as JSON, in the policy), the
forecast GetPredictiveScalingForecast answers, and the reconciler's step for policies in
``ForecastAndScale`` mode.

The step, for each such policy of a group, ``SchedulingBufferTime`` seconds before each
hour: the hour's forecast capacity is written in the group (one entry per policy, so that it
is read once per hour, whichever gateway holds the group), and the desired capacity raised
to it when lower. Predictive scaling only scales out, as AWS's: it never lowers the desired
capacity, nor below the group's MinSize; dynamic policies scaling in stop at the capacity in
force (:func:`floor`), and scale out past it — the larger of the two wins, as AWS says.
``ForecastOnly`` policies change nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.forecast import (
    HONOR,
    INCREASE,
    LoadForecast,
    LoadMetric,
    bounded,
    capacity_for,
    due_hour,
)
from andromede.autoscaling.model import ActivityStatus, Group
from andromede.autoscaling.records import ScalingPolicy
from andromede.autoscaling.service import AutoScalingService, iso

__all__ = [
    "FORECAST_AND_SCALE",
    "PREDICTIVE",
    "Forecast",
    "check_config",
    "config_of",
    "floor",
    "forecast",
    "hours_between",
    "load_metric",
    "scale",
]

PREDICTIVE: Final = "PredictiveScaling"
FORECAST_ONLY: Final = "ForecastOnly"
FORECAST_AND_SCALE: Final = "ForecastAndScale"
_MAX_BUFFER_TIME: Final = 3599  # AWS: less than the forecast's hour
DEFAULT_BUFFER_TIME: Final = 300  # AWS's, when a policy gives none
_PAIRS: Final = {
    "ASGCPUUtilization": ("ASGAverageCPUUtilization", "ASGTotalCPUUtilization"),
    "ASGNetworkIn": ("ASGAverageNetworkIn", "ASGTotalNetworkIn"),
    "ASGNetworkOut": ("ASGAverageNetworkOut", "ASGTotalNetworkOut"),
}
_SCALING: Final = ("ASGAverageCPUUtilization", "ASGAverageNetworkIn", "ASGAverageNetworkOut")
_LOAD: Final = ("ASGTotalCPUUtilization", "ASGTotalNetworkIn", "ASGTotalNetworkOut")
_ALB: Final = ("ALBRequestCount", "ALBRequestCountPerTarget", "ALBTargetGroupRequestCount")
_MEMBERS: Final = {
    "": {
        "MetricSpecifications",
        "Mode",
        "SchedulingBufferTime",
        "MaxCapacityBreachBehavior",
        "MaxCapacityBuffer",
    },
    "spec": {
        "TargetValue",
        "PredefinedMetricPairSpecification",
        "PredefinedScalingMetricSpecification",
        "PredefinedLoadMetricSpecification",
        "CustomizedScalingMetricSpecification",
        "CustomizedLoadMetricSpecification",
        "CustomizedCapacityMetricSpecification",
    },
    "predefined": {"PredefinedMetricType", "ResourceLabel"},
    "custom": {"MetricDataQueries"},
    "query": {"Id", "Expression", "MetricStat", "Label", "ReturnData"},
    "stat": {"Metric", "Stat", "Unit"},
    "metric": {"Namespace", "MetricName", "Dimensions"},
    "dimension": {"Name", "Value"},
}
_QUERY_ID: Final = re.compile(r"^[a-z][a-zA-Z0-9_]{0,254}$")
_STAT: Final = re.compile(r"^(Average|Minimum|Maximum|SampleCount|Sum|p\d{1,2}(\.\d+)?)$")
_MAX_QUERIES: Final = 10


def _fail(message: str) -> ScalingValidationError:
    return ScalingValidationError(message)


def _struct(value: Any, kind: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"{where} must be a structure")
    unknown = sorted(set(value) - _MEMBERS[kind])
    if unknown:
        place = where or "PredictiveScalingConfiguration"
        raise _fail(f"Unknown parameter in {place}: {unknown[0][:64]}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(f"{where} must be a list")
    return value


def _text(value: Any, where: str, longest: int = 255) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= longest:
        raise _fail(f"{where} must be 1 to {longest} characters")
    return value


def _integer(value: Any, where: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise _fail(f"{where} must be an integer") from exc
    if not low <= number <= high:
        raise _fail(f"{where} must be between {low} and {high}")
    return number


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise _fail(f"{where} must be true or false")


def _predefined(value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    held = _struct(value, "predefined", where)
    kind = held.get("PredefinedMetricType")
    if kind is None:
        raise _fail(f"{where}.PredefinedMetricType is required")
    if kind in _ALB:
        raise _fail(
            f"{where}.PredefinedMetricType {kind} needs Application Load Balancer request "
            "counts, which this platform does not measure yet (decision 0197)"
        )
    if kind not in allowed:
        raise _fail(f"{where}.PredefinedMetricType must be one of {', '.join(allowed)}")
    if "ResourceLabel" in held:
        raise _fail(f"{where}.ResourceLabel is only for the ALB request count metrics")
    return {"PredefinedMetricType": kind}


def _query(value: Any, where: str) -> dict[str, Any]:
    held = _struct(value, "query", where)
    query: dict[str, Any] = {"Id": _text(held.get("Id"), where + ".Id")}
    if not _QUERY_ID.match(query["Id"]):
        raise _fail(f"{where}.Id must start with a lowercase letter and hold letters, digits, _")
    if ("Expression" in held) == ("MetricStat" in held):
        raise _fail(f"{where} needs exactly one of Expression and MetricStat")
    if "Expression" in held:
        query["Expression"] = _text(held["Expression"], where + ".Expression", 1023)
    else:
        stat = _struct(held["MetricStat"], "stat", where + ".MetricStat")
        metric = _struct(stat.get("Metric"), "metric", where + ".MetricStat.Metric")
        dimensions = []
        for index, raw in enumerate(_list(metric.get("Dimensions", []), "Dimensions"), 1):
            dimension = _struct(raw, "dimension", f"{where}.MetricStat.Metric.Dimensions.{index}")
            dimensions.append(
                {
                    "Name": _text(dimension.get("Name"), "Dimension Name"),
                    "Value": _text(dimension.get("Value"), "Dimension Value", 1024),
                }
            )
        shaped: dict[str, Any] = {
            "Metric": {
                "Namespace": _text(metric.get("Namespace"), "Namespace"),
                "MetricName": _text(metric.get("MetricName"), "MetricName"),
                "Dimensions": dimensions,
            },
            "Stat": _text(stat.get("Stat"), where + ".MetricStat.Stat", 100),
        }
        if not _STAT.match(shaped["Stat"]):
            raise _fail(f"{where}.MetricStat.Stat {shaped['Stat'][:100]} is not a statistic")
        if "Unit" in stat:
            shaped["Unit"] = _text(stat["Unit"], where + ".MetricStat.Unit", 64)
        query["MetricStat"] = shaped
    if "Label" in held:
        query["Label"] = _text(held["Label"], where + ".Label", 2047)
    if "ReturnData" in held:
        query["ReturnData"] = _boolean(held["ReturnData"], where + ".ReturnData")
    return query


def _customized(value: Any, where: str) -> dict[str, Any]:
    held = _struct(value, "custom", where)
    raw = _list(held.get("MetricDataQueries"), where + ".MetricDataQueries")
    if not 1 <= len(raw) <= _MAX_QUERIES:
        raise _fail(f"{where}.MetricDataQueries must hold 1 to {_MAX_QUERIES} queries")
    queries = [_query(q, f"{where}.MetricDataQueries.{i}") for i, q in enumerate(raw, 1)]
    if len({q["Id"] for q in queries}) != len(queries):
        raise _fail(f"{where}.MetricDataQueries: the Ids must be unique")
    returned = [q for q in queries if q.get("ReturnData", True)]
    if len(returned) != 1:
        raise _fail(f"{where}.MetricDataQueries: exactly one query must have ReturnData true")
    if len(queries) == 1 and "Expression" in queries[0]:
        raise _fail(f"{where}.MetricDataQueries: an expression alone reads no metric")
    return {"MetricDataQueries": queries}


def _specification(value: Any, where: str) -> dict[str, Any]:
    held = _struct(value, "spec", where)
    if "TargetValue" not in held:
        raise _fail(f"{where}.TargetValue is required")
    try:
        target = float(held["TargetValue"])
    except (TypeError, ValueError) as exc:
        raise _fail(f"{where}.TargetValue must be a number") from exc
    if not math.isfinite(target) or target <= 0:
        raise _fail(f"{where}.TargetValue must be greater than zero")
    spec: dict[str, Any] = {"TargetValue": target}
    pair = held.get("PredefinedMetricPairSpecification")
    scaling = [k for k in held if k.endswith("ScalingMetricSpecification")]
    load = [k for k in held if k.endswith("LoadMetricSpecification")]
    if pair is not None:
        if scaling or load or "CustomizedCapacityMetricSpecification" in held:
            raise _fail(
                f"{where}: a PredefinedMetricPairSpecification is given alone, without a "
                "scaling, load or capacity metric"
            )
        spec["PredefinedMetricPairSpecification"] = _predefined(
            pair, where + ".PredefinedMetricPairSpecification", tuple(_PAIRS)
        )
        return spec
    if len(scaling) != 1 or len(load) != 1:
        raise _fail(
            f"{where} needs a PredefinedMetricPairSpecification, or one scaling metric and "
            "one load metric specification"
        )
    for key in (*scaling, *load):
        if key.startswith("Predefined"):
            allowed = _SCALING if key in scaling else _LOAD
            spec[key] = _predefined(held[key], f"{where}.{key}", allowed)
        else:
            spec[key] = _customized(held[key], f"{where}.{key}")
    if "CustomizedCapacityMetricSpecification" in held:
        spec["CustomizedCapacityMetricSpecification"] = _customized(
            held["CustomizedCapacityMetricSpecification"],
            where + ".CustomizedCapacityMetricSpecification",
        )
    return spec


def check_config(raw: Any) -> dict[str, Any]:
    """The configuration checked, its defaults filled (Mode ForecastOnly, HonorMaxCapacity;
    not the buffer, see ``buffer_time``), numbers and booleans typed; AWS's refusals
    otherwise."""
    where = "PredictiveScalingConfiguration"
    held = _struct(raw, "", "")
    if "MetricSpecifications" not in held:
        raise _fail(f"{where}.MetricSpecifications is required")
    specifications = _list(held["MetricSpecifications"], where + ".MetricSpecifications")
    if len(specifications) != 1:
        raise _fail(f"{where}.MetricSpecifications must hold exactly one metric specification")
    config: dict[str, Any] = {
        "MetricSpecifications": [
            _specification(specifications[0], where + ".MetricSpecifications.1")
        ],
        "Mode": held.get("Mode", FORECAST_ONLY),
        "MaxCapacityBreachBehavior": held.get("MaxCapacityBreachBehavior", HONOR),
    }
    # Kept only when given: AWS's DescribePolicies omits the buffer it was not sent (300 s
    # applies), and Terraform's provider, whose attribute is not computed, reads a 300 it was
    # not sent as drift on every plan.
    if "SchedulingBufferTime" in held:
        config["SchedulingBufferTime"] = _integer(
            held["SchedulingBufferTime"], where + ".SchedulingBufferTime", 0, _MAX_BUFFER_TIME
        )
    if config["Mode"] not in (FORECAST_ONLY, FORECAST_AND_SCALE):
        raise _fail(f"{where}.Mode must be ForecastOnly or ForecastAndScale")
    behavior = config["MaxCapacityBreachBehavior"]
    if behavior not in (HONOR, INCREASE):
        raise _fail(
            f"{where}.MaxCapacityBreachBehavior must be HonorMaxCapacity or IncreaseMaxCapacity"
        )
    if "MaxCapacityBuffer" in held:
        if behavior != INCREASE:
            raise _fail(f"{where}.MaxCapacityBuffer is only for IncreaseMaxCapacity")
        config["MaxCapacityBuffer"] = _integer(
            held["MaxCapacityBuffer"], where + ".MaxCapacityBuffer", 0, 100
        )
    elif behavior == INCREASE:
        raise _fail(f"{where}.MaxCapacityBuffer is required with IncreaseMaxCapacity")
    return config


def config_of(policy: ScalingPolicy) -> dict[str, Any]:
    return dict(json.loads(policy.predictive or "{}"))


def buffer_time(policy: ScalingPolicy) -> int:
    """The policy's SchedulingBufferTime, AWS's default when it was not given."""
    return int(config_of(policy).get("SchedulingBufferTime", DEFAULT_BUFFER_TIME))


def load_metric(config: dict[str, Any]) -> LoadMetric:
    """The load the policy forecasts (a pair's load metric, or the load specification's)."""
    spec = config["MetricSpecifications"][0]
    pair = spec.get("PredefinedMetricPairSpecification")
    if pair is not None:
        return LoadMetric(predefined=_PAIRS[pair["PredefinedMetricType"]][1])
    predefined = spec.get("PredefinedLoadMetricSpecification")
    if predefined is not None:
        return LoadMetric(predefined=predefined["PredefinedMetricType"])
    queries = spec["CustomizedLoadMetricSpecification"]["MetricDataQueries"]
    return LoadMetric(queries=tuple(queries))


class Forecast:
    """A policy's forecast: the load per hour, and the capacity (and maximum) it asks."""

    def __init__(
        self, group: Group, config: dict[str, Any], load: LoadForecast | None, ceiling: int
    ) -> None:
        self.load = load
        self.config = config
        target = float(config["MetricSpecifications"][0]["TargetValue"])
        self.hours: list[tuple[datetime, float, int, int]] = []
        for hour, value in zip(load.hours(), load.values, strict=True) if load else ():
            capacity, highest = bounded(
                capacity_for(value, target),
                group.min_size,
                group.max_size,
                config["MaxCapacityBreachBehavior"],
                config.get("MaxCapacityBuffer"),
                ceiling,
            )
            self.hours.append((hour, value, capacity, highest))

    def at(self, hour: datetime) -> tuple[int, int] | None:
        """The capacity and the maximum for ``hour``; None outside the forecast."""
        return next(((c, m) for h, _, c, m in self.hours if h == hour), None)


async def forecast(service: AutoScalingService, group: Group, policy: ScalingPolicy) -> Forecast:
    """The policy's forecast now (no load forecast without a forecaster or the history)."""
    config = config_of(policy)
    load = None
    if service.forecaster is not None:
        load = await service.forecaster.forecast(
            group.tenant_id, group.name, load_metric(config), service.clock()
        )
    return Forecast(group, config, load, service.limits.max_instances_per_group)


def _scaling(policy: ScalingPolicy) -> bool:
    return (
        policy.policy_type == PREDICTIVE
        and policy.enabled
        and config_of(policy).get("Mode") == FORECAST_AND_SCALE
    )


def floor(group: Group, now: datetime) -> int:
    """The capacity predictive scaling holds the group at now: the largest forecast
    capacity in force of its ForecastAndScale policies (0: none)."""
    buffers = {p.name: buffer_time(p) for p in group.policies if _scaling(p)}
    return max(
        (
            capacity
            for name, hour, capacity in group.forecast_floor
            if name in buffers and hour == iso(due_hour(now, buffers[name]))
        ),
        default=0,
    )


async def scale(service: AutoScalingService, group: Group) -> Group:
    """The reconciler's step: each ForecastAndScale policy's capacity for the hour coming
    (read once per hour), the desired capacity raised to the largest; the group."""
    now = service.clock()
    scaling = [p for p in group.policies if _scaling(p)]
    if not scaling:
        if not group.forecast_floor:
            return group
        return await service.mutate(
            group.tenant_id, group.name, lambda g: replace(g, forecast_floor=())
        )
    held = {name: (hour, capacity) for name, hour, capacity in group.forecast_floor}
    entries: dict[str, tuple[str, int, int]] = {}
    for policy in scaling:
        hour = due_hour(now, buffer_time(policy))
        if held.get(policy.name, ("", 0))[0] == iso(hour):
            continue
        found = (await forecast(service, group, policy)).at(hour)
        capacity, highest = found if found is not None else (0, group.max_size)
        entries[policy.name] = (iso(hour), capacity, highest)
    if not entries:
        return group
    outcome: list[tuple[int, int, str]] = []

    def change(g: Group) -> Group:
        outcome.clear()
        kept = {n: (h, c) for n, h, c in g.forecast_floor if n in {p.name for p in scaling}}
        kept.update({n: (h, c) for n, (h, c, _) in entries.items()})
        changed = replace(g, forecast_floor=tuple((n, h, c) for n, (h, c) in sorted(kept.items())))
        wanted = max((c for _, c, _ in entries.values()), default=0)
        if wanted > g.desired_capacity:
            highest = max(g.max_size, *(m for _, _, m in entries.values()))
            name = max(entries, key=lambda n: entries[n][1])
            desired = min(wanted, highest)
            outcome.append((g.desired_capacity, desired, name))
            changed = replace(changed, desired_capacity=desired, max_size=highest)
        return changed

    group = await service.mutate(group.tenant_id, group.name, change)
    if outcome:
        before, after, name = outcome[0]
        await service.record(
            group,
            f"Executing scaling policy {name}",
            f"At {iso(now)} predictive scaling policy {name} changed the desired capacity "
            f"from {before} to {after} (its forecast capacity for the hour from "
            f"{entries[name][0]}).",
            ActivityStatus.SUCCESSFUL,
            now,
        )
    return group


def hours_between(start: datetime, end: datetime, load: LoadForecast | None) -> list[datetime]:
    """The forecast's hours in [start, end)."""
    if load is None:
        return []
    return [h for h in load.hours() if start <= h < end]
