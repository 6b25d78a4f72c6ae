"""An Extended S3 destination's source record backup (decision 0367): ``S3BackupMode``
``Enabled`` with its ``S3BackupConfiguration`` copies each batch as it arrived — before its
processors — into the backup bucket under the backup's prefix and compression, as its role,
beside the processed records in the destination; described back; changed by
``S3BackupUpdate``, never disabled once enabled (AWS's rule); refused in AWS's words without
a configuration, for another value, or on a plain S3 destination. Each copy counted in the
``BackupToS3.*`` metrics and a refused one logged into the backup's own
``CloudWatchLoggingOptions`` (decision 0376). Memory and SQLite stores."""

from __future__ import annotations

import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.db.database import open_database
from andromede.firehose.delivery import DeliveryPolicy, FirehoseDeliverer
from andromede.firehose.store_sql import SqlFirehoseStore
from andromede.wiring.firehose import FirehoseMetrics, role_error_logs
from support.batch_world import read
from support.firehoseapp import REGION, World, firehose_world
from support.logsapp import logs_world
from support.schema import migrated_sqlite
from unit.firehoseapi.test_firehose_api import KEY, keys, later
from unit.firehoseapi.test_firehose_error_logs import GROUP, logged, role_policy

NEWLINE = {"Type": "AppendDelimiterToRecord", "Parameters": []}


@pytest.fixture(params=["memory", "sqlite"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    if request.param == "memory":
        async for made in firehose_world(tmp_path):
            yield made
        return
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))  # reopened by a "restart"
    try:
        async for made in firehose_world(tmp_path, SqlFirehoseStore(db)):
            yield made
    finally:
        await db.close()


async def _stream(world: World, **extra: Any) -> dict[str, Any]:
    role = await world.role()
    await world.bucket("landing")
    await world.bucket("copies")
    await world.client("CreateDeliveryStream", DeliveryStreamName="clicks",
                       ExtendedS3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::landing", "Prefix": "raw/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
        "ProcessingConfiguration": {"Enabled": True, "Processors": [NEWLINE]},
        "S3BackupMode": "Enabled",
        "S3BackupConfiguration": {"RoleARN": role, "BucketARN": "arn:aws:s3:::copies",
                                  "Prefix": "source/", "CompressionFormat": "GZIP",
                                  "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 120}},
    } | extra)  # fmt: skip
    await world.deliverer.run_pass()
    described = await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks")
    return dict(described["DeliveryStreamDescription"])


def _extended(described: dict[str, Any]) -> dict[str, Any]:
    return dict(described["Destinations"][0]["ExtendedS3DestinationDescription"])


async def test_copies_wait_for_the_backups_own_hints_across_batches(world: World) -> None:
    s3 = _extended(await _stream(world))
    assert s3["S3BackupMode"] == "Enabled"
    backup = s3["S3BackupDescription"]
    assert backup["BucketARN"] == "arn:aws:s3:::copies" and backup["Prefix"] == "source/"
    assert backup["CompressionFormat"] == "GZIP"
    assert backup["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 120}
    await world.client("PutRecordBatch", DeliveryStreamName="clicks",
                       Records=[{"Data": b"a1"}, {"Data": b"b2"}])  # fmt: skip
    assert await world.deliverer.run_pass(later(61)) == 1  # the destination's, at its 60 s
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"c3"})
    assert await world.deliverer.run_pass(later(62)) == 1
    assert len(await keys(world, "landing")) == 2 and await keys(world, "copies") == []
    assert await world.deliverer.run_pass(later(125)) == 1  # the backup's, at its 120 s
    (copied,) = await keys(world, "copies")
    match = KEY.fullmatch(copied)
    assert match is not None, copied
    assert (match["prefix"], match["name"], match["ext"]) == ("source/", "clicks", ".gz")
    # Both batches' records, as sent (no delimiter: that is the destination's processor).
    assert gzip.decompress(await read(world.objects, "copies", copied)) == b"a1b2c3"
    delivered = [await read(world.objects, "landing", key) for key in await keys(world)]
    assert sorted(delivered) == [b"a1\nb2\n", b"c3\n"]
    assert await world.deliverer.run_pass(later(400)) == 0  # nothing left, nothing copied
    assert len(await keys(world, "copies")) == 1


async def test_a_backup_object_holds_at_most_the_backups_size(world: World) -> None:
    await _stream(world)
    big = [bytes([65 + n]) * 400_000 for n in range(3)]
    for data in big:
        await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": data})
    assert await world.deliverer.run_pass(later(125)) >= 2
    copies = [
        gzip.decompress(await read(world.objects, "copies", key))
        for key in await keys(world, "copies")
    ]
    assert all(len(body) <= 1024 * 1024 for body in copies)
    assert sorted(copies, key=len) == [big[2], big[0] + big[1]]


