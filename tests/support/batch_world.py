"""Batch Operations' test world (decision 0152 and its addenda): a real SQLite metadata
database, local blobs and the object service, the job store, a runner with a role's
decisions, and the helpers to write objects, manifests and CreateJob requests."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from andromede.db.database import open_database
from andromede.s3control.jobs import parse_create
from andromede.storage.batch_jobs import BatchJob, BatchJobStore, JobStatus
from andromede.storage.batch_runner import BatchRunner, TaskEvent
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.model import Bucket, ContentHeaders
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.storage.service import BodyIntegrity, ObjectService, StorageLimits
from andromede.storage.store_sql import SqlMetadataStore
from support.keys import cipher_in
from support.schema import migrated_sqlite

LIMITS = StorageLimits(
    max_object_size=1 << 24,
    max_part_size=1 << 24,
    min_part_size=1000,
    max_parts=100,
    max_key_length=200,
    max_user_metadata_size=64,
    read_chunk_size=4096,
    deletion_grace=0.0,
)
REGION = "eu-paris-1"
NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)


@dataclass
class RoleGrants:
    """A role's decisions as the policy engine would give them (``ReplicationGrants``): what
    it is refused, by (action, key); everything else allowed. Records what it was asked."""

    refused: set[tuple[str, str]]
    asked: list[tuple[str | None, str, str, str]]

    async def allows(
        self,
        role_arn: str | None,
        source_tenant: str,
        destination: Bucket,
        action: str,
        key: str,
        *,
        audited: bool = False,
        source_bucket: str | None = None,
    ) -> bool:
        self.asked.append((role_arn, source_tenant, action, f"{destination.name}/{key}"))
        return (action, key) not in self.refused


@dataclass
class World:
    objects: ObjectService
    jobs: BatchJobStore
    events: list[TaskEvent]
    queue: SqlReplicationQueue

    def runner(
        self, *, batch: int = 100, max_tasks: int = 1000, grants: RoleGrants | None = None
    ) -> BatchRunner:
        return BatchRunner(
            self.objects,
            self.jobs,
            interval=1.0,
            batch=batch,
            max_tasks=max_tasks,
            lease=60.0,
            grants=grants,
            queue=self.queue,
            on_task=self.events.append,
            clock=lambda: NOW,
        )


@asynccontextmanager
async def batch_world(tmp_path: Path) -> AsyncIterator[World]:
    """Buckets ``data`` and ``reports`` of account t1 (owner o1), ``theirs`` of t2; the
    replication queue that Batch Replication feeds."""
    db = open_database(migrated_sqlite(tmp_path / "meta.db"))
    blobs = RegionalBlobs({REGION: LocalBlobStore(tmp_path / "objects", fsync=False)}, REGION)
    objects = ObjectService(SqlMetadataStore(db), blobs, LIMITS, cipher_in(tmp_path / "keys"))
    await objects.create_bucket("data", tenant_id="t1", owner_id="o1", region=REGION)
    await objects.create_bucket("reports", tenant_id="t1", owner_id="o1", region=REGION)
    await objects.create_bucket("theirs", tenant_id="t2", owner_id="o2", region=REGION)
    try:
        yield World(objects, BatchJobStore(db), [], SqlReplicationQueue(db))
    finally:
        await db.close()


async def put(objects: ObjectService, bucket: str, key: str, data: bytes) -> str:
    async def body() -> AsyncIterator[bytes]:
        yield data

    record = await objects.put_object(
        bucket,
        key,
        body(),
        size=len(data),
        headers=ContentHeaders(),
        owner_id="o1",
        integrity=BodyIntegrity(),
    )
    return record.etag


async def read(objects: ObjectService, bucket: str, key: str) -> bytes:
    record = await objects.head_object(bucket, key)
    return b"".join([c async for c in objects.read_object(record, 0, record.size - 1)])


def request(
    etag: str,
    *,
    operation: str = (
        "<S3PutObjectTagging><TagSet><member><Key>tier</Key><Value>cold</Value></member>"
        "</TagSet></S3PutObjectTagging>"
    ),
    confirm: bool = False,
    scope: str = "AllTasks",
) -> bytes:
    return (
        '<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">'
        f"<ConfirmationRequired>{str(confirm).lower()}</ConfirmationRequired>"
        f"<Operation>{operation}</Operation>"
        "<Report><Bucket>arn:aws:s3:::reports</Bucket><Format>Report_CSV_20180820</Format>"
        f"<Enabled>true</Enabled><Prefix>batch</Prefix><ReportScope>{scope}</ReportScope>"
        "</Report>"
        "<ClientRequestToken>t-1</ClientRequestToken>"
        "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>"
        "<Fields><member>Bucket</member><member>Key</member></Fields></Spec>"
        "<Location><ObjectArn>arn:aws:s3:::data/manifest.csv</ObjectArn>"
        f"<ETag>{etag}</ETag></Location></Manifest>"
        "<Priority>10</Priority><RoleArn>arn:aws:iam::t1:role/batch</RoleArn>"
        "</CreateJobRequest>"
    ).encode()


async def new_job(world: World, body: bytes) -> BatchJob:
    token, priority, document = parse_create(body)
    job = BatchJob(
        job_id=f"job-{token}",
        tenant_id="t1",
        client_token=token,
        status=JobStatus.NEW,
        priority=priority,
        document=document,
        created_at=NOW,
    )
    return await world.jobs.create(job)


async def manifest(world: World, lines: list[str]) -> str:
    return await put(world.objects, "data", "manifest.csv", "\n".join(lines).encode())


async def drain(runner: BatchRunner) -> int:
    steps = 0
    while await runner.run_once():
        steps += 1
    return steps


def report_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))
