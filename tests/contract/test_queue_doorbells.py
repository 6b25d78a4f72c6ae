"""Decision 0206's doorbells over every SQL database (SQLite, PostgreSQL): a write transaction
that marks a work queue rings that queue's bell once it committed — never before, never when it
rolled back — and each writer of a background loop's queue marks it (replication tasks, event
notifications, SQS message move tasks, EventBridge deliveries and replays, SNS replays; since
0326 Lambda's Event invocations, Logs' subscription records and DynamoDB's changes for Kinesis;
since 0331 the sources Pipes and Lambda's mappings read — an SQS message sent, a Kinesis record
put, a DynamoDB stream's change — and Step Functions' executions started),
so a loop of the same process picks the work at once rather than at its next poll."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import doorbells, tables
from andromede.db.database import Database
from andromede.dynamodb.model import StoredItem
from andromede.dynamodb.store_sql import SqlDynamoStore
from andromede.events.archive_model import Replay as EventReplay
from andromede.events.archive_store_sql import SqlArchiveStore as SqlEventArchiveStore
from andromede.events.delivery_queue import NewDelivery
from andromede.events.delivery_queue_sql import SqlDeliveryQueue
from andromede.functions.event_queue import EventInvocation
from andromede.functions.event_queue_sql import SqlEventQueue as SqlEventQueue_
from andromede.kinesis.store import SealedRecord
from andromede.kinesis.store_sql import SqlKinesisStore
from andromede.logs.subscriptions import OutboxEntry
from andromede.logs.subscriptions_sql import SqlSubscriptionStore
from andromede.notifications.archive import REPLAY_PENDING, Replay
from andromede.notifications.store_sql import SqlEventQueue
from andromede.notifications.store_sql_archive import SqlArchiveStore
from andromede.queues.model import Queue
from andromede.queues.move_tasks import MoveTask
from andromede.queues.move_tasks_sql import SqlMoveTaskStore
from andromede.queues.store import StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from andromede.stepfunctions.execution_store_sql import SqlExecutionStore
from andromede.storage.replication_queue import ReplicationTask
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.wiring.queues import KeySealer
from contract.test_dynamodb_kinesis_queue import _change as forwarding_change
from contract.test_dynamodb_kinesis_queue import _table as forwarding_table
from contract.test_dynamodb_stores import change as stream_change
from contract.test_dynamodb_stores import item as stream_item
from contract.test_dynamodb_stores import stream as table_stream
from contract.test_dynamodb_stores import table as streamed_table
from contract.test_kinesis_stores import stream as kinesis_stream
from contract.test_stepfunctions_executions import execution as started_execution
from support.keys import key_service_in
from support.store_backends import SQL_BACKENDS, sql_database

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
QUEUE = "a-queue"


@pytest.fixture(params=SQL_BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as database:
        yield database


def insert_bucket(
    name: str, *, mark: bool = True, fail: bool = False
) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(
            tables.buckets.insert().values(
                name=name, tenant_id="t", owner_id="o", region="r", created_at=NOW
            )
        )
        if mark:
            doorbells.queued(conn, QUEUE)
        if fail:
            raise RuntimeError("rolled back")

    return work


async def test_a_commit_rings_the_queues_it_marked_and_only_them(db: Database) -> None:
    bell, other = db.doorbells.of(QUEUE), db.doorbells.of("another")
    await db.write(insert_bucket("b1", mark=False))
    assert not bell.rung
    await db.write(insert_bucket("b2"))
    assert bell.rung and not other.rung
    assert await bell.wait(0) and not bell.rung  # seen: quiet again
    await db.write_statement(insert_bucket("b3"))  # PostgreSQL: autocommit, no transaction
    assert bell.rung


async def test_a_rolled_back_write_rings_nothing_and_leaves_no_mark(db: Database) -> None:
    bell = db.doorbells.of(QUEUE)
    with pytest.raises(RuntimeError):
        await db.write(insert_bucket("b1", fail=True))
    assert not bell.rung
    await db.write(insert_bucket("b2", mark=False))  # the same connection, most likely
    assert not bell.rung


async def test_the_bell_rings_after_the_commit_not_before(db: Database) -> None:
    """The loop woken claims at once: the row must be visible to another connection then."""
    bell = db.doorbells.of(QUEUE)
    seen: list[int] = []

    async def waiter() -> None:
        assert await bell.wait(10)
        count = sa.select(sa.func.count()).select_from(tables.buckets)
        seen.append(int(await db.read(lambda conn: conn.scalar(count) or 0)))

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)
    await asyncio.gather(*(db.write(insert_bucket(f"b{i}")) for i in range(5)))
    await asyncio.wait_for(task, 10)
    assert seen and seen[0] >= 1


def _writers() -> dict[str, Callable[[Database], Awaitable[object]]]:
    async def replication(db: Database) -> object:
        task = ReplicationTask("src", "k", "v1", "dst", "rule", "r", "r")
        return await SqlReplicationQueue(db).enqueue([task], NOW)

    async def notification(db: Database) -> object:
        return await SqlEventQueue(db).add("t1", "arn:aws:sns:r:t1:topic", "{}", NOW, bound=10)

    async def move(db: Database) -> object:
        task = MoveTask(
            "task-1", "t1", "arn:aws:sqs:r:t1:dlq", None, None, "RUNNING", 0, 1, NOW, NOW
        )
        return await SqlMoveTaskStore(db).start(task)

    async def event_delivery(db: Database) -> object:
        queue = SqlDeliveryQueue(db)
        return await queue.add("t1", [NewDelivery("arn:aws:events:r:t1:rule/r", "x", "{}")], NOW)

    async def sns_replay(db: Database) -> object:
        replay = Replay("arn:sub", "arn:aws:sns:r:t1:t.fifo", "t1", NOW, None, 0, REPLAY_PENDING)
        return await SqlArchiveStore(db).put_replay(replay)

    async def event_replay(db: Database) -> object:
        replay = EventReplay(
            "t1", "r", "rp", "ar", "arn:aws:events:r:t1:archive/ar", NOW, NOW, "arn:bus"
        )
        return await SqlEventArchiveStore(db, "r").create_replay(replay, limit=10)

    async def lambda_event(db: Database) -> object:
        invocation = EventInvocation("i-1", "t1", "f", "$LATEST", "arn:f", b"sealed", 1, 1)
        return await SqlEventQueue_(db).add(invocation)

    async def logs_subscription(db: Database) -> object:
        entry = OutboxEntry("e-1", "t1", "g", "f", "arn:aws:firehose:r:t1:x", "arn:role", 1, 5,
                            b"sealed")  # fmt: skip
        return await SqlSubscriptionStore(db).enqueue([entry], 1_000_000)

    async def dynamodb_kinesis(db: Database) -> object:
        store = SqlDynamoStore(db)
        await store.create_table(forwarding_table(True), max_tables=5)
        change = forwarding_change(b"1", None, b"new", True)
        return await store.put_item("t1", "things", StoredItem(b"h", b"1", b"new", 3), None, change)

    async def sqs_message(db: Database) -> object:  # decision 0331, and the three below
        store = SqlQueueStore(db)
        await store.create_queue(Queue("t1", "q", "r", {}, NOW, NOW), limit=10)
        message = StoredMessage("m-1", b"sealed", NOW, NOW, NOW.replace(year=2027))
        return await store.send("t1", "q", [message])

    async def kinesis_record(db: Database) -> object:
        store = SqlKinesisStore(db)
        await store.create(kinesis_stream("s"), 10, 10)
        return await store.append("t1", "s", 1, [SealedRecord(0, "pk", 1, b"x" * 29)], 1)

    async def dynamodb_stream(db: Database) -> object:
        store = SqlDynamoStore(db)
        await store.create_table(streamed_table("a"), max_tables=5)
        await store.create_stream(table_stream("L1", 10))
        return await store.put_item("t1", "a", stream_item(b"h", b"1"), None,
                                    stream_change("INSERT", b"1", 11))  # fmt: skip

    async def step_functions(db: Database) -> object:
        with tempfile.TemporaryDirectory() as folder:
            keys = key_service_in(Path(folder))
            try:
                return await SqlExecutionStore(db, KeySealer(keys)).create(
                    started_execution("e"), []
                )
            finally:
                keys.close()

    return {
        doorbells.SQS_MESSAGES: sqs_message,
        doorbells.KINESIS_RECORDS: kinesis_record,
        doorbells.DYNAMODB_STREAMS: dynamodb_stream,
        doorbells.STEP_FUNCTIONS: step_functions,
        doorbells.LAMBDA_EVENTS: lambda_event,
        doorbells.LOGS_SUBSCRIPTIONS: logs_subscription,
        doorbells.DYNAMODB_KINESIS: dynamodb_kinesis,
        doorbells.REPLICATION: replication,
        doorbells.NOTIFICATIONS: notification,
        doorbells.MESSAGE_MOVES: move,
        doorbells.EVENT_DELIVERIES: event_delivery,
        doorbells.SNS_REPLAYS: sns_replay,
        doorbells.EVENT_REPLAYS: event_replay,
    }


@pytest.mark.parametrize("queue", sorted(_writers()))
async def test_each_loops_writer_rings_its_queue(db: Database, queue: str) -> None:
    bells = {name: db.doorbells.of(name) for name in _writers()}
    await _writers()[queue](db)
    assert [name for name, bell in bells.items() if bell.rung] == [queue]