async def test_copies_wait_in_the_database_sealed_and_survive_a_restart(
    world: World, tmp_path: Path
) -> None:
    await _stream(world)
    await world.client("PutRecord", DeliveryStreamName="clicks",
                       Record={"Data": b"secret-record"})  # fmt: skip
    assert await world.deliverer.run_pass(later(61)) == 1  # the destination only
    store = world.firehose.store
    if isinstance(store, SqlFirehoseStore):  # another process: a store over the same file
        db = open_database(f"sqlite:///{tmp_path / 'meta.db'}")
        store = SqlFirehoseStore(db)
    totals = await store.copies(world.tenant_id, "clicks")
    assert (totals.records, totals.bytes) == (1, len(b"secret-record"))
    (copy,) = await store.batch(world.tenant_id, "clicks", 1024, backup=True)
    assert copy.record_id.startswith("backup:") and b"secret-record" not in copy.sealed
    assert (await store.totals(world.tenant_id, "clicks")).records == 0  # not the intake's
    if isinstance(store, SqlFirehoseStore) and store is not world.firehose.store:
        await db.close()
    restarted = FirehoseDeliverer(
        world.firehose, world.deliverer.policy, "gw-restarted", None, None
    )
    assert await restarted.run_pass(later(125)) == 1
    (copied,) = await keys(world, "copies")
    assert gzip.decompress(await read(world.objects, "copies", copied)) == b"secret-record"


async def test_a_refused_copy_never_holds_the_destination(world: World) -> None:
    await _stream(world)
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", "{"
        '"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
        ' "Resource": "arn:aws:s3:::landing/*"}]}')  # fmt: skip
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"x"})
    assert await world.deliverer.run_pass(later(125)) == 1
    assert len(await keys(world, "landing")) == 1 and await keys(world, "copies") == []
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", "{"
        '"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
        ' "Resource": "arn:aws:s3:::*"}]}')  # fmt: skip
    assert await world.deliverer.run_pass(later(130)) == 1
    assert len(await keys(world, "landing")) == 1 and len(await keys(world, "copies")) == 1


async def test_a_copy_refused_past_the_retry_window_is_given_up(world: World) -> None:
    """AWS retries a backup until the records' retention ends, then they are lost: the copy
    is dropped (said), the destination's records delivered all along."""
    await _stream(world)
    await world.identity.put_role_policy(world.tenant_id, "firehose", "put", "{"
        '"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
        ' "Resource": "arn:aws:s3:::landing/*"}]}')  # fmt: skip
    await world.client("PutRecord", DeliveryStreamName="clicks", Record={"Data": b"x"})
    assert await world.deliverer.run_pass(later(125)) == 1  # the destination's
    window = world.deliverer.policy.retry_duration_ms // 1000
    assert await world.deliverer.run_pass(later(window - 30)) == 0  # the copy still held
    assert world.dropped == []
    assert (await world.firehose.store.copies(world.tenant_id, "clicks")).records == 1
    assert await world.deliverer.run_pass(later(window + 10)) == 0
    assert await keys(world, "copies") == []
    ((name, count, why),) = world.dropped
    assert (name, count) == ("clicks", 1) and "S3.AccessDenied" in why
    assert (await world.firehose.store.copies(world.tenant_id, "clicks")).records == 0
    (delivered,) = await keys(world, "landing")
    assert await read(world.objects, "landing", delivered) == b"x\n"


async def test_the_backup_changed_never_disabled_and_refused_in_aws_words(world: World) -> None:
    described = await _stream(world)
    version, destination = described["VersionId"], "destinationId-000000000001"
    update = {"DeliveryStreamName": "clicks", "CurrentDeliveryStreamVersionId": version,
              "DestinationId": destination}  # fmt: skip
    disabled = {"S3BackupMode": "Disabled"}
    message = await world.fails("UpdateDestination", "InvalidArgumentException", **update,
                                ExtendedS3DestinationUpdate=disabled)  # fmt: skip
    assert "once enabled cannot be disabled" in message
    changed = {"Prefix": "copies-v2/", "CompressionFormat": "UNCOMPRESSED"}
    await world.client("UpdateDestination", **update,
                       ExtendedS3DestinationUpdate={"S3BackupUpdate": changed})  # fmt: skip
    backup = _extended(
        (await world.client("DescribeDeliveryStream", DeliveryStreamName="clicks"))[
            "DeliveryStreamDescription"
        ]
    )["S3BackupDescription"]
    assert backup["Prefix"] == "copies-v2/" and backup["CompressionFormat"] == "UNCOMPRESSED"
    assert backup["BucketARN"] == "arn:aws:s3:::copies"

    role = await world.role("other")
    base = {"RoleARN": role, "BucketARN": "arn:aws:s3:::landing"}
    for name, config, code, words in (
        ("no-config", base | {"S3BackupMode": "Enabled"}, "InvalidArgumentException",
         "S3BackupConfiguration"),
        ("other-mode", base | {"S3BackupMode": "Sometimes"}, "ValidationException",
         "[Disabled, Enabled]"),
    ):  # fmt: skip
        message = await world.fails("CreateDeliveryStream", code, DeliveryStreamName=name,
                                    ExtendedS3DestinationConfiguration=config)  # fmt: skip
        assert words in message, message
    # Made Disabled: no backup described, nothing copied.
    unused = {"RoleARN": role, "BucketARN": "arn:aws:s3:::copies"}
    made_off = {"S3BackupMode": "Disabled", "S3BackupConfiguration": unused}
    await world.client("CreateDeliveryStream", DeliveryStreamName="plain",
                       ExtendedS3DestinationConfiguration=base | made_off)  # fmt: skip
    plain = _extended(
        (await world.client("DescribeDeliveryStream", DeliveryStreamName="plain"))[
            "DeliveryStreamDescription"
        ]
    )
    assert plain["S3BackupMode"] == "Disabled" and "S3BackupDescription" not in plain


