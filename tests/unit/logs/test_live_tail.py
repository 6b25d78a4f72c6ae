"""Decision 0186's session-50 addendum: live tail sessions — events stored since the
session began, of its groups, streams or prefixes and filter pattern, each once, those a
late commit stored behind still read while they settle, 500 an update then ``sampled``,
the read budget, the bound of sessions an account, the end timed out — and the event
stream's framing, read back by botocore's own decoder."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer

from andromede.awswire.eventstream import json_event as event
from andromede.awswire.eventstream import json_exception as exception
from andromede.logs import live_tail
from andromede.logs.errors import LimitExceeded, ResourceNotFound
from andromede.logs.filter import compile_pattern
from andromede.logs.live_tail import LiveTailLimits, LiveTails, LiveTailSession
from andromede.logs.model import InputEvent
from support.logsapp import NOW, LogsWorld, logs_world

T = "000000000001"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path / "w")


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def groups(world: LogsWorld, *names: str) -> None:
    for name in names:
        await world.service.create_group(T, name, None, {})
        for stream in ("app-1", "app-2", "web"):
            await world.service.create_stream(T, name, stream)


async def put(world: LogsWorld, group: str, stream: str, *messages: str) -> None:
    events = [InputEvent(NOW - 1000 + n, m) for n, m in enumerate(messages)]
    await world.service.put_events(T, group, stream, events)


async def session(
    tails: LiveTails,
    names: tuple[str, ...] = ("/a",),
    streams: list[str] | None = None,
    prefixes: list[str] | None = None,
    pattern: str = "",
) -> LiveTailSession:
    return await tails.open(
        T, [(f"id:{n}", n) for n in names], streams, prefixes, compile_pattern(pattern)
    )


async def test_a_session_reads_what_is_stored_since_it_began(world: LogsWorld) -> None:
    await groups(world, "/a", "/b")
    await put(world, "/a", "web", "before the session")
    ticks = Ticks()
    tails = LiveTails(world.service, clock=ticks)
    tail = await session(tails, ("/a", "/b"))
    await put(world, "/a", "web", "one", "two")
    await put(world, "/b", "app-1", "three")
    update = await tail.read()
    assert [(e.group_identifier, e.stream, e.message) for e in update.events] == [
        ("id:/a", "web", "one"),
        ("id:/a", "web", "two"),
        ("id:/b", "app-1", "three"),
    ]
    assert not update.sampled and update.events[0].timestamp == NOW - 1000
    # Read again within the settling time: nothing twice; what comes after, once.
    ticks.now += 1
    await put(world, "/a", "app-2", "four")
    assert [e.message for e in (await tail.read()).events] == ["four"]
    ticks.now += 5
    assert (await tail.read()).events == []
    assert tail.low > 0 and not tail.delivered  # settled: only what lies above is kept


async def test_a_late_commit_behind_the_last_read_still_shows(world: LogsWorld) -> None:
    """On PostgreSQL an event may become visible after one with a later ``seq``: the next
    readings start from the ``seq`` of two seconds before, so it shows, once."""
    await groups(world, "/a")
    ticks = Ticks()
    tails = LiveTails(world.service, clock=ticks)
    tail = await session(tails)
    await put(world, "/a", "web", "early", "late")
    _, _, late = await world.service.stored_since(T, "/a", 0, 10)
    hidden = world.store._events[(T, "/a", "web")]  # type: ignore[attr-defined]
    held = [e for e in hidden if e.seq != late - 1]  # "early" not yet visible
    world.store._events[(T, "/a", "web")] = held  # type: ignore[attr-defined]
    assert [e.message for e in (await tail.read()).events] == ["late"]
    world.store._events[(T, "/a", "web")] = hidden  # type: ignore[attr-defined]
    ticks.now += 1
    assert [e.message for e in (await tail.read()).events] == ["early"]
    ticks.now += 1
    assert (await tail.read()).events == []


async def test_streams_prefixes_and_the_filter_pattern(world: LogsWorld) -> None:
    await groups(world, "/a")
    tails = LiveTails(world.service, clock=Ticks())
    by_name = await session(tails, streams=["web"])
    by_prefix = await session(tails, prefixes=["app-"])
    matching = await session(tails, pattern='"GET /health"')
    as_json = await session(tails, pattern="{ $.level = ERROR }")
    await put(world, "/a", "web", "GET /health 200", '{"level": "ERROR"}')
    await put(world, "/a", "app-1", "GET /index 200")
    await put(world, "/a", "app-2", "GET /health 503")
    read = {
        name: [e.message for e in (await tail.read()).events]
        for name, tail in {
            "name": by_name, "prefix": by_prefix, "pattern": matching, "json": as_json
        }.items()
    }  # fmt: skip
    assert read == {
        "name": ["GET /health 200", '{"level": "ERROR"}'],
        "prefix": ["GET /index 200", "GET /health 503"],
        "pattern": ["GET /health 200", "GET /health 503"],
        "json": ['{"level": "ERROR"}'],
    }


async def test_five_hundred_an_update_then_sampled(world: LogsWorld) -> None:
    await groups(world, "/a")
    tail = await session(LiveTails(world.service, clock=Ticks()))
    await put(world, "/a", "web", *(f"m{n}" for n in range(620)))
    update = await tail.read()
    assert len(update.events) == 500 and update.sampled
    assert update.events[0].message == "m0"
    # The read budget: past 5,000 events in a second the rest is not read.
    budgeted = await session(LiveTails(world.service, clock=Ticks()))
    await put(world, "/a", "web", *(f"n{n}" for n in range(30)))
    original = live_tail.READ_PER_UPDATE
    live_tail.READ_PER_UPDATE = 20
    try:
        update = await budgeted.read()
    finally:
        live_tail.READ_PER_UPDATE = original
    assert len(update.events) == 20 and update.sampled


async def test_the_bound_missing_groups_and_the_end(world: LogsWorld) -> None:
    await groups(world, "/a")
    tails = LiveTails(
        world.service, LiveTailLimits(max_sessions=2, max_session=0.05, interval=0.01)
    )
    first = await session(tails)
    await session(tails)
    with pytest.raises(LimitExceeded):
        await session(tails)
    with pytest.raises(ResourceNotFound):
        await session(tails, ("/nope",))
    assert tails.open_sessions(T) == 2
    first.close()
    first.close()  # once
    assert tails.open_sessions(T) == 1
    third = await session(tails)
    updates = [u async for u in third.updates()]
    assert third.timed_out and 1 <= len(updates) <= 5
    await asyncio.sleep(0)


def test_event_stream_frames_read_back_by_botocore() -> None:
    buffer = EventStreamBuffer()
    buffer.add_data(event("initial-response", {}))
    buffer.add_data(event("sessionUpdate", {"sessionResults": [{"message": "é"}]}))
    buffer.add_data(exception("SessionTimeoutException", "done"))
    messages = list(buffer)
    assert [m.headers[":event-type"] for m in messages[:2]] == ["initial-response", "sessionUpdate"]
    assert json.loads(messages[1].payload) == {"sessionResults": [{"message": "é"}]}
    assert messages[2].headers[":message-type"] == "exception"
    assert messages[2].headers[":exception-type"] == "SessionTimeoutException"
    assert json.loads(messages[2].payload) == {"message": "done"}
    # A flipped bit fails the CRC botocore checks.
    broken = bytearray(event("sessionStart", {"sessionId": "x"}))
    broken[-6] ^= 1
    bad = EventStreamBuffer()
    bad.add_data(bytes(broken))
    with pytest.raises(ChecksumMismatch):
        list(bad)
