"""Decision 0197's predictive scaling: the load model over synthetic seasonal series (the
anomaly model's buckets), the capacity rules (bounds, the maximum's breach behaviours, the
scheduling buffer), the configuration's checks, then through botocore's ``autoscaling``
model in process: PutScalingPolicy / DescribePolicies in AWS's shape,
GetPredictiveScalingForecast over real CloudWatch metrics, and the reconciler's step with a
fake clock (ForecastAndScale raises the capacity, ForecastOnly does not, a dynamic policy's
scale-in stops at the forecast)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.autoscaling import predictive
from andromede.autoscaling.errors import ScalingValidationError
from andromede.autoscaling.forecast import (
    LoadForecast,
    LoadMetric,
    bounded,
    capacity_for,
    due_hour,
)
from andromede.autoscaling.model import Group
from andromede.autoscaling.records import ScalingPolicy
from andromede.db.database import open_database
from andromede.metrics.anomaly_model import hourly_forecast
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.service import MetricDatum, MetricsService
from andromede.metrics.store import MemoryMetricStore, Point
from andromede.scaling_forecasts import MetricForecaster
from andromede.settings import Settings
from andromede.wiring.compute import autoscaling_service
from support.autoscalingapp import Clock, World, autoscaling_world, refused
from support.schema import migrated_sqlite

HOUR = 3600
# A Monday noon: the history is the days before it.
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def daily(at: int) -> float:
    """A daily sine: 100 at its mean, 20 to 180 over the day."""
    return 100 + 80 * math.sin(2 * math.pi * (at % 86400) / 86400)


def history(days: float, shape: Any = daily, noise: float = 0.0) -> list[tuple[int, float]]:
    end = int(NOW.timestamp())
    hours = int(days * 24)
    return [
        (end - (hours - i) * HOUR, shape(end - (hours - i) * HOUR) + noise * ((i * 7919) % 11 - 5))
        for i in range(hours)
    ]


# --- the model -------------------------------------------------------------------------------


def test_a_daily_sine_is_forecast_within_a_tolerance() -> None:
    first = int(NOW.timestamp())
    forecast = hourly_forecast(history(7, noise=2.0), first, 48)
    assert forecast is not None and len(forecast) == 48
    for i, value in enumerate(forecast):
        assert abs(value - daily(first + i * HOUR)) <= 10.0, (i, value)


def test_a_weekly_pattern_is_followed_once_two_weeks_hold_it() -> None:
    def weekdays(at: int) -> float:  # busy on weekdays, quiet at the weekend
        return 200.0 if datetime.fromtimestamp(at, UTC).weekday() < 5 else 20.0

    first = int(NOW.timestamp()) - 3 * 86400  # a Friday noon: the weekend within 48 h
    shifted = [(first - h * HOUR, weekdays(first - h * HOUR)) for h in range(14 * 24, 0, -1)]
    forecast = hourly_forecast(shifted, first, 48)
    assert forecast is not None
    assert forecast[0] == 200.0 and forecast[24] == 20.0  # Friday, then Saturday
    # Fewer than two weeks: the hour of the day only (the median over the days seen).
    short = hourly_forecast(shifted[-24 * 8 :], first, 48)
    assert short is not None and short[24] == 200.0


def test_no_forecast_without_24_hours_of_history_as_aws() -> None:
    first = int(NOW.timestamp())
    assert hourly_forecast(history(23 / 24), first, 48) is None
    assert hourly_forecast([], first, 48) is None
    one_day = hourly_forecast(history(1), first, 48)
    assert one_day is not None and one_day[0] == pytest.approx(daily(first))


# --- the capacity rules ----------------------------------------------------------------------


def test_capacity_is_the_load_over_the_target_rounded_up() -> None:
    assert capacity_for(180.0, 50.0) == 4
    assert capacity_for(200.0, 50.0) == 4
    assert capacity_for(200.0000000001, 50.0) == 4  # a float's noise is not an instance
    assert capacity_for(0.0, 50.0) == 0
    assert capacity_for(-5.0, 50.0) == 0


def test_the_bounds_and_the_breach_behaviours() -> None:
    assert bounded(1, 2, 10, "HonorMaxCapacity", None, 100) == (2, 10)  # MinSize
    assert bounded(50, 0, 40, "HonorMaxCapacity", None, 100) == (40, 40)
    # AWS's example: a buffer of 10, a forecast of 50, a maximum of 40: 55 in force.
    assert bounded(50, 0, 40, "IncreaseMaxCapacity", 10, 100) == (50, 55)
    assert bounded(50, 0, 40, "IncreaseMaxCapacity", 0, 100) == (50, 50)
    assert bounded(30, 0, 40, "IncreaseMaxCapacity", 10, 100) == (30, 40)  # not near it
    assert bounded(50, 0, 40, "IncreaseMaxCapacity", 10, 45) == (45, 45)  # the platform's


def test_the_hour_in_force_starts_a_buffer_early() -> None:
    assert due_hour(NOW.replace(minute=49, second=59), 600) == NOW
    assert due_hour(NOW.replace(minute=50), 600) == NOW + timedelta(hours=1)
    assert due_hour(NOW.replace(minute=59), 0) == NOW


# --- the configuration's checks ----------------------------------------------------------------

KIND = "PredefinedMetricType"
PAIR = {"TargetValue": 50, "PredefinedMetricPairSpecification": {KIND: "ASGCPUUtilization"}}
REQUESTS = {"Namespace": "App", "MetricName": "Requests"}
STAT = {"Id": "load", "MetricStat": {"Metric": REQUESTS, "Stat": "Sum"}}


def custom(*queries: dict[str, Any]) -> dict[str, Any]:
    return {"MetricDataQueries": list(queries)}


def one(target: float = 5, **members: Any) -> dict[str, Any]:
    """A configuration of one metric specification."""
    return {"MetricSpecifications": [{"TargetValue": target, **members}]}


def split(scaling: dict[str, Any], load: dict[str, Any]) -> dict[str, Any]:
    return one(CustomizedScalingMetricSpecification=scaling, CustomizedLoadMetricSpecification=load)


def test_the_configuration_defaults() -> None:
    config = predictive.check_config({"MetricSpecifications": [PAIR]})
    assert config == {
        "MetricSpecifications": [
            {
                "TargetValue": 50.0,
                "PredefinedMetricPairSpecification": {"PredefinedMetricType": "ASGCPUUtilization"},
            }
        ],
        "Mode": "ForecastOnly",
        "MaxCapacityBreachBehavior": "HonorMaxCapacity",
    }
    assert predictive.load_metric(config).predefined == "ASGTotalCPUUtilization"


def test_the_group_document_keeps_the_policy_and_the_forecast_in_force() -> None:
    policy = ScalingPolicy(
        name="p",
        policy_id="id",
        policy_type="PredictiveScaling",
        predictive=json.dumps(predictive.check_config({"MetricSpecifications": [PAIR]})),
    )
    group = Group(
        tenant_id="t",
        name="web",
        group_id="g",
        template_id="lt",
        template_name="web",
        template_version="$Latest",
        min_size=0,
        max_size=4,
        desired_capacity=1,
        subnets=(),
        created_at=NOW,
        policies=(policy,),
        forecast_floor=(("p", "2026-11-30T12:00:00Z", 3),),
    )
    assert Group.from_document(group.document(), 0) == group
    assert predictive.floor(group, NOW) == 0  # ForecastOnly: no floor
    # No buffer given: none shown (AWS's answer, no drift for Terraform), AWS's 300 s applied.
    assert predictive.buffer_time(policy) == 300
    given = predictive.check_config({"MetricSpecifications": [PAIR], "SchedulingBufferTime": 0})
    assert predictive.buffer_time(replace(policy, predictive=json.dumps(given))) == 0


INCREASE = {"MaxCapacityBreachBehavior": "IncreaseMaxCapacity"}
REFUSALS = [
    ({}, "MetricSpecifications is required"),
    ({"MetricSpecifications": "all"}, "MetricSpecifications must be a list"),
    ({"MetricSpecifications": [PAIR, PAIR]}, "exactly one metric specification"),
    (one(0, PredefinedMetricPairSpecification={KIND: "ASGCPUUtilization"}), "greater than zero"),
    (one(), "one scaling metric and one load"),
    (one(PredefinedMetricPairSpecification={KIND: "ALBRequestCount"}), "Application Load"),
    (
        one(
            PredefinedMetricPairSpecification={KIND: "ASGCPUUtilization"},
            PredefinedLoadMetricSpecification={KIND: "ASGTotalCPUUtilization"},
        ),
        "given alone",
    ),
    (
        one(
            PredefinedScalingMetricSpecification={KIND: "ASGTotalCPUUtilization"},
            PredefinedLoadMetricSpecification={KIND: "ASGTotalCPUUtilization"},
        ),
        "must be one of",
    ),
    ({"MetricSpecifications": [PAIR], "Mode": "Sometimes"}, "Mode"),
    ({"MetricSpecifications": [PAIR], "SchedulingBufferTime": 3600}, "between 0 and 3599"),
    ({"MetricSpecifications": [PAIR], **INCREASE}, "required with IncreaseMaxCapacity"),
    ({"MetricSpecifications": [PAIR], "MaxCapacityBuffer": 10}, "only for IncreaseMaxCapacity"),
    ({"MetricSpecifications": [PAIR], **INCREASE, "MaxCapacityBuffer": 101}, "0 and 100"),
    (
        split(custom(STAT), custom({**STAT, "ReturnData": "false"})),
        "exactly one query must have ReturnData",
    ),
    (split(custom(STAT), custom({"Id": "Bad", "Expression": "m1"})), "lowercase"),
    ({"MetricSpecifications": [PAIR], "Surprise": "1"}, "Unknown parameter"),
]


@pytest.mark.parametrize(("raw", "says"), REFUSALS)
def test_the_configuration_refusals(raw: dict[str, Any], says: str) -> None:
    with pytest.raises(ScalingValidationError, match=says):
        predictive.check_config(raw)


# --- through the Query API --------------------------------------------------------------------


class CountingForecaster(MetricForecaster):
    """The platform's forecaster, counting the forecasts it makes."""

    reads = 0

    async def forecast(
        self, tenant_id: str, group_name: str, load: LoadMetric, now: datetime
    ) -> LoadForecast | None:
        self.reads += 1
        return await super().forecast(tenant_id, group_name, load, now)


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[tuple[World, MetricsService, Clock]]:
    metrics = MetricsService(MemoryMetricStore())
    async with autoscaling_world(tmp_path) as world:
        world.service.forecaster = CountingForecaster(metrics, sample_interval=300.0)
        clock = world.service.clock = Clock(NOW)
        yield world, metrics, clock


