"""Decision 0165 in process: another account reaching a queue by its policy (and only for the
actions SQS lets a policy grant), AddPermission and RemovePermission, the dead-letter queue's
RedriveAllowPolicy, the 12 hours' cap of a message's visibility, and message move tasks."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from andromede.queues.errors import InvalidParameterValue
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.move_tasks import MemoryMoveTaskStore
from andromede.queues.service import QueueService
from support.sqsapp import REGION, Harness


def arn_of(sqs: Harness, name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{sqs.tenant_id}:{name}"


async def url_of(sqs: Harness, name: str, **attributes: str) -> str:
    answer = await sqs.ok("CreateQueue", {"QueueName": name, "Attributes": attributes})
    return str(answer["QueueUrl"])


async def test_another_account_sends_and_receives_by_the_queue_policy(sqs: Harness) -> None:
    url = await url_of(sqs, "shared")
    other = await sqs.other_tenant("partner")
    # Before any grant: nothing tells the other account the queue exists.
    first = await other.call("SendMessage", {"QueueUrl": url, "MessageBody": "hi"})
    assert first.error_type == "QueueDoesNotExist"
    await sqs.ok(
        "AddPermission",
        {
            "QueueUrl": url,
            "Label": "partner",
            "AWSAccountIds": [other.tenant_id],
            "Actions": ["SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl"],
        },
    )
    found = await other.ok(
        "GetQueueUrl", {"QueueName": "shared", "QueueOwnerAWSAccountId": sqs.tenant_id}
    )
    assert found["QueueUrl"] == url
    sent = await other.ok("SendMessage", {"QueueUrl": url, "MessageBody": "from afar"})
    got = (await other.ok("ReceiveMessage", {"QueueUrl": url, "AttributeNames": ["SenderId"]}))[
        "Messages"
    ][0]
    assert got["MessageId"] == sent["MessageId"] and got["Body"] == "from afar"
    own = await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "from home"})
    mine = await sqs.ok("ReceiveMessage", {"QueueUrl": url, "AttributeNames": ["SenderId"]})
    assert mine["Messages"][0]["MessageId"] == own["MessageId"]
    # The sender is the other account's principal, not the owner's.
    assert got["Attributes"]["SenderId"] != mine["Messages"][0]["Attributes"]["SenderId"]
    await other.ok("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": got["ReceiptHandle"]})
    # Not granted, or never grantable: still a queue that does not exist.
    for action, extra in (
        ("GetQueueAttributes", {}),
        ("SetQueueAttributes", {"Attributes": {"DelaySeconds": "5"}}),
        ("DeleteQueue", {}),
        ("PurgeQueue", {}),
    ):
        refused = await other.call(action, {"QueueUrl": url, **extra})
        assert refused.error_type == "QueueDoesNotExist", action
    # An IAM user of the other account needs its own account's allow too.
    user = await other.iam_user("worker")
    assert (await user.call("SendMessage", {"QueueUrl": url, "MessageBody": "x"})).error_type == (
        "QueueDoesNotExist"
    )
    policy = await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["Policy"]})
    statement = json.loads(policy["Attributes"]["Policy"])["Statement"][0]
    assert statement["Sid"] == "partner"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{other.tenant_id}:root"}
    await sqs.ok("RemovePermission", {"QueueUrl": url, "Label": "partner"})
    gone = await other.call("SendMessage", {"QueueUrl": url, "MessageBody": "hi"})
    assert gone.error_type == "QueueDoesNotExist"
    shown = await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["Policy"]})
    assert "Policy" not in shown.get("Attributes", {})


async def test_add_permission_refusals(sqs: Harness) -> None:
    url = await url_of(sqs, "q")
    base = {"QueueUrl": url, "Label": "a", "AWSAccountIds": ["123456789012"]}
    too_many = await sqs.call("AddPermission", {**base, "Actions": ["SendMessage"] * 8})
    assert too_many.error_type == "OverLimit"
    owner_only = await sqs.call("AddPermission", {**base, "Actions": ["DeleteQueue"]})
    assert owner_only.error_type == "InvalidParameterValue"
    await sqs.ok("AddPermission", {**base, "Actions": ["*"]})
    again = await sqs.call("AddPermission", {**base, "Actions": ["SendMessage"]})
    assert again.error_type == "InvalidParameterValue"
    missing = await sqs.call("RemovePermission", {"QueueUrl": url, "Label": "nope"})
    assert missing.error_type == "InvalidParameterValue"


async def test_redrive_allow_policy(sqs: Harness) -> None:
    dlq = await url_of(sqs, "dlq")
    redrive = json.dumps({"deadLetterTargetArn": arn_of(sqs, "dlq"), "maxReceiveCount": 2})
    await sqs.ok(
        "SetQueueAttributes",
        {
            "QueueUrl": dlq,
            "Attributes": {
                "RedriveAllowPolicy": json.dumps(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(sqs, "allowed")]}
                )
            },
        },
    )
    await url_of(sqs, "allowed", RedrivePolicy=redrive)
    refused = await sqs.call(
        "CreateQueue", {"QueueName": "other", "Attributes": {"RedrivePolicy": redrive}}
    )
    assert refused.error_type == "InvalidParameterValue"
    for wrong in (
        {"redrivePermission": "sometimes"},
        {"redrivePermission": "allowAll", "sourceQueueArns": [arn_of(sqs, "x")]},
        {"redrivePermission": "byQueue", "sourceQueueArns": []},
        {
            "redrivePermission": "byQueue",
            "sourceQueueArns": [arn_of(sqs, f"q{n}") for n in range(11)],
        },
    ):
        bad = await sqs.call(
            "SetQueueAttributes",
            {"QueueUrl": dlq, "Attributes": {"RedriveAllowPolicy": json.dumps(wrong)}},
        )
        assert bad.error_type == "InvalidAttributeValue", wrong
    await sqs.ok(
        "SetQueueAttributes",
        {"QueueUrl": dlq, "Attributes": {"RedriveAllowPolicy": '{"redrivePermission":"denyAll"}'}},
    )
    denied = await sqs.call(
        "CreateQueue", {"QueueName": "third", "Attributes": {"RedrivePolicy": redrive}}
    )
    assert denied.error_type == "InvalidParameterValue"


async def test_visibility_is_capped_at_twelve_hours_from_the_first_receive(sqs: Harness) -> None:
    clock = [datetime(2026, 12, 5, 9, tzinfo=UTC)]
    store = MemoryQueueStore()
    queues = QueueService(store, _NoSeal(), region=REGION, clock=lambda: clock[0])
    queue = await queues.create_queue("t", "q", {})
    await queues.send_message(queue, "x", {}, {}, None, "t")
    got = (await queues.receive(queue, max_messages=1, visibility=43_000, wait=0))[0]
    await queues.change_visibility(queue, got.receipt_handle, 43_200)  # 12 h from now: ok
    clock[0] += timedelta(hours=11)
    await queues.change_visibility(queue, got.receipt_handle, 3_600)  # up to 12 h: ok
    with pytest.raises(InvalidParameterValue, match=r"beyond the limit \[43200 seconds\]"):
        await queues.change_visibility(queue, got.receipt_handle, 3_601)


class _NoSeal:
    """A sealer that keeps the payload as it is: this test is about visibility only."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes:
        return b"\x01" + plaintext

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        return sealed[1:]


