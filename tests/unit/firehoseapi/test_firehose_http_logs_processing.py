"""Decision 0342 over the wire (botocore's model): an HTTP endpoint destination takes the
``Decompression`` and ``CloudWatchLogProcessing`` processors (beside ``Lambda``), describes
them back in their order and refuses what AWS offers it not; PutRecord is refused on such a
stream while CloudWatch Logs' records are taken; the endpoint, a real HTTP receiver on
127.0.0.1, is sent the extracted messages one record each, and the records that cannot be
decompressed or extracted go, as they came, into the S3 backup under the error output
prefix's ``decompression-failed/`` and ``processing-failed/`` folders, said in the endpoint's
error log. Over the memory store and the migrated SQLite schema."""

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
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.firehose.transform_delivery import TransformStep
from andromede.settings import Settings
from andromede.wiring.firehose import endpoint_sender
from support.batch_world import read
from support.firehoseapp import REGION, World, firehose_world
from support.logsapp import logs_world
from support.schema import migrated_sqlite
from unit.firehoseapi import test_firehose_http_endpoint as endpoint_tests
from unit.firehoseapi.test_firehose_error_logs import GROUP, deliverer, logged, role_policy
from unit.firehoseapi.test_firehose_http_endpoint import Receiver, http_stream
from unit.firehoseapi.test_firehose_logs_processing import EXTRACT, GZIP, Echo, envelope

receiver = endpoint_tests.receiver  # the loopback HTTP endpoint fixture
HTTP = {
    "firehose_http_endpoint_allow_http": True,
    "firehose_http_endpoint_allow_cidrs": ("127.0.0.0/8",),
    "firehose_http_endpoint_timeout": 1.0,
}


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path, **HTTP):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for made in firehose_world(tmp_path, SqlFirehoseStore(db), **HTTP):
            yield made
    finally:
        await db.close()