async def load_history(metrics: MetricsService, tenant_id: str, days: int) -> None:
    """The group's total CPU (the daily sine) every 5 minutes for ``days`` before NOW: one
    sample per 5-minute period, as ``instance_metrics_interval`` 300 writes them."""
    series = Series.of(tenant_id, "AWS/EC2", "CPUUtilization", [("AutoScalingGroupName", "web")])
    end = int(NOW.timestamp())
    await metrics.put_platform(
        [
            Point(series, 300, at, "Percent", Aggregate.of_values([(daily(at), 1.0)]))
            for at in range(end - days * 86400, end, 300)
        ]
    )


def config(**more: Any) -> dict[str, Any]:
    return {"MetricSpecifications": [PAIR], **more}


async def test_put_and_describe_as_aws(metered: tuple[World, MetricsService, Clock]) -> None:
    world, _, _ = metered
    await world.create_group(MinSize=1, MaxSize=5)
    answer = await world.root.call(
        "PutScalingPolicy",
        AutoScalingGroupName="web",
        PolicyName="forecast",
        PolicyType="PredictiveScaling",
        PredictiveScalingConfiguration=config(),
    )
    assert answer["PolicyARN"].endswith(":policyName/forecast") and answer["Alarms"] == []
    custom_spec = {
        "TargetValue": 1000,
        "CustomizedScalingMetricSpecification": custom(
            {
                "Id": "per",
                "MetricStat": {
                    "Metric": {**REQUESTS, "Dimensions": [{"Name": "Group", "Value": "web"}]},
                    "Stat": "Average",
                },
            }
        ),
        "CustomizedLoadMetricSpecification": custom(
            {**STAT, "ReturnData": False},
            {"Id": "twice", "Expression": "load * 2", "Label": "Doubled", "ReturnData": True},
        ),
    }
    await world.root.call(
        "PutScalingPolicy",
        AutoScalingGroupName="web",
        PolicyName="custom",
        PolicyType="PredictiveScaling",
        PredictiveScalingConfiguration={
            "MetricSpecifications": [custom_spec],
            "Mode": "ForecastAndScale",
            "SchedulingBufferTime": 600,
            "MaxCapacityBreachBehavior": "IncreaseMaxCapacity",
            "MaxCapacityBuffer": 10,
        },
    )
    listed = (await world.root.call("DescribePolicies", PolicyTypes=["PredictiveScaling"]))[
        "ScalingPolicies"
    ]
    assert [p["PolicyName"] for p in listed] == ["custom", "forecast"]
    assert listed[1]["PredictiveScalingConfiguration"] == {
        "MetricSpecifications": [
            {
                "TargetValue": 50.0,
                "PredefinedMetricPairSpecification": {"PredefinedMetricType": "ASGCPUUtilization"},
            }
        ],
        "Mode": "ForecastOnly",
        "MaxCapacityBreachBehavior": "HonorMaxCapacity",
    }
    shown = listed[0]["PredictiveScalingConfiguration"]
    assert shown["MaxCapacityBuffer"] == 10 and shown["Mode"] == "ForecastAndScale"
    queries = shown["MetricSpecifications"][0]["CustomizedLoadMetricSpecification"][
        "MetricDataQueries"
    ]
    assert queries[0]["ReturnData"] is False and queries[1]["Expression"] == "load * 2"
    assert shown["MetricSpecifications"][0]["CustomizedScalingMetricSpecification"][
        "MetricDataQueries"
    ][0]["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "Group", "Value": "web"}]
    assert listed[0]["Enabled"] is True and "AdjustmentType" not in listed[0]
    # The refusals, AWS's ValidationError each with its request id.
    await refused(world.root, "ExecutePolicy", "ValidationError",
                  AutoScalingGroupName="web", PolicyName="forecast")  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", AutoScalingGroupName="web",
                  PolicyName="p", PolicyType="PredictiveScaling")  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", AutoScalingGroupName="web",
                  PolicyName="p", PolicyType="PredictiveScaling", AdjustmentType="ExactCapacity",
                  PredictiveScalingConfiguration=config())  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", AutoScalingGroupName="web",
                  PolicyName="p", AdjustmentType="ExactCapacity", ScalingAdjustment=1,
                  PredictiveScalingConfiguration=config())  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", AutoScalingGroupName="web",
                  PolicyName="p", PolicyType="PredictiveScaling",
                  PredictiveScalingConfiguration=config(MaxCapacityBuffer=5))  # fmt: skip


