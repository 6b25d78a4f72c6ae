"""Decision 0177's scaling policies: the arithmetic alone (adjustment types, steps, target
tracking's capacity), then through botocore's ``autoscaling`` model in process: simple
policies executed with and without their cooldown, step policies by the breach, target
tracking owning its two CloudWatch alarms (put in the real alarm service, deleted with the
policy), an alarm's action executing a policy, and the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.alarm_adapters import AlarmActionRunner, TrackingAlarms
from andromede.autoscaling.policies import adjusted, step_for, tracking_capacity
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from support.autoscalingapp import REGION, Clock, World, autoscaling_world, refused


def test_adjustments() -> None:
    assert adjusted(4, "ChangeInCapacity", 2) == 6
    assert adjusted(4, "ChangeInCapacity", -5) == -1  # the group's bounds clamp it later
    assert adjusted(4, "ExactCapacity", 1) == 1
    assert adjusted(10, "PercentChangeInCapacity", 25) == 12  # 2.5 truncated
    assert adjusted(10, "PercentChangeInCapacity", -25) == 8
    assert adjusted(2, "PercentChangeInCapacity", 10) == 3  # 0.2 → at least 1
    assert adjusted(10, "PercentChangeInCapacity", 10, 3) == 13  # MinAdjustmentMagnitude


def test_steps_are_lower_inclusive_upper_exclusive() -> None:
    steps = ((0.0, 10.0, 1), (10.0, 20.0, 2), (20.0, None, 3))
    assert [step_for(steps, b) for b in (0.0, 9.99, 10.0, 19.0, 20.0, 500.0)] == [1, 1, 2, 2, 3, 3]
    assert step_for(steps, -1.0) is None
    down = ((None, -10.0, -2), (-10.0, 0.0, -1))
    assert [step_for(down, b) for b in (-50.0, -10.0, -0.5)] == [-2, -1, -1]


def test_target_tracking_capacity() -> None:
    assert tracking_capacity(4, 80.0, 50.0) == 7  # 6.4 up
    assert tracking_capacity(4, 25.0, 50.0) == 2
    assert tracking_capacity(4, 50.0, 50.0) == 4
    assert tracking_capacity(0, 80.0, 50.0) == 1


@pytest.fixture
async def alarms_world(tmp_path: Path) -> AsyncIterator[tuple[World, AlarmService]]:
    alarms = AlarmService(MemoryAlarmStore(), MetricsService(MemoryMetricStore()), REGION)
    async with autoscaling_world(tmp_path, policy_alarms=TrackingAlarms(alarms)) as world:
        alarms.actions = AlarmActionRunner(None, world.service)
        yield world, alarms


async def desired(world: World) -> int:
    [group] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return int(group["DesiredCapacity"])


async def causes(world: World) -> list[str]:
    found = await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web")
    return [a["Cause"] for a in found["Activities"] if "scaling policy" in a["Description"]]


async def test_simple_policy_honours_its_cooldown(alarms_world: tuple[World, AlarmService]) -> None:
    world, _ = alarms_world
    clock = world.service.clock = Clock(datetime(2026, 12, 5, 12, 0, tzinfo=UTC))
    await world.create_group(MinSize=1, MaxSize=5, DesiredCapacity=1)
    arn = (
        await world.root.call(
            "PutScalingPolicy",
            AutoScalingGroupName="web",
            PolicyName="up",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=2,
            Cooldown=120,
        )
    )["PolicyARN"]
    assert ":scalingPolicy:" in arn and arn.endswith("autoScalingGroupName/web:policyName/up")
    await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="up")
    assert await desired(world) == 3
    assert (await causes(world)) == [
        "At 2026-12-05T12:00:00Z a user request executed policy up changing the desired "
        "capacity from 1 to 3."
    ]
    # HonorCooldown: nothing within the 120 s; without it, executed (then clamped at 5).
    await world.root.call("ExecutePolicy", PolicyName=arn, HonorCooldown=True)
    assert await desired(world) == 3
    await world.root.call("ExecutePolicy", PolicyName=arn)
    assert await desired(world) == 5
    clock.now += timedelta(seconds=121)
    await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="down",
                          AdjustmentType="PercentChangeInCapacity", ScalingAdjustment=-50,
                          MinAdjustmentMagnitude=1)  # fmt: skip
    await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="down",
                          HonorCooldown=True)  # fmt: skip
    assert await desired(world) == 3  # 5 - 2.5 truncated
    policies = (await world.root.call("DescribePolicies", AutoScalingGroupName="web"))[
        "ScalingPolicies"
    ]
    assert [(p["PolicyName"], p["PolicyType"]) for p in policies] == [
        ("down", "SimpleScaling"),
        ("up", "SimpleScaling"),
    ]
    await world.root.call("DeletePolicy", AutoScalingGroupName="web", PolicyName="down")
    await refused(world.root, "ExecutePolicy", "ValidationError",
                  AutoScalingGroupName="web", PolicyName="down")  # fmt: skip


async def test_step_policy_by_the_breach_and_from_an_alarm(
    alarms_world: tuple[World, AlarmService],
) -> None:
    world, alarms = alarms_world
    # One clock for Auto Scaling and compute (launch times): the group's instance is past
    # its warm-up (decision 0194) when the policy fires, so it counts.
    clock = world.service.clock = world.compute.clock = Clock(datetime.now(UTC))
    await world.create_group(MinSize=0, MaxSize=10, DesiredCapacity=1)
    await world.converge()
    clock.now += timedelta(seconds=61)
    arn = (
        await world.root.call(
            "PutScalingPolicy",
            AutoScalingGroupName="web",
            PolicyName="steps",
            PolicyType="StepScaling",
            AdjustmentType="ChangeInCapacity",
            MetricAggregationType="Average",
            EstimatedInstanceWarmup=60,
            StepAdjustments=[
                {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20,
                 "ScalingAdjustment": 1},
                {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
            ],
        )
    )["PolicyARN"]  # fmt: skip
    await world.root.call("ExecutePolicy", PolicyName=arn, MetricValue=75, BreachThreshold=50)
    assert await desired(world) == 4  # breach 25: the second step
    [shown] = (await world.root.call("DescribePolicies"))["ScalingPolicies"]
    assert shown["StepAdjustments"][1] == {"MetricIntervalLowerBound": 20.0, "ScalingAdjustment": 3}
    assert shown["EstimatedInstanceWarmup"] == 60
    await refused(world.root, "ExecutePolicy", "ValidationError", PolicyName=arn)
    # An alarm's action: the alarm's value against its threshold picks the step.
    fired = Alarm(
        tenant_id=world.tenant_id, name="cpu-high", namespace="App", metric_name="CPU",
        dimensions=(), period=60, evaluation_periods=1, datapoints_to_alarm=1, threshold=50.0,
        comparison="GreaterThanThreshold", statistic="Average", alarm_actions=(arn,),
    )  # fmt: skip
    assert alarms.actions is not None
    await world.converge()
    clock.now += timedelta(seconds=61)  # the three launched are warm too
    assert await alarms.actions.scale(world.tenant_id, arn, fired, 55.0)
    assert await desired(world) == 5
    await alarms.put_alarm(fired)
    [shown] = (await world.root.call("DescribePolicies"))["ScalingPolicies"]
    assert [a["AlarmName"] for a in shown["Alarms"]] == ["cpu-high"]
    assert (await causes(world))[0].endswith(
        "a monitor alarm cpu-high in state ALARM triggered policy steps changing the desired "
        "capacity from 4 to 5."
    )
    # Another account's policy ARN is not acted on.
    assert not await alarms.actions.scale("999999999999", arn, fired, 55.0)


async def test_target_tracking_owns_its_alarms(alarms_world: tuple[World, AlarmService]) -> None:
    world, alarms = alarms_world
    await world.create_group(MinSize=1, MaxSize=8, DesiredCapacity=2)
    answer = await world.root.call(
        "PutScalingPolicy",
        AutoScalingGroupName="web",
        PolicyName="cpu50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageCPUUtilization"},
            "TargetValue": 50.0,
        },
    )
    names = sorted(a["AlarmName"] for a in answer["Alarms"])
    assert names[0].startswith("TargetTracking-web-AlarmHigh-")
    assert names[1].startswith("TargetTracking-web-AlarmLow-")
    held = {a.name: a for a in await alarms.store.alarms(world.tenant_id)}
    high, low = held[names[0]], held[names[1]]
    assert (high.namespace, high.metric_name, high.dimensions) == (
        "AWS/EC2", "CPUUtilization", (("AutoScalingGroupName", "web"),)
    )  # fmt: skip
    assert (high.threshold, high.evaluation_periods, high.comparison) == (
        50.0, 3, "GreaterThanThreshold"
    )  # fmt: skip
    assert (low.threshold, low.evaluation_periods, low.comparison) == (
        45.0, 15, "LessThanThreshold"
    )  # fmt: skip
    assert alarms.actions is not None
    await alarms.actions.scale(world.tenant_id, high.alarm_actions[0], high, 80.0)
    assert await desired(world) == 4  # 2 x 80 / 50 = 3.2, up
    # DisableScaleIn: the low alarm no longer lowers the capacity.
    await world.root.call(
        "PutScalingPolicy",
        AutoScalingGroupName="web",
        PolicyName="cpu50",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "CustomizedMetricSpecification": {
                "MetricName": "Busy", "Namespace": "App", "Statistic": "Maximum",
                "Dimensions": [{"Name": "Fleet", "Value": "web"}],
            },
            "TargetValue": 50.0,
            "DisableScaleIn": True,
        },
    )  # fmt: skip
    assert sorted(a.name for a in await alarms.store.alarms(world.tenant_id)) == names
    await alarms.actions.scale(world.tenant_id, low.alarm_actions[0], low, 10.0)
    assert await desired(world) == 4
    await world.root.call("DeletePolicy", AutoScalingGroupName="web", PolicyName="cpu50")
    assert await alarms.store.alarms(world.tenant_id) == []
    # A group's deletion takes its target tracking policies' alarms with it.
    await world.root.call(
        "PutScalingPolicy",
        AutoScalingGroupName="web",
        PolicyName="again",
        PolicyType="TargetTrackingScaling",
        TargetTrackingConfiguration={
            "PredefinedMetricSpecification": {"PredefinedMetricType": "ASGAverageNetworkIn"},
            "TargetValue": 1000.0,
        },
    )
    assert len(await alarms.store.alarms(world.tenant_id)) == 2
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    assert await alarms.store.alarms(world.tenant_id) == []


async def test_refusals_and_the_descriptions(alarms_world: tuple[World, AlarmService]) -> None:
    world, _ = alarms_world
    await world.create_group()
    base = {"AutoScalingGroupName": "web", "PolicyName": "p"}
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  PolicyType="PredictiveScaling")  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  AdjustmentType="ChangeInCapacity")  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  AdjustmentType="Halve", ScalingAdjustment=1)  # fmt: skip
    gap = [
        {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 10, "ScalingAdjustment": 1},
        {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 2},
    ]
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  PolicyType="StepScaling", AdjustmentType="ChangeInCapacity",
                  StepAdjustments=gap)  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  PolicyType="TargetTrackingScaling",
                  TargetTrackingConfiguration={"PredefinedMetricSpecification": {
                      "PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": "x"},
                      "TargetValue": 10.0})  # fmt: skip
    await refused(world.root, "PutScalingPolicy", "ValidationError", **base,
                  AdjustmentType="ChangeInCapacity", ScalingAdjustment=1,
                  MinAdjustmentMagnitude=2)  # fmt: skip
    types = (await world.root.call("DescribeAdjustmentTypes"))["AdjustmentTypes"]
    assert [t["AdjustmentType"] for t in types] == [
        "ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity"
    ]  # fmt: skip
    collected = await world.root.call("DescribeMetricCollectionTypes")
    assert {"Metric": "GroupDesiredCapacity"} in collected["Metrics"]
    # Another account sees nothing of the group's policies.
    _, other = await world.tenant("other")
    assert (await other.call("DescribePolicies"))["ScalingPolicies"] == []


async def test_policies_per_group_is_a_setting(tmp_path: Path) -> None:
    async with autoscaling_world(tmp_path, max_scaling_policies_per_autoscaling_group=1) as world:
        await world.create_group()
        simple = {"AdjustmentType": "ChangeInCapacity", "ScalingAdjustment": 1}
        await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="a",
                              **simple)  # fmt: skip
        await world.root.call("PutScalingPolicy", AutoScalingGroupName="web", PolicyName="a",
                              **simple)  # a replacement is not one more  # fmt: skip
        await refused(world.root, "PutScalingPolicy", "LimitExceeded",
                      AutoScalingGroupName="web", PolicyName="b", **simple)  # fmt: skip
