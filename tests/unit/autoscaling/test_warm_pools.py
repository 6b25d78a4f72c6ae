"""Warm pools (decision 0194) through botocore's ``autoscaling`` model in process and the
reconciler on the memory hypervisor: the pool kept at AWS's size and stopped, drawn on by a
scale-out before any launch, refilled, trimmed, held on the launch hooks when its instances
enter it and again when they leave it, instances returned to it on scale-in, its deletion
(PendingDelete, ForceDelete), the refusals, and the setting that caps it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from support.autoscalingapp import Clock, World, autoscaling_world, refused

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"


async def rounds(world: World, count: int = 3) -> None:
    for _ in range(count):
        await world.converge()


async def pool(world: World) -> dict[str, str]:
    shown = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web")
    return {i["InstanceId"]: i["LifecycleState"] for i in shown["Instances"]}


async def shown_group(world: World) -> dict[str, object]:
    [group] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return dict(group)


async def descriptions(world: World) -> list[str]:
    found = await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web")
    return [a["Description"] for a in found["Activities"]]


async def test_pool_kept_stopped_drawn_on_refilled_trimmed_and_deleted(world: World) -> None:
    await world.create_group(MinSize=0, MaxSize=4, DesiredCapacity=1)
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", MinSize=1)
    await rounds(world)
    # AWS's formula: MaxSize 4 minus desired 1 = 3 (at least MinSize 1), stopped.
    warmed = await pool(world)
    assert sorted(warmed.values()) == ["Warmed:Stopped"] * 3
    group = await shown_group(world)
    assert group["WarmPoolSize"] == 3
    assert group["WarmPoolConfiguration"] == {
        "MinSize": 1,
        "PoolState": "Stopped",
        "InstanceReusePolicy": {"ReuseOnScaleIn": False},
    }
    [own] = group["Instances"]  # type: ignore[misc]
    assert own["LifecycleState"] == "InService" and own["InstanceId"] not in warmed
    stopped = await world.compute.describe_instances(world.tenant_id, list(warmed))
    assert {str(i.state) for i in stopped} == {"stopped"}
    assert sum("into warm pool" in d for d in await descriptions(world)) == 3
    # Pages of DescribeWarmPool (50 at most a page).
    first = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web", MaxRecords=2)
    assert len(first["Instances"]) == 2 and first["NextToken"]
    rest = await world.root.call(
        "DescribeWarmPool", AutoScalingGroupName="web", MaxRecords=2, NextToken=first["NextToken"]
    )
    assert len(rest["Instances"]) == 1 and "NextToken" not in rest
    await refused(world.root, "DescribeWarmPool", "ValidationError",
                  AutoScalingGroupName="web", MaxRecords=51)  # fmt: skip

    # Scale-out takes a warmed instance (started) before launching any.
    oldest = sorted(
        await world.compute.describe_instances(world.tenant_id, list(warmed)),
        key=lambda i: (i.last_launch_time, i.instance_id),
    )[0].instance_id
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    await rounds(world)
    group = await shown_group(world)
    ids = {i["InstanceId"] for i in group["Instances"]}  # type: ignore[attr-defined]
    assert oldest in ids and len(ids) == 2
    [taken] = await world.compute.describe_instances(world.tenant_id, [oldest])
    assert str(taken.state) == "running"
    assert f"Launching a new EC2 instance from warm pool: {oldest}" in await descriptions(world)
    # The pool now: 4 - 2 = 2, the two left; nothing launched for the group itself.
    assert len(await pool(world)) == 2 and group["WarmPoolSize"] == 2
    assert not any(d.startswith("Launching a new EC2 instance: ") and oldest not in d
                   for d in (await descriptions(world))[:2])  # fmt: skip

    # MaxGroupPreparedCapacity 3: 3 - 2 = 1 kept, the other terminated.
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", MaxGroupPreparedCapacity=3)
    await rounds(world)
    assert len(await pool(world)) == 1
    shown = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web")
    assert shown["WarmPoolConfiguration"]["MaxGroupPreparedCapacity"] == 3
    assert shown["WarmPoolConfiguration"]["MinSize"] == 1  # kept from the first put
    # -1 removes it: back to MaxSize - desired.
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", MaxGroupPreparedCapacity=-1)
    await rounds(world)
    assert len(await pool(world)) == 2

    # DeleteWarmPool: PendingDelete while its instances go, then no pool.
    await world.root.call("DeleteWarmPool", AutoScalingGroupName="web")
    shown = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web")
    assert shown["WarmPoolConfiguration"]["Status"] == "PendingDelete"
    await refused(world.root, "PutWarmPool", "ValidationError", AutoScalingGroupName="web")
    await rounds(world)
    shown = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web")
    assert "WarmPoolConfiguration" not in shown and shown["Instances"] == []
    group = await shown_group(world)
    assert "WarmPoolConfiguration" not in group and len(group["Instances"]) == 2  # type: ignore[arg-type]
    await refused(world.root, "DeleteWarmPool", "ValidationError", AutoScalingGroupName="web")


async def test_launch_hooks_run_entering_and_leaving_the_pool(world: World) -> None:
    await world.create_group(MinSize=0, MaxSize=1, DesiredCapacity=0)
    await world.root.call("PutLifecycleHook", AutoScalingGroupName="web",
                          LifecycleHookName="boot", LifecycleTransition=LAUNCHING)  # fmt: skip
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", PoolState="Stopped")
    await rounds(world)
    [(instance, state)] = (await pool(world)).items()
    assert state == "Warmed:Pending:Wait"
    [running] = await world.compute.describe_instances(world.tenant_id, [instance])
    assert str(running.state) == "running"  # not stopped before its hook is done
    await world.root.call("CompleteLifecycleAction", AutoScalingGroupName="web",
                          LifecycleHookName="boot", InstanceId=instance,
                          LifecycleActionResult="CONTINUE")  # fmt: skip
    await rounds(world)
    assert await pool(world) == {instance: "Warmed:Stopped"}
    # Leaving the pool for the group: through the launch hook again.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await rounds(world, 1)
    group = await shown_group(world)
    assert [(i["InstanceId"], i["LifecycleState"]) for i in group["Instances"]] == [  # type: ignore[attr-defined]
        (instance, "Pending:Wait")
    ]
    await world.root.call("CompleteLifecycleAction", AutoScalingGroupName="web",
                          LifecycleHookName="boot", InstanceId=instance,
                          LifecycleActionResult="CONTINUE")  # fmt: skip
    await rounds(world)
    group = await shown_group(world)
    assert [i["LifecycleState"] for i in group["Instances"]] == ["InService"]  # type: ignore[attr-defined]
    assert await pool(world) == {}  # 1 - 1 = 0 in the pool now


async def test_reuse_on_scale_in_and_a_running_pool(world: World) -> None:
    await world.create_group(MinSize=0, MaxSize=2, DesiredCapacity=2)
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", PoolState="Running",
                          InstanceReusePolicy={"ReuseOnScaleIn": True})  # fmt: skip
    await rounds(world)
    assert await pool(world) == {}
    before = {i["InstanceId"] for i in (await shown_group(world))["Instances"]}  # type: ignore[attr-defined]
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await rounds(world)
    warmed = await pool(world)
    assert list(warmed.values()) == ["Warmed:Running"] and set(warmed) <= before
    [kept] = await world.compute.describe_instances(world.tenant_id, list(warmed))
    assert str(kept.state) == "running"  # returned, not terminated
    assert any(
        d.startswith("Moving EC2 instance to warm pool: ") for d in await descriptions(world)
    )
    # Switched to Stopped: the pool's instance is stopped.
    await world.root.call("PutWarmPool", AutoScalingGroupName="web", PoolState="Stopped")
    await rounds(world)
    assert list((await pool(world)).values()) == ["Warmed:Stopped"]
    # ForceDelete of the group takes the pool's instances too.
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    await rounds(world)
    left = await world.compute.describe_instances(world.tenant_id, list(before))
    assert {str(i.state) for i in left} == {"terminated"}


async def test_force_delete_drops_the_pools_lifecycle_actions(world: World) -> None:
    await world.create_group(MinSize=0, MaxSize=1, DesiredCapacity=0)
    await world.root.call("PutLifecycleHook", AutoScalingGroupName="web",
                          LifecycleHookName="boot", LifecycleTransition=LAUNCHING)  # fmt: skip
    await world.root.call("PutWarmPool", AutoScalingGroupName="web")
    await rounds(world)
    assert list((await pool(world)).values()) == ["Warmed:Pending:Wait"]
    await world.root.call("DeleteWarmPool", AutoScalingGroupName="web")
    await rounds(world)
    assert list((await pool(world)).values()) == ["Warmed:Pending:Wait"]  # waits on its hook
    await world.root.call("DeleteWarmPool", AutoScalingGroupName="web", ForceDelete=True)
    await rounds(world)
    shown = await world.root.call("DescribeWarmPool", AutoScalingGroupName="web")
    assert "WarmPoolConfiguration" not in shown and shown["Instances"] == []


async def test_refusals_isolation_and_the_setting(tmp_path: Path) -> None:
    async with autoscaling_world(
        tmp_path, max_warm_pool_instances_per_autoscaling_group=2
    ) as world:
        world.service.clock = Clock(datetime.now(UTC))
        await world.create_group(MinSize=0, MaxSize=10, DesiredCapacity=0)
        error = await refused(world.root, "PutWarmPool", "ValidationError",
                              AutoScalingGroupName="web", PoolState="Hibernated")  # fmt: skip
        assert "Hibernated" in error.message
        await refused(world.root, "PutWarmPool", "ValidationError",
                      AutoScalingGroupName="web", PoolState="Frozen")  # fmt: skip
        await refused(world.root, "PutWarmPool", "ValidationError",
                      AutoScalingGroupName="web", MaxGroupPreparedCapacity=-2)  # fmt: skip
        await refused(world.root, "PutWarmPool", "ValidationError",
                      AutoScalingGroupName="nope")  # fmt: skip
        error = await refused(world.root, "PutWarmPool", "LimitExceeded",
                              AutoScalingGroupName="web", MinSize=3)  # fmt: skip
        assert "max_warm_pool_instances_per_autoscaling_group" in error.message
        # The setting caps AWS's formula too: 10 - 0 asked, 2 kept.
        await world.root.call("PutWarmPool", AutoScalingGroupName="web", PoolState="Running")
        await rounds(world)
        assert list((await pool(world)).values()) == ["Warmed:Running"] * 2
        # A pool's instance is not the group's to move to Standby nor to refresh.
        warm_id = next(iter(await pool(world)))
        await refused(world.root, "EnterStandby", "ValidationError", AutoScalingGroupName="web",
                      InstanceIds=[warm_id], ShouldDecrementDesiredCapacity=False)  # fmt: skip
        await world.root.call("StartInstanceRefresh", AutoScalingGroupName="web")
        [refresh] = (
            await world.root.call("DescribeInstanceRefreshes", AutoScalingGroupName="web")
        )["InstanceRefreshes"]
        assert refresh["InstancesToUpdate"] == 0
        # Another account neither sees nor changes the pool.
        _, other = await world.tenant("other")
        await refused(other, "DescribeWarmPool", "ValidationError", AutoScalingGroupName="web")
        await refused(other, "DeleteWarmPool", "ValidationError", AutoScalingGroupName="web")
        await world.audit.flush()
        audit = [
            e.action for _, e in await world.audit_store.list_events(None, after_id=0, limit=999)
        ]
        assert "autoscaling:PutWarmPool" in audit


async def test_step_warm_up_does_not_add_again_what_is_warming(world: World) -> None:
    # One clock for both: an instance's launch time is compute's.
    clock = world.service.clock = world.compute.clock = Clock(datetime.now(UTC))
    await world.create_group(MinSize=0, MaxSize=10, DesiredCapacity=1)
    arn = (
        await world.root.call(
            "PutScalingPolicy", AutoScalingGroupName="web", PolicyName="steps",
            PolicyType="StepScaling", AdjustmentType="ChangeInCapacity",
            EstimatedInstanceWarmup=60,
            StepAdjustments=[
                {"MetricIntervalLowerBound": 0, "MetricIntervalUpperBound": 20,
                 "ScalingAdjustment": 1},
                {"MetricIntervalLowerBound": 20, "ScalingAdjustment": 3},
                {"MetricIntervalUpperBound": 0, "ScalingAdjustment": -1},
            ],
        )
    )["PolicyARN"]  # fmt: skip
    await rounds(world)
    clock.now += timedelta(seconds=61)  # the first instance is warm

    async def fire(value: float) -> int:
        await world.root.call("ExecutePolicy", PolicyName=arn, MetricValue=value,
                              BreachThreshold=50)  # fmt: skip
        return int((await shown_group(world))["DesiredCapacity"])  # type: ignore[call-overload]

    assert await fire(55) == 2  # 1 warm + 1
    await rounds(world)
    assert await fire(56) == 2  # the same step again: its instance is warming, not added again
    assert await fire(40) == 2  # no scale-in while an instance warms up
    assert await fire(75) == 4  # 1 warm + 3: only two more beyond the one warming
    await rounds(world)
    clock.now += timedelta(seconds=61)
    assert await fire(40) == 3  # all warm: scale-in again
    assert await fire(55) == 4


async def test_default_instance_warmup_stands_in_for_the_policys(world: World) -> None:
    clock = world.service.clock = world.compute.clock = Clock(datetime.now(UTC))
    await world.create_group(MinSize=0, MaxSize=10, DesiredCapacity=1, DefaultInstanceWarmup=0)
    assert (await shown_group(world))["DefaultInstanceWarmup"] == 0
    await world.root.call(
        "PutScalingPolicy", AutoScalingGroupName="web", PolicyName="steps",
        PolicyType="StepScaling", AdjustmentType="ChangeInCapacity",
        StepAdjustments=[{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}],
    )  # fmt: skip
    await rounds(world)
    clock.now += timedelta(seconds=1)
    for expected in (2, 2):  # the new instance is not launched yet: the second adds nothing
        await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="steps",
                              MetricValue=60, BreachThreshold=50)  # fmt: skip
        assert int((await shown_group(world))["DesiredCapacity"]) == expected  # type: ignore[call-overload]
    await rounds(world)
    clock.now += timedelta(seconds=1)
    await world.root.call("ExecutePolicy", AutoScalingGroupName="web", PolicyName="steps",
                          MetricValue=60, BreachThreshold=50)  # fmt: skip
    assert int((await shown_group(world))["DesiredCapacity"]) == 3  # type: ignore[call-overload]
    # -1 removes it: the DefaultCooldown (300 s) stands in, the new one is warming.
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web",
                          DefaultInstanceWarmup=-1)  # fmt: skip
    assert "DefaultInstanceWarmup" not in await shown_group(world)
