"""What event notifications cost (decision 0132), counted at the SQLite driver as
``test_replication_reads`` counts replication's: a PUT or DELETE to a bucket without a
notification configuration, or whose rules select no event of the key, sends exactly the
statements of a bucket that never heard of notifications (the configuration comes with the
bucket's row); a selected event adds its queueing to the write's own transaction (the tenant's
count and the insert), no read of its own."""

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

from andromede.app import s3_services, storage_limits, topic_service
from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.db.sqlite import SqliteDatabase, create_sqlite_engine
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.notifications.store_sql import SqlTopicStore
from andromede.s3.app import S3App
from andromede.settings import Settings
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.regions import RegionalBlobs
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from support.keys import cipher_in
from support.s3app import Client
from support.schema import migrated_sqlite

REGION = "eu-paris-1"


@dataclass
class World:
    client: Client
    statements: list[str]
    topic_arn: str


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION)
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
    topics = topic_service(settings, SqlTopicStore(db))
    audit = AuditService(MemoryAuditStore())
    client = Client(
        S3App(s3_services(settings, objects, identity, topics=topics), identity, audit),
        Credentials(boot.access_key_id, boot.secret_access_key),
        MemoryAuditStore(),
        audit,
        boot.tenant.id,
        identity,
    )
    arn = (await topics.create_topic(boot.tenant.id, "events", {})).arn
    rule = (
        "<NotificationConfiguration><TopicConfiguration>"
        f"<Topic>{arn}</Topic><Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
        "<Event>s3:ObjectTagging:*</Event><Filter><S3Key><FilterRule><Name>prefix</Name><Value>watched/</Value></FilterRule>"
        "</S3Key></Filter></TopicConfiguration></NotificationConfiguration>"
    ).encode()
    md5 = md5_of(rule)
    for bucket in ("plain", "notifying"):
        assert (await client.request("PUT", f"/{bucket}", region=REGION)).status == 200
    configured = await client.request(
        "PUT", "/notifying?notification", rule, {"Content-MD5": md5}, region=REGION
    )
    assert configured.status == 200
    try:
        yield World(client, statements, arn)
    finally:
        await audit.close()
        await db.close()


async def counted(world: World, method: str, path: str, body: bytes | None = None) -> list[str]:
    """The statements the request sent (after one of the same, to warm the caches)."""
    expected = 204 if method == "DELETE" else 200
    headers = {} if body is None else {"Content-MD5": md5_of(body)}
    for _ in range(2):
        world.statements.clear()
        reply = await world.client.request(method, path, body, headers, region=REGION)
        assert reply.status == expected, reply.body
    return list(world.statements)


def md5_of(body: bytes) -> str:
    return base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()).decode()


async def test_no_selected_event_no_statement(world: World) -> None:
    for method, body in (("PUT", b"data"), ("DELETE", None)):
        plain = await counted(world, method, "/plain/k", body)
        unselected = await counted(world, method, "/notifying/other/k", body)
        assert len(unselected) == len(plain), (method, plain, unselected)
        assert not any("notification_events" in s for s in plain + unselected)


async def test_a_tagging_no_rule_selects_sends_no_statement(world: World) -> None:
    """PutObjectTagging (decision 0132, increment 2) likewise: the rules come with the bucket
    the handler reads to authorise, so a tagging no rule selects sends what it always did."""
    tags = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    for path in ("/plain/k", "/notifying/other/k", "/notifying/watched/k"):
        await counted(world, "PUT", path, b"data")
    plain = await counted(world, "PUT", "/plain/k?tagging", tags)
    unselected = await counted(world, "PUT", "/notifying/other/k?tagging", tags)
    assert len(unselected) == len(plain), (plain, unselected)
    assert not any("notification_events" in s for s in plain + unselected)
    selected = await counted(world, "PUT", "/notifying/watched/k?tagging", tags)
    assert len(selected) == len(plain) + 2
    assert selected[-2].startswith("INSERT INTO notification_events"), selected


async def test_a_selected_event_is_queued_in_the_writes_transaction(world: World) -> None:
    plain = await counted(world, "PUT", "/plain/k", b"data")
    selected = await counted(world, "PUT", "/notifying/watched/k", b"data")
    queueing = [s for s in selected if "notification_events" in s]
    assert len(queueing) == 2 and queueing[-1].startswith("INSERT INTO notification_events")
    assert len(selected) == len(plain) + 2
    # Between the write's BEGIN and its COMMIT.
    begin = max(i for i, s in enumerate(selected) if s.startswith("BEGIN"))
    commit = max(i for i, s in enumerate(selected) if s.startswith("COMMIT"))
    assert all(begin < selected.index(s) < commit for s in queueing)


async def test_a_write_the_tag_filter_holds_back_sends_no_statement(world: World) -> None:
    """RGW's metadata and tag filters (increment 3) are matched on the record the write
    already holds: a PUT they hold back sends the statements of a plain bucket, one they
    let through adds the two of any selected event, in its transaction."""
    rule = (
        "<NotificationConfiguration><TopicConfiguration>"
        f"<Topic>{world.topic_arn}</Topic><Event>s3:ObjectCreated:*</Event><Filter><S3Tags>"
        "<FilterRule><Name>team</Name><Value>ops</Value></FilterRule></S3Tags></Filter>"
        "</TopicConfiguration></NotificationConfiguration>"
    ).encode()
    assert (await world.client.request("PUT", "/filtered", region=REGION)).status == 200
    configured = await world.client.request(
        "PUT", "/filtered?notification", rule, {"Content-MD5": md5_of(rule)}, region=REGION
    )
    assert configured.status == 200
    plain = await counted(world, "PUT", "/plain/k", b"data")
    held_back = await counted(world, "PUT", "/filtered/k", b"data")
    assert len(held_back) == len(plain), (plain, held_back)
    assert not any("notification_events" in s for s in held_back)
    world.statements.clear()
    tagged = await world.client.request(
        "PUT", "/filtered/k", b"data", {"x-amz-tagging": "team=ops"}, region=REGION
    )
    assert tagged.status == 200
    assert [s for s in world.statements if "notification_events" in s][-1].startswith(
        "INSERT INTO notification_events"
    )
