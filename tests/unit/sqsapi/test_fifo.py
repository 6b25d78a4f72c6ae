"""FIFO queues through the SQS JSON protocol in process (decision 0164): the name and
attribute rules with SQS's errors, sends' group and deduplication ids (content-based too),
duplicates answering the first message, sequence numbers, a group's order and its holding,
receive attempts, the FIFO system attributes, dead-letter queues of the same type, and
neither S3's events nor a standard SNS topic's messages into a FIFO queue."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from andromede.queues.fifo import check_fifo_attributes, dedup_key, group_key, send_ids
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.wiring.pubsub import TopicQueues
from andromede.wiring.queues import BucketEventQueues
from support.sqsapp import Harness


async def fifo(sqs: Harness, name: str = "q.fifo", **attributes: str) -> str:
    answer = await sqs.ok(
        "CreateQueue", {"QueueName": name, "Attributes": {"FifoQueue": "true", **attributes}}
    )
    return str(answer["QueueUrl"])


async def receive(sqs: Harness, url: str, **extra: Any) -> list[dict[str, Any]]:
    answer = await sqs.ok(
        "ReceiveMessage",
        {"QueueUrl": url, "MaxNumberOfMessages": 10, "AttributeNames": ["All"], **extra},
    )
    return list(answer.get("Messages", []))


async def test_names_and_attributes(sqs: Harness) -> None:
    url = await fifo(sqs, ContentBasedDeduplication="true")
    shown = (await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}))[
        "Attributes"
    ]
    assert shown["FifoQueue"] == "true" and shown["ContentBasedDeduplication"] == "true"
    assert shown["DeduplicationScope"] == "messageQueue"
    assert shown["FifoThroughputLimit"] == "perQueue"
    # The same creation again is the same queue; a different FIFO attribute is not.
    assert await fifo(sqs, ContentBasedDeduplication="true") == url
    other = await sqs.call(
        "CreateQueue",
        {"QueueName": "q.fifo", "Attributes": {"FifoQueue": "true", "DeduplicationScope": "x"}},
    )
    assert other.error_type == "InvalidAttributeValue"
    refusals = {
        "InvalidParameterValue": [
            {"QueueName": "plain", "Attributes": {"FifoQueue": "true"}},
            {"QueueName": "named.fifo", "Attributes": {}},
            {"QueueName": "a" * 76 + ".fifo", "Attributes": {"FifoQueue": "true"}},
        ],
        "InvalidAttributeName": [
            {"QueueName": "plain", "Attributes": {"ContentBasedDeduplication": "false"}},
        ],
        "InvalidAttributeValue": [
            {
                "QueueName": "h.fifo",
                "Attributes": {"FifoQueue": "true", "FifoThroughputLimit": "perMessageGroupId"},
            },
            {"QueueName": "h.fifo", "Attributes": {"FifoQueue": "maybe"}},
            {
                "QueueName": "h.fifo",
                "Attributes": {"FifoQueue": "true", "ContentBasedDeduplication": "yes"},
            },
        ],
    }
    for error, payloads in refusals.items():
        for payload in payloads:
            assert (await sqs.call("CreateQueue", payload)).error_type == error, payload
    high = await fifo(
        sqs, "h.fifo", DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    # FifoQueue is set at creation only; the others change.
    for attributes, error in (
        ({"FifoQueue": "false"}, "InvalidAttributeName"),
        ({"FifoThroughputLimit": "perMessageGroupId", "DeduplicationScope": "messageQueue"},
         "InvalidAttributeValue"),
    ):  # fmt: skip
        reply = await sqs.call("SetQueueAttributes", {"QueueUrl": high, "Attributes": attributes})
        assert reply.error_type == error
    await sqs.ok(
        "SetQueueAttributes",
        {"QueueUrl": high, "Attributes": {"ContentBasedDeduplication": "true"}},
    )


async def test_sends_dedup_and_sequence_numbers(sqs: Harness) -> None:
    url = await fifo(sqs)
    send = {"QueueUrl": url, "MessageBody": "one"}
    missing = await sqs.call("SendMessage", {**send, "MessageDeduplicationId": "d1"})
    assert missing.error_type == "MissingParameter"
    assert "MessageGroupId" in missing.error_fields()["message"]
    no_dedup = await sqs.call("SendMessage", {**send, "MessageGroupId": "g"})
    assert no_dedup.error_type == "InvalidParameterValue"
    delayed = await sqs.call(
        "SendMessage",
        {**send, "MessageGroupId": "g", "MessageDeduplicationId": "d1", "DelaySeconds": 1},
    )
    assert delayed.error_type == "InvalidParameterValue"
    # DelaySeconds 0 passes, as on SQS (some SDKs always send it); the queue's delay applies.
    zero = await sqs.ok(
        "SendMessage",
        {
            **send,
            "MessageBody": "zero",
            "MessageGroupId": "z",
            "MessageDeduplicationId": "z",
            "DelaySeconds": 0,
        },
    )
    assert zero["SequenceNumber"]
    bad_id = await sqs.call(
        "SendMessage", {**send, "MessageGroupId": "g h", "MessageDeduplicationId": "d1"}
    )
    assert bad_id.error_type == "InvalidParameterValue"
    first = await sqs.ok(
        "SendMessage", {**send, "MessageGroupId": "g", "MessageDeduplicationId": "d1"}
    )
    again = await sqs.ok(
        "SendMessage",
        {**send, "MessageBody": "other", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
    )
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    assert len(first["SequenceNumber"]) == 20
    batch = await sqs.ok(
        "SendMessageBatch",
        {
            "QueueUrl": url,
            "Entries": [
                {
                    "Id": "a",
                    "MessageBody": "two",
                    "MessageGroupId": "g",
                    "MessageDeduplicationId": "d2",
                },
                {
                    "Id": "b",
                    "MessageBody": "dup",
                    "MessageGroupId": "g",
                    "MessageDeduplicationId": "d1",
                },
                {"Id": "c", "MessageBody": "no group", "MessageDeduplicationId": "d3"},
            ],
        },
    )
    done = {one["Id"]: one for one in batch["Successful"]}
    assert done["b"]["MessageId"] == first["MessageId"]
    assert int(done["a"]["SequenceNumber"]) > int(first["SequenceNumber"])
    assert [(f["Id"], f["Code"]) for f in batch["Failed"]] == [("c", "MissingParameter")]
    got = await receive(sqs, url)
    assert [m["Body"] for m in got] == ["zero", "one", "two"]
    attributes = got[1]["Attributes"]
    assert attributes["MessageGroupId"] == "g"
    assert attributes["MessageDeduplicationId"] == "d1"
    assert attributes["SequenceNumber"] == first["SequenceNumber"]
    # A standard queue refuses the FIFO parameters.
    plain = (await sqs.ok("CreateQueue", {"QueueName": "plain"}))["QueueUrl"]
    refused = await sqs.call(
        "SendMessage", {"QueueUrl": plain, "MessageBody": "x", "MessageDeduplicationId": "d"}
    )
    assert refused.error_type == "InvalidParameterValue"
    everything = await sqs.ok("GetQueueAttributes", {"QueueUrl": plain, "AttributeNames": ["All"]})
    assert not {"FifoQueue", "ContentBasedDeduplication"} & set(everything["Attributes"])


async def test_content_based_dedup_and_groups_in_order(sqs: Harness) -> None:
    url = await fifo(sqs, ContentBasedDeduplication="true")
    for group, body in (("a", "a1"), ("b", "b1"), ("a", "a2"), ("a", "a1")):
        await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": body, "MessageGroupId": group})
    got = await receive(sqs, url, MaxNumberOfMessages=2)
    # The second "a1" was a duplicate by content (the SHA-256 of the body).
    assert [m["Body"] for m in got] == ["a1", "a2"]
    assert got[0]["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a1").hexdigest()
    # Group a is in flight: only b's message comes.
    assert [m["Body"] for m in await receive(sqs, url)] == ["b1"]
    assert await receive(sqs, url) == []
    # a1 made visible again comes back before a2, whose own visibility ends with it.
    await sqs.ok(
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": got[0]["ReceiptHandle"], "VisibilityTimeout": 0},
    )
    assert await receive(sqs, url) == []  # a2 still in flight holds the group
    await sqs.ok(
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": got[1]["ReceiptHandle"], "VisibilityTimeout": 0},
    )
    assert [m["Body"] for m in await receive(sqs, url)] == ["a1", "a2"]


async def test_receive_attempts(sqs: Harness) -> None:
    url = await fifo(sqs, ContentBasedDeduplication="true")
    for body in ("1", "2"):
        await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": body, "MessageGroupId": "g"})
    first = await receive(sqs, url, ReceiveRequestAttemptId="attempt-1")
    retried = await receive(sqs, url, ReceiveRequestAttemptId="attempt-1")
    assert [m["ReceiptHandle"] for m in retried] == [m["ReceiptHandle"] for m in first]
    assert await receive(sqs, url, ReceiveRequestAttemptId="attempt-2") == []
    bad = await sqs.call("ReceiveMessage", {"QueueUrl": url, "ReceiveRequestAttemptId": "x" * 129})
    assert bad.error_type == "InvalidParameterValue"


async def test_dead_letter_queue_of_the_same_type(sqs: Harness) -> None:
    fifo_dlq = await fifo(sqs, "dlq.fifo")
    plain = (await sqs.ok("CreateQueue", {"QueueName": "dlq"}))["QueueUrl"]
    arns = {}
    for url in (fifo_dlq, plain):
        shown = await sqs.ok(
            "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
        )
        arns[url] = shown["Attributes"]["QueueArn"]

    def redrive(url: str) -> dict[str, str]:
        policy = {"deadLetterTargetArn": arns[url], "maxReceiveCount": 1}
        return {"RedrivePolicy": json.dumps(policy)}

    mixed = await sqs.call(
        "CreateQueue",
        {"QueueName": "q.fifo", "Attributes": {"FifoQueue": "true", **redrive(plain)}},
    )
    assert mixed.error_type == "InvalidParameterValue"
    assert "same type" in mixed.error_fields()["message"]
    other = await sqs.call("CreateQueue", {"QueueName": "q", "Attributes": redrive(fifo_dlq)})
    assert other.error_type == "InvalidParameterValue"
    await fifo(sqs, "q.fifo", **redrive(fifo_dlq))


def _queue(name: str, **attributes: str) -> Queue:
    checked = check_fifo_attributes(name, {"FifoQueue": "true", **attributes})
    now = datetime(2026, 12, 5, tzinfo=UTC)
    return Queue("t1", name, "eu", checked, now, now)


def test_digests_bind_the_account_and_scope() -> None:
    queue = _queue("q.fifo")
    scoped = _queue("q.fifo", DeduplicationScope="messageGroup")
    assert group_key("t1", "g") != group_key("t2", "g")
    assert "g" not in group_key("t1", "g") and len(group_key("t1", "g")) == 64
    assert dedup_key(queue, "a", "d") == dedup_key(queue, "b", "d")
    assert dedup_key(scoped, "a", "d") != dedup_key(scoped, "b", "d")
    content = _queue("c.fifo", ContentBasedDeduplication="true")
    assert send_ids(content, "body", "g", None, None) == ("g", hashlib.sha256(b"body").hexdigest())


class _Clear:
    """A sealer that keeps the payload as it is: these checks never read a message."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes:
        return plaintext

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        return sealed


