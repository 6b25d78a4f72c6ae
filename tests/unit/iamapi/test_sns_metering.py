"""SNS as metered (decision 0169), in process over the real services with botocore's SNS
model: every call a request of its caller, a publish one per 64 KiB chunk of its data (a
batch by its whole payload), refusals and unsigned calls not billed; each notification taken
by a subscriber one delivery of the topic's account, by protocol, and, into a queue, one SQS
request of the queue's owner; a subscription's confirmation no delivery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iamapi.sns_metering import sns_payload_bytes
from andromede.notifications.delivery import Deliverer
from andromede.notifications.pubsub import Delivery
from andromede.notifications.subscriptions import Subscription
from andromede.queues.service import QueueService
from andromede.wiring.billing import delivery_meter
from support.queryapp import REGION, ApiError, World
from support.snsworld import sns_world

KIB = 1024


def test_published_data_is_the_message_subject_and_attributes() -> None:
    publish = {
        "Action": "Publish",
        "TopicArn": "arn:aws:sns:eu-fr-1:1:t",
        "Message": "é" * 10,
        "Subject": "hi",
        "MessageAttributes.entry.1.Name": "store",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "acme",
    }
    assert sns_payload_bytes("Publish", publish) == 20 + 2 + 5 + 6 + 4
    batch = {
        "TopicArn": "arn:aws:sns:eu-fr-1:1:t",
        "PublishBatchRequestEntries.member.1.Id": "a",
        "PublishBatchRequestEntries.member.1.Message": "x" * 40 * KIB,
        "PublishBatchRequestEntries.member.2.Id": "b",
        "PublishBatchRequestEntries.member.2.Message": "y" * 40 * KIB,
    }
    assert sns_payload_bytes("PublishBatch", batch) == 80 * KIB  # ids are not data
    assert sns_payload_bytes("CreateTopic", {"Name": "x" * 100 * KIB}) == 0


@dataclass
class Metered:
    world: World
    billing: BillingService
    queues: QueueService
    deliverer: Deliverer

    async def usage(self, tenant_id: str) -> dict[str, int]:
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(tenant_id, month)
        return {line.meter: line.quantity for line in report.lines}


@pytest.fixture
async def metered(tmp_path: Path) -> AsyncIterator[Metered]:
    """``support.snsworld``'s SNS, its app and worker metering into a real BillingService."""
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    try:
        async with sns_world(tmp_path, billing=billing) as sns:
            yield Metered(sns.world, billing, sns.queues, sns.deliverer)
    finally:
        await billing.close()


async def test_requests_of_the_caller_and_deliveries_of_the_topic(metered: Metered) -> None:
    world = metered.world
    root = world.client(world.root)
    arn = (await root.call("sns", "CreateTopic", Name="orders"))["TopicArn"]
    queue = await metered.queues.create_queue(world.tenant_id, "orders-q", {})
    await root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    # A queue gone before its messages come: attempts that fail are no deliveries.
    gone = await metered.queues.create_queue(world.tenant_id, "gone-q", {})
    await root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=gone.arn)
    await metered.queues.delete_queue(gone)
    await root.call("sns", "Publish", TopicArn=arn, Message="one")
    entries = [{"Id": "a", "Message": "two"}, {"Id": "b", "Message": "three"}]
    await root.call("sns", "PublishBatch", TopicArn=arn, PublishBatchRequestEntries=entries)
    # A client's error is a request; an IAM user's refused call (403) is not.
    with pytest.raises(ApiError):
        await root.call("sns", "GetTopicAttributes", TopicArn=arn + "-absent")
    await world.identity.create_user(world.tenant_id, "nobody")
    key = await world.identity.create_access_key(world.tenant_id, "nobody")
    nobody = world.client(Credentials(key.key.access_key_id, key.secret_access_key))
    with pytest.raises(ApiError) as refused:
        await nobody.call("sns", "Publish", TopicArn=arn, Message="no")
    assert refused.value.status == 403
    for _ in range(2):
        await metered.deliverer.deliver_once()
    found = await metered.usage(world.tenant_id)
    assert found == {
        # CreateTopic, 2 Subscribes, Publish, PublishBatch, the failed GetTopicAttributes.
        "sns.requests": 6,
        "sns.deliveries.sqs": 3,
        "sqs.requests": 3,  # the queue's SendMessages, each envelope well under 64 KiB
    }


def _delivery(protocol: str, endpoint: str, kind: str, body: str = "{}") -> Delivery:
    subscription = Subscription(
        arn="arn:aws:sns:eu-fr-1:topic-owner:t:1",
        topic_arn="arn:aws:sns:eu-fr-1:topic-owner:t",
        tenant_id="topic-owner",
        owner="subscriber",
        protocol=protocol,
        endpoint=endpoint,
        attributes={},
        token=None,
        created_at=datetime(2026, 12, 5, tzinfo=UTC),
    )
    return Delivery(subscription, body, {"x-amz-sns-message-type": kind})


async def test_the_delivery_meter_by_protocol_and_chunks_into_the_queue() -> None:
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    meter = delivery_meter(billing, REGION)
    meter(_delivery("https", "https://example.test/hook", "Notification"))
    meter(_delivery("http", "http://example.test/hook", "Notification"))
    meter(_delivery("https", "https://example.test/hook", "SubscriptionConfirmation"))
    # Mails (decision 0180): both email protocols, never the confirmation.
    meter(_delivery("email", "ops@example.test", "Notification"))
    meter(_delivery("email-json", "ops@example.test", "Notification"))
    meter(_delivery("email", "ops@example.test", "SubscriptionConfirmation"))
    queue = "arn:aws:sqs:eu-de-1:queue-owner:q"
    meter(_delivery("sqs", queue, "Notification", "x" * 100 * KIB))  # 2 chunks
    await billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    topic_owner = await billing.usage_report("topic-owner", month)
    assert {(line.meter, line.quantity) for line in topic_owner.lines} == {
        ("sns.deliveries.http", 2),
        ("sns.deliveries.sqs", 1),
        ("sns.deliveries.email", 2),
    }
    queue_owner = await billing.usage_report("queue-owner", month)
    assert [(line.region, line.meter, line.quantity) for line in queue_owner.lines] == [
        ("eu-de-1", "sqs.requests", 2)
    ]
    await billing.close()
