"""SNS FIFO topics (decision 0171), in process, called and parsed with botocore's own SNS
model over the real services (in-memory stores, real FIFO queues with sealed messages, the
real delivery worker): CreateTopic's FIFO rules and attributes, Publish and PublishBatch with
their group and deduplication ids (a duplicate answered with the first message's id and
sequence number, and delivered once), content-based deduplication, the refusals in SNS's
words, subscriptions to FIFO queues only, the envelope's SequenceNumber, and the worker
keeping a group's order when a delivery has to be tried again."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.model import Topic
from andromede.notifications.pubsub import Delivery, PubSubService
from andromede.queues.model import Queue
from support.snsworld import Sns, refused, sns_world


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path) as made:
        yield made


async def fifo_topic(sns: Sns, name: str = "orders.fifo", **attributes: str) -> str:
    answer = await sns.root.call(
        "sns", "CreateTopic", Name=name, Attributes={"FifoTopic": "true", **attributes}
    )
    return str(answer["TopicArn"])


async def fifo_queue(sns: Sns, name: str = "orders-q.fifo") -> Queue:
    return await sns.queues.create_queue(sns.world.tenant_id, name, {"FifoQueue": "true"})


async def subscribe(sns: Sns, topic: str, queue: Queue, *, raw: bool = True) -> str:
    attributes = {"RawMessageDelivery": "true"} if raw else {}
    answer = await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes=attributes,
    )
    return str(answer["SubscriptionArn"])


async def drained(sns: Sns, queue: Queue) -> list[tuple[str | None, str]]:
    """(group, body) of every message the queue hands out, deleting each."""
    await sns.deliverer.deliver_once()
    found: list[tuple[str | None, str]] = []
    while got := await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0):
        for message in got:
            found.append((message.group_id, message.payload.body))
            await sns.queues.delete_message(queue, message.receipt_handle)
    return found


async def test_create_topic_fifo_rules_and_attributes(sns: Sns) -> None:
    arn = await fifo_topic(sns)
    assert arn.endswith(":orders.fifo")
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert shown["FifoTopic"] == "true" and shown["ContentBasedDeduplication"] == "false"
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="ContentBasedDeduplication",
        AttributeValue="true",
    )
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert shown["ContentBasedDeduplication"] == "true"
    # FifoTopic is set at creation only; a .fifo name and FifoTopic=true go together.
    for value in ("false", "true"):
        await refused(
            sns.root,
            "SetTopicAttributes",
            "InvalidParameter",
            TopicArn=arn,
            AttributeName="FifoTopic",
            AttributeValue=value,
        )
    await refused(sns.root, "CreateTopic", "InvalidParameter", Name="plain.fifo")
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="plain",
        Attributes={"FifoTopic": "true"},
    )
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="plain",
        Attributes={"ContentBasedDeduplication": "true"},
    )
    standard = str((await sns.root.call("sns", "CreateTopic", Name="plain"))["TopicArn"])
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=standard))["Attributes"]
    assert "FifoTopic" not in shown


async def test_publish_in_order_per_group_a_duplicate_once(sns: Sns) -> None:
    arn = await fifo_topic(sns)
    queue = await fifo_queue(sns)
    await subscribe(sns, arn, queue)
    answers = []
    for n, (group, dedup) in enumerate(
        [("a", "1"), ("b", "2"), ("a", "3"), ("a", "1"), ("b", "4")]
    ):
        answers.append(
            await sns.root.call(
                "sns",
                "Publish",
                TopicArn=arn,
                Message=f"m{n}",
                MessageGroupId=group,
                MessageDeduplicationId=dedup,
            )
        )
    # The duplicate answers the first's id and sequence number; sequence numbers grow.
    assert answers[3]["MessageId"] == answers[0]["MessageId"]
    assert answers[3]["SequenceNumber"] == answers[0]["SequenceNumber"]
    numbers = [int(a["SequenceNumber"]) for n, a in enumerate(answers) if n != 3]
    assert numbers == sorted(numbers) and len(set(numbers)) == 4
    got = await drained(sns, queue)
    assert [body for group, body in got if group == "a"] == ["m0", "m2"]
    assert [body for group, body in got if group == "b"] == ["m1", "m4"]
    assert len(got) == 4


async def test_content_based_deduplication_and_the_envelope(sns: Sns) -> None:
    arn = await fifo_topic(sns, ContentBasedDeduplication="true")
    queue = await fifo_queue(sns)
    await subscribe(sns, arn, queue, raw=False)
    first = await sns.root.call("sns", "Publish", TopicArn=arn, Message="same", MessageGroupId="g")
    again = await sns.root.call("sns", "Publish", TopicArn=arn, Message="same", MessageGroupId="h")
    assert again["MessageId"] == first["MessageId"]
    got = await drained(sns, queue)
    assert len(got) == 1 and got[0][0] == "g"
    envelope = json.loads(got[0][1])
    assert envelope["Message"] == "same" and envelope["MessageId"] == first["MessageId"]
    assert envelope["SequenceNumber"] == first["SequenceNumber"]


async def test_publish_batch_on_a_fifo_topic(sns: Sns) -> None:
    arn = await fifo_topic(sns)
    queue = await fifo_queue(sns)
    await subscribe(sns, arn, queue)
    entries = [
        {"Id": "a", "Message": "one", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "b", "Message": "two", "MessageGroupId": "g", "MessageDeduplicationId": "d2"},
        {"Id": "c", "Message": "dup", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "d", "Message": "no group", "MessageDeduplicationId": "d3"},
    ]
    answer = await sns.root.call(
        "sns", "PublishBatch", TopicArn=arn, PublishBatchRequestEntries=entries
    )
    ok = {entry["Id"]: entry for entry in answer["Successful"]}
    assert set(ok) == {"a", "b", "c"} and ok["c"]["MessageId"] == ok["a"]["MessageId"]
    assert all("SequenceNumber" in entry for entry in ok.values())
    assert [entry["Id"] for entry in answer["Failed"]] == ["d"]
    assert await drained(sns, queue) == [("g", "one"), ("g", "two")]


async def test_refusals_in_sns_words(sns: Sns) -> None:
    arn = await fifo_topic(sns)
    error = await refused(sns.root, "Publish", "InvalidParameter", TopicArn=arn, Message="m")
    assert "MessageGroupId" in error.message
    error = await refused(
        sns.root, "Publish", "InvalidParameter", TopicArn=arn, Message="m", MessageGroupId="g"
    )
    assert "ContentBasedDeduplication" in error.message
    standard = str((await sns.root.call("sns", "CreateTopic", Name="plain"))["TopicArn"])
    for parameter in ("MessageGroupId", "MessageDeduplicationId"):
        error = await refused(
            sns.root,
            "Publish",
            "InvalidParameter",
            TopicArn=standard,
            Message="m",
            **{parameter: "x"},
        )
        assert "not valid for this topic type" in error.message
    # Subscriptions: a FIFO topic takes queues only (standard ones too since decision 0175,
    # tested in test_sns_archive.py), a standard topic no FIFO queue.
    fifo = await fifo_queue(sns)
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="https",
        Endpoint="https://example.com/hook",
    )
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=standard,
        Protocol="sqs",
        Endpoint=fifo.arn,
    )
    # S3's events have no message group: a FIFO topic takes none.
    assert not await sns.topics.accepts_bucket_events(sns.world.tenant_id, arn, "bucket")


class _FailingOnce:
    """The worker's subscribers, the delivery of one message body failing once."""

    def __init__(self, pubsub: PubSubService, body: str) -> None:
        self._pubsub = pubsub
        self._body = body
        self.failed = False

    async def fan_out_event(self, topic: Topic, message: str, trace: str | None = None) -> None:
        await self._pubsub.fan_out_event(topic, message, trace)

    async def delivery(self, arn: str, message: str) -> Delivery | None:
        return await self._pubsub.delivery(arn, message)

    async def send_to_queue(self, delivery: Delivery, trace: str | None = None) -> bool:
        if delivery.body == self._body and not self.failed:
            self.failed = True
            raise ConnectionError("the queue's store is out of reach")
        return await self._pubsub.send_to_queue(delivery, trace)

    async def dead_letter(self, delivery: Delivery) -> bool:
        return await self._pubsub.dead_letter(delivery)

    async def expire_pending(self, *, topic_arn: str | None = None) -> int:
        return await self._pubsub.expire_pending(topic_arn=topic_arn)


