"""SNS topics' tags, FIFO topics' throughput scope, their delivery to standard queues, and
their message archive and replay (decision 0175), in process: botocore's own SNS model over
the real services (in-memory stores, real queues with sealed messages, the real delivery
worker and archive upkeep)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.notifications.archive import format_time
from andromede.queues.model import Queue
from andromede.settings import Settings
from andromede.wakeup import Doorbell
from andromede.wiring.pubsub import archive_upkeep
from support.queryapp import REGION, Client
from support.snsworld import Sns, refused, sns_world


class Moving:
    """The notification services' clock, moved by the tests."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Moving:
    return Moving()


@pytest.fixture
async def sns(tmp_path: Path, clock: Moving) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path, now=clock) as made:
        yield made


async def fifo_topic(sns: Sns, name: str = "orders.fifo", **attributes: str) -> str:
    answer = await sns.root.call(
        "sns", "CreateTopic", Name=name, Attributes={"FifoTopic": "true", **attributes}
    )
    return str(answer["TopicArn"])


async def attributes(client: Client, arn: str) -> dict[str, str]:
    return dict((await client.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"])


async def publish(sns: Sns, arn: str, body: str, group: str, dedup: str) -> dict[str, Any]:
    return await sns.root.call(
        "sns",
        "Publish",
        TopicArn=arn,
        Message=body,
        MessageGroupId=group,
        MessageDeduplicationId=dedup,
    )


async def drained(sns: Sns, queue: Queue) -> list[Any]:
    """Every message the queue hands out, deleting each, after the worker's passes."""
    for _ in range(3):
        await sns.deliverer.deliver_once()
    found: list[Any] = []
    while got := await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0):
        for message in got:
            found.append(message)
            await sns.queues.delete_message(queue, message.receipt_handle)
    return found


async def test_tags_through_the_api(sns: Sns) -> None:
    answer = await sns.root.call(
        "sns", "CreateTopic", Name="tagged", Tags=[{"Key": "team", "Value": "blue"}]
    )
    arn = answer["TopicArn"]

    async def tags() -> dict[str, str]:
        listed = await sns.root.call("sns", "ListTagsForResource", ResourceArn=arn)
        return {t["Key"]: t["Value"] for t in listed["Tags"]}

    assert await tags() == {"team": "blue"}
    await sns.root.call(
        "sns",
        "TagResource",
        ResourceArn=arn,
        Tags=[{"Key": "team", "Value": "red"}, {"Key": "cost centre", "Value": "42"}],
    )
    assert await tags() == {"team": "red", "cost centre": "42"}
    await sns.root.call("sns", "UntagResource", ResourceArn=arn, TagKeys=["team", "absent"])
    assert await tags() == {"cost centre": "42"}
    # CreateTopic of an existing topic: its tags are kept; other tags are refused.
    assert (await sns.root.call("sns", "CreateTopic", Name="tagged"))["TopicArn"] == arn
    assert await tags() == {"cost centre": "42"}
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="tagged",
        Tags=[{"Key": "a", "Value": "b"}],
    )
    # SNS's rules: 50 tags at most, no aws: keys, bounded keys and values.
    many = [{"Key": f"k{n}", "Value": "v"} for n in range(50)]
    error = await refused(sns.root, "TagResource", "TagLimitExceeded", ResourceArn=arn, Tags=many)
    assert "50" in error.message
    for bad in ({"Key": "aws:own", "Value": "v"}, {"Key": "k" * 129, "Value": "v"}):
        await refused(sns.root, "TagResource", "InvalidParameter", ResourceArn=arn, Tags=[bad])
    await refused(
        sns.root,
        "TagResource",
        "InvalidParameter",
        ResourceArn=arn,
        Tags=[{"Key": "k", "Value": "v" * 257}],
    )
    missing = arn.replace("tagged", "missing")
    await refused(sns.root, "ListTagsForResource", "ResourceNotFound", ResourceArn=missing)
    await refused(
        sns.root,
        "TagResource",
        "ResourceNotFound",
        ResourceArn=missing,
        Tags=[{"Key": "a", "Value": "b"}],
    )
    await refused(sns.root, "ListTagsForResource", "InvalidParameter", ResourceArn="nope")


