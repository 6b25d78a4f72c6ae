"""What replication costs a bucket that does not replicate (decision 0112, increment 2): the
statements a GET, a HEAD and a PUT of a versioned bucket send to SQLite, counted at the
driver (``sqlite3``'s trace callback, which sees the hot reads that bypass SQLAlchemy too),
are those they sent before replication existed (bbdad0b's tree: the figures below); and a
replicating bucket's GET and HEAD read the version's status with its row."""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.credentials import Credentials

from andromede.app import s3_services, storage_limits
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.sqlite import SqliteDatabase, create_sqlite_engine
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.storage.replicator import Replicator
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.keys import cipher_in
from support.s3app import Client
from support.schema import migrated_sqlite

REGION = "eu-paris-1"
ENABLED = b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>"
# Statements each request sent on main before replication landed (bbdad0b), the bucket
# versioned Enabled, its caches warm: the PUT's transaction (BEGIN, the bucket held, the
# current row, the version moves, the insert, COMMIT), a GET's and a HEAD's one read.
STATEMENTS_BEFORE_REPLICATION = {"PUT": 11, "GET": 1, "HEAD": 1}


@dataclass
class World:
    client: Client
    statements: list[str]
    replicator: Replicator


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION, allow_insecure_sse=True)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    statements: list[str] = []
    engine = create_sqlite_engine(sa.make_url(migrated_sqlite(tmp_path / "meta.db")))

    def trace(dbapi_connection: sqlite3.Connection, _: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    sa.event.listen(engine, "connect", trace)
    db = SqliteDatabase(engine)
    objects = ObjectService(
        SqlMetadataStore(db),
        RegionalBlobs({REGION: MemoryBlobStore()}, REGION),
        storage_limits(settings),
        cipher_in(tmp_path / "keys"),
    )
    replicator = Replicator(objects, SqlReplicationQueue(db))
    services = s3_services(settings, objects, identity, replicator=replicator)
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    client = Client(
        S3App(services, identity, audit),
        Credentials(boot.access_key_id, boot.secret_access_key),
        audit_store,
        audit,
        boot.tenant.id,
        identity,
    )
    for bucket in ("plain", "backup"):
        assert (await client.request("PUT", f"/{bucket}", region=REGION)).status == 200
        versioning = await client.request("PUT", f"/{bucket}?versioning", ENABLED, region=REGION)
        assert versioning.status == 200
    try:
        yield World(client, statements, replicator)
    finally:
        await audit.close()
        await db.close()


async def counted(world: World, method: str, path: str, body: bytes | None = None) -> int:
    """How many statements the request sent to the database (after one of the same to warm
    the caches)."""
    assert (await world.client.request(method, path, body, region=REGION)).status == 200
    world.statements.clear()
    assert (await world.client.request(method, path, body, region=REGION)).status == 200
    return len(world.statements)


async def test_a_bucket_that_does_not_replicate_pays_no_statement_for_it(world: World) -> None:
    counts = {
        "PUT": await counted(world, "PUT", "/plain/k", b"data"),
        "GET": await counted(world, "GET", "/plain/k"),
        "HEAD": await counted(world, "HEAD", "/plain/k"),
    }
    assert counts == STATEMENTS_BEFORE_REPLICATION


async def test_a_replicating_buckets_get_and_head_read_the_status_with_the_row(
    world: World,
) -> None:
    rule = (
        b"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role><Rule><ID>all</ID>"
        b"<Priority>1</Priority><Filter><Prefix></Prefix></Filter><Status>Enabled</Status>"
        b"<Destination><Bucket>arn:aws:s3:::backup</Bucket></Destination>"
        b"<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication></Rule>"
        b"</ReplicationConfiguration>"
    )
    md5 = base64.b64encode(hashlib.md5(rule, usedforsecurity=False).digest()).decode()
    configured = await world.client.request(
        "PUT", "/plain?replication", rule, {"Content-MD5": md5}, region=REGION
    )
    assert configured.status == 200
    written = await world.client.request("PUT", "/plain/k", b"data", region=REGION)
    version = written.headers["x-amz-version-id"]
    # The current version: the one query of bucket and object; a version by id: the bucket,
    # then the version (as before replication); the status in the row each time.
    by_id = f"?versionId={version}"
    for method, path, reads in (("HEAD", "/plain/k", 1), ("GET", f"/plain/k{by_id}", 2)):
        world.statements.clear()
        reply = await world.client.request(method, path, region=REGION)
        assert reply.headers["x-amz-replication-status"] == "PENDING"
        assert len(world.statements) == reads, world.statements
        assert not any("FROM replication_statuses" in s for s in world.statements)
    await world.replicator.run_once()
    world.statements.clear()
    replica = await world.client.request("HEAD", f"/backup/k{by_id}", region=REGION)
    assert replica.headers["x-amz-replication-status"] == "REPLICA"
    assert len(world.statements) == 2, world.statements
