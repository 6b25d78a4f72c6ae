"""Export tasks to S3 (decision 0186, session-49 addendum) over the logs service with its real
sealer and a real object service (SQLite metadata, local blobs, sealed objects): AWS's layout
(``aws-logs-write-test``, then ``<prefix>/<taskId>/<stream>/000000.gz`` of
``<ISO time> <message>`` lines, the range inclusive, the stream prefix), objects cut at
``max_object_size``, the bucket policy's say for ``logs.<region>.amazonaws.com`` at create and
at run, cancel (pending, running, finished, unknown), the account's one active task, a task
taken over after its gateway's lease ran out, DescribeExportTasks' pages, a closed tenant's
tasks deleted; and GetLogRecord / GetLogGroupFields."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.log_export_delivery import BucketExportDestination
from andromede.logs.errors import (
    ExportRefused,
    InvalidOperation,
    InvalidParameter,
    LimitExceeded,
    ResourceNotFound,
)
from andromede.logs.export_tasks import ExportLimits, ExportService
from andromede.logs.exports import ExportStatus, ExportTask, MemoryExportStore
from andromede.logs.insights_run import event_record
from andromede.logs.model import InputEvent
from andromede.logs.records import RecordService
from andromede.object_keys import KmsObjectCipher
from andromede.sse_kms_keys import ReplicaKmsKeys
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.model import BucketEncryption
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.batch_world import LIMITS, read
from support.kmskit import REGION, root
from support.logsapp import NOW, LogsWorld, logs_world
from support.schema import migrated_sqlite

T = "000000000001"
OTHER = "000000000002"


def policy(
    *, account: str = T, actions: tuple[str, ...] = ("s3:GetBucketAcl", "s3:PutObject")
) -> str:
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
            "Action": action,
            "Resource": "arn:aws:s3:::exports" + ("/*" if action == "s3:PutObject" else ""),
            "Condition": {"StringEquals": {"aws:SourceAccount": account}},
        }
        for action in actions
    ]
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass
class World:
    logs: LogsWorld
    objects: ObjectService
    store: MemoryExportStore

    def service(self, **limits: int) -> ExportService:
        return ExportService(
            self.logs.service,
            self.store,
            BucketExportDestination(self.objects, REGION),
            ExportLimits(**{"batch": 3, **limits}),
            self.logs.clock,
        )

    async def create(self, service: ExportService, **given: object) -> str:
        params: dict[str, object] = {
            "name": "nightly",
            "group": "/app",
            "stream_prefix": None,
            "start": NOW - 60_000,
            "end": NOW,
            "bucket": "exports",
            "prefix": None,
        }
        return await service.create(T, **{**params, **given})


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    blobs = RegionalBlobs({REGION: LocalBlobStore(tmp_path / "objects", fsync=False)}, REGION)
    try:
        for logs in logs_world(tmp_path / "w"):
            # Objects sealed under the same key service as the KMS keys (SSE-KMS defaults).
            cipher = KmsObjectCipher(logs.kit.keys, inline=True)
            objects = ObjectService(SqlMetadataStore(db), blobs, LIMITS, cipher)
            await objects.create_bucket("exports", tenant_id=T, owner_id="o1", region=REGION)
            await objects.set_bucket_policy("exports", policy())
            await logs.service.create_group(T, "/app", None, {})
            for stream in ("web/1", "web/2", "db"):
                await logs.service.create_stream(T, "/app", stream)
            yield World(logs, objects, MemoryExportStore())
    finally:
        await db.close()


async def put(world: World, stream: str, *events: tuple[int, str]) -> None:
    batch = [InputEvent(ts, message) for ts, message in events]
    await world.logs.service.put_events(T, "/app", stream, batch)


async def lines(world: World, key: str) -> list[str]:
    return gzip.decompress(await read(world.objects, "exports", key)).decode().splitlines()


async def keys(world: World) -> list[str]:
    listing = await world.objects.list_objects("exports", prefix="", max_keys=1000)
    return sorted(o.key for o in listing.objects)


async def test_an_export_lays_its_objects_out_as_aws(world: World) -> None:
    await put(world, "web/1", (NOW - 61_000, "too early"), (NOW - 60_000, "first"))
    await put(world, "web/1", (NOW - 5_000, "second é"), (NOW, "last, to is inclusive"))
    await put(world, "web/2", (NOW - 1_000, json.dumps({"a": 1})))
    await put(world, "db", (NOW - 1_000, "not under the prefix"))
    service = world.service()
    task_id = await world.create(service, stream_prefix="web/", prefix="logs/app")
    assert await service.run_once()
    assert not await service.run_once()  # nothing left to claim
    (task,), _ = await service.describe(T, task_id, None, None, None)
    assert (task.status, task.message) == (ExportStatus.COMPLETED, "Completed successfully")
    assert task.completed == NOW
    assert await keys(world) == sorted(
        [
            "logs/app/aws-logs-write-test",
            f"logs/app/{task_id}/web/1/000000.gz",
            f"logs/app/{task_id}/web/2/000000.gz",
        ]
    )
    assert await read(world.objects, "exports", "logs/app/aws-logs-write-test") == (
        b"Permission Check Successful"
    )
    assert await lines(world, f"logs/app/{task_id}/web/1/000000.gz") == [
        "2027-01-15T07:59:00.000Z first",
        "2027-01-15T07:59:55.000Z second é",
        "2027-01-15T08:00:00.000Z last, to is inclusive",
    ]
    assert await lines(world, f"logs/app/{task_id}/web/2/000000.gz") == [
        '2027-01-15T07:59:59.000Z {"a": 1}'
    ]
    record = await world.objects.head_object("exports", f"logs/app/{task_id}/web/1/000000.gz")
    assert record.owner_id == "o1"  # the bucket owner's, sealed as every object


async def test_objects_are_cut_at_their_size_and_the_prefix_defaults(world: World) -> None:
    messages = [base64.b64encode(os.urandom(90)).decode() + f" {n}" for n in range(40)]
    await put(world, "db", *[(NOW - 40_000 + n, m) for n, m in enumerate(messages)])
    service = world.service(max_object_size=300)
    task_id = await world.create(service)
    assert await service.run_once()
    found = [k for k in await keys(world) if k.startswith(f"exportedlogs/{task_id}/db/")]
    assert len(found) > 2
    assert found == [f"exportedlogs/{task_id}/db/{n:06d}.gz" for n in range(len(found))]
    read_back = [line for key in found for line in await lines(world, key)]
    assert [line.split(" ", 1)[1] for line in read_back] == messages


async def test_the_bucket_policy_decides(world: World) -> None:
    service = world.service()
    await world.objects.set_bucket_policy("exports", None)
    with pytest.raises(ExportRefused, match=r"^GetBucketAcl call on the given bucket failed"):
        await world.create(service)
    await world.objects.set_bucket_policy("exports", policy(actions=("s3:GetBucketAcl",)))
    with pytest.raises(ExportRefused, match=r"^PutObject call on the given bucket failed"):
        await world.create(service)
    await world.objects.set_bucket_policy("exports", policy(account=OTHER))  # another's logs
    with pytest.raises(ExportRefused, match="GetBucketAcl"):
        await world.create(service)
    with pytest.raises(ExportRefused, match="does not exist"):
        await world.create(service, bucket="nobody")
    await world.objects.create_bucket("far", tenant_id=T, owner_id="o1", region="eu-de-1")
    with pytest.raises(ExportRefused, match="Region"):
        await world.create(service, bucket="far")
    assert await world.store.recent(T, None, None, 10) == []
    # Allowed at create, refused by the time it runs: the task FAILS with AWS's message.
    await world.objects.set_bucket_policy("exports", policy())
    task_id = await world.create(service)
    await world.objects.set_bucket_policy("exports", policy(actions=("s3:GetBucketAcl",)))
    assert await service.run_once()
    failed = await world.store.get(T, task_id)
    assert failed is not None and failed.status is ExportStatus.FAILED
    assert failed.message.startswith("PutObject call on the given bucket failed.")
    assert await keys(world) == []


async def test_parameters_and_the_one_active_task(world: World) -> None:
    service = world.service()
    with pytest.raises(InvalidParameter, match="Specified time range of 5 and 4 is not valid"):
        await world.create(service, start=5, end=4)
    with pytest.raises(InvalidParameter, match="from is required"):
        await world.create(service, start=None)
    with pytest.raises(InvalidParameter, match="destination"):
        await world.create(service, bucket="")
    with pytest.raises(ResourceNotFound, match="log group does not exist"):
        await world.create(service, group="/nope")
    first = await world.create(service)
    with pytest.raises(LimitExceeded):
        await world.create(service)
    await service.cancel(T, first)
    task = await world.store.get(T, first)
    assert task is not None and task.status is ExportStatus.CANCELLED
    with pytest.raises(InvalidOperation, match="already finished"):
        await service.cancel(T, first)
    with pytest.raises(ResourceNotFound):
        await service.cancel(T, "nope")
    assert not await service.run_once()  # a cancelled task is never run
    second = await world.create(service)
    assert second != first


async def test_a_cancel_through_another_gateway_stops_the_runner(world: World) -> None:
    await put(world, "db", *[(NOW - 10_000 + n, f"e{n}") for n in range(10)])
    service = world.service()
    other_gateway = world.service()
    task_id = await world.create(service)

    class CancelOnFirstWrite(BucketExportDestination):
        async def put(self, task: ExportTask, key: str, body: bytes, content_type: str) -> None:
            await super().put(task, key, body, content_type)
            await other_gateway.cancel(T, task.task_id)

    service._destination = CancelOnFirstWrite(world.objects, REGION)
    assert await service.run_once()
    task = await world.store.get(T, task_id)
    assert task is not None
    assert (task.status, task.message) == (ExportStatus.CANCELLED, "Cancelled by user")
    assert [k for k in await keys(world) if task_id in k] == []  # stopped before the first


async def test_a_task_whose_gateway_stopped_is_taken_over(world: World) -> None:
    await put(world, "db", (NOW - 1_000, "kept"))
    stopped = world.service(lease_ms=1_000)
    task_id = await world.create(stopped)
    claimed = await world.store.claim(stopped.owner, NOW, NOW + 1_000)  # then it died
    assert claimed is not None
    survivor = world.service(lease_ms=1_000)
    assert not await survivor.run_once()  # its lease still holds
    world.logs.clock.now = NOW + 1_001
    assert await survivor.run_once()
    task = await world.store.get(T, task_id)
    assert task is not None and task.status is ExportStatus.COMPLETED
    assert await lines(world, f"exportedlogs/{task_id}/db/000000.gz") == [
        "2027-01-15T07:59:59.000Z kept"
    ]


async def test_describe_pages_and_a_closed_tenant(world: World) -> None:
    service = world.service()
    made = []
    for n in range(3):
        world.logs.clock.now = NOW + n
        made.append(await world.create(service))
        await service.cancel(T, made[-1])
    page, token = await service.describe(T, None, None, 2, None)
    assert [t.task_id for t in page] == made[::-1][:2]
    assert token is not None
    rest, token = await service.describe(T, None, None, 2, token)
    assert [t.task_id for t in rest] == made[:1] and token is None
    assert await service.describe(T, None, "COMPLETED", None, None) == ([], None)
    assert len((await service.describe(T, None, "CANCELLED", None, None))[0]) == 3
    assert await service.describe(T, "nope", None, None, None) == ([], None)
    with pytest.raises(InvalidParameter, match="statusCode"):
        await service.describe(T, None, "DONE", None, None)
    with pytest.raises(InvalidParameter, match="nextToken"):
        await service.describe(T, None, None, None, "garbage")
    world.logs.service.forgetters.append(world.store.forget_tenant)
    await world.logs.service.forget_tenant(T)
    assert await world.store.recent(T, None, None, 10) == []


async def test_get_log_record_and_group_fields(world: World) -> None:
    await put(world, "db", (NOW - 2_000, json.dumps({"level": "ERROR", "http": {"status": 500}})))
    await put(world, "db", (NOW - 1_000, "plain text"))
    await put(world, "web/1", (NOW - 1_500, json.dumps({"level": "INFO"})))
    records = RecordService(world.logs.service, clock=world.logs.clock)
    events = [
        e
        for chunk in [c async for c in world.logs.service.scan(T, "/app", 0, NOW, 10)]
        for e in chunk
    ]
    first = events[0]
    pointer = str(
        event_record(
            T, "/app", first.stream, first.timestamp, first.ingestion, first.message, first.seq
        )["@ptr"]
    )
    record = await records.log_record(T, pointer)
    assert record == {
        "level": "ERROR",
        "http.status": "500",
        "@timestamp": str(NOW - 2_000),
        "@message": first.message,
        "@logStream": "db",
        "@log": f"{T}:/app",
        "@ingestionTime": str(first.ingestion),
    }
    with pytest.raises(InvalidParameter, match="logRecordPointer"):
        await records.log_record(T, "not-a-pointer")
    gone = base64.urlsafe_b64encode(json.dumps(["/app", "db", NOW, 99_999]).encode()).decode()
    with pytest.raises(ResourceNotFound, match="log record"):
        await records.log_record(T, gone)
    with pytest.raises(ResourceNotFound, match="log group"):
        await records.log_record(OTHER, pointer)  # another account's pointer reads nothing
    fields = dict(await records.group_fields(T, "/app", None))
    assert fields == {
        "@ingestionTime": 100,
        "@log": 100,
        "@logStream": 100,
        "@message": 100,
        "@timestamp": 100,
        "level": 67,
        "http.status": 33,
    }
    # 15 minutes before ``time``: nothing then.
    assert await records.group_fields(T, "/app", (NOW - 3_600_000) // 1000) == []


async def test_a_stopping_gateway_gives_its_lease_up(world: World) -> None:
    await put(world, "db", (NOW - 1_000, "kept"))
    stopping = world.service()
    task_id = await world.create(stopping)
    writing = asyncio.Event()

    class Stalls(BucketExportDestination):
        async def put(self, task: ExportTask, key: str, body: bytes, content_type: str) -> None:
            writing.set()
            await asyncio.Event().wait()  # until serve stops

    stopping._destination = Stalls(world.objects, REGION)
    running = asyncio.create_task(stopping.run_once())
    await writing.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # Taken over at once, not a lease later.
    survivor = world.service()
    assert await survivor.run_once()
    task = await world.store.get(T, task_id)
    assert task is not None and task.status is ExportStatus.COMPLETED


async def test_the_bucket_default_kms_key_seals_the_objects(world: World) -> None:
    await put(world, "db", (NOW - 1_000, "sealed under the bucket's key"))
    key = await world.logs.kit.service.create_key(root(T))
    await world.objects.set_bucket_encryption(
        "exports", BucketEncryption("aws:kms", key.key_id, False)
    )
    service = world.service()
    service._destination = BucketExportDestination(
        world.objects, REGION, ReplicaKmsKeys(world.logs.kit.service, None)
    )
    task_id = await world.create(service)
    assert await service.run_once()
    record = await world.objects.head_object("exports", f"exportedlogs/{task_id}/db/000000.gz")
    assert record.kms_key_arn == key.arn
    assert await lines(world, f"exportedlogs/{task_id}/db/000000.gz") == [
        "2027-01-15T07:59:59.000Z sealed under the bucket's key"
    ]
