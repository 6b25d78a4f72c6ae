"""Decision 0315 over the wire (botocore's model): a ``Lambda`` processor taken on Extended S3
and HTTP endpoint destinations, checked with AWS's words and described back as AWS describes
it; its stream's batches transformed by the function before they are written — Ok records
delivered as the function made them, Dropped ones gone, ProcessingFailed ones and the
records of failed invocations under ``processing-failed/`` —, ``partitionKeyFromLambda``
partitioning the objects, the ``ExecuteProcessing.*`` / ``SucceedProcessing.*`` metrics,
and each failure said in the destination's CloudWatch error log. The function is a test
invoker (the real one, Lambda's Invoke as the role, is
``test_firehose_lambda_functions.py``'s and the e2e test's)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

from andromede.firehose.model import DeliveryStream, LambdaProcessor
from andromede.firehose.transform_delivery import TransformStep
from andromede.firehose.transformation import TransformFailed
from andromede.wiring.firehose import FirehoseMetrics
from support.batch_world import read
from support.firehoseapp import REGION, World
from support.logsapp import logs_world
from unit.firehoseapi.test_firehose_error_logs import deliverer, role_policy

FUNCTION = "arn:aws:lambda:eu-fr-1:{account}:function:upper"


class Upper:
    """The function: upper-cases each record, Drops ``drop``, fails ``bad``, keys each by
    its first letter (``metadata.partitionKeys.letter``)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.refusal: TransformFailed | None = None

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        event = json.loads(payload)
        self.events.append(event)
        if self.refusal is not None:
            raise self.refusal
        entries = []
        for record in event["records"]:
            data = base64.b64decode(record["data"])
            result = {b"bad": "ProcessingFailed", b"drop": "Dropped"}.get(data, "Ok")
            entries.append(
                {
                    "recordId": record["recordId"],
                    "result": result,
                    "data": base64.b64encode(data.upper()).decode(),
                    "metadata": {"partitionKeys": {"letter": data[:1].decode()}},
                }
            )
        return json.dumps({"records": entries}).encode()


def processor(world: World, *extra: tuple[str, str]) -> dict[str, Any]:
    arn = FUNCTION.format(account=world.tenant_id)
    return {
        "Type": "Lambda",
        "Parameters": [
            {"ParameterName": n, "ParameterValue": v} for n, v in (("LambdaArn", arn), *extra)
        ],
    }


def with_defaults(made: dict[str, Any], *defaults: tuple[str, str]) -> dict[str, Any]:
    added = [{"ParameterName": n, "ParameterValue": v} for n, v in defaults]
    return made | {"Parameters": made["Parameters"] + added}


def function(world: World) -> Upper:
    upper = Upper()
    world.deliverer.transform = TransformStep(
        upper,
        observer=FirehoseMetrics(world.sink, None, REGION),
        log_error=world.deliverer.log_transform_error,
    )
    return upper


async def keys(world: World) -> list[str]:
    listing = await world.objects.list_objects("landing", prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def extended(world: World, name: str) -> dict[str, Any]:
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName=name)
    destination = shown["DeliveryStreamDescription"]["Destinations"][0]
    return dict(destination["ExtendedS3DestinationDescription"])


