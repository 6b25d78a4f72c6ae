"""FIFO queues over every queue store (decision 0164): in memory, SQLite and PostgreSQL. A
group's messages are received in their order, as many at once as the limit allows; none of a
group while one of its messages is in flight; a deduplication key answers the first message
for five minutes (an injected clock); a retried receive attempt answers the same messages; a
dead letter keeps its group; and two gateways receiving at once on the real PostgreSQL never
take one group, nor a group's message out of order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.store import QueueStore, ReceivedMessage, Redrive, StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
FIFO = {"FifoQueue": "true"}


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueueStore() if db is None else SqlQueueStore(db)


def message(group: str, n: int, *, dedup: str | None = None) -> StoredMessage:
    return StoredMessage(
        f"{group}-{n}",
        b"sealed",
        NOW,
        NOW,
        NOW + timedelta(hours=1),
        group_key=group,
        dedup_key=dedup or f"{group}-{n}",
    )


async def send(store: QueueStore, *messages: StoredMessage, at: datetime = NOW) -> list[str]:
    kept = await store.send_fifo("t1", "q.fifo", messages, at, at + timedelta(minutes=5))
    return [message_id for message_id, _ in kept]


async def receive(
    store: QueueStore,
    at: datetime,
    *,
    limit: int = 10,
    name: str = "q.fifo",
    redrive: Redrive | None = None,
    attempt: str | None = None,
) -> list[ReceivedMessage]:
    return await store.receive_fifo(
        "t1",
        name,
        at,
        limit=limit,
        visible_until=at + timedelta(seconds=30),
        receipts=[f"r-{at.timestamp()}-{attempt}-{i}" for i in range(limit)],
        redrive=redrive,
        in_flight_limit=1000,
        attempt=attempt,
        attempt_until=at + timedelta(minutes=5),
    )


def ids(received: list[ReceivedMessage]) -> list[str]:
    return [m.message_id for m in received]


async def test_groups_in_order_and_held_while_in_flight(store: QueueStore) -> None:
    await store.create_queue(Queue("t1", "q.fifo", "eu", FIFO, NOW, NOW), limit=10)
    # Two groups sent interleaved: a1 b1 a2 b2 a3.
    await send(store, message("a", 1), message("b", 1), message("a", 2))
    await send(store, message("b", 2), message("a", 3))
    first = await receive(store, NOW, limit=2)
    assert ids(first) == ["a-1", "a-2"]  # as many of one group as the limit allows
    assert first[0].sequence < first[1].sequence
    # Group a has messages in flight: only b is handed out, then nothing.
    assert ids(await receive(store, NOW, limit=2)) == ["b-1", "b-2"]
    assert ids(await receive(store, NOW)) == []
    # a-1 done; a-2 still in flight holds a-3 back.
    assert await store.delete_message("t1", "q.fifo", "a-1", first[0].receipt)
    assert ids(await receive(store, NOW + timedelta(seconds=1))) == []
    # The visibilities end: groups by their oldest message (b-1 is older than a-2 now),
    # a-2 before a-3.
    later = NOW + timedelta(seconds=31)
    again = await receive(store, later)
    assert ids(again) == ["b-1", "b-2", "a-2", "a-3"]
    assert again[2].receive_count == 2 and again[3].receive_count == 1


async def test_deduplication_for_five_minutes(store: QueueStore) -> None:
    await store.create_queue(Queue("t1", "q.fifo", "eu", FIFO, NOW, NOW), limit=10)
    kept = await store.send_fifo(
        "t1", "q.fifo", [message("a", 1, dedup="k")], NOW, NOW + timedelta(minutes=5)
    )
    # The same key within the interval: not enqueued, the first message's id and sequence.
    assert await store.send_fifo(
        "t1", "q.fifo", [message("a", 2, dedup="k")], NOW + timedelta(minutes=4), NOW
    ) == kept  # fmt: skip
    # Consumed and deleted: still a duplicate within the interval.
    got = await receive(store, NOW)
    assert ids(got) == ["a-1"]
    await store.delete_message("t1", "q.fifo", "a-1", got[0].receipt)
    assert await send(store, message("a", 3, dedup="k"), at=NOW + timedelta(minutes=4)) == ["a-1"]
    assert ids(await receive(store, NOW + timedelta(minutes=4))) == []
    # After five minutes the key is new again; one batch dedups within itself too.
    fresh = await send(
        store,
        message("a", 4, dedup="k"),
        message("a", 5, dedup="k"),
        at=NOW + timedelta(minutes=5, seconds=1),
    )
    assert fresh == ["a-4", "a-4"]
    assert ids(await receive(store, NOW + timedelta(minutes=6))) == ["a-4"]


async def test_receive_attempt_retried_answers_the_same_messages(store: QueueStore) -> None:
    await store.create_queue(Queue("t1", "q.fifo", "eu", FIFO, NOW, NOW), limit=10)
    await send(store, message("a", 1), message("a", 2), message("b", 1))
    first = await receive(store, NOW, limit=2, attempt="x")
    retried = await receive(store, NOW + timedelta(seconds=20), limit=2, attempt="x")
    assert [(m.message_id, m.receipt) for m in retried] == [
        (m.message_id, m.receipt) for m in first
    ]
    # The retry hid them again: still in flight past the first visibility.
    assert ids(await receive(store, NOW + timedelta(seconds=40), attempt="y")) == ["b-1"]
    # Once deleted, a retry of the attempt is a new receive.
    for m in first:
        await store.delete_message("t1", "q.fifo", m.message_id, m.receipt)
    assert ids(await receive(store, NOW + timedelta(seconds=41), attempt="x")) == []
    # Past its five minutes an attempt is forgotten: the same id makes a new receive.
    late = NOW + timedelta(minutes=6)
    fresh = await receive(store, late, attempt="y")
    assert [(m.message_id, m.receipt) for m in fresh] == [("b-1", f"r-{late.timestamp()}-y-0")]


async def test_dead_letters_keep_their_group(store: QueueStore) -> None:
    for name in ("q.fifo", "dlq.fifo"):
        await store.create_queue(Queue("t1", name, "eu", FIFO, NOW, NOW), limit=10)
    await send(store, message("a", 1), message("a", 2))
    redrive = Redrive("t1", "dlq.fifo", 1)
    assert ids(await receive(store, NOW, limit=1, redrive=redrive)) == ["a-1"]
    later = NOW + timedelta(seconds=31)
    # a-1 was received once: it moves to the dead-letter queue; its group waits one receive.
    assert ids(await receive(store, later, redrive=redrive)) == []
    dead = await receive(store, later, name="dlq.fifo")
    assert ids(dead) == ["a-1"]
    assert ids(await receive(store, later, limit=1, redrive=redrive)) == ["a-2"]
    # a-2 follows it there, and waits behind a-1 in flight: the group came with it.
    assert ids(await receive(store, later + timedelta(seconds=31), redrive=redrive)) == []
    assert ids(await receive(store, later + timedelta(seconds=1), name="dlq.fifo")) == []
    await store.delete_message("t1", "dlq.fifo", "a-1", dead[0].receipt)
    assert ids(await receive(store, later + timedelta(seconds=32), name="dlq.fifo")) == ["a-2"]


async def test_concurrent_receivers_take_disjoint_groups_in_order(postgres_url: str) -> None:
    """Two gateways (two engines) receiving at once on PostgreSQL, round after round: no
    group in two receivers' hands, every group consumed in its order."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        one, two = SqlQueueStore(first), SqlQueueStore(second)
        await one.create_queue(Queue("t1", "q.fifo", "eu", FIFO, NOW, NOW), limit=10)
        await send(one, *(message(f"g{g}", n) for n in range(5) for g in range(8)))
        consumed: dict[str, list[int]] = {}
        at = NOW
        while sum(len(v) for v in consumed.values()) < 40:
            at += timedelta(seconds=1)
            batches = await asyncio.gather(
                *(receive(s, at, limit=3) for _ in range(3) for s in (one, two))
            )
            holders: dict[str, int] = {}
            for index, batch in enumerate(batches):
                for m in batch:
                    group, n = m.message_id.split("-")
                    assert holders.setdefault(group, index) == index, "a group in two hands"
                    consumed.setdefault(group, []).append(int(n))
                    await one.delete_message("t1", "q.fifo", m.message_id, m.receipt)
            assert holders, "a round took nothing while messages were left"
        assert consumed == {f"g{g}": list(range(5)) for g in range(8)}
    finally:
        await first.close()
        await second.close()


async def test_a_dead_letter_moves_back_to_its_fifo_source(store: QueueStore) -> None:
    """The redrive records the source queue for a message move task (decision 0165)."""
    for name in ("q.fifo", "dlq.fifo"):
        await store.create_queue(Queue("t1", name, "eu", FIFO, NOW, NOW), limit=10)
    await send(store, message("a", 1))
    redrive = Redrive("t1", "dlq.fifo", 1)
    assert ids(await receive(store, NOW, limit=1, redrive=redrive)) == ["a-1"]
    later = NOW + timedelta(seconds=31)
    assert ids(await receive(store, later, redrive=redrive)) == []
    assert await store.move_messages("t1", "dlq.fifo", None, 10, later) == 1
    assert ids(await receive(store, later)) == ["a-1"]
