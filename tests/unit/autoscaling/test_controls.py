"""Decision 0182's controls over the Query API and the reconciler on the memory hypervisor:
instance protection from scale-in, Standby, AttachInstances/DetachInstances, suspended
processes (the reconciler's, and the alarms' policy invocations) and metrics collection."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from andromede.autoscaling import policies
from andromede.autoscaling.model import Group
from andromede.compute.launch_request import RunRequest
from andromede.compute.model import Instance, InstanceState
from support.autoscalingapp import Clock, World, refused


async def members(world: World, name: str = "web") -> list[Instance]:
    return [
        i
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == name and i.state is not InstanceState.TERMINATED
    ]


async def shown(world: World) -> dict[str, Any]:
    groups = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return dict(groups[0])


async def states(world: World) -> dict[str, str]:
    found = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    return {i["InstanceId"]: i["LifecycleState"] for i in found}


async def causes(world: World) -> list[str]:
    found = (await world.root.call("DescribeScalingActivities"))["Activities"]
    return [a["Cause"] for a in found]


async def test_protected_instances_are_never_scaled_in(world: World) -> None:
    await world.create_group(MaxSize=4, DesiredCapacity=3)
    await world.converge()
    # The two oldest: the ones the termination policy would take first.
    ordered = sorted(await members(world), key=lambda i: (i.launch_time, i.instance_id))
    kept = [i.instance_id for i in ordered[:2]]
    await world.root.call(
        "SetInstanceProtection",
        AutoScalingGroupName="web",
        InstanceIds=kept,
        ProtectedFromScaleIn=True,
    )
    instances = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    assert {i["InstanceId"]: i["ProtectedFromScaleIn"] for i in instances} == {
        i.instance_id: i.instance_id in kept for i in ordered
    }
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=0)
    await world.converge()
    await world.converge()
    # Only the unprotected one went; the group stays above its desired capacity, as on AWS.
    assert sorted(i.instance_id for i in await members(world)) == sorted(kept)
    group = await shown(world)
    assert all(i["ProtectedFromScaleIn"] for i in group["Instances"])
    # Protection lifted: scaled in.
    await world.root.call(
        "SetInstanceProtection",
        AutoScalingGroupName="web",
        InstanceIds=kept[:1],
        ProtectedFromScaleIn=False,
    )
    await world.converge()
    assert [i.instance_id for i in await members(world)] == kept[1:]
    await refused(
        world.root,
        "SetInstanceProtection",
        "ValidationError",
        AutoScalingGroupName="web",
        InstanceIds=["i-0123456789abcdef0"],
        ProtectedFromScaleIn=True,
    )


async def test_new_instances_protected_from_scale_in(world: World) -> None:
    await world.create_group(MaxSize=4, DesiredCapacity=2, NewInstancesProtectedFromScaleIn=True)
    await world.converge()
    group = await shown(world)
    assert group["NewInstancesProtectedFromScaleIn"] is True
    assert [i["ProtectedFromScaleIn"] for i in group["Instances"]] == [True, True]
    await world.root.call(
        "UpdateAutoScalingGroup",
        AutoScalingGroupName="web",
        NewInstancesProtectedFromScaleIn=False,
        DesiredCapacity=3,
    )
    await world.converge()
    group = await shown(world)
    assert group["NewInstancesProtectedFromScaleIn"] is False
    assert sorted(i["ProtectedFromScaleIn"] for i in group["Instances"]) == [False, True, True]
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=0)
    await world.converge()
    assert len(await members(world)) == 2


async def test_standby_is_not_counted_nor_replaced(world: World) -> None:
    await world.create_group(MinSize=1, MaxSize=4, DesiredCapacity=2)
    await world.converge()
    first, second = sorted(i.instance_id for i in await members(world))
    done = await world.root.call(
        "EnterStandby",
        AutoScalingGroupName="web",
        InstanceIds=[first],
        ShouldDecrementDesiredCapacity=False,
    )
    activity = done["Activities"][0]
    assert activity["Description"] == f"Moving EC2 instance to Standby: {first}"
    assert (
        f"instance {first} was moved to standby in response to a user request"
        in (activity["Cause"])
    )
    assert (await states(world))[first] == "Standby"
    # Not counted: a replacement is launched; the Standby one is left running.
    await world.converge()
    now = await members(world)
    assert len(now) == 3
    assert all(i.state is InstanceState.RUNNING for i in now)
    # Stopped while in Standby: not replaced either (no health check in Standby).
    await world.compute.stop_instances(world.tenant_id, [first], force=True)
    await world.compute.settle()
    await world.converge()
    assert len(await members(world)) == 3
    await world.compute.start_instances(world.tenant_id, [first])
    await world.compute.settle()
    # Back in service: the desired capacity goes up by one (AWS's rule).
    done = await world.root.call("ExitStandby", AutoScalingGroupName="web", InstanceIds=[first])
    assert "increasing the capacity from 2 to 3" in done["Activities"][0]["Cause"]
    group = await shown(world)
    assert group["DesiredCapacity"] == 3
    assert (await states(world))[first] == "InService"
    await refused(
        world.root, "ExitStandby", "ValidationError", AutoScalingGroupName="web",
        InstanceIds=[second],
    )  # fmt: skip
    # With decrement, below the minimum: refused, nothing moved.
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web", MinSize=3)
    error = await refused(
        world.root, "EnterStandby", "ValidationError", AutoScalingGroupName="web",
        InstanceIds=[second], ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert "min-size=3" in error.message
    assert set((await states(world)).values()) == {"InService"}
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web", MinSize=1)
    done = await world.root.call(
        "EnterStandby", AutoScalingGroupName="web", InstanceIds=[second],
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert "shrinking the capacity from 3 to 2" in done["Activities"][0]["Cause"]
    await world.converge()
    assert len(await members(world)) == 3  # two in service, one in Standby
    # Standby instances are not scaled in either.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge()
    remaining = await members(world)
    assert len(remaining) == 2 and second in {i.instance_id for i in remaining}


async def test_attach_and_detach(world: World) -> None:
    await world.create_group(
        MaxSize=2,
        DesiredCapacity=1,
        Tags=[
            {"Key": "team", "Value": "blue", "PropagateAtLaunch": True},
            {"Key": "cost", "Value": "42", "PropagateAtLaunch": False},
        ],
    )
    await world.converge()
    (launched,) = [i.instance_id for i in await members(world)]
    request = RunRequest(image_id=world.image.image_id, instance_type="t3.nano")
    outside = [i.instance_id for i in await world.compute.run_instances(world.tenant_id, request)]
    more = [i.instance_id for i in await world.compute.run_instances(world.tenant_id, request)]
    await world.compute.settle()
    await world.root.call("AttachInstances", AutoScalingGroupName="web", InstanceIds=outside)
    (joined,) = await world.compute.describe_instances(world.tenant_id, outside)
    assert joined.autoscaling_group == "web"
    assert dict(joined.tags) == {"team": "blue"}
    assert (await shown(world))["DesiredCapacity"] == 2
    assert any(f"existing EC2 instance {outside[0]} was attached" in c for c in await causes(world))
    # Above the maximum, in AWS's words; already a group's; unknown.
    error = await refused(
        world.root, "AttachInstances", "ValidationError", AutoScalingGroupName="web",
        InstanceIds=more,
    )  # fmt: skip
    assert error.message == (
        "AutoScalingGroup web has min-size=0, max-size=2, and desired-size=2. To attach 1 "
        "instance(s), please update the AutoScalingGroup sizes appropriately."
    )
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web", MaxSize=4)
    await refused(
        world.root, "AttachInstances", "ValidationError", AutoScalingGroupName="web",
        InstanceIds=[launched],
    )  # fmt: skip
    await refused(
        world.root, "AttachInstances", "ValidationError", AutoScalingGroupName="web",
        InstanceIds=["i-0123456789abcdef0"],
    )  # fmt: skip
    await world.converge()
    assert len(await members(world)) == 2  # the attached one counted: nothing launched
    # Detach with decrement: left running, no longer tagged as the group's.
    done = await world.root.call(
        "DetachInstances", AutoScalingGroupName="web", InstanceIds=outside,
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert done["Activities"][0]["Description"] == f"Detaching EC2 instance: {outside[0]}"
    assert "shrinking the capacity from 2 to 1" in done["Activities"][0]["Cause"]
    (left,) = await world.compute.describe_instances(world.tenant_id, outside)
    assert left.state is InstanceState.RUNNING and left.autoscaling_group is None
    assert "aws:autoscaling:groupName" not in dict(left.platform_tags)
    assert (await shown(world))["DesiredCapacity"] == 1
    # Without decrement: the reconciler replaces it.
    await world.root.call(
        "DetachInstances", AutoScalingGroupName="web", InstanceIds=[launched],
        ShouldDecrementDesiredCapacity=False,
    )  # fmt: skip
    await world.converge()
    now = await members(world)
    assert len(now) == 1 and now[0].instance_id != launched
    (kept,) = await world.compute.describe_instances(world.tenant_id, [launched])
    assert kept.state is InstanceState.RUNNING


async def test_suspended_processes(world: World) -> None:
    await world.create_group(MaxSize=4, DesiredCapacity=0)
    types = (await world.root.call("DescribeScalingProcessTypes"))["Processes"]
    assert {p["ProcessName"] for p in types} >= {"Launch", "Terminate", "AlarmNotification"}
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["Launch"]
    )
    suspended = (await shown(world))["SuspendedProcesses"]
    assert [p["ProcessName"] for p in suspended] == ["Launch"]
    assert suspended[0]["SuspensionReason"].startswith("User suspended at ")
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    await world.converge()
    assert await members(world) == []  # Launch suspended: nothing launched
    await world.root.call(
        "ResumeProcesses", AutoScalingGroupName="web", ScalingProcesses=["Launch"]
    )
    await world.converge()
    assert len(await members(world)) == 2
    # Terminate suspended: no scale-in, and a stopped instance is not replaced.
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["Terminate"]
    )
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge()
    assert len(await members(world)) == 2
    await world.root.call("ResumeProcesses", AutoScalingGroupName="web")  # all of them
    assert (await shown(world))["SuspendedProcesses"] == []
    await world.converge()
    assert len(await members(world)) == 1
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["ReplaceUnhealthy"]
    )
    (only,) = [i.instance_id for i in await members(world)]
    await world.compute.stop_instances(world.tenant_id, [only], force=True)
    await world.compute.settle()
    await world.converge()
    assert [i.instance_id for i in await members(world)] == [only]
    await refused(
        world.root, "SuspendProcesses", "ValidationError", AutoScalingGroupName="web",
        ScalingProcesses=["Nap"],
    )  # fmt: skip


async def test_alarm_notification_suspended_drops_the_policy(world: World) -> None:
    await world.create_group(MaxSize=4, DesiredCapacity=1)
    arn = (
        await world.root.call(
            "PutScalingPolicy",
            AutoScalingGroupName="web",
            PolicyName="up",
            AdjustmentType="ChangeInCapacity",
            ScalingAdjustment=2,
        )
    )["PolicyARN"]
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["AlarmNotification"]
    )
    assert await policies.invoke(world.service, world.tenant_id, arn, "hot", 90.0, 80.0)
    assert (await shown(world))["DesiredCapacity"] == 1
    await world.root.call("ResumeProcesses", AutoScalingGroupName="web")
    assert await policies.invoke(world.service, world.tenant_id, arn, "hot", 90.0, 80.0)
    assert (await shown(world))["DesiredCapacity"] == 3


async def test_metrics_collection(world: World) -> None:
    await world.create_group()
    assert (await shown(world))["EnabledMetrics"] == []
    await refused(
        world.root, "EnableMetricsCollection", "ValidationError", AutoScalingGroupName="web",
        Granularity="5Minute",
    )  # fmt: skip
    await refused(
        world.root, "EnableMetricsCollection", "ValidationError", AutoScalingGroupName="web",
        Granularity="1Minute", Metrics=["GroupHappiness"],
    )  # fmt: skip
    await world.root.call(
        "EnableMetricsCollection", AutoScalingGroupName="web", Granularity="1Minute"
    )
    enabled = (await shown(world))["EnabledMetrics"]
    assert {m["Granularity"] for m in enabled} == {"1Minute"}
    assert "GroupStandbyInstances" in {m["Metric"] for m in enabled}
    await world.root.call(
        "DisableMetricsCollection", AutoScalingGroupName="web", Metrics=["GroupMinSize"]
    )
    enabled = (await shown(world))["EnabledMetrics"]
    assert "GroupMinSize" not in {m["Metric"] for m in enabled} and len(enabled) == 7
    await world.root.call("DisableMetricsCollection", AutoScalingGroupName="web")
    assert (await shown(world))["EnabledMetrics"] == []


def test_documents_from_before_take_the_defaults() -> None:
    group = Group.from_document(
        json.dumps(
            {
                "tenant_id": "t",
                "name": "web",
                "group_id": "g",
                "template_id": "lt",
                "template_name": "web",
                "template_version": "$Latest",
                "min_size": 0,
                "max_size": 1,
                "desired_capacity": 0,
                "subnets": [],
                "created_at": "2026-01-01T00:00:00+00:00",
                "tags": [],
            }
        ),
        3,
    )
    assert (group.protected, group.standby, group.suspended, group.enabled_metrics) == (
        (), (), (), ()
    )  # fmt: skip
    assert not group.new_instances_protected
    suspended = Group.from_document(replace(group, suspended=(("Launch", "why"),)).document(), 4)
    assert suspended.suspends("Launch") and not suspended.suspends("Terminate")


async def test_scheduled_actions_due_while_suspended_are_skipped(world: World) -> None:
    clock = world.service.clock = Clock(datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC))
    await world.create_group(MaxSize=4, DesiredCapacity=0)
    start = clock.now + timedelta(minutes=5)
    for name, recurrence in (("once", None), ("daily", "0 13 * * *")):
        await world.root.call(
            "PutScheduledUpdateGroupAction",
            AutoScalingGroupName="web",
            ScheduledActionName=name,
            DesiredCapacity=2,
            **({"StartTime": start} if recurrence is None else {"Recurrence": recurrence}),
        )
    await world.root.call(
        "SuspendProcesses", AutoScalingGroupName="web", ScalingProcesses=["ScheduledActions"]
    )
    clock.now += timedelta(hours=1)
    await world.converge()
    await world.root.call("ResumeProcesses", AutoScalingGroupName="web")
    await world.converge()
    # Neither ran, during nor after the suspension; the recurring one waits for tomorrow.
    assert (await shown(world))["DesiredCapacity"] == 0 and await members(world) == []
    left = (await world.root.call("DescribeScheduledActions"))["ScheduledUpdateGroupActions"]
    assert [(a["ScheduledActionName"], a["StartTime"]) for a in left] == [
        ("daily", datetime(2026, 12, 6, 13, 0, tzinfo=UTC))
    ]


async def test_the_moment_between_the_capacity_and_the_tag(world: World) -> None:
    """Attach/detach write the capacity with their marks before compute's tag moves: the
    reconciler running in between neither scales in nor launches for them."""
    await world.create_group(MaxSize=4, DesiredCapacity=2)
    await world.converge()
    first, second = sorted(i.instance_id for i in await members(world))
    request = RunRequest(image_id=world.image.image_id, instance_type="t3.nano")
    [outside] = [i.instance_id for i in await world.compute.run_instances(world.tenant_id, request)]
    await world.compute.settle()

    def detaching(group: Group) -> Group:
        return replace(group, desired_capacity=1, detaching=(first,))

    await world.service.mutate(world.tenant_id, "web", detaching)
    await world.converge()
    assert sorted(i.instance_id for i in await members(world)) == [first, second]

    def attaching(group: Group) -> Group:
        return replace(group, desired_capacity=3, detaching=(), attaching=(outside,))

    await world.service.mutate(world.tenant_id, "web", attaching)
    await world.converge()
    # Counted though not yet tagged: nothing launched; and the three kept.
    assert sorted(i.instance_id for i in await members(world)) == [first, second]
    await world.compute.set_autoscaling_group(world.tenant_id, outside, "web")
    await world.converge()
    assert len(await members(world)) == 3


async def test_instance_refresh_and_protected_or_standby_instances(world: World) -> None:
    await world.create_group(MaxSize=4, DesiredCapacity=2)
    await world.converge()
    first, second = sorted(i.instance_id for i in await members(world))
    await world.root.call(
        "SetInstanceProtection", AutoScalingGroupName="web", InstanceIds=[first],
        ProtectedFromScaleIn=True,
    )  # fmt: skip

    async def started(**preferences: Any) -> dict[str, Any]:
        await world.root.call(
            "StartInstanceRefresh", AutoScalingGroupName="web", Preferences=preferences
        )
        found = await world.root.call("DescribeInstanceRefreshes", AutoScalingGroupName="web")
        await world.root.call("CancelInstanceRefresh", AutoScalingGroupName="web")
        return dict(found["InstanceRefreshes"][0])

    # Protected instances are replaced unless ScaleInProtectedInstances is Ignore.
    refresh = await started()
    assert refresh["InstancesToUpdate"] == 2
    assert refresh["Preferences"]["ScaleInProtectedInstances"] == "Refresh"
    refresh = await started(ScaleInProtectedInstances="Ignore")
    assert refresh["InstancesToUpdate"] == 1
    # Standby ones are left out.
    await world.root.call(
        "EnterStandby", AutoScalingGroupName="web", InstanceIds=[second],
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    refresh = await started()
    assert refresh["InstancesToUpdate"] == 1
    assert refresh["Preferences"]["StandbyInstances"] == "Ignore"
    for preferences in ({"ScaleInProtectedInstances": "Wait"}, {"StandbyInstances": "Terminate"}):
        await refused(
            world.root, "StartInstanceRefresh", "ValidationError", AutoScalingGroupName="web",
            Preferences=preferences,
        )  # fmt: skip
