"""Decision 0322's Map run store over every implementation (memory, SQLite, PostgreSQL): a
run created then its progress written, read back by ARN and by execution (oldest first),
UpdateMapRun's settings kept when the run writes its progress again, tenants apart, a closed
tenant's runs forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.stepfunctions.map_run_store_sql import SqlMapRunStore
from andromede.stepfunctions.map_runs import (
    MapRun,
    MapRunStore,
    MemoryMapRunStore,
    abort_running,
)
from support.store_backends import BACKENDS, backend_database

T0 = 1_800_000_000_000
EXECUTION = "arn:aws:states:eu-fr-1:000000000001:execution:m:e"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MapRunStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMapRunStore() if db is None else SqlMapRunStore(db)


def run(arn: str, tenant_id: str = "000000000001", started: int = T0) -> MapRun:
    return MapRun(
        tenant_id=tenant_id,
        arn=f"arn:aws:states:eu-fr-1:{tenant_id}:mapRun:m/l:{arn}",
        execution_arn=EXECUTION,
        started=started,
        max_concurrency=5,
        tolerated_failure_percentage=2.5,
        tolerated_failure_count=3,
        item_counts={"total": 10, "pending": 10},
        execution_counts={"total": 2, "pending": 2},
    )


async def test_runs_are_written_read_listed_updated_and_forgotten(store: MapRunStore) -> None:
    first = run("b")
    assert await store.save(first) == first
    assert await store.get("000000000001", first.arn) == first
    assert await store.get("000000000002", first.arn) is None  # another tenant's view
    second = run("a", started=T0 + 1)
    await store.save(second)
    await store.save(run("c", tenant_id="000000000002"))
    listed = await store.list_for_execution("000000000001", EXECUTION)
    assert [r.arn for r in listed] == [first.arn, second.arn]

    updated = await store.update("000000000001", first.arn, 9, None, 0)
    assert updated is not None
    assert (updated.max_concurrency, updated.tolerated_failure_percentage,
            updated.tolerated_failure_count) == (9, 2.5, 0)  # fmt: skip
    assert await store.update("000000000001", "arn:none", 1, None, None) is None

    ended = first.changed(status="SUCCEEDED", stopped=T0 + 5,
                          item_counts={"total": 10, "succeeded": 10})  # fmt: skip
    stored = await store.save(ended)
    assert stored.status == "SUCCEEDED" and stored.stopped == T0 + 5
    assert stored.item_counts == {"total": 10, "succeeded": 10}
    assert stored.max_concurrency == 9  # UpdateMapRun's, not the run's copy
    assert await store.get("000000000001", first.arn) == stored

    assert await store.forget_tenant("000000000001") == 2
    assert await store.list_for_execution("000000000001", EXECUTION) == []
    assert await store.get("000000000002", run("c", tenant_id="000000000002").arn) is not None


async def test_an_executions_running_runs_are_aborted_and_stay_so(store: MapRunStore) -> None:
    going, done = run("going"), run("done", started=T0 + 1)
    await store.save(going)
    await store.save(done.changed(status="SUCCEEDED", stopped=T0 + 2))
    assert await abort_running(store, "000000000001", EXECUTION, T0 + 9) == 1
    aborted = await store.get("000000000001", going.arn)
    assert aborted is not None and (aborted.status, aborted.stopped) == ("ABORTED", T0 + 9)
    # The run's own last write, after its execution was stopped, does not undo it.
    late = await store.save(going.changed(status="SUCCEEDED", stopped=T0 + 20))
    assert (late.status, late.stopped) == ("ABORTED", T0 + 9)
    kept = await store.get("000000000001", done.arn)
    assert kept is not None and kept.status == "SUCCEEDED"


async def test_a_run_is_forgotten_alone(store: MapRunStore) -> None:
    """Decision 0372: a run deleted as its parent execution is purged; the others kept."""
    gone, kept, other = run("a"), run("b"), run("a", tenant_id="000000000002")
    for one in (gone, kept, other):
        await store.save(one)
    assert await store.forget("000000000001", gone.arn) is True
    assert await store.forget("000000000001", gone.arn) is False
    assert await store.get("000000000001", gone.arn) is None
    assert await store.get("000000000001", kept.arn) == kept
    assert await store.get("000000000002", other.arn) == other


async def test_only_a_run_that_did_not_succeed_is_redriven(store: MapRunStore) -> None:
    """Decision 0377: ``redrive`` moves a FAILED or ABORTED run back to RUNNING, one more
    redrive, its date; ``save`` still refuses an ABORTED one; a RUNNING or SUCCEEDED run, or
    another tenant's, is not redriven."""
    tenant = "000000000001"
    failed, aborted, succeeded = run("f"), run("a"), run("s")
    for one in (failed, aborted, succeeded):
        await store.save(one)
    assert await store.redrive(tenant, failed.arn, T0 + 5) is None  # RUNNING
    await store.save(failed.changed(status="FAILED", stopped=T0 + 9))
    await store.save(succeeded.changed(status="SUCCEEDED", stopped=T0 + 9))
    await abort_running(store, tenant, EXECUTION, T0 + 9)
    assert (await store.save(aborted.changed(status="SUCCEEDED"))).status == "ABORTED"

    assert await store.redrive("000000000002", failed.arn, T0 + 10) is None
    assert await store.redrive(tenant, succeeded.arn, T0 + 10) is None
    again = await store.redrive(tenant, failed.arn, T0 + 10)
    assert again is not None
    assert (again.status, again.stopped, again.redrive_count, again.redrive_date) == (
        "RUNNING", None, 1, T0 + 10)  # fmt: skip
    assert again.item_counts == failed.item_counts and again.max_concurrency == 5
    # Its progress written again keeps the redrive's count and date.
    kept = await store.save(again.changed(status="FAILED", stopped=T0 + 11, redrive_count=0))
    assert (kept.redrive_count, kept.redrive_date) == (1, T0 + 10)
    assert await store.get(tenant, failed.arn) == kept
    twice = await store.redrive(tenant, failed.arn, T0 + 20)
    assert twice is not None and (twice.redrive_count, twice.redrive_date) == (2, T0 + 20)
    moved = await store.redrive(tenant, aborted.arn, T0 + 10)
    assert moved is not None and moved.status == "RUNNING" and moved.redrive_count == 1
    assert (await store.save(moved.changed(status="SUCCEEDED"))).status == "SUCCEEDED"
    described = await store.get(tenant, aborted.arn)
    assert described is not None and described.described()["redriveCount"] == 1
