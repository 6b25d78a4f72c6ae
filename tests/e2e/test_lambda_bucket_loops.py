"""Lambda's recursive loop detection through S3 and SNS end to end (decision 0336), on the
session's ``andromede serve`` (no server of its own): with boto3, a function invoked by its
bucket's ``ObjectCreated`` events writes the next object into that same bucket (boto3 inside
the bubblewrap sandbox, whose calls carry the invocation's ``X-Amzn-Trace-Id``), the common
accident. The bucket's events keep the write's trace, so the function runs 16 times; the
17th event is not run but given to the function's dead-letter queue, as AWS does. Likewise
a function publishing to the topic whose ``lambda`` subscription invokes it."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.lambda_functions import NEEDS_BWRAP, tallying_function
from support.server import ServerProcess

pytestmark = [pytest.mark.e2e, NEEDS_BWRAP]

# Tallies each run, and writes the next object into the bucket that triggered it.
WRITER = """
import os
import boto3
from botocore.config import Config

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        n = int(record["s3"]["object"]["key"].split("-")[1])
        sqs.send_message(QueueUrl=os.environ["TALLY"], MessageBody=str(n))
        if n < 40:
            s3.put_object(Bucket=record["s3"]["bucket"]["name"], Key=f"n-{n + 1}", Body=b"x")
"""


# Tallies each run, and publishes the next number to the topic that invoked it.
PUBLISHER = """
import os
import boto3

sns = boto3.client("sns")
sqs = boto3.client("sqs")

def handler(event, context):
    for record in event["Records"]:
        n = int(record["Sns"]["Message"])
        sqs.send_message(QueueUrl=os.environ["TALLY"], MessageBody=str(n))
        if n < 40:
            sns.publish(TopicArn=record["Sns"]["TopicArn"], Message=str(n + 1))
"""


def _drain(sqs: Any, url: str, until: int, seconds: float = 90) -> set[str]:
    """The bodies received from ``url`` (deleted) until ``until`` different ones, or the time
    is up (at least once: a run may send its message twice, each body counts once)."""
    bodies: set[str] = set()
    deadline = time.monotonic() + seconds
    while len(bodies) < until and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            bodies.add(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_function_writing_into_its_own_bucket_is_stopped_at_16(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-bucket-loop")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    tally = sqs.create_queue(QueueName="tally")["QueueUrl"]
    dead = sqs.create_queue(QueueName="loop-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]  # fmt: skip
    functions: Any = client_for(server, "lambda", *keys)
    arn = tallying_function(
        client_for(server, "iam", *keys),
        functions,
        "writer",
        WRITER,
        tally=tally,
        actions=["s3:PutObject", "sqs:SendMessage"],
        dead_letter_arn=dead_arn,
    )
    s3: Any = client_for(server, "s3", *keys)
    bucket = f"loop-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    functions.add_permission(FunctionName="writer", StatementId="s3", Principal="s3.amazonaws.com",
        Action="lambda:InvokeFunction", SourceArn=f"arn:aws:s3:::{bucket}")  # fmt: skip
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": arn,
                                          "Events": ["s3:ObjectCreated:*"]}]})  # fmt: skip
    s3.put_object(Bucket=bucket, Key="n-1", Body=b"x")  # no trace: a chain begins

    ran = _drain(sqs, tally, 16)
    assert sorted(int(n) for n in ran) == list(range(1, 17))
    (stopped,) = _drain(sqs, dead, 1)
    (record,) = json.loads(stopped)["Records"]
    assert (record["eventSource"], record["s3"]["object"]["key"]) == ("aws:s3", "n-17")
    assert _drain(sqs, tally, 1, seconds=3) <= ran  # nothing beyond the 16th
    # The 17th object was written (the write is not the loop: its invocation is), no 18th.
    assert s3.head_object(Bucket=bucket, Key="n-17")["ContentLength"] == 1
    assert s3.list_objects_v2(Bucket=bucket, Prefix="n-18")["KeyCount"] == 0


def test_a_function_publishing_to_its_own_topic_is_stopped_at_16(server: ServerProcess) -> None:
    tenant = new_tenant(server, "lambda-topic-loop")
    keys = (tenant.access_key_id, tenant.secret_access_key)
    sqs: Any = client_for(server, "sqs", *keys)
    tally = sqs.create_queue(QueueName="tally")["QueueUrl"]
    dead = sqs.create_queue(QueueName="loop-dead")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]  # fmt: skip
    functions: Any = client_for(server, "lambda", *keys)
    arn = tallying_function(
        client_for(server, "iam", *keys),
        functions,
        "publisher",
        PUBLISHER,
        tally=tally,
        actions=["sns:Publish", "sqs:SendMessage"],
        dead_letter_arn=dead_arn,
    )
    sns: Any = client_for(server, "sns", *keys)
    topic = sns.create_topic(Name="loop")["TopicArn"]
    functions.add_permission(FunctionName="publisher", StatementId="sns",
        Principal="sns.amazonaws.com", Action="lambda:InvokeFunction", SourceArn=topic)  # fmt: skip
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message="1")  # no trace: a chain begins

    ran = _drain(sqs, tally, 16)
    assert sorted(int(n) for n in ran) == list(range(1, 17))
    (stopped,) = _drain(sqs, dead, 1)
    (record,) = json.loads(stopped)["Records"]
    assert (record["EventSource"], record["Sns"]["Message"]) == ("aws:sns", "17")
    assert _drain(sqs, tally, 1, seconds=3) <= ran  # nothing beyond the 16th
