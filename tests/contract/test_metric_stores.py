"""Decision 0172's metrics store over every implementation (memory, SQLite, PostgreSQL):
periods merged on each write (within a batch and across writes), reads by series, resolution
and time range, the series listed by account with their filters and pages, the roll-up into
coarser periods and the forgetting of series not put for long."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.metrics.model import Aggregate, Series
from andromede.metrics.store import MemoryMetricStore, MetricStore, Point
from andromede.metrics.store_sql import SqlMetricStore
from support.store_backends import BACKENDS, backend_database

T0 = 1_796_000_000 - 1_796_000_000 % 3600  # an hour's start


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MetricStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryMetricStore() if db is None else SqlMetricStore(db)


def series(tenant: str = "t1", name: str = "Latency", **dims: str) -> Series:
    return Series.of(tenant, "App", name, dims.items())


def point(s: Series, start: int, *values: float, resolution: int = 60, unit: str = "None") -> Point:
    return Point(s, resolution, start, unit, Aggregate.of_values((v, 1.0) for v in values))


async def test_periods_merge_within_a_batch_and_across_writes(store: MetricStore) -> None:
    s = series(Host="a")
    await store.put([point(s, T0, 1.0, 2.0), point(s, T0, 10.0)], now=T0)
    await store.put([point(s, T0, 3.0), point(s, T0 + 60, 7.0)], now=T0 + 60)
    got = await store.read(s, [60], T0, T0 + 3600)
    assert [(p.start, p.aggregate.count, p.aggregate.total) for p in got] == [
        (T0, 4.0, 16.0),
        (T0 + 60, 1.0, 7.0),
    ]
    first = got[0].aggregate
    assert (first.minimum, first.maximum) == (1.0, 10.0)
    assert first.histogram is not None and sum(first.histogram.values()) == 4.0
    # A statistic set has no histogram: merged in, the period's percentiles are unknown.
    stats = Point(s, 60, T0, "None", Aggregate(2, 4, 1, 3, None))
    await store.put([stats], now=T0 + 60)
    [merged] = await store.read(s, [60], T0, T0 + 60)
    assert merged.aggregate.count == 6.0 and merged.aggregate.histogram is None


async def test_reads_are_by_series_resolution_range_and_unit(store: MetricStore) -> None:
    a, b, other = series(Host="a"), series(Host="b"), series("t2", Host="a")
    await store.put(
        [
            point(a, T0, 1.0),
            point(a, T0, 5.0, unit="Seconds"),
            point(a, T0 + 1, 2.0, resolution=1),
            point(b, T0, 3.0),
            point(other, T0, 4.0),
            point(a, T0 + 3600, 9.0),
        ],
        now=T0,
    )
    got = await store.read(a, [1, 60], T0, T0 + 3600)
    assert [(p.resolution, p.start, p.unit, p.aggregate.total) for p in got] == [
        (60, T0, "None", 1.0),
        (60, T0, "Seconds", 5.0),
        (1, T0 + 1, "None", 2.0),
    ]
    assert [p.aggregate.total for p in await store.read(other, [60], T0, T0 + 60)] == [4.0]
    assert await store.read(series("t3", Host="a"), [60], T0, T0 + 60) == []


async def test_series_are_listed_by_account_with_filters_and_pages(store: MetricStore) -> None:
    names = ["A", "B", "C", "D"]
    await store.put([point(series(name=n, Host="h"), T0, 1.0) for n in names], now=T0)
    await store.put([point(series(name="E"), T0, 1.0)], now=T0 + 7200)
    await store.put([point(series("t2", name="Z"), T0, 1.0)], now=T0)
    first = await store.list_series("t1", None, None, None, None, 2)
    assert [s.series.name for s in first] == ["A", "B"]
    key = ("App", "B", first[-1].series.dimensions_hash)
    rest = await store.list_series("t1", None, None, key, None, 10)
    assert [s.series.name for s in rest] == ["C", "D", "E"]
    assert rest[-1].last_put == T0 + 7200
    assert dict(rest[0].series.dimensions) == {"Host": "h"}
    assert [s.series.name for s in await store.list_series("t1", "App", "C", None, None, 9)] == [
        "C"
    ]
    recent = await store.list_series("t1", None, None, None, T0 + 3600, 9)
    assert [s.series.name for s in recent] == ["E"]
    assert await store.list_series("t1", "Other", None, None, None, 9) == []


async def test_roll_up_merges_into_coarser_periods_and_forgets(store: MetricStore) -> None:
    s = series(Host="a")
    minutes = [point(s, T0 + 60 * i, float(i)) for i in range(10)]
    await store.put([*minutes, point(s, T0 + 3, 100.0, resolution=1)], now=T0)
    # The 1 s period rolls into its minute; the minutes before T0+300 into one 5 min period.
    assert await store.roll_up(1, 60, T0 + 60, 100) == 1
    assert await store.roll_up(60, 300, T0 + 300, 3) == 3
    assert await store.roll_up(60, 300, T0 + 300, 3) == 2
    five = await store.read(s, [300], T0, T0 + 3600)
    assert [(p.start, p.aggregate.count, p.aggregate.total) for p in five] == [
        (T0, 6.0, 0 + 1 + 2 + 3 + 4 + 100.0)
    ]
    assert len(await store.read(s, [60], T0, T0 + 3600)) == 5
    # The coarsest resolution is deleted past its retention.
    assert await store.roll_up(300, None, T0 + 300, 100) == 1
    assert await store.read(s, [300], T0, T0 + 3600) == []
    assert await store.forget_series(T0 + 1, 100) == 1
    assert await store.list_series("t1", None, None, None, None, 9) == []
