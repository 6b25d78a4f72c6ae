"""Decision 0206's doorbells across gateways sharing one PostgreSQL (its session-51 addendum):
a commit that queued work in one gateway wakes the waiting loops of another at once, through
PostgreSQL's notifications — not after a rollback, not twice in the writing gateway itself —
and a listener whose connection the server cut listens again and rings every bell once, for
what was queued meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import doorbells
from andromede.db.database import Database, open_database
from andromede.db.postgres import PostgresDatabase

QUEUE = doorbells.EVENT_DELIVERIES
OTHER = doorbells.REPLICATION


@pytest.fixture
async def gateways(postgres_url: str) -> AsyncIterator[tuple[PostgresDatabase, PostgresDatabase]]:
    """Two gateways' databases over the same PostgreSQL database."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    assert isinstance(first, PostgresDatabase) and isinstance(second, PostgresDatabase)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


def queue_work(queue: str, *, fail: bool = False) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(sa.text("SELECT 1"))
        doorbells.queued(conn, queue)
        if fail:
            raise RuntimeError("rolled back")

    return work


async def listening(db: PostgresDatabase, *queues: str) -> None:
    """``db`` runs loops on ``queues`` (their bells made, one waited on) and listens."""
    for queue in queues:
        db.doorbells.of(queue)
    await db.doorbells.of(queues[0]).wait(0)  # a loop's first wait starts the listener
    assert await db.listener.listening(10)
    assert not any(db.doorbells.of(queue).rung for queue in queues)  # no ring for nothing


async def test_another_gateways_commit_wakes_this_gateways_loop_at_once(
    gateways: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    writer, reader = gateways
    await listening(reader, QUEUE, OTHER)
    bell, other = reader.doorbells.of(QUEUE), reader.doorbells.of(OTHER)
    waiting = asyncio.create_task(bell.wait(30))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await writer.write(queue_work(QUEUE))
    assert await asyncio.wait_for(waiting, 30)
    assert time.monotonic() - started < 5  # not the loop's next poll: rung
    assert not other.rung  # only the queue the write named
    await writer.write_statement(queue_work(OTHER))  # a lone autocommit statement too
    assert await other.wait(10)


async def test_a_rolled_back_write_wakes_no_other_gateway(
    gateways: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    writer, reader = gateways
    await listening(reader, QUEUE)
    with pytest.raises(RuntimeError):
        await writer.write(queue_work(QUEUE, fail=True))
    assert not await reader.doorbells.of(QUEUE).wait(1)


async def test_a_gateway_does_not_hear_its_own_commits_again(
    gateways: tuple[PostgresDatabase, PostgresDatabase], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its own commit rang its bell already: hearing it again would cost its loop a pass."""
    writer, reader = gateways
    await listening(writer, QUEUE)
    await listening(reader, QUEUE)
    heard: dict[str, list[str]] = {"writer": [], "reader": []}
    monkeypatch.setattr(writer.doorbells, "ring_known", heard["writer"].append)
    monkeypatch.setattr(reader.doorbells, "ring_known", heard["reader"].append)
    await writer.write(queue_work(QUEUE))
    assert writer.doorbells.of(QUEUE).rung  # locally, by its own commit
    for _ in range(100):
        if heard["reader"]:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # both listeners had the notification by now
    assert heard == {"writer": [], "reader": [QUEUE]}


async def test_a_listener_cut_off_listens_again_and_rings_for_what_it_may_have_missed(
    gateways: tuple[PostgresDatabase, PostgresDatabase],
) -> None:
    writer, reader = gateways
    await listening(reader, QUEUE)
    bell = reader.doorbells.of(QUEUE)
    old = await listener_pids(writer)
    assert len(old) == 1
    await writer.read(
        lambda conn: conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": old[0]})
    )
    # The bell rings when the listener is back (work may have been queued while it was not).
    assert await bell.wait(15)
    new = await listener_pids(writer)
    assert len(new) == 1 and new != old
    await writer.write(queue_work(QUEUE))
    assert await bell.wait(10)


async def listener_pids(db: Database) -> list[int]:
    query = sa.text(
        "SELECT pid FROM pg_stat_activity WHERE application_name = 'andromede-doorbells'"
        " AND datname = current_database()"
    )
    return list(await db.read(lambda conn: conn.scalars(query).all()))


async def test_closing_the_database_stops_its_listener(postgres_url: str) -> None:
    db = open_database(postgres_url)
    assert isinstance(db, PostgresDatabase)
    await listening(db, QUEUE)
    assert len(await listener_pids(db)) == 1
    await db.close()
    other = open_database(postgres_url)
    try:
        for _ in range(50):  # the server notices the closed connection within moments
            if not await listener_pids(other):
                break
            await asyncio.sleep(0.1)
        assert await listener_pids(other) == []
    finally:
        await other.close()