async def test_the_forecast_over_the_metrics(metered: tuple[World, MetricsService, Clock]) -> None:
    world, metrics, _ = metered
    await world.create_group(MinSize=2, MaxSize=3)
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="f",
                          PolicyType="PredictiveScaling",
                          PredictiveScalingConfiguration=config())  # fmt: skip
    window = {"StartTime": NOW, "EndTime": NOW + timedelta(days=3)}
    # Less than a day of history: no forecast, as AWS.
    await load_history(metrics, world.tenant_id, 0)
    empty = await world.root.call("GetPredictiveScalingForecast", AutoScalingGroupName="web",
                                  PolicyName="f", **window)  # fmt: skip
    assert empty["LoadForecast"][0]["Values"] == [] and empty["CapacityForecast"]["Values"] == []
    await load_history(metrics, world.tenant_id, 3)
    found = await world.root.call("GetPredictiveScalingForecast", AutoScalingGroupName="web",
                                  PolicyName="f", **window)  # fmt: skip
    [load] = found["LoadForecast"]
    assert len(load["Timestamps"]) == 48 and load["Timestamps"][0] == NOW
    assert load["MetricSpecification"]["TargetValue"] == 50.0
    expected = [daily(int(NOW.timestamp()) + i * HOUR) for i in range(48)]
    # Each hour's load is the mean of its twelve 5-minute totals: close to the sine's value.
    assert all(abs(v - e) < 10 for v, e in zip(load["Values"], expected, strict=True))
    capacity = found["CapacityForecast"]["Values"]
    assert capacity == [float(min(max(capacity_for(v, 50.0), 2), 3)) for v in load["Values"]]
    # 20 %…180 % at 50 % an instance: 1 to 4 instances, within MinSize 2 and MaxSize 3.
    assert set(capacity) == {2.0, 3.0}
    part = await world.root.call("GetPredictiveScalingForecast", AutoScalingGroupName="web",
                                 PolicyName="f", StartTime=NOW + timedelta(hours=2),
                                 EndTime=NOW + timedelta(hours=5))  # fmt: skip
    assert part["CapacityForecast"]["Timestamps"] == [NOW + timedelta(hours=h) for h in (2, 3, 4)]
    await refused(world.root, "GetPredictiveScalingForecast", "ValidationError",
                  AutoScalingGroupName="web", PolicyName="nope", **window)  # fmt: skip
    await refused(world.root, "GetPredictiveScalingForecast", "ValidationError",
                  AutoScalingGroupName="web", PolicyName="f", StartTime=NOW,
                  EndTime=NOW - timedelta(hours=1))  # fmt: skip


