"""The SQS JSON protocol in process: MD5s as AWS computes them (the vectors AWS's answers
give, as moto's suite pins them), validation and limits in SQS's error shape with the query
code botocore reads, receipts, visibility, redrive, batches and long polling."""

from __future__ import annotations

import asyncio
import json
import time

from andromede.queues.model import MessageAttribute, attributes_md5, body_md5
from support.sqsapp import Harness


def test_md5_of_body_and_attributes_as_aws() -> None:
    assert body_md5("derp") == "58fd9edd83341c29f1aebba81c31e257"
    one = {"timestamp": MessageAttribute("Number", string_value="1493147359900")}
    assert attributes_md5(one) == "235c5c510d26fb653d073faed50ae77c"
    two = {"timestamp": MessageAttribute("Number", string_value="1493147359901")}
    assert attributes_md5(two) == "994258b45346a2cc3f9cbb611aa7af30"
    label = {"SOME_Valid.attribute-Name": MessageAttribute("Number", string_value="1493147359900")}
    assert attributes_md5(label) == "36655e7e9d7c0e8479fa3f3f42247ae7"
    assert attributes_md5({}) is None


async def url_of(sqs: Harness, name: str = "q", **attributes: str) -> str:
    answer = await sqs.ok("CreateQueue", {"QueueName": name, "Attributes": attributes})
    return str(answer["QueueUrl"])


async def test_send_receive_delete_with_attributes(sqs: Harness) -> None:
    url = await url_of(sqs)
    sent = await sqs.ok(
        "SendMessage",
        {
            "QueueUrl": url,
            "MessageBody": "derp",
            "MessageAttributes": {
                "timestamp": {"DataType": "Number", "StringValue": "1493147359900"},
                "raw": {"DataType": "Binary", "BinaryValue": "aGk="},
            },
        },
    )
    assert sent["MD5OfMessageBody"] == "58fd9edd83341c29f1aebba81c31e257"
    got = (
        await sqs.ok(
            "ReceiveMessage",
            {"QueueUrl": url, "MessageAttributeNames": ["timestamp"], "AttributeNames": ["All"]},
        )
    )["Messages"]
    assert got[0]["Body"] == "derp" and got[0]["MessageId"] == sent["MessageId"]
    assert got[0]["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert got[0]["Attributes"]["SenderId"]
    await sqs.ok("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": got[0]["ReceiptHandle"]})
    shown = await sqs.ok("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
    assert shown["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert shown["Attributes"]["QueueArn"] == f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:q"
    # The default size within the harness's queue_max_message_size (2048).
    assert shown["Attributes"]["MaximumMessageSize"] == "2048"
    assert shown["Attributes"]["VisibilityTimeout"] == "30"
    await sqs.audit.flush()
    audited = [e.action for _, e in await sqs.audit_store.list_events(None, after_id=0, limit=100)]
    assert "sqs:SendMessage" in audited and "sqs:DeleteMessage" in audited


async def test_errors_in_sqs_shape(sqs: Harness) -> None:
    url = await url_of(sqs, VisibilityTimeout="10")
    missing = await sqs.call("GetQueueUrl", {"QueueName": "nope"})
    assert (missing.status, missing.error_type) == (400, "QueueDoesNotExist")
    assert missing.headers["x-amzn-query-error"] == (
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    )
    other = await sqs.call(
        "CreateQueue", {"QueueName": "q", "Attributes": {"VisibilityTimeout": "11"}}
    )
    assert other.error_type == "QueueNameExists"
    assert (await sqs.call("CreateQueue", {"QueueName": "q"})).status == 200
    # A .fifo name goes with FifoQueue=true (decision 0164).
    assert (await sqs.call("CreateQueue", {"QueueName": "x.fifo"})).error_type == (
        "InvalidParameterValue"
    )
    bad = await sqs.call("CreateQueue", {"QueueName": "b", "Attributes": {"DelaySeconds": "901"}})
    assert bad.error_type == "InvalidAttributeValue"
    unknown = await sqs.call("CreateQueue", {"QueueName": "b", "Attributes": {"Colour": "1"}})
    assert unknown.error_type == "InvalidAttributeName"
    # MaximumMessageSize's ceiling is the setting (2048 in this harness).
    too_big = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "x" * 2049})
    assert too_big.error_type == "InvalidParameterValue"
    assert (await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "\x00"})).error_type == (
        "InvalidMessageContents"
    )
    handle = await sqs.call("DeleteMessage", {"QueueUrl": url, "ReceiptHandle": "%%%"})
    assert handle.error_type == "ReceiptHandleIsInvalid"
    assert (await sqs.call("AddPermission", {"QueueUrl": url})).error_type == "MissingParameter"
    assert (await sqs.call("Nope", {})).error_type == "UnknownOperationException"
    assert (await sqs.call("ListQueues", b"[")).error_type == "SerializationException"
    assert (await sqs.anonymous().call("ListQueues", {})).error_type == (
        "MissingAuthenticationToken"
    )
    batch = await sqs.call("SendMessageBatch", {"QueueUrl": url, "Entries": []})
    assert batch.error_type == "EmptyBatchRequest"
    eleven = [{"Id": str(i), "MessageBody": "b"} for i in range(11)]
    too_many = await sqs.call("SendMessageBatch", {"QueueUrl": url, "Entries": eleven})
    assert too_many.error_type == "TooManyEntriesInBatchRequest"
    twice = [{"Id": "a", "MessageBody": "b"}, {"Id": "a", "MessageBody": "c"}]
    assert (await sqs.call("SendMessageBatch", {"QueueUrl": url, "Entries": twice})).error_type == (
        "BatchEntryIdsNotDistinct"
    )


