"""Metric math's bounded SEARCH() (decision 0183): the search expression's subset parsed and
matched, GetMetricData answering one result per series found, the bound's message, and the
refusals (OR, wildcards, an alarm)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarm_store import MemoryAlarmStore
from andromede.metrics.alarms import Alarm
from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_parse import parse
from andromede.metrics.math_search import Search, searches_in
from andromede.metrics.service import DataQuery, MetricDatum, MetricLimits, MetricsService
from andromede.metrics.store import MemoryMetricStore

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_search_expression_subset() -> None:
    search = Search.of('{Shop,Route,Host} MetricName="Latency" Route=/cart web', "Sum", 60)
    assert (search.namespace, search.schema) == ("Shop", frozenset({"Route", "Host"}))
    assert search.pairs == (("MetricName", "Latency"), ("Route", "/cart"))
    assert search.words == ("web",)
    dims = (("Host", "web"), ("Route", "/cart"))
    assert search.matches("Shop", "Latency", dims)
    assert not search.matches("Shop", "Latency", (("Host", "web"),))  # the schema's dims
    assert not search.matches("Shop", "Latency", (("Host", "db"), ("Route", "/cart")))
    assert not search.matches("Other", "Latency", dims)
    assert Search.of("Latency AND web", "Sum", 60).words == ("Latency", "web")
    for refused in ("Latency OR Errors", "NOT Latency", "Lat*", "{} x", "(Latency)"):
        with pytest.raises(InvalidParameterValue, match="search expression"):
            Search.of(refused, "Sum", 60)
    [(call, found)] = searches_in(parse("SUM(SEARCH('{Shop} Orders', 'Sum', 120))"), 300)
    assert (call.name, found.period, found.stat) == ("SEARCH", 120, "Sum")
    assert searches_in(parse("SEARCH('Orders', 'Sum')"), 300)[0][1].period == 300
    with pytest.raises(InvalidParameterValue, match="SEARCH takes"):
        searches_in(parse("SEARCH(m1, 'Sum', 60)"), 300)


async def test_get_metric_data_with_a_search() -> None:
    metrics = MetricsService(
        MemoryMetricStore(), limits=MetricLimits(math_max_series=2), clock=lambda: NOW
    )
    start = NOW - timedelta(minutes=2)
    await metrics.put_metric_data(
        "t1",
        "Shop",
        [
            MetricDatum("Orders", (("Store", store),), start, value=value)
            for store, value in (("lyon", 1.0), ("nantes", 2.0), ("paris", 4.0))
        ]
        + [MetricDatum("Refunds", (("Store", "lyon"),), start, value=9.0)],
    )
    await metrics.put_metric_data("t2", "Shop", [MetricDatum("Orders", (), start, value=100.0)])

    def query(expression: str) -> list[DataQuery]:
        return [DataQuery("e1", "", "", (), 60, "", label="Found", expression=expression)]

    results, _ = await metrics.get_metric_data(
        "t1", query("SEARCH('{Shop,Store} MetricName=\"Orders\" lyon', 'Sum', 60)"), start, NOW
    )
    assert [(r.label, r.values) for r in results] == [("Found Orders lyon", [1.0])]
    # Two series at most (the setting): the first two found, and a message saying so.
    results, _ = await metrics.get_metric_data(
        "t1", query("SUM(SEARCH('{Shop,Store} Orders', 'Sum', 60))"), start, NOW
    )
    [total] = results
    # Two of 1, 2 and 4 (in the store's order); another account's Orders never.
    assert total.values[0] in (3.0, 5.0, 6.0)
    assert [code for code, _ in total.messages] == ["MaxQueryTimeSeriesExceeded"]
    with pytest.raises(InvalidParameterValue, match="not supported"):
        await metrics.get_metric_data("t1", query("SEARCH('Orders', 'tm99', 60)"), start, NOW)
    # Never in an alarm, as on AWS.
    alarms = AlarmService(MemoryAlarmStore(), metrics, "eu-fr-1", clock=lambda: NOW)
    with pytest.raises(InvalidParameterValue, match="not supported in an alarm"):
        await alarms.put_alarm(
            Alarm(
                "t1", "s", "", "", (), 0, 1, 1, 1.0, "GreaterThanThreshold",
                metrics=(query("SUM(SEARCH('Orders', 'Sum', 60))")[0],),
            )
        )  # fmt: skip
