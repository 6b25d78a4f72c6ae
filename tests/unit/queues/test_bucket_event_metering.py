"""Bucket events sent into a queue are that queue's SendMessages (decision 0169): the worker
through ``MeteredQueueSink`` over the real ``BucketEventQueues`` counts each event the queue
took as SQS requests of the queue's owner, by 64 KiB chunks; an event the queue's policy
refuses (dropped) counts nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.wiring.billing import MeteredQueueSink
from andromede.wiring.queues import BucketEventQueues, KeySealer

TENANT = "111122223333"


@pytest.fixture
async def queues(tmp_path: Path) -> AsyncIterator[QueueService]:
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    try:
        yield QueueService(MemoryQueueStore(), KeySealer(keys), region="eu")
    finally:
        keys.close()


async def queue_allowing(queues: QueueService, bucket: str) -> Queue:
    """A queue whose policy lets S3 send ``bucket``'s events (as AWS's guide writes it)."""
    queue = await queues.create_queue(TENANT, "events", {})
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue.arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
    }
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    return await queues.set_queue_attributes(queue, {"Policy": policy})


def record(bucket: str, padding: int = 0) -> str:
    event = {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": bucket}}}
    return json.dumps({"Records": [event], "pad": "x" * padding})


async def test_events_a_queue_took_are_its_owners_sqs_requests(queues: QueueService) -> None:
    queue = await queue_allowing(queues, "photos")
    billing = BillingService(MemoryBillingStore(), region="eu", instance_types=[])
    outbox = [
        (TENANT, queue.arn, record("photos"), None),  # 1 request
        (TENANT, queue.arn, record("photos", 70 * 1024), None),  # 2: over 64 KiB
        (TENANT, queue.arn, record("not-allowed"), None),  # refused by the queue's policy: none
    ]
    pending = MemoryEventQueue(outbox)
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=1)
    sink = MeteredQueueSink(BucketEventQueues(queues), billing)
    deliverer = Deliverer(pending, topics, DeliveryPolicy(), queues=sink)
    assert await deliverer.deliver_once() == 3
    await billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    lines = (await billing.usage_report(TENANT, month)).lines
    assert [(line.region, line.meter, line.quantity) for line in lines] == [
        ("eu", "sqs.requests", 3)
    ]
    await billing.close()