async def test_records_are_transformed_dropped_and_failed(world: World) -> None:
    upper = function(world)
    lambda_processor = processor(world, ("NumberOfRetries", "0"))
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "out/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [lambda_processor]},
        },
    )
    await world.deliverer.run_pass()
    # Described as AWS describes it: the parameters given, then the defaults (which
    # Terraform's provider leaves out of its state), RoleArn the destination's role.
    role = (await extended(world, "orders"))["RoleARN"]
    assert (await extended(world, "orders"))["ProcessingConfiguration"] == {
        "Enabled": True,
        "Processors": [
            with_defaults(
                lambda_processor,
                ("RoleArn", role),
                ("BufferSizeInMBs", "1"),
                ("BufferIntervalInSeconds", "60"),
            )
        ],
    }
    records = [b"a1\n", b"bad", b"drop", b"b2\n"]
    await world.client(
        "PutRecordBatch", DeliveryStreamName="orders", Records=[{"Data": r} for r in records]
    )
    assert await world.deliverer.run_pass(later(61)) == 2
    (event,) = upper.events
    assert event["deliveryStreamArn"].endswith(":deliverystream/orders")
    assert event["region"] == REGION
    assert [base64.b64decode(r["data"]) for r in event["records"]] == records
    failed, delivered = await keys(world)
    assert delivered.startswith("out/20")
    assert await read(world.objects, "landing", delivered) == b"A1\nB2\n"
    assert failed.startswith("errors/processing-failed/20")
    (line,) = (await read(world.objects, "landing", failed)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "Lambda.ProcessingFailed"
    assert error["lambdaArn"] == FUNCTION.format(account=world.tenant_id)
    assert base64.b64decode(error["rawData"]) == b"bad"
    assert set(error) == {
        "attemptsMade",
        "arrivalTimestamp",
        "errorCode",
        "errorMessage",
        "attemptEndingTimestamp",
        "rawData",
        "lambdaArn",
    }
    assert await world.deliverer.run_pass(later(200)) == 0  # the buffer is empty
    assert world.sink.total("ExecuteProcessing.Success") == 1
    assert world.sink.total("SucceedProcessing.Records") == 3  # Ok and Dropped
    assert world.sink.total("SucceedProcessing.Bytes") == 3 + 4 + 3
    # The function refusing: its records failed, none delivered.
    upper.refusal = TransformFailed("Lambda.FunctionError", "it failed")
    await world.client("PutRecord", DeliveryStreamName="orders", Record={"Data": b"c3"})
    assert await world.deliverer.run_pass(later(400)) == 1
    new = sorted(set(await keys(world)) - {failed, delivered})
    assert len(new) == 1 and new[0].startswith("errors/processing-failed/")
    error = json.loads(await read(world.objects, "landing", new[0]))
    assert (error["errorCode"], error["attemptsMade"]) == ("Lambda.FunctionError", 1)
    assert len(upper.events) == 2  # NumberOfRetries 0: not retried


async def test_partition_keys_from_lambda_partition_the_objects(world: World) -> None:
    function(world)
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "letter=!{partitionKeyFromLambda:letter}/",
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": 64, "IntervalInSeconds": 60},
            "DynamicPartitioningConfiguration": {"Enabled": True},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [processor(world)]},
        },
    )
    await world.deliverer.run_pass()
    records = [b"a1\n", b"b1\n", b"a2\n", b"bad"]
    await world.client(
        "PutRecordBatch", DeliveryStreamName="orders", Records=[{"Data": r} for r in records]
    )
    assert await world.deliverer.run_pass(later(61)) == 3
    failed, a, b = await keys(world)
    assert a.startswith("letter=a/orders-1-") and b.startswith("letter=b/orders-1-")
    assert await read(world.objects, "landing", a) == b"A1\nA2\n"
    assert await read(world.objects, "landing", b) == b"B1\n"
    assert failed.startswith("errors/processing-failed/")
    assert world.sink.total("PartitionCount") == 2


async def test_aws_refusals_of_a_lambda_processor(world: World) -> None:
    base = {
        "RoleARN": await world.role(),
        "BucketARN": await world.bucket(),
        "ErrorOutputPrefix": "errors/",
    }

    def processing(*parameters: tuple[str, str], arn: bool = True) -> dict[str, Any]:
        made = processor(world, *parameters)
        if not arn:
            made["Parameters"] = made["Parameters"][1:]
        return {"ProcessingConfiguration": {"Enabled": True, "Processors": [made]}}

    refusals = [
        (processing(arn=False), "LambdaArn is a required parameter"),
        (processing(("NumberOfRetries", "301")), "NumberOfRetries must be a number between 0"),
        (processing(("NumberOfRetries", "two")), "NumberOfRetries must be a number"),
        (processing(("BufferSizeInMBs", "0.1")), "BufferSizeInMBs must be a number between 0.2"),
        (processing(("BufferSizeInMBs", "4")), "between 0.2 and 3"),
        (processing(("BufferIntervalInSeconds", "59")), "between 60 and 900"),
        (processing(("RoleArn", "arn:aws:s3:::b")), "not a valid IAM role ARN"),
        (processing(("Delimiter", "Cg==")), "not supported by the Lambda processor"),
        (processing(("NumberOfRetries", "1"), ("NumberOfRetries", "2")), "given twice"),
        ({"Prefix": "!{partitionKeyFromLambda:k}/"} | processing(), "with a Lambda processor"),
    ]
    for changes, words in refusals:
        message = await world.fails(
            "CreateDeliveryStream",
            "InvalidArgumentException",
            DeliveryStreamName="orders",
            ExtendedS3DestinationConfiguration=base | changes,
        )
        assert words in message, (changes, message)
    # Taken with all its parameters, described back as given; an update replaces it.
    given = processing(
        ("NumberOfRetries", "5"),
        ("BufferSizeInMBs", "0.5"),
        ("BufferIntervalInSeconds", "120"),
        ("RoleArn", base["RoleARN"]),
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration=base | given,
    )
    await world.deliverer.run_pass()
    described = await extended(world, "orders")
    assert described["ProcessingConfiguration"] == given["ProcessingConfiguration"]
    await world.client(
        "UpdateDestination",
        DeliveryStreamName="orders",
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"ProcessingConfiguration": {"Enabled": False}},
    )
    assert "ProcessingConfiguration" not in await extended(world, "orders")


