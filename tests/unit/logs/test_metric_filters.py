"""Decision 0186's metric filters (session 48 addendum): PutMetricFilter's rules as AWS's,
the value and dimensions an event yields (numbers, ``$.field`` and ``$name`` selectors),
the per-minute tally with ``defaultValue`` only for minutes that matched nothing, the
filters cached per group for ``metric_filter_cache_ms``, TestMetricFilter's matches, and the
tally written into a real metrics service, read back with GetMetricStatistics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.errors import InvalidParameter, LimitExceeded, ResourceNotFound
from andromede.logs.filter import compile_pattern
from andromede.logs.metric_filters import MetricTally, metric_filter, observe
from andromede.logs.model import InputEvent
from andromede.logs.service import LogsLimits
from andromede.metrics.service import MetricsService
from andromede.metrics.store import MemoryMetricStore
from andromede.settings import Settings
from andromede.wiring.logs import logs_metric_flush, write_metric_samples
from support.kmskit import ACCOUNT_A
from support.logsapp import NOW, LogsWorld, logs_world

MINUTE = 60_000
APACHE = '10.0.0.{n} - - [10/Oct/2000:13:25:15 -0700] "GET /x HTTP/1.0" {status} {size}'


def transformation(**given: Any) -> list[dict[str, Any]]:
    return [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", **given}]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[LogsWorld]:
    yield from logs_world(tmp_path, LogsLimits(max_metric_filters=2, metric_filter_cache_ms=5000))


@pytest.mark.parametrize(
    ("name", "pattern", "given", "why"),
    [
        ("a:b", "", transformation(), "filterName"),
        ("f", "x" * 1025, transformation(), "filterPattern"),
        ("f", "%re%", transformation(), "regular-expression"),
        ("f", "", [], "metricTransformations"),
        ("f", "", transformation() * 2, "metricTransformations"),
        ("f", "", transformation(metricNamespace="AWS/Logs"), "reserved"),
        ("f", "", transformation(metricName="a$b"), "metricName"),
        ("f", "", transformation(metricValue="many"), "neither a number nor a selector"),
        ("f", "{ $.a = 1 }", transformation(metricValue="$size"), "JSON"),
        ("f", "ERROR", transformation(metricValue="$.size"), "needs a JSON or space-delimited"),
        ("f", "[a, size]", transformation(metricValue="$.size"), "space-delimited"),
        ("f", "", transformation(defaultValue="0"), "defaultValue"),
        ("f", "[a, b]", transformation(dimensions={"A": "$a"}, defaultValue=0), "default value"),
        ("f", "[a, b, c, d]", transformation(dimensions={k: "$a" for k in "ABCD"}), "at most 3"),
        ("f", "", transformation(unit="Parsecs"), "unit"),
        ("f", "", transformation(applyOnTransformedLogs=True), "transformers"),
    ],
)
def test_put_metric_filter_rules(name: str, pattern: str, given: object, why: str) -> None:
    with pytest.raises(InvalidParameter, match=why):
        metric_filter(ACCOUNT_A, "g", name, pattern, given, NOW)


def test_values_and_dimensions_an_event_yields() -> None:
    made = metric_filter(
        ACCOUNT_A,
        "g",
        "bytes",
        "[ip, ..., status = 4*, size]",
        transformation(metricValue="$size", dimensions={"Status": "$status"}, unit="Bytes"),
        NOW,
    )
    pattern = compile_pattern(made.pattern)
    found = pattern.extract(APACHE.format(n=1, status=404, size=1534))
    assert found is not None
    assert observe(made.transformation, found) == (1534.0, (("Status", "404"),))
    not_a_number = pattern.extract(APACHE.format(n=1, status=404, size="-"))
    assert not_a_number is not None and observe(made.transformation, not_a_number) is None
    latency = metric_filter(
        ACCOUNT_A, "g", "l", "{ $.latency > 0 }", transformation(metricValue="$.latency"), NOW
    )
    match = compile_pattern("{ $.latency > 0 }").extract('{"latency": 12.5}')
    assert match is not None and observe(latency.transformation, match) == (12.5, ())


def test_tally_keeps_values_per_event_minute_and_defaults_only_where_nothing_matched() -> None:
    tally = MetricTally()
    made = metric_filter(ACCOUNT_A, "g", "f", "ERROR", transformation(defaultValue=0), NOW)
    t = made.transformation
    tally.add(ACCOUNT_A, t, (), NOW, 1.0)
    tally.add(ACCOUNT_A, t, (), NOW + 1, 1.0)
    tally.add_default(ACCOUNT_A, t, NOW + 2)  # a later batch of the same minute: no default
    tally.add_default(ACCOUNT_A, t, NOW + 2 * MINUTE)
    samples = sorted(tally.drain(), key=lambda s: s.minute)
    assert [(s.minute * 1000, s.values) for s in samples] == [
        (NOW - NOW % MINUTE, ((1.0, 2.0),)),
        (NOW + 2 * MINUTE - NOW % MINUTE, ((0.0, 1.0),)),
    ]
    assert tally.drain() == []
    full = MetricTally(max_keys=1)
    full.add(ACCOUNT_A, t, (), NOW, 1.0)
    full.add(ACCOUNT_A, t, (), NOW + MINUTE, 1.0)
    assert (len(full), full.dropped) == (1, 1)


async def put(world: LogsWorld, *events: InputEvent) -> None:
    await world.service.put_events(ACCOUNT_A, "g", "s", list(events))


async def test_put_events_tally_the_group_filters(world: LogsWorld) -> None:
    logs = world.service
    await logs.create_group(ACCOUNT_A, "g", None, {})
    await logs.create_stream(ACCOUNT_A, "g", "s")
    await logs.put_metric_filter(
        ACCOUNT_A,
        "g",
        "bytes",
        "[ip, ..., status = 4*, size]",
        transformation(metricName="Bytes", metricValue="$size", dimensions={"S": "$status"}),
    )
    await logs.put_metric_filter(ACCOUNT_A, "g", "errors", "ERROR", transformation(defaultValue=0))
    with pytest.raises(LimitExceeded):
        await logs.put_metric_filter(ACCOUNT_A, "g", "third", "", transformation())
    with pytest.raises(ResourceNotFound):
        await logs.put_metric_filter(ACCOUNT_A, "nope", "f", "", transformation())
    await put(
        world,
        InputEvent(NOW - 2 * MINUTE, APACHE.format(n=1, status=404, size=100)),
        InputEvent(NOW - 2 * MINUTE + 1, APACHE.format(n=2, status=200, size=999)),
        InputEvent(NOW - 2 * MINUTE + 2, APACHE.format(n=3, status=404, size=100)),
        InputEvent(NOW - MINUTE, "ERROR boom"),
    )
    samples = {(s.name, s.dimensions, s.minute * 1000): s.values for s in logs.drain_metrics()}
    minute = NOW - NOW % MINUTE
    assert samples == {
        ("Bytes", (("S", "404"),), minute - 2 * MINUTE): ((100.0, 2.0),),
        ("Errors", (), minute - 2 * MINUTE): ((0.0, 1.0),),  # took events, none matched
        ("Errors", (), minute - MINUTE): ((1.0, 1.0),),
    }
    groups, _ = await logs.describe_groups(ACCOUNT_A, "", "", None, None)
    assert await logs.filter_counts(ACCOUNT_A, [g.name for g in groups]) == {"g": 2}


async def test_filters_are_cached_for_their_time(world: LogsWorld) -> None:
    logs = world.service
    await logs.create_group(ACCOUNT_A, "g", None, {})
    await logs.create_stream(ACCOUNT_A, "g", "s")
    await put(world, InputEvent(NOW, "ERROR before any filter"))
    # Another gateway puts a filter: this one reads the store again only once its cache ages.
    made = metric_filter(ACCOUNT_A, "g", "f", "ERROR", transformation(), NOW)
    await world.store.put_metric_filter(made, 10)
    await put(world, InputEvent(NOW, "ERROR cached: not seen"))
    assert logs.drain_metrics() == []
    world.clock.now = NOW + 5000
    await put(world, InputEvent(NOW, "ERROR seen"))
    assert [s.values for s in logs.drain_metrics()] == [((1.0, 1.0),)]
    await logs.delete_metric_filter(ACCOUNT_A, "g", "f")  # this gateway forgets at once
    await put(world, InputEvent(NOW, "ERROR after delete"))
    assert logs.drain_metrics() == []
    with pytest.raises(ResourceNotFound):
        await logs.delete_metric_filter(ACCOUNT_A, "g", "f")


async def test_describe_metric_filters_pages_and_selects(world: LogsWorld) -> None:
    logs = world.service
    for group in ("a", "b"):
        await logs.create_group(ACCOUNT_A, group, None, {})
        for name, metric in (("f1", "M1"), ("f2", "M2")):
            given = transformation(metricName=metric)
            await logs.put_metric_filter(ACCOUNT_A, group, name, "", given)
    page, token = await logs.describe_metric_filters(ACCOUNT_A, None, "", None, None, 3, None)
    assert [(f.group, f.name) for f in page] == [("a", "f1"), ("a", "f2"), ("b", "f1")]
    assert token is not None
    rest, end = await logs.describe_metric_filters(ACCOUNT_A, None, "", None, None, 3, token)
    assert [(f.group, f.name) for f in rest] == [("b", "f2")] and end is None
    by_metric, _ = await logs.describe_metric_filters(ACCOUNT_A, None, "", "M2", "App", None, None)
    assert [(f.group, f.name) for f in by_metric] == [("a", "f2"), ("b", "f2")]
    in_b, _ = await logs.describe_metric_filters(ACCOUNT_A, "b", "f1", None, None, None, None)
    assert [(f.group, f.name) for f in in_b] == [("b", "f1")]
    for bad in (
        ("a", "", "M1", None, None, None),  # metricName without its namespace
        (None, "f", None, None, None, None),  # a prefix without a group
        (None, "", None, None, 51, None),
        (None, "", None, None, None, "bm90IGpzb24="),
    ):
        with pytest.raises(InvalidParameter):
            await logs.describe_metric_filters(ACCOUNT_A, *bad)  # type: ignore[arg-type]
    await logs.delete_group(ACCOUNT_A, "a")
    left, _ = await logs.describe_metric_filters(ACCOUNT_A, None, "", None, None, None, None)
    assert [f.group for f in left] == ["b", "b"]


def test_test_metric_filter_answers_matches_with_extracted_values(world: LogsWorld) -> None:
    messages = [
        APACHE.format(n=1, status=404, size=5),
        "not apache",
        APACHE.format(n=2, status=500, size=7),
    ]
    matches = world.service.test_metric_filter("[ip, ..., status, size]", messages)
    assert matches == [
        (1, messages[0], {"$ip": "10.0.0.1", "$status": "404", "$size": "5"}),
        (3, messages[2], {"$ip": "10.0.0.2", "$status": "500", "$size": "7"}),
    ]
    with pytest.raises(InvalidParameter):
        world.service.test_metric_filter("x", ["m"] * 51)
    with pytest.raises(InvalidParameter):
        world.service.test_metric_filter("x", [])


async def test_tally_written_into_the_account_metrics(world: LogsWorld) -> None:
    logs = world.service
    now = datetime.fromtimestamp(NOW / 1000, UTC)
    metrics = MetricsService(MemoryMetricStore(), clock=lambda: now)
    await logs.create_group(ACCOUNT_A, "g", None, {})
    await logs.create_stream(ACCOUNT_A, "g", "s")
    await logs.put_metric_filter(
        ACCOUNT_A,
        "g",
        "lat",
        "{ $.ms >= 0 }",
        transformation(metricName="Ms", metricValue="$.ms", unit="Milliseconds"),
    )
    await put(world, *(InputEvent(NOW - MINUTE + i, f'{{"ms": {i * 10}}}') for i in range(200)))
    assert await write_metric_samples(metrics, logs.drain_metrics()) == 2  # 200 values: 2 data
    start = datetime.fromtimestamp((NOW - 5 * MINUTE) / 1000, UTC)
    [point] = await metrics.get_metric_statistics(
        ACCOUNT_A, "App", "Ms", [], start, now, 300, ["SampleCount", "Sum", "Maximum"], [], None
    )
    assert point.statistics == {"SampleCount": 200.0, "Sum": 199_000.0, "Maximum": 1990.0}
    assert point.unit == "Milliseconds"


async def test_closing_a_tenant_forgets_its_filters_and_resource_policies(world: LogsWorld) -> None:
    logs = world.service
    await logs.create_group(ACCOUNT_A, "g", None, {})
    await logs.put_metric_filter(ACCOUNT_A, "g", "f", "", transformation())
    await logs.put_resource_policy(ACCOUNT_A, "p", '{"Statement": []}')
    assert await logs.forget_tenant(ACCOUNT_A) == 1
    assert (await logs.describe_metric_filters(ACCOUNT_A, None, "", None, None, None, None))[
        0
    ] == []
    assert (await logs.describe_resource_policies(ACCOUNT_A, None, None))[0] == []


async def test_a_refused_minute_costs_the_others_nothing() -> None:
    now = datetime.fromtimestamp(NOW / 1000, UTC)
    metrics = MetricsService(MemoryMetricStore(), clock=lambda: now)
    tally = MetricTally()
    made = metric_filter(ACCOUNT_A, "g", "f", "", transformation(), NOW)
    tally.add(ACCOUNT_A, made.transformation, (), NOW - 15 * 86_400_000, 1.0)  # too old now
    tally.add(ACCOUNT_A, made.transformation, (), NOW - MINUTE, 1.0)
    assert await write_metric_samples(metrics, tally.drain()) == 1
    start = datetime.fromtimestamp((NOW - 5 * MINUTE) / 1000, UTC)
    [point] = await metrics.get_metric_statistics(
        ACCOUNT_A, "App", "Errors", [], start, now, 300, ["SampleCount"], [], None
    )
    assert point.statistics == {"SampleCount": 1.0}


async def test_a_stopping_serve_writes_the_tally_once_more(
    world: LogsWorld, tmp_path: Path
) -> None:
    now = datetime.fromtimestamp(NOW / 1000, UTC)
    metrics = MetricsService(MemoryMetricStore(), clock=lambda: now)
    settings = Settings(data_dir=tmp_path, logs_metric_flush_interval=3600)
    task = asyncio.create_task(logs_metric_flush(settings, world.service, metrics))
    await asyncio.sleep(0)
    made = metric_filter(ACCOUNT_A, "g", "f", "", transformation(), NOW)
    world.service.tally.add(ACCOUNT_A, made.transformation, (), NOW - MINUTE, 1.0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled() and len(world.service.tally) == 0
    start = datetime.fromtimestamp((NOW - 5 * MINUTE) / 1000, UTC)
    [point] = await metrics.get_metric_statistics(
        ACCOUNT_A, "App", "Errors", [], start, now, 300, ["SampleCount"], [], None
    )
    assert point.statistics == {"SampleCount": 1.0}
