"""The Auto Scaling reconciler (decision 0156) over the compute service on the memory
hypervisor: scaling out across the group's subnets, scaling in (oldest launch template version,
then oldest instance), replacing an instance terminated or stopped outside the group (EC2 health
check), one gateway per group (a lease by conditional update), ForceDelete, and the activities
each action leaves (with their audit hook), as DescribeScalingActivities and
TerminateInstanceInAutoScalingGroup answer them."""

from __future__ import annotations

from typing import Any

import pytest

from andromede.autoscaling.model import Activity
from andromede.compute.model import InstanceState
from support.autoscalingapp import World
from support.ec2app import ApiError


async def group(world: World, **params: Any) -> str:
    return await world.create_group(**{"MaxSize": 6, **params})


async def described(world: World) -> dict[str, Any]:
    groups = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return dict(groups[0]) if groups else {}


async def running(world: World) -> list[Any]:
    return [
        i
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web" and i.state is not InstanceState.TERMINATED
    ]


async def test_scale_out_spreads_over_the_subnets_and_tags_the_instances(world: World) -> None:
    vpc = await world.compute.create_vpc(world.tenant_id, "10.8.0.0/16")
    a = await world.compute.create_subnet(world.tenant_id, vpc.vpc_id, "10.8.1.0/24")
    b = await world.compute.create_subnet(world.tenant_id, vpc.vpc_id, "10.8.2.0/24")
    heard: list[Activity] = []
    world.service.on_activity = heard.append
    template = await group(
        world,
        DesiredCapacity=3,
        VPCZoneIdentifier=f"{a.subnet_id},{b.subnet_id}",
        Tags=[
            {"Key": "team", "Value": "blue", "PropagateAtLaunch": True},
            {"Key": "cost", "Value": "42", "PropagateAtLaunch": False},
        ],
    )
    await world.converge()
    instances = await running(world)
    assert len(instances) == 3
    assert sorted(i.subnet_id for i in instances).count(a.subnet_id) == 2
    assert {i.subnet_id for i in instances} == {a.subnet_id, b.subnet_id}
    for instance in instances:
        assert ("aws:autoscaling:groupName", "web") in instance.platform_tags
        assert instance.launch_template_id == template
        assert dict(instance.tags) == {"team": "blue"}
    shown = await described(world)
    assert sorted(i["InstanceId"] for i in shown["Instances"]) == sorted(
        i.instance_id for i in instances
    )
    assert {i["LifecycleState"] for i in shown["Instances"]} <= {"Pending", "InService"}
    activities = (await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web"))[
        "Activities"
    ]
    assert len(activities) == 3 == len(heard)
    assert all(a["StatusCode"] == "Successful" for a in activities)
    assert all(a["Description"].startswith("Launching a new EC2 instance: i-") for a in activities)
    assert "increasing the capacity from 0 to 3" in activities[-1]["Cause"]
    # A second round finds the group converged: nothing more.
    await world.converge()
    assert len(await running(world)) == 3


async def test_scale_in_takes_the_oldest_template_version_first(world: World) -> None:
    template = await group(world, DesiredCapacity=2)
    await world.converge()
    first = {i.instance_id for i in await running(world)}
    await world.compute.create_launch_template_version(
        world.tenant_id,
        template,
        parameters=(("ImageId", world.image.image_id), ("InstanceType", "t3.micro")),
        created_by="test",
    )
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=4)
    await world.converge()
    newer = {i.instance_id for i in await running(world)} - first
    assert len(newer) == 2
    assert {i.launch_template_version for i in await running(world)} == {1, 2}
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    await world.converge()
    assert {i.instance_id for i in await running(world)} == newer
    latest = (await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web"))[
        "Activities"
    ][0]
    assert latest["Description"].startswith("Terminating EC2 instance: i-")
    assert "shrinking the capacity from 4 to 2" in latest["Cause"]


async def test_an_instance_terminated_or_stopped_outside_the_group_is_replaced(
    world: World,
) -> None:
    await group(world, MinSize=2, DesiredCapacity=2)
    await world.converge()
    gone, stopped = [i.instance_id for i in await running(world)]
    await world.compute.terminate_instances(world.tenant_id, [gone])
    await world.compute.stop_instances(world.tenant_id, [stopped], force=True)
    await world.compute.settle()
    await world.converge()
    now = await running(world)
    alive = [i for i in now if i.state in (InstanceState.PENDING, InstanceState.RUNNING)]
    assert len(alive) == 2
    assert gone not in {i.instance_id for i in now}
    assert stopped not in {i.instance_id for i in alive}
    causes = [
        a["Cause"] for a in (await world.root.call("DescribeScalingActivities"))["Activities"]
    ]
    assert any("status check failure" in c for c in causes)


