"""Notification configurations (decision 0188) through botocore's ``autoscaling`` model in
process and the reconciler on the memory hypervisor: put (a test notification sent),
described in pages, deleted; the refusals and the quota as a setting; each launch and
termination (and their failures) sent once, in AWS's message, to the topics asking for its
type, however many gateways reconcile; the account's own topics only."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.autoscaling.model import Group
from andromede.autoscaling.store import MemoryGroupStore
from andromede.autoscaling.store_sql import SqlGroupStore
from andromede.autoscaling_adapters import TopicNotifier
from andromede.db.database import open_database
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.messages import event_subject
from andromede.notifications.service import TopicService
from support.autoscalingapp import REGION, World, autoscaling_world, refused
from support.schema import migrated_sqlite

LAUNCH = "autoscaling:EC2_INSTANCE_LAUNCH"
TERMINATE = "autoscaling:EC2_INSTANCE_TERMINATE"
TEST = "autoscaling:TEST_NOTIFICATION"


@dataclass
class Topics:
    service: TopicService
    outbox: list[tuple[str, str, str, str | None]]

    async def create(self, tenant_id: str, name: str) -> str:
        topic = await self.service.create_topic(
            tenant_id, name, {"push-endpoint": f"http://127.0.0.1:9/{name}"}
        )
        return topic.arn

    def sent(self, arn: str) -> list[dict[str, Any]]:
        return [json.loads(m) for _, a, m, _ in self.outbox if a == arn]


@pytest.fixture
async def topics(world: World) -> AsyncIterator[Topics]:
    outbox: list[tuple[str, str, str, str | None]] = []
    service = TopicService(
        MemoryTopicStore(), region=REGION, max_topics=10, queue=MemoryEventQueue(outbox)
    )
    world.service.notifier = TopicNotifier(service)
    yield Topics(service, outbox)


async def put(world: World, arn: str, *types: str, group: str = "web") -> None:
    await world.root.call(
        "PutNotificationConfiguration",
        AutoScalingGroupName=group,
        TopicARN=arn,
        NotificationTypes=list(types),
    )


async def described(world: World, **params: Any) -> list[tuple[str, str, str, str | None]]:
    found = (await world.root.call("DescribeNotificationConfigurations", **params))[
        "NotificationConfigurations"
    ]
    return [(c["AutoScalingGroupName"], c["TopicARN"], c["NotificationType"]) for c in found]


async def test_configurations_are_put_described_and_deleted(world: World, topics: Topics) -> None:
    types = (await world.root.call("DescribeAutoScalingNotificationTypes"))[
        "AutoScalingNotificationTypes"
    ]
    assert types == [LAUNCH, f"{LAUNCH}_ERROR", TERMINATE, f"{TERMINATE}_ERROR", TEST]
    await world.create_group()
    await world.create_group("api", template_name="api")
    ops = await topics.create(world.tenant_id, "ops")
    audit = await topics.create(world.tenant_id, "audit")
    await put(world, ops, LAUNCH, TERMINATE)
    # AWS's test notification, sent when a configuration is put.
    [test] = topics.sent(ops)
    assert {k: test[k] for k in ("Event", "AutoScalingGroupName", "AccountId", "Service")} == {
        "Event": TEST,
        "AutoScalingGroupName": "web",
        "AccountId": world.tenant_id,
        "Service": "AWS Auto Scaling",
    }
    assert test["AutoScalingGroupARN"].startswith(f"arn:aws:autoscaling:{REGION}:")
    await put(world, audit, f"{TERMINATE}_ERROR")
    await put(world, ops, f"{LAUNCH}_ERROR", group="api")
    assert await described(world) == [
        ("api", ops, f"{LAUNCH}_ERROR"),
        ("web", audit, f"{TERMINATE}_ERROR"),
        ("web", ops, LAUNCH),
        ("web", ops, TERMINATE),
    ]
    assert await described(world, AutoScalingGroupNames=["api", "gone"]) == [
        ("api", ops, f"{LAUNCH}_ERROR")
    ]
    # Pages of MaxRecords, each NextToken picking up after the last.
    first = await world.root.call("DescribeNotificationConfigurations", MaxRecords=3)
    assert len(first["NotificationConfigurations"]) == 3
    rest = await world.root.call(
        "DescribeNotificationConfigurations", MaxRecords=3, NextToken=first["NextToken"]
    )
    assert [c["NotificationType"] for c in rest["NotificationConfigurations"]] == [TERMINATE]
    assert "NextToken" not in rest
    # Put again for a topic: its types replaced.
    await put(world, ops, TERMINATE)
    assert await described(world, AutoScalingGroupNames=["web"]) == [
        ("web", audit, f"{TERMINATE}_ERROR"),
        ("web", ops, TERMINATE),
    ]
    await world.root.call(
        "DeleteNotificationConfiguration", AutoScalingGroupName="web", TopicARN=audit
    )
    assert await described(world, AutoScalingGroupNames=["web"]) == [("web", ops, TERMINATE)]
    await refused(world.root, "DeleteNotificationConfiguration", "ValidationError",
                  AutoScalingGroupName="web", TopicARN=audit)  # fmt: skip
    await world.audit.flush()
    events = [e.action for _, e in await world.audit_store.list_events(None, after_id=0, limit=99)]
    assert "autoscaling:PutNotificationConfiguration" in events
    assert "autoscaling:DeleteNotificationConfiguration" in events


async def test_refusals(world: World, topics: Topics) -> None:
    await world.create_group()
    ops = await topics.create(world.tenant_id, "ops")
    other_id, other = await world.tenant("other")
    theirs = await topics.create(other_id, "theirs")
    base = {"AutoScalingGroupName": "web", "TopicARN": ops}
    await refused(world.root, "PutNotificationConfiguration", "ValidationError",
                  **base, NotificationTypes=["autoscaling:EC2_INSTANCE_LAUNCHING"])  # fmt: skip
    await refused(world.root, "PutNotificationConfiguration", "ValidationError",
                  **base, NotificationTypes=[])  # fmt: skip
    await refused(world.root, "PutNotificationConfiguration", "ValidationError",
                  AutoScalingGroupName="web", TopicARN=theirs,
                  NotificationTypes=[LAUNCH])  # fmt: skip
    await refused(world.root, "PutNotificationConfiguration", "ValidationError",
                  AutoScalingGroupName="nope", TopicARN=ops,
                  NotificationTypes=[LAUNCH])  # fmt: skip
    # Another account neither sees nor changes the group's configurations.
    await put(world, ops, LAUNCH)
    await refused(other, "PutNotificationConfiguration", "ValidationError",
                  AutoScalingGroupName="web", TopicARN=theirs,
                  NotificationTypes=[LAUNCH])  # fmt: skip
    found = await other.call("DescribeNotificationConfigurations")
    assert found["NotificationConfigurations"] == []
    assert await described(world) == [("web", ops, LAUNCH)]
    # Nothing was sent to a topic refused.
    assert topics.sent(theirs) == []


async def test_without_notification_topics_a_put_is_refused(world: World) -> None:
    await world.create_group()
    await refused(world.root, "PutNotificationConfiguration", "ValidationError",
                  AutoScalingGroupName="web", TopicARN="arn:aws:sns:eu-fr-1:1:t",
                  NotificationTypes=[LAUNCH])  # fmt: skip


async def test_the_quota_is_a_setting(tmp_path: Path) -> None:
    async with autoscaling_world(
        tmp_path, max_notification_configurations_per_autoscaling_group=1
    ) as world:
        outbox: list[tuple[str, str, str, str | None]] = []
        service = TopicService(
            MemoryTopicStore(), region=REGION, max_topics=10, queue=MemoryEventQueue(outbox)
        )
        world.service.notifier = TopicNotifier(service)
        topics = Topics(service, outbox)
        await world.create_group()
        one = await topics.create(world.tenant_id, "one")
        two = await topics.create(world.tenant_id, "two")
        await put(world, one, LAUNCH)
        await put(world, one, TERMINATE)  # the same topic again: not one more
        error = await refused(world.root, "PutNotificationConfiguration", "LimitExceeded",
                              AutoScalingGroupName="web", TopicARN=two,
                              NotificationTypes=[LAUNCH])  # fmt: skip
        assert "max_notification_configurations_per_autoscaling_group" in error.message


async def test_launches_and_terminations_are_sent_once_each(world: World, topics: Topics) -> None:
    await world.create_group(MaxSize=2)
    ops = await topics.create(world.tenant_id, "ops")
    errors = await topics.create(world.tenant_id, "errors")
    await put(world, ops, LAUNCH, TERMINATE)
    await put(world, errors, f"{LAUNCH}_ERROR", f"{TERMINATE}_ERROR")
    topics.outbox.clear()
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=2)
    # Two gateways reconcile: the group's lease lets one launch, and the message goes with
    # the activity it wrote.
    for _ in range(2):
        await world.converge("gw-1")
        await world.converge("gw-2")
    launched = topics.sent(ops)
    assert [m["Event"] for m in launched] == [LAUNCH, LAUNCH]
    activities = (await world.root.call("DescribeScalingActivities"))["Activities"]
    by_id = {a["ActivityId"]: a for a in activities}
    instances = {i["InstanceId"] for i in (await world.root.call(
        "DescribeAutoScalingInstances"))["AutoScalingInstances"]}  # fmt: skip
    assert {m["EC2InstanceId"] for m in launched} == instances
    message = launched[0]
    activity = by_id[message["ActivityId"]]
    assert (
        message["Description"]
        == activity["Description"]
        == (f"Launching a new EC2 instance: {message['EC2InstanceId']}")
    )
    assert message["Cause"] == activity["Cause"]
    assert (message["StatusCode"], message["Progress"], message["StatusMessage"]) == (
        "Successful",
        100,
        "",
    )
    assert message["AutoScalingGroupName"] == "web"
    assert message["AutoScalingGroupARN"].endswith(":autoScalingGroupName/web")
    assert (message["Origin"], message["Destination"]) == ("EC2", "AutoScalingGroup")
    assert message["Service"] == "AWS Auto Scaling" and message["AccountId"] == world.tenant_id
    assert set(message["Details"]) == {"Availability Zone"}  # no subnets: the zone alone
    assert json.loads(activity["Details"]) == message["Details"]
    for stamp in ("StartTime", "EndTime", "Time"):
        assert datetime.strptime(message[stamp], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert "RequestId" in message
    assert topics.sent(errors) == []
    await world.root.call("SetDesiredCapacity", AutoScalingGroupName="web", DesiredCapacity=1)
    await world.converge("gw-2")  # gw-1 holds the lease: nothing from gw-2
    await world.converge("gw-1")
    await world.converge("gw-2")
    [gone] = [m for m in topics.sent(ops) if m["Event"] == TERMINATE]
    assert gone["Description"] == f"Terminating EC2 instance: {gone['EC2InstanceId']}"
    assert (gone["Origin"], gone["Destination"]) == ("AutoScalingGroup", "EC2")
    assert len(topics.sent(ops)) == 3


async def test_failures_are_sent_to_the_error_types(world: World, topics: Topics) -> None:
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
        "CreateAutoScalingGroup", AutoScalingGroupName="web", MinSize=1, MaxSize=1,
        LaunchTemplate={"LaunchTemplateId": template.template_id},
    )  # fmt: skip
    ops = await topics.create(world.tenant_id, "ops")
    errors = await topics.create(world.tenant_id, "errors")
    await put(world, ops, LAUNCH)
    await put(world, errors, f"{LAUNCH}_ERROR", f"{TERMINATE}_ERROR")
    topics.outbox.clear()
    await world.converge()
    assert topics.sent(ops) == []
    [failed] = topics.sent(errors)
    assert failed["Event"] == f"{LAUNCH}_ERROR"
    assert failed["StatusCode"] == "Failed" and "IamInstanceProfile.Name" in failed["StatusMessage"]
    assert failed["EC2InstanceId"] == ""


async def test_a_failed_termination_is_a_terminate_error(world: World, topics: Topics) -> None:
    await world.create_group(DesiredCapacity=1)
    await world.converge()
    [instance] = [
        i["InstanceId"]
        for i in (await world.root.call("DescribeAutoScalingInstances"))["AutoScalingInstances"]
    ]
    errors = await topics.create(world.tenant_id, "errors")
    await put(world, errors, f"{TERMINATE}_ERROR")
    topics.outbox.clear()
    await world.compute.set_instance_options(
        world.tenant_id, instance, disable_api_termination=True
    )
    await world.root.call("DeleteAutoScalingGroup", AutoScalingGroupName="web", ForceDelete=True)
    await world.converge()
    [failed] = topics.sent(errors)
    assert (failed["Event"], failed["EC2InstanceId"], failed["StatusCode"]) == (
        f"{TERMINATE}_ERROR",
        instance,
        "Failed",
    )


async def test_sns_gives_the_messages_aws_s_subjects(world: World, topics: Topics) -> None:
    """What an SQS queue or a mail subscribed to the topic shows as the Subject."""
    await world.create_group(DesiredCapacity=1)
    ops = await topics.create(world.tenant_id, "ops")
    await put(world, ops, LAUNCH)
    await world.converge()
    test, launch = (m for _, a, m, _ in topics.outbox if a == ops)
    assert event_subject(test) == 'Auto Scaling: test notification for group "web"'
    assert event_subject(launch) == 'Auto Scaling: launch for group "web"'
    failed = json.dumps({**json.loads(launch), "Event": f"{TERMINATE}_ERROR"})
    assert event_subject(failed) == 'Auto Scaling: termination error for group "web"'
    # A lifecycle action has none, as on AWS's SNS; S3's events keep theirs.
    action = json.dumps({"Service": "AWS Auto Scaling", "LifecycleTransition": LAUNCH})
    assert event_subject(action) is None
    assert event_subject('{"Records": []}') == "Amazon S3 Notification"
    assert event_subject("not json, from AWS Auto Scaling") is None


class _Contended(MemoryGroupStore):
    """A store where another writer (a second gateway's claim) lands just before each of
    this one's conditional writes, once ``busy`` is set."""

    busy = False

    async def change(self, group: Group) -> bool:
        if self.busy:
            held = await self.get(group.tenant_id, group.name)
            assert held is not None
            await super().change(replace(held, claimed_by="gw-other"))
        return await super().change(group)


async def test_a_write_that_keeps_losing_is_resource_contention(tmp_path: Path) -> None:
    store = _Contended()
    async with autoscaling_world(tmp_path, store) as world:
        outbox: list[tuple[str, str, str, str | None]] = []
        service = TopicService(
            MemoryTopicStore(), region=REGION, max_topics=10, queue=MemoryEventQueue(outbox)
        )
        world.service.notifier = TopicNotifier(service)
        await world.create_group()
        arn = (await service.create_topic(world.tenant_id, "ops", {})).arn
        store.busy = True
        error = await refused(world.root, "PutNotificationConfiguration", "ResourceContention",
                              AutoScalingGroupName="web", TopicARN=arn,
                              NotificationTypes=[LAUNCH])  # fmt: skip
        assert "being changed" in error.message
        store.busy = False
        await put(world, arn, LAUNCH)
        assert await described(world) == [("web", arn, LAUNCH)]


async def test_once_per_activity_over_sqlite_with_two_gateways(tmp_path: Path) -> None:
    """The same over the SQL store (two gateways' reconcilers on one database): the lease
    taken by a conditional update lets one launch, and it alone sends."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async with autoscaling_world(tmp_path, SqlGroupStore(db)) as world:
            outbox: list[tuple[str, str, str, str | None]] = []
            service = TopicService(
                MemoryTopicStore(), region=REGION, max_topics=10, queue=MemoryEventQueue(outbox)
            )
            world.service.notifier = TopicNotifier(service)
            await world.create_group(DesiredCapacity=2)
            arn = (await service.create_topic(world.tenant_id, "ops", {})).arn
            await put(world, arn, LAUNCH)
            first, second = world.reconciler("gw-1"), world.reconciler("gw-2")
            for _ in range(3):
                await asyncio.gather(first.run_once(), second.run_once())
                await world.compute.settle()
            events = [json.loads(m)["Event"] for _, _, m, _ in outbox]
            assert events == [TEST, LAUNCH, LAUNCH]
            launched = {json.loads(m)["EC2InstanceId"] for _, _, m, _ in outbox[1:]}
            assert len(launched) == 2
    finally:
        await db.close()
