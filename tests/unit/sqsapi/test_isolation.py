"""The tenant-isolation matrix for SQS: every action, aimed at a victim tenant's queue (named by
its URL, its name or one of its receipt handles) by another tenant's root user, by an IAM user
of the victim's own account that has no policy, and by an unsigned caller.

Another tenant's root acts only on its own account: it gets an error, or an answer about its
own account, never the victim's queue, messages or metadata. The user without policy gets
AccessDenied on every action. The unsigned caller gets MissingAuthenticationToken. None of
them changes anything the victim's root reads back. The recipe table must cover every action
(a test checks), so a new action cannot ship without its isolation case.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.sqsapi.actions import ACTIONS
from support.sqsapp import Harness

URL = "{url}"
HANDLE = "{handle}"
ACCOUNT = "{account}"
OPEN_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:*", "Resource": "*"}
        ],
    }
)

ARN = "{arn}"
TASK = "{task}"
RECIPES: dict[str, dict[str, Any]] = {
    "AddPermission": {
        "QueueUrl": URL,
        "Label": "intruder",
        "AWSAccountIds": ["123456789012"],
        "Actions": ["SendMessage"],
    },
    "CancelMessageMoveTask": {"TaskHandle": TASK},
    "ListMessageMoveTasks": {"SourceArn": ARN},
    "RemovePermission": {"QueueUrl": URL, "Label": "team"},
    "StartMessageMoveTask": {"SourceArn": ARN},
    "ChangeMessageVisibility": {"QueueUrl": URL, "ReceiptHandle": HANDLE, "VisibilityTimeout": 0},
    "ChangeMessageVisibilityBatch": {
        "QueueUrl": URL,
        "Entries": [{"Id": "a", "ReceiptHandle": HANDLE, "VisibilityTimeout": 0}],
    },
    "CreateQueue": {"QueueName": "victim", "Attributes": {"DelaySeconds": "9"}},
    "DeleteMessage": {"QueueUrl": URL, "ReceiptHandle": HANDLE},
    "DeleteMessageBatch": {"QueueUrl": URL, "Entries": [{"Id": "a", "ReceiptHandle": HANDLE}]},
    "DeleteQueue": {"QueueUrl": URL},
    "GetQueueAttributes": {"QueueUrl": URL, "AttributeNames": ["All"]},
    "GetQueueUrl": {"QueueName": "victim", "QueueOwnerAWSAccountId": ACCOUNT},
    "ListDeadLetterSourceQueues": {"QueueUrl": URL},
    "ListQueueTags": {"QueueUrl": URL},
    "ListQueues": {"QueueNamePrefix": "victim"},
    "PurgeQueue": {"QueueUrl": URL},
    "ReceiveMessage": {"QueueUrl": URL, "VisibilityTimeout": 0},
    "SendMessage": {"QueueUrl": URL, "MessageBody": "planted"},
    "SendMessageBatch": {"QueueUrl": URL, "Entries": [{"Id": "a", "MessageBody": "planted"}]},
    "SetQueueAttributes": {"QueueUrl": URL, "Attributes": {"Policy": OPEN_POLICY}},
    "TagQueue": {"QueueUrl": URL, "Tags": {"owner": "intruder"}},
    "UntagQueue": {"QueueUrl": URL, "TagKeys": ["team"]},
}


def test_every_action_has_an_isolation_case() -> None:
    assert set(RECIPES) == set(ACTIONS)


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


async def victim_world(root: Harness) -> dict[str, str]:
    """The victim's queue, with a tag, two messages, one of them in flight, a permission
    labelled ``team``; it is the dead-letter queue of another, under a running move task."""
    url = (await root.ok("CreateQueue", {"QueueName": "victim", "tags": {"team": "a"}}))["QueueUrl"]
    arn = f"arn:aws:sqs:eu-fr-1:{root.tenant_id}:victim"
    redrive = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    await root.ok("CreateQueue", {"QueueName": "source", "Attributes": {"RedrivePolicy": redrive}})
    await root.ok(
        "AddPermission",
        {"QueueUrl": url, "Label": "team", "AWSAccountIds": [root.tenant_id], "Actions": ["*"]},
    )
    for body in ("first", "second"):
        await root.ok("SendMessage", {"QueueUrl": url, "MessageBody": body})
    got = await root.ok("ReceiveMessage", {"QueueUrl": url, "VisibilityTimeout": 600})
    task = await root.ok(
        "StartMessageMoveTask", {"SourceArn": arn, "MaxNumberOfMessagesPerSecond": 1}
    )
    return {
        URL: url,
        HANDLE: got["Messages"][0]["ReceiptHandle"],
        ACCOUNT: root.tenant_id,
        ARN: arn,
        TASK: task["TaskHandle"],
    }


async def snapshot(root: Harness, url: str) -> list[Any]:
    attributes = (
        await root.ok(
            "GetQueueAttributes",
            {
                "QueueUrl": url,
                "AttributeNames": [
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                    "DelaySeconds",
                    "Policy",
                    "LastModifiedTimestamp",
                ],
            },
        )
    )["Attributes"]
    arn = f"arn:aws:sqs:eu-fr-1:{root.tenant_id}:victim"
    return [
        attributes,
        await root.ok("ListMessageMoveTasks", {"SourceArn": arn, "MaxResults": 10}),
        await root.ok("ListQueueTags", {"QueueUrl": url}),
        await root.ok("ListQueues", {}),
    ]


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_another_tenants_root_only_reaches_its_own_account(sqs: Harness, action: str) -> None:
    ids = await victim_world(sqs)
    before = await snapshot(sqs, ids[URL])
    intruder = await sqs.other_tenant("intruder")
    reply = await intruder.call(action, fill(RECIPES[action], ids))
    if reply.status != 200:
        assert 400 <= reply.status < 500
        assert reply.error_type in (
            "QueueDoesNotExist",
            "ReceiptHandleIsInvalid",
            "ResourceNotFoundException",  # a move task's handle: no task of the intruder's
        ), reply.body
    else:
        # Only its own account's answer: a queue of its own, never the victim's URL.
        assert sqs.tenant_id not in reply.body.decode()
    assert await snapshot(sqs, ids[URL]) == before


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_a_user_without_policy_is_denied(sqs: Harness, action: str) -> None:
    ids = await victim_world(sqs)
    before = await snapshot(sqs, ids[URL])
    powerless = await sqs.iam_user("powerless")
    reply = await powerless.call(action, fill(RECIPES[action], ids))
    assert (reply.status, reply.error_type) == (403, "AccessDenied"), reply.body
    assert await snapshot(sqs, ids[URL]) == before


@pytest.mark.parametrize("action", sorted(RECIPES))
async def test_an_unsigned_caller_is_refused(sqs: Harness, action: str) -> None:
    ids = await victim_world(sqs)
    before = await snapshot(sqs, ids[URL])
    reply = await sqs.anonymous().call(action, fill(RECIPES[action], ids))
    assert reply.error_type == "MissingAuthenticationToken"
    assert await snapshot(sqs, ids[URL]) == before
