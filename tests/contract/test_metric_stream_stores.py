"""Decision 0233's metric stream store over every implementation (memory, SQLite, PostgreSQL):
a stream put and read back whole (filters, statistics, tags, dates to the microsecond),
replaced in place, bounded per account for new streams only; paged by name; started and
stopped by name (the missing names no error); every account's running streams listed; deleted;
a closed account's streams forgotten. The minutes' claims (``metric_runs``, and their memory
twin): claimed, held under a lease, done in order, the last done told."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from andromede.metrics.runs_sql import SqlMetricRuns
from andromede.metrics.stream_minutes import MemoryMinuteRuns, MinuteRuns
from andromede.metrics.streams import (
    RUNNING,
    STOPPED,
    MemoryMetricStreamStore,
    MetricStream,
    MetricStreamStore,
    StatisticsConfiguration,
    StreamFilter,
)
from andromede.metrics.streams_sql import SqlMetricStreamStore
from support.store_backends import BACKENDS, backend_database

T0 = datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=UTC)
T1 = datetime(2026, 12, 6, 13, 0, 0, 654321, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetricStreamStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMetricStreamStore() if db is None else SqlMetricStreamStore(db)


def stream(name: str, tenant: str = "t1", **extra: object) -> MetricStream:
    values: dict[str, object] = {
        "tenant_id": tenant,
        "name": name,
        "firehose_arn": f"arn:aws:firehose:eu-fr-1:{tenant}:deliverystream/m",
        "role_arn": f"arn:aws:iam::{tenant}:role/r",
        "output_format": "json",
        "state": RUNNING,
        "created": T0,
        "updated": T0,
        **extra,
    }
    return MetricStream(**values)  # type: ignore[arg-type]


async def test_put_get_replace_and_bound(store: MetricStreamStore) -> None:
    full = stream(
        "s",
        include=(StreamFilter("App", ("Latency", "Errors é")), StreamFilter("AWS/EC2")),
        statistics=(StatisticsConfiguration((("App", "Latency"),), ("p99", "p50")),),
        tags=(("env", "prod"), ("team", "ops")),
    )
    assert await store.put(full, 2)
    assert await store.get("t1", "s") == full
    assert await store.get("t2", "s") is None
    changed = replace(full, include=(), exclude=(StreamFilter("AWS/S3"),), updated=T1)
    assert await store.put(changed, 1)  # a replacement is no new stream
    assert await store.get("t1", "s") == changed
    assert await store.put(stream("t"), 2)
    assert not await store.put(stream("u"), 2)
    assert await store.get("t1", "u") is None
    assert await store.put(stream("u", tenant="t2"), 2)


async def test_pages_states_running_delete_forget(store: MetricStreamStore) -> None:
    for name in ("b", "a", "C", "c"):
        assert await store.put(stream(name), 10)
    assert await store.put(stream("z", tenant="t2"), 10)
    assert [s.name for s in await store.page("t1", "", 10)] == ["C", "a", "b", "c"]
    assert [s.name for s in await store.page("t1", "a", 2)] == ["b", "c"]
    await store.set_state("t1", ["a", "c", "missing"], STOPPED, T1)
    stopped = await store.get("t1", "a")
    assert stopped is not None and (stopped.state, stopped.updated) == (STOPPED, T1)
    assert [(s.tenant_id, s.name) for s in await store.running()] == [
        ("t1", "C"), ("t1", "b"), ("t2", "z"),
    ]  # fmt: skip
    await store.set_state("t1", ["a"], RUNNING, T1)
    assert len(await store.running()) == 4
    assert await store.delete("t1", "a")
    assert not await store.delete("t1", "a")
    assert await store.forget_tenant("t1") == 3
    assert await store.page("t1", "", 10) == []
    assert [s.name for s in await store.running()] == ["z"]


@pytest.fixture(params=BACKENDS)
async def runs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MinuteRuns]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMinuteRuns() if db is None else SqlMetricRuns(db)


async def test_minutes_claimed_under_a_lease_and_done_in_order(runs: MinuteRuns) -> None:
    assert await runs.last_done("metric-streams") is None
    assert await runs.claim("metric-streams", 100, "g1", now=6000, lease=300)
    assert not await runs.claim("metric-streams", 100, "g2", now=6010, lease=300)
    assert await runs.last_done("metric-streams") is None
    await runs.done("metric-streams", 100, "g1")
    assert await runs.last_done("metric-streams") == 100
    assert not await runs.claim("metric-streams", 100, "g2", now=6020, lease=300)
    assert await runs.claim("metric-streams", 101, "g2", now=6070, lease=300)
    # g2 died: its minute is another's once the lease ran out, and done by it.
    assert await runs.claim("metric-streams", 101, "g1", now=6371, lease=300)
    await runs.done("metric-streams", 101, "g2")  # no longer g2's: not marked
    assert await runs.last_done("metric-streams") == 100
    await runs.done("metric-streams", 101, "g1")
    assert await runs.last_done("metric-streams") == 101
    assert await runs.last_done("other") is None