async def test_one_gateway_converges_a_group_while_its_lease_runs(world: World) -> None:
    await group(world, DesiredCapacity=1)
    assert await world.reconciler("gw-1").run_once() == 1
    await world.compute.settle()
    # Another gateway, meanwhile: the group is gw-1's; nothing launched twice.
    assert await world.reconciler("gw-2").run_once() == 0
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    assert await world.reconciler("gw-2").run_once() == 0
    assert len(await running(world)) == 1
    assert await world.reconciler("gw-1").run_once() == 1
    await world.compute.settle()
    assert len(await running(world)) == 2
    stored = await world.service.store.get(world.tenant_id, "web")
    assert stored is not None and stored.claimed_by == "gw-1"


async def test_two_gateways_at_once_take_one_claim(world: World) -> None:
    import asyncio

    await group(world, DesiredCapacity=2)
    done = await asyncio.gather(
        world.reconciler("gw-1").run_once(), world.reconciler("gw-2").run_once()
    )
    await world.compute.settle()
    assert sorted(done) == [0, 1]
    assert len(await running(world)) == 2


async def test_terminate_in_group_with_and_without_decrement(world: World) -> None:
    await group(world, MinSize=1, DesiredCapacity=2)
    await world.converge()
    one, two = [i.instance_id for i in await running(world)]
    answer = await world.root.call(
        "TerminateInstanceInAutoScalingGroup", InstanceId=one, ShouldDecrementDesiredCapacity=True
    )
    assert answer["Activity"]["Description"] == f"Terminating EC2 instance: {one}"
    assert "shrinking the capacity from 2 to 1" in answer["Activity"]["Cause"]
    assert (await described(world))["DesiredCapacity"] == 1
    with pytest.raises(ApiError) as below_min:
        await world.root.call(
            "TerminateInstanceInAutoScalingGroup",
            InstanceId=two,
            ShouldDecrementDesiredCapacity=True,
        )
    assert below_min.value.code == "ValidationError"
    await world.root.call(
        "TerminateInstanceInAutoScalingGroup", InstanceId=two, ShouldDecrementDesiredCapacity=False
    )
    await world.compute.settle()
    await world.converge()
    left = await running(world)
    assert len(left) == 1 and left[0].instance_id not in (one, two)
    instances = (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    assert [i["InstanceId"] for i in instances] == [left[0].instance_id]
    assert instances[0]["AutoScalingGroupName"] == "web"


async def test_delete_needs_force_while_instances_run(world: World) -> None:
    await group(world, DesiredCapacity=2)
    await world.converge()
    with pytest.raises(ApiError) as in_use:
        await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web")
    assert in_use.value.code == "ResourceInUse"
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    assert (await described(world)).get("Status") == "Delete in progress"
    await world.converge()  # the reconciler terminates them
    assert len(await running(world)) == 0
    assert await described(world) != {}
    await world.converge()  # the instances are gone: the group goes
    assert await running(world) == []
    assert await described(world) == {}


async def test_a_template_the_fleet_cannot_launch_is_a_failed_activity(world: World) -> None:
    template, _ = await world.compute.create_launch_template(
        world.tenant_id,
        name="odd",
        parameters=(
            ("ImageId", world.image.image_id),
            ("InstanceType", "t3.nano"),
            ("IamInstanceProfile.Name", "role"),
        ),
        created_by="test",
    )
    await world.root.call(
        "CreateAutoScalingGroup",
        AutoScalingGroupName="web",
        LaunchTemplate={"LaunchTemplateId": template.template_id},
        MinSize=1,
        MaxSize=1,
    )
    reconciler = world.reconciler()
    await reconciler.run_once()
    assert await running(world) == []
    activity = (await world.root.call("DescribeScalingActivities"))["Activities"][0]
    assert activity["StatusCode"] == "Failed"
    assert "IamInstanceProfile.Name" in activity["StatusMessage"]
    # The next round backs off: no new failed activity at once.
    await reconciler.run_once()
    assert len((await world.root.call("DescribeScalingActivities"))["Activities"]) == 1


async def test_a_protected_instance_is_refused_before_the_capacity_moves(world: World) -> None:
    await group(world, DesiredCapacity=2)
    await world.converge()
    one = (await running(world))[0].instance_id
    await world.compute.set_instance_options(world.tenant_id, one, disable_api_termination=True)
    with pytest.raises(ApiError) as protected:
        await world.root.call(
            "TerminateInstanceInAutoScalingGroup",
            InstanceId=one,
            ShouldDecrementDesiredCapacity=True,
        )
    assert protected.value.code == "ValidationError"
    assert "termination protection" in protected.value.message
    assert (await described(world))["DesiredCapacity"] == 2
    # ForceDelete: the reconciler's termination of it fails, as an activity; the group stays.
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    await world.converge()
    assert [i.instance_id for i in await running(world)] == [one]
    failed = [
        a
        for a in (await world.root.call("DescribeScalingActivities"))["Activities"]
        if a["StatusCode"] == "Failed"
    ]
    assert failed and failed[0]["Description"] == f"Terminating EC2 instance: {one}"
