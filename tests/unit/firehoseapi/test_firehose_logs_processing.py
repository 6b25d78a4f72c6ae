"""Decision 0334 over the wire (botocore's model): the ``Decompression`` and
``CloudWatchLogProcessing`` processors taken on Extended S3 destinations, checked and
described back; PutRecord refused on such a stream (AWS's ``InvalidSourceException``) while
CloudWatch Logs' records are taken; their batches gunzipped and their messages extracted —
one a line with ``AppendDelimiterToRecord``, CONTROL_MESSAGEs dropped —, the records that
cannot be under ``decompression-failed/`` or ``processing-failed/`` as they came, and the
messages given to a Lambda processor. Over the memory store and the migrated SQLite schema
(the processors kept in the destination column)."""

from __future__ import annotations

import base64
import gzip
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.firehose.model import DeliveryStream, LambdaProcessor
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.firehose.transform_delivery import TransformStep
from support.batch_world import read
from support.firehoseapp import World, firehose_world
from support.schema import migrated_sqlite

GZIP = {"Type": "Decompression", "Parameters": [{"ParameterName": "CompressionFormat",
                                                 "ParameterValue": "GZIP"}]}  # fmt: skip
EXTRACT = {"Type": "CloudWatchLogProcessing", "Parameters": [
    {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}]}  # fmt: skip
NEWLINE = {"Type": "AppendDelimiterToRecord", "Parameters": []}


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path, firehose_max_buffered_bytes=4096):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for made in firehose_world(tmp_path, SqlFirehoseStore(db)):
            yield made
    finally:
        await db.close()


def envelope(*messages: str, kind: str = "DATA_MESSAGE") -> bytes:
    """A subscription filter's record, as CloudWatch Logs puts it into Firehose."""
    events = [{"id": str(n), "timestamp": 1_000 + n, "message": m} for n, m in enumerate(messages)]
    return gzip.compress(
        json.dumps({
            "messageType": kind, "owner": "000000000001", "logGroup": "/app/orders",
            "logStream": "web-1", "subscriptionFilters": ["all"], "logEvents": events,
        }).encode()
    )  # fmt: skip


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


async def keys(world: World) -> list[str]:
    listing = await world.objects.list_objects("landing", prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


async def create(world: World, *processors: dict[str, Any], name: str = "logs") -> str:
    made = await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "out/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "ProcessingConfiguration": {"Enabled": True, "Processors": list(processors)},
        },
    )
    await world.deliverer.run_pass()
    return str(made["DeliveryStreamARN"])


async def test_log_records_are_decompressed_and_their_messages_extracted(world: World) -> None:
    arn = await create(world, GZIP, EXTRACT, NEWLINE)
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="logs")
    destination = shown["DeliveryStreamDescription"]["Destinations"][0]
    described = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert described == {"Enabled": True, "Processors": [GZIP, EXTRACT, NEWLINE]}
    # Only CloudWatch Logs may put into it, as AWS answers.
    message = await world.fails(
        "PutRecord", "InvalidSourceException", DeliveryStreamName="logs", Record={"Data": b"x"}
    )
    assert "Only requests from CloudWatch Logs" in message
    records = [
        envelope(kind="CONTROL_MESSAGE"),
        envelope("GET /orders 200", "GET /orders/7 404"),
        b"not gzip at all",
        gzip.compress(b'{"messageType": "SOMETHING"}'),
        envelope("POST /orders 201"),
    ]
    results = await world.firehose.put_records(world.tenant_id, arn, records, from_logs=True)
    assert all(r.error_code is None for r in results)
    assert await world.deliverer.run_pass(later(61)) == 3
    decompression, processing, delivered = await keys(world)
    assert delivered.startswith("out/20")
    body = await read(world.objects, "landing", delivered)
    assert body == b"GET /orders 200\nGET /orders/7 404\nPOST /orders 201\n"
    assert decompression.startswith("errors/decompression-failed/20")
    (line,) = (await read(world.objects, "landing", decompression)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "Decompression.Failed"
    assert base64.b64decode(error["rawData"]) == b"not gzip at all"  # as it came
    assert processing.startswith("errors/processing-failed/20")
    (line,) = (await read(world.objects, "landing", processing)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "CloudWatchLogProcessing.MessageExtractionFailed"
    assert gzip.decompress(base64.b64decode(error["rawData"])) == b'{"messageType": "SOMETHING"}'
    assert await world.deliverer.run_pass(later(200)) == 0  # the whole batch left the buffer


async def test_decompression_alone_delivers_the_envelopes(world: World) -> None:
    arn = await create(world, GZIP)
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="logs")
    destination = shown["DeliveryStreamDescription"]["Destinations"][0]
    described = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert described == {"Enabled": True, "Processors": [GZIP]}
    await world.firehose.put_records(world.tenant_id, arn, [envelope("hello")], from_logs=True)
    assert await world.deliverer.run_pass(later(61)) == 1
    (delivered,) = await keys(world)
    shown_body = json.loads(await read(world.objects, "landing", delivered))
    assert shown_body["logEvents"][0]["message"] == "hello"
    assert shown_body["logGroup"] == "/app/orders"


async def test_a_stream_whose_records_are_all_dropped_empties_its_buffer(world: World) -> None:
    arn = await create(world, GZIP, EXTRACT)
    control = envelope(kind="CONTROL_MESSAGE")
    await world.firehose.put_records(world.tenant_id, arn, [control], from_logs=True)
    assert await world.deliverer.run_pass(later(61)) == 0
    assert await keys(world) == []
    await world.firehose.put_records(world.tenant_id, arn, [envelope("a")], from_logs=True)
    assert await world.deliverer.run_pass(later(200)) == 1
    (delivered,) = await keys(world)
    assert await read(world.objects, "landing", delivered) == b"a"  # no delimiter asked


class Echo:
    """A Lambda processor's function that keeps each record and says what it saw."""

    def __init__(self) -> None:
        self.seen: list[bytes] = []

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        records = json.loads(payload)["records"]
        self.seen += [base64.b64decode(r["data"]) for r in records]
        answer = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in records]
        return json.dumps({"records": answer}).encode()


