"""SQS-style queues end to end (decision 0158): one real ``andromede serve``, driven by boto3's
``sqs`` client (the JSON protocol, botocore's error parsing of ``x-amzn-query-error``), by the
aws CLI's ``aws sqs``, and by S3: a bucket whose notification configuration names a queue
(its policy letting ``s3.amazonaws.com`` send with the bucket as ``aws:SourceArn``) gets
``s3:TestEvent`` and then each PutObject's event record in the queue, read with boto3. The
data folder (SQLite database and WAL included) never holds a message body in clear, nor an
SNS Publish message, and an S3 event held pending (its endpoint unreachable) is sealed in
``notification_events`` (decision 0163's addendum).

SNS to SQS (decision 0163): boto3's ``sns`` subscribes a queue to a topic with a filter
policy and publishes with message attributes; the queue receives the signed envelope of the
matching message only, verified with the certificate fetched from its SigningCertURL; a
data protection policy (decision 0215) refuses a card number (``AuthorizationError``) and
masks an address; a bucket's TopicConfiguration then carries a PutObject's event through
the topic into it.

Decision 0165: a queue under a customer-managed KMS key made with boto3's ``kms`` (sends and
receives refused with ``KMS.DisabledException`` while the key is disabled, working again once
it is enabled, the body nowhere in clear in the data folder); another tenant sending to and
receiving from a queue shared with AddPermission; a dead-letter queue redriven back to its
source by StartMessageMoveTask, followed with ListMessageMoveTasks.

SNS across accounts (decision 0168): a second tenant's Publish is refused on a topic not
shared with it and taken once AddPermission shares it; that tenant subscribes its own queue
to the topic, which receives the owner's messages once the queue's policy lets SNS send.

Decision 0175: a FIFO topic's tags, its delivery to a standard queue, and its archive
replayed into a FIFO queue subscribed later, marked ``Replayed``.

The Query protocol (decision 0173): boto3 pinned to Query (the SQS model botocore shipped
while it spoke Query, loaded from ``support/sqs_query_model``) doing the lot, batches' partial
failures and the modelled exception classes included, then httpx posting a signed form to the
queue's own URL and a presigned GET, as scripts do.

Decision 0180: an email subscription through a real SMTP server started by the test
(``support.smtp_sink``, the server's relay): its confirmation mail's link followed with httpx,
a Publish arriving as a mail with its Subject, the unsubscribe link of its footer followed.

Decision 0212: an SNS topic under a customer key delivering into a queue, refused with
``KMSDisabledException`` while the key is disabled, and its delivery's status read back from
CloudWatch Logs, written as the topic's feedback role."""

from __future__ import annotations

import json
import re
import shutil
import socket
import sqlite3
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from andromede.notifications.envelope import verify
from e2e.clients import aws_cli
from e2e.iam_helpers import client_for, new_tenant
from support.server import REGION, ServerProcess, running_server
from support.smtp_sink import SmtpSink, smtp_sink
from support.sqs_query import MODEL_DIR

pytestmark = pytest.mark.e2e

