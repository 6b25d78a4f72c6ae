"""Decision 0379, the source record backup's bounds (decision 0376's risks): its copies count
in ``firehose_max_buffered_bytes``, so a backup bucket that keeps refusing ends with puts
refused ("Slow down.") instead of a growing database; no zero buffering for an S3 backup
(``InvalidArgumentException`` at CreateDeliveryStream and UpdateDestination); and
``BackupToS3.DataFreshness`` is the age of the oldest copy waiting, growing while the backup
refuses. Memory and SQLite stores."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.firehose.store_sql import SqlFirehoseStore
from support.firehoseapp import World, firehose_world
from support.schema import migrated_sqlite
from unit.firehoseapi.test_firehose_api import keys, later

BOUND = 100  # bytes: the stream's buffer, the copies counted in it


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path, firehose_max_buffered_bytes=BOUND):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        store = SqlFirehoseStore(db)
        async for made in firehose_world(tmp_path, store, firehose_max_buffered_bytes=BOUND):
            yield made
    finally:
        await db.close()


def _configuration(role: str, backup_interval: int) -> dict[str, Any]:
    return {
        "RoleARN": role, "BucketARN": "arn:aws:s3:::landing",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        "S3BackupMode": "Enabled",
        "S3BackupConfiguration": {
            "RoleARN": role, "BucketARN": "arn:aws:s3:::copies",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": backup_interval},
        },
    }  # fmt: skip


async def _stream(world: World) -> None:
    role = await world.role()
    await world.bucket("landing")
    await world.bucket("copies")
    await world.client("CreateDeliveryStream", DeliveryStreamName="clicks",
                       ExtendedS3DestinationConfiguration=_configuration(role, 60))  # fmt: skip
    await world.deliverer.run_pass()
    # The role may write the destination's objects, not the backup's: the copies are refused.
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", "{"
        '"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
        ' "Resource": "arn:aws:s3:::landing/*"}]}')  # fmt: skip


async def _put(world: World, data: bytes) -> dict[str, Any]:
    answer = await world.client(
        "PutRecordBatch", DeliveryStreamName="clicks", Records=[{"Data": data}]
    )
    return dict(answer)


async def test_a_refusing_backup_ends_with_puts_refused_at_the_bound(world: World) -> None:
    await _stream(world)
    store = world.firehose.store
    # 20 bytes a record and 20 its copy: two fit the 100 bytes, the third is refused.
    for _ in range(2):
        assert (await _put(world, b"r" * 20))["FailedPutCount"] == 0
    refused = await _put(world, b"r" * 20)
    (entry,) = refused["RequestResponses"]
    assert entry["ErrorCode"] == "ServiceUnavailableException"
    assert entry["ErrorMessage"] == "Slow down."
    # The destination flows; the refused copies stay and keep filling the bound.
    assert await world.deliverer.run_pass(later(61)) == 1
    assert len(await keys(world, "landing")) == 1 and await keys(world, "copies") == []
    assert (await store.totals(world.tenant_id, "clicks")).records == 0
    assert (await store.copies(world.tenant_id, "clicks")).bytes == 40
    assert (await _put(world, b"r" * 20))["FailedPutCount"] == 0  # 80 of 100 held
    assert await world.deliverer.run_pass(later(125)) == 1  # the copies refused again
    assert (await store.copies(world.tenant_id, "clicks")).bytes == 60
    assert (await _put(world, b"r" * 20))["FailedPutCount"] == 0  # 100 of 100 held
    (entry,) = (await _put(world, b"r" * 20))["RequestResponses"]
    assert entry["ErrorCode"] == "ServiceUnavailableException"  # the copies fill it
    copies = await store.copies(world.tenant_id, "clicks")
    intake = await store.totals(world.tenant_id, "clicks")
    assert (copies.records, copies.bytes, intake.bytes) == (4, 80, 20)  # never past it


async def test_no_zero_buffering_for_an_s3_backup(world: World) -> None:
    role = await world.role()
    for interval in (0, 59):
        message = await world.fails(
            "CreateDeliveryStream", "InvalidArgumentException", DeliveryStreamName="zero",
            ExtendedS3DestinationConfiguration=_configuration(role, interval),
        )  # fmt: skip
        assert "zero buffering is not available for an Amazon S3 backup" in message
        assert "S3BackupConfiguration.BufferingHints.IntervalInSeconds" in message
    await world.client("CreateDeliveryStream", DeliveryStreamName="zero",
                       ExtendedS3DestinationConfiguration=_configuration(role, 60))  # fmt: skip
    await world.deliverer.run_pass()  # ACTIVE
    described = await world.client("DescribeDeliveryStream", DeliveryStreamName="zero")
    update = {
        "DeliveryStreamName": "zero",
        "CurrentDeliveryStreamVersionId": described["DeliveryStreamDescription"]["VersionId"],
        "DestinationId": "destinationId-000000000001",
    }
    hints = {"BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}}
    message = await world.fails("UpdateDestination", "InvalidArgumentException", **update,
                                ExtendedS3DestinationUpdate={"S3BackupUpdate": hints})  # fmt: skip
    assert "S3BackupUpdate.BufferingHints.IntervalInSeconds 0" in message
    # The destination itself may still buffer zero seconds (AWS's zero buffering).
    await world.client("UpdateDestination", **update, ExtendedS3DestinationUpdate={
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0}})  # fmt: skip


def _freshness(world: World) -> list[float]:
    return [value for _, _, name, _, value in world.sink.points
            if name == "BackupToS3.DataFreshness"]  # fmt: skip


async def test_backup_freshness_is_the_oldest_waiting_copys_age(world: World) -> None:
    await _stream(world)
    await _put(world, b"a")
    assert await world.deliverer.run_pass(later(125)) == 1  # the destination; copy refused
    # Said after the pass over the copies (0379), and by the minute's gauge (0388).
    first, gauge = _freshness(world)
    assert 120 < first < 130 and 120 < gauge < 130
    await _put(world, b"b")  # a newer copy: the oldest waiting is still the first
    world.sink.points.clear()
    assert await world.deliverer.run_pass(later(245)) == 1
    second, gauge = _freshness(world)
    assert 240 < second < 250 and 240 < gauge < 250  # grows while the backup refuses
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", "{"
        '"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
        ' "Resource": "arn:aws:s3:::*"}]}')  # fmt: skip
    world.sink.points.clear()
    assert await world.deliverer.run_pass(later(250)) == 1
    assert _freshness(world) == [0.0]  # every copy delivered