async def test_an_http_endpoint_takes_a_lambda_processor(world: World) -> None:
    role = await world.role()
    lambda_processor = processor(world, ("BufferSizeInMBs", "3"))
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="web",
        HttpEndpointDestinationConfiguration={
            "EndpointConfiguration": {"Url": "https://collector.example/ingest"},
            "RoleARN": role,
            "ProcessingConfiguration": {"Enabled": True, "Processors": [lambda_processor]},
            "S3Configuration": {"RoleARN": role, "BucketARN": await world.bucket()},
        },
    )
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="web")
    http = shown["DeliveryStreamDescription"]["Destinations"][0][
        "HttpEndpointDestinationDescription"
    ]
    described = with_defaults(
        lambda_processor,
        ("NumberOfRetries", "3"),
        ("RoleArn", role),
        ("BufferIntervalInSeconds", "60"),
    )
    assert http["ProcessingConfiguration"] == {"Enabled": True, "Processors": [described]}
    message = await world.fails(
        "UpdateDestination",
        "InvalidArgumentException",
        DeliveryStreamName="web",
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={
            "ProcessingConfiguration": {
                "Enabled": True,
                "Processors": [{"Type": "AppendDelimiterToRecord", "Parameters": []}],
            }
        },
    )
    assert "not supported for an HTTP endpoint destination" in message
    # The deliverer's error output of an HTTP endpoint is its backup bucket.
    upper = function(world)
    upper.refusal = TransformFailed("Lambda.InvokeAccessDenied", "no", retryable=False)
    await world.deliverer.run_pass()
    await world.client("PutRecord", DeliveryStreamName="web", Record={"Data": b"x"})
    assert await world.deliverer.run_pass(later(400)) == 1
    (failed,) = await keys(world)
    assert failed.startswith("processing-failed/20")
    assert json.loads(await read(world.objects, "landing", failed))["errorCode"] == (
        "Lambda.InvokeAccessDenied"
    )


async def test_a_failed_transformation_is_said_in_the_error_log(
    world: World, tmp_path: Path
) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        group = "/aws/kinesisfirehose/orders"
        await logs.service.create_group(world.tenant_id, group, None, {})
        await logs.service.create_stream(world.tenant_id, group, "DestinationDelivery")
        gateway = deliverer(world, logs.service)
        gateway.transform = TransformStep(Upper(), log_error=gateway.log_transform_error)
        role = await world.role(policy=role_policy("logs:PutLogEvents"))
        await world.client(
            "CreateDeliveryStream",
            DeliveryStreamName="orders",
            ExtendedS3DestinationConfiguration={
                "RoleARN": role,
                "BucketARN": await world.bucket(),
                "CloudWatchLoggingOptions": {
                    "Enabled": True, "LogGroupName": group, "LogStreamName": "DestinationDelivery",
                },
                "ProcessingConfiguration": {"Enabled": True, "Processors": [processor(world)]},
            },
        )  # fmt: skip
        await gateway.run_pass()
        await world.client("PutRecord", DeliveryStreamName="orders", Record={"Data": b"bad"})
        assert await gateway.run_pass(later(400)) == 1
        (record,) = [
            json.loads(e.message)
            for e in (
                await logs.service.get_events(
                    world.tenant_id, group, "DestinationDelivery", start=None, end=None,
                    start_from_head=True, limit=None, token=None,
                )
            )[0]
        ]  # fmt: skip
        assert record["errorCode"] == "Lambda.ProcessingFailed"
        assert record["destination"] == FUNCTION.format(account=world.tenant_id)
