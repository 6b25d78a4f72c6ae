"""Scheduled actions (decision 0159) through botocore's ``autoscaling`` model in process and
the reconciler on the memory hypervisor: put, describe, fire once (one-time and recurring,
whichever gateway holds the group), delete, the batch calls, the refusals with AWS's codes,
the quota as a setting, and isolation between accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from support.autoscalingapp import Clock, World, autoscaling_world, refused


async def group(world: World, **params: Any) -> Clock:
    clock = world.service.clock = Clock(datetime(2026, 12, 5, 12, 0, 30, tzinfo=UTC))
    await world.create_group(**{"MaxSize": 6, **params})
    return clock


async def sizes(world: World) -> tuple[int, int, int]:
    [shown] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return shown["MinSize"], shown["MaxSize"], shown["DesiredCapacity"]


async def scheduled(world: World) -> list[dict[str, Any]]:
    answer = await world.root.call("DescribeScheduledActions", AutoScalingGroupName="web")
    return list(answer["ScheduledUpdateGroupActions"])


async def fired(world: World) -> list[str]:
    answer = await world.root.call("DescribeScalingActivities", AutoScalingGroupName="web")
    return [
        a["Description"]
        for a in answer["Activities"]
        if a["Description"].startswith("Executing scheduled action")
    ]


async def test_a_one_time_action_fires_once_then_is_gone(world: World) -> None:
    clock = await group(world, DesiredCapacity=1)
    start = clock.now + timedelta(minutes=5)
    await world.root.call(
        "PutScheduledUpdateGroupAction",
        AutoScalingGroupName="web",
        ScheduledActionName="morning",
        StartTime=start,
        MinSize=2,
        MaxSize=5,
        DesiredCapacity=3,
    )
    [action] = await scheduled(world)
    assert action["ScheduledActionARN"].startswith("arn:aws:autoscaling:eu-fr-1:")
    assert action["ScheduledActionARN"].endswith(
        ":autoScalingGroupName/web:scheduledActionName/morning"
    )
    assert (action["StartTime"], action["MinSize"], action["DesiredCapacity"]) == (start, 2, 3)
    await world.converge()
    assert await sizes(world) == (0, 6, 1) and await fired(world) == []
    clock.now = start + timedelta(seconds=1)
    await world.converge()
    assert await sizes(world) == (2, 5, 3)
    assert await fired(world) == ["Executing scheduled action morning"]
    assert await scheduled(world) == []
    # The same round launched what the new desired capacity asks.
    [shown] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    assert len(shown["Instances"]) == 3
    # Another gateway, and later rounds: nothing fires again.
    clock.now += timedelta(minutes=5)
    await world.converge("gw-2")
    await world.converge()
    assert await fired(world) == ["Executing scheduled action morning"]
    [activity] = [
        a
        for a in (await world.root.call("DescribeScalingActivities"))["Activities"]
        if a["Description"].startswith("Executing")
    ]
    assert "constraints to min: 2, max: 5, desired: 3" in activity["Cause"]
    assert "changing the desired capacity from 1 to 3" in activity["Cause"]


async def test_a_recurring_action_in_a_time_zone_fires_at_each_occurrence(world: World) -> None:
    clock = await group(world)
    await world.root.call(
        "PutScheduledUpdateGroupAction",
        AutoScalingGroupName="web",
        ScheduledActionName="office-hours",
        Recurrence="0 9 * * *",
        TimeZone="Europe/Paris",
        DesiredCapacity=2,
    )
    [action] = await scheduled(world)
    # 09:00 in Paris on 6 December is 08:00 UTC.
    first = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    assert (action["Recurrence"], action["TimeZone"], action["StartTime"]) == (
        "0 9 * * *",
        "Europe/Paris",
        first,
    )
    clock.now = first + timedelta(seconds=20)
    # Two gateways in the same moment: the lease holder fires, the other skips the group.
    await world.converge("gw-1")
    await world.converge("gw-2")
    assert await fired(world) == ["Executing scheduled action office-hours"]
    assert (await sizes(world))[2] == 2
    [action] = await scheduled(world)
    assert action["Time"] == first + timedelta(days=1)
    # Someone scales in; the next morning the action scales out again.
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=0)
    clock.now = first + timedelta(days=1, minutes=1)
    await world.converge("gw-1")
    assert (await sizes(world))[2] == 2
    assert len(await fired(world)) == 2


async def test_an_action_past_its_end_time_is_spent(world: World) -> None:
    clock = await group(world)
    await world.root.call(
        "PutScheduledUpdateGroupAction",
        AutoScalingGroupName="web",
        ScheduledActionName="short",
        Recurrence="*/10 * * * *",
        EndTime=clock.now + timedelta(minutes=15),
        DesiredCapacity=1,
    )
    clock.now += timedelta(minutes=10)
    await world.converge()
    assert len(await fired(world)) == 1
    assert await scheduled(world) == []  # its next occurrence, 12:20, is past its end


async def test_batch_put_and_delete_report_their_failures(world: World) -> None:
    clock = await group(world)
    later = clock.now + timedelta(hours=1)
    answer = await world.root.call(
        "BatchPutScheduledUpdateGroupAction",
        AutoScalingGroupName="web",
        ScheduledUpdateGroupActions=[
            {"ScheduledActionName": "a", "StartTime": later, "DesiredCapacity": 1},
            {"ScheduledActionName": "b", "Recurrence": "not cron", "DesiredCapacity": 1},
            {"ScheduledActionName": "c", "Recurrence": "0 * * * *", "MaxSize": 3},
        ],
    )
    [failure] = answer["FailedScheduledUpdateGroupActions"]
    assert (failure["ScheduledActionName"], failure["ErrorCode"]) == ("b", "ValidationError")
    assert sorted(a["ScheduledActionName"] for a in await scheduled(world)) == ["a", "c"]
    answer = await world.root.call(
        "BatchDeleteScheduledAction", AutoScalingGroupName="web", ScheduledActionNames=["a", "z"]
    )
    assert [f["ScheduledActionName"] for f in answer["FailedScheduledActions"]] == ["z"]
    await world.root.call(
        "DeleteScheduledAction", AutoScalingGroupName="web", ScheduledActionName="c"
    )
    assert await scheduled(world) == []
    await refused(
        world.root, "DeleteScheduledAction", "ValidationError",
        AutoScalingGroupName="web", ScheduledActionName="c",
    )  # fmt: skip


async def test_refusals(world: World) -> None:
    clock = await group(world)
    base = {"AutoScalingGroupName": "web", "ScheduledActionName": "x"}
    for params in (
        {"DesiredCapacity": 1},  # neither a start nor a recurrence
        {"StartTime": clock.now - timedelta(hours=1), "DesiredCapacity": 1},
        {"StartTime": clock.now + timedelta(hours=1)},  # no size
        {"Recurrence": "0 25 * * *", "DesiredCapacity": 1},
        {"Recurrence": "0 1 * * *", "TimeZone": "Nowhere/Town", "DesiredCapacity": 1},
        {
            "StartTime": clock.now + timedelta(hours=1),
            "TimeZone": "Nowhere/Town",
            "DesiredCapacity": 1,
        },
        {"StartTime": clock.now + timedelta(hours=1), "MinSize": 5, "MaxSize": 2},
        {"Recurrence": "0 1 * * *", "EndTime": clock.now - timedelta(hours=1), "MinSize": 1},
    ):
        await refused(world.root, "PutScheduledUpdateGroupAction", "ValidationError",
                      **base, **params)  # fmt: skip
    await refused(
        world.root, "PutScheduledUpdateGroupAction", "ValidationError",
        AutoScalingGroupName="nope", ScheduledActionName="x", Recurrence="0 1 * * *", MinSize=1,
    )  # fmt: skip
    await refused(
        world.root, "DescribeScheduledActions", "ValidationError", AutoScalingGroupName="nope"
    )
    assert await scheduled(world) == []


async def test_the_quota_is_a_setting(tmp_path: Path) -> None:
    async with autoscaling_world(tmp_path, max_scheduled_actions_per_autoscaling_group=2) as world:
        await group(world)
        for name in ("a", "b"):
            await world.root.call(
                "PutScheduledUpdateGroupAction", AutoScalingGroupName="web",
                ScheduledActionName=name, Recurrence="0 1 * * *", MinSize=1,
            )  # fmt: skip
        await refused(
            world.root, "PutScheduledUpdateGroupAction", "LimitExceeded",
            AutoScalingGroupName="web", ScheduledActionName="c", Recurrence="0 1 * * *", MinSize=1,
        )  # fmt: skip
        # Replacing an action of the group is not a new one.
        await world.root.call(
            "PutScheduledUpdateGroupAction", AutoScalingGroupName="web",
            ScheduledActionName="b", Recurrence="0 2 * * *", MinSize=1,
        )  # fmt: skip
        assert len(await scheduled(world)) == 2


async def test_another_account_neither_sees_nor_changes_the_actions(world: World) -> None:
    clock = await group(world)
    await world.root.call(
        "PutScheduledUpdateGroupAction", AutoScalingGroupName="web",
        ScheduledActionName="a", StartTime=clock.now + timedelta(hours=1), DesiredCapacity=2,
    )  # fmt: skip
    _, other = await world.tenant("other")
    answer = await other.call("DescribeScheduledActions")
    assert answer["ScheduledUpdateGroupActions"] == []
    await refused(other, "DescribeScheduledActions", "ValidationError", AutoScalingGroupName="web")
    await refused(
        other, "PutScheduledUpdateGroupAction", "ValidationError",
        AutoScalingGroupName="web", ScheduledActionName="a", Recurrence="0 1 * * *", MinSize=3,
    )  # fmt: skip
    await refused(
        other, "DeleteScheduledAction", "ValidationError",
        AutoScalingGroupName="web", ScheduledActionName="a",
    )  # fmt: skip
    await refused(
        other, "BatchDeleteScheduledAction", "ValidationError",
        AutoScalingGroupName="web", ScheduledActionNames=["a"],
    )  # fmt: skip
    await refused(
        other, "BatchPutScheduledUpdateGroupAction", "ValidationError",
        AutoScalingGroupName="web",
        ScheduledUpdateGroupActions=[{"ScheduledActionName": "a", "MinSize": 3,
                                      "Recurrence": "0 1 * * *"}],
    )  # fmt: skip
    [action] = await scheduled(world)
    assert (action["ScheduledActionName"], action["DesiredCapacity"]) == ("a", 2)


async def test_an_action_out_of_the_groups_bounds_fails_and_changes_nothing(world: World) -> None:
    clock = await group(world)
    await world.root.call(
        "PutScheduledUpdateGroupAction", AutoScalingGroupName="web",
        ScheduledActionName="big", StartTime=clock.now + timedelta(minutes=1), MinSize=5,
    )  # fmt: skip
    await world.root.call("UpdateAutoScalingGroup", AutoScalingGroupName="web", MaxSize=3)
    clock.now += timedelta(minutes=2)
    await world.converge()
    assert await sizes(world) == (0, 3, 0)
    [activity] = (await world.root.call("DescribeScalingActivities"))["Activities"]
    assert (activity["Description"], activity["StatusCode"]) == (
        "Executing scheduled action big",
        "Failed",
    )
    assert "min 5 and max 3" in activity["StatusMessage"]
    assert await scheduled(world) == []