async def test_tags_in_the_policy_evaluation(sns: Sns) -> None:
    blue_only = {"StringEquals": {"aws:ResourceTag/team": "blue"}}
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sns:CreateTopic",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}},
            },
            {
                "Effect": "Allow",
                "Action": "sns:TagResource",
                "Resource": "*",
                "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "cost"]}},
            },
            {
                "Effect": "Allow",
                "Action": ["sns:GetTopicAttributes", "sns:ListTagsForResource"],
                "Resource": "*",
                "Condition": blue_only,
            },
        ],
    }
    await sns.root.call("iam", "CreateUser", UserName="ops")
    await sns.root.call(
        "iam", "PutUserPolicy", UserName="ops", PolicyName="p", PolicyDocument=json.dumps(policy)
    )
    key = (await sns.root.call("iam", "CreateAccessKey", UserName="ops"))["AccessKey"]
    ops = sns.world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    # aws:RequestTag/<key>: the user may create only topics tagged blue (and, to tag at
    # creation, needs sns:TagResource too).
    await refused(ops, "CreateTopic", "AccessDenied", Name="plain")
    await refused(
        ops, "CreateTopic", "AccessDenied", Name="red", Tags=[{"Key": "team", "Value": "red"}]
    )
    blue = (
        await ops.call("sns", "CreateTopic", Name="blue", Tags=[{"Key": "team", "Value": "blue"}])
    )["TopicArn"]
    # aws:ResourceTag/<key>: the blue topic's attributes, not the red one's.
    assert (await attributes(ops, blue))["TopicArn"] == blue
    red = (
        await sns.root.call(
            "sns", "CreateTopic", Name="red", Tags=[{"Key": "team", "Value": "red"}]
        )
    )["TopicArn"]
    await refused(ops, "GetTopicAttributes", "AccessDenied", TopicArn=red)
    await refused(ops, "ListTagsForResource", "AccessDenied", ResourceArn=red)
    # aws:TagKeys: "cost" may be set, "owner" not.
    await ops.call("sns", "TagResource", ResourceArn=blue, Tags=[{"Key": "cost", "Value": "1"}])
    await refused(
        ops, "TagResource", "AccessDenied", ResourceArn=blue, Tags=[{"Key": "owner", "Value": "x"}]
    )
    await refused(ops, "UntagResource", "AccessDenied", ResourceArn=blue, TagKeys=["cost"])


async def test_throughput_scope_message_group(sns: Sns) -> None:
    scoped = await fifo_topic(sns, "scoped.fifo", FifoThroughputScope="MessageGroup")
    plain = await fifo_topic(sns, "plain.fifo")
    assert (await attributes(sns.root, plain))["FifoThroughputScope"] == "Topic"
    assert (await attributes(sns.root, scoped))["FifoThroughputScope"] == "MessageGroup"
    # Per group: one deduplication id in two groups is two messages; in one group, one.
    a, b = await publish(sns, scoped, "x", "a", "d1"), await publish(sns, scoped, "x", "b", "d1")
    assert a["MessageId"] != b["MessageId"]
    again = await publish(sns, scoped, "x", "a", "d1")
    assert again["MessageId"] == a["MessageId"]
    # Per topic (the default): the second group's message is the first's duplicate.
    c, d = await publish(sns, plain, "x", "a", "d1"), await publish(sns, plain, "x", "b", "d1")
    assert c["MessageId"] == d["MessageId"]
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=plain,
        AttributeName="FifoThroughputScope",
        AttributeValue="MessageGroup",
    )
    assert (await attributes(sns.root, plain))["FifoThroughputScope"] == "MessageGroup"
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="standard",
        Attributes={"FifoThroughputScope": "Topic"},
    )
    await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=plain,
        AttributeName="FifoThroughputScope",
        AttributeValue="Queue",
    )


async def test_a_fifo_topic_into_a_standard_queue(sns: Sns) -> None:
    arn = await fifo_topic(sns)
    queue = await sns.queue(sns.world.tenant_id, "plain-q")
    dead = await sns.queue(sns.world.tenant_id, "plain-dlq")
    fifo_dead = await sns.queues.create_queue(
        sns.world.tenant_id, "dead.fifo", {"FifoQueue": "true"}
    )
    # The dead-letter queue is of the subscribed queue's kind.
    redrive = {"RedrivePolicy": json.dumps({"deadLetterTargetArn": fifo_dead.arn})}
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes=redrive,
    )
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={
            "RawMessageDelivery": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dead.arn}),
        },
    )
    for n, group in enumerate(["a", "b", "a"]):
        await publish(sns, arn, f"m{n}", group, f"d{n}")
    got = await drained(sns, queue)
    # Each message once (the topic deduplicates), without a group: no order kept for it.
    assert sorted(m.payload.body for m in got) == ["m0", "m1", "m2"]
    assert all(m.group_id is None for m in got)


