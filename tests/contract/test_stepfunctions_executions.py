"""Decision 0271's execution store over every implementation (memory, SQLite, PostgreSQL):
one execution a name and machine (the one there answered instead of a second), listing newest
first by status in pages, compare-and-set writes with the history appended in the same
write, the runner's lease (one gateway at a time, taken over once it ran out, renewed by each
write), only due executions claimed, a closed tenant's forgotten; over SQL, the input,
output, position and history sealed at rest under the account's key ring."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.execution_memory import MemoryExecutionStore
from andromede.stepfunctions.execution_store import ExecutionStore
from andromede.stepfunctions.execution_store_sql import SqlExecutionStore
from andromede.stepfunctions.executions import Execution, ExecutionStatus, HistoryEvent
from andromede.wiring.queues import KeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

T0 = 1_800_000_000_000
SECRET = '{"card": "clear-secret-4242"}'


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ExecutionStore]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryExecutionStore()
        else:
            keys = key_service_in(tmp_path / "keys")
            yield SqlExecutionStore(db, KeySealer(keys))
            keys.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def execution(
    name: str, started: int = T0, tenant_id: str = "000000000001", **kw: Any
) -> Execution:
    made = Execution(
        tenant_id=tenant_id, region="eu-fr-1", machine_name="m", name=name,
        definition='{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}',
        role_arn=f"arn:aws:iam::{tenant_id}:role/r", input=SECRET, started=started,
        cursor={"state": "A", "data": {"card": "clear-secret-4242"}, "wait_until": None},
        wake_at=started, events=1, revision_id="rev",
    )  # fmt: skip
    return dataclasses.replace(made, **kw)


def event(number: int, kind: str = "PassStateEntered") -> HistoryEvent:
    return HistoryEvent(number, number - 1, T0 + number, kind, "stateEnteredEventDetails",
                        {"name": "A", "input": SECRET})  # fmt: skip


async def test_made_listed_and_advanced(store: ExecutionStore) -> None:
    first = execution("a")
    assert await store.create(first, [event(1, "ExecutionStarted")]) is None
    assert await store.create(execution("a", input="{}"), []) == first
    assert await store.create(execution("b", T0 + 5), [event(1)]) is None
    assert await store.create(execution("c", T0 + 5, status=ExecutionStatus.FAILED), []) is None
    assert await store.get("000000000001", "eu-fr-1", "m", "a") == first
    assert await store.get("000000000002", "eu-fr-1", "m", "a") is None
    listed = await store.executions("000000000001", "eu-fr-1", "m", None, None, 10)
    assert [e.name for e in listed] == ["b", "c", "a"]  # newest first, then by name
    page = await store.executions("000000000001", "eu-fr-1", "m", None, (T0 + 5, "b"), 10)
    assert [e.name for e in page] == ["c", "a"]
    failed = await store.executions("000000000001", "eu-fr-1", "m", ExecutionStatus.FAILED,
                                    None, 10)  # fmt: skip
    assert [e.name for e in failed] == ["c"]
    ended = first.changed(status=ExecutionStatus.SUCCEEDED, output='{"ok": 1}', cursor=None,
                          stopped=T0 + 9, events=3)  # fmt: skip
    assert await store.advance(ended, [event(2), event(3, "ExecutionSucceeded")], None, 0)
    assert not await store.advance(first.changed(), [event(2)], None, 0)  # an old revision
    assert await store.get("000000000001", "eu-fr-1", "m", "a") == ended
    history = await store.history("000000000001", "eu-fr-1", "m", "a")
    assert [e.id for e in history] == [1, 2, 3]
    assert history[1] == event(2) and history[2].type == "ExecutionSucceeded"
    assert await store.forget_tenant("000000000001") == 3
    assert await store.history("000000000001", "eu-fr-1", "m", "a") == []


async def test_the_runner_lease(store: ExecutionStore) -> None:
    due = execution("due")
    await store.create(due, [])
    await store.create(execution("later", wake_at=T0 + 60_000), [])
    await store.create(execution("other-region", region="eu-fr-2"), [])
    claimed = await store.claim("eu-fr-1", "g1", T0, T0 + 1000, 10)
    assert [e.name for e in claimed] == ["due"]
    assert await store.claim("eu-fr-1", "g2", T0 + 500, T0 + 1500, 10) == []  # g1's still
    assert [e.name for e in await store.claim("eu-fr-1", "g1", T0 + 500, T0 + 1500, 10)] == [
        "due"
    ]  # its own again
    stepped = due.changed(events=2)
    assert not await store.advance(stepped, [event(2)], "g2", T0 + 9000)  # not g2's lease
    assert await store.advance(stepped, [event(2)], "g1", T0 + 5000)  # renewed to T0+5000
    assert await store.claim("eu-fr-1", "g2", T0 + 2000, T0 + 3000, 10) == []
    taken = await store.claim("eu-fr-1", "g2", T0 + 5000, T0 + 9000, 10)
    assert [e.name for e in taken] == ["due"]  # ran out: g2's now
    assert not await store.advance(stepped.changed(), [], "g1", T0 + 9999)  # g1 stalled
    ended = stepped.changed(status=ExecutionStatus.ABORTED, cursor=None)
    assert await store.advance(ended, [], None, 0)  # StopExecution: no lease needed
    later = await store.claim("eu-fr-1", "g3", T0 + 60_000, T0 + 61_000, 10)
    assert [e.name for e in later] == ["later"]  # due at last; the aborted one never again


async def test_executions_are_sealed_at_rest(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlExecutionStore(sql_db, KeySealer(keys))
    try:
        await store.create(execution("a"), [event(1)])

        def blobs(conn: Any) -> list[bytes]:
            one = conn.execute(sa.select(tables.stepfunctions_executions.c.document_sealed))
            two = conn.execute(sa.select(tables.stepfunctions_history.c.events_sealed))
            return [bytes(b) for (b,) in [*one.all(), *two.all()]]

        found = await sql_db.read(blobs)
        assert len(found) == 2 and all(b"clear-secret" not in blob for blob in found)
        assert (await store.history("000000000001", "eu-fr-1", "m", "a")) == [event(1)]
    finally:
        keys.close()


async def test_an_activity_task_is_given_once(store: ExecutionStore) -> None:
    parked = execution("p", waiting_activity="review", wake_at=2**62)
    await store.create(parked, [])
    await store.create(execution("q", T0 + 1, waiting_activity="review"), [])
    await store.create(execution("r", waiting_activity="other"), [])
    first = await store.take("000000000001", "eu-fr-1", "review")
    assert first is not None and first.name == "p" and first.activity_taken
    assert first.revision == parked.revision + 1
    second = await store.take("000000000001", "eu-fr-1", "review")
    assert second is not None and second.name == "q"
    assert await store.take("000000000001", "eu-fr-1", "review") is None
    assert await store.take("000000000002", "eu-fr-1", "other") is None
    assert not await store.advance(parked.changed(), [], None, 0)  # taken moved it on
    assert await store.get("000000000001", "eu-fr-1", "m", "p") == first


async def test_ended_executions_are_purged_after_their_retention(store: ExecutionStore) -> None:
    old = execution("old", status=ExecutionStatus.SUCCEEDED, stopped=T0 + 5, cursor=None)
    await store.create(old, [event(1)])
    await store.create(execution("newer", status=ExecutionStatus.FAILED, stopped=T0 + 50), [])
    await store.create(execution("running"), [])
    await store.create(execution("elsewhere", region="eu-fr-2", status=ExecutionStatus.ABORTED,
                                 stopped=T0), [])  # fmt: skip
    assert await store.purge("eu-fr-1", T0 + 10, 10) == 1
    assert await store.get("000000000001", "eu-fr-1", "m", "old") is None
    assert await store.history("000000000001", "eu-fr-1", "m", "old") == []
    assert await store.purge("eu-fr-1", T0 + 10, 10) == 0
    assert await store.purge("eu-fr-1", T0 + 10**9, 10) == 1  # newer; never the running one
    assert await store.get("000000000001", "eu-fr-1", "m", "running") is not None
    assert await store.create(execution("old"), []) is None  # the name is free again


async def test_what_goes_with_an_execution_is_told_before_it_goes(store: ExecutionStore) -> None:
    """Decision 0372: the purge awaits its hook with each execution's account and ARN before
    deleting it (its Map runs go first); a hook that fails leaves the execution to a later
    pass."""
    old = execution("old", status=ExecutionStatus.SUCCEEDED, stopped=T0 + 5, cursor=None)
    await store.create(old, [event(1)])
    await store.create(execution("running"), [])
    told: list[tuple[str, str]] = []

    async def failing(tenant_id: str, arn: str) -> None:
        raise RuntimeError("the Map runs' store is down")

    with pytest.raises(RuntimeError):
        await store.purge("eu-fr-1", T0 + 10, 10, failing)
    assert await store.get("000000000001", "eu-fr-1", "m", "old") is not None

    async def hook(tenant_id: str, arn: str) -> None:
        assert await store.get(tenant_id, "eu-fr-1", "m", "old") is not None  # still there
        told.append((tenant_id, arn))

    assert await store.purge("eu-fr-1", T0 + 10, 10, hook) == 1
    assert told == [("000000000001", old.arn)]
    assert await store.get("000000000001", "eu-fr-1", "m", "old") is None


async def test_the_callers_trace_is_kept(store: ExecutionStore) -> None:
    """Decision 0351: the trace header StartExecution was given, kept with the execution (in
    its sealed document over SQL) for its tasks; none when none was given."""
    trace = "Root=1-6756f2a0-0123456789abcdef01234567;Lineage=1a2b3c4d:2"
    assert await store.create(execution("traced", trace=trace), []) is None
    assert await store.create(execution("untraced"), []) is None
    found = await store.get("000000000001", "eu-fr-1", "m", "traced")
    assert found is not None and found.trace == trace
    other = await store.get("000000000001", "eu-fr-1", "m", "untraced")
    assert other is not None and other.trace is None
