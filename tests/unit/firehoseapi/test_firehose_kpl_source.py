"""Decision 0342: a Kinesis source's KPL aggregates, put into the real Kinesis service in memory
and read by the wiring's reader, are de-aggregated before delivery — the bucket holds the user
records' data, a broken aggregate delivered as it came —, before a Lambda processor (each user
record its own ``recordId`` and ``kinesisRecordMetadata``: its partition key, the aggregate's
sequence number, its subsequence number) and before the ``RecordDeAggregation`` processor,
which then splits each user record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.firehose.transform_delivery import TransformStep
from support.kpl import aggregate
from unit.firehoseapi.test_firehose_kinesis_metadata import Seen
from unit.firehoseapi.test_firehose_kinesis_source import SourceWorld, source_world

USERS = [("order-1", b'{"id":1}'), ("order-2", b'{"id":2}'), ("order-1", b'{"id":3}')]


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[SourceWorld]:
    async for found in source_world(tmp_path):
        yield found


async def create(world: SourceWorld, *processors: dict[str, object]) -> None:
    destination: dict[str, object] = {
        "RoleARN": world.destination_role,
        "BucketARN": world.bucket,
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
    }
    if processors:
        destination["ProcessingConfiguration"] = {"Enabled": True, "Processors": processors}
    await world.fire.client(
        "CreateDeliveryStream",
        DeliveryStreamName="from-k",
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={
            "KinesisStreamARN": world.stream_arn, "RoleARN": world.source_role,
        },
        ExtendedS3DestinationConfiguration=destination,
    )  # fmt: skip
    await world.fire.deliverer.run_pass()


async def test_aggregates_are_delivered_as_their_user_records(world: SourceWorld) -> None:
    await create(world)
    broken = aggregate(USERS)[:-1]  # its MD5 cut: delivered as it came, as the KCL does
    await world.put(aggregate(USERS), b"|plain|", broken, key="aggregate")
    assert await world.reader.run_pass() == 3  # Kinesis records read (and checkpointed)
    assert await world.landed() == b'{"id":1}{"id":2}{"id":3}|plain|' + broken


async def test_a_lambda_processor_sees_each_user_record_with_its_metadata(
    world: SourceWorld,
) -> None:
    seen = Seen()
    world.fire.deliverer.transform = TransformStep(seen)
    function = f"arn:aws:lambda:eu-fr-1:{world.tenant}:function:seen"
    await create(world, {"Type": "Lambda", "Parameters": [
        {"ParameterName": "LambdaArn", "ParameterValue": function}]})  # fmt: skip
    await world.put(aggregate(USERS), key="aggregate")
    await world.put(b"plain", key="p")
    assert await world.reader.run_pass() == 2
    assert await world.landed(after=61) == b'{"id":1}{"id":2}{"id":3}plain'
    (event,) = seen.events
    records = event["records"]
    assert len({r["recordId"] for r in records}) == 4
    metadata = [r["kinesisRecordMetadata"] for r in records]
    assert [(m["partitionKey"], m["subsequenceNumber"]) for m in metadata] == [
        ("order-1", 0), ("order-2", 1), ("order-1", 2), ("p", 0),
    ]  # fmt: skip
    assert len({m["sequenceNumber"] for m in metadata[:3]}) == 1  # the aggregate's
    assert int(metadata[3]["sequenceNumber"]) > int(metadata[0]["sequenceNumber"])
    assert {m["shardId"] for m in metadata} == {"shardId-000000000000"}


async def test_record_de_aggregation_splits_each_user_record(world: SourceWorld) -> None:
    await create(
        world,
        {"Type": "RecordDeAggregation", "Parameters": [
            {"ParameterName": "SubRecordType", "ParameterValue": "JSON"}]},
        {"Type": "AppendDelimiterToRecord", "Parameters": []},
    )  # fmt: skip
    users = [("a", b'{"n":1}{"n":2}'), ("b", b'{"n":3}')]
    await world.put(aggregate(users), key="aggregate")
    assert await world.reader.run_pass() == 1
    lines = (await world.landed()).splitlines()
    assert [json.loads(line)["n"] for line in lines] == [1, 2, 3]
