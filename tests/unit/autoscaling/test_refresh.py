"""Instance refresh (decision 0159) through botocore's ``autoscaling`` model in process and the
reconciler on the memory hypervisor: a group's instances replaced in batches that keep
MinHealthyPercentage in service, onto the launch template's new version; SkipMatching; one
refresh at a time; cancellation; isolation between accounts."""

from __future__ import annotations

from typing import Any

from andromede.compute.model import InstanceState
from support.autoscalingapp import World, refused


async def group(world: World, desired: int) -> str:
    template = await world.create_group(MaxSize=6, DesiredCapacity=desired)
    await world.converge()
    return template


async def new_version(world: World, template: str) -> None:
    await world.compute.create_launch_template_version(
        world.tenant_id,
        template,
        parameters=(("ImageId", world.image.image_id), ("InstanceType", "t3.small")),
        created_by="test",
    )


async def versions(world: World) -> list[int | None]:
    return sorted(
        i.launch_template_version
        for i in await world.compute.describe_instances(world.tenant_id, [])
        if i.autoscaling_group == "web"
        and i.state in (InstanceState.PENDING, InstanceState.RUNNING)
    )


async def refreshes(world: World) -> list[dict[str, Any]]:
    answer = await world.root.call("DescribeInstanceRefreshes", AutoScalingGroupName="web")
    return list(answer["InstanceRefreshes"])


async def test_a_refresh_replaces_in_batches_keeping_the_healthy_minimum(world: World) -> None:
    template = await group(world, 4)
    await new_version(world, template)
    started = await world.root.call(
        "StartInstanceRefresh",
        AutoScalingGroupName="web",
        Preferences={"MinHealthyPercentage": 50, "InstanceWarmup": 0},
    )
    [refresh] = await refreshes(world)
    assert refresh["InstanceRefreshId"] == started["InstanceRefreshId"]
    assert (refresh["Status"], refresh["InstancesToUpdate"]) == ("InProgress", 4)
    assert refresh["Preferences"]["MinHealthyPercentage"] == 50
    await refused(world.root, "StartInstanceRefresh", "InstanceRefreshInProgress",
                  AutoScalingGroupName="web")  # fmt: skip
    seen = []
    for _ in range(12):
        await world.converge()
        seen.append(await versions(world))
        if (await refreshes(world))[0]["Status"] != "InProgress":
            break
    # Never fewer than half of the four in service: batches of two.
    assert all(len(v) >= 2 for v in seen), seen
    assert [2, 2] in seen
    assert await versions(world) == [2, 2, 2, 2]
    [refresh] = await refreshes(world)
    assert (refresh["Status"], refresh["PercentageComplete"]) == ("Successful", 100)
    assert "EndTime" in refresh
    activities = (await world.root.call("DescribeScalingActivities"))["Activities"]
    assert sum("instance refresh" in a["Cause"] for a in activities) == 4


async def test_skip_matching_leaves_the_instances_on_the_version(world: World) -> None:
    await group(world, 2)
    await world.root.call(
        "StartInstanceRefresh",
        AutoScalingGroupName="web",
        Preferences={"SkipMatching": True, "InstanceWarmup": 0},
    )
    before = await versions(world)
    await world.converge()
    [refresh] = await refreshes(world)
    assert (refresh["Status"], refresh["InstancesToUpdate"]) == ("Successful", 0)
    assert await versions(world) == before == [1, 1]


async def test_a_refresh_is_cancelled(world: World) -> None:
    template = await group(world, 2)
    await new_version(world, template)
    await world.root.call("StartInstanceRefresh", AutoScalingGroupName="web")
    cancelled = await world.root.call("CancelInstanceRefresh", AutoScalingGroupName="web")
    [refresh] = await refreshes(world)
    assert refresh["InstanceRefreshId"] == cancelled["InstanceRefreshId"]
    assert refresh["Status"] == "Cancelled"
    await world.converge()
    assert await versions(world) == [1, 1]
    await refused(world.root, "CancelInstanceRefresh", "ActiveInstanceRefreshNotFound",
                  AutoScalingGroupName="web")  # fmt: skip
    # A new one may start; the history lists the newest first.
    await world.root.call("StartInstanceRefresh", AutoScalingGroupName="web")
    assert [r["Status"] for r in await refreshes(world)] == ["InProgress", "Cancelled"]


async def test_refusals(world: World) -> None:
    await group(world, 0)
    for params in (
        {"Preferences": {"MinHealthyPercentage": 101}},
        {"Strategy": "Rolling", "Preferences": {"MaxHealthyPercentage": 150}},
        {"DesiredConfiguration": {"LaunchTemplate": {"LaunchTemplateName": "x"}}},
    ):
        await refused(world.root, "StartInstanceRefresh", "ValidationError",
                      AutoScalingGroupName="web", **params)  # fmt: skip
    await refused(world.root, "StartInstanceRefresh", "ValidationError",
                  AutoScalingGroupName="nope")  # fmt: skip
    await refused(world.root, "DescribeInstanceRefreshes", "ValidationError",
                  AutoScalingGroupName="nope")  # fmt: skip


async def test_another_account_neither_sees_nor_starts_a_refresh(world: World) -> None:
    await group(world, 1)
    await world.root.call("StartInstanceRefresh", AutoScalingGroupName="web")
    _, other = await world.tenant("other")
    for operation in ("DescribeInstanceRefreshes", "StartInstanceRefresh", "CancelInstanceRefresh"):
        await refused(other, operation, "ValidationError", AutoScalingGroupName="web")
    assert [r["Status"] for r in await refreshes(world)] == ["InProgress"]