async def desired_and_max(world: World) -> tuple[int, int]:
    [group] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return int(group["DesiredCapacity"]), int(group["MaxSize"])


async def test_the_reconciler_scales_ahead_of_each_hour(
    metered: tuple[World, MetricsService, Clock],
) -> None:
    world, metrics, clock = metered
    await load_history(metrics, world.tenant_id, 2)
    await world.create_group(MinSize=1, MaxSize=3, DesiredCapacity=1)
    clock.now = NOW.replace(hour=2, minute=40) + timedelta(days=1)
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="only",
                          PolicyType="PredictiveScaling",
                          PredictiveScalingConfiguration=config())  # fmt: skip
    group = await world.service.group(world.tenant_id, "web")
    await predictive.scale(world.service, group)
    assert await desired_and_max(world) == (1, 3)  # ForecastOnly changes nothing
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="scale",
                          PolicyType="PredictiveScaling",
                          PredictiveScalingConfiguration=config(
                              Mode="ForecastAndScale", SchedulingBufferTime=600,
                              MaxCapacityBreachBehavior="IncreaseMaxCapacity",
                              MaxCapacityBuffer=0))  # fmt: skip
    # 02:40 + 600 s: still 02:00's forecast, 140 % at 50 % an instance: 3.
    await world.reconciler().run_once()
    assert await desired_and_max(world) == (3, 3)
    clock.now = clock.now.replace(minute=50)  # 600 s before 03:00: 03:00's, 157 %: 4
    await world.reconciler().run_once()
    assert await desired_and_max(world) == (4, 4)  # the maximum raised, buffer 0
    causes = (await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web"))[
        "Activities"
    ]
    assert any("predictive scaling policy scale changed the desired capacity" in a["Cause"]
               for a in causes)  # fmt: skip
    # A dynamic policy's scale-in stops at the forecast capacity in force; its scale-out
    # goes past it (the larger wins).
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="down",
                          AdjustmentType="ChangeInCapacity", ScalingAdjustment=-3)  # fmt: skip
    await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="down")
    assert (await desired_and_max(world))[0] == 4
    # Read once per hour: one entry, for 03:00, and no second read for it.
    forecaster = world.service.forecaster
    assert isinstance(forecaster, CountingForecaster)
    reads = forecaster.reads
    await world.reconciler().run_once()
    assert forecaster.reads == reads
    group = await world.service.group(world.tenant_id, "web")
    assert [e[:2] for e in group.forecast_floor] == [("scale", "2026-12-01T03:00:00Z")]
    # The hour after, its own forecast; once the policy is ForecastOnly, no floor is kept.
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="scale",
                          PolicyType="PredictiveScaling",
                          PredictiveScalingConfiguration=config())  # fmt: skip
    await predictive.scale(world.service, await world.service.group(world.tenant_id, "web"))
    assert (await world.service.group(world.tenant_id, "web")).forecast_floor == ()
    await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="down")
    assert (await desired_and_max(world))[0] == 1