async def test_a_move_task_redrives_a_dead_letter_queue_back_at_its_rate(sqs: Harness) -> None:
    dlq = await url_of(sqs, "dlq")
    redrive = json.dumps({"deadLetterTargetArn": arn_of(sqs, "dlq"), "maxReceiveCount": 1})
    source = await url_of(sqs, "work", RedrivePolicy=redrive)
    for n in range(5):
        await sqs.ok("SendMessage", {"QueueUrl": source, "MessageBody": f"m{n}"})
    await sqs.ok(
        "ReceiveMessage", {"QueueUrl": source, "MaxNumberOfMessages": 10, "VisibilityTimeout": 0}
    )
    # The next receive moves them all to the dead-letter queue.
    assert "Messages" not in await sqs.ok(
        "ReceiveMessage", {"QueueUrl": source, "MaxNumberOfMessages": 10}
    )
    not_dlq = await sqs.call("StartMessageMoveTask", {"SourceArn": arn_of(sqs, "work")})
    assert not_dlq.error_type == "InvalidParameterValue"
    missing = await sqs.call("StartMessageMoveTask", {"SourceArn": arn_of(sqs, "nothing")})
    assert (missing.status, missing.error_type) == (404, "ResourceNotFoundException")
    started = await sqs.ok(
        "StartMessageMoveTask", {"SourceArn": arn_of(sqs, "dlq"), "MaxNumberOfMessagesPerSecond": 2}
    )
    twice = await sqs.call("StartMessageMoveTask", {"SourceArn": arn_of(sqs, "dlq")})
    assert twice.error_type == "InvalidParameterValue"
    listed = (await sqs.ok("ListMessageMoveTasks", {"SourceArn": arn_of(sqs, "dlq")}))["Results"]
    assert listed[0]["Status"] == "RUNNING" and listed[0]["TaskHandle"] == started["TaskHandle"]
    assert listed[0]["ApproximateNumberOfMessagesToMove"] == 5
    # A pass moves at most the rate times the time since the last one.
    _passed_over(sqs, seconds_ago=1)
    assert await sqs.mover.run_pass() == 2
    _passed_over(sqs, seconds_ago=10)
    assert await sqs.mover.run_pass() == 3
    done = (await sqs.ok("ListMessageMoveTasks", {"SourceArn": arn_of(sqs, "dlq")}))["Results"][0]
    assert done["Status"] == "COMPLETED" and done["ApproximateNumberOfMessagesMoved"] == 5
    assert "TaskHandle" not in done
    bodies = await sqs.ok("ReceiveMessage", {"QueueUrl": source, "MaxNumberOfMessages": 10})
    assert sorted(m["Body"] for m in bodies["Messages"]) == [f"m{n}" for n in range(5)]
    assert "Messages" not in await sqs.ok("ReceiveMessage", {"QueueUrl": dlq})
    # Cancelling: a new task, cancelled before any pass.
    await sqs.ok("SendMessage", {"QueueUrl": dlq, "MessageBody": "late"})
    again = await sqs.ok("StartMessageMoveTask", {"SourceArn": arn_of(sqs, "dlq")})
    cancelled = await sqs.ok("CancelMessageMoveTask", {"TaskHandle": again["TaskHandle"]})
    assert cancelled["ApproximateNumberOfMessagesMoved"] == 0
    gone = await sqs.call("CancelMessageMoveTask", {"TaskHandle": again["TaskHandle"]})
    assert gone.error_type == "ResourceNotFoundException"
    statuses = await sqs.ok(
        "ListMessageMoveTasks", {"SourceArn": arn_of(sqs, "dlq"), "MaxResults": 10}
    )
    assert [r["Status"] for r in statuses["Results"]] == ["CANCELLED", "COMPLETED"]


