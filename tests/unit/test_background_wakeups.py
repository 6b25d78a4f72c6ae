"""Decision 0206, loop by loop: a background loop whose interval is a minute (so that only a
ring can explain a pass within the test) picks work queued by its own process at once, woken by
the SQLite commit that queued it — EventBridge deliveries, event notifications (S3 events, SNS
messages) and SQS message moves; left unrung, it waits (the work stays queued)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from andromede.db import doorbells
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from andromede.events.delivery_queue import NewDelivery
from andromede.events.delivery_queue_sql import SqlDeliveryQueue
from andromede.events.dispatcher import Deliveries
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.notifications.store_sql import SqlEventQueue
from andromede.queues.move_tasks import MoveTask
from andromede.queues.move_tasks_sql import SqlMoveTaskStore
from andromede.queues.mover import MessageMover
from andromede.queues.store_sql import SqlQueueStore
from support.background_loops import running, woken_within

MINUTE = 60.0  # the loops' interval and ceiling here: a pass sooner was rung
QUICK = 5.0  # "at once", with room for a loaded machine: still far below MINUTE
FIRST_PASS = 0.2  # its first pass found nothing: it now waits a minute
RULE = "arn:aws:events:eu-west-3:t1:rule/r"


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    database = open_database(url)
    yield database
    await database.close()


class Sink:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.append(message)

    async def deliver(
        self, tenant_id: str, queue_arn: str, message: str, trace: str | None = None
    ) -> bool:
        self.sent.append(message)
        return True


async def test_eventbridge_deliveries_are_picked_when_their_commit_rings(db: Database) -> None:
    sink, queue = Sink(), SqlDeliveryQueue(db)
    worker = Deliveries(
        sink,
        queue,
        poll_interval=MINUTE,
        idle_poll_max=MINUTE,
        doorbell=db.doorbells.of(doorbells.EVENT_DELIVERIES),
    )
    document = {
        "target": {"Id": "q", "Arn": "arn:aws:sqs:eu-west-3:t1:q", "Spec": {}},
        "event": {"detail-type": "x", "source": "s"},
        "message": "hello",
    }
    async with running(worker.run_forever(), FIRST_PASS):
        # Added by the queue itself (no submit's own ring): only the commit rings.
        await queue.add("t1", [NewDelivery(RULE, "q", json.dumps(document))], datetime.now(UTC))
        await woken_within(QUICK, lambda: sink.sent == ["hello"])


async def test_event_notifications_are_picked_when_their_commit_rings(db: Database) -> None:
    sink, queue = Sink(), SqlEventQueue(db)
    topics = TopicService(MemoryTopicStore(), region="eu-west-3", max_topics=10)
    worker = Deliverer(
        queue,
        topics,
        DeliveryPolicy(interval=MINUTE, idle_poll_max=MINUTE),
        queues=sink,
        doorbell=db.doorbells.of(doorbells.NOTIFICATIONS),
    )
    async with running(worker.run_forever(), FIRST_PASS):
        now = datetime.now(UTC)
        await queue.add("t1", "arn:aws:sqs:eu-west-3:t1:q", '{"Records": []}', now, bound=10)
        await woken_within(QUICK, lambda: sink.sent == ['{"Records": []}'])
        await woken_within(QUICK, lambda: _settled(queue))


async def test_a_message_move_task_is_worked_when_its_commit_rings(db: Database) -> None:
    tasks = SqlMoveTaskStore(db)
    mover = MessageMover(
        SqlQueueStore(db),
        tasks,
        region="eu-west-3",
        interval=MINUTE,
        idle_poll_max=MINUTE,
        doorbell=db.doorbells.of(doorbells.MESSAGE_MOVES),
    )
    started = datetime.now(UTC) - timedelta(seconds=5)
    source = "arn:aws:sqs:eu-west-3:t1:gone-dlq"  # no such queue: the pass fails the task
    task = MoveTask("task-1", "t1", source, None, 10, "RUNNING", 0, 3, started, started)
    async with running(mover.run_forever(), FIRST_PASS):
        assert await tasks.start(task)
        await woken_within(QUICK, lambda: _none_running(tasks))


async def test_unrung_a_loop_keeps_its_pause(db: Database) -> None:
    """What the tests above rely on: without the commit's ring, the minute's pause holds."""
    sink, queue = Sink(), SqlDeliveryQueue(db)
    worker = Deliveries(sink, queue, poll_interval=MINUTE, idle_poll_max=MINUTE)  # another bell
    document = {"target": {"Id": "q", "Arn": "arn:q", "Spec": {}}, "event": {}, "message": "m"}
    async with running(worker.run_forever(), FIRST_PASS):
        await queue.add("t1", [NewDelivery(RULE, "q", json.dumps(document))], datetime.now(UTC))
        await asyncio.sleep(0.5)
        assert sink.sent == []
        assert await queue.waiting() == 1


async def _none_running(tasks: SqlMoveTaskStore) -> bool:
    return not await tasks.running(10)


async def _settled(queue: SqlEventQueue) -> bool:
    return await queue.waiting("t1") == 0
