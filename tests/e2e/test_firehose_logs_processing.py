"""Firehose's CloudWatch Logs processors end to end (decision 0334): one real ``andromede
serve`` driven by boto3. A log group's subscription filter puts its events into a Direct PUT
stream whose Extended S3 destination has ``Decompression`` (GZIP), ``CloudWatchLogProcessing``
(``DataMessageExtraction`` true) and ``AppendDelimiterToRecord``: the bucket receives the
plain messages, one a line — no envelope, no CONTROL_MESSAGE —, while boto3's PutRecord into
that stream is refused with AWS's ``InvalidSourceException``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from support.delivery_streams import active_stream, delivered_bodies
from support.server import REGION, ServerProcess, running_server
from support.service_roles import service_role
from support.waiting import eventually

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

    writer = service_role(
        iam, "plain-fh", "firehose.amazonaws.com", ("s3:PutObject", "arn:aws:s3:::plain-logs/*")
    )
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
    [destination] = active_stream(firehose, "plain-logs", within=20)["Destinations"]
    shown = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert shown == {"Enabled": True, "Processors": processors}
    with pytest.raises(ClientError) as refused:
        firehose.put_record(DeliveryStreamName="plain-logs", Record={"Data": b"by hand\n"})
    assert refused.value.response["Error"]["Code"] == "InvalidSourceException"

    subscriber = service_role(iam, "plain-sub", "logs.amazonaws.com", ("firehose:PutRecord*", arn))
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
    lines = eventually(
        lambda: b"".join(delivered_bodies(s3, "plain-logs", "logs/")).decode().splitlines(),
        lambda landed: len(landed) >= len(messages),
    )
    assert lines == messages  # plain, one a line: no envelope, no CONTROL_MESSAGE
    errors = s3.list_objects_v2(Bucket="plain-logs", Prefix="errors/").get("Contents", [])
    assert errors == []
    logs.delete_subscription_filter(logGroupName="/app/web", filterName="all")
