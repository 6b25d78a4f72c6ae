"""Two gateways on one metadata database: racing writes end in one consistent state.

Each gateway is a ``Database`` of its own (its own pool, or its own SQLite writer) on the same
database, as two ``andromede serve`` processes would be. Every race runs for several rounds so
that interleavings actually happen; the invariants are checked after each round.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.storage import store_sql_versions
from andromede.storage.errors import (
    BucketNotEmpty,
    InvalidBucketState,
    NoSuchBucket,
    NoSuchUpload,
)
from andromede.storage.model import ObjectRecord, Part, Segment, VersioningStatus
from andromede.storage.object_lock import ObjectLockConfiguration
from andromede.storage.store_sql import SqlMetadataStore, _put_object
from support.store_backends import SQL_BACKENDS, sql_url

from .test_metadata_store import bucket, part, record, upload

ROUNDS = 15


@pytest.fixture(params=SQL_BACKENDS)
async def gateways(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[SqlMetadataStore, SqlMetadataStore, Database]]:
    url = sql_url(request, tmp_path)
    first, second = open_database(url), open_database(url)
    try:
        yield SqlMetadataStore(first), SqlMetadataStore(second), first
    finally:
        await first.close()
        await second.close()


def with_parts(rec: ObjectRecord, parts: list[Part]) -> ObjectRecord:
    segments = tuple(
        Segment(blob_id=p.blob_id, size=p.size, part_number=p.part_number, etag=p.etag)
        for p in parts
    )
    return replace(rec, segments=segments, size=sum(p.size for p in parts))


async def test_two_completes_of_one_upload_have_one_winner(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    await one.create_bucket(bucket())
    for n in range(ROUNDS):
        upload_id = f"u{n}"
        await one.create_upload(upload(upload_id, key=f"k{n}"))
        parts = [part(upload_id, i) for i in (1, 2, 3)]
        for p in parts:
            await (one if p.part_number % 2 else two).put_part(p)
        # Parts 1 and 2 make the object; part 3 was uploaded but left out: the winner releases it.
        rec = with_parts(record(f"k{n}"), parts[:2])
        results = await asyncio.gather(
            one.complete_upload(upload_id, rec),
            two.complete_upload(upload_id, rec),
            return_exceptions=True,
        )
        wins = [r for r in results if isinstance(r, tuple)]
        losses = [r for r in results if isinstance(r, NoSuchUpload)]
        assert (len(wins), len(losses)) == (1, 1), results
        replaced, released = wins[0]
        assert replaced is None
        assert released == [parts[2]]  # released once, by the winner only
        assert await two.get_object("b1", f"k{n}") == rec
        assert await one.get_upload("b1", upload_id) is None


async def test_complete_racing_abort_ends_one_way(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    await one.create_bucket(bucket())
    for n in range(ROUNDS):
        upload_id = f"u{n}"
        await one.create_upload(upload(upload_id, key=f"k{n}"))
        await two.put_part(part(upload_id, 1))
        rec = with_parts(record(f"k{n}"), [part(upload_id, 1)])
        completed, aborted = await asyncio.gather(
            one.complete_upload(upload_id, rec), two.abort_upload(upload_id), return_exceptions=True
        )
        stored = await one.get_object("b1", f"k{n}")
        if isinstance(completed, tuple):  # complete first: the abort found nothing
            assert isinstance(aborted, NoSuchUpload)
            assert stored == rec and completed == (None, [])
        else:  # abort first: it released the part, and no object refers to it
            assert isinstance(completed, NoSuchUpload)
            assert aborted == [part(upload_id, 1)] and stored is None


async def test_concurrent_overwrites_report_every_replaced_blob_once(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    await one.create_bucket(bucket())
    writers = 6
    for n in range(ROUNDS):
        key = f"k{n}"
        initial = n % 2 == 0  # half the rounds race on a new key, half on an existing one
        if initial:
            await one.put_object(record(key, blob=f"{key}-initial"))
        mine = [record(key, blob=f"{key}-w{i}") for i in range(writers)]
        results = await asyncio.gather(
            *((one if i % 2 else two).put_object(rec) for i, rec in enumerate(mine))
        )
        final = await one.get_object("b1", key)
        assert final in mine
        assert final is not None
        replaced = [s.blob_id for r in results if r is not None for s in r.segments]
        everything = [s.blob_id for rec in mine for s in rec.segments]
        if initial:
            everything.append(f"{key}-initial")
        # Every blob but the final one's is reported as replaced, each exactly once.
        assert Counter(replaced) == Counter(everything) - Counter(s.blob_id for s in final.segments)
        assert sum(r is None for r in results) == (0 if initial else 1)
        # And only the final blob is still referenced, or the sweeper would keep the others
        # forever (a PUT on PostgreSQL that replaced a record newer than its snapshot drops that
        # record's blob rows in a second statement:
        # store_sql_statements._put_object_in_one_statement).
        final_blobs = {s.blob_id for s in final.segments}
        assert await one.referenced_blob_ids(everything) == final_blobs


async def test_an_overwrite_that_waited_for_another_reports_and_unlinks_its_record(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    # A write holds the object row while the other gateway's PUT starts: the PUT waits, then
    # replaces the record committed after it started (not the one it could first see), and
    # that record's blob is no longer referenced.
    one, two, db = gateways
    await one.create_bucket(bucket())
    await one.put_object(record("k", blob="first"))

    def hold(conn: Connection) -> ObjectRecord | None:
        replaced = _put_object(conn, record("k", blob="held"))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_sleep(0.5)")
        else:
            time.sleep(0.5)  # the writer thread's own job: the other gateway waits on its lock
        return replaced

    holder = asyncio.create_task(db.write(hold))
    await asyncio.sleep(0.2)
    replaced = await two.put_object(record("k", blob="last"))
    assert await holder == record("k", blob="first")
    assert replaced == record("k", blob="held")
    assert await one.get_object("b1", "k") == record("k", blob="last")
    assert await one.referenced_blob_ids(["first", "held", "last"]) == {"last"}


async def test_delete_bucket_racing_a_put_ends_one_way(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, db = gateways
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        name = f"race{n}"
        await one.create_bucket(bucket(name))
        deleted, put = await asyncio.gather(
            one.delete_bucket(name),
            two.put_object(record("k", bucket=name, blob=f"{name}-k")),
            return_exceptions=True,
        )
        if isinstance(put, NoSuchBucket):  # the delete came first
            assert deleted == []
            assert await two.get_bucket(name) is None
            outcomes["deleted"] += 1
        else:  # the PUT came first: the bucket stays, with the object
            assert put is None, put
            assert isinstance(deleted, BucketNotEmpty), deleted
            assert await two.get_bucket(name) is not None
            assert await two.get_object(name, "k") is not None
            outcomes["kept"] += 1

    def orphans(conn: Connection) -> int:
        o, b = tables.objects, tables.buckets
        query = (
            sa.select(sa.func.count())
            .select_from(o.outerjoin(b, o.c.bucket == b.c.name))
            .where(b.c.name.is_(None))
        )
        return int(conn.scalar(query) or 0)

    assert await db.read(orphans) == 0  # never an object row without its bucket
    assert sum(outcomes.values()) == ROUNDS


async def test_delete_bucket_racing_a_new_upload_ends_one_way(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    for n in range(ROUNDS):
        name = f"race{n}"
        await one.create_bucket(bucket(name))
        created = replace(upload(f"u{n}"), bucket=name)
        deleted, started = await asyncio.gather(
            one.delete_bucket(name), two.create_upload(created), return_exceptions=True
        )
        if isinstance(started, NoSuchBucket):
            assert deleted == [] and await two.get_bucket(name) is None
        else:  # the upload came first, and the delete dropped it with the bucket
            assert started is None and deleted == []
            assert await two.get_upload(name, created.upload_id) is None
            assert await two.get_bucket(name) is None


async def test_concurrent_creates_of_one_bucket(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    for n in range(ROUNDS):
        results = await asyncio.gather(
            one.create_bucket(bucket(f"c{n}", tenant="t1")),
            two.create_bucket(bucket(f"c{n}", tenant="t2")),
            return_exceptions=True,
        )
        assert sum(r is None for r in results) == 1, results
        owner = await one.get_bucket(f"c{n}")
        assert owner is not None
        loser = results[1] if results[0] is None else results[0]
        assert type(loser).__name__ == "BucketAlreadyExists"


async def test_concurrent_uploads_of_one_part_number(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    await one.create_bucket(bucket())
    for n in range(ROUNDS):
        upload_id = f"u{n}"
        await one.create_upload(upload(upload_id))
        mine = [part(upload_id, 1, blob=f"{upload_id}-w{i}") for i in range(4)]
        results = await asyncio.gather(
            *((one if i % 2 else two).put_part(p) for i, p in enumerate(mine))
        )
        [stored] = await one.get_parts(upload_id, [1])
        assert stored in mine
        replaced = [r.blob_id for r in results if r is not None]
        assert sorted(replaced) == sorted(p.blob_id for p in mine if p != stored)


def _pause(conn: Connection) -> None:
    """Keep the transaction (and the rows it wrote) open a while: the other gateway's write
    of the same row waits for it."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT pg_sleep(0.5)")
    else:
        time.sleep(0.5)  # the writer thread's own job: the other gateway waits on its lock


