"""Firehose's CloudWatch Logs processors end to end (decision 0334): one real ``andromede
serve`` driven by boto3. A log group's subscription filter puts its events into a Direct PUT
stream whose Extended S3 destination has ``Decompression`` (GZIP), ``CloudWatchLogProcessing``
(``DataMessageExtraction`` true) and ``AppendDelimiterToRecord``: the bucket receives the
plain messages, one a line — no envelope, no CONTROL_MESSAGE —, while boto3's PutRecord into
that stream is refused with AWS's ``InvalidSourceException``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from support.server import REGION, ServerProcess, running_server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("firehose-logs") / "data"
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_FIREHOSE_DELIVERY_POLL_INTERVAL": "0.2",
        "ANDROMEDE_LOGS_SUBSCRIPTION_POLL_INTERVAL": "0.2",
    }
    with running_server(data_dir, extra_env=env) as started:
        yield started


def test_a_subscription_filter_s_messages_land_one_a_line(server: ServerProcess) -> None:
    credentials = server.credentials()
    iam: Any = client_for(server, "iam", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    firehose: Any = client_for(server, "firehose", *credentials)
    logs: Any = client_for(server, "logs", *credentials)
    s3.create_bucket(Bucket="plain-logs", CreateBucketConfiguration={"LocationConstraint": REGION})

    def role(name: str, service: str, action: str, resource: str) -> str:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
            ],
        }
        made = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
        }
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
        return str(made["Role"]["Arn"])

    writer = role("plain-fh", "firehose.amazonaws.com", "s3:PutObject", "arn:aws:s3:::plain-logs/*")
    processors = [
        {
            "Type": "Decompression",
            "Parameters": [{"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}],
        },
        {
            "Type": "CloudWatchLogProcessing",
            "Parameters": [{"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}],
        },
        {"Type": "AppendDelimiterToRecord", "Parameters": []},
    ]
    arn = firehose.create_delivery_stream(
        DeliveryStreamName="plain-logs",
        ExtendedS3DestinationConfiguration={
            "RoleARN": writer,
            "BucketARN": "arn:aws:s3:::plain-logs",
            "Prefix": "logs/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "ProcessingConfiguration": {"Enabled": True, "Processors": processors},
        },
    )["DeliveryStreamARN"]
    deadline = time.monotonic() + 20
    status = "CREATING"
    while status == "CREATING" and time.monotonic() < deadline:
        time.sleep(0.2)
        described = firehose.describe_delivery_stream(DeliveryStreamName="plain-logs")
        status = described["DeliveryStreamDescription"]["DeliveryStreamStatus"]
    [destination] = described["DeliveryStreamDescription"]["Destinations"]
    shown = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert shown == {"Enabled": True, "Processors": processors}
    with pytest.raises(ClientError) as refused:
        firehose.put_record(DeliveryStreamName="plain-logs", Record={"Data": b"by hand\n"})
    assert refused.value.response["Error"]["Code"] == "InvalidSourceException"

    subscriber = role("plain-sub", "logs.amazonaws.com", "firehose:PutRecord*", arn)
    logs.create_log_group(logGroupName="/app/web")
    logs.create_log_stream(logGroupName="/app/web", logStreamName="web-1")
    logs.put_subscription_filter(
        logGroupName="/app/web",
        filterName="all",
        filterPattern="",
        destinationArn=arn,
        roleArn=subscriber,
    )
    now = int(time.time() * 1000)
    messages = ["GET /orders 200", '{"path": "/orders/7", "status": 404}', "POST /orders 201"]
    logs.put_log_events(
        logGroupName="/app/web",
        logStreamName="web-1",
        logEvents=[{"timestamp": now + n, "message": m} for n, m in enumerate(messages)],
    )
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket="plain-logs", Prefix="logs/").get("Contents", [])
        bodies = [s3.get_object(Bucket="plain-logs", Key=o["Key"])["Body"].read() for o in listed]
        lines = b"".join(bodies).decode().splitlines()
        if len(lines) >= len(messages):
            break
        time.sleep(0.2)
    assert lines == messages  # plain, one a line: no envelope, no CONTROL_MESSAGE
    errors = s3.list_objects_v2(Bucket="plain-logs", Prefix="errors/").get("Contents", [])
    assert errors == []
    logs.delete_subscription_filter(logGroupName="/app/web", filterName="all")
