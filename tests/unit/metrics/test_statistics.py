"""The metrics core and service (decision 0172): aggregates and their merging, statistics and
percentiles, periods at every stored resolution, the retention roll-up, GetMetricData's pages
and ListMetrics' filters and pages — over the in-memory store."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from andromede.metrics.errors import (
    InvalidNextToken,
    InvalidParameterCombination,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.metrics.model import Aggregate, dimensions_hash, percentile_of, statistic
from andromede.metrics.service import (
    DataQuery,
    DimensionFilter,
    MetricDatum,
    MetricLimits,
    MetricsService,
)
from andromede.metrics.store import MemoryMetricStore

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def service(now: datetime = NOW, **limits: int) -> tuple[MetricsService, MemoryMetricStore]:
    store = MemoryMetricStore()
    return MetricsService(store, limits=MetricLimits(**limits), clock=lambda: now), store


def test_an_aggregate_of_values_and_counts() -> None:
    a = Aggregate.of_values([(1.0, 2.0), (4.0, 1.0), (0.0, 1.0)])
    assert (a.count, a.total, a.minimum, a.maximum) == (4.0, 6.0, 0.0, 4.0)
    assert statistic(a, "Average") == 1.5 and statistic(a, "SampleCount") == 4.0
    assert statistic(a, "p100") == 4.0
    assert statistic(a, "p25") == 0.0  # the zero bucket
    assert Aggregate.of_values([(-1.0, 1.0)]).histogram is None  # negatives: no percentiles
    assert statistic(Aggregate(2, 4, 1, 3, None), "p50") is None
    with pytest.raises(InvalidParameterValue):
        statistic(a, "tm99")


@given(st.lists(st.floats(min_value=0.001, max_value=1e9), min_size=1, max_size=200))
def test_percentiles_are_within_ten_percent_of_the_exact_rank(values: list[float]) -> None:
    a = Aggregate.of_values((v, 1.0) for v in values)
    ordered = sorted(values)
    for p in (50.0, 90.0, 99.0):
        got = statistic(a, f"p{p:g}")
        assert got is not None
        exact = ordered[max(math.ceil(len(ordered) * p / 100) - 1, 0)]
        assert exact / 1.1 <= got <= exact * 1.1


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=30),
    st.integers(min_value=1, max_value=29),
)
def test_merging_in_parts_equals_aggregating_at_once(values: list[float], cut: int) -> None:
    whole = Aggregate.of_values((v, 1.0) for v in values)
    left = Aggregate.of_values((v, 1.0) for v in values[:cut])
    right = values[cut:]
    merged = left if not right else left.merged(Aggregate.of_values((v, 1.0) for v in right))
    assert merged.count == whole.count and merged.histogram == whole.histogram
    assert (merged.minimum, merged.maximum) == (whole.minimum, whole.maximum)
    assert math.isclose(merged.total, whole.total, rel_tol=1e-9, abs_tol=1e-6)


def test_percentile_names_and_dimension_order() -> None:
    assert percentile_of("p99.9") == 99.9 and percentile_of("p100") == 100.0
    assert percentile_of("p101") is None and percentile_of("Sum") is None
    assert dimensions_hash([("b", "1"), ("a", "2")]) == dimensions_hash([("a", "2"), ("b", "1")])


async def test_statistics_per_period_and_unit() -> None:
    metrics, _ = service()
    at = NOW - timedelta(minutes=10)
    await metrics.put_metric_data(
        "t1",
        "App",
        [
            MetricDatum("M", (("H", "a"),), at, value=1.0, unit="Count"),
            MetricDatum("M", (("H", "a"),), at + timedelta(seconds=30), value=3.0, unit="Count"),
            MetricDatum("M", (("H", "a"),), at + timedelta(minutes=1), value=5.0, unit="Count"),
            MetricDatum("M", (("H", "a"),), at, value=100.0, unit="Seconds"),
            MetricDatum("M", (("H", "b"),), at, value=7.0, unit="Count"),
        ],
    )

    async def read(period: int, unit: str | None = None) -> list[tuple[int, str, float]]:
        points = await metrics.get_metric_statistics(
            "t1", "App", "M", [("H", "a")], at, at + timedelta(minutes=5), period,
            ["Sum"], [], unit,
        )  # fmt: skip
        return [(p.timestamp - int(at.timestamp()), p.unit, p.statistics["Sum"]) for p in points]

    assert await read(60) == [(0, "Count", 4.0), (0, "Seconds", 100.0), (60, "Count", 5.0)]
    assert await read(300, "Count") == [(0, "Count", 9.0)]
    # Another account's series of the same name is another series.
    assert (
        await metrics.get_metric_statistics(
            "t2", "App", "M", [("H", "a")], at, NOW, 60, ["Sum"], [], None
        )
        == []
    )


async def test_high_resolution_points_count_in_their_minute() -> None:
    metrics, _ = service()
    at = NOW - timedelta(minutes=3)
    data = [
        MetricDatum("M", timestamp=at + timedelta(seconds=s), value=float(s), resolution=1)
        for s in range(0, 20, 5)
    ]
    await metrics.put_metric_data("t1", "App", data)
    end = at + timedelta(minutes=1)
    ten = await metrics.get_metric_statistics("t1", "App", "M", [], at, end, 10, ["Sum"], [], None)
    assert [p.statistics["Sum"] for p in ten] == [5.0, 25.0]
    one = await metrics.get_metric_statistics("t1", "App", "M", [], at, end, 60, ["Sum"], [], None)
    assert [p.statistics["Sum"] for p in one] == [30.0]


@pytest.mark.parametrize(
    ("datum", "error"),
    [
        (MetricDatum("M"), MissingParameter),
        (MetricDatum("", value=1), MissingParameter),
        (MetricDatum("M", value=math.inf), InvalidParameterValue),
        (MetricDatum("M", value=1e200), InvalidParameterValue),
        (MetricDatum("M", value=1, resolution=5), InvalidParameterValue),
        (MetricDatum("M", values=(1.0, 2.0), counts=(1.0,)), InvalidParameterValue),
        (MetricDatum("M", values=tuple(float(i) for i in range(4))), InvalidParameterValue),
        (MetricDatum("M", value=1, statistics=(1, 1, 1, 1)), InvalidParameterCombination),
        (MetricDatum("M", statistics=(0, 1, 1, 1)), InvalidParameterValue),
        (MetricDatum("M", statistics=(1, 1, 2, 1)), InvalidParameterValue),
        (MetricDatum("M", (("a", "1"), ("a", "2")), value=1), InvalidParameterValue),
        (MetricDatum("M", (("a", "1"), ("b", "1"), ("c", "1")), value=1), InvalidParameterValue),
        (MetricDatum("M", (("a", "x" * 1025),), value=1), InvalidParameterValue),
        (MetricDatum("M", timestamp=NOW + timedelta(hours=3), value=1), InvalidParameterValue),
        (MetricDatum("M", timestamp=NOW - timedelta(days=15), value=1), InvalidParameterValue),
        (MetricDatum("M", value=1, unit="Furlongs"), InvalidParameterValue),
    ],
)
async def test_bad_data_is_refused(datum: MetricDatum, error: type[Exception]) -> None:
    metrics, store = service(max_values=3, max_dimensions=2)
    with pytest.raises(error):
        await metrics.put_metric_data("t1", "App", [datum])
    assert store.points == {}


async def test_limits_of_a_put_and_of_the_namespaces() -> None:
    metrics, _ = service(max_metrics=2)
    with pytest.raises(InvalidParameterValue):
        await metrics.put_metric_data("t1", "App", [MetricDatum("M", value=1)] * 3)
    for namespace in ("AWS/SQS", ":x", "x" * 256):
        with pytest.raises(InvalidParameterValue):
            await metrics.put_metric_data("t1", namespace, [MetricDatum("M", value=1)])
    with pytest.raises(MissingParameter):
        await metrics.put_metric_data("t1", None, [MetricDatum("M", value=1)])


async def test_get_metric_statistics_checks_its_request() -> None:
    metrics, _ = service(max_datapoints=10)
    start = NOW - timedelta(hours=1)

    async def ask(period: int, stats: list[str], extended: list[str] = []) -> None:  # noqa: B006
        await metrics.get_metric_statistics(
            "t1", "App", "M", [], start, NOW, period, stats, extended, None
        )

    with pytest.raises(InvalidParameterCombination):
        await ask(60, ["Sum"])  # 60 datapoints > 10
    await ask(600, ["Sum"])
    for period in (0, 7, 90):
        with pytest.raises(InvalidParameterValue):
            await ask(period, ["Sum"])
    with pytest.raises(MissingParameter):
        await ask(600, [])
    with pytest.raises(InvalidParameterValue):
        await ask(600, ["Median"])
    with pytest.raises(InvalidParameterValue):
        await ask(600, [], ["p200"])
    with pytest.raises(InvalidParameterCombination):
        await ask(600, ["Sum"], ["p50"])


async def test_a_statistic_set_of_known_values_keeps_its_percentiles() -> None:
    metrics, _ = service()
    at = NOW - timedelta(minutes=5)
    await metrics.put_metric_data(
        "t1",
        "App",
        [
            MetricDatum("Equal", timestamp=at, statistics=(4, 20, 5, 5)),
            MetricDatum("One", timestamp=at, statistics=(1, 7, 7, 7)),
            MetricDatum("Spread", timestamp=at, statistics=(2, 8, 3, 5)),
        ],
    )
    end = at + timedelta(minutes=1)
    got = {}
    for name in ("Equal", "One", "Spread"):
        [point] = await metrics.get_metric_statistics(
            "t1", "App", name, [], at, end, 60, [], ["p50"], None
        )
        got[name] = point.extended.get("p50")
    assert got == {"Equal": 5.0, "One": 7.0, "Spread": None}


async def test_get_metric_data_pages_and_scans() -> None:
    metrics, _ = service()
    start = NOW - timedelta(minutes=5)
    await metrics.put_metric_data(
        "t1",
        "App",
        [MetricDatum("A", timestamp=start + timedelta(minutes=i), value=i) for i in range(5)]
        + [MetricDatum("B", timestamp=start, value=10.0)],
    )
    queries = [
        DataQuery("a", "App", "A", (), 60, "Sum"),
        DataQuery("hidden", "App", "B", (), 60, "Sum", return_data=False),
        DataQuery("b", "App", "B", (), 60, "Maximum", label="bee"),
    ]
    results, token = await metrics.get_metric_data(
        "t1", queries, start, NOW, scan_by="TimestampAscending", max_datapoints=3
    )
    assert [(r.id, r.values, r.status) for r in results] == [("a", [0.0, 1.0, 2.0], "PartialData")]
    assert token is not None
    results, token = await metrics.get_metric_data(
        "t1", queries, start, NOW, scan_by="TimestampAscending", max_datapoints=3, next_token=token
    )
    assert [(r.id, r.label, r.values) for r in results] == [
        ("a", "A", [3.0, 4.0]),
        ("b", "bee", [10.0]),
    ]
    assert token is None
    results, _ = await metrics.get_metric_data("t1", queries[:1], start, NOW)
    assert results[0].values == [4.0, 3.0, 2.0, 1.0, 0.0]  # TimestampDescending by default
    with pytest.raises(InvalidNextToken):
        await metrics.get_metric_data("t1", queries, start, NOW, next_token="!!")
    with pytest.raises(InvalidParameterValue):
        await metrics.get_metric_data("t1", [queries[0], queries[0]], start, NOW)
    with pytest.raises(InvalidParameterValue):
        await metrics.get_metric_data("t1", [DataQuery("A", "App", "A", (), 60, "Sum")], start, NOW)
    with pytest.raises(InvalidParameterValue):
        await metrics.get_metric_data("t1", queries, start, NOW, scan_by="Sideways")


async def test_list_metrics_filters_and_pages() -> None:
    metrics, _ = service(list_page=2)
    data = [
        MetricDatum(f"M{i}", (("Host", "a" if i % 2 else "b"), ("Az", "z1")), value=1)
        for i in range(5)
    ]
    await metrics.put_metric_data("t1", "App", data)
    await metrics.put_metric_data("t2", "App", [MetricDatum("Theirs", value=1)])
    seen, token = [], None
    while True:
        page, token = await metrics.list_metrics("t1", None, None, [], next_token=token)
        seen += [s.name for s in page]
        if token is None:
            break
    assert seen == ["M0", "M1", "M2", "M3", "M4"]
    odd, _ = await metrics.list_metrics("t1", "App", None, [DimensionFilter("Host", "a")])
    assert [s.name for s in odd] == ["M1", "M3"]
    assert (await metrics.list_metrics("t1", None, None, [DimensionFilter("Nope")]))[0] == []
    with pytest.raises(InvalidParameterValue):
        await metrics.list_metrics("t1", None, None, [], next_token="not-a-token")
    later = MetricsService(metrics.store, clock=lambda: NOW + timedelta(hours=4))
    assert (await later.list_metrics("t1", None, None, [], recently_active="PT3H"))[0] == []


async def test_roll_up_keeps_the_statistics_of_whole_periods() -> None:
    put_at = NOW - timedelta(days=14)
    metrics, store = service(now=put_at)
    minutes = [
        MetricDatum("M", timestamp=put_at + timedelta(minutes=i), value=i) for i in range(10)
    ]
    await metrics.put_metric_data("t1", "App", minutes)
    # Sixteen days on, those minutes are past 15 days: rolled into 5-minute periods.
    later = MetricsService(store, clock=lambda: put_at + timedelta(days=16))
    assert await later.roll_up(batch=3) == 10
    assert {key[1] for key in store.points} == {300}
    points = await later.get_metric_statistics(
        "t1", "App", "M", [], put_at, put_at + timedelta(minutes=10), 300, ["Sum", "SampleCount"],
        [], None,
    )  # fmt: skip
    assert sum(p.statistics["Sum"] for p in points) == 45.0
    assert sum(p.statistics["SampleCount"] for p in points) == 10.0
    # After 455 days nothing is left, the series neither.
    gone = MetricsService(store, clock=lambda: put_at + timedelta(days=460))
    await gone.roll_up(batch=100)
    assert store.points == {} and store.series == {}
