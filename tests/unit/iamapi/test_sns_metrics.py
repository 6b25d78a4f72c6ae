"""SNS's own ``AWS/SNS`` metrics of a topic (decision 0221) over the real SNS API, queues and
delivery worker: published messages and their size (Publish, PublishBatch, the platform's
own), subscriptions' filters turning messages away (with the reason's metric), notifications
delivered, failed and sent to a dead-letter queue; a confirmation is no notification."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.notifications.subscriptions import Subscription
from andromede.notifications.topic_metrics import filtered_out_metrics
from support.metric_sinks import RecordingSink
from support.snsworld import Sns, sns_world, topic


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[tuple[Sns, RecordingSink]]:
    recorded = RecordingSink()
    async with sns_world(tmp_path) as made:
        made.pubsub.metrics.recorder = recorded
        made.deliverer.topic_metrics = made.pubsub.metrics
        yield made, recorded


async def test_published_filtered_out_and_delivered(sns: tuple[Sns, RecordingSink]) -> None:
    world, recorded = sns
    tenant = world.world.tenant_id
    arn = await topic(world.root, "orders")
    wanted = await world.queue(tenant, "wanted")
    filtered = await world.queue(tenant, "filtered")
    await world.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=wanted.arn)
    await world.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=filtered.arn,
        Attributes={"FilterPolicy": json.dumps({"store": ["lyon"]})},
    )
    await world.root.call("sns", "Publish", TopicArn=arn, Message="héllo")
    await world.root.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {
                "Id": "a",
                "Message": "to lyon",
                "MessageAttributes": {"store": {"DataType": "String", "StringValue": "lyon"}},
            },
            {
                "Id": "b",
                "Message": "to nice",
                "MessageAttributes": {"store": {"DataType": "String", "StringValue": "nice"}},
            },
        ],
    )
    # The platform's own message (an Auto Scaling notification, an S3 event) counts too.
    assert await world.topics.publish(tenant, arn, '{"Event": "autoscaling:TEST"}')
    assert len(await world.received(wanted)) == 4
    assert len(await world.received(filtered)) == 1
    counts = recorded.counts("AWS/SNS", [("TopicName", "orders")])
    assert counts["NumberOfMessagesPublished"] == 4
    # "héllo" without attributes; "to nice" not matching.
    assert counts["NumberOfNotificationsFilteredOut-NoMessageAttributes"] == 2  # héllo, event
    assert counts["NumberOfNotificationsFilteredOut"] == 1
    assert counts["NumberOfNotificationsFilteredOut-MessageAttributes"] == 1
    assert counts["NumberOfNotificationsDelivered"] == 5
    assert counts["NumberOfNotificationsFailed"] == 0
    sizes = [d[4] for d in recorded.points if d[2] == "PublishSize"]
    assert sizes[0] == len("héllo".encode()) == 6
    assert all(d[0] == tenant and d[5] in ("Count", "Bytes") for d in recorded.points)


async def test_failed_and_redriven(sns: tuple[Sns, RecordingSink]) -> None:
    world, recorded = sns
    tenant = world.world.tenant_id
    arn = await topic(world.root, "lost")
    gone = await world.queue(tenant, "gone")
    await world.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=gone.arn)
    await world.queues.delete_queue(gone)
    # An http subscription the guard refuses every push of, with a dead-letter queue.
    dlq = await world.queue(tenant, "dead-letters")
    await world.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq.arn})},
    )
    claimed = await world.events.claim(datetime.now(UTC), lease=timedelta(seconds=60), limit=10)
    token = json.loads(json.loads(claimed[0].message)["body"])["Token"]
    await world.pubsub.confirm(arn, token)
    await world.root.call("sns", "Publish", TopicArn=arn, Message="nowhere")
    assert len(await world.received(dlq)) == 1
    counts = recorded.counts("AWS/SNS", [("TopicName", "lost")])
    assert counts["NumberOfNotificationsFailed"] == 2
    assert counts["NumberOfNotificationsRedrivenToDlq"] == 1
    # The confirmation the worker could not deliver is no notification.
    assert counts["NumberOfNotificationsDelivered"] == 0


def _subscription(scope: str) -> Subscription:
    return Subscription(
        arn="arn:aws:sns:eu-west-3:111122223333:t:00000000-0000-0000-0000-000000000000",
        topic_arn="arn:aws:sns:eu-west-3:111122223333:t",
        tenant_id="111122223333",
        owner="111122223333",
        protocol="sqs",
        endpoint="arn:aws:sqs:eu-west-3:111122223333:q",
        attributes={"FilterPolicyScope": scope, "FilterPolicy": '{"a": ["b"]}'},
        token=None,
        created_at=datetime.now(UTC),
    )


def test_the_reason_a_message_was_filtered_out() -> None:
    body = _subscription("MessageBody")
    assert filtered_out_metrics(body, "not json", {}) == (
        "NumberOfNotificationsFilteredOut-InvalidMessageBody",
    )
    assert filtered_out_metrics(body, '{"a": "c"}', {}) == (
        "NumberOfNotificationsFilteredOut",
        "NumberOfNotificationsFilteredOut-MessageBody",
    )
    attributes = _subscription("MessageAttributes")
    assert filtered_out_metrics(attributes, "m", {}) == (
        "NumberOfNotificationsFilteredOut-NoMessageAttributes",
    )
    assert filtered_out_metrics(attributes, "m", {"a": ("String.Array", "[oops")}) == (
        "NumberOfNotificationsFilteredOut-InvalidAttributes",
    )
    assert filtered_out_metrics(attributes, "m", {"a": ("String", "c")}) == (
        "NumberOfNotificationsFilteredOut",
        "NumberOfNotificationsFilteredOut-MessageAttributes",
    )