async def test_archive_policy_rules_and_beginning_time(sns: Sns, clock: Moving) -> None:
    arn = await fifo_topic(sns, ArchivePolicy='{"MessageRetentionPeriod": "7"}')
    started = clock.at
    shown = await attributes(sns.root, arn)
    assert json.loads(shown["ArchivePolicy"]) == {"MessageRetentionPeriod": "7"}  # as given
    assert shown["BeginningArchiveTime"] == format_time(started)
    # Changing the retention keeps the archive's beginning; ten days on, it moves with it.
    clock.at += timedelta(days=10)
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ArchivePolicy",
        AttributeValue='{"MessageRetentionPeriod": 8}',
    )
    shown = await attributes(sns.root, arn)
    assert shown["BeginningArchiveTime"] == format_time(clock.at - timedelta(days=8))
    # CreateTopic again, not naming the policy (a deployment tool's create): the archive stays.
    assert await fifo_topic(sns) == arn
    again = await attributes(sns.root, arn)
    assert again["ArchivePolicy"] == shown["ArchivePolicy"]
    assert again["BeginningArchiveTime"] == shown["BeginningArchiveTime"]
    for bad in ("0", "366", '"x"', "true"):
        await refused(
            sns.root,
            "SetTopicAttributes",
            "InvalidParameter",
            TopicArn=arn,
            AttributeName="ArchivePolicy",
            AttributeValue=f'{{"MessageRetentionPeriod": {bad}}}',
        )
    await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=arn,
        AttributeName="BeginningArchiveTime",
        AttributeValue=format_time(started),
    )
    # Standard topics have no archive.
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="standard",
        Attributes={"ArchivePolicy": '{"MessageRetentionPeriod": 1}'},
    )
    # {} ends the archive: the policy and its beginning go.
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ArchivePolicy",
        AttributeValue="{}",
    )
    shown = await attributes(sns.root, arn)
    assert "ArchivePolicy" not in shown and "BeginningArchiveTime" not in shown


async def _replayed_topic(sns: Sns, clock: Moving) -> tuple[str, datetime, dict[str, str]]:
    """A FIFO topic with an archive, three messages published in two groups (nobody
    subscribed), a minute apart; the time before the first; each message's id and time."""
    arn = await fifo_topic(sns, ArchivePolicy='{"MessageRetentionPeriod": 1}')
    before = clock.at
    published: dict[str, str] = {}
    for n, group in enumerate(["a", "b", "a"]):
        clock.at += timedelta(minutes=1)
        answer = await publish(sns, arn, f"old-{n}", group, f"d{n}")
        published[f"old-{n}"] = f"{answer['MessageId']} {format_time(clock.at)}"
    clock.at += timedelta(minutes=1)
    return arn, before, published


async def _fifo_queue(sns: Sns, name: str) -> Queue:
    return await sns.queues.create_queue(sns.world.tenant_id, name, {"FifoQueue": "true"})


