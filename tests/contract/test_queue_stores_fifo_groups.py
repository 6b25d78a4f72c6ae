"""FIFO high throughput over every queue store (decision 0173): with
``FifoThroughputLimit=perMessageGroupId`` a send locks its groups, not the queue. On every store
a group's messages keep their order and sequence, and deduplication keys expire as before; on
the real PostgreSQL, a send to one group goes through while another group's send holds its
lock (where the queue-wide mode waits), a second send to the held group waits, and many
concurrent senders over many groups each see their group in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from andromede.db.database import open_database
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.store import QueueStore
from andromede.queues.store_sql import SqlQueueStore
from andromede.queues.store_sql_fifo import send_fifo, sweep_dedup_keys
from contract.test_queue_stores_fifo import FIFO, NOW, ids, message, receive
from support.store_backends import BACKENDS, backend_database

HIGH = {
    **FIFO,
    "DeduplicationScope": "messageGroup",
    "FifoThroughputLimit": "perMessageGroupId",
}


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueueStore() if db is None else SqlQueueStore(db)


async def test_per_group_sends_keep_order_and_deduplicate(store: QueueStore) -> None:
    await store.create_queue(Queue("t1", "q.fifo", "eu", HIGH, NOW, NOW), limit=10)
    until = NOW + timedelta(minutes=5)
    kept = await store.send_fifo(
        "t1",
        "q.fifo",
        [message("a", 1, dedup="a:k"), message("b", 1, dedup="b:k"), message("a", 2)],
        NOW,
        until,
        per_group=True,
    )
    assert [m for m, _ in kept] == ["a-1", "b-1", "a-2"]
    assert kept[0][1] < kept[2][1]
    again = await store.send_fifo(
        "t1", "q.fifo", [message("a", 3, dedup="a:k")], NOW + timedelta(minutes=4), until,
        per_group=True,
    )  # fmt: skip
    assert again == [kept[0]]
    # Past the five minutes the key is new again, whether or not a sweep reached it.
    late = NOW + timedelta(minutes=5, seconds=1)
    fresh = await store.send_fifo(
        "t1", "q.fifo", [message("a", 4, dedup="a:k")], late, late + timedelta(minutes=5),
        per_group=True,
    )  # fmt: skip
    assert [m for m, _ in fresh] == ["a-4"]
    got = await receive(store, late, limit=10)
    assert ids(got) == ["a-1", "a-2", "a-4", "b-1"]


def _sync_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql+psycopg://")


async def test_another_groups_send_does_not_wait(postgres_url: str) -> None:
    db = open_database(postgres_url)
    try:
        await SqlQueueStore(db).create_queue(Queue("t1", "q.fifo", "eu", HIGH, NOW, NOW), limit=10)
    finally:
        await db.close()
    engine = sa.create_engine(_sync_url(postgres_url))
    until = NOW + timedelta(minutes=5)

    def blocked(holder_group: str, per_group_hold: bool, group: str, per_group: bool) -> bool:
        """Whether a send to ``group`` waits while another transaction holds a send to
        ``holder_group``."""
        with engine.connect() as holder, engine.connect() as other:
            with holder.begin():
                send_fifo(
                    holder, "t1", "q.fifo", [message(holder_group, 90)], NOW, until,
                    per_group=per_group_hold,
                )  # fmt: skip
                transaction = other.begin()
                other.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
                try:
                    send_fifo(
                        other, "t1", "q.fifo", [message(group, 91)], NOW, until,
                        per_group=per_group,
                    )  # fmt: skip
                except OperationalError:
                    transaction.rollback()
                    holder.rollback()
                    return True
                transaction.rollback()
                holder.rollback()
                return False

    try:
        assert not await asyncio.to_thread(blocked, "a", True, "b", True)
        assert await asyncio.to_thread(blocked, "a", True, "a", True)
        # The queue-wide mode (the default throughput limit) serialises every send, and
        # excludes per-group sends while a change of mode is under way.
        assert await asyncio.to_thread(blocked, "a", False, "b", False)
        assert await asyncio.to_thread(blocked, "a", False, "b", True)
        assert await asyncio.to_thread(blocked, "a", True, "b", False)
    finally:
        engine.dispose()


async def test_concurrent_senders_keep_each_group_in_order(postgres_url: str) -> None:
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        one, two = SqlQueueStore(first), SqlQueueStore(second)
        await one.create_queue(Queue("t1", "q.fifo", "eu", HIGH, NOW, NOW), limit=10)

        async def sender(s: SqlQueueStore, group: str) -> list[int]:
            sequences = []
            for n in range(6):
                [(_, sequence)] = await s.send_fifo(
                    "t1", "q.fifo", [message(group, n)], NOW, NOW + timedelta(minutes=5),
                    per_group=True,
                )  # fmt: skip
                sequences.append(sequence)
            return sequences

        sent = await asyncio.gather(*(sender(one if g % 2 else two, f"g{g}") for g in range(8)))
        assert all(seq == sorted(seq) for seq in sent)
        got: dict[str, list[int]] = {}
        at = NOW
        while sum(len(v) for v in got.values()) < 48:
            at += timedelta(seconds=1)
            batch = await receive(one, at, limit=10)
            assert batch
            for m in batch:
                group, n = m.message_id.split("-")
                got.setdefault(group, []).append(int(n))
                await one.delete_message("t1", "q.fifo", m.message_id, m.receipt)
        assert got == {f"g{g}": list(range(6)) for g in range(8)}
    finally:
        await first.close()
        await second.close()


async def test_the_sweep_takes_expired_keys_a_hundred_at_a_time(postgres_url: str) -> None:
    db = open_database(postgres_url)
    try:
        store = SqlQueueStore(db)
        await store.create_queue(Queue("t1", "q.fifo", "eu", HIGH, NOW, NOW), limit=10)
        old = [message("a", n) for n in range(150)]
        await store.send_fifo("t1", "q.fifo", old, NOW, NOW + timedelta(minutes=5))
    finally:
        await db.close()
    engine = sa.create_engine(_sync_url(postgres_url))
    table = sa.table("queue_deduplications", sa.column("expires_at"))
    late = NOW + timedelta(minutes=6)

    def sweep() -> int:
        with engine.begin() as conn:
            sweep_dedup_keys(conn, "t1", "q.fifo", late)
            return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)

    try:
        assert await asyncio.to_thread(sweep) == 50
        assert await asyncio.to_thread(sweep) == 0
    finally:
        engine.dispose()