async def test_a_custom_load_metric_with_metric_math(
    metered: tuple[World, MetricsService, Clock],
) -> None:
    world, metrics, _ = metered
    await world.create_group(MinSize=0, MaxSize=20)
    end = int(NOW.timestamp())
    # An application's requests, 600 every 5 minutes on the hour's first ten minutes only:
    # the hour's Sum is 1,200; the load read is twice it through the expression.
    for day in range(2):
        await metrics.put_metric_data(
            world.tenant_id,
            "App",
            [
                MetricDatum("Requests", timestamp=datetime.fromtimestamp(at, UTC), value=600.0)
                for hour in range(24)
                for at in (
                    end - (day + 1) * 86400 + hour * HOUR,
                    end - (day + 1) * 86400 + hour * HOUR + 300,
                )
            ],
        )
    load = {
        "TargetValue": 1000,
        "PredefinedScalingMetricSpecification": {KIND: "ASGAverageCPUUtilization"},
        "CustomizedLoadMetricSpecification": custom(
            {**STAT, "ReturnData": False},
            {"Id": "twice", "Expression": "load * 2"},
        ),
    }  # fmt: skip
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="app",
                          PolicyType="PredictiveScaling",
                          PredictiveScalingConfiguration={"MetricSpecifications": [load]},
                          )  # fmt: skip
    found = await world.root.call("GetPredictiveScalingForecast", AutoScalingGroupName="web",
                                  PolicyName="app", StartTime=NOW,
                                  EndTime=NOW + timedelta(hours=2))  # fmt: skip
    assert found["LoadForecast"][0]["Values"] == [2400.0, 2400.0]
    assert found["CapacityForecast"]["Values"] == [3.0, 3.0]  # 2,400 / 1,000 up


