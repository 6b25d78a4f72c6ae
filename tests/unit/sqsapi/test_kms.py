"""SSE-KMS queues (decision 0165) in process, over the real CustomerKeyService and key sealer:
the attributes' rules, a message sealed under the queue's key (and not under the tenant's
ring), KMS's errors in SQS's shape when the key is disabled, pending deletion, missing or not
the caller's to use, old messages readable under their own key after the queue's key changes,
``alias/aws/sqs``, the data key reuse period's cache and its metering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from andromede.billing.model import parse_month
from andromede.queues.sealing import KMS_FORMAT
from support.sqsapp import Harness


async def kms_queue(sqs: Harness, key_ref: str, name: str = "secret", **more: str) -> str:
    answer = await sqs.ok(
        "CreateQueue", {"QueueName": name, "Attributes": {"KmsMasterKeyId": key_ref, **more}}
    )
    return str(answer["QueueUrl"])


async def receive_bodies(sqs: Harness, url: str) -> list[str]:
    got = await sqs.ok("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    return [m["Body"] for m in got.get("Messages", [])]


async def test_attributes_follow_sqs_rules(sqs: Harness) -> None:
    key = await sqs.keys.create_key(sqs.key_caller())
    url = await kms_queue(sqs, key.key_id)
    shown = (await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}))[
        "Attributes"
    ]
    assert shown["KmsMasterKeyId"] == key.key_id
    assert shown["KmsDataKeyReusePeriodSeconds"] == "300"
    assert shown["SqsManagedSseEnabled"] == "false"
    both = await sqs.call(
        "CreateQueue",
        {
            "QueueName": "both",
            "Attributes": {"KmsMasterKeyId": key.key_id, "SqsManagedSseEnabled": "true"},
        },
    )
    assert both.error_type == "InvalidAttributeValue"
    for period in ("59", "86401"):
        wrong = await sqs.call(
            "SetQueueAttributes",
            {"QueueUrl": url, "Attributes": {"KmsDataKeyReusePeriodSeconds": period}},
        )
        assert wrong.error_type == "InvalidAttributeValue"
    # Back to SSE-SQS: the key goes.
    await sqs.ok(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"SqsManagedSseEnabled": "true"}}
    )
    shown = (await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]}))[
        "Attributes"
    ]
    assert "KmsMasterKeyId" not in shown and shown["SqsManagedSseEnabled"] == "true"


async def test_a_disabled_key_stops_sends_and_receives_then_enabling_restores(
    sqs: Harness,
) -> None:
    key = await sqs.keys.create_key(sqs.key_caller())
    url = await kms_queue(sqs, key.arn)
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "under the key"})
    now = datetime.now(UTC)
    # What the store holds: the KMS form, naming the key, the body nowhere in clear.
    stored = await sqs.store.receive(
        sqs.tenant_id,
        "secret",
        now,
        limit=1,
        visible_until=now,
        receipts=["peek"],
        redrive=None,
        in_flight_limit=10,
    )
    assert stored[0].sealed[:1] == KMS_FORMAT and key.arn.encode() in stored[0].sealed
    assert b"under the key" not in stored[0].sealed
    await sqs.keys.disable_key(sqs.key_caller(), key.key_id)
    refused = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "no"})
    assert (refused.status, refused.error_type) == (400, "KmsDisabled")
    assert refused.headers["x-amzn-query-error"] == "KMS.DisabledException;Sender"
    unreadable = await sqs.call("ReceiveMessage", {"QueueUrl": url})
    assert unreadable.error_type == "KmsDisabled"
    assert b"under the key" not in unreadable.body
    await sqs.keys.enable_key(sqs.key_caller(), key.key_id)
    # The refused receive put the message back at once, not hidden for the timeout.
    assert await receive_bodies(sqs, url) == ["under the key"]
    await sqs.keys.schedule_key_deletion(sqs.key_caller(), key.key_id, 7)
    pending = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "no"})
    assert pending.error_type == "KmsInvalidState"
    assert pending.headers["x-amzn-query-error"] == "KMS.InvalidStateException;Sender"
    await sqs.audit.flush()
    events = [e for _, e in await sqs.audit_store.list_events(None, after_id=0, limit=500)]
    failures = [
        e for e in events if e.action == "kms:GenerateDataKey" and e.outcome.value != "success"
    ]
    assert failures and all(e.resource == key.arn for e in failures)


async def test_a_missing_key_is_not_found(sqs: Harness) -> None:
    url = await kms_queue(sqs, "alias/nothing-here")
    refused = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "no"})
    assert refused.error_type == "KmsNotFound"
    assert refused.headers["x-amzn-query-error"] == "KMS.NotFoundException;Sender"


async def test_changing_the_key_keeps_old_messages_under_theirs(sqs: Harness) -> None:
    first = await sqs.keys.create_key(sqs.key_caller())
    second = await sqs.keys.create_key(sqs.key_caller())
    url = await kms_queue(sqs, first.key_id)
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "one"})
    await sqs.ok(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"KmsMasterKeyId": second.key_id}}
    )
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "two"})
    await sqs.keys.disable_key(sqs.key_caller(), second.key_id)
    # "two" is under the disabled key: the receive of both fails, nothing in clear.
    assert (
        await sqs.call("ReceiveMessage", {"QueueUrl": url, "MaxNumberOfMessages": 10})
    ).error_type == "KmsDisabled"
    await sqs.keys.enable_key(sqs.key_caller(), second.key_id)
    await sqs.keys.disable_key(sqs.key_caller(), first.key_id)
    # New sends use the second key, whatever the first's state.
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "three"})
    await sqs.keys.enable_key(sqs.key_caller(), first.key_id)
    assert sorted(await receive_bodies(sqs, url)) == ["one", "three", "two"]


async def test_the_aws_managed_key_and_the_reuse_period(sqs: Harness) -> None:
    url = await kms_queue(sqs, "alias/aws/sqs", KmsDataKeyReusePeriodSeconds="60")
    for n in range(3):
        await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": f"m{n}"})
    assert sorted(await receive_bodies(sqs, url)) == ["m0", "m1", "m2"]
    listed, _ = await sqs.keys.list_aliases(sqs.key_caller(), key_ref=None, limit=100, marker=None)
    assert "alias/aws/sqs" in [alias.name for alias in listed]
    await sqs.audit.flush()
    events = [e for _, e in await sqs.audit_store.list_events(None, after_id=0, limit=500)]
    # One data key made for three messages, one opened for three: two KMS requests.
    made = [e for e in events if e.action == "kms:GenerateDataKey"]
    opened = [e for e in events if e.action == "kms:Decrypt"]
    assert len(made) == 1 and len(opened) == 1
    assert made[0].details["invoked_by"] == "sqs.amazonaws.com"
    await sqs.billing.flush()
    month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
    report = await sqs.billing.usage_report(sqs.tenant_id, month)
    assert sum(x.quantity for x in report.lines if x.meter == "kms.requests") == 2


async def test_another_accounts_sender_needs_the_key_policy(sqs: Harness) -> None:
    key = await sqs.keys.create_key(sqs.key_caller())
    url = await kms_queue(sqs, key.key_id)
    sender = await sqs.other_tenant("sender")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": sender.tenant_id},
                "Action": ["sqs:SendMessage"],
                "Resource": "*",
            }
        ],
    }
    await sqs.ok(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": json.dumps(policy)}}
    )
    refused = await sender.call("SendMessage", {"QueueUrl": url, "MessageBody": "hi"})
    assert refused.error_type in ("KmsNotFound", "KmsAccessDenied")
    key_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sqs.tenant_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": sender.tenant_id},
                "Action": ["kms:GenerateDataKey"],
                "Resource": "*",
            },
        ],
    }
    await sqs.keys.put_key_policy(sqs.key_caller(), key.key_id, "default", json.dumps(key_policy))
    await sender.ok("SendMessage", {"QueueUrl": url, "MessageBody": "hi"})
    assert await receive_bodies(sqs, url) == ["hi"]