async def test_a_retried_delivery_is_not_overtaken_by_its_group(sns: Sns) -> None:
    """The worker sends a FIFO topic's messages to one subscription one after the other: m0
    failing puts m1 and m2 back behind it (their claim not counted), so the queue gets none
    before m0; m3, published while m0 waits for its retry, is not claimed before it; then all
    four come in order."""
    arn = await fifo_topic(sns)
    queue = await fifo_queue(sns)
    await subscribe(sns, arn, queue)

    async def publish(n: int) -> None:
        await sns.root.call(
            "sns",
            "Publish",
            TopicArn=arn,
            Message=f"m{n}",
            MessageGroupId="g",
            MessageDeduplicationId=str(n),
        )

    for n in range(3):
        await publish(n)
    flaky = _FailingOnce(sns.pubsub, "m0")
    worker = Deliverer(sns.events, sns.topics, DeliveryPolicy(), subscribers=flaky)
    assert await worker.deliver_once() == 3
    assert flaky.failed
    assert await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0) == []
    await publish(3)
    assert await worker.deliver_once() == 0  # m3 waits behind m0's retry
    later = datetime.now(UTC) + timedelta(hours=2)
    held = await sns.events.claim(later, lease=timedelta(seconds=60), limit=10)
    assert [event.attempts for event in held] == [2, 1, 1, 1]
    for event in held:
        await sns.events.retry(event, later, "claimed by the test", spent=False)
    worker = Deliverer(
        sns.events, sns.topics, DeliveryPolicy(), subscribers=sns.pubsub, clock=lambda: later
    )
    assert await worker.deliver_once() == 4
    got = await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0)
    assert [m.payload.body for m in got] == ["m0", "m1", "m2", "m3"]