def later(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


def processing(*processors: dict[str, Any]) -> dict[str, Any]:
    return {"Enabled": True, "Processors": list(processors)}


async def keys(world: World) -> list[str]:
    listing = await world.objects.list_objects("landing", prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


async def described(world: World) -> dict[str, Any]:
    shown = await world.client("DescribeDeliveryStream", DeliveryStreamName="to-web")
    destination = shown["DeliveryStreamDescription"]["Destinations"][0]
    return dict(destination["HttpEndpointDestinationDescription"]["ProcessingConfiguration"])


async def test_the_endpoint_is_sent_the_messages_and_failures_go_to_the_backup(
    world: World, receiver: Receiver
) -> None:
    arn = await http_stream(world, receiver.url, ProcessingConfiguration=processing(GZIP, EXTRACT))
    assert await described(world) == processing(GZIP, EXTRACT)
    message = await world.fails(
        "PutRecord", "InvalidSourceException", DeliveryStreamName="to-web", Record={"Data": b"x"}
    )
    assert "Only requests from CloudWatch Logs" in message
    records = [
        envelope(kind="CONTROL_MESSAGE"),
        envelope("GET /orders 200", "GET /orders/7 404"),
        b"not gzip at all",
        gzip.compress(b'{"messageType": "SOMETHING"}'),
    ]
    results = await world.firehose.put_records(world.tenant_id, arn, records, from_logs=True)
    assert all(r.error_code is None for r in results)
    assert await world.deliverer.run_pass(later(61)) == 3  # the endpoint, two error objects
    (document,) = receiver.documents()
    sent = [base64.b64decode(r["data"]) for r in document["records"]]
    assert sent == [b"GET /orders 200", b"GET /orders/7 404"]
    decompression, processing_failed = await keys(world)
    assert decompression.startswith("decompression-failed/20")  # no ErrorOutputPrefix given
    (line,) = (await read(world.objects, "landing", decompression)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "Decompression.Failed"
    assert base64.b64decode(error["rawData"]) == b"not gzip at all"
    assert processing_failed.startswith("processing-failed/20")
    (line,) = (await read(world.objects, "landing", processing_failed)).splitlines()
    error = json.loads(line)
    assert error["errorCode"] == "CloudWatchLogProcessing.MessageExtractionFailed"
    assert gzip.decompress(base64.b64decode(error["rawData"])) == b'{"messageType": "SOMETHING"}'
    assert world.sink.total("DeliveryToHttpEndpoint.Records") == 2
    assert await world.deliverer.run_pass(later(200)) == 0  # the whole batch left the buffer
    assert len(receiver.received) == 1


async def test_decompression_with_a_lambda_processor(world: World, receiver: Receiver) -> None:
    echo = Echo()
    world.deliverer.transform = TransformStep(echo)
    function = f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:echo"
    lambda_processor = {"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": function}]}  # fmt: skip
    arn = await http_stream(
        world, receiver.url, ProcessingConfiguration=processing(GZIP, lambda_processor)
    )
    shown = await described(world)
    assert [p["Type"] for p in shown["Processors"]] == ["Decompression", "Lambda"]
    assert shown["Processors"][0] == GZIP
    await world.firehose.put_records(world.tenant_id, arn, [envelope("m1")], from_logs=True)
    assert await world.deliverer.run_pass(later(61)) == 1
    (seen,) = echo.seen  # the envelope, decompressed, whole: no extraction asked
    assert json.loads(seen)["logEvents"][0]["message"] == "m1"
    (document,) = receiver.documents()
    assert json.loads(base64.b64decode(document["records"][0]["data"]))["logGroup"] == (
        "/app/orders"
    )


async def test_refusals_and_updates(world: World, receiver: Receiver) -> None:
    await http_stream(world, receiver.url)
    assert await described(world) == {"Enabled": False}
    newline = {"Type": "AppendDelimiterToRecord", "Parameters": []}
    refusals = [
        (processing(EXTRACT), "needs the Decompression processor"),
        (processing(GZIP, GZIP), "given twice"),
        (processing(GZIP, newline), "not supported for an HTTP endpoint destination"),
        (processing({"Type": "DataMessageExtraction"}), "not supported for an HTTP endpoint"),
    ]
    for configuration, words in refusals:
        message = await world.fails(
            "UpdateDestination", "InvalidArgumentException", DeliveryStreamName="to-web",
            CurrentDeliveryStreamVersionId="1", DestinationId="destinationId-000000000001",
            HttpEndpointDestinationUpdate={"ProcessingConfiguration": configuration},
        )  # fmt: skip
        assert words in message, (configuration, message)
    await world.client(
        "UpdateDestination", DeliveryStreamName="to-web", CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={"ProcessingConfiguration": processing(GZIP, EXTRACT)},
    )  # fmt: skip
    assert await described(world) == processing(GZIP, EXTRACT)
    await world.client(
        "UpdateDestination", DeliveryStreamName="to-web", CurrentDeliveryStreamVersionId="2",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={"RetryOptions": {"DurationInSeconds": 30}},
    )  # fmt: skip
    assert await described(world) == processing(GZIP, EXTRACT)  # kept when not given
    await world.client(
        "UpdateDestination", DeliveryStreamName="to-web", CurrentDeliveryStreamVersionId="3",
        DestinationId="destinationId-000000000001",
        HttpEndpointDestinationUpdate={"ProcessingConfiguration": {"Enabled": False}},
    )  # fmt: skip
    assert await described(world) == {"Enabled": False}
    await world.client("PutRecord", DeliveryStreamName="to-web", Record={"Data": b"x"})


async def test_a_failed_record_is_said_in_the_endpoint_s_error_log(
    world: World, receiver: Receiver, tmp_path: Path
) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        await logs.service.create_group(world.tenant_id, GROUP, None, {})
        arn = await http_stream(
            world, receiver.url, ProcessingConfiguration=processing(GZIP),
            CloudWatchLoggingOptions={
                "Enabled": True, "LogGroupName": GROUP, "LogStreamName": "HttpEndpointDelivery",
            },
        )  # fmt: skip
        await world.identity.put_role_policy(
            world.tenant_id, "firehose", "put",
            role_policy("logs:PutLogEvents", "logs:CreateLogStream"),
        )  # fmt: skip
        gateway = deliverer(world, logs.service, endpoint_sender(
            Settings(data_dir=tmp_path, region=REGION, **HTTP)))  # fmt: skip
        records = [b"not gzip", envelope("fine")]
        await world.firehose.put_records(world.tenant_id, arn, records, from_logs=True)
        assert await gateway.run_pass(later(61)) == 2  # the endpoint, the error object
        (record,) = await logged(logs.service, world.tenant_id, "HttpEndpointDelivery")
        assert record["errorCode"] == "Decompression.Failed"
        assert record["destination"] == receiver.url
