"""Decision 0165's store operations over every implementation (memory, SQLite, PostgreSQL):
a message's first receive while it is in flight under a receipt (the 12 hours' cap), moving
visible messages between queues of an account, and the message move tasks' store — one
running task per source, a pass taken by one updater only, cancelling, listing."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.queues.memory import MemoryQueueStore
from andromede.queues.model import Queue
from andromede.queues.move_tasks import (
    CANCELLED,
    COMPLETED,
    RUNNING,
    MemoryMoveTaskStore,
    MoveTask,
    MoveTaskStore,
)
from andromede.queues.move_tasks_sql import SqlMoveTaskStore
from andromede.queues.store import QueueStore, Redrive, StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from support.store_backends import BACKENDS, backend_database

NOW = datetime(2026, 12, 5, 9, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[QueueStore, MoveTaskStore]]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryQueueStore(), MemoryMoveTaskStore()
        else:
            yield SqlQueueStore(db), SqlMoveTaskStore(db)


def message(n: int, *, delay: int = 0) -> StoredMessage:
    return StoredMessage(
        f"m-{n}", b"sealed", NOW, NOW + timedelta(seconds=delay), NOW + timedelta(hours=1)
    )


async def test_in_flight_since_and_move_messages(stores: tuple[QueueStore, MoveTaskStore]) -> None:
    store, _ = stores
    for name in ("dlq", "back"):
        await store.create_queue(Queue("t1", name, "eu", {}, NOW, NOW), limit=10)
    await store.send("t1", "dlq", [message(1), message(2), message(3), message(4, delay=60)])
    got = await store.receive(
        "t1", "dlq", NOW, limit=1, visible_until=NOW + timedelta(seconds=30),
        receipts=["r1"], redrive=None, in_flight_limit=100,
    )  # fmt: skip
    assert [m.message_id for m in got] == ["m-1"]
    assert await store.in_flight_since("t1", "dlq", "m-1", "r1", NOW) == NOW
    assert await store.in_flight_since("t1", "dlq", "m-1", "other", NOW) is None
    assert (
        await store.in_flight_since("t1", "dlq", "m-1", "r1", NOW + timedelta(seconds=31)) is None
    )
    # Only visible messages move (not the one in flight, not the delayed one), oldest first.
    assert await store.move_messages("t1", "dlq", "back", 1, NOW) == 1
    assert await store.move_messages("t1", "dlq", "back", 10, NOW) == 1
    assert await store.move_messages("t1", "dlq", "back", 10, NOW) == 0
    assert await store.move_messages("t1", "dlq", "gone", 10, NOW) == 0
    moved = await store.receive(
        "t1", "back", NOW, limit=10, visible_until=NOW + timedelta(seconds=30),
        receipts=["a", "b", "c"], redrive=None, in_flight_limit=100,
    )  # fmt: skip
    assert [(m.message_id, m.receive_count) for m in moved] == [("m-2", 1), ("m-3", 1)]
    counts = await store.counts("t1", "dlq", NOW)
    assert (counts.visible, counts.in_flight, counts.delayed) == (0, 1, 1)


async def test_moving_back_to_the_queues_messages_came_from(
    stores: tuple[QueueStore, MoveTaskStore],
) -> None:
    store, _ = stores
    for name in ("a", "b", "dlq", "only"):
        await store.create_queue(Queue("t1", name, "eu", {}, NOW, NOW), limit=10)
    await store.send("t1", "a", [message(1)])
    await store.send("t1", "b", [message(2)])
    redrive = Redrive("t1", "dlq", 1)
    for name in ("a", "b"):
        for at in (NOW, NOW + timedelta(seconds=1)):  # received once, then dead-lettered
            await store.receive(
                "t1", name, at, limit=1, visible_until=at, receipts=[f"r-{at}"],
                redrive=redrive, in_flight_limit=100,
            )  # fmt: skip
    await store.send("t1", "dlq", [message(3)])  # sent there directly: no source recorded
    later = NOW + timedelta(seconds=2)
    assert (await store.counts("t1", "dlq", later)).visible == 3
    assert await store.move_messages("t1", "dlq", None, 10, later) == 2
    assert await store.move_messages("t1", "dlq", None, 10, later, fallback="gone") == 0
    assert await store.move_messages("t1", "dlq", None, 10, later, fallback="only") == 1
    for name, expected in (("a", ["m-1"]), ("b", ["m-2"]), ("only", ["m-3"])):
        got = await store.receive(
            "t1", name, later, limit=10, visible_until=later + timedelta(seconds=30),
            receipts=["x", "y"], redrive=None, in_flight_limit=100,
        )  # fmt: skip
        assert [(m.message_id, m.receive_count) for m in got] == [(expected[0], 1)], name


def task(n: int, source: str = "arn:aws:sqs:eu:t1:dlq", tenant: str = "t1") -> MoveTask:
    return MoveTask(
        task_id=f"task-{n}",
        tenant_id=tenant,
        source_arn=source,
        destination_arn=None,
        rate=5,
        status=RUNNING,
        moved=0,
        to_move=10,
        started_at=NOW + timedelta(seconds=n),
        updated_at=NOW + timedelta(seconds=n),
    )


async def test_move_task_store(stores: tuple[QueueStore, MoveTaskStore]) -> None:
    _, tasks = stores
    assert await tasks.start(task(1))
    assert not await tasks.start(task(2))  # one running task per source
    assert await tasks.start(task(3, "arn:aws:sqs:eu:t1:other"))
    assert await tasks.start(task(4, tenant="t2"))
    assert await tasks.get("t2", "task-1") is None
    first = task(1)
    later = NOW + timedelta(seconds=30)
    taken = dataclasses.replace(first, updated_at=later)
    assert await tasks.update(taken, first.updated_at)
    # Another updater that read the task before this pass does not take it again.
    assert not await tasks.update(dataclasses.replace(first, moved=3), first.updated_at)
    done = dataclasses.replace(taken, moved=10, status=COMPLETED)
    assert await tasks.update(done, later)
    assert await tasks.get("t1", "task-1") == done
    assert [t.task_id for t in await tasks.running(10)] == ["task-3", "task-4"]
    # The source is free again.
    assert await tasks.start(task(5))
    cancelled = await tasks.cancel("t1", "task-5", later)
    assert cancelled is not None and cancelled.status == CANCELLED
    assert await tasks.cancel("t1", "task-5", later) is None
    assert not await tasks.update(dataclasses.replace(task(5), moved=1), task(5).updated_at)
    listed = await tasks.list_tasks("t1", "arn:aws:sqs:eu:t1:dlq", 10)
    assert [(t.task_id, t.status) for t in listed] == [
        ("task-5", CANCELLED),
        ("task-1", COMPLETED),
    ]
    assert len(await tasks.list_tasks("t1", "arn:aws:sqs:eu:t1:dlq", 1)) == 1
    await tasks.forget_tenant("t1")
    assert await tasks.list_tasks("t1", "arn:aws:sqs:eu:t1:dlq", 10) == []
    assert [t.task_id for t in await tasks.running(10)] == ["task-4"]