async def test_a_suspend_waiting_for_object_lock_is_refused(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    """Decision 0104, deterministically: Object Lock's write holds the bucket row while the
    other gateway suspends versioning; the suspend waits, then its own check sees the lock."""
    one, two, db = gateways
    await one.create_bucket(bucket())
    await one.set_bucket_versioning("b1", VersioningStatus.ENABLED)

    def lock_on(conn: Connection) -> None:
        store_sql_versions.set_object_lock(conn, "b1", ObjectLockConfiguration())
        _pause(conn)

    holder = asyncio.create_task(db.write(lock_on))
    await asyncio.sleep(0.2)
    with pytest.raises(InvalidBucketState):
        await two.set_bucket_versioning("b1", VersioningStatus.SUSPENDED)
    await holder
    kept = await two.get_bucket("b1")
    assert kept is not None and kept.object_lock is not None
    assert kept.versioning is VersioningStatus.ENABLED


async def test_object_lock_waiting_for_a_suspend_is_refused(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, db = gateways
    await one.create_bucket(bucket())
    await one.set_bucket_versioning("b1", VersioningStatus.ENABLED)

    def suspend(conn: Connection) -> None:
        store_sql_versions.set_versioning(conn, "b1", VersioningStatus.SUSPENDED)
        _pause(conn)

    holder = asyncio.create_task(db.write(suspend))
    await asyncio.sleep(0.2)
    with pytest.raises(InvalidBucketState):
        await two.set_bucket_object_lock("b1", ObjectLockConfiguration())
    await holder
    kept = await two.get_bucket("b1")
    assert kept is not None and kept.object_lock is None
    assert kept.versioning is VersioningStatus.SUSPENDED


async def test_object_lock_racing_a_suspend_ends_one_way(
    gateways: tuple[SqlMetadataStore, SqlMetadataStore, Database],
) -> None:
    one, two, _ = gateways
    outcomes: Counter[str] = Counter()
    for n in range(ROUNDS):
        name = f"race{n}"
        await one.create_bucket(bucket(name))
        await one.set_bucket_versioning(name, VersioningStatus.ENABLED)
        locked, suspended = await asyncio.gather(
            one.set_bucket_object_lock(name, ObjectLockConfiguration()),
            two.set_bucket_versioning(name, VersioningStatus.SUSPENDED),
            return_exceptions=True,
        )
        kept = await one.get_bucket(name)
        assert kept is not None
        if isinstance(suspended, InvalidBucketState):  # the lock came first
            assert kept.object_lock is not None
            assert kept.versioning is VersioningStatus.ENABLED
            outcomes["locked"] += 1
        else:
            assert suspended is None and isinstance(locked, InvalidBucketState), locked
            assert kept.object_lock is None
            assert kept.versioning is VersioningStatus.SUSPENDED
            outcomes["suspended"] += 1
    assert sum(outcomes.values()) == ROUNDS
