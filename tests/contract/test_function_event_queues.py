"""Decision 0286's queue of Event invocations over every implementation (memory, SQLite,
PostgreSQL): added, claimed under a lease by one gateway at a time, due again after a retry
with its attempts counted, done, and a closed tenant's forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.functions.event_queue import EventInvocation, EventQueue, MemoryEventQueue
from andromede.functions.event_queue_sql import SqlEventQueue
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventQueue]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryEventQueue() if db is None else SqlEventQueue(db)


def item(invocation_id: str, tenant_id: str = "000000000001", due: int = 1000) -> EventInvocation:
    return EventInvocation(
        id=invocation_id,
        tenant_id=tenant_id,
        name="fn",
        version="$LATEST",
        arn=f"arn:aws:lambda:eu-fr-1:{tenant_id}:function:fn",
        sealed_payload=b"\x01sealed",
        created=1000,
        due=due,
    )


async def test_claimed_once_under_a_lease(queue: EventQueue) -> None:
    await queue.add(item("a"))
    await queue.add(item("b", due=5000))
    assert await queue.claim("g1", 500, 60_000, 10) == []
    (claimed,) = await queue.claim("g1", 2000, 60_000, 10)
    assert (claimed.id, claimed.lease_owner, claimed.lease_until) == ("a", "g1", 62_000)
    assert claimed.sealed_payload == b"\x01sealed"
    assert [c.id for c in await queue.claim("g2", 6000, 60_000, 10)] == ["b"]
    assert [c.id for c in await queue.claim("g2", 63_000, 60_000, 10)] == ["a"]  # lease over


async def test_retried_then_done(queue: EventQueue) -> None:
    await queue.add(item("a"))
    (claimed,) = await queue.claim("g1", 2000, 60_000, 10)
    await queue.retry(claimed, 90_000)
    assert await queue.claim("g1", 3000, 60_000, 10) == []
    (again,) = await queue.claim("g1", 90_000, 60_000, 10)
    assert again.attempts == 1
    await queue.done("a")
    assert await queue.claim("g1", 200_000, 60_000, 10) == []


async def test_tenant_forgotten(queue: EventQueue) -> None:
    await queue.add(item("a"))
    await queue.add(item("b", "000000000002"))
    assert await queue.forget_tenant("000000000001") == 1
    assert [c.id for c in await queue.claim("g1", 2000, 60_000, 10)] == ["b"]


async def test_the_callers_trace_kept(queue: EventQueue) -> None:
    # Decision 0328: the lineage recursive loop detection reads comes back with the claim.
    traced = "Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a87bd80c:3"
    await queue.add(replace(item("a"), trace=traced))
    await queue.add(item("b"))
    claimed = await queue.claim("g1", 2000, 60_000, 10)
    assert {c.id: c.trace for c in claimed} == {"a": traced, "b": None}
