"""Decision 0186's export task store (session-49 addendum) over every implementation (memory,
SQLite, PostgreSQL): one active task an account, a task claimed by one gateway at a time
under a lease that another takes over once it ran out, renewals and ends only by the lease's
owner while RUNNING (a cancel is never overwritten), listed newest first by pages and
status, and a closed tenant's tasks deleted."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.logs.errors import LimitExceeded
from andromede.logs.exports import ExportStatus, ExportStore, ExportTask, MemoryExportStore
from andromede.logs.exports_sql import SqlExportStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ExportStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryExportStore() if db is None else SqlExportStore(db)


def task(task_id: str, created: int = T0, tenant_id: str = "t1") -> ExportTask:
    return ExportTask(tenant_id, task_id, f"n-{task_id}", "/g", "s", 1, 2, "b", "p", created)


async def test_one_active_task_claimed_once_under_a_lease(store: ExportStore) -> None:
    await store.create(task("x1"))
    assert await store.get("t1", "x1") == task("x1")
    assert await store.get("t2", "x1") is None
    with pytest.raises(LimitExceeded):
        await store.create(task("x2", T0 + 1))
    await store.create(task("y1", tenant_id="t2"))  # another account's own bound
    claimed = await store.claim("gw-a", T0, T0 + 100)
    assert claimed is not None
    assert claimed.task_id == "x1"
    assert (claimed.status, claimed.message) == (ExportStatus.RUNNING, "Started successfully")
    assert (claimed.lease_owner, claimed.lease_until) == ("gw-a", T0 + 100)
    other = await store.claim("gw-b", T0 + 50, T0 + 150)
    assert other is not None and other.task_id == "y1"
    assert await store.claim("gw-b", T0 + 50, T0 + 150) is None  # both held
    assert await store.renew("t1", "x1", "gw-a", T0 + 200)
    assert not await store.renew("t1", "x1", "gw-b", T0 + 200)
    assert await store.renew("t2", "y1", "gw-b", T0 + 1000)
    # gw-a stops renewing: once its lease ran out, and not before, gw-b takes the task over.
    assert await store.claim("gw-b", T0 + 199, T0 + 300) is None
    taken = await store.claim("gw-b", T0 + 201, T0 + 400)
    assert taken is not None and taken.task_id == "x1"
    assert taken.lease_owner == "gw-b"
    assert not await store.finish("t1", "x1", "gw-a", ExportStatus.COMPLETED, "done", T0 + 5)
    assert await store.finish("t1", "x1", "gw-b", ExportStatus.COMPLETED, "done", T0 + 5)
    ended = await store.get("t1", "x1")
    assert ended is not None
    assert (ended.status, ended.message, ended.completed) == (
        ExportStatus.COMPLETED,
        "done",
        T0 + 5,
    )
    assert ended.lease_owner is None
    assert not await store.cancel("t1", "x1", T0 + 6)  # finished: not cancelled
    await store.create(task("x2", T0 + 1))  # the account's task ended: a new one may start


async def test_a_cancel_stands_against_the_runner(store: ExportStore) -> None:
    await store.create(task("x1"))
    assert await store.cancel("t1", "x1", T0 + 1)  # PENDING → CANCELLED
    assert await store.claim("gw", T0, T0 + 10) is None
    await store.create(task("x2", T0 + 2))
    assert await store.claim("gw", T0, T0 + 10) is not None
    assert await store.cancel("t1", "x2", T0 + 3)  # RUNNING → CANCELLED
    assert not await store.renew("t1", "x2", "gw", T0 + 20)
    assert not await store.finish("t1", "x2", "gw", ExportStatus.COMPLETED, "done", T0 + 4)
    found = await store.get("t1", "x2")
    assert found is not None
    assert (found.status, found.message, found.completed) == (
        ExportStatus.CANCELLED,
        "Cancelled by user",
        T0 + 3,
    )
    assert not await store.cancel("t1", "nope", T0)


async def test_recent_pages_status_and_forget(store: ExportStore) -> None:
    for n in range(5):
        await store.create(task(f"x{n}", T0 + n))
        await store.cancel("t1", f"x{n}", T0 + n)
    await store.create(task("live", T0 + 9))
    await store.create(task("theirs", tenant_id="t2"))
    first = await store.recent("t1", None, None, 3)
    assert [t.task_id for t in first] == ["live", "x4", "x3"]
    last = first[-1]
    rest = await store.recent("t1", None, (last.created, last.task_id), 10)
    assert [t.task_id for t in rest] == ["x2", "x1", "x0"]
    pending = await store.recent("t1", ExportStatus.PENDING, None, 10)
    assert [t.task_id for t in pending] == ["live"]
    cancelled = await store.recent("t1", ExportStatus.CANCELLED, None, 10)
    assert len(cancelled) == 5
    assert dataclasses.replace(cancelled[0], completed=None).status is ExportStatus.CANCELLED
    assert await store.forget_tenant("t1") == 6
    assert await store.recent("t1", None, None, 10) == []
    assert [t.task_id for t in await store.recent("t2", None, None, 10)] == ["theirs"]
