"""Decision 0334: a Kinesis source's records reach a Lambda processor with AWS's
``sourceKinesisStreamArn`` and each record's ``kinesisRecordMetadata`` (shard id, partition
key, the Kinesis arrival, sequence number, subsequence number), read from the real Kinesis
service in memory through the wiring's reader; Direct PUT records carry none."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.firehose.model import DeliveryStream, LambdaProcessor
from andromede.firehose.transform_delivery import TransformStep
from andromede.kinesis.model import sequence_text
from unit.firehoseapi.test_firehose_kinesis_source import SourceWorld, source_world


class Seen:
    """The function: keeps each record, remembers the events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    async def invoke(
        self, stream: DeliveryStream, processor: LambdaProcessor, payload: bytes
    ) -> bytes:
        event = json.loads(payload)
        self.events.append(event)
        kept = [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]}
                for r in event["records"]]  # fmt: skip
        return json.dumps({"records": kept}).encode()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SourceWorld]:
    async for found in source_world(tmp_path):
        yield found


async def test_a_kinesis_source_s_records_carry_their_metadata(world: SourceWorld) -> None:
    seen = Seen()
    world.fire.deliverer.transform = TransformStep(seen)
    function = f"arn:aws:lambda:eu-fr-1:{world.tenant}:function:seen"
    await world.fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName="from-k",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={
            "KinesisStreamARN": world.stream_arn, "RoleARN": world.source_role,
        },
        ExtendedS3DestinationConfiguration={
            "RoleARN": world.destination_role,
            "BucketARN": world.bucket,
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [{
                "Type": "Lambda",
                "Parameters": [{"ParameterName": "LambdaArn", "ParameterValue": function}],
            }]},
        },
    )  # fmt: skip
    await world.fire.deliverer.run_pass()
    await world.put(b"one", key="customer:7")  # a key with a colon in it
    await world.put(b"two", key="")
    assert await world.reader.run_pass() == 2
    assert await world.landed(after=61) == b"onetwo"
    (event,) = seen.events
    assert event["sourceKinesisStreamArn"] == world.stream_arn
    first, second = event["records"]
    assert base64.b64decode(first["data"]) == b"one"
    metadata = first["kinesisRecordMetadata"]
    assert set(metadata) == {
        "shardId", "partitionKey", "approximateArrivalTimestamp", "sequenceNumber",
        "subsequenceNumber",
    }  # fmt: skip
    assert (metadata["shardId"], metadata["partitionKey"]) == ("shardId-000000000000", "customer:7")
    assert metadata["subsequenceNumber"] == 0
    assert second["kinesisRecordMetadata"]["partitionKey"] == ""
    assert int(second["kinesisRecordMetadata"]["sequenceNumber"]) > int(metadata["sequenceNumber"])
    records = await world.kinesis.records(
        world.tenant,
        await world.kinesis.iterator(world.tenant, "src", "shardId-000000000000", "TRIM_HORIZON"),
        10,
    )
    put = records.records[0]
    assert metadata["approximateArrivalTimestamp"] == put.arrived
    assert metadata["sequenceNumber"] == sequence_text(put.sequence)
