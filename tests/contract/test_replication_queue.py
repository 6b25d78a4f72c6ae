"""One suite over every ReplicationQueue (decision 0112): the in-memory twin, SQLite and
PostgreSQL — tasks claimed once per lease and again when it runs out, only in the claimer's
regions, retried after their backoff, settled once, with the versions' statuses; and two
gateways claiming at once on the real PostgreSQL never taking the same task."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import Database, open_database
from andromede.storage.replication_queue import (
    MemoryReplicationQueue,
    ReplicationQueue,
    ReplicationTask,
)
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)
LEASE = timedelta(seconds=60)
PARIS, BERLIN, MADRID = "eu-paris-1", "eu-berlin-1", "eu-madrid-1"


@pytest.fixture(params=BACKENDS)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    async with backend_database(request, tmp_path) as db:
        yield db


@pytest.fixture
def queue(database: Database | None) -> ReplicationQueue:
    return MemoryReplicationQueue() if database is None else SqlReplicationQueue(database)


def task(key: str, destination_region: str = BERLIN, *, marker: bool = False) -> ReplicationTask:
    return ReplicationTask(
        source_bucket="src",
        key=key,
        version_id=f"v-{key}",
        destination_bucket="dst",
        rule_id="r1",
        source_region=PARIS,
        destination_region=destination_region,
        delete_marker=marker,
    )


async def test_a_task_is_claimed_once_per_lease(queue: ReplicationQueue) -> None:
    await queue.enqueue([task("a"), task("b")], NOW)
    assert await queue.status("src", "a", "v-a") == "PENDING"
    assert await queue.pending() == 2
    first = await queue.claim(NOW, lease=LEASE, limit=10)
    assert [(t.key, t.attempts) for t in first] == [("a", 1), ("b", 1)]
    assert all(t.task_id > 0 for t in first)
    assert await queue.claim(NOW + LEASE / 2, lease=LEASE, limit=10) == []
    # A claimer that died: its tasks are claimed again once the lease has run out.
    again = await queue.claim(NOW + LEASE, lease=LEASE, limit=1)
    assert [(t.key, t.attempts) for t in again] == [("a", 2)]


async def test_only_tasks_of_the_claimers_regions(queue: ReplicationQueue) -> None:
    await queue.enqueue([task("to-berlin"), task("to-madrid", MADRID)], NOW)
    assert await queue.claim(NOW, lease=LEASE, limit=10, regions={BERLIN, MADRID}) == []
    served = await queue.claim(NOW, lease=LEASE, limit=10, regions={PARIS, BERLIN})
    assert [t.key for t in served] == ["to-berlin"]
    rest = await queue.claim(NOW, lease=LEASE, limit=10)
    assert [t.key for t in rest] == ["to-madrid"]


async def test_settled_tasks_set_the_statuses(queue: ReplicationQueue) -> None:
    await queue.enqueue([task("done"), task("broken"), task("gone", marker=True)], NOW)
    done, broken, gone = await queue.claim(NOW, lease=LEASE, limit=10)
    await queue.complete(done)
    await queue.fail(broken, "destination bucket not versioned")
    await queue.complete(gone)
    assert await queue.status("src", "done", "v-done") == "COMPLETED"
    assert await queue.status("dst", "done", "v-done") == "REPLICA"
    assert await queue.status("src", "broken", "v-broken") == "FAILED"
    assert await queue.status("dst", "broken", "v-broken") is None
    # A replicated delete marker has no status of its own to show on the destination.
    assert await queue.status("src", "gone", "v-gone") == "COMPLETED"
    assert await queue.status("dst", "gone", "v-gone") is None
    assert await queue.status("src", "never", "v") is None
    assert await queue.pending() == 0
    # Settling again (another claimer after the lease ran out) changes nothing.
    await queue.fail(done, "late")
    assert await queue.status("src", "done", "v-done") == "COMPLETED"


async def test_a_retry_waits_for_its_backoff(queue: ReplicationQueue) -> None:
    await queue.enqueue([task("a")], NOW)
    (claimed,) = await queue.claim(NOW, lease=LEASE, limit=10)
    later = NOW + timedelta(seconds=30)
    await queue.retry(claimed, later, "destination unreachable")
    assert await queue.claim(NOW + timedelta(seconds=29), lease=LEASE, limit=10) == []
    (retried,) = await queue.claim(later, lease=LEASE, limit=10)
    assert retried.attempts == 2
    assert retried.last_error == "destination unreachable"
    assert await queue.status("src", "a", "v-a") == "PENDING"


async def test_two_claimers_never_take_one_task(postgres_url: str) -> None:
    one, other = open_database(postgres_url), open_database(postgres_url)
    try:
        await SqlReplicationQueue(one).enqueue([task(f"k{n:03}") for n in range(60)], NOW)
        queues = [SqlReplicationQueue(one), SqlReplicationQueue(other)]

        async def drain(queue: SqlReplicationQueue) -> list[str]:
            taken: list[str] = []
            while batch := await queue.claim(NOW, lease=LEASE, limit=5):
                taken.extend(t.key for t in batch)
                await asyncio.sleep(0)
            return taken

        first, second = await asyncio.gather(*(drain(q) for q in queues))
    finally:
        await one.close()
        await other.close()
    assert len(first) + len(second) == 60
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == [f"k{n:03}" for n in range(60)]