async def test_a_lambda_processor_is_given_the_extracted_messages(world: World) -> None:
    echo = Echo()
    world.deliverer.transform = TransformStep(echo)
    function = f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:echo"
    lambda_processor = {"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": function}]}  # fmt: skip
    arn = await create(world, GZIP, EXTRACT, lambda_processor, NEWLINE)
    await world.firehose.put_records(world.tenant_id, arn, [envelope("m1", "m2")], from_logs=True)
    assert await world.deliverer.run_pass(later(61)) == 1
    assert echo.seen == [b"m1", b"m2"]
    (delivered,) = await keys(world)
    assert await read(world.objects, "landing", delivered) == b"m1\nm2\n"


async def test_aws_refusals_of_the_logs_processors(world: World) -> None:
    base = {"RoleARN": await world.role(), "BucketARN": await world.bucket()}

    def processing(*processors: dict[str, Any]) -> dict[str, Any]:
        return base | {"ProcessingConfiguration": {"Enabled": True, "Processors": processors}}

    def extraction(value: str) -> dict[str, Any]:
        return {"Type": "CloudWatchLogProcessing", "Parameters": [
            {"ParameterName": "DataMessageExtraction", "ParameterValue": value}]}  # fmt: skip

    zip_format = {"Type": "Decompression", "Parameters": [
        {"ParameterName": "CompressionFormat", "ParameterValue": "ZIP"}]}  # fmt: skip
    delimiter = {"Type": "Decompression", "Parameters": [
        {"ParameterName": "Delimiter", "ParameterValue": "Cg=="}]}  # fmt: skip
    refusals = [
        (processing(EXTRACT), "needs the Decompression processor"),
        (processing(zip_format), "CompressionFormat ZIP is not supported"),
        (processing(GZIP, extraction("maybe")), "must be true or false"),
        (processing(GZIP, {"Type": "CloudWatchLogProcessing"}), "needs a DataMessageExtraction"),
        (processing({"Type": "DataMessageExtraction"}), "is a parameter of the"),
        (processing(GZIP, GZIP), "given twice"),
        (processing(delimiter), "not supported by the Decompression processor"),
    ]
    for configuration, words in refusals:
        message = await world.fails(
            "CreateDeliveryStream",
            "InvalidArgumentException",
            DeliveryStreamName="logs",
            ExtendedS3DestinationConfiguration=configuration,
        )
        assert words in message, (configuration, message)
    # CompressionFormat may be left out (GZIP, the only one), and is then described.
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="logs",
        ExtendedS3DestinationConfiguration=processing(
            {"Type": "Decompression"}, extraction("FALSE")
        ),
    )
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="logs")
    destination = shown["DeliveryStreamDescription"]["Destinations"][0]
    described = destination["ExtendedS3DestinationDescription"]["ProcessingConfiguration"]
    assert described["Processors"] == [GZIP, extraction("false")]
