"""PostgresDatabase: reads and writes, retry after a deadlock, an unreachable server, a restart."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.util import await_

from andromede.db import postgres as postgres_module
from andromede.db import tables
from andromede.db.database import Database, describe_url, open_database
from andromede.db.errors import DatabaseUnavailable
from andromede.db.migrate import upgrade
from andromede.db.postgres import PostgresDatabase
from andromede.db.statements import RowQuery
from andromede.db.types import utc_from_stored
from support.postgres import PrivateCluster

NOW = datetime(2026, 11, 29, 9, 30, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(postgres_url: str) -> AsyncIterator[Database]:
    database = open_database(postgres_url, pool_size=4, timeout=5)
    yield database
    await database.close()


def insert_bucket(name: str) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(
            tables.buckets.insert().values(
                name=name, tenant_id="t", owner_id="o", region="r", created_at=NOW
            )
        )

    return work


def bucket_names(conn: Connection) -> list[str]:
    return list(conn.scalars(sa.select(tables.buckets.c.name).order_by(tables.buckets.c.name)))


async def test_open_database_picks_postgresql(db: Database) -> None:
    assert isinstance(db, PostgresDatabase)


async def test_writes_commit_and_reads_see_them(db: Database) -> None:
    await db.write(insert_bucket("a"))
    await asyncio.gather(*(db.write(insert_bucket(n)) for n in "bcdefgh"))
    assert await db.read(bucket_names) == list("abcdefgh")
    rows = await db.read(lambda c: c.execute(sa.select(tables.buckets.c.created_at)).all())
    assert {r.created_at for r in rows} == {NOW}  # timestamptz round trip, microseconds kept


async def test_a_failed_write_leaves_nothing(db: Database) -> None:
    def insert_then_fail(conn: Connection) -> None:
        insert_bucket("x")(conn)
        raise LookupError("the job's own error")

    with pytest.raises(LookupError):
        await db.write(insert_then_fail)
    assert await db.read(bucket_names) == []


async def test_reads_run_outside_a_transaction(db: Database) -> None:
    # Autocommit: no BEGIN, so a read holds no snapshot and no lock beyond its statements.
    # Inside a transaction every statement would see the same transaction start time.
    def transaction_starts(conn: Connection) -> set[datetime]:
        starts = set()
        for _ in range(3):
            starts.add(conn.exec_driver_sql("SELECT clock_timestamp(), now()").one()[1])
            conn.exec_driver_sql("SELECT pg_sleep(0.01)")
        return starts

    assert len(await db.read(transaction_starts)) == 3
    assert len(await db.write(transaction_starts)) == 1


async def test_a_deadlock_is_retried(postgres_url: str) -> None:
    # Two writes lock two rows in opposite orders: PostgreSQL kills one with deadlock_detected;
    # it ran in a transaction that was rolled back, so the database runs it again, and both land.
    database = open_database(postgres_url, pool_size=4, timeout=30)
    try:
        await database.write(insert_bucket("a"))
        await database.write(insert_bucket("b"))
        attempts: list[str] = []
        holds_its_row = {"a": asyncio.Event(), "b": asyncio.Event()}

        def touch(first: str, second: str) -> Callable[[Connection], None]:
            def work(conn: Connection) -> None:
                attempts.append(first)
                conn.exec_driver_sql("SET LOCAL deadlock_timeout = '100ms'")
                b = tables.buckets
                try:
                    conn.execute(sa.update(b).where(b.c.name == first).values(owner_id=first))
                finally:
                    # Said even if the update failed, so the other write never waits for ever.
                    holds_its_row[first].set()
                if attempts.count(first) == 1:
                    # The rendezvous: each write asks for its second row only once the other
                    # has its first, told by the other write itself rather than found by
                    # polling pg_locks against a clock (25 s once passed on a loaded CI host
                    # without the second write's lock showing, and no deadlock happened).
                    await_(holds_its_row[second].wait())
                conn.execute(sa.update(b).where(b.c.name == second).values(owner_id=first))

            return work

        await asyncio.gather(database.write(touch("a", "b")), database.write(touch("b", "a")))
        assert len(attempts) == 3  # one of the two ran twice
    finally:
        await database.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_server_is_database_unavailable() -> None:
    url = f"postgresql+asyncpg://andromede:s3cret-pw@127.0.0.1:{_closed_port()}/andromede"
    database = open_database(url, pool_size=2, timeout=2)
    try:
        with pytest.raises(DatabaseUnavailable) as read_error:
            await database.read(bucket_names)
        with pytest.raises(DatabaseUnavailable) as write_error:
            await database.write(insert_bucket("a"))
    finally:
        await database.close()
    for error in (read_error.value, write_error.value):
        assert "s3cret-pw" not in str(error)
    assert "s3cret-pw" not in describe_url(url) and "***" in describe_url(url)


async def test_the_service_recovers_when_postgresql_comes_back(
    private_postgres: PrivateCluster,
) -> None:
    url = private_postgres.url
    await asyncio.to_thread(upgrade, url)
    database = open_database(url, pool_size=3, timeout=3)
    try:
        await asyncio.gather(*(database.write(insert_bucket(n)) for n in "abc"))  # fill the pool
        await asyncio.to_thread(private_postgres.stop)
        with pytest.raises(DatabaseUnavailable):
            await database.read(bucket_names)
        with pytest.raises(DatabaseUnavailable):
            await database.write(insert_bucket("d"))
        await asyncio.to_thread(private_postgres.start)
        # No restart of the gateway, no failed request: the pool replaces its dead connections.
        await database.write(insert_bucket("d"))
        assert await database.read(bucket_names) == ["a", "b", "c", "d"]
        # A restart while idle: the pooled connections are dead, and the next read or write,
        # whichever comes first, is the one that finds out. Neither fails.
        for first in ("write", "read"):
            await asyncio.gather(*(database.read(bucket_names) for _ in range(3)))
            await asyncio.to_thread(private_postgres.stop)
            await asyncio.to_thread(private_postgres.start)
            if first == "write":
                await database.write(insert_bucket("e"))
            assert await database.read(bucket_names) == ["a", "b", "c", "d", "e"]
    finally:
        await database.close()


async def test_a_statement_past_the_timeout_is_database_unavailable(postgres_url: str) -> None:
    database = open_database(postgres_url, pool_size=2, timeout=0.5)
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.read(lambda c: c.exec_driver_sql("SELECT pg_sleep(2)").all())
        with pytest.raises(DatabaseUnavailable):
            await database.write(lambda c: c.exec_driver_sql("SELECT pg_sleep(2)").all())
        # The connections are still good for the next request.
        assert await database.read(bucket_names) == []
    finally:
        await database.close()


async def test_connections_are_kept_between_calls_and_shared_by_more_callers(
    db: Database,
) -> None:
    assert isinstance(db, PostgresDatabase)
    checkouts: list[int] = []
    sa.event.listen(db.engine.sync_engine.pool, "checkout", lambda *_: checkouts.append(1))
    for name in "abc":  # reads and writes alternate on one kept connection, switching modes
        await db.write(insert_bucket(name))
        assert await db.read(bucket_names) == sorted(["a", "b", "c"][: "abc".index(name) + 1])
    assert len(checkouts) == 1
    # More callers than the pool has connections (4): they wait for a kept one, none fails.
    results = await asyncio.gather(*(db.read(bucket_names) for _ in range(20)))
    await asyncio.gather(*(db.write(insert_bucket(f"n{n}")) for n in range(10)))
    assert results == [["a", "b", "c"]] * 20
    assert len(checkouts) <= 4


async def test_a_single_statement_write_runs_without_a_transaction(db: Database) -> None:
    # Autocommit: no BEGIN before the statement and no COMMIT after (one round trip), so the
    # statement is its own transaction. (A function issuing two shows it: each has its own.)
    def transaction_starts(conn: Connection) -> set[datetime]:
        starts = set()
        for _ in range(2):
            starts.add(conn.exec_driver_sql("SELECT now()").one()[0])
            conn.exec_driver_sql("SELECT pg_sleep(0.01)")
        return starts

    assert len(await db.write_statement(transaction_starts)) == 2
    await db.write_statement(insert_bucket("s"))
    assert await db.read(bucket_names) == ["s"]


async def test_connections_the_server_closed_while_idle_are_not_used(db: Database) -> None:
    # A single-statement write is not replayed after a lost connection (it may have
    # committed), so a connection the server closed while idle must be dropped before use.
    assert isinstance(db, PostgresDatabase)
    await asyncio.gather(*(db.read(bucket_names) for _ in range(4)))  # several kept idle
    kept = len(db._idle["AUTOCOMMIT"]) + len(db._idle["READ COMMITTED"])
    assert kept >= 2
    # Another client ends every idle andromede session (as a server restart would).
    await db.write(
        lambda c: c.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'andromede' AND pid <> pg_backend_pid()"
            # This test's database only: the view spans the cluster, shared with other tests.
            " AND datname = current_database()"
        ).all()
    )
    await asyncio.sleep(0.5)  # the driver sees the end of each stream
    await db.write_statement(insert_bucket("after"))
    assert await db.read(bucket_names) == ["after"]


_BUCKET_OWNER = RowQuery(
    sa.select(tables.buckets.c.owner_id, tables.buckets.c.created_at).where(
        tables.buckets.c.name == sa.bindparam("name")
    )
)


async def test_read_row_goes_to_the_driver_and_recovers_from_a_dead_connection(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # read_row drives asyncpg itself (no SQLAlchemy execution): a connection that died under
    # it is dropped with the kept ones and the read runs again on a new one, as read() does.
    assert isinstance(db, PostgresDatabase)
    await db.write(insert_bucket("a"))
    owner, created = await db.read_row(_BUCKET_OWNER, {"name": "a"}) or ("", NOW)
    assert (owner, utc_from_stored(created)) == ("o", NOW)
    assert await db.read_row(_BUCKET_OWNER, {"name": "missing"}) is None
    await asyncio.gather(*(db.read_row(_BUCKET_OWNER, {"name": "a"}) for _ in range(4)))
    await db.write(
        lambda c: c.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'andromede' AND pid <> pg_backend_pid()"
            # This test's database only: the view spans the cluster, shared with other tests.
            " AND datname = current_database()"
        ).all()
    )
    # Taken as alive (the driver may not have read the end of the stream yet): the statement
    # itself meets the dead connection.
    monkeypatch.setattr(postgres_module, "_is_closed", lambda _connection: False)
    row = await db.read_row(_BUCKET_OWNER, {"name": "a"})
    assert row is not None and row[0] == "o"
    assert await db.read(bucket_names) == ["a"]


async def test_read_row_errors_are_database_unavailable(postgres_url: str) -> None:
    unreachable = open_database(
        f"postgresql+asyncpg://andromede:s3cret-pw@127.0.0.1:{_closed_port()}/andromede",
        pool_size=2,
        timeout=2,
    )
    try:
        with pytest.raises(DatabaseUnavailable) as error:
            await unreachable.read_row(_BUCKET_OWNER, {"name": "a"})
        assert "s3cret-pw" not in str(error.value)
    finally:
        await unreachable.close()
    slow = RowQuery(sa.select(sa.func.pg_sleep(2).label("slept")))
    database = open_database(postgres_url, pool_size=2, timeout=0.5)
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.read_row(slow, {})
        assert await database.read_row(_BUCKET_OWNER, {"name": "a"}) is None  # still usable
    finally:
        await database.close()
