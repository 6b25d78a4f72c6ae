"""Decision 0414: one Region's view of every queue store (in memory, SQLite, PostgreSQL when
configured). A name in each Region is two queues with their own messages; each Region lists
its own (paging within them); the account's limit of queues is counted a Region; a redrive,
a dead-letter listing and a message move stay within the view's Region; the whole store
holds the other Region's queues under their stored names."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.queues.errors import OverLimit
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue, queue_arn
from andromede.queues.regional_store import RegionalQueueStore
from andromede.queues.store import QueueStore, Redrive, StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)
HOME, OTHER = "eu-fr-1", "eu-de-1"
T = "000000000001"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[QueueStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryQueueStore() if db is None else SqlQueueStore(db)


def queue(name: str, region: str, attributes: dict[str, str] | None = None) -> Queue:
    return Queue(T, name, region, attributes or {}, NOW, NOW)


def message(n: int) -> StoredMessage:
    return StoredMessage(f"m-{n}", b"sealed", NOW, NOW, NOW + timedelta(hours=1))


async def receive(view: QueueStore, name: str, redrive: Redrive | None = None) -> list[str]:
    got = await view.receive(
        T,
        name,
        NOW,
        limit=10,
        visible_until=NOW,  # visible again at once: each receive counts
        receipts=[f"r-{i}" for i in range(10)],
        redrive=redrive,
        in_flight_limit=100,
    )
    return [m.message_id for m in got]


async def test_each_regions_view_keeps_its_own_queues(store: QueueStore) -> None:
    home = RegionalQueueStore(store, HOME, HOME)
    de = RegionalQueueStore(store, OTHER, HOME)
    made = queue("q", OTHER)
    assert await de.create_queue(made, limit=2) is made  # a new queue is the one given
    await home.create_queue(queue("q", HOME, {"DelaySeconds": "5"}), limit=2)
    ours = await de.get_queue(T, "q")
    assert ours is not None and (ours.name, ours.region, ours.attributes) == ("q", OTHER, {})
    assert ours.arn == queue_arn(OTHER, T, "q")
    held = await de.create_queue(queue("q", OTHER, {"DelaySeconds": "9"}), limit=2)
    assert (held.name, held.attributes) == ("q", {})  # the Region's namesake, as held
    # Messages apart.
    await home.send(T, "q", [message(1)])
    await de.send(T, "q", [message(2)])
    assert await receive(de, "q") == ["m-2"]
    assert await receive(home, "q") == ["m-1"]
    assert (await de.counts(T, "q", NOW)).visible == 1
    assert await de.purge(T, "q") == 1
    assert (await home.counts(T, "q", NOW)).visible == 1
    # Listings apart, paged within the Region.
    await de.create_queue(queue("r", OTHER), limit=2)
    with pytest.raises(OverLimit):  # the limit counts eu-de-1's two, not the default's
        await de.create_queue(queue("s", OTHER), limit=2)
    await home.create_queue(queue("z", HOME), limit=2)
    assert [(q.name, q.region) for q in await de.list_queues(T, "", None, 10)] == [
        ("q", OTHER),
        ("r", OTHER),
    ]
    assert [q.name for q in await de.list_queues(T, "", "q", 10)] == ["r"]
    assert [q.name for q in await de.list_queues(T, "r", None, 10)] == ["r"]
    assert [q.name for q in await home.list_queues(T, "", None, 10)] == ["q", "z"]
    assert [q.name for q in await home.list_queues(T, "", "q", 1)] == ["z"]
    # The whole store keeps eu-de-1's under their stored names, out of the views' reach.
    stored = [q.name for q in await store.list_queues(T, "", None, 10)]
    assert sorted(stored) == ["q", "z", f"~{OTHER}~q", f"~{OTHER}~r"]
    assert await home.get_queue(T, f"~{OTHER}~q") is None
    assert await de.get_queue(T, f"~{OTHER}~q") is None
    assert not await home.delete_queue(T, f"~{OTHER}~q")
    # An update and a delete reach the Region's own.
    assert await de.update_queue(queue("r", OTHER, {"DelaySeconds": "3"}))
    changed = await de.get_queue(T, "r")
    assert changed is not None and changed.attributes == {"DelaySeconds": "3"}
    assert await de.delete_queue(T, "r")
    assert [q.name for q in await home.list_queues(T, "", None, 10)] == ["q", "z"]


async def test_redrives_and_moves_stay_in_the_region(store: QueueStore) -> None:
    de = RegionalQueueStore(store, OTHER, HOME)
    home = RegionalQueueStore(store, HOME, HOME)
    dlq_arn = queue_arn(OTHER, T, "dlq")
    policy = {"RedrivePolicy": f'{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":1}}'}
    for view, region in ((de, OTHER), (home, HOME)):
        await view.create_queue(queue("dlq", region), limit=10)
        await view.create_queue(queue("src", region, policy if view is de else None), limit=10)
    assert await de.dead_letter_sources(T, dlq_arn) == ["src"]
    assert await home.dead_letter_sources(T, dlq_arn) == []
    await de.send(T, "src", [message(1)])
    redrive = Redrive(T, "dlq", 1)
    assert await receive(de, "src", redrive) == ["m-1"]
    assert await receive(de, "src", redrive) == []  # received once: moved to eu-de-1's dlq
    assert (await de.counts(T, "dlq", NOW)).visible == 1
    assert (await home.counts(T, "dlq", NOW)).visible == 0
    # Back to where it was dead-lettered from, within eu-de-1.
    assert await de.move_messages(T, "dlq", None, 10, NOW) == 1
    assert (await de.counts(T, "src", NOW)).visible == 1
    assert (await home.counts(T, "src", NOW)).visible == 0
    assert await de.move_messages(T, "src", "dlq", 10, NOW) == 1
    assert (await de.counts(T, "dlq", NOW)).visible == 1
