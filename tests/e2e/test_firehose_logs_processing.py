"""Firehose's CloudWatch Logs processors end to end (decision 0334): one real ``andromede
serve`` driven by boto3. A log group's subscription filter puts its events into a Direct PUT
stream whose Extended S3 destination has ``Decompression`` (GZIP), ``CloudWatchLogProcessing``
(``DataMessageExtraction`` true) and ``AppendDelimiterToRecord``: the bucket receives the
plain messages, one a line — no envelope, no CONTROL_MESSAGE —, while boto3's PutRecord into
that stream is refused with AWS's ``InvalidSourceException``.

Decision 0342 on the same server: a subscription filter into an HTTP endpoint stream with the
same processors, whose receiver on loopback is sent the plain messages one record each; and a
Kinesis data stream given a KPL aggregate by boto3, read by a KinesisStreamAsSource stream
whose bucket receives the user records' data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from e2e.iam_helpers import client_for
from support.delivery_streams import active_stream, delivered_bodies
from support.http_endpoints import http_endpoint
from support.kpl import aggregate
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
        "ANDROMEDE_FIREHOSE_HTTP_ENDPOINT_ALLOW_HTTP": "true",
        "ANDROMEDE_FIREHOSE_HTTP_ENDPOINT_ALLOW_CIDRS": '["127.0.0.1/32"]',
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


def test_an_http_endpoint_is_sent_a_subscription_filter_s_messages(server: ServerProcess) -> None:
    with http_endpoint() as receiver:
        credentials = server.credentials()
        iam: Any = client_for(server, "iam", *credentials)
        s3: Any = client_for(server, "s3", *credentials)
        firehose: Any = client_for(server, "firehose", *credentials)
        logs: Any = client_for(server, "logs", *credentials)
        s3.create_bucket(
            Bucket="http-logs-backup", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        writer = service_role(
            iam,
            "http-logs-fh",
            "firehose.amazonaws.com",
            ("s3:PutObject", "arn:aws:s3:::http-logs-backup/*"),
        )
        processors = [
            {"Type": "Decompression", "Parameters": [
                {"ParameterName": "CompressionFormat", "ParameterValue": "GZIP"}]},
            {"Type": "CloudWatchLogProcessing", "Parameters": [
                {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]},
        ]  # fmt: skip
        arn = firehose.create_delivery_stream(
            DeliveryStreamName="http-logs",
            HttpEndpointDestinationConfiguration={
                "EndpointConfiguration": {
                    "Url": receiver.url, "Name": "e2e",
                },
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                "ProcessingConfiguration": {"Enabled": True, "Processors": processors},
                "RoleARN": writer,
                "S3Configuration": {"RoleARN": writer,
                                    "BucketARN": "arn:aws:s3:::http-logs-backup"},
            },
        )["DeliveryStreamARN"]  # fmt: skip
        [destination] = active_stream(firehose, "http-logs", within=20)["Destinations"]
        shown = destination["HttpEndpointDestinationDescription"]["ProcessingConfiguration"]
        assert shown == {"Enabled": True, "Processors": processors}
        with pytest.raises(ClientError) as refused:
            firehose.put_record(DeliveryStreamName="http-logs", Record={"Data": b"by hand"})
        assert refused.value.response["Error"]["Code"] == "InvalidSourceException"
        subscriber = service_role(
            iam, "http-logs-sub", "logs.amazonaws.com", ("firehose:PutRecord*", arn)
        )
        logs.create_log_group(logGroupName="/app/api")
        logs.create_log_stream(logGroupName="/app/api", logStreamName="api-1")
        logs.put_subscription_filter(
            logGroupName="/app/api", filterName="all", filterPattern="", destinationArn=arn,
            roleArn=subscriber,
        )  # fmt: skip
        now = int(time.time() * 1000)
        messages = [b"GET /users 200", b"DELETE /users/3 403"]
        logs.put_log_events(
            logGroupName="/app/api", logStreamName="api-1",
            logEvents=[{"timestamp": now + n, "message": m.decode()}
                       for n, m in enumerate(messages)],
        )  # fmt: skip
        sent = eventually(receiver.records, lambda received: len(received) >= len(messages))
        assert sent == messages  # plain messages, no envelope, no CONTROL_MESSAGE
        backup = s3.list_objects_v2(Bucket="http-logs-backup").get("Contents", [])
        assert backup == []
        logs.delete_subscription_filter(logGroupName="/app/api", filterName="all")


def test_a_kinesis_source_s_kpl_aggregates_land_de_aggregated(server: ServerProcess) -> None:
    credentials = server.credentials()
    iam: Any = client_for(server, "iam", *credentials)
    s3: Any = client_for(server, "s3", *credentials)
    kinesis: Any = client_for(server, "kinesis", *credentials)
    firehose: Any = client_for(server, "firehose", *credentials)
    s3.create_bucket(Bucket="kpl-landing", CreateBucketConfiguration={"LocationConstraint": REGION})
    kinesis.create_stream(StreamName="kpl-feed", ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName="kpl-feed", WaiterConfig={"Delay": 1})
    summary = kinesis.describe_stream_summary(StreamName="kpl-feed")["StreamDescriptionSummary"]
    role = service_role(
        iam,
        "kpl-fh",
        "firehose.amazonaws.com",
        ("s3:PutObject", "arn:aws:s3:::kpl-landing/*"),
        (
            ["kinesis:DescribeStream", "kinesis:GetShardIterator", "kinesis:GetRecords",
             "kinesis:ListShards"],
            summary["StreamARN"],
        ),
    )  # fmt: skip
    firehose.create_delivery_stream(
        DeliveryStreamName="from-kpl",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": summary["StreamARN"],
                                          "RoleARN": role},
        ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": "arn:aws:s3:::kpl-landing",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        },
    )  # fmt: skip
    users = [("user-1", b"u1;"), ("user-2", b"u2;"), ("user-1", b"u3;")]
    kinesis.put_record(StreamName="kpl-feed", Data=aggregate(users), PartitionKey="agg")
    kinesis.put_record(StreamName="kpl-feed", Data=b"plain;", PartitionKey="p")
    expected = b"u1;u2;u3;plain;"
    landed = eventually(
        lambda: b"".join(delivered_bodies(s3, "kpl-landing")),
        lambda bodies: len(bodies) >= len(expected),
    )
    # Delivered at least once: a batch read again would repeat, never split, an aggregate.
    assert b"u1;u2;u3;" in landed and b"plain;" in landed, landed
    assert set(landed.split(b";")) == {b"u1", b"u2", b"u3", b"plain", b""}