async def test_a_replay_in_order_marked_replayed(sns: Sns, clock: Moving) -> None:
    arn, before, published = await _replayed_topic(sns, clock)
    queue = await _fifo_queue(sns, "late.fifo")
    replay = {"PointType": "Timestamp", "StartingPoint": format_time(before)}
    subscription = (
        await sns.root.call(
            "sns",
            "Subscribe",
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue.arn,
            Attributes={"ReplayPolicy": json.dumps(replay)},
            ReturnSubscriptionArn=True,
        )
    )["SubscriptionArn"]

    async def status() -> str:
        shown = await sns.root.call(
            "sns", "GetSubscriptionAttributes", SubscriptionArn=subscription
        )
        return str(shown["Attributes"]["ReplayStatus"])

    assert await status() == "Pending"
    # A message published while the replay runs is held for it: it comes after the old ones.
    await publish(sns, arn, "live", "b", "d-live")
    assert await drained(sns, queue) == []
    assert await sns.upkeep.replay_once() == 4
    assert await status() == "Completed"
    got = await drained(sns, queue)
    envelopes = [(m.group_id, json.loads(m.payload.body)) for m in got]
    # Each group in publish order (the queue hands out a group's messages together).
    by_group = {g: [e["Message"] for h, e in envelopes if h == g] for g in ("a", "b")}
    assert by_group == {"a": ["old-0", "old-2"], "b": ["old-1", "live"]}
    assert all(e["Replayed"] is True for _, e in envelopes)
    # Replayed: the same MessageId and Timestamp as at the first publish.
    first_time = {
        e["Message"]: f"{e['MessageId']} {e['Timestamp']}"
        for _, e in envelopes
        if e["Message"] in published
    }
    assert first_time == published
    # Completed: the live messages flow again, not marked.
    await publish(sns, arn, "after", "a", "d-after")
    (after,) = [json.loads(m.payload.body) for m in await drained(sns, queue)]
    assert after["Message"] == "after" and "Replayed" not in after
    # A new ReplayPolicy replays again; the queue drops the copy of a message it took
    # within five minutes (its own deduplication): a replay is for what a subscriber lost.
    await sns.root.call(
        "sns",
        "SetSubscriptionAttributes",
        SubscriptionArn=subscription,
        AttributeName="ReplayPolicy",
        AttributeValue=json.dumps({**replay, "StartingPoint": format_time(clock.at)}),
    )
    assert await sns.upkeep.replay_once() == 2  # "live" and "after", of this very time
    assert await drained(sns, queue) == []
    raw = await _fifo_queue(sns, "raw.fifo")
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=raw.arn,
        Attributes={"RawMessageDelivery": "true", "ReplayPolicy": json.dumps(replay)},
    )
    await sns.upkeep.replay_once()
    got = await drained(sns, raw)
    bodies = {g: [m.payload.body for m in got if m.group_id == g] for g in ("a", "b")}
    assert bodies == {"a": ["old-0", "old-2", "after"], "b": ["old-1", "live"]}
    assert all(m.payload.attributes["Replayed"].string_value == "true" for m in got)


async def test_a_replays_window_stop_and_refusals(sns: Sns, clock: Moving) -> None:
    arn, before, _ = await _replayed_topic(sns, clock)
    queue = await _fifo_queue(sns, "window.fifo")
    window = {
        "PointType": "Timestamp",
        "StartingPoint": format_time(before + timedelta(minutes=2)),
        "EndingPoint": format_time(before + timedelta(minutes=2, seconds=30)),
    }
    subscription = (
        await sns.root.call(
            "sns",
            "Subscribe",
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=queue.arn,
            ReturnSubscriptionArn=True,
        )
    )["SubscriptionArn"]
    await sns.root.call(
        "sns",
        "SetSubscriptionAttributes",
        SubscriptionArn=subscription,
        AttributeName="ReplayPolicy",
        AttributeValue=json.dumps(window),
    )
    # With an end, the subscription takes no new message any more (SNS's rule): the live
    # one is not delivered, only the window's, replayed.
    await publish(sns, arn, "live", "a", "d-live")
    await sns.upkeep.replay_once()
    got = [json.loads(m.payload.body) for m in await drained(sns, queue)]
    assert [(e["Message"], e["Replayed"]) for e in got] == [("old-1", True)]
    shown = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=subscription))[
        "Attributes"
    ]
    assert shown["ReplayStatus"] == "Completed"
    # {} stops a replay: no ReplayStatus shown any more.
    await sns.root.call(
        "sns",
        "SetSubscriptionAttributes",
        SubscriptionArn=subscription,
        AttributeName="ReplayPolicy",
        AttributeValue="{}",
    )
    shown = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=subscription))[
        "Attributes"
    ]
    assert "ReplayStatus" not in shown and "ReplayPolicy" not in shown
    await publish(sns, arn, "after the stop", "a", "d-stop")
    (after,) = [json.loads(m.payload.body) for m in await drained(sns, queue)]
    assert after["Message"] == "after the stop" and "Replayed" not in after
    # An end still to come: the replay runs on until then, bringing what is published
    # meanwhile; after it, nothing more.
    ahead = await _fifo_queue(sns, "ahead.fifo")
    until = {
        "PointType": "Timestamp",
        "StartingPoint": format_time(before),
        "EndingPoint": format_time(clock.at + timedelta(minutes=1)),
    }
    ahead_arn = (
        await sns.root.call(
            "sns",
            "Subscribe",
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=ahead.arn,
            Attributes={"ReplayPolicy": json.dumps(until), "RawMessageDelivery": "true"},
            ReturnSubscriptionArn=True,
        )
    )["SubscriptionArn"]
    await publish(sns, arn, "soon", "b", "d-soon")
    await sns.upkeep.replay_once()

    async def ahead_status() -> str:
        shown = await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=ahead_arn)
        return str(shown["Attributes"]["ReplayStatus"])

    assert await ahead_status() == "In progress"
    clock.at += timedelta(minutes=2)
    await publish(sns, arn, "too late", "b", "d-late")
    await sns.upkeep.replay_once()
    assert await ahead_status() == "Completed"
    bodies = sorted(m.payload.body for m in await drained(sns, ahead))
    assert bodies == ["after the stop", "live", "old-0", "old-1", "old-2", "soon"]
    bad_policies = [
        {"PointType": "Sequence", "StartingPoint": format_time(before)},
        {"PointType": "Timestamp"},
        {"PointType": "Timestamp", "StartingPoint": "yesterday"},
        {"PointType": "Timestamp", "StartingPoint": format_time(clock.at + timedelta(hours=1))},
        {**window, "EndingPoint": format_time(before)},
    ]
    for bad in bad_policies:
        await refused(
            sns.root,
            "SetSubscriptionAttributes",
            "InvalidParameter",
            SubscriptionArn=subscription,
            AttributeName="ReplayPolicy",
            AttributeValue=json.dumps(bad),
        )
    # A topic without an archive replays nothing.
    plain = await fifo_topic(sns, "plain.fifo")
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=plain,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"ReplayPolicy": json.dumps(window)},
    )


