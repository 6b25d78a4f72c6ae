"""Decision 0344: a Lambda processor's own buffer. The function is invoked when the
processor's hints (``BufferSizeInMBs`` / ``BufferIntervalInSeconds``) are reached, and its
records wait, staged, for the destination's ``BufferingHints``: the two hints apart
(processor 0.2 MB / 60 s, destination 5 MB / 300 s or 1 MB / 900 s), the staged records
kept in the database across a restart of the deliverer, never sent to the function again.
Over the memory store and the migrated SQLite schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.firehose.transform_delivery import TransformStep
from support.batch_world import read
from support.firehoseapp import World, firehose_world
from support.schema import migrated_sqlite
from unit.firehoseapi.test_firehose_lambda import Upper, function, keys, later, processor

RECORD = 50_000  # bytes a record: 4 fill the processor's 0.2 MB (209,715 bytes), 5 pass it


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        async for made in firehose_world(tmp_path, SqlFirehoseStore(db)):
            yield made
    finally:
        await db.close()


async def create(world: World, size_mb: int, interval: int) -> None:
    lambda_processor = processor(
        world,
        ("NumberOfRetries", "0"),
        ("BufferSizeInMBs", "0.2"),
        ("BufferIntervalInSeconds", "60"),
    )
    await world.client(
        "CreateDeliveryStream",
        DeliveryStreamName="orders",
        ExtendedS3DestinationConfiguration={
            "RoleARN": await world.role(),
            "BucketARN": await world.bucket(),
            "Prefix": "out/",
            "ErrorOutputPrefix": "errors/",
            "BufferingHints": {"SizeInMBs": size_mb, "IntervalInSeconds": interval},
            "ProcessingConfiguration": {"Enabled": True, "Processors": [lambda_processor]},
        },
    )
    await world.deliverer.run_pass()  # ACTIVE


async def put(world: World, count: int, letter: bytes = b"a") -> None:
    await world.client(
        "PutRecordBatch",
        DeliveryStreamName="orders",
        Records=[{"Data": letter * RECORD} for _ in range(count)],
    )


def sent(upper: Upper) -> int:
    """The records the function was given, over all its invocations."""
    return sum(len(event["records"]) for event in upper.events)


def event_bytes(event: dict[str, Any]) -> int:
    return sum(len(record["data"]) for record in event["records"])


async def test_the_function_at_its_hints_the_object_at_the_destination_s(world: World) -> None:
    upper = function(world)
    await create(world, size_mb=5, interval=300)
    await put(world, 3)  # 150,000 bytes: under the processor's 0.2 MB
    assert await world.deliverer.run_pass() == 0
    assert upper.events == []
    await put(world, 2)  # 250,000 bytes: the processor's size reached
    assert await world.deliverer.run_pass() == 0  # invoked, staged, not written
    assert sent(upper) == 4  # the oldest 0.2 MB; each event within BufferSizeInMBs
    assert all(event_bytes(event) <= 209_715 for event in upper.events)
    assert await keys(world) == []
    assert await world.deliverer.run_pass() == 0  # the fifth waits for the interval
    assert sent(upper) == 4
    assert await world.deliverer.run_pass(later(61)) == 0  # the processor's 60 s
    assert sent(upper) == 5
    assert await keys(world) == []  # the destination's 300 s not reached
    assert await world.deliverer.run_pass(later(301)) == 1
    (key,) = await keys(world)
    assert await read(world.objects, "landing", key) == b"A" * RECORD * 5
    assert sent(upper) == 5  # staged records are never sent again
    assert world.sink.total("ExecuteProcessing.Success") == len(upper.events)
    assert world.sink.total("SucceedProcessing.Records") == 5
    assert world.sink.total("SucceedProcessing.Bytes") == 5 * RECORD
    assert world.sink.total("DeliveryToS3.Records") == 5
    assert await world.deliverer.run_pass(later(700)) == 0  # nothing left


async def test_one_object_per_destination_size(world: World) -> None:
    upper = function(world)
    await create(world, size_mb=1, interval=900)
    await put(world, 25)  # 1.25 MB: six of the processor's buffers, and one record
    # One pass transforms as many of the processor's buffers as make the destination's
    # (six of 209,715 bytes for 1 MiB), each in its own invocations: 1.2 MB staged, and
    # 1 MiB of it written, one object.
    assert await world.deliverer.run_pass() == 1
    assert sent(upper) == 24
    (key,) = await keys(world)
    assert await read(world.objects, "landing", key) == b"A" * RECORD * 20
    assert await world.deliverer.run_pass() == 0  # the rest waits for the intervals
    assert await world.deliverer.run_pass(later(901)) == 1
    assert len(await keys(world)) == 2
    assert sent(upper) == 25


async def test_records_staged_before_the_processor_is_disabled_go_out(world: World) -> None:
    upper = function(world)
    await create(world, size_mb=5, interval=300)
    await put(world, 2)
    assert await world.deliverer.run_pass(later(61)) == 0
    assert sent(upper) == 2
    await world.client(
        "UpdateDestination",
        DeliveryStreamName="orders",
        CurrentDeliveryStreamVersionId="1",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"ProcessingConfiguration": {"Enabled": False}},
    )
    await put(world, 1, b"c")
    assert await world.deliverer.run_pass(later(120)) == 0
    # At the destination's interval: the staged records first, then the new one as it came.
    assert await world.deliverer.run_pass(later(301)) == 1
    assert await world.deliverer.run_pass(later(302)) == 1
    bodies = [await read(world.objects, "landing", key) for key in await keys(world)]
    assert sorted(bodies) == sorted([b"A" * RECORD * 2, b"c" * RECORD])
    assert sent(upper) == 2


async def test_staged_records_survive_a_restart(tmp_path: Path) -> None:
    """SQLite: the deliverer that staged the records gone and the database reopened, a new
    gateway delivers them at the destination's interval without invoking the function."""
    url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    async for world in firehose_world(tmp_path, SqlFirehoseStore(db)):
        upper = function(world)
        await create(world, size_mb=5, interval=300)
        await put(world, 2)
        await put(world, 1, b"b")
        assert await world.deliverer.run_pass(later(61)) == 0
        assert sent(upper) == 3
        await db.close()
        reopened = open_database(url)
        try:
            world.firehose.store = SqlFirehoseStore(reopened)
            again = Upper()
            restarted = FirehoseDeliverer(
                world.firehose, DeliveryPolicy(), "gw-restarted", transform=TransformStep(again)
            )
            assert await restarted.run_pass(later(120)) == 0  # not yet the destination's
            assert await restarted.run_pass(later(301)) == 1
            (key,) = await keys(world)
            body = await read(world.objects, "landing", key)
            assert body == b"A" * RECORD * 2 + b"B" * RECORD
            assert again.events == []
        finally:
            await reopened.close()
