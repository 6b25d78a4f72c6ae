"""The Batch Operations job store (decision 0152's addendum) on SQLite and PostgreSQL: jobs
created once per client token, listed newest first by status and page, moved only from the
statuses a move allows, their tasks' results counted once, claimed by one worker per lease —
and two gateways claiming at once on the real PostgreSQL never working one job together."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import Database, open_database
from andromede.storage.batch_jobs import (
    BatchJob,
    BatchJobStore,
    IdempotencyConflict,
    JobStatus,
    ManifestLine,
    TaskResult,
)
from support.store_backends import SQL_BACKENDS, sql_database

NOW = datetime(2026, 12, 5, 10, tzinfo=UTC)
LEASE = timedelta(seconds=60)
DOC = {"operation": {"name": "S3DeleteObjectTagging"}, "role_arn": "r"}


@pytest.fixture(params=SQL_BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def job(job_id: str, *, token: str | None = None, priority: int = 1, minute: int = 0) -> BatchJob:
    return BatchJob(
        job_id=job_id,
        tenant_id="t1",
        client_token=token or job_id,
        status=JobStatus.NEW,
        priority=priority,
        document=DOC,
        created_at=NOW + timedelta(minutes=minute),
    )


async def test_create_get_and_the_client_token(database: Database) -> None:
    store = BatchJobStore(database)
    first = await store.create(job("j1", token="tok"))
    assert (await store.create(job("j2", token="tok"))).job_id == first.job_id
    with pytest.raises(IdempotencyConflict):
        await store.create(job("j3", token="tok", priority=9))
    got = await store.get("t1", "j1")
    assert got is not None and got.document == DOC and got.status is JobStatus.NEW
    assert await store.get("t2", "j1") is None


async def test_list_by_status_and_page(database: Database) -> None:
    store = BatchJobStore(database)
    for n in range(5):
        await store.create(job(f"j{n}", minute=n))
    await store.transition("j3", [JobStatus.NEW], JobStatus.CANCELLED, now=NOW)
    page = await store.list_jobs("t1", [], after=None, limit=2)
    assert [j.job_id for j in page] == ["j4", "j3"]
    marker = (page[-1].created_at, page[-1].job_id)
    rest = await store.list_jobs("t1", [], after=marker, limit=10)
    assert [j.job_id for j in rest] == ["j2", "j1", "j0"]
    cancelled = await store.list_jobs("t1", [JobStatus.CANCELLED], after=None, limit=10)
    assert [(j.job_id, j.terminated_at) for j in cancelled] == [("j3", NOW)]
    assert await store.list_jobs("t2", [], after=None, limit=10) == []


async def test_moves_only_from_the_allowed_statuses(database: Database) -> None:
    store = BatchJobStore(database)
    await store.create(job("j1"))
    assert not await store.transition("j1", [JobStatus.SUSPENDED], JobStatus.READY, now=NOW)
    assert await store.transition("j1", [JobStatus.NEW], JobStatus.READY, now=NOW, total_tasks=2)
    assert await store.set_priority("t1", "j1", 7)
    got = await store.get("t1", "j1")
    assert got is not None and (got.status, got.total_tasks, got.priority) == (
        JobStatus.READY, 2, 7,
    )  # fmt: skip


async def test_results_are_counted_once(database: Database) -> None:
    store = BatchJobStore(database)
    await store.create(job("j1"))
    await store.add_tasks("j1", [ManifestLine("b", f"k{n}", None) for n in range(3)])
    pending = await store.pending_tasks("j1", 2)
    assert [seq for seq, _ in pending] == [0, 1]
    results = [TaskResult(0, "succeeded"), TaskResult(1, "failed", "NoSuchKey", 404, "gone")]
    await store.record("j1", results)
    await store.record("j1", results)  # a batch run again after a lost lease
    got = await store.get("t1", "j1")
    assert got is not None and (got.succeeded, got.failed) == (1, 1)
    assert [seq for seq, _ in await store.pending_tasks("j1", 10)] == [2]
    failed = await store.results("j1", failed_only=True, after=-1, limit=10)
    assert [(line.key, r.error_code, r.http_status) for line, r in failed] == [
        ("k1", "NoSuchKey", 404)
    ]


async def test_the_most_urgent_job_is_claimed_once_per_lease(database: Database) -> None:
    store = BatchJobStore(database)
    await store.create(job("low", priority=1))
    await store.create(job("high", priority=5, minute=1))
    await store.create(job("done", priority=9))
    await store.transition("done", [JobStatus.NEW], JobStatus.COMPLETE, now=NOW)
    first = await store.claim(NOW, LEASE)
    second = await store.claim(NOW, LEASE)
    assert (first and first.job_id, second and second.job_id) == ("high", "low")
    assert await store.claim(NOW, LEASE) is None
    await store.release("high")
    again = await store.claim(NOW, LEASE)
    assert again is not None and again.job_id == "high"
    assert await store.claim(NOW + LEASE, LEASE) is not None  # a lapsed lease


async def test_two_gateways_never_claim_one_job(postgres_url: str) -> None:
    one, other = open_database(postgres_url), open_database(postgres_url)
    try:
        for n in range(20):
            await BatchJobStore(one).create(job(f"j{n:02}"))
        stores = [BatchJobStore(one), BatchJobStore(other)]

        async def drain(store: BatchJobStore) -> list[str]:
            taken: list[str] = []
            while claimed := await store.claim(NOW, LEASE):
                taken.append(claimed.job_id)
                await asyncio.sleep(0)
            return taken

        first, second = await asyncio.gather(*(drain(s) for s in stores))
    finally:
        await one.close()
        await other.close()
    assert set(first).isdisjoint(second)
    assert sorted(first + second) == [f"j{n:02}" for n in range(20)]


async def test_tags_are_replaced_and_a_retried_create_still_answers_its_job(
    database: Database,
) -> None:
    store = BatchJobStore(database)
    tagged = BatchJob("j1", "t1", "tok", JobStatus.NEW, 1, {**DOC, "tags": [["a", "1"]]}, NOW)
    await store.create(tagged)
    assert await store.set_tags("t1", "j1", [["b", "2"], ["c", ""]])
    got = await store.get("t1", "j1")
    assert got is not None and got.document["tags"] == [["b", "2"], ["c", ""]]
    assert got.document["operation"] == DOC["operation"]
    # The same CreateJob again (its first tags) answers the job, tagged since.
    assert (await store.create(dataclasses.replace(tagged, job_id="j2"))).job_id == "j1"
    assert not await store.set_tags("t2", "j1", [])  # another account's job
    assert not await store.set_tags("t1", "nope", [])
    assert await store.set_tags("t1", "j1", [])
    got = await store.get("t1", "j1")
    assert got is not None and got.document["tags"] == []


async def test_tasks_are_added_page_by_page(database: Database) -> None:
    store = BatchJobStore(database)
    await store.create(job("j1"))
    await store.add_tasks("j1", [ManifestLine("b", "stale", None)])
    # A preparation that starts again replaces what the first left, then appends its pages.
    await store.add_tasks("j1", [ManifestLine("b", f"k{i}", None) for i in range(3)])
    await store.add_tasks("j1", [ManifestLine("b", f"k{i}", "v") for i in range(3, 5)], first_seq=3)
    pending = await store.pending_tasks("j1", 10)
    assert [(seq, line.key) for seq, line in pending] == [(i, f"k{i}") for i in range(5)]
    assert pending[4][1].version_id == "v"