CANARY = "canary-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    with smtp_sink() as sink:
        yield sink


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, smtp: SmtpSink) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("sqs") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        # SNS's mails through the test's SMTP server, in clear on the loopback (decision 0180).
        "ANDROMEDE_SNS_SMTP_HOST": "127.0.0.1",
        "ANDROMEDE_SNS_SMTP_PORT": str(smtp.port),
        "ANDROMEDE_SNS_SMTP_TLS": "none",
        "ANDROMEDE_NOTIFICATION_INTERVAL": "0.1",
        # Loopback reachable, so that an event for a closed port stays pending (retried).
        "ANDROMEDE_NOTIFICATION_ENDPOINT_ALLOW_CIDRS": '["127.0.0.1/32"]',
        # Message move tasks passed over five times a second (decision 0165).
        "ANDROMEDE_QUEUE_MOVE_TASK_INTERVAL": "0.2",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def client(server: ServerProcess, service: str) -> Any:
    access_key, secret_key = server.credentials()
    make: Any = boto3.client
    return make(
        service,
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_send_receive_delete_and_long_poll(server: ServerProcess) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    assert url.startswith(server.endpoint) and url.endswith("/jobs")
    assert sqs.get_queue_url(QueueName="jobs")["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix="jo")["QueueUrls"]
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody=CANARY,
        MessageAttributes={"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}},
    )
    assert sent["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"
    got = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )["Messages"]
    assert [m["Body"] for m in got] == [CANARY]
    assert got[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert got[0]["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    # A long poll on an empty queue waits, and returns as soon as a message comes.
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert time.monotonic() - started >= 0.9
    with pytest.raises(ClientError) as caught:
        sqs.get_queue_url(QueueName="missing")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert isinstance(caught.value, sqs.exceptions.QueueDoesNotExist)
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_an_unsigned_call_is_refused_in_sqs_words(server: ServerProcess) -> None:
    request = urllib.request.Request(
        f"{server.endpoint}/",
        data=b"{}",
        method="POST",
        headers={
            "X-Amz-Target": "AmazonSQS.ListQueues",
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403
    assert json.loads(caught.value.read())["__type"].endswith("#MissingAuthenticationToken")
    assert caught.value.headers["x-amzn-query-error"] == "MissingAuthenticationToken;Sender"


def test_aws_cli(server: ServerProcess, tmp_path: Path) -> None:
    aws = aws_cli(server, tmp_path)
    url = json.loads(aws("sqs", "create-queue", "--queue-name", "cli").stdout)["QueueUrl"]
    aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    out = json.loads(aws("sqs", "receive-message", "--queue-url", url).stdout)
    assert [m["Body"] for m in out["Messages"]] == ["from the cli"]
    # The aws CLI v1 speaking Query as it did before botocore 1.31 (decision 0173): the
    # Query-era model where botocore looks for a user's models first (~/.aws/models).
    legacy_root = tmp_path / "query"
    shutil.copytree(MODEL_DIR, legacy_root / "home" / ".aws" / "models")
    legacy = aws_cli(server, legacy_root)
    legacy("sqs", "send-message", "--queue-url", url, "--message-body", "over query")
    received = legacy("sqs", "receive-message", "--queue-url", url, "--debug")
    assert "'Action': 'ReceiveMessage'" in received.stderr  # a Query form, not JSON
    assert [m["Body"] for m in json.loads(received.stdout)["Messages"]] == ["over query"]
    aws("sqs", "delete-queue", "--queue-url", url)


def test_bucket_events_into_a_queue(server: ServerProcess) -> None:
    sqs, s3 = client(server, "sqs"), client(server, "s3")
    url = sqs.create_queue(QueueName="bucket-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    s3.create_bucket(Bucket="evented")
    configuration = {
        "QueueConfigurations": [{"Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
    }
    # Without a policy letting S3 in, the destination is not validated, as on AWS.
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(
            Bucket="evented", NotificationConfiguration=configuration
        )
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::evented"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket="evented", NotificationConfiguration=configuration
    )
    shown = s3.get_bucket_notification_configuration(Bucket="evented")
    assert shown["QueueConfigurations"][0]["QueueArn"] == arn
    s3.put_object(Bucket="evented", Key="photo.jpg", Body=CANARY.encode())
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(bodies) < 2 and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert any(body.get("Event") == "s3:TestEvent" for body in bodies)
    records = [r for body in bodies for r in body.get("Records", [])]
    assert [r["s3"]["object"]["key"] for r in records] == ["photo.jpg"]
    assert records[0]["eventName"] == "ObjectCreated:Put"


def test_fifo_queue_in_order_once_and_not_for_s3(server: ServerProcess) -> None:
    """A FIFO queue (decision 0164) through boto3: content-based deduplication answering the
    first message, sequence numbers, a group's order and its holding while in flight, a
    retried receive attempt, and S3 refused as its events' destination. Its group and
    deduplication ids hold the canary, which the data folder's scan (next) must not find."""
    sqs, s3 = client(server, "sqs"), client(server, "s3")
    url = sqs.create_queue(
        QueueName="orders.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    group = CANARY + "-group"
    sent = [
        sqs.send_message(QueueUrl=url, MessageBody=f"{CANARY}-{n}", MessageGroupId=group)
        for n in range(3)
    ]
    again = sqs.send_message(QueueUrl=url, MessageBody=f"{CANARY}-0", MessageGroupId=group)
    assert again["MessageId"] == sent[0]["MessageId"]
    numbers = [int(one["SequenceNumber"]) for one in sent]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    other = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": "x",
                "MessageBody": "other",
                "MessageGroupId": "other",
                "MessageDeduplicationId": CANARY + "-dedup",
            }
        ],
    )
    assert other["Successful"][0]["SequenceNumber"]
    first = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=2,
        MessageSystemAttributeNames=["All"],
        ReceiveRequestAttemptId="attempt-1",
    )["Messages"]
    assert [m["Body"] for m in first] == [f"{CANARY}-0", f"{CANARY}-1"]
    assert first[0]["Attributes"]["MessageGroupId"] == group
    assert first[0]["Attributes"]["SequenceNumber"] == sent[0]["SequenceNumber"]
    retried = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=2, ReceiveRequestAttemptId="attempt-1"
    )["Messages"]
    assert [m["ReceiptHandle"] for m in retried] == [m["ReceiptHandle"] for m in first]
    # The group is in flight: only the other group's message comes.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["other"]
    for message in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    last = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in last] == [f"{CANARY}-2"]
    with pytest.raises(ClientError) as caught:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert caught.value.response["Error"]["Code"] == "MissingParameter"
    # S3 cannot send to a FIFO queue, even one whose policy lets it.
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
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
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.create_bucket(Bucket="fifo-evented")
    with pytest.raises(ClientError) as refused:
        s3.put_bucket_notification_configuration(
            Bucket="fifo-evented",
            NotificationConfiguration={
                "QueueConfigurations": [
                    {"Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]
            },
        )
    assert refused.value.response["Error"]["Code"] == "InvalidArgument"


def test_sns_fifo_topic_into_a_fifo_queue(server: ServerProcess) -> None:
    """An SNS FIFO topic (decision 0171) through boto3: a FIFO queue subscribed (raw), five
    messages published in two groups, one a duplicate (its answer the first's MessageId and
    SequenceNumber); the queue receives each group in publish order, the duplicate once. The
    group and deduplication ids hold the canary, which the data folder's scan (next) must not
    find: they travel sealed, and the topic keeps only a digest of the deduplication id."""
    sqs, sns = client(server, "sqs"), client(server, "sns")
    topic = sns.create_topic(Name="ordered.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    url = sqs.create_queue(QueueName="ordered-q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    groups = {"a": f"{CANARY}-a", "b": f"{CANARY}-b"}
    plan = [("a", "1"), ("b", "2"), ("a", "3"), ("a", "1"), ("b", "4")]
    answers = [
        sns.publish(
            TopicArn=topic,
            Message=f"m{n}",
            MessageGroupId=groups[group],
            MessageDeduplicationId=f"{CANARY}-{dedup}",
        )
        for n, (group, dedup) in enumerate(plan)
    ]
    assert answers[3]["MessageId"] == answers[0]["MessageId"]
    assert answers[3]["SequenceNumber"] == answers[0]["SequenceNumber"]
    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + 10
    while len(got) < 4 and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["MessageGroupId"],
        ).get("Messages", [])
        for message in batch:
            got.append((message["Attributes"]["MessageGroupId"], message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert [body for group, body in got if group == groups["a"]] == ["m0", "m2"]
    assert [body for group, body in got if group == groups["b"]] == ["m1", "m4"]
    assert len(got) == 4
    time.sleep(0.3)  # a duplicate would have been delivered by now
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    with pytest.raises(ClientError) as caught:
        sns.publish(TopicArn=topic, Message="no group", MessageDeduplicationId="d")
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    sns.delete_topic(TopicArn=topic)  # its subscription with it, for the listings after


def test_sns_fifo_archive_replay_tags_and_a_standard_queue(server: ServerProcess) -> None:
    """Decision 0175 through boto3: a FIFO topic made with an ArchivePolicy and tags (tagged,
    untagged and listed); a standard queue subscribed to it receives its three messages
    without a group; a FIFO queue subscribed afterwards with a ReplayPolicy from before them
    receives them replayed by the server's archive upkeep, each group in publish order,
    marked ``Replayed``, and its ReplayStatus reaches Completed. The messages hold the
    canary, which the data folder's scan (next) must not find: the archive is sealed."""
    sqs, sns = client(server, "sqs"), client(server, "sns")
    topic = sns.create_topic(
        Name="archived.fifo",
        Attributes={"FifoTopic": "true", "ArchivePolicy": '{"MessageRetentionPeriod": "1"}'},
        Tags=[{"Key": "team", "Value": "blue"}],
    )["TopicArn"]
    sns.tag_resource(ResourceArn=topic, Tags=[{"Key": "cost", "Value": "42"}])
    sns.untag_resource(ResourceArn=topic, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "cost", "Value": "42"}]
    shown = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert shown["BeginningArchiveTime"] and shown["FifoThroughputScope"] == "Topic"

    def queue(name: str, **attributes: str) -> tuple[str, str]:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, attrs["Attributes"]["QueueArn"]

    loose_url, loose_arn = queue("loose-q")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=loose_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2))
    plan = [("a", 0), ("b", 1), ("a", 2)]
    for group, n in plan:
        sns.publish(
            TopicArn=topic,
            Message=f"{CANARY}-archived-{n}",
            MessageGroupId=group,
            MessageDeduplicationId=f"d{n}",
        )
    loose: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(loose) < 3 and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=loose_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        for message in batch:
            loose.append(message)
            sqs.delete_message(QueueUrl=loose_url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(m["Body"] for m in loose) == [f"{CANARY}-archived-{n}" for n in range(3)]
    assert all("MessageGroupId" not in m.get("Attributes", {}) for m in loose)
    late_url, late_arn = queue("late-q.fifo", FifoQueue="true")
    replay = {"PointType": "Timestamp", "StartingPoint": before}
    subscription = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=late_arn,
        Attributes={"ReplayPolicy": json.dumps(replay)},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    got: list[tuple[str, dict[str, Any]]] = []
    deadline = time.monotonic() + 15
    while len(got) < 3 and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=late_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["MessageGroupId"],
        ).get("Messages", [])
        for message in batch:
            got.append((message["Attributes"]["MessageGroupId"], json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=late_url, ReceiptHandle=message["ReceiptHandle"])
    by_group = {g: [e["Message"] for h, e in got if h == g] for g in ("a", "b")}
    assert by_group == {
        "a": [f"{CANARY}-archived-0", f"{CANARY}-archived-2"],
        "b": [f"{CANARY}-archived-1"],
    }
    assert all(envelope["Replayed"] is True for _, envelope in got)
    status = ""
    deadline = time.monotonic() + 5
    while status != "Completed" and time.monotonic() < deadline:
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
        status = attributes.get("ReplayStatus", "")
        time.sleep(0.1)
    assert status == "Completed"
    sns.delete_topic(TopicArn=topic)  # its subscriptions with it, for the listings after


def test_no_message_in_clear_in_the_data_folder(server: ServerProcess) -> None:
    sqs, sns, s3 = client(server, "sqs"), client(server, "sns"), client(server, "s3")
    url = sqs.create_queue(QueueName="canary")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=CANARY)
    # An SNS Publish fanned out to a queue: its row of notification_events sealed too
    # (decision 0163's addendum), as the queue's message is.
    published = CANARY + "-published"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    fanned = sns.create_topic(Name="canary-fanned")["TopicArn"]
    subscription = sns.subscribe(
        TopicArn=fanned, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    sns.publish(TopicArn=fanned, Message=published)
    # An S3 event held pending (its endpoint a closed port: tried again and again).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    blocked = sns.create_topic(
        Name="canary-blocked", Attributes={"push-endpoint": f"http://127.0.0.1:{closed}/"}
    )["TopicArn"]
    s3.create_bucket(Bucket="canary-events")
    s3.put_bucket_notification_configuration(
        Bucket="canary-events",
        NotificationConfiguration={
            "TopicConfigurations": [
                {"Id": "all", "TopicArn": blocked, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    key = f"event-{uuid.uuid4().hex}"  # not the canary: keys are kept in clear
    s3.put_object(Bucket="canary-events", Key=key, Body=b"x")
    assert [json.loads(b)["Message"] for b in _bodies(sqs, url, published)] == [published]
    sns.unsubscribe(SubscriptionArn=subscription)
    # The object's key is in the objects' table, in clear as S3 keys are: the pending
    # event's row must not show it.
    with sqlite3.connect(f"file:{server.data_dir / 'metadata.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT format_version, message FROM notification_events WHERE topic_arn = ?",
            (blocked,),
        ).fetchall()
    assert rows and all(version == 2 and key not in text for version, text in rows)
    needles = (CANARY.encode(), published.encode())
    found = [
        path
        for path in server.data_dir.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]
    assert found == []


def _bodies(sqs: Any, url: str, wanted: str, seconds: float = 10) -> list[str]:
    """The bodies received until one holds ``wanted`` (each deleted)."""
    bodies: list[str] = []
    deadline = time.monotonic() + seconds
    while not any(wanted in b for b in bodies) and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return [b for b in bodies if wanted in b]


def _received(sqs: Any, url: str, wanted: int, seconds: float = 10) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(bodies) < wanted and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_sns_fans_out_to_a_queue_signed_and_filtered(server: ServerProcess) -> None:
    sns, sqs, s3 = client(server, "sns"), client(server, "sqs"), client(server, "s3")
    topic = sns.create_topic(Name="orders")["TopicArn"]
    url = sqs.create_queue(QueueName="sns-orders")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscription = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"store": ["example_corp"]})},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in listed] == [subscription]
    for store in ("other_corp", "example_corp"):
        sns.publish(
            TopicArn=topic,
            Message=f"order for {store}",
            Subject="New order",
            MessageAttributes={"store": {"DataType": "String", "StringValue": store}},
        )
    bodies = _received(sqs, url, 1)
    assert [b["Message"] for b in bodies] == ["order for example_corp"]
    envelope = bodies[0]
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == topic
    assert envelope["MessageAttributes"]["store"]["Value"] == "example_corp"
    assert envelope["SigningCertURL"].startswith(server.endpoint + "/SimpleNotificationService-")
    with urllib.request.urlopen(envelope["SigningCertURL"], timeout=10) as answer:
        certificate = answer.read().decode()
    assert verify(envelope, certificate)
    assert not verify({**envelope, "Message": "forged"}, certificate)
    # Message data protection (decision 0215): a card number refused, an address masked.
    identifier = "arn:aws:dataprotection::aws:data-identifier/"
    inbound = {"DataDirection": "Inbound", "Principal": ["*"]}
    sns.put_data_protection_policy(
        ResourceArn=topic,
        DataProtectionPolicy=json.dumps(
            {
                "Name": "pii",
                "Version": "2021-06-01",
                "Statement": [
                    {
                        **inbound,
                        "DataIdentifier": [identifier + "CreditCardNumber"],
                        "Operation": {"Deny": {}},
                    },
                    {
                        **inbound,
                        "DataIdentifier": [identifier + "EmailAddress"],
                        "Operation": {"Deidentify": {"MaskConfig": {"MaskWithCharacter": "#"}}},
                    },
                ],
            }
        ),
    )
    assert "Deny" in sns.get_data_protection_policy(ResourceArn=topic)["DataProtectionPolicy"]
    store = {"store": {"DataType": "String", "StringValue": "example_corp"}}
    with pytest.raises(ClientError) as denied:
        sns.publish(TopicArn=topic, Message="card 4111111111111111", MessageAttributes=store)
    assert denied.value.response["Error"]["Code"] == "AuthorizationError"
    sns.publish(TopicArn=topic, Message="mail ana@example.com", MessageAttributes=store)
    assert [b["Message"] for b in _received(sqs, url, 1)] == ["mail ###############"]
    sns.put_data_protection_policy(ResourceArn=topic, DataProtectionPolicy="")
    # S3 → topic → queue: a bucket's events reach the topic's subscribers.
    s3.create_bucket(Bucket="sns-evented")
    sns.set_subscription_attributes(
        SubscriptionArn=subscription, AttributeName="FilterPolicy", AttributeValue=""
    )
    s3.put_bucket_notification_configuration(
        Bucket="sns-evented",
        NotificationConfiguration={
            "TopicConfigurations": [
                {"Id": "all", "TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}
            ]
        },
    )
    s3.put_object(Bucket="sns-evented", Key="invoice.pdf", Body=b"%PDF")
    events = _received(sqs, url, 2)
    assert all(e["Subject"] == "Amazon S3 Notification" for e in events)
    records = [r for e in events for r in json.loads(e["Message"]).get("Records", [])]
    assert [r["s3"]["object"]["key"] for r in records] == ["invoice.pdf"]
    assert all(verify(e, certificate) for e in events)
    sns.unsubscribe(SubscriptionArn=subscription)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_a_queue_under_a_customer_key(server: ServerProcess) -> None:
    sqs, kms = client(server, "sqs"), client(server, "kms")
    key = kms.create_key(Description="queue key")["KeyMetadata"]
    url = sqs.create_queue(QueueName="sealed", Attributes={"KmsMasterKeyId": key["Arn"]})[
        "QueueUrl"
    ]
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert shown["KmsMasterKeyId"] == key["Arn"] and shown["SqsManagedSseEnabled"] == "false"
    secret = CANARY + "-kms"
    sqs.send_message(QueueUrl=url, MessageBody=secret)
    got = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in got] == [secret]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as refused:
        sqs.receive_message(QueueUrl=url)
    assert refused.value.response["Error"]["Code"] == "KMS.DisabledException"
    assert isinstance(refused.value, sqs.exceptions.KmsDisabled)
    with pytest.raises(ClientError) as unsent:
        sqs.send_message(QueueUrl=url, MessageBody="not now")
    assert unsent.value.response["Error"]["Code"] == "KMS.DisabledException"
    kms.enable_key(KeyId=key["KeyId"])
    again = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in again] == [secret]
    sqs.send_message(QueueUrl=url, MessageBody="later")
    found = [
        path
        for path in server.data_dir.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]
    assert found == []


def test_sns_topic_under_a_customer_key_with_delivery_status_logs(server: ServerProcess) -> None:
    sns, sqs, kms = client(server, "sns"), client(server, "sqs"), client(server, "kms")
    iam, logs = client(server, "iam"), client(server, "logs")
    key = kms.create_key(Description="topic key")["KeyMetadata"]
    topic = sns.create_topic(Name="sealed-topic", Attributes={"KmsMasterKeyId": key["KeyId"]})[
        "TopicArn"
    ]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName="sns-status", AssumeRolePolicyDocument=json.dumps(trust))
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="sns-status", PolicyName="logs", PolicyDocument=json.dumps(allow))
    for name, value in (
        ("SQSSuccessFeedbackRoleArn", role["Role"]["Arn"]),
        ("SQSSuccessFeedbackSampleRate", "100"),
    ):
        sns.set_topic_attributes(TopicArn=topic, AttributeName=name, AttributeValue=value)
    url = sqs.create_queue(QueueName="sealed-topic-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    secret = CANARY + "-topic-kms"
    message_id = sns.publish(TopicArn=topic, Message=secret)["MessageId"]
    assert [b["Message"] for b in _received(sqs, url, 1)] == [secret]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=topic, Message="not now")
    assert isinstance(refused.value, sns.exceptions.KMSDisabledException)
    kms.enable_key(KeyId=key["KeyId"])
    group = f"sns/{REGION}/{topic.split(':')[4]}/sealed-topic"
    deadline, events = time.monotonic() + 10, []
    while not events and time.monotonic() < deadline:
        try:
            events = logs.filter_log_events(logGroupName=group)["events"]
        except logs.exceptions.ResourceNotFoundException:
            time.sleep(0.2)
    record = json.loads(events[0]["message"])
    assert record["status"] == "SUCCESS" and record["notification"]["messageId"] == message_id
    assert record["delivery"]["destination"] == arn
    sns.delete_topic(TopicArn=topic)


def test_another_tenant_uses_a_queue_shared_with_add_permission(server: ServerProcess) -> None:
    sqs = client(server, "sqs")
    url = sqs.create_queue(QueueName="shared")["QueueUrl"]
    owner = url.rstrip("/").split("/")[-2]
    partner = new_tenant(server, "sqs")
    theirs = client_for(server, "sqs", partner.access_key_id, partner.secret_access_key)
    with pytest.raises(ClientError):
        theirs.send_message(QueueUrl=url, MessageBody="too early")
    sqs.add_permission(
        QueueUrl=url,
        Label="partner",
        AWSAccountIds=[partner.account],
        Actions=["SendMessage", "ReceiveMessage", "DeleteMessage", "GetQueueUrl"],
    )
    found = theirs.get_queue_url(QueueName="shared", QueueOwnerAWSAccountId=owner)["QueueUrl"]
    assert found == url
    theirs.send_message(QueueUrl=url, MessageBody="from the partner")
    got = theirs.receive_message(QueueUrl=url)["Messages"]
    assert [m["Body"] for m in got] == ["from the partner"]
    theirs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    sqs.remove_permission(QueueUrl=url, Label="partner")
    with pytest.raises(ClientError) as gone:
        theirs.send_message(QueueUrl=url, MessageBody="too late")
    assert isinstance(gone.value, theirs.exceptions.QueueDoesNotExist)


def test_a_dead_letter_queue_redriven_back_by_a_move_task(server: ServerProcess) -> None:
    sqs = client(server, "sqs")
    dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    work = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=work, MessageBody=f"job-{n}")
    sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10, VisibilityTimeout=0)
    # Received once already: the next receive moves them to the dead-letter queue.
    assert "Messages" not in sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10)
    task = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=50)
    deadline = time.monotonic() + 10
    while True:
        listed = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        if listed[0]["Status"] != "RUNNING" or time.monotonic() > deadline:
            break
        assert listed[0]["TaskHandle"] == task["TaskHandle"]
        time.sleep(0.2)
    assert listed[0]["Status"] == "COMPLETED"
    assert listed[0]["ApproximateNumberOfMessagesMoved"] == 3
    back = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in back) == ["job-0", "job-1", "job-2"]


