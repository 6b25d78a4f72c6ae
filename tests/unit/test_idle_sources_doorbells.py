"""Decision 0331: Pipes' runner and Lambda's mapping poller back off while the sources they
hold are empty, and are rung — soon: within their interval, never sooner — when a source gets
data: the commit of an SQS send, a Kinesis put or a DynamoDB stream's change
(``db.doorbells``), a message's due time (``wakeup.Timetable``), or, from another process on
the same SQLite file, the stamp its commit left (``Doorbells.changes``).

The loops run over fakes that count their reads; the commits are real (SQLite)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from andromede.db import doorbells
from andromede.db.database import Database, open_database
from andromede.function_sources import MappingPoller
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.queues.model import Queue
from andromede.queues.service import QueueService
from andromede.queues.store import StoredMessage
from andromede.queues.store_sql import SqlQueueStore
from andromede.wakeup import Doorbell, Pacer, Timetable
from support.background_loops import running, woken_within
from support.schema import migrated_sqlite

FAST, CEILING = 0.02, 0.4  # idle: 0.02, 0.04, … 0.32, 0.4, 0.4 … seconds
MOST_IDLE_PASSES = 12  # some seven expected; fifty at the interval (the pace before 0331)
STEP, LONG = 0.25, 60.0  # idle: 0.25, 0.5, 1, 2 … seconds
QUICK = 1.2  # "at once": the pause it cut had 1.7 s left
NOW = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


class Reads:
    """A source that counts its reads; ``events`` each read gives (none: an empty source)."""

    def __init__(self, events: int = 0) -> None:
        self.count = 0
        self.events = events
        self.busy = False  # as StreamMappingPoller

    async def claim(self, *_: Any) -> list[Any]:  # a held pipe or mapping, every pass
        return [_HELD]

    async def zero(self, *_: Any) -> int:
        return 0

    async def read(self, *_: Any) -> list[Any]:  # PipeSource.read
        self.count += 1
        return []

    async def settle(self, mapping: Any) -> Any:
        return mapping

    async def poll(self, *_: Any) -> tuple[int, None]:  # StreamMappingPoller.poll
        self.count += 1
        if self.events:
            self.busy = True
        return 0, None


_HELD = SimpleNamespace(
    arn="arn:aws:pipes:r:1:pipe/p", source_kind="sqs", source_parameters={}, state_reason="",
    state="Enabled", uuid="u-1",
)  # fmt: skip
_HELD_STREAM = SimpleNamespace(**{**vars(_HELD), "source_kind": "kinesis"})

Made = tuple[Coroutine[Any, Any, None], Reads]


def pipes(
    interval: float,
    ceiling: float,
    bell: Doorbell | None = None,
    probe: Any = None,
    events: int = 0,
) -> Made:
    reads = Reads(events)
    service = SimpleNamespace(settle=reads.zero, store=SimpleNamespace(claim=reads.claim),
                              region="r")  # fmt: skip
    policy = RunnerPolicy(poll_interval=interval, idle_poll_max=ceiling)
    runner = PipesRunner(cast(Any, service), cast(Any, reads), cast(Any, None), policy, "me",
                         doorbell=bell, probe=probe)  # fmt: skip
    return runner.run_forever(), reads


def mappings(
    interval: float,
    ceiling: float,
    bell: Doorbell | None = None,
    probe: Any = None,
    events: int = 0,
) -> Made:
    reads = Reads(events)

    async def claim(*_: Any) -> list[Any]:
        return [_HELD_STREAM]

    service = SimpleNamespace(store=SimpleNamespace(claim=claim), settle=reads.settle)
    none = cast(Any, None)
    poller = MappingPoller(cast(Any, service), none, none, none, "me", poll_interval=interval,
                           idle_poll_max=ceiling, streams=cast(Any, reads), doorbell=bell,
                           probe=probe)  # fmt: skip
    return poller.run_forever(), reads


LOOPS: dict[str, Callable[..., Made]] = {"pipes": pipes, "lambda-mappings": mappings}


@pytest.mark.parametrize("name", sorted(LOOPS))
async def test_a_loop_holding_an_empty_source_backs_off(name: str) -> None:
    loop, reads = LOOPS[name](FAST, CEILING)
    async with running(loop):
        await asyncio.sleep(1.0)
    assert 2 <= reads.count <= MOST_IDLE_PASSES, reads.count


async def test_the_back_off_of_a_loop_holding_a_source_stays_within_half_its_lease() -> None:
    reads = Reads()
    service = SimpleNamespace(settle=reads.zero, store=SimpleNamespace(claim=reads.claim),
                              region="r")  # fmt: skip
    policy = RunnerPolicy(poll_interval=FAST, idle_poll_max=LONG, lease_ms=400)
    runner = PipesRunner(cast(Any, service), cast(Any, reads), cast(Any, None), policy, "me")
    async with running(runner.run_forever()):
        await asyncio.sleep(2.0)
    assert reads.count >= 10, reads.count  # a pause of 0.2 s at most: some thirteen (seven)


async def test_a_source_giving_records_keeps_the_pace() -> None:
    loop, reads = mappings(FAST, CEILING, events=1)
    async with running(loop):
        await asyncio.sleep(1.0)
    assert reads.count > 2 * MOST_IDLE_PASSES, reads.count  # some fifty: every interval


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    yield database
    await database.close()


async def _send(db: Database, message_id: str = "m-1", delay: int = 0) -> None:
    store = SqlQueueStore(db)
    await store.create_queue(Queue("t1", "q", "r", {}, NOW, NOW), limit=10)
    later = NOW + timedelta(seconds=delay)
    await store.send("t1", "q", [StoredMessage(message_id, b"x", NOW, later, NOW + timedelta(1))])


async def _long_idle(reads: Reads) -> None:
    """Until the loop's pause is 2 s (its reads at 0, 0.25, 0.75 and 1.75 s), and 0.3 s into
    it: a pass sooner than 1.7 s from now was rung."""
    await woken_within(10.0, lambda: reads.count == 4)
    await asyncio.sleep(0.3)


@pytest.mark.parametrize("name", sorted(LOOPS))
async def test_an_sqs_send_committed_rings_the_loop(name: str, db: Database) -> None:
    bell, probe = db.doorbells.follower(doorbells.SOURCES)
    loop, reads = LOOPS[name](STEP, LONG, bell, probe)
    async with running(loop):
        await _long_idle(reads)
        await _send(db)
        assert await woken_within(QUICK, lambda: reads.count == 5) < QUICK


async def test_a_delayed_message_rings_nothing_until_its_time(db: Database) -> None:
    bell, _ = db.doorbells.follower(doorbells.SOURCES)
    await _send(db, delay=60)
    assert not bell.rung  # its commit: nothing to read yet (its Timetable rings at its time)
    await _send(db, "m-2")
    assert bell.rung


async def test_a_send_through_another_process_on_the_file_is_seen_by_the_probe(
    tmp_path: Path, db: Database
) -> None:
    other = open_database(f"sqlite:///{tmp_path / 'meta.db'}")  # another worker of the serve
    try:
        bell, probe = db.doorbells.follower(doorbells.SOURCES)
        assert probe is not None
        other.doorbells.follower(doorbells.SOURCES)  # its loops too: its commits stamp
        loop, reads = pipes(STEP, LONG, bell, probe)
        async with running(loop):
            await _long_idle(reads)
            await _send(other)  # no bell of this process rings
            waited = await woken_within(QUICK + STEP, lambda: reads.count == 5)
        assert not bell.rung
        assert waited < QUICK + STEP  # the probe's period is the interval
    finally:
        await other.close()


async def test_stamps_are_made_only_for_the_queues_a_loop_follows(tmp_path: Path) -> None:
    database = open_database(migrated_sqlite(tmp_path / "meta.db"))
    try:
        changes = database.doorbells.changes([doorbells.KINESIS_RECORDS])
        assert changes is not None and not changes()
        await _send(database)  # SQS: followed by no loop here, no stamp
        assert not changes()
        assert not (tmp_path / "meta.db.doorbells" / doorbells.SQS_MESSAGES).exists()
    finally:
        await database.close()
    # PostgreSQL's (or an in-memory SQLite's) bells stamp nothing: notifications ring instead.
    assert doorbells.Doorbells().changes([doorbells.SQS_MESSAGES]) is None


# The Pacer's rules (decision 0331), and the Timetable.


async def _grown(pacer: Pacer, pauses: int) -> None:
    for _ in range(pauses):
        await pacer.pause(False)


async def test_a_soon_ring_ends_a_watching_loops_idle_pause_but_not_its_pace() -> None:
    pacer = Pacer(0.05, LONG)
    pacer.watching = True
    await _grown(pacer, 4)  # 0.05 … 0.4: the next pause is 0.8 s
    loop = asyncio.get_running_loop()
    loop.call_later(0.1, pacer.doorbell.ring_soon)
    started = time.monotonic()
    assert await pacer.pause(False)
    assert time.monotonic() - started < 0.5
    # At the pace (a pass that worked): a soon ring does not bring the next pass closer.
    pacer2 = Pacer(0.3, LONG)
    pacer2.watching = True
    pacer2.doorbell.ring_soon()
    started = time.monotonic()
    assert await pacer2.pause(True)
    assert time.monotonic() - started >= 0.28


async def test_a_soon_ring_is_let_pass_by_a_loop_holding_no_source() -> None:
    pacer = Pacer(0.3, LONG)
    pacer.doorbell.ring_soon()
    started = time.monotonic()
    assert not await pacer.pause(False)
    assert time.monotonic() - started >= 0.28
    pacer.doorbell.ring()  # its own work (a pipe created): at once, as 0326
    started = time.monotonic()
    assert await pacer.pause(False)
    assert time.monotonic() - started < 0.2


async def test_a_probe_is_looked_at_every_interval_of_a_long_pause() -> None:
    looks: list[float] = []
    changed = False

    def probe() -> bool:
        looks.append(time.monotonic())
        return changed

    pacer = Pacer(0.05, LONG, probe=probe)
    pacer.watching = True
    await _grown(pacer, 4)  # the next pause is 0.8 s
    looks.clear()
    task = asyncio.create_task(pacer.pause(False))
    await asyncio.sleep(0.3)
    assert 3 <= len(looks) <= 7  # every 0.05 s, some six by now
    changed = True
    started = time.monotonic()
    assert await asyncio.wait_for(task, 1.0)
    assert time.monotonic() - started < 0.3


async def test_a_timetable_rings_at_each_time_with_one_timer() -> None:
    rings: list[float] = []
    table = Timetable(lambda: rings.append(time.monotonic()), resolution=0.1)
    started = time.monotonic()
    for _ in range(1000):  # a busy queue's receives, all hidden for the same time
        table.at(0.2)
    table.at(0.5)
    table.at(3600)  # kept, as one tick
    assert len(table) == 3
    await woken_within(2.0, lambda: len(rings) == 2)
    assert 0.19 <= rings[0] - started < 0.45  # never before its time, within a resolution
    assert 0.49 <= rings[1] - started < 0.8
    assert len(table) == 1
    table.at(0)  # due now: rung at once
    assert len(rings) == 3


async def test_the_queue_service_tells_its_timetable_of_delays_and_visibility(
    db: Database,
) -> None:
    told: list[float] = []
    queues = QueueService(SqlQueueStore(db), _Plain(), region="r")
    queues.due = told.append
    queue = await queues.create_queue("t1", "q", {"VisibilityTimeout": "7"})
    await queues.send_message(queue, "later", {}, {}, 5, "me")
    await queues.send_message(queue, "now", {}, {}, None, "me")
    assert told == [5]
    (got,) = await queues.receive(queue, max_messages=1, visibility=None, wait=0)
    assert told == [5, 7]  # back in the queue then, unless deleted
    await queues.change_visibility(queue, got.receipt_handle, 30)
    assert told == [5, 7, 30]
    assert not await queues.receive(queue, max_messages=1, visibility=None, wait=0)
    assert told == [5, 7, 30]  # nothing received, nothing to come back


class _Plain:
    """A sealer that keeps the bytes as they are."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes:
        return plaintext

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes:
        return sealed
