"""Decision 0369's store of a Map run's child executions over every implementation (memory,
SQLite, PostgreSQL): a child written as it begins then as it ends, read back by ARN with its
data and history, listed by run newest first (by status, after a position, without data),
tenants and runs apart, a run's RUNNING children aborted and kept so, a closed tenant's
forgotten; over SQL, the input, output, error and
history sealed at rest under the account's key ring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.executions import HistoryEvent
from andromede.stepfunctions.map_child_store_sql import SqlMapChildStore
from andromede.stepfunctions.map_children import (
    MapChild,
    MapChildStore,
    MemoryMapChildStore,
    abort_running_children,
    forget_execution_runs,
)
from andromede.stepfunctions.map_runs import MapRun, MemoryMapRunStore
from andromede.wiring.queues import KeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

T0 = 1_800_000_000_000
TENANT = "000000000001"
RUN = f"arn:aws:states:eu-fr-1:{TENANT}:mapRun:m/l:run-1"
SECRET = '{"card": "clear-secret-4242"}'


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MapChildStore]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryMapChildStore()
        else:
            keys = key_service_in(tmp_path / "keys")
            yield SqlMapChildStore(db, KeySealer(keys))
            keys.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def child(name: str, started: int = T0, tenant_id: str = TENANT, run: str = RUN) -> MapChild:
    return MapChild(
        tenant_id=tenant_id, run_arn=run,
        arn=f"arn:aws:states:eu-fr-1:{tenant_id}:execution:m/l:{name}", started=started,
        input=SECRET, item_count=2, role_arn=f"arn:aws:iam::{tenant_id}:role/r",
    )  # fmt: skip


def ended(one: MapChild, status: str = "SUCCEEDED", **kw: Any) -> MapChild:
    history = (HistoryEvent(1, 0, one.started, "ExecutionStarted",
                            "executionStartedEventDetails", {"input": SECRET}),)  # fmt: skip
    return one.changed(status=status, stopped=one.started + 5, history=history, **kw)


async def test_children_written_read_listed_and_forgotten(store: MapChildStore) -> None:
    first, second, third = child("a"), child("b", T0 + 1), child("c", T0 + 2)
    for one in (first, second, third):
        await store.save(one)
    await store.save(ended(first, output='{"ok": 1}'))
    await store.save(ended(second, "FAILED", error="Empty", cause="no quantity"))
    await store.save(child("x", tenant_id="000000000002",
                           run=RUN.replace(TENANT, "000000000002")))  # fmt: skip
    await store.save(child("y", run=RUN.replace("run-1", "run-2")))

    found = await store.get(TENANT, first.arn)
    assert found == ended(first, output='{"ok": 1}')
    assert found is not None and found.history[0].details == {"input": SECRET}
    assert await store.get("000000000002", first.arn) is None  # tenants apart

    listed = await store.list_for_run(TENANT, RUN, None, None, 10)
    assert [c.name for c in listed] == ["c", "b", "a"]  # the newest first
    assert listed[1].status == "FAILED" and listed[1].stopped == T0 + 6
    assert all(c.input == "" and c.history == () and c.error is None for c in listed)
    assert listed[2].item_count == 2 and listed[2].run_arn == RUN
    running = await store.list_for_run(TENANT, RUN, "RUNNING", None, 10)
    assert [c.name for c in running] == ["c"]
    page = await store.list_for_run(TENANT, RUN, None, (T0 + 2, third.arn), 1)
    assert [c.name for c in page] == ["b"]
    tied = child("d", T0 + 2)
    await store.save(tied)
    after_c = await store.list_for_run(TENANT, RUN, None, (T0 + 2, third.arn), 10)
    assert [c.name for c in after_c] == ["d", "b", "a"]  # same start: by ARN

    assert await store.forget_tenant(TENANT) == 5
    assert await store.get(TENANT, first.arn) is None
    assert len(await store.list_for_run("000000000002", RUN.replace(TENANT, "000000000002"),
                                        None, None, 10)) == 1  # fmt: skip


async def test_running_children_are_aborted_and_stay_so(store: MapChildStore) -> None:
    await store.save(ended(child("done")))
    for name in ("a", "b", "c"):
        await store.save(child(name))
    await store.save(child("other", run=RUN.replace("run-1", "run-2")))
    assert await abort_running_children(store, TENANT, RUN, T0 + 50) == 3
    aborted = await store.get(TENANT, child("a").arn)
    assert aborted is not None and (aborted.status, aborted.stopped) == ("ABORTED", T0 + 50)
    assert aborted.input == SECRET  # its data kept
    # The child ended after its parent: stays aborted, and its run is told (decision 0372).
    assert await store.save(ended(child("a"))) is False
    assert await store.save(ended(child("done"))) is True
    again = await store.get(TENANT, child("a").arn)
    assert again is not None and again.status == "ABORTED" and again.history == ()
    done = await store.get(TENANT, child("done").arn)
    assert done is not None and done.status == "SUCCEEDED"
    other = await store.get(TENANT, child("other").arn)
    assert other is not None and other.status == "RUNNING"  # another run's
    assert await abort_running_children(store, TENANT, RUN, T0 + 60) == 0
    # What a running child asks before each state (decision 0374): the status alone.
    assert await store.status(TENANT, child("a").arn) == "ABORTED"
    assert await store.status(TENANT, child("other").arn) == "RUNNING"
    assert await store.status("000000000002", child("a").arn) is None


async def test_children_are_sealed_at_rest(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlMapChildStore(sql_db, KeySealer(keys))
    try:
        await store.save(ended(child("a"), output=SECRET, error=None))

        def blobs(conn: Any) -> list[bytes]:
            column = tables.stepfunctions_map_children.c.document_sealed
            return [bytes(b) for (b,) in conn.execute(sa.select(column)).all()]

        found = await sql_db.read(blobs)
        assert len(found) == 1 and b"clear-secret" not in found[0]
        read = await store.get(TENANT, child("a").arn)
        assert read is not None and read.input == SECRET and read.output == SECRET
    finally:
        keys.close()


async def test_a_runs_children_are_forgotten_a_batch_at_a_time(store: MapChildStore) -> None:
    """Decision 0372: a purged run's children deleted ``limit`` at a time, only its own."""
    other_run = RUN.replace("run-1", "run-2")
    other_tenant = "000000000002"
    for i in range(5):
        await store.save(child(f"c{i}", T0 + i))
    await store.save(child("o", run=other_run))
    await store.save(child("t", tenant_id=other_tenant, run=RUN.replace(TENANT, other_tenant)))
    assert await store.forget_for_run(TENANT, RUN, 2) == 2
    assert len(await store.list_for_run(TENANT, RUN, None, None, 10)) == 3
    assert await store.forget_for_run(TENANT, RUN, 2) == 2
    assert await store.forget_for_run(TENANT, RUN, 2) == 1
    assert await store.forget_for_run(TENANT, RUN, 2) == 0
    assert await store.list_for_run(TENANT, RUN, None, None, 10) == []
    assert len(await store.list_for_run(TENANT, other_run, None, None, 10)) == 1
    assert await store.get(other_tenant, child("t", tenant_id=other_tenant).arn) is not None


