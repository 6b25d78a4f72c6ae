"""Lifecycle hooks (decision 0159) through botocore's ``autoscaling`` model in process and the
reconciler on the memory hypervisor: an instance held in Pending:Wait until its launch action
is continued (or abandoned: terminated and replaced), in Terminating:Wait until its
termination action completes or its heartbeat timeout applies the default result, the
refusals, the quota as a setting, isolation between accounts, and (decision 0188) the
launch hooks of an instance leaving Standby or attached."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from andromede.autoscaling_adapters import TopicNotifier
from andromede.compute.launch_request import RunRequest
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService
from support.autoscalingapp import Clock, World, autoscaling_world, refused

LAUNCHING = "autoscaling:EC2_INSTANCE_LAUNCHING"
TERMINATING = "autoscaling:EC2_INSTANCE_TERMINATING"


async def group(world: World, **params: Any) -> Clock:
    clock = world.service.clock = Clock(datetime.now(UTC))
    await world.create_group(**params)
    return clock


async def hook(world: World, name: str, transition: str, **params: Any) -> None:
    await world.root.call(
        "PutLifecycleHook",
        AutoScalingGroupName="web",
        LifecycleHookName=name,
        LifecycleTransition=transition,
        **params,
    )


async def states(world: World) -> dict[str, str]:
    [shown] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    return {i["InstanceId"]: i["LifecycleState"] for i in shown["Instances"]}


async def test_hooks_are_described_and_deleted(world: World) -> None:
    await group(world)
    types = await world.root.call("DescribeLifecycleHookTypes")
    assert sorted(types["LifecycleHookTypes"]) == [LAUNCHING, TERMINATING]
    await hook(world, "warm", LAUNCHING, HeartbeatTimeout=120, DefaultResult="CONTINUE",
               NotificationMetadata="hello")  # fmt: skip
    await hook(world, "drain", TERMINATING)
    hooks = (await world.root.call("DescribeLifecycleHooks", AutoScalingGroupName="web"))[
        "LifecycleHooks"
    ]
    assert [
        (h["LifecycleHookName"], h["LifecycleTransition"], h["HeartbeatTimeout"],
         h["GlobalTimeout"], h["DefaultResult"], h.get("NotificationMetadata"))
        for h in hooks
    ] == [
        ("drain", TERMINATING, 3600, 172800, "ABANDON", None),
        ("warm", LAUNCHING, 120, 12000, "CONTINUE", "hello"),
    ]  # fmt: skip
    # Put again changes what it names, keeps the rest.
    await world.root.call(
        "PutLifecycleHook", AutoScalingGroupName="web", LifecycleHookName="warm",
        HeartbeatTimeout=300,
    )  # fmt: skip
    hooks = (
        await world.root.call(
            "DescribeLifecycleHooks", AutoScalingGroupName="web", LifecycleHookNames=["warm"]
        )
    )["LifecycleHooks"]
    assert [(h["HeartbeatTimeout"], h["DefaultResult"]) for h in hooks] == [(300, "CONTINUE")]
    await world.root.call(
        "DeleteLifecycleHook", AutoScalingGroupName="web", LifecycleHookName="warm"
    )
    await refused(world.root, "DeleteLifecycleHook", "ValidationError",
                  AutoScalingGroupName="web", LifecycleHookName="warm")  # fmt: skip
    hooks = (await world.root.call("DescribeLifecycleHooks", AutoScalingGroupName="web"))[
        "LifecycleHooks"
    ]
    assert [h["LifecycleHookName"] for h in hooks] == ["drain"]


async def test_a_launch_waits_until_continued(world: World) -> None:
    await group(world)
    await hook(world, "warm", LAUNCHING)
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge()
    [(instance, state)] = (await states(world)).items()
    assert state == "Pending:Wait"
    await world.converge()  # still waiting, and no second launch
    assert await states(world) == {instance: "Pending:Wait"}
    await world.root.call(
        "RecordLifecycleActionHeartbeat", AutoScalingGroupName="web", LifecycleHookName="warm",
        InstanceId=instance,
    )  # fmt: skip
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="warm",
        InstanceId=instance, LifecycleActionResult="CONTINUE",
    )  # fmt: skip
    assert await states(world) == {instance: "Pending:Proceed"}
    await world.converge()
    assert await states(world) == {instance: "InService"}
    # Nothing is waiting any more.
    await refused(
        world.root, "CompleteLifecycleAction", "ValidationError", AutoScalingGroupName="web",
        LifecycleHookName="warm", InstanceId=instance, LifecycleActionResult="CONTINUE",
    )  # fmt: skip


async def test_an_abandoned_launch_is_terminated_and_replaced(world: World) -> None:
    await group(world, DesiredCapacity=1)
    await hook(world, "warm", LAUNCHING)
    await world.converge()
    [first] = await states(world)
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="warm",
        InstanceId=first, LifecycleActionResult="ABANDON",
    )  # fmt: skip
    await world.converge()
    await world.converge()
    shown = await states(world)
    assert first not in shown
    assert list(shown.values()) == ["Pending:Wait"]
    activities = (await world.root.call("DescribeScalingActivities"))["Activities"]
    assert any(
        a["Description"] == f"Terminating EC2 instance: {first}" and "abandoned" in a["Cause"]
        for a in activities
    )


async def test_a_termination_waits_then_times_out_to_its_default(world: World) -> None:
    clock = await group(world, DesiredCapacity=1)
    await world.converge()
    [instance] = await states(world)
    await hook(world, "drain", TERMINATING, HeartbeatTimeout=60, DefaultResult="CONTINUE")
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=0)
    await world.converge()
    assert await states(world) == {instance: "Terminating:Wait"}
    clock.now += timedelta(seconds=45)
    await world.root.call(
        "RecordLifecycleActionHeartbeat", AutoScalingGroupName="web", LifecycleHookName="drain",
        InstanceId=instance,
    )  # fmt: skip
    clock.now += timedelta(seconds=45)  # 90 s after the start, 45 after the heartbeat
    await world.converge()
    assert await states(world) == {instance: "Terminating:Wait"}
    clock.now += timedelta(seconds=30)
    await world.converge()
    assert await states(world) in ({}, {instance: "Terminating"})


async def test_terminate_instance_in_group_honours_the_hooks(world: World) -> None:
    await group(world, DesiredCapacity=2)
    await world.converge()
    first, _ = await states(world)
    await hook(world, "drain", TERMINATING)
    answer = await world.root.call(
        "TerminateInstanceInAutoScalingGroup", InstanceId=first,
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert answer["Activity"]["StatusCode"] == "WaitingForTerminateLifecycleAction"
    assert (await states(world))[first] == "Terminating:Wait"
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="drain",
        InstanceId=first, LifecycleActionResult="ABANDON",
    )  # fmt: skip
    await world.converge()
    assert (await states(world)).get(first) in (None, "Terminating")
    assert len([s for s in (await states(world)).values() if s == "InService"]) == 1, await states(
        world
    )


async def test_refusals(world: World) -> None:
    await group(world)
    base = {"AutoScalingGroupName": "web", "LifecycleHookName": "h"}
    for params in (
        {"LifecycleTransition": "autoscaling:EC2_INSTANCE_REBOOTING"},
        {"LifecycleTransition": LAUNCHING, "HeartbeatTimeout": 10},
        {"LifecycleTransition": LAUNCHING, "DefaultResult": "MAYBE"},
        # No notification service in this world: no topic can be a target.
        {"LifecycleTransition": LAUNCHING,
         "NotificationTargetARN": "arn:aws:sns:eu-fr-1:123456789012:topic"},
        {"LifecycleTransition": LAUNCHING, "RoleARN": "arn:aws:iam::123456789012:role/hooks"},
        {},  # a new hook needs its transition
    ):  # fmt: skip
        await refused(world.root, "PutLifecycleHook", "ValidationError", **base, **params)
    await refused(
        world.root, "PutLifecycleHook", "ValidationError", AutoScalingGroupName="nope",
        LifecycleHookName="h", LifecycleTransition=LAUNCHING,
    )  # fmt: skip
    await refused(
        world.root, "CompleteLifecycleAction", "ValidationError", **base,
        LifecycleActionResult="CONTINUE", LifecycleActionToken="0" * 36,
    )  # fmt: skip
    await refused(
        world.root, "CompleteLifecycleAction", "ValidationError", **base,
        LifecycleActionResult="CONTINUE",
    )  # fmt: skip
    await refused(world.root, "DescribeLifecycleHooks", "ValidationError",
                  AutoScalingGroupName="nope")  # fmt: skip


async def test_the_quota_is_a_setting(tmp_path: Path) -> None:
    async with autoscaling_world(tmp_path, max_lifecycle_hooks_per_autoscaling_group=1) as world:
        await group(world)
        await hook(world, "a", LAUNCHING)
        await refused(
            world.root, "PutLifecycleHook", "LimitExceeded", AutoScalingGroupName="web",
            LifecycleHookName="b", LifecycleTransition=TERMINATING,
        )  # fmt: skip
        await hook(world, "a", TERMINATING)  # a change, not a new hook


async def test_another_account_neither_sees_nor_changes_the_hooks(world: World) -> None:
    await group(world, DesiredCapacity=1)
    await hook(world, "warm", LAUNCHING)
    await world.converge()
    [instance] = await states(world)
    _, other = await world.tenant("other")
    await refused(other, "DescribeLifecycleHooks", "ValidationError", AutoScalingGroupName="web")
    await refused(
        other, "PutLifecycleHook", "ValidationError", AutoScalingGroupName="web",
        LifecycleHookName="warm", LifecycleTransition=TERMINATING,
    )  # fmt: skip
    await refused(other, "DeleteLifecycleHook", "ValidationError",
                  AutoScalingGroupName="web", LifecycleHookName="warm")  # fmt: skip
    for operation, extra in (
        ("CompleteLifecycleAction", {"LifecycleActionResult": "CONTINUE"}),
        ("RecordLifecycleActionHeartbeat", {}),
    ):
        await refused(
            other, operation, "ValidationError", AutoScalingGroupName="web",
            LifecycleHookName="warm", InstanceId=instance, **extra,
        )  # fmt: skip
    assert await states(world) == {instance: "Pending:Wait"}
    assert len((await other.call("DescribeLifecycleHookTypes"))["LifecycleHookTypes"]) == 2


async def test_lifecycle_actions_are_pushed_to_an_accounts_topic(world: World) -> None:
    """A hook's NotificationTargetARN, a topic of the account's (decision 0132): a test
    notification when put, then each lifecycle action with the token that completes it."""
    outbox: list[tuple[str, str, str, str | None]] = []
    queue = MemoryEventQueue(outbox)
    topics = TopicService(MemoryTopicStore(), region="eu-fr-1", max_topics=10, queue=queue)
    world.service.notifier = TopicNotifier(topics)
    topic = await topics.create_topic(
        world.tenant_id, "lifecycle", {"push-endpoint": "http://127.0.0.1:9/hooks"}
    )
    other_id, _ = await world.tenant("other")
    theirs = await topics.create_topic(
        other_id, "theirs", {"push-endpoint": "http://127.0.0.1:9/theirs"}
    )
    await group(world)
    role = f"arn:aws:iam::{world.tenant_id}:role/hooks"
    await refused(
        world.root, "PutLifecycleHook", "ValidationError", AutoScalingGroupName="web",
        LifecycleHookName="warm", LifecycleTransition=LAUNCHING, NotificationTargetARN=theirs.arn,
    )  # fmt: skip
    await hook(world, "warm", LAUNCHING, NotificationTargetARN=topic.arn, RoleARN=role,
               NotificationMetadata="pool=a")  # fmt: skip
    [test] = outbox
    assert test[:2] == (world.tenant_id, topic.arn)
    assert json.loads(test[2])["Event"] == "autoscaling:TEST_NOTIFICATION"
    [shown] = (await world.root.call("DescribeLifecycleHooks", AutoScalingGroupName="web"))[
        "LifecycleHooks"
    ]
    assert (shown["NotificationTargetARN"], shown["RoleARN"]) == (topic.arn, role)
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge()
    [instance] = await states(world)
    message = json.loads(outbox[-1][2])
    assert {k: message[k] for k in ("LifecycleHookName", "LifecycleTransition", "EC2InstanceId",
                                    "AutoScalingGroupName", "NotificationMetadata")} == {
        "LifecycleHookName": "warm", "LifecycleTransition": LAUNCHING, "EC2InstanceId": instance,
        "AutoScalingGroupName": "web", "NotificationMetadata": "pool=a",
    }  # fmt: skip
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="warm",
        LifecycleActionToken=message["LifecycleActionToken"], LifecycleActionResult="CONTINUE",
    )  # fmt: skip
    await world.converge()
    assert await states(world) == {instance: "InService"}
    assert len(outbox) == 2  # queued for the delivery worker, which pushes them as any event


async def test_launch_hooks_hold_an_instance_leaving_standby_or_attached(world: World) -> None:
    """Decision 0188, as AWS: ExitStandby and AttachInstances go through the launch hooks
    (Pending:Wait, Pending:Proceed, InService); EnterStandby and DetachInstances through
    none, nor through the termination hooks."""
    await group(world, DesiredCapacity=1)
    await world.converge()
    [instance] = await states(world)
    await hook(world, "warm", LAUNCHING)
    await hook(world, "drain", TERMINATING)
    await world.root.call(
        "EnterStandby", AutoScalingGroupName="web", InstanceIds=[instance],
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert await states(world) == {instance: "Standby"}
    await world.root.call("ExitStandby", AutoScalingGroupName="web", InstanceIds=[instance])
    assert await states(world) == {instance: "Pending:Wait"}
    await world.converge()  # still waiting: counted, nothing launched
    assert await states(world) == {instance: "Pending:Wait"}
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="warm",
        InstanceId=instance, LifecycleActionResult="CONTINUE",
    )  # fmt: skip
    assert await states(world) == {instance: "Pending:Proceed"}
    await world.converge()
    assert await states(world) == {instance: "InService"}
    # Attached: held too; abandoned, terminated as a launch abandoned is.
    request = RunRequest(image_id=world.image.image_id, instance_type="t3.nano")
    [outside] = [i.instance_id for i in await world.compute.run_instances(world.tenant_id, request)]
    await world.compute.settle()
    await world.root.call("AttachInstances", AutoScalingGroupName="web", InstanceIds=[outside])
    assert (await states(world))[outside] == "Pending:Wait"
    await world.root.call(
        "CompleteLifecycleAction", AutoScalingGroupName="web", LifecycleHookName="warm",
        InstanceId=outside, LifecycleActionResult="ABANDON",
    )  # fmt: skip
    await world.converge()
    assert outside not in await states(world)
    # Detached: no termination hook holds it; it leaves at once.
    await world.root.call(
        "DetachInstances", AutoScalingGroupName="web", InstanceIds=[instance],
        ShouldDecrementDesiredCapacity=True,
    )  # fmt: skip
    assert instance not in await states(world)
    [shown] = (await world.root.call("DescribeAutoScalingGroups"))["AutoScalingGroups"]
    assert all(i["LifecycleState"] != "Terminating:Wait" for i in shown["Instances"])
