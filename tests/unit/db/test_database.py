"""The SQLite Database: pragmas, inline reads, group-committed writes isolated by savepoints."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade

NOW = datetime(2026, 11, 29, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    database = open_database(url)
    yield database
    await database.close()


def insert_bucket(name: str) -> Callable[[Connection], str]:
    def work(conn: Connection) -> str:
        conn.execute(
            tables.buckets.insert().values(
                name=name, tenant_id="t", owner_id="o", region="r", created_at=NOW
            )
        )
        return threading.current_thread().name

    return work


def bucket_names(conn: Connection) -> list[str]:
    return list(conn.scalars(sa.select(tables.buckets.c.name).order_by(tables.buckets.c.name)))


async def test_pragmas(db: Database) -> None:
    def pragmas(conn: Connection) -> tuple[str, int, int]:
        return (
            conn.exec_driver_sql("PRAGMA journal_mode").scalar_one(),
            conn.exec_driver_sql("PRAGMA synchronous").scalar_one(),
            conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one(),
        )

    assert await db.read(pragmas) == ("wal", 2, 1)  # synchronous=FULL is 2


async def test_writes_run_on_the_writer_and_reads_inline(db: Database) -> None:
    thread = await db.write(insert_bucket("a"))
    assert thread == "andromede-db-writer"
    assert await db.read(lambda conn: threading.current_thread().name) == (
        threading.current_thread().name
    )
    assert await db.read(bucket_names) == ["a"]


async def test_concurrent_writes_share_commits(db: Database) -> None:
    commits: list[int] = []
    sa.event.listen(db.engine, "commit", lambda conn: commits.append(1))
    names = [f"b{i:02d}" for i in range(40)]
    await asyncio.gather(*[db.write(insert_bucket(n)) for n in names])
    assert await db.read(bucket_names) == names
    assert len(commits) < len(names)  # group commit: fewer transactions than writes


async def test_a_failing_job_fails_alone(db: Database) -> None:
    def failing(conn: Connection) -> None:
        conn.execute(
            tables.buckets.insert().values(
                name="doomed", tenant_id="t", owner_id="o", region="r", created_at=NOW
            )
        )
        raise ValueError("refused")

    names = [f"b{i:02d}" for i in range(40)]
    jobs = [db.write(insert_bucket(n)) for n in names]
    jobs.insert(20, db.write(failing))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    assert [type(r) for r in results].count(ValueError) == 1
    assert await db.read(bucket_names) == names  # "doomed" is not there, every other one is


async def test_integrity_errors_reach_the_caller(db: Database) -> None:
    await db.write(insert_bucket("dup"))
    with pytest.raises(sa.exc.IntegrityError):
        await db.write(insert_bucket("dup"))
    assert await db.read(bucket_names) == ["dup"]


async def test_datetimes_round_trip_as_aware_utc(db: Database) -> None:
    await db.write(insert_bucket("when"))
    created = await db.read(lambda conn: conn.scalar(sa.select(tables.buckets.c.created_at)))
    assert created == NOW and created.tzinfo is not None


async def test_naive_datetimes_are_refused(db: Database) -> None:
    def naive(conn: Connection) -> None:
        conn.execute(
            tables.buckets.insert().values(
                name="naive",
                tenant_id="t",
                owner_id="o",
                region="r",
                created_at=datetime(2026, 1, 1),
            )
        )

    with pytest.raises(sa.exc.StatementError):
        await db.write(naive)


async def test_closed_database_refuses_writes(db: Database) -> None:
    await db.close()
    with pytest.raises(RuntimeError, match="closed"):
        await db.write(insert_bucket("late"))
