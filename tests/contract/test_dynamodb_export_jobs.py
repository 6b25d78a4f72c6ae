"""Decision 0261's export and import jobs over every store (memory, SQLite, PostgreSQL):
saved and updated, one job per client token and account (the token's job answered, another
account's token its own), listed by table in ARN order after a page's last, the unfinished
ones found (a restart marks them FAILED), a closed tenant forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.dynamodb.exports import ExportJob, ExportStore, ImportJob, ImportSource, JobStatus
from andromede.dynamodb.exports_memory import MemoryExportStore
from andromede.dynamodb.exports_sql import SqlExportStore
from support.store_backends import BACKENDS, backend_database

TABLE = "arn:aws:dynamodb:eu-fr-1:111111111111:table/orders"


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ExportStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryExportStore() if db is None else SqlExportStore(db)


def export(export_id: str, token: str, tenant_id: str = "t1", table: str = TABLE) -> ExportJob:
    return ExportJob(tenant_id, export_id, table, "tid", 1_800_000_000_000, "b", "p", None,
                     token, 1_800_000_000_500)  # fmt: skip


def import_job(import_id: str, token: str, tenant_id: str = "t1") -> ImportJob:
    source = ImportSource("b", "in/", None, "CSV", "GZIP", ";", ("pk", "colour"))
    return ImportJob(tenant_id, import_id, TABLE, "tid", source, token, 1_800_000_000_000,
                     '{"TableName": "orders"}')  # fmt: skip


async def test_exports_saved_once_per_token_listed_and_updated(store: ExportStore) -> None:
    first = export("1800000000000-00000001", "a")
    assert await store.put_export(first) == first
    assert await store.put_export(export("1800000000000-00000002", "a")) == first
    other = export("1800000000000-00000003", "a", tenant_id="t2")
    assert await store.put_export(other) == other
    second = export("1800000000000-00000004", "b", table=TABLE + "x")
    await store.put_export(second)
    assert [j.arn for j in await store.list_exports("t1", None, None, 10)] == [
        first.arn,
        second.arn,
    ]
    assert await store.list_exports("t1", TABLE, None, 10) == [first]
    assert await store.list_exports("t1", None, first.arn, 10) == [second]
    assert await store.list_exports("t1", None, None, 1) == [first]
    done = dataclasses.replace(first, status=JobStatus.COMPLETED, ended=2, item_count=5)
    assert await store.put_export(done) == done
    assert await store.get_export("t1", first.arn) == done
    assert await store.get_export("t2", first.arn) is None
    exports, imports = await store.unfinished()
    assert sorted(j.arn for j in exports) == sorted([other.arn, second.arn]) and imports == []


async def test_imports_round_trip_and_the_tenant_is_forgotten(store: ExportStore) -> None:
    job = import_job("1800000000000-0000000a", "x")
    assert await store.put_import(job) == job
    assert await store.put_import(import_job("1800000000000-0000000b", "x")) == job
    assert await store.get_import("t1", job.arn) == job
    assert await store.import_by_token("t1", "x") == job
    assert await store.import_by_token("t2", "x") is None
    assert await store.list_imports("t1", TABLE, None, 5) == [job]
    assert (await store.unfinished())[1] == [job]
    failed = dataclasses.replace(job, status=JobStatus.FAILED, failure_code="S3AccessDenied")
    await store.put_import(failed)
    assert await store.get_import("t1", job.arn) == failed
    assert (await store.unfinished())[1] == []
    await store.put_export(export("1800000000000-00000001", "a"))
    await store.put_import(import_job("1800000000000-0000000c", "y", tenant_id="t2"))
    assert await store.forget_tenant("t1") == 2
    assert await store.list_imports("t1", None, None, 5) == []
    assert len(await store.list_imports("t2", None, None, 5)) == 1