def test_sns_across_accounts(server: ServerProcess) -> None:
    sns, sqs = client(server, "sns"), client(server, "sqs")
    topic = sns.create_topic(Name="shared-feed")["TopicArn"]
    private = sns.create_topic(Name="private-feed")["TopicArn"]
    url = sqs.create_queue(QueueName="shared-feed-q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    partner = new_tenant(server, "sns")
    partner_sns = client_for(server, "sns", partner.access_key_id, partner.secret_access_key)
    partner_sqs = client_for(server, "sqs", partner.access_key_id, partner.secret_access_key)
    with pytest.raises(ClientError) as refused:
        partner_sns.publish(TopicArn=topic, Message="not shared yet")
    assert refused.value.response["Error"]["Code"] == "NotFound"
    sns.add_permission(
        TopicArn=topic,
        Label="partner",
        AWSAccountId=[partner.account],
        ActionName=["Publish", "Subscribe"],
    )
    partner_sns.publish(TopicArn=topic, Message="from the partner")
    assert [b["Message"] for b in _received(sqs, url, 1)] == ["from the partner"]
    with pytest.raises(ClientError) as refused:
        partner_sns.publish(TopicArn=private, Message="never shared")
    assert refused.value.response["Error"]["Code"] == "NotFound"
    # The partner subscribes its own queue, whose policy lets SNS send from this topic.
    theirs = partner_sqs.create_queue(QueueName="partner-feed")["QueueUrl"]
    their_arn = partner_sqs.get_queue_attributes(QueueUrl=theirs, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": their_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
            }
        ],
    }
    partner_sqs.set_queue_attributes(QueueUrl=theirs, Attributes={"Policy": json.dumps(policy)})
    subscription = partner_sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=their_arn, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    assert subscription.startswith(topic + ":")
    sns.publish(TopicArn=topic, Message="to every subscriber")
    assert [b["Message"] for b in _received(partner_sqs, theirs, 1)] == ["to every subscriber"]
    assert [b["Message"] for b in _received(sqs, url, 1)] == ["to every subscriber"]