async def test_the_archive_expires_and_ends_with_its_policy(sns: Sns, clock: Moving) -> None:
    arn, _, _ = await _replayed_topic(sns, clock)
    assert await sns.archive.archived_bytes() != {}
    # A day on (the retention), the upkeep deletes them.
    clock.at += timedelta(days=1, minutes=5)
    assert await sns.upkeep.expire_once() == 3
    await publish(sns, arn, "new", "a", "d-new")
    assert await sns.upkeep.expire_once() == 0
    # The policy removed, the archive ends: its messages go at the next pass.
    await sns.root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="ArchivePolicy", AttributeValue=""
    )
    assert await sns.upkeep.expire_once() == 1
    assert await sns.archive.archived_bytes() == {}
    # A deleted topic's archive goes too.
    other = await fifo_topic(sns, "other.fifo", ArchivePolicy='{"MessageRetentionPeriod": 30}')
    await publish(sns, other, "m", "a", "d")
    await sns.root.call("sns", "DeleteTopic", TopicArn=other)
    assert await sns.upkeep.expire_once() == 1
    # And a closed tenant's.
    closing = await fifo_topic(sns, "closing.fifo", ArchivePolicy='{"MessageRetentionPeriod": 30}')
    await publish(sns, closing, "m", "a", "d")
    assert await sns.topics.forget_tenant(sns.world.tenant_id) >= 1
    assert await sns.upkeep.expire_once() == 1


async def test_a_replay_started_is_run_at_once_by_an_upkeep_rung(
    sns: Sns, clock: Moving, tmp_path: Path
) -> None:
    """Decision 0206: an archive upkeep whose interval is a minute runs a replay at once when
    rung (as the SQL store's commit of the replay rings it, tests/contract/
    test_queue_doorbells.py); unrung, the replay waits for its next pass."""
    arn, before, _ = await _replayed_topic(sns, clock)
    queue = await _fifo_queue(sns, "rung.fifo")
    settings = Settings(
        data_dir=tmp_path / "data",
        region=REGION,
        sns_replay_interval=60,
        background_idle_poll_max=60,
    )
    bell = Doorbell()
    upkeep = archive_upkeep(
        settings, sns.archive, sns.topics, sns.pubsub, clock=clock, doorbell=bell
    )
    task = asyncio.create_task(upkeep.run_forever())
    try:
        await asyncio.sleep(0.2)  # its first pass found nothing: it now waits a minute
        replay = {"PointType": "Timestamp", "StartingPoint": format_time(before)}
        subscription = (
            await sns.root.call(
                "sns",
                "Subscribe",
                TopicArn=arn,
                Protocol="sqs",
                Endpoint=queue.arn,
                Attributes={"ReplayPolicy": json.dumps(replay)},
                ReturnSubscriptionArn=True,
            )
        )["SubscriptionArn"]

        async def status() -> str:
            shown = await sns.root.call(
                "sns", "GetSubscriptionAttributes", SubscriptionArn=subscription
            )
            return str(shown["Attributes"]["ReplayStatus"])

        await asyncio.sleep(0.3)
        assert await status() == "Pending"
        bell.ring()
        started = time.monotonic()
        while await status() != "Completed":
            assert time.monotonic() - started < 5, "the rung upkeep did not replay"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
