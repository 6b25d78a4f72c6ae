"""Decision 0196's archives and replays in process over the memory stores: PutEvents' events
archived by pattern with their own time, replays re-sending a window in time order to the
FilterArns' rules only, with ``replay-name``, never archived again, resumed by another
gateway from the cursor after the first stopped; cancel, an archive gone, the retention
sweep, and the checks of each call."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from andromede.events.archive_store import MemoryArchiveStore
from andromede.events.archives import ArchiveLimits, ArchiveService
from andromede.events.dispatcher import Deliveries
from andromede.events.errors import (
    IllegalStatus,
    InvalidEventPattern,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.memory import MemoryEventsStore
from andromede.events.replays import ReplayPolicy, ReplayRunner
from andromede.events.service import EventsService

REGION = "eu-west-3"
ACCOUNT = "123456789012"
Q1 = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q1"
Q2 = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q2"
BUS = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
T0 = datetime(2026, 12, 5, 12, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class Sink:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def send(self, tenant_id: str, arn: str, message: str, **_: Any) -> None:
        self.sent.append((arn, json.loads(message)))


class World:
    def __init__(self) -> None:
        self.now = T0 + timedelta(hours=1)
        self.sink = Sink()
        self.deliveries = Deliveries(self.sink, retry_base=0.001)
        self.events = EventsService(
            MemoryEventsStore(), self.deliveries, region=REGION, clock=lambda: self.now
        )
        self.store = MemoryArchiveStore()
        self.archives = ArchiveService(
            self.store,
            self.events,
            limits=ArchiveLimits(max_archives=3, max_active_replays=2),
            clock=lambda: self.now,
        )
        self.events.archiver = self.archives

    def runner(self, holder: str, batch: int = 1) -> ReplayRunner:
        return ReplayRunner(
            self.store,
            self.events,
            holder=holder,
            policy=ReplayPolicy(batch=batch, lease=30, expiry_batch=2),
            clock=lambda: self.now,
        )

    async def sent(self) -> list[tuple[str, Any, Any]]:
        await self.deliveries.drain()
        taken = [(arn, e["detail"].get("n"), e.get("replay-name")) for arn, e in self.sink.sent]
        self.sink.sent.clear()
        return taken


async def _put(world: World, n: int, at: datetime, kind: str = "a", bus: str = "") -> None:
    entry: dict[str, Any] = {
        "Source": "app",
        "DetailType": "t",
        "Detail": json.dumps({"n": n, "kind": kind}),
        "Time": at.timestamp(),
    }
    if bus:
        entry["EventBusName"] = bus
    [result] = await world.events.put_events(ACCOUNT, [entry])
    assert result.error_code is None


@pytest.fixture
async def world() -> World:
    world = World()
    events = world.events
    await events.create_bus(ACCOUNT, "other")
    for rule, queue in (("r1", Q1), ("r2", Q2)):
        await events.put_rule(ACCOUNT, rule, "default", event_pattern='{"source": ["app"]}')
        await events.put_targets(ACCOUNT, rule, "default", [{"Id": "t", "Arn": queue}])
    await world.archives.create_archive(ACCOUNT, "all", BUS)
    await world.archives.create_archive(
        ACCOUNT, "only-b", BUS, event_pattern='{"detail": {"kind": ["b"]}}', retention_days=1
    )
    await world.archives.create_archive(ACCOUNT, "other", BUS.replace("default", "other"))
    # Put out of time order: the replay goes by the events' time.
    await _put(world, 2, T0 + 2 * MINUTE)
    await _put(world, 0, T0, kind="b")
    await _put(world, 1, T0 + MINUTE)
    await _put(world, 9, T0, bus="other")
    await world.sent()
    return world


async def test_archived_by_pattern_then_replayed_and_resumed(world: World) -> None:
    counts = {
        a.name: a.event_count
        for a in await world.archives.list_archives(
            ACCOUNT, prefix="", source_arn=None, state=None, after="", limit=9
        )
    }
    assert counts == {"all": 3, "only-b": 1, "other": 1}
    archive = await world.archives.describe_archive(ACCOUNT, "all")
    replay = await world.archives.start_replay(
        ACCOUNT,
        "rp",
        archive.arn,
        T0,
        T0 + 2 * MINUTE,  # the end excluded: event 2 stays out
        BUS,
        filter_arns=[f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r1"],
    )
    assert replay.state == "STARTING"
    first = world.runner("gw-1")
    assert await first.run_once() == 1  # STARTING → RUNNING
    assert (await world.archives.describe_replay(ACCOUNT, "rp")).state == "RUNNING"
    assert await first.run_once() == 1  # one event (the batch)
    assert await world.sent() == [(Q1, 0, "rp")]  # r1 only, with replay-name
    # The first gateway stops; a second, once the lease ends, resumes from the cursor.
    second = world.runner("gw-2")
    assert await second.run_once() == 0  # leased to gw-1
    world.now += timedelta(seconds=31)
    await second.drain()
    assert await world.sent() == [(Q1, 1, "rp")]
    done = await world.archives.describe_replay(ACCOUNT, "rp")
    assert (done.state, done.last_replayed, done.ended) == ("COMPLETED", T0 + MINUTE, world.now)
    # Replayed events are not archived again.
    assert (await world.archives.describe_archive(ACCOUNT, "all")).event_count == 3
    # Without FilterArns every matching rule of the bus takes them.
    await world.archives.start_replay(ACCOUNT, "rq", archive.arn, T0, T0 + 3 * MINUTE, BUS)
    await world.runner("gw-1", batch=10).drain()
    assert sorted(await world.sent()) == sorted((q, n, "rq") for q in (Q1, Q2) for n in (0, 1, 2))


async def test_cancel_failure_and_retention(world: World) -> None:
    arn = (await world.archives.describe_archive(ACCOUNT, "all")).arn
    await world.archives.start_replay(ACCOUNT, "c", arn, T0, T0 + MINUTE, BUS)
    assert (await world.archives.cancel_replay(ACCOUNT, "c")).state == "CANCELLING"
    await world.runner("gw").drain()
    assert (await world.archives.describe_replay(ACCOUNT, "c")).state == "CANCELLED"
    assert await world.sent() == []
    with pytest.raises(IllegalStatus):
        await world.archives.cancel_replay(ACCOUNT, "c")
    with pytest.raises(ResourceNotFound):
        await world.archives.cancel_replay(ACCOUNT, "missing")
    # Its archive deleted, a replay fails.
    await world.archives.start_replay(ACCOUNT, "f", arn, T0, T0 + MINUTE, BUS)
    runner = world.runner("gw")
    await runner.run_once()
    await world.archives.delete_archive(ACCOUNT, "all")
    await runner.drain()
    failed = await world.archives.describe_replay(ACCOUNT, "f")
    assert (failed.state, failed.state_reason) == ("FAILED", "Archive all does not exist.")
    # RetentionDays: a day after their arrival, the events go; 0 keeps them.
    world.now += timedelta(days=1, seconds=1)
    assert await runner.sweep() == 1
    assert (await world.archives.describe_archive(ACCOUNT, "only-b")).event_count == 0
    assert (await world.archives.describe_archive(ACCOUNT, "other")).event_count == 1
    updated = await world.archives.update_archive(ACCOUNT, "other", retention_days=1)
    assert (updated.retention_days, updated.event_pattern) == (1, None)
    assert await runner.sweep() == 1


async def test_checks(world: World) -> None:
    archives = world.archives
    arn = (await archives.describe_archive(ACCOUNT, "all")).arn
    with pytest.raises(LimitExceeded):
        await archives.create_archive(ACCOUNT, "fourth", BUS)
    await archives.delete_archive(ACCOUNT, "other")
    refused: list[tuple[Any, type[Exception]]] = [
        (archives.create_archive(ACCOUNT, "x", BUS.replace("default", "nope")), ResourceNotFound),
        (archives.create_archive(ACCOUNT, "x", BUS.replace(ACCOUNT, "0" * 12)), ResourceNotFound),
        (archives.create_archive(ACCOUNT, "x", "arn:aws:sqs:eu:1:q"), ValidationError),
        (archives.create_archive(ACCOUNT, "x" * 49, BUS), ValidationError),
        (archives.create_archive(ACCOUNT, "x", BUS, event_pattern='{"a": 1}'), InvalidEventPattern),
        (archives.create_archive(ACCOUNT, "x", BUS, retention_days=-1), ValidationError),
        (archives.create_archive(ACCOUNT, "all", BUS), ResourceAlreadyExists),
        (archives.describe_archive(ACCOUNT, "nope"), ResourceNotFound),
        (archives.update_archive(ACCOUNT, "nope", description="d"), ResourceNotFound),
        (archives.delete_archive(ACCOUNT, "nope"), ResourceNotFound),
        (archives.start_replay(ACCOUNT, "r", arn, T0, T0, BUS), ValidationError),
        (archives.start_replay(ACCOUNT, "r", arn + "x", T0, T0 + MINUTE, BUS), ResourceNotFound),
        (archives.start_replay(ACCOUNT, "r", BUS, T0, T0 + MINUTE, BUS), ValidationError),
        (
            archives.start_replay(ACCOUNT, "r", arn, T0, T0 + MINUTE, BUS.replace("default", "o")),
            ValidationError,
        ),
        (
            archives.start_replay(ACCOUNT, "r", arn, T0, T0 + MINUTE, BUS, filter_arns=[Q1]),
            ValidationError,
        ),
        (archives.start_replay(ACCOUNT, "r/", arn, T0, T0 + MINUTE, BUS), ValidationError),
        (archives.describe_replay(ACCOUNT, "nope"), ResourceNotFound),
        (
            archives.list_replays(
                ACCOUNT, prefix="", source_arn=None, state="DONE", after="", limit=1
            ),
            ValidationError,
        ),
    ]
    for call, error in refused:
        with pytest.raises(error):
            await call
    for name in ("r1", "r2"):
        await archives.start_replay(ACCOUNT, name, arn, T0, T0 + MINUTE, BUS)
    with pytest.raises(LimitExceeded):  # events_max_active_replays
        await archives.start_replay(ACCOUNT, "r3", arn, T0, T0 + MINUTE, BUS)


async def test_a_replay_started_here_is_run_at_once_by_a_runner_polling_every_minute(
    world: World,
) -> None:
    """Decision 0206: StartReplay rings the runner of its gateway (and the SQL store's commit
    rings it too, tests/contract/test_queue_doorbells.py): a runner whose pause is a minute
    replays at once."""
    runner = ReplayRunner(
        world.store,
        world.events,
        holder="gw",
        policy=ReplayPolicy(batch=10, lease=30, interval=60, idle_poll_max=60),
        clock=lambda: world.now,
    )
    world.archives.on_replay = runner.wake  # as the wiring does
    task = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.sleep(0.2)  # its first pass found nothing: it now waits a minute
        arn = (await world.archives.describe_archive(ACCOUNT, "all")).arn
        await world.archives.start_replay(ACCOUNT, "now", arn, T0, T0 + 3 * MINUTE, BUS)
        started = time.monotonic()
        while (await world.archives.describe_replay(ACCOUNT, "now")).state != "COMPLETED":
            assert time.monotonic() - started < 5, "the rung runner did not replay"
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert sorted(await world.sent()) == sorted((q, n, "now") for q in (Q1, Q2) for n in (0, 1, 2))