def _passed_over(sqs: Harness, *, seconds_ago: float) -> None:
    """As if each task of the harness had last been passed over ``seconds_ago``."""
    tasks = sqs.mover._tasks
    assert isinstance(tasks, MemoryMoveTaskStore)
    then = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    for task_id, task in tasks._tasks.items():
        tasks._tasks[task_id] = dataclasses.replace(task, updated_at=then)


async def test_a_move_task_sends_each_message_back_where_it_came_from(sqs: Harness) -> None:
    dlq = await url_of(sqs, "dlq")
    redrive = json.dumps({"deadLetterTargetArn": arn_of(sqs, "dlq"), "maxReceiveCount": 1})
    sources = {name: await url_of(sqs, name, RedrivePolicy=redrive) for name in ("a", "b")}
    for name, url in sources.items():
        await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": f"from-{name}"})
        await sqs.ok("ReceiveMessage", {"QueueUrl": url, "VisibilityTimeout": 0})
        assert "Messages" not in await sqs.ok("ReceiveMessage", {"QueueUrl": url})
    shown = await sqs.ok(
        "GetQueueAttributes", {"QueueUrl": dlq, "AttributeNames": ["ApproximateNumberOfMessages"]}
    )
    assert shown["Attributes"]["ApproximateNumberOfMessages"] == "2"
    await sqs.ok("StartMessageMoveTask", {"SourceArn": arn_of(sqs, "dlq")})
    _passed_over(sqs, seconds_ago=1)
    assert await sqs.mover.run_pass() == 2
    for name, url in sources.items():
        got = await sqs.ok("ReceiveMessage", {"QueueUrl": url})
        assert [m["Body"] for m in got["Messages"]] == [f"from-{name}"]
