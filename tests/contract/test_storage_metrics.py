"""Decision 0181's S3 storage metrics over every store: a bucket's figures in one read
(memory, SQLite, PostgreSQL), the daily job's claim (SQLite, PostgreSQL) and the job itself,
from the metadata store into the metrics store."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from andromede.db.database import Database
from andromede.metrics.model import Series
from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.service import MetricsService
from andromede.metrics.store_sql import SqlMetricStore
from andromede.storage.model import BucketStorage, VersioningStatus
from andromede.storage.store import MetadataStore
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.storage.store_sql import SqlMetadataStore
from andromede.storage_metrics import StorageMetrics
from contract.test_metadata_store import bucket, part, record, upload
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DAY = int(datetime(2026, 1, 2, tzinfo=UTC).timestamp())


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetadataStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMetadataStore() if db is None else SqlMetadataStore(db)


@pytest.fixture(params=SQL_BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as opened:
        yield opened


def s3_series(name: str, storage: str) -> Series:
    return Series.of("t1", "AWS/S3", name, [("BucketName", "b1"), ("StorageType", storage)])


async def fill(store: MetadataStore) -> None:
    """b1: two current objects (3 + 7 bytes), a noncurrent version (3), a delete marker, an
    incomplete upload of two parts (5 + 5); b2: one object, not b1's."""
    await store.create_bucket(bucket())
    await store.create_bucket(bucket("b2"))
    await store.put_object(record("a"))
    await store.put_object(record("b", size=7))
    await store.put_object(record("other", bucket="b2", size=100))
    await store.set_bucket_versioning("b1", VersioningStatus.ENABLED)
    await store.put_object_version(record("a", blob="a-2"))  # "a"'s null version noncurrent
    await store.put_delete_marker("b1", "b", owner_id="o-t1", now=T0 + timedelta(1))
    await store.create_upload(upload("u1"))
    await store.put_part(part("u1", 1))
    await store.put_part(part("u1", 2))


async def test_a_buckets_figures_count_versions_markers_and_parts(store: MetadataStore) -> None:
    await fill(store)
    # Objects: a (current), a (null, noncurrent), b (noncurrent), b's marker, two parts.
    assert await store.bucket_storage("b1") == BucketStorage(6, 3 + 3 + 7 + 0 + 5 + 5)
    assert await store.bucket_storage("b2") == BucketStorage(1, 100)
    assert await store.bucket_storage("nothing") == BucketStorage()


async def test_one_gateway_claims_a_slot_until_done_or_its_lease_ends(db: Database) -> None:
    runs = SqlMetricRuns(db)
    assert await runs.claim("job", 5, "g1", now=100, lease=60)
    assert not await runs.claim("job", 5, "g2", now=110, lease=60)  # g1 holds it
    assert await runs.claim("job", 5, "g2", now=161, lease=60)  # g1's lease ran out
    await runs.done("job", 5, "g1")  # no longer g1's: not marked
    assert await runs.claim("job", 5, "g1", now=222, lease=60)
    await runs.done("job", 5, "g1")
    assert not await runs.claim("job", 5, "g2", now=300, lease=60)  # done
    assert not await runs.claim("job", 4, "g2", now=300, lease=60)  # an older slot too
    assert await runs.claim("job", 6, "g2", now=300, lease=60)
    assert await runs.claim("other", 5, "g2", now=300, lease=60)  # jobs apart


async def test_the_daily_job_writes_each_bucket_once_a_day_at_midnight(db: Database) -> None:
    objects_store = SqlMetadataStore(db)
    await fill(objects_store)
    metrics_store = SqlMetricStore(db)
    metrics = MetricsService(metrics_store)
    now = [T0]

    def job(holder: str) -> StorageMetrics:
        return StorageMetrics(
            objects_store, metrics, SqlMetricRuns(db), holder=holder, hour=2, clock=lambda: now[0]
        )

    first, second = job("g1"), job("g2")
    assert await first.run_once() == 4  # two metrics of two buckets
    assert await second.run_once() is None  # the day is done
    assert await first.run_once() is None
    size = Series.of(
        "t1",
        "AWS/S3",
        "BucketSizeBytes",
        [("BucketName", "b1"), ("StorageType", "StandardStorage")],
    )
    count = Series.of(
        "t1",
        "AWS/S3",
        "NumberOfObjects",
        [("BucketName", "b1"), ("StorageType", "AllStorageTypes")],
    )
    [point] = await metrics_store.read(size, [3600], DAY, DAY + 86400)
    assert (point.start, point.unit, point.aggregate.maximum) == (DAY, "Bytes", 23.0)
    [point] = await metrics_store.read(count, [3600], DAY, DAY + 86400)
    assert (point.unit, point.aggregate.maximum, point.aggregate.count) == ("Count", 6.0, 1.0)
    # Before 02:00 UTC the next day, still that day's slot; from then, the next day's.
    now[0] = T0 + timedelta(hours=22, minutes=50)
    assert await second.run_once() is None
    now[0] = T0 + timedelta(hours=23)
    assert await second.run_once() == 4
    points = await metrics_store.read(size, [3600], DAY, DAY + 2 * 86400)
    assert [p.start for p in points] == [DAY, DAY + 86400]
    other = dataclasses.replace(size, tenant_id="t2")
    assert await metrics_store.read(other, [3600], DAY, DAY + 2 * 86400) == []