async def test_an_executions_runs_and_children_go_with_it(store: MapChildStore) -> None:
    """Decision 0372: ``forget_execution_runs`` over both stores, children in batches."""
    runs = MemoryMapRunStore()
    execution = f"arn:aws:states:eu-fr-1:{TENANT}:execution:m:e"
    await runs.save(MapRun(TENANT, RUN, execution, T0, 0, 0.0, 0))
    kept_run = RUN.replace("run-1", "run-2")
    await runs.save(MapRun(TENANT, kept_run, execution + "2", T0, 0, 0.0, 0))
    for i in range(5):
        await store.save(child(f"c{i}", T0 + i))
    await store.save(child("k", run=kept_run))
    assert await forget_execution_runs(runs, store, TENANT, execution, 2) == 1
    assert await store.list_for_run(TENANT, RUN, None, None, 10) == []
    assert await runs.get(TENANT, RUN) is None
    assert await runs.get(TENANT, kept_run) is not None
    assert len(await store.list_for_run(TENANT, kept_run, None, None, 10)) == 1


async def test_a_child_that_did_not_succeed_is_redriven_alone(store: MapChildStore) -> None:
    """Decision 0377: ``redrive`` moves a FAILED or ABORTED child back to RUNNING (its data
    but its outcome kept, one more redrive, its date), the one write that moves an ABORTED
    one; its item index is kept; ``redriven`` filters the run's children by it."""
    failed, stopped, done = child("f", T0), child("s", T0 + 1), child("d", T0 + 2)
    await store.save(failed.changed(index=4))
    await store.save(stopped.changed(index=1))
    await store.save(done.changed(index=0))
    await store.save(ended(failed.changed(index=4), "FAILED", error="Empty", cause="none"))
    await store.save(ended(done.changed(index=0), output='{"ok": 1}'))
    assert await store.redrive(TENANT, stopped.arn, T0 + 9) is None  # RUNNING
    await abort_running_children(store, TENANT, RUN, T0 + 8)
    assert await store.redrive(TENANT, done.arn, T0 + 9) is None  # SUCCEEDED
    assert await store.redrive("000000000002", failed.arn, T0 + 9) is None

    again = await store.redrive(TENANT, failed.arn, T0 + 9)
    assert again is not None
    assert (again.status, again.stopped, again.error, again.cause) == ("RUNNING", None, None,
                                                                       None)  # fmt: skip
    assert (again.redrive_count, again.redrive_date, again.index) == (1, T0 + 9, 4)
    assert again.input == SECRET and again.history[0].details == {"input": SECRET}
    assert await store.get(TENANT, failed.arn) == again
    # Its end written over it keeps the redrive's count and date.
    assert await store.save(ended(again, output='{"ok": 2}').changed(redrive_count=0))
    read = await store.get(TENANT, failed.arn)
    assert read is not None and (read.status, read.redrive_count, read.redrive_date) == (
        "SUCCEEDED", 1, T0 + 9)  # fmt: skip
    assert await store.save(stopped.changed(status="SUCCEEDED")) is False  # still refused
    moved = await store.redrive(TENANT, stopped.arn, T0 + 10)
    assert moved is not None and moved.status == "RUNNING" and moved.redrive_count == 1
    assert await store.save(moved.changed(status="SUCCEEDED")) is True

    redriven = await store.list_for_run(TENANT, RUN, None, None, 10, True)
    assert sorted(c.name for c in redriven) == ["f", "s"]
    assert [c.redrive_count for c in redriven] == [1, 1]
    never = await store.list_for_run(TENANT, RUN, None, None, 10, False)
    assert [(c.name, c.index) for c in never] == [("d", 0)]
