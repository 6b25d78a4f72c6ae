"""SQS requests as metered (decision 0169): one per 64 KiB chunk of a call's payload — the
messages sent, or received — a batch by its whole payload, billed to the queue's owner; the
SQS app in process over a real BillingService, and the chunk rule on payloads too big for it."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.sqsapi.metering import billed_to, sqs_payload_bytes, sqs_requests
from support.sqsapp import REGION, Harness

KIB = 1024


def test_a_send_counts_its_body_and_attributes_by_64_kib_chunks() -> None:
    attributes = {
        "n": {"DataType": "Number", "StringValue": "12"},
        "raw": {"DataType": "Binary", "BinaryValue": base64.b64encode(b"\0" * 30).decode()},
    }
    params = {"QueueUrl": "u", "MessageBody": "é" * 10, "MessageAttributes": attributes}
    # Bytes, not characters; a binary value by its decoded bytes.
    assert sqs_payload_bytes("SendMessage", params, None) == 20 + (1 + 6 + 2) + (3 + 6 + 30)
    assert sqs_requests("SendMessage", {"MessageBody": "x" * 64 * KIB}, None) == 1
    assert sqs_requests("SendMessage", {"MessageBody": "x" * (64 * KIB + 1)}, None) == 2
    assert sqs_requests("SendMessage", {"MessageBody": "x" * 256 * KIB}, None) == 4


def test_a_batch_counts_the_chunks_of_its_whole_payload() -> None:
    def batch(*sizes: int) -> dict[str, object]:
        return {"Entries": [{"Id": str(i), "MessageBody": "x" * n} for i, n in enumerate(sizes)]}

    assert sqs_requests("SendMessageBatch", batch(*[KIB] * 10), None) == 1
    assert sqs_requests("SendMessageBatch", batch(40 * KIB, 40 * KIB), None) == 2
    assert sqs_requests("SendMessageBatch", {"Entries": "not a list"}, None) == 1


def test_a_receive_counts_what_it_returned_other_calls_one() -> None:
    answer = {"Messages": [{"Body": "x" * 50 * KIB}, {"Body": "y" * 50 * KIB}]}
    assert sqs_requests("ReceiveMessage", {}, answer) == 2
    assert sqs_requests("ReceiveMessage", {}, {}) == 1  # an empty receive is one request
    assert sqs_requests("ReceiveMessage", {}, None) == 1
    assert sqs_requests("DeleteMessageBatch", {"Entries": [{"Id": "1"}] * 10}, {}) == 1
    assert sqs_requests("GetQueueAttributes", {}, {"Attributes": {"x": "y" * 99 * KIB}}) == 1


def test_the_queue_owner_pays_else_the_caller() -> None:
    arn = "arn:aws:sqs:eu-de-1:owner-1:q"
    assert billed_to([arn], "caller-1", REGION) == ("owner-1", "eu-de-1")
    assert billed_to([], "caller-1", REGION) == ("caller-1", REGION)
    assert billed_to(["not-an-arn"], "caller-1", REGION) == ("caller-1", REGION)


@pytest.fixture
async def metered(sqs: Harness) -> tuple[Harness, BillingService]:
    """The harness of ``support.sqsapp``, whose app meters into a real BillingService."""
    return sqs, sqs.billing


async def sqs_requests_of(billing: BillingService, tenant_id: str) -> int:
    await billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    lines = (await billing.usage_report(tenant_id, month)).lines
    return sum(line.quantity for line in lines if line.meter == "sqs.requests")


async def test_each_call_is_billed_refusals_and_unknown_actions_not(
    metered: tuple[Harness, BillingService],
) -> None:
    sqs, billing = metered
    url = (await sqs.ok("CreateQueue", {"QueueName": "billed"}))["QueueUrl"]
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "hello"})
    entries = [{"Id": str(i), "MessageBody": "m"} for i in range(3)]
    await sqs.ok("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    await sqs.ok("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    assert await sqs_requests_of(billing, sqs.tenant_id) == 4
    # A client's error is a request (AWS bills it); a refusal (403) and an action that does
    # not exist are not.
    missing = await sqs.call("GetQueueUrl", {"QueueName": "absent"})
    assert missing.status == 400
    user = await sqs.iam_user("nobody")
    assert (await user.call("SendMessage", {"QueueUrl": url, "MessageBody": "x"})).status == 403
    assert (await sqs.call("Frobnicate", {})).status == 400
    assert await sqs_requests_of(billing, sqs.tenant_id) == 5
    # Another tenant's call on no queue is its own.
    other = await sqs.other_tenant("other")
    await other.ok("ListQueues", {})
    assert await sqs_requests_of(billing, other.tenant_id) == 1
    assert await sqs_requests_of(billing, sqs.tenant_id) == 5