async def test_fifo_queues_take_no_s3_events_nor_standard_topics_messages() -> None:
    """S3 cannot name a FIFO queue as its events' destination, nor a standard SNS topic
    subscribe one (their messages have no group), even when its policy lets S3 in."""
    service = QueueService(MemoryQueueStore(), _Clear(), region="eu")
    events, subscribers = BucketEventQueues(service), TopicQueues(service, "eu")
    for name, fifo_queue in (("plain", False), ("q.fifo", True)):
        arn = f"arn:aws:sqs:eu:t1:{name}"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                }
            ],
        }
        attributes = {"Policy": json.dumps(policy)}
        if fifo_queue:
            attributes["FifoQueue"] = "true"
        await service.create_queue("t1", name, attributes)
        event = json.dumps({"Bucket": "b"})
        assert await events.accepts_bucket_events("t1", arn, "b") is not fifo_queue
        assert await events.deliver("t1", arn, event) is not fifo_queue
        assert await subscribers.may_subscribe("t1", arn) is not fifo_queue
        assert (
            await subscribers.send("t1", arn, "published", topic_arn="arn:aws:sns:eu:t1:feed")
        ) is not fifo_queue


async def test_high_throughput_deduplicates_per_group(sqs: Harness) -> None:
    """Decision 0173: with DeduplicationScope=messageGroup and perMessageGroupId, the same
    deduplication id in two groups is two messages, and a duplicate within one group is one."""
    url = await fifo(
        sqs, "h.fifo", DeduplicationScope="messageGroup", FifoThroughputLimit="perMessageGroupId"
    )
    sent = [
        await sqs.ok(
            "SendMessage",
            {
                "QueueUrl": url,
                "MessageBody": body,
                "MessageGroupId": group,
                "MessageDeduplicationId": "same",
            },
        )
        for group, body in (("a", "1"), ("b", "2"), ("a", "3"))
    ]
    assert sent[0]["MessageId"] != sent[1]["MessageId"]
    assert sent[2]["MessageId"] == sent[0]["MessageId"]
    assert sent[2]["SequenceNumber"] == sent[0]["SequenceNumber"]
    assert sorted(m["Body"] for m in await receive(sqs, url)) == ["1", "2"]