async def test_a_message_of_the_largest_size_fits_its_request(sqs: Harness) -> None:
    """2048 bytes of "é" are 12 KiB of JSON (\u00e9 each), three times max_api_body_size:
    still taken, since the body limit follows queue_max_message_size; one more byte is not."""
    url = await url_of(sqs)
    body = "é" * 1024
    sent = await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": body})
    got = (await sqs.ok("ReceiveMessage", {"QueueUrl": url}))["Messages"]
    assert got[0]["Body"] == body and got[0]["MessageId"] == sent["MessageId"]
    over = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": body + "x"})
    assert over.error_type == "InvalidParameterValue"
    huge = await sqs.call("SendMessage", {"QueueUrl": url, "MessageBody": "é" * 10_000})
    assert (huge.status, huge.error_type) == (413, "RequestEntityTooLarge")


async def test_queue_limit_is_the_setting(sqs: Harness) -> None:
    for n in range(5):
        await url_of(sqs, f"q{n}")
    over = await sqs.call("CreateQueue", {"QueueName": "q5"})
    assert (over.status, over.error_type) == (403, "OverLimit")


async def test_batches_visibility_and_redrive(sqs: Harness) -> None:
    dead = await url_of(sqs, "dead")
    arn = f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:dead"
    policy = json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": 1})
    url = await url_of(sqs, "work", RedrivePolicy=policy)
    entries = [{"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": ""}]
    sent = await sqs.ok("SendMessageBatch", {"QueueUrl": url, "Entries": entries})
    assert [s["Id"] for s in sent["Successful"]] == ["a"]
    assert sent["Failed"][0]["Id"] == "b" and sent["Failed"][0]["SenderFault"] is True
    first = (await sqs.ok("ReceiveMessage", {"QueueUrl": url}))["Messages"][0]
    # Made visible again at once: the next receive moves it to the dead-letter queue.
    await sqs.ok(
        "ChangeMessageVisibilityBatch",
        {
            "QueueUrl": url,
            "Entries": [
                {"Id": "x", "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 0}
            ],
        },
    )
    assert "Messages" not in await sqs.ok("ReceiveMessage", {"QueueUrl": url})
    moved = (await sqs.ok("ReceiveMessage", {"QueueUrl": dead}))["Messages"]
    assert [m["Body"] for m in moved] == ["one"]
    sources = await sqs.ok("ListDeadLetterSourceQueues", {"QueueUrl": dead})
    assert sources["queueUrls"] == [url]
    stale = await sqs.call(
        "ChangeMessageVisibility",
        {"QueueUrl": url, "ReceiptHandle": first["ReceiptHandle"], "VisibilityTimeout": 5},
    )
    assert stale.error_type == "MessageNotInflight"
    deleted = await sqs.ok(
        "DeleteMessageBatch",
        {"QueueUrl": dead, "Entries": [{"Id": "d", "ReceiptHandle": moved[0]["ReceiptHandle"]}]},
    )
    assert deleted["Successful"] == [{"Id": "d"}]


async def test_long_poll_wakes_on_a_send(sqs: Harness) -> None:
    url = await url_of(sqs)
    started = time.monotonic()
    waiting = asyncio.create_task(sqs.ok("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 5}))
    await asyncio.sleep(0.2)
    await sqs.ok("SendMessage", {"QueueUrl": url, "MessageBody": "wake"})
    got = await waiting
    assert [m["Body"] for m in got["Messages"]] == ["wake"]
    assert time.monotonic() - started < 2


async def test_list_queues_pages_and_tags(sqs: Harness) -> None:
    for name in ("a1", "a2", "b1"):
        await url_of(sqs, name)
    first = await sqs.ok("ListQueues", {"QueueNamePrefix": "a", "MaxResults": 1})
    assert len(first["QueueUrls"]) == 1 and first["NextToken"]
    rest = await sqs.ok(
        "ListQueues", {"QueueNamePrefix": "a", "MaxResults": 1, "NextToken": first["NextToken"]}
    )
    assert rest["QueueUrls"][0].endswith("/a2") and "NextToken" not in rest
    url = first["QueueUrls"][0]
    await sqs.ok("TagQueue", {"QueueUrl": url, "Tags": {"team": "data", "env": "prod"}})
    await sqs.ok("UntagQueue", {"QueueUrl": url, "TagKeys": ["env"]})
    assert (await sqs.ok("ListQueueTags", {"QueueUrl": url}))["Tags"] == {"team": "data"}
    await sqs.ok("PurgeQueue", {"QueueUrl": url})
    await sqs.ok("DeleteQueue", {"QueueUrl": url})
    assert (await sqs.call("GetQueueAttributes", {"QueueUrl": url})).error_type == (
        "QueueDoesNotExist"
    )


async def test_queue_policy_allows_an_iam_user(sqs: Harness) -> None:
    url = await url_of(sqs)
    user = await sqs.iam_user("worker")
    assert (await user.call("SendMessage", {"QueueUrl": url, "MessageBody": "m"})).error_type == (
        "AccessDenied"
    )
    arn = f"arn:aws:sqs:eu-fr-1:{sqs.tenant_id}:q"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{sqs.tenant_id}:user/worker"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    await sqs.ok(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": json.dumps(policy)}}
    )
    assert (await user.call("SendMessage", {"QueueUrl": url, "MessageBody": "m"})).status == 200
    assert (await user.call("PurgeQueue", {"QueueUrl": url})).error_type == "AccessDenied"
    malformed = await sqs.call(
        "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": "{}"}}
    )
    assert malformed.error_type == "InvalidAttributeValue"
