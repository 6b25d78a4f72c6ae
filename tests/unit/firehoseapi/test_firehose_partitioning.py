"""Decision 0270's dynamic partitioning over the wire (botocore's model): an Extended S3
stream's DynamicPartitioningConfiguration and ProcessingConfiguration taken, checked as AWS
checks them and described back, and its buffer delivered one object a partition into the
in-process S3, the records that cannot be partitioned under the error output prefix."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.wiring.firehose import FirehoseMetrics
from support.batch_world import read
from support.firehoseapp import World

QUERY = "{customer: .customer_id}"


def processors(*extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "Enabled": True,
        "Processors": [
            {
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": QUERY},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                ],
            },
            *extra,
        ],
    }


async def config(world: World, **changes: Any) -> dict[str, Any]:
    return {
        "RoleARN": await world.role(),
        "BucketARN": await world.bucket(),
        "Prefix": "customer=!{partitionKeyFromQuery:customer}/",
        "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
        "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
        "DynamicPartitioningConfiguration": {
            "Enabled": True, "RetryOptions": {"DurationInSeconds": 120},
        },
        "ProcessingConfiguration": processors(
            {"Type": "AppendDelimiterToRecord", "Parameters": []}
        ),
    } | changes  # fmt: skip


async def keys(world: World) -> list[str]:
    listing = await world.objects.list_objects("landing", prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def test_records_land_one_object_a_partition(world: World) -> None:
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration=await config(world),
    )
    await world.deliverer.run_pass()
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="orders")
    extended = shown["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"
    ]
    assert extended["DynamicPartitioningConfiguration"] == {
        "Enabled": True, "RetryOptions": {"DurationInSeconds": 120},
    }  # fmt: skip
    assert extended["ProcessingConfiguration"] == {
        "Enabled": True,
        "Processors": [
            {
                "Type": "MetadataExtraction",
                "Parameters": [
                    {"ParameterName": "MetadataExtractionQuery", "ParameterValue": QUERY},
                    {"ParameterName": "JsonParsingEngine", "ParameterValue": "JQ-1.6"},
                ],
            },
            {"Type": "AppendDelimiterToRecord", "Parameters": []},
        ],
    }
    records = [b'{"customer_id":"a","n":1}', b'{"customer_id":"b","n":2}',
               b'{"customer_id":"a","n":3}', b"plain text"]  # fmt: skip
    await world.client(
        "PutRecordBatch", DeliveryStreamName="orders", Records=[{"Data": r} for r in records]
    )
    assert await world.deliverer.run_pass(later(61)) == 3
    a, b, failed = await keys(world)
    assert a.startswith("customer=a/orders-1-") and b.startswith("customer=b/orders-1-")
    assert await read(world.objects, "landing", a) == (
        b'{"customer_id":"a","n":1}\n{"customer_id":"a","n":3}\n'
    )
    assert await read(world.objects, "landing", b) == b'{"customer_id":"b","n":2}\n'
    assert failed.startswith("errors/processing-failed/orders-1-")
    (line,) = (await read(world.objects, "landing", failed)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "DynamicPartitioning.MetadataExtractionFailed"
    assert base64.b64decode(error["rawData"]) == b"plain text"
    assert await world.deliverer.run_pass(later(200)) == 0  # the buffer is empty
    assert world.sink.total("PartitionCount") == 2
    assert world.sink.total("PartitionCountExceeded") == 0
    assert world.sink.total("DeliveryToS3.ObjectCount") == 3


async def test_partitions_past_the_limit_go_to_the_error_prefix(world: World) -> None:
    gateway = FirehoseDeliverer(
        world.firehose,
        DeliveryPolicy(max_active_partitions=2),
        "gw-limit",
        FirehoseMetrics(world.sink, None, "eu-fr-1"),
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration=await config(world),
    )
    await gateway.run_pass()
    await world.client(
        "PutRecordBatch",
        DeliveryStreamName="orders",
        Records=[{"Data": f'{{"customer_id":"c{i}"}}'.encode()} for i in range(3)],
    )
    assert await gateway.run_pass(later(61)) == 3
    found = await keys(world)
    assert [k.split("/")[0] for k in found] == ["customer=c0", "customer=c1", "errors"]
    assert found[2].startswith("errors/activePartitionExceeded/")
    error = json.loads(await read(world.objects, "landing", found[2]))
    assert error["errorCode"] == "DynamicPartitioning.ActivePartitionsLimitExceeded"
    assert base64.b64decode(error["rawData"]) == b'{"customer_id":"c2"}\n'
    assert world.sink.total("PartitionCountExceeded") == 1


async def test_aws_refusals(world: World) -> None:
    base = await config(world)
    lambda_processor = {
        "Type": "Lambda",
        "Parameters": [{"ParameterName": "LambdaArn",
                        "ParameterValue": "arn:aws:lambda:eu-fr-1:000000000001:function:f"}],
    }  # fmt: skip
    refusals = [
        (
            {
                "ProcessingConfiguration": processors(
                    {
                        "Type": "Lambda",
                        "Parameters": [
                            {"ParameterName": "LambdaArn", "ParameterValue": "arn:aws:s3:::f"}
                        ],
                    }
                )
            },
            "not a valid Lambda function ARN",
        ),  # decision 0315: a Lambda processor is taken, its function an ARN's
        (
            {"ProcessingConfiguration": processors({"Type": "DataMessageExtraction"})},
            "is a parameter of the CloudWatchLogProcessing processor",
        ),  # decision 0334
        ({"BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 60}}, "at least 64"),
        ({"ErrorOutputPrefix": ""}, "ErrorOutputPrefix cannot be null"),
        ({"Prefix": "customer=!{partitionKeyFromQuery:region}/"}, "'region' of Prefix"),
        (
            {
                "ProcessingConfiguration": processors(
                    {
                        "Type": "RecordDeAggregation",
                        "Parameters": [
                            {"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"}
                        ],
                    }
                )
            },
            "needs a Delimiter",
        ),
        (
            {
                "ProcessingConfiguration": {
                    "Enabled": True,
                    "Processors": [
                        {
                            "Type": "MetadataExtraction",
                            "Parameters": [
                                {
                                    "ParameterName": "MetadataExtractionQuery",
                                    "ParameterValue": "{customer: .a",
                                }
                            ],
                        }
                    ],
                }
            },
            "not a valid JQ query",
        ),
    ]
    for changes, words in refusals:
        message = await world.fails(
            "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="orders",
            ExtendedS3DestinationConfiguration=base | changes,
        )  # fmt: skip
        assert words in message, (changes, message)
    # A disabled configuration naming Lambda is kept unused, as AWS keeps it.
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="plain",
        ExtendedS3DestinationConfiguration={
            "RoleARN": base["RoleARN"],
            "BucketARN": base["BucketARN"],
            "ProcessingConfiguration": {"Enabled": False, "Processors": [lambda_processor]},
        },
    )
    await world.deliverer.run_pass()
    # Dynamic partitioning is chosen at creation only.
    message = await world.fails(
        "UpdateDestination", "InvalidArgumentException", DeliveryStreamName="plain",
        CurrentDeliveryStreamVersionId="1", DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={
            "Prefix": base["Prefix"], "ErrorOutputPrefix": base["ErrorOutputPrefix"],
            "BufferingHints": base["BufferingHints"],
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": base["ProcessingConfiguration"],
        },
    )  # fmt: skip
    assert "only be enabled when the delivery stream is created" in message


async def test_delimited_records_are_split_then_partitioned(world: World) -> None:
    deaggregation = {
        "Type": "RecordDeAggregation",
        "Parameters": [
            {"ParameterName": "SubRecordType", "ParameterValue": "DELIMITED"},
            {"ParameterName": "Delimiter", "ParameterValue": base64.b64encode(b"##").decode()},
        ],
    }
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration=await config(
            world, ProcessingConfiguration=processors(deaggregation)
        ),
    )
    await world.deliverer.run_pass()
    await world.client(
        "PutRecord",
        DeliveryStreamName="orders",
        Record={"Data": b'{"customer_id":"a"}##{"customer_id":"b"}##'},
    )
    assert await world.deliverer.run_pass(later(61)) == 2
    a, b = await keys(world)
    assert await read(world.objects, "landing", a) == b'{"customer_id":"a"}'
    assert await read(world.objects, "landing", b) == b'{"customer_id":"b"}'
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="orders")
    extended = shown["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"
    ]
    assert extended["ProcessingConfiguration"]["Processors"][1] == deaggregation


async def test_a_disabled_configuration_is_described_as_given(world: World) -> None:
    """Terraform's ``dynamic_partitioning_configuration { enabled = false }`` reads back as
    sent; a stream given none describes none."""
    role, bucket = await world.role(), await world.bucket()
    for name, extra in (
        ("given", {"DynamicPartitioningConfiguration": {"Enabled": False}}),
        ("none", {}),
    ):
        await world.client(
            "CreateDeliveryStream",
            DeliveryStreamName=name,
            ExtendedS3DestinationConfiguration={"RoleARN": role, "BucketARN": bucket} | extra,
        )
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="given")
    extended = shown["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"
    ]
    assert extended["DynamicPartitioningConfiguration"] == {
        "Enabled": False, "RetryOptions": {"DurationInSeconds": 300},
    }  # fmt: skip
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="none")
    extended = shown["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"
    ]
    assert "DynamicPartitioningConfiguration" not in extended
    assert "ProcessingConfiguration" not in extended


async def test_records_processed_without_partitioning_land_in_one_object(world: World) -> None:
    """AppendDelimiterToRecord without dynamic partitioning: a batch is one object under
    the plain prefix and its time folders, each record followed by the delimiter."""
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="lines",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "raw/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": [
                    {"ParameterName": "Delimiter",
                     "ParameterValue": base64.b64encode(b"\r\n").decode()},
                ]}],
            },
        },
    )  # fmt: skip
    await world.deliverer.run_pass()
    await world.client(
        "PutRecordBatch", DeliveryStreamName="lines", Records=[{"Data": b"a"}, {"Data": b"b"}]
    )
    assert await world.deliverer.run_pass(later(61)) == 1
    (key,) = await keys(world)
    assert key.startswith("raw/") and "/lines-1-" in key
    assert await read(world.objects, "landing", key) == b"a\r\nb\r\n"
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="lines")
    extended = shown["DeliveryStreamDescription"]["Destinations"][0][
        "ExtendedS3DestinationDescription"
    ]
    assert "DynamicPartitioningConfiguration" not in extended
    assert extended["ProcessingConfiguration"]["Processors"] == [
        {"Type": "AppendDelimiterToRecord",
         "Parameters": [{"ParameterName": "Delimiter", "ParameterValue": "DQo="}]},
    ]  # fmt: skip
