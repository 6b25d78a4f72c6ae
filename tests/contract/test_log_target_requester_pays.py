"""A server access log target is never a Requester Pays bucket, even under concurrent writes
(decisions 0133, 0150): PutBucketRequestPayment's and PutBucketLogging's writes each check the
other's state in their own transaction, under the target bucket's row lock, on the memory,
SQLite and PostgreSQL stores. Two gateways are two ``Database``\\ s on one database, as two
``andromede serve`` processes would be."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from andromede.db.database import Database, open_database
from andromede.storage.access_logging import (
    LOGGING_DOCUMENT,
    MISSING_TARGET,
    REQUESTER_PAYS_TARGET,
    LoggingTarget,
)
from andromede.storage.errors import BucketIsLogTarget, InvalidLogTarget, NoSuchBucket
from andromede.storage.model import Bucket
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from andromede.storage.store_sql_buckets import put_logging, set_requester_pays
from support.store_backends import BACKENDS, SQL_BACKENDS, sql_url

from .test_metadata_store import bucket

ROUNDS = 12
INTO_TARGET = LoggingTarget("target", "logs/")


@pytest.fixture(params=BACKENDS)
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[MetadataStore, MetadataStore]]:
    if request.param == "memory":
        store = MemoryMetadataStore()
        yield store, store
        return
    url = sql_url(request, tmp_path)
    first, second = open_database(url), open_database(url)
    try:
        yield SqlMetadataStore(first), SqlMetadataStore(second)
    finally:
        await first.close()
        await second.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Database, SqlMetadataStore]]:
    url = sql_url(request, tmp_path)
    first, second = open_database(url), open_database(url)
    try:
        yield first, SqlMetadataStore(second)
    finally:
        await first.close()
        await second.close()


def _hold(conn: Connection) -> None:
    """Keep the write job's transaction (and its locks) open a moment."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_sleep(0.5)")
    else:
        time.sleep(0.5)  # the writer thread's own job: the other gateway waits on its lock


async def _logs_into_target(store: MetadataStore) -> bool:
    return await store.get_bucket_document("source", LOGGING_DOCUMENT) is not None


async def _made(store: MetadataStore, *names: str, tenant: str = "t1") -> None:
    for name in names:
        await store.create_bucket(bucket(name, tenant))


async def test_each_write_refuses_the_others_state(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    store, _ = gateways
    await _made(store, "source", "target")
    await store.put_bucket_logging("source", INTO_TARGET)
    with pytest.raises(BucketIsLogTarget):
        await store.set_bucket_requester_pays("target", True)
    assert not (await store.get_bucket("target") or bucket()).requester_pays
    # The owner pays: always accepted, logged into or not.
    assert not (await store.set_bucket_requester_pays("target", False)).requester_pays
    await store.put_bucket_logging("source", None)
    assert await store.get_bucket_document("source", LOGGING_DOCUMENT) is None
    assert (await store.set_bucket_requester_pays("target", True)).requester_pays
    with pytest.raises(InvalidLogTarget, match=REQUESTER_PAYS_TARGET):
        await store.put_bucket_logging("source", INTO_TARGET)
    with pytest.raises(InvalidLogTarget, match=REQUESTER_PAYS_TARGET):
        await store.put_bucket_logging("target", INTO_TARGET)  # into itself
    assert not await _logs_into_target(store)
    with pytest.raises(InvalidLogTarget, match=MISSING_TARGET):
        await store.put_bucket_logging("source", LoggingTarget("gone"))
    with pytest.raises(NoSuchBucket):
        await store.put_bucket_logging("gone", INTO_TARGET)
    with pytest.raises(NoSuchBucket):
        await store.set_bucket_requester_pays("gone", True)
    # A refused configuration leaves the one in place.
    await store.put_bucket_logging("source", LoggingTarget("source"))
    with pytest.raises(InvalidLogTarget):
        await store.put_bucket_logging("source", INTO_TARGET)
    text = await store.get_bucket_document("source", LOGGING_DOCUMENT)
    assert text is not None and LoggingTarget.from_text(text).bucket == "source"


async def test_only_the_owners_buckets_of_its_region_hold_requester_pays_back(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    store, _ = gateways
    await _made(store, "target")
    # Another account's stale configuration naming the bucket (decision 0133): not a source.
    await _made(store, "stranger", tenant="t2")
    await store.put_bucket_document("stranger", LOGGING_DOCUMENT, INTO_TARGET.to_text())
    await store.create_bucket(Bucket("far", "t1", "o-t1", "elsewhere", bucket().created_at))
    await store.put_bucket_document("far", LOGGING_DOCUMENT, INTO_TARGET.to_text())
    assert (await store.set_bucket_requester_pays("target", True)).requester_pays


async def test_racing_writes_never_leave_a_requester_pays_log_target(
    gateways: tuple[MetadataStore, MetadataStore],
) -> None:
    one, two = gateways
    await _made(one, "source", "target")
    outcomes: set[str] = set()
    for n in range(ROUNDS):
        await one.put_bucket_logging("source", None)
        await one.set_bucket_requester_pays("target", False)
        paying = one.set_bucket_requester_pays("target", True)
        logging = two.put_bucket_logging("source", INTO_TARGET)
        first, second = (paying, logging) if n % 2 else (logging, paying)
        results = await asyncio.gather(first, second, return_exceptions=True)
        refused = [r for r in results if isinstance(r, BucketIsLogTarget | InvalidLogTarget)]
        assert len(refused) == 1, results
        assert not [r for r in results if isinstance(r, BaseException) and r not in refused]
        target = await two.get_bucket("target")
        assert target is not None
        # Exactly one of the two took effect: never both.
        assert target.requester_pays != await _logs_into_target(two)
        outcomes.add(type(refused[0]).__name__)
    assert outcomes  # each round had a winner and a refused loser


async def test_requester_pays_waits_for_a_logging_write_and_then_refuses(
    sql_gateways: tuple[Database, SqlMetadataStore],
) -> None:
    # The logging write holds its transaction open; the other gateway's PutBucketRequestPayment
    # waits for it (PostgreSQL: the target's row lock; SQLite: the one writer), then reads the
    # configuration it committed. A check outside the write's transaction, or without the lock,
    # would have read no logging yet and made a Requester Pays log target.
    db, other = sql_gateways
    await other.create_bucket(bucket("source"))
    await other.create_bucket(bucket("target"))

    def logging(conn: Connection) -> None:
        put_logging(conn, "source", INTO_TARGET)
        _hold(conn)

    holder = asyncio.create_task(db.write(logging))
    await asyncio.sleep(0.2)
    with pytest.raises(BucketIsLogTarget):
        await other.set_bucket_requester_pays("target", True)
    await holder
    assert not (await other.get_bucket("target") or bucket()).requester_pays
    assert await _logs_into_target(other)


async def test_logging_waits_for_a_requester_pays_write_and_then_refuses(
    sql_gateways: tuple[Database, SqlMetadataStore],
) -> None:
    db, other = sql_gateways
    await other.create_bucket(bucket("source"))
    await other.create_bucket(bucket("target"))

    def paying(conn: Connection) -> None:
        set_requester_pays(conn, "target", requester_pays=True)
        _hold(conn)

    holder = asyncio.create_task(db.write(paying))
    await asyncio.sleep(0.2)
    with pytest.raises(InvalidLogTarget, match=REQUESTER_PAYS_TARGET):
        await other.put_bucket_logging("source", INTO_TARGET)
    await holder
    assert (await other.get_bucket("target") or bucket()).requester_pays
    assert not await _logs_into_target(other)
