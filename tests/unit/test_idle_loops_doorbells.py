"""Decision 0326, loop by loop: the six loops that looked every second (Lambda's Event
invocations, Step Functions' executions, Logs' subscription deliveries, DynamoDB → Kinesis,
Pipes, Lambda's event source mappings) back off while they find no work, and a ring of their
doorbell — what their own process writes, or a due time they know — ends the pause at once.

Each loop runs over a fake that counts its passes (the claim or the scan a pass starts with).
Idle with a 0.02 s interval and a 0.4 s ceiling, a second holds some seven passes; the old
fixed pace would have made fifty. With a minute's interval and ceiling, a pass within a few
seconds was rung."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from andromede.db import doorbells
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from andromede.dynamodb.kinesis_destination_service import ForwarderPolicy, KinesisForwarder
from andromede.function_sources import MappingPoller
from andromede.functions.event_queue import (
    EventInvocation,
    EventWorker,
    MemoryEventQueue,
    TryAgain,
)
from andromede.functions.event_queue_sql import SqlEventQueue
from andromede.logs.subscription_service import SubscriptionLimits, Subscriptions
from andromede.pipes.runner import PipesRunner
from andromede.pipes.runner import RunnerPolicy as PipesPolicy
from andromede.stepfunctions.runner import ExecutionsRunner
from andromede.stepfunctions.runner import RunnerPolicy as StatesPolicy
from support.background_loops import running, woken_within

FAST, CEILING = 0.02, 0.4  # idle: 0.02, 0.04, … 0.32, 0.4, 0.4 … seconds
IDLE_WINDOW = 1.0
MOST_IDLE_PASSES = 12  # some seven expected; fifty at the interval without the back-off
MINUTE = 60.0  # a pass sooner than this was rung
QUICK = 5.0  # "at once", with room for a loaded machine


class Passes:
    """Counts the passes of a loop over nothing."""

    def __init__(self) -> None:
        self.count = 0

    async def none(self, *_: Any, **__: Any) -> list[Any]:
        self.count += 1
        return []

    async def zero(self, *_: Any, **__: Any) -> int:
        return 0


# Each loop over a fake, made with (interval, ceiling); its run, its passes, its ring.
Made = tuple[Coroutine[Any, Any, None], Passes, Callable[[], None]]


def event_worker(interval: float, ceiling: float) -> Made:
    passes = Passes()
    queue = SimpleNamespace(claim=passes.none)
    worker = EventWorker(cast(Any, queue), cast(Any, None), "me", poll_interval=interval,
                         idle_poll_max=ceiling)  # fmt: skip
    return worker.run_forever(), passes, worker.doorbell.ring


def states_runner(interval: float, ceiling: float) -> Made:
    passes = Passes()
    store = SimpleNamespace(claim=passes.none, purge=passes.zero)
    executions = SimpleNamespace(store=store, region="eu-west-3")
    runner = ExecutionsRunner(cast(Any, executions), StatesPolicy(interval, idle_poll_max=ceiling),
                              "me")  # fmt: skip
    return runner.run_forever(), passes, runner.wake


def log_subscriptions(interval: float, ceiling: float) -> Made:
    passes = Passes()
    store = SimpleNamespace(claim=passes.none)
    limits = SubscriptionLimits(poll_interval=interval, idle_poll_max=ceiling)
    subscriptions = Subscriptions(cast(Any, None), cast(Any, store), cast(Any, None), None, limits)
    return subscriptions.run_forever("me"), passes, subscriptions.pacer.doorbell.ring


def kinesis_forwarder(interval: float, ceiling: float) -> Made:
    passes = Passes()
    queue = SimpleNamespace(queued_tables=passes.none)
    policy = ForwarderPolicy(interval_s=interval, idle_poll_max=ceiling)
    bell = doorbells.Doorbells().of(doorbells.DYNAMODB_KINESIS)
    forwarder = KinesisForwarder(cast(Any, None), cast(Any, queue), cast(Any, None), "me", policy,
                                 bell)  # fmt: skip
    return forwarder.run(), passes, bell.ring


def pipes_runner(interval: float, ceiling: float) -> Made:
    passes = Passes()
    pipes = SimpleNamespace(settle=passes.zero, store=SimpleNamespace(claim=passes.none),
                            region="eu-west-3")  # fmt: skip
    policy = PipesPolicy(poll_interval=interval, idle_poll_max=ceiling)
    runner = PipesRunner(cast(Any, pipes), cast(Any, None), cast(Any, None), policy, "me")
    return runner.run_forever(), passes, runner.wake


def mapping_poller(interval: float, ceiling: float) -> Made:
    passes = Passes()
    mappings = SimpleNamespace(store=SimpleNamespace(claim=passes.none))
    none = cast(Any, None)
    poller = MappingPoller(cast(Any, mappings), none, none, none, "me", poll_interval=interval,
                           idle_poll_max=ceiling)  # fmt: skip
    return poller.run_forever(), passes, poller.wake


LOOPS: dict[str, Callable[[float, float], Made]] = {
    "lambda-events": event_worker,
    "stepfunctions": states_runner,
    "logs-subscriptions": log_subscriptions,
    "dynamodb-kinesis": kinesis_forwarder,
    "pipes": pipes_runner,
    "lambda-mappings": mapping_poller,
}


@pytest.mark.parametrize("name", sorted(LOOPS))
async def test_an_idle_loop_backs_off_to_its_ceiling(name: str) -> None:
    loop, passes, _ring = LOOPS[name](FAST, CEILING)
    async with running(loop):
        await asyncio.sleep(IDLE_WINDOW)
    assert 2 <= passes.count <= MOST_IDLE_PASSES, passes.count


@pytest.mark.parametrize("name", sorted(LOOPS))
async def test_a_ring_ends_an_idle_loops_pause_at_once(name: str) -> None:
    loop, passes, ring = LOOPS[name](MINUTE, MINUTE)
    async with running(loop):
        await woken_within(QUICK, lambda: passes.count == 1)
        await asyncio.sleep(0.2)
        assert passes.count == 1  # unrung, the minute's pause holds
        ring()
        await woken_within(QUICK, lambda: passes.count == 2)


# Where the work is written, and the times a loop knows.


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)
    database = open_database(url)
    yield database
    await database.close()


def _invocation(due: int) -> EventInvocation:
    return EventInvocation("i-1", "t1", "f", "$LATEST", "arn:f", b"sealed", due, due)


async def test_an_event_invocation_is_run_when_its_commit_rings(db: Database) -> None:
    ran: list[str] = []

    async def run(item: EventInvocation) -> TryAgain | None:
        ran.append(item.id)
        return None

    queue = SqlEventQueue(db)
    worker = EventWorker(queue, run, "me", poll_interval=MINUTE, idle_poll_max=MINUTE,
                         doorbell=db.doorbells.of(doorbells.LAMBDA_EVENTS))  # fmt: skip
    async with running(worker.run_forever()):
        await asyncio.sleep(0.2)  # its first pass found nothing: it waits a minute
        await queue.add(_invocation(int(time.time() * 1000)))  # the queue's own commit rings
        await woken_within(QUICK, lambda: ran == ["i-1"])


async def test_a_retry_is_run_at_its_due_time_not_at_the_ceiling() -> None:
    ran: list[float] = []

    async def run(item: EventInvocation) -> TryAgain | None:
        ran.append(time.monotonic())
        return TryAgain(int(time.time() * 1000) + 300) if len(ran) == 1 else None

    queue = MemoryEventQueue()
    await queue.add(_invocation(0))
    worker = EventWorker(queue, run, "me", poll_interval=MINUTE, idle_poll_max=MINUTE)
    async with running(worker.run_forever()):
        await woken_within(QUICK, lambda: len(ran) == 2)
    assert 0.25 <= ran[1] - ran[0] < QUICK


async def test_an_execution_due_later_is_claimed_then() -> None:
    passes = Passes()
    store = SimpleNamespace(claim=passes.none, purge=passes.zero)
    executions = SimpleNamespace(store=store, region="eu-west-3")
    runner = ExecutionsRunner(cast(Any, executions), StatesPolicy(MINUTE, idle_poll_max=MINUTE),
                              "me")  # fmt: skip
    async with running(runner.run_forever()):
        await woken_within(QUICK, lambda: passes.count == 1)
        runner.due_at(int(time.time() * 1000) + 300)  # a Wait state ends then
        started = time.monotonic()
        await woken_within(QUICK, lambda: passes.count == 2)
    assert time.monotonic() - started >= 0.25


async def test_a_failed_subscription_delivery_is_tried_again_at_its_retry_time() -> None:
    passes = Passes()
    store = SimpleNamespace(claim=passes.none)
    limits = SubscriptionLimits(poll_interval=MINUTE, idle_poll_max=MINUTE, retry_interval_ms=300)
    subscriptions = Subscriptions(cast(Any, None), cast(Any, store), cast(Any, None), None, limits)
    async with running(subscriptions.run_forever("me")):
        await woken_within(QUICK, lambda: passes.count == 1)
        subscriptions.pacer.doorbell.ring_at(limits.retry_interval_ms / 1000)  # as a retry does
        await woken_within(QUICK, lambda: passes.count == 2)