def test_the_query_protocol_with_boto3_pinned_to_it_and_httpx(server: ServerProcess) -> None:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(MODEL_DIR))
    access_key, secret_key = server.credentials()
    sqs: Any = boto3.Session(botocore_session=session).client(
        "sqs",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"max_attempts": 1}),
    )
    assert sqs.meta.service_model.protocol == "query"
    url = sqs.create_queue(
        QueueName="legacy", Attributes={"VisibilityTimeout": "5"}, tags={"t": "1"}
    )["QueueUrl"]
    assert sqs.get_queue_url(QueueName="legacy")["QueueUrl"] == url
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"t": "1"}
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="old client",
        MessageAttributes={"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}},
    )
    assert sent["MD5OfMessageAttributes"] == "235c5c510d26fb653d073faed50ae77c"
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "MessageBody": "second"},
            {"Id": "late", "MessageBody": "never", "DelaySeconds": 901},
        ],
    )
    assert [e["Id"] for e in batch["Successful"]] == ["ok"]
    assert [e["Id"] for e in batch["Failed"]] == ["late"]
    got = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    assert sorted(m["Body"] for m in got) == ["old client", "second"]
    first = next(m for m in got if m["Body"] == "old client")
    assert first["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert first["Attributes"]["ApproximateReceiveCount"] == "1"
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=9
    )
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
    )
    assert len(deleted["Successful"]) == 2
    shown = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert shown["ApproximateNumberOfMessages"] == "0" and shown["VisibilityTimeout"] == "5"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName="missing")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(ClientError) as refused:
        sqs.send_message_batch(QueueUrl=url, Entries=[])
    assert refused.value.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest"
    # A script's form, posted to the queue's own URL, signed; then a presigned GET.
    credentials = Credentials(access_key, secret_key)
    form = AWSRequest(
        method="POST",
        url=url,
        data=b"Action=SendMessage&MessageBody=from+curl",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    SigV4Auth(credentials, "sqs", REGION).add_auth(form)
    posted = httpx.post(url, content=form.body, headers=dict(form.headers.items()), timeout=10)
    assert posted.status_code == 200, posted.text
    assert "<SendMessageResponse" in posted.text and "<MD5OfMessageBody>" in posted.text
    get = AWSRequest(method="GET", url=f"{url}?Action=ReceiveMessage&AttributeName.1=All")
    SigV4QueryAuth(credentials, "sqs", REGION, expires=60).add_auth(get)
    received = httpx.get(get.url, timeout=10)
    assert received.status_code == 200, received.text
    assert "<Body>from curl</Body>" in received.text
    # Unsigned, to the queue's URL or naming an SQS action on /: refused in SQS's words.
    for unsigned in (
        httpx.post(
            url,
            content=b"Action=SendMessage&MessageBody=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        ),
        httpx.get(f"{server.endpoint}/?Action=ListQueues", timeout=10),
    ):
        assert unsigned.status_code == 403, unsigned.text
        assert "<Code>MissingAuthenticationToken</Code>" in unsigned.text
        assert 'xmlns="http://queue.amazonaws.com/doc/2012-11-05/"' in unsigned.text
    sqs.delete_queue(QueueUrl=url)


def test_sns_email_confirmed_by_its_link_mailed_and_unsubscribed(
    server: ServerProcess, smtp: SmtpSink
) -> None:
    sns = client(server, "sns")
    topic = sns.create_topic(Name="alarms-by-mail", Attributes={"DisplayName": "Ops, alarms"})[
        "TopicArn"
    ]
    with pytest.raises(ClientError) as refused:
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.test\r\nBcc: x@y")
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    pending = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.test")
    assert pending["SubscriptionArn"] == "pending confirmation"
    (confirmation,) = smtp.wait_for(1)
    assert confirmation.recipients == ("ops@example.test",)
    assert confirmation.message["Subject"] == "AWS Notification - Subscription Confirmation"
    assert confirmation.message["From"].addresses[0].display_name == "Ops, alarms"
    # Again while pending, within sns_email_confirmation_resend_interval: no second mail
    # (the next one taken is the alarm below).
    again = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.test")
    assert again["SubscriptionArn"] == "pending confirmation"
    link = re.search(r"\S+Action=ConfirmSubscription\S+", confirmation.text)
    assert link is not None and link.group(0).startswith(server.endpoint)
    confirmed = httpx.get(link.group(0), timeout=10)  # unsigned, as a mail reader clicks it
    assert confirmed.status_code == 200 and "<SubscriptionArn>" in confirmed.text
    sns.publish(TopicArn=topic, Message="CPU above 90 % on web-1", Subject="ALARM: cpu")
    alarm = smtp.wait_for(2)[1]
    assert alarm.message["Subject"] == "ALARM: cpu"
    assert alarm.text.startswith("CPU above 90 % on web-1\n")
    unsubscribe = re.search(r"\S+Action=Unsubscribe\S+", alarm.text)
    assert unsubscribe is not None and alarm.message["List-Unsubscribe"] == (
        f"<{unsubscribe.group(0)}>"
    )
    assert httpx.get(unsubscribe.group(0), timeout=10).status_code == 200
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    sns.delete_topic(TopicArn=topic)
