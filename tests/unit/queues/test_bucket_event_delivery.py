"""Bucket events into SQS-style queues (decision 0158): the notification worker sends an event
whose destination is a queue's ARN into the queue, through ``BucketEventQueues`` over a real
queue service (messages sealed by the key sealer), and drops it when the queue's policy does
not let S3 send the bucket's events or the queue is gone; the destination check of
PutBucketNotificationConfiguration is the same policy decision."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.wiring.queues import BucketEventQueues, KeySealer

TENANT = "111122223333"
RECORD = json.dumps(
    {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "photos"}}}]}
)


def s3_policy(queue_arn: str, bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {
                        "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                        "StringEquals": {"aws:SourceAccount": TENANT},
                    },
                }
            ],
        }
    )


@pytest.fixture
async def queues(tmp_path: Path) -> AsyncIterator[QueueService]:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    try:
        yield QueueService(MemoryQueueStore(), KeySealer(keys), region="eu")
    finally:
        keys.close()


async def queue_allowing(queues: QueueService, bucket: str) -> Queue:
    queue = await queues.create_queue(TENANT, "events", {})
    return await queues.set_queue_attributes(queue, {"Policy": s3_policy(queue.arn, bucket)})


async def deliver(queues: QueueService, arn: str, *messages: str) -> MemoryEventQueue:
    outbox = [(TENANT, arn, message, None) for message in messages]
    pending = MemoryEventQueue(outbox)
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=1)
    deliverer = Deliverer(pending, topics, DeliveryPolicy(), queues=BucketEventQueues(queues))
    assert await deliverer.deliver_once() == len(messages)
    return pending


async def test_an_allowed_bucket_events_reach_the_queue(queues: QueueService) -> None:
    queue = await queue_allowing(queues, "photos")
    sink = BucketEventQueues(queues)
    assert await sink.accepts_bucket_events(TENANT, queue.arn, "photos")
    test_event = json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "photos"})
    pending = await deliver(queues, queue.arn, test_event, RECORD)
    assert await pending.waiting(TENANT) == 0
    got = await queues.receive(queue, max_messages=10, visibility=30, wait=0)
    assert sorted(m.payload.body for m in got) == sorted([test_event, RECORD])
    assert {m.payload.sender for m in got} == {"s3.amazonaws.com"}


async def test_another_bucket_or_no_policy_is_refused_and_dropped(queues: QueueService) -> None:
    queue = await queue_allowing(queues, "elsewhere")
    sink = BucketEventQueues(queues)
    assert not await sink.accepts_bucket_events(TENANT, queue.arn, "photos")
    # Another account's queue, or a queue of the bucket owner named in another account.
    assert not await sink.accepts_bucket_events("999988887777", queue.arn, "elsewhere")
    pending = await deliver(queues, queue.arn, RECORD)
    assert await pending.waiting(TENANT) == 0
    assert await queues.receive(queue, max_messages=10, visibility=30, wait=0) == []
    await queues.set_queue_attributes(queue, {"Policy": ""})
    assert not await sink.accepts_bucket_events(TENANT, queue.arn, "elsewhere")


async def test_an_event_for_a_deleted_queue_is_dropped(queues: QueueService) -> None:
    queue = await queue_allowing(queues, "photos")
    await queues.delete_queue(queue)
    pending = await deliver(queues, queue.arn, RECORD)
    assert await pending.waiting(TENANT) == 0
    assert not await BucketEventQueues(queues).accepts_bucket_events(TENANT, queue.arn, "photos")


async def test_a_closed_tenants_queues_are_forgotten(queues: QueueService) -> None:
    queue = await queue_allowing(queues, "photos")
    await queues.send_message(queue, "left behind", {}, {}, None, "me")
    await queues.create_queue("999988887777", "theirs", {})
    assert await queues.forget_tenant(TENANT) == 1
    assert (await queues.list_queues(TENANT, "", None, None))[0] == []
    assert [q.name for q in (await queues.list_queues("999988887777", "", None, None))[0]] == [
        "theirs"
    ]
