"""Decision 0270's CloudWatch error logging: a destination's ``CloudWatchLoggingOptions``
taken, described back, and each failed delivery written as AWS's JSON error record into that
log group and stream of the account, as the destination's role (allowed ``logs:PutLogEvents``),
through the in-process Logs service."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.firehose.http_endpoint import EndpointSender
from andromede.logs.errors import ResourceNotFound
from andromede.logs.service import LogsService
from andromede.wiring.firehose import role_error_logs
from support.firehoseapp import World
from support.logsapp import logs_world

GROUP = "/aws/kinesisfirehose/clicks"


def role_policy(*logs_actions: str, bucket: str = "arn:aws:s3:::*") -> str:
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": bucket}
    ]
    if logs_actions:
        statements.append({"Effect": "Allow", "Action": list(logs_actions), "Resource": "*"})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def deliverer(
    world: World, logs: LogsService, endpoints: EndpointSender | None = None, **policy: Any
) -> FirehoseDeliverer:
    """The world's deliverer, writing its error logs into ``logs``."""
    return FirehoseDeliverer(
        world.firehose,
        DeliveryPolicy(retry_interval_ms=5_000, retry_duration_ms=60_000, **policy),
        "gw-logs",
        None,
        None,
        endpoints,
        role_error_logs(logs, world.identity, world.audit, world.billing, "eu-fr-1"),
    )


async def logged(logs: LogsService, tenant_id: str, stream: str) -> list[dict[str, Any]]:
    try:
        events, _, _ = await logs.get_events(
            tenant_id, GROUP, stream, start=None, end=None, start_from_head=True, limit=None,
            token=None,
        )  # fmt: skip
    except ResourceNotFound:
        return []
    return [json.loads(e.message) for e in events]


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def test_a_refused_delivery_is_logged_as_aws_writes_it(world: World, tmp_path: Path) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        await logs.service.create_group(world.tenant_id, GROUP, None, {})
        await logs.service.create_stream(world.tenant_id, GROUP, "DestinationDelivery")
        # The role may write the log, not the bucket's objects.
        role = await world.role(policy=role_policy("logs:PutLogEvents", bucket="arn:aws:s3:::x/*"))
        await world.bucket()
        options = {"Enabled": True, "LogGroupName": GROUP, "LogStreamName": "DestinationDelivery"}
        await world.client(
            "CreateDeliveryStream",
            DeliveryStreamName="clicks",
            ExtendedS3DestinationConfiguration={
                "RoleARN": role,
                "BucketARN": "arn:aws:s3:::landing",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
                "CloudWatchLoggingOptions": options,
            },
        )
        shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks")
        (destination,) = shown["DeliveryStreamDescription"]["Destinations"]
        assert destination["ExtendedS3DestinationDescription"]["CloudWatchLoggingOptions"] == (
            options
        )
        assert destination["S3DestinationDescription"]["CloudWatchLoggingOptions"] == options
        gateway = deliverer(world, logs.service)
        await gateway.run_pass()
        await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"a"})
        await gateway.run_pass(later(61))
        (record,) = await logged(logs.service, world.tenant_id, "DestinationDelivery")
        assert record == {
            "deliveryStreamARN": f"arn:aws:firehose:eu-fr-1:{world.tenant_id}"
            ":deliverystream/clicks",
            "destination": "arn:aws:s3:::landing",
            "deliveryStreamVersionId": 1,
            "message": record["message"],
            "errorCode": "S3.AccessDenied",
        }
        assert "Access was denied" in record["message"]
        # Another account's group of the same name gets nothing.
        assert await logged(logs.service, "000000000999", "DestinationDelivery") == []


async def test_a_role_not_allowed_to_put_log_events_writes_nothing(
    world: World, tmp_path: Path
) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        await logs.service.create_group(world.tenant_id, GROUP, None, {})
        await logs.service.create_stream(world.tenant_id, GROUP, "S3Delivery")
        role = await world.role(policy=role_policy("logs:CreateLogStream"))
        await world.client(
            "CreateDeliveryStream",
            DeliveryStreamName="clicks",
            S3DestinationConfiguration={
                "RoleARN": role,
                "BucketARN": "arn:aws:s3:::gone",
                "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
                "CloudWatchLoggingOptions": {
                    "Enabled": True, "LogGroupName": GROUP, "LogStreamName": "S3Delivery",
                },
            },
        )  # fmt: skip
        gateway = deliverer(world, logs.service)
        await gateway.run_pass()
        await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"a"})
        await gateway.run_pass(later(61))
        assert await logged(logs.service, world.tenant_id, "S3Delivery") == []
        # Allowed now: the next attempt's NoSuchBucket is written.
        await world.identity.put_role_policy(
            world.tenant_id, "firehose", "put", role_policy("logs:PutLogEvents")
        )
        await gateway.run_pass(later(70))
        (record,) = await logged(logs.service, world.tenant_id, "S3Delivery")
        assert record["errorCode"] == "S3.NoSuchBucket"


async def test_logging_disabled_or_without_names(world: World, tmp_path: Path) -> None:
    role = await world.role()
    await world.bucket()
    message = await world.fails(
        "CreateDeliveryStream",
        "InvalidArgumentException",
        DeliveryStreamName="clicks",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": "arn:aws:s3:::landing",
            "CloudWatchLoggingOptions": {"Enabled": True, "LogGroupName": GROUP},
        },
    )
    assert "LogStreamName is required" in message
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="clicks",
        ExtendedS3DestinationConfiguration={
            "RoleARN": role,
            "BucketARN": "arn:aws:s3:::landing",
            "CloudWatchLoggingOptions": {"Enabled": False, "LogGroupName": GROUP},
        },
    )
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks")
    s3 = shown["DeliveryStreamDescription"]["Destinations"][0]["S3DestinationDescription"]
    assert s3["CloudWatchLoggingOptions"] == {"Enabled": False, "LogGroupName": GROUP}