async def test_copies_are_counted_and_a_refused_one_is_logged_in_the_backups_own_log(
    world: World, tmp_path: Path
) -> None:
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = int(time.time() * 1000)
        await logs.service.create_group(world.tenant_id, GROUP, None, {})
        for name in ("DestinationDelivery", "BackupDelivery"):
            await logs.service.create_stream(world.tenant_id, GROUP, name)
        # The role may write the log and the destination's objects, not the backup's.
        allowed = role_policy("logs:PutLogEvents", bucket="arn:aws:s3:::landing/*")
        role = await world.role(policy=allowed)
        await world.bucket("landing")
        await world.bucket("copies")

        await world.client("CreateDeliveryStream", DeliveryStreamName="clicks",
                           ExtendedS3DestinationConfiguration={
            "RoleARN": role, "BucketARN": "arn:aws:s3:::landing",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60},
            "CloudWatchLoggingOptions": options("DestinationDelivery"),
            "S3BackupMode": "Enabled",
            "S3BackupConfiguration": {"RoleARN": role, "BucketARN": "arn:aws:s3:::copies",
                                      "BufferingHints": {"IntervalInSeconds": 60},
                                      "CloudWatchLoggingOptions": options("BackupDelivery")},
        })  # fmt: skip
        gateway = FirehoseDeliverer(
            world.firehose,
            DeliveryPolicy(retry_interval_ms=5_000, retry_duration_ms=600_000),
            "gw-backup",
            FirehoseMetrics(world.sink, None, REGION),
            None,
            None,
            role_error_logs(logs.service, world.identity, world.audit, world.billing, REGION),
        )
        await gateway.run_pass()
        await world.client("PutRecordBatch", DeliveryStreamName="clicks",
                           Records=[{"Data": b"abc"}, {"Data": b"de"}])  # fmt: skip
        assert await gateway.run_pass(later(61)) == 1  # the destination's only
        (record,) = await logged(logs.service, world.tenant_id, "BackupDelivery")
        assert record["destination"] == "arn:aws:s3:::copies"
        assert record["errorCode"] == "S3.AccessDenied"
        assert record["deliveryStreamARN"].endswith(":deliverystream/clicks")
        assert await logged(logs.service, world.tenant_id, "DestinationDelivery") == []
        refused = _backup_points(world)
        assert sorted(refused) == ["BackupToS3.DataFreshness", "BackupToS3.Success"]
        assert refused["BackupToS3.Success"] == [0.0]  # nothing counted as backed up

        await world.identity.put_role_policy(
            world.tenant_id, "firehose", "put", role_policy("logs:PutLogEvents")
        )
        world.sink.points.clear()
        assert await gateway.run_pass(later(120)) == 1
        points = _backup_points(world)
        assert points["BackupToS3.Success"] == [1.0]
        assert points["BackupToS3.Records"] == [2.0] and points["BackupToS3.Bytes"] == [5.0]
        # No copy left waiting (decision 0379: the oldest waiting's age, not the object's).
        assert points["BackupToS3.DataFreshness"] == [0.0]
        assert len(await logged(logs.service, world.tenant_id, "BackupDelivery")) == 1


def options(stream: str) -> dict[str, Any]:
    return {"Enabled": True, "LogGroupName": GROUP, "LogStreamName": stream}


def _backup_points(world: World) -> dict[str, list[float]]:
    """The ``AWS/Firehose`` backup metrics, each with only the stream's name dimension."""
    found: dict[str, list[float]] = {}
    for _, namespace, name, dims, value in world.sink.points:
        if name.startswith("BackupToS3."):
            assert namespace == "AWS/Firehose" and dims == (("DeliveryStreamName", "clicks"),)
            found.setdefault(name, []).append(value)
    return found
