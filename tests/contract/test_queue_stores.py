"""One suite over every implementation of the queue store (decision 0158): in memory, SQLite
and PostgreSQL. A received message is hidden for its visibility and comes back after it; only
its latest receipt deletes it or changes its visibility; a message received
``maxReceiveCount`` times moves to the dead-letter queue instead of a further receive; purge
empties; expired messages are never received; the in-flight limit answers OverLimit; two
receivers at once on the real PostgreSQL never get the same message."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import open_database
from andromede.queues.errors import OverLimit
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.store import QueueStore, Redrive, StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueueStore() if db is None else SqlQueueStore(db)


def queue(name: str, tenant: str = "t1") -> Queue:
    return Queue(tenant, name, "eu", {}, NOW, NOW)


def message(n: int, *, delay: int = 0, keep: int = 3600) -> StoredMessage:
    return StoredMessage(
        f"m-{n}",
        b"sealed-%d" % n,
        NOW,
        NOW + timedelta(seconds=delay),
        NOW + timedelta(seconds=keep),
    )


async def receive(
    store: QueueStore,
    at: datetime,
    *,
    limit: int = 10,
    hide: int = 30,
    redrive: Redrive | None = None,
    in_flight: int = 1000,
    name: str = "q",
) -> list[str]:
    got = await store.receive(
        "t1",
        name,
        at,
        limit=limit,
        visible_until=at + timedelta(seconds=hide),
        receipts=[f"r-{at.timestamp()}-{i}" for i in range(limit)],
        redrive=redrive,
        in_flight_limit=in_flight,
    )
    return [m.message_id for m in got]


async def test_queues_are_per_tenant_and_limited(store: QueueStore) -> None:
    await store.create_queue(queue("a"), limit=2)
    again = await store.create_queue(
        Queue("t1", "a", "eu", {"DelaySeconds": "5"}, NOW, NOW), limit=2
    )
    assert again.attributes == {}
    await store.create_queue(queue("b"), limit=2)
    with pytest.raises(OverLimit):
        await store.create_queue(queue("c"), limit=2)
    await store.create_queue(queue("a", "t2"), limit=2)
    assert [q.name for q in await store.list_queues("t1", "", None, 10)] == ["a", "b"]
    assert [q.name for q in await store.list_queues("t1", "", "a", 10)] == ["b"]
    assert await store.get_queue("t2", "b") is None


async def test_visibility_receipts_and_delete(store: QueueStore) -> None:
    await store.create_queue(queue("q"), limit=10)
    await store.send("t1", "q", [dataclasses.replace(message(0), sent_at=NOW - timedelta(1))])
    await store.purge("t1", "q")  # gone: not the oldest any more (decision 0181)
    await store.send("t1", "q", [message(1), message(2, delay=60)])
    counts = await store.counts("t1", "q", NOW)
    assert (counts.visible, counts.in_flight, counts.delayed) == (1, 0, 1)
    assert counts.oldest == NOW
    first = await store.receive(
        "t1", "q", NOW, limit=10, visible_until=NOW + timedelta(seconds=30),
        receipts=["r1", "r1b"], redrive=None, in_flight_limit=100,
    )  # fmt: skip
    assert [(m.message_id, m.receipt, m.receive_count) for m in first] == [("m-1", "r1", 1)]
    assert await receive(store, NOW + timedelta(seconds=10)) == []
    assert (await store.counts("t1", "q", NOW + timedelta(seconds=10))).in_flight == 1
    later = NOW + timedelta(seconds=31)
    assert await receive(store, later) == ["m-1"]
    # The first receipt is stale now: it neither deletes nor changes visibility.
    assert not await store.delete_message("t1", "q", "m-1", "r1")
    assert not await store.change_visibility("t1", "q", "m-1", "r1", later, later)
    latest = f"r-{later.timestamp()}-0"
    assert await store.change_visibility("t1", "q", "m-1", latest, later, later)
    assert await receive(store, later + timedelta(seconds=1)) == ["m-1"]
    latest = f"r-{(later + timedelta(seconds=1)).timestamp()}-0"
    assert await store.delete_message("t1", "q", "m-1", latest)
    assert await receive(store, NOW + timedelta(seconds=61)) == ["m-2"]


async def test_redrive_expiry_purge_and_in_flight_limit(store: QueueStore) -> None:
    await store.create_queue(queue("q"), limit=10)
    await store.create_queue(queue("dlq"), limit=10)
    await store.send("t1", "q", [message(1), message(2, keep=10)])
    redrive = Redrive("t1", "dlq", 1)
    assert await receive(store, NOW, limit=1, redrive=redrive) == ["m-1"]
    # Received once already: the next receive moves it to the dead-letter queue instead.
    later = NOW + timedelta(seconds=5)
    assert await receive(store, later, limit=1, redrive=redrive) == ["m-2"]
    assert await receive(store, NOW + timedelta(seconds=40), redrive=redrive) == []
    assert await receive(store, NOW + timedelta(seconds=40), name="dlq") == ["m-1"]
    await store.send("t1", "q", [message(3), message(4)])
    assert await receive(store, NOW, limit=1, in_flight=1) == ["m-3"]
    with pytest.raises(OverLimit):
        await receive(store, NOW, limit=1, in_flight=1)
    assert await store.purge("t1", "q") == 2
    assert (await store.counts("t1", "q", NOW)).visible == 0
    assert (await store.counts("t1", "q", NOW)).oldest is None
    assert await store.delete_queue("t1", "dlq")
    assert await store.get_queue("t1", "dlq") is None


async def test_concurrent_receivers_never_share_a_message(
    postgres_url: str,
) -> None:
    """Two gateways (two engines) receiving at once on PostgreSQL: disjoint messages."""
    first, second = open_database(postgres_url), open_database(postgres_url)
    try:
        one, two = SqlQueueStore(first), SqlQueueStore(second)
        await one.create_queue(queue("q"), limit=10)
        await one.send("t1", "q", [message(n) for n in range(40)])
        got = await asyncio.gather(
            *(receive(s, NOW, limit=5) for _ in range(4) for s in (one, two))
        )
        taken = [m for batch in got for m in batch]
        assert len(taken) == len(set(taken)) == 40
    finally:
        await first.close()
        await second.close()