async def test_the_settings_bound_the_forecast(
    metered: tuple[World, MetricsService, Clock], tmp_path: Path
) -> None:
    """A serve's forecaster (the wiring) reads ``predictive_scaling_history_days`` of
    history, needs ``predictive_scaling_min_history_hours`` of it, and forecasts
    ``predictive_scaling_forecast_hours`` ahead."""
    world, metrics, _ = metered
    await load_history(metrics, world.tenant_id, 3)
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:

        def forecaster(**settings: Any) -> MetricForecaster:
            made = autoscaling_service(
                Settings(data_dir=tmp_path / "data", instance_metrics_interval=300, **settings),
                db,
                world.compute,
                world.audit,
                metrics=metrics,
            ).forecaster
            assert isinstance(made, MetricForecaster)
            return made

        cpu = LoadMetric(predefined="ASGTotalCPUUtilization")
        shaped = await forecaster(predictive_scaling_forecast_hours=6).forecast(
            world.tenant_id, "web", cpu, NOW
        )
        assert shaped is not None and len(shaped.values) == 6
        assert shaped.values[0] == pytest.approx(daily(int(NOW.timestamp())), abs=10)
        needy = forecaster(predictive_scaling_min_history_hours=73)  # 72 hours held
        assert await needy.forecast(world.tenant_id, "web", cpu, NOW) is None
        short = forecaster(
            predictive_scaling_history_days=1, predictive_scaling_min_history_hours=25
        )
        assert await short.forecast(world.tenant_id, "web", cpu, NOW) is None
        assert await forecaster().forecast(world.tenant_id, "other", cpu, NOW) is None
    finally:
        await db.close()
