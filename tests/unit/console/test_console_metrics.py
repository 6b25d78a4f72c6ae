"""The console's Metrics pages (decision 0111, session 47: metrics): the account's metrics as
CloudWatch's ListMetrics lists them to the signed-in user (metrics put with PutMetricData
through the CloudWatch app, and the platform's AWS/SQS ones), grouped, filtered and paged;
another account's never shown; a metric's chart drawn from GetMetricStatistics with the right
number of points on the right scale, its datapoints in a table; CloudWatch's refusals shown
with its code and status, never a 500; the queue page's link; the chart's geometry alone."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.console.metric_chart import auto_period, draw, number, periods_for
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.service import MetricDatum, MetricsService
from andromede.metrics.store import Point
from support.console import ConsoleHarness, console_harness, csrf, log_in, sign_in_root

_POINT = re.compile(r'<polyline class="series" points="([^"]*)"')


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _metrics(console: ConsoleHarness) -> MetricsService:
    running = console.application._running
    assert running is not None
    app = running.apis[CloudWatchApp.name]
    assert isinstance(app, CloudWatchApp)
    return app._metrics


async def _put(console: ConsoleHarness, client: httpx.AsyncClient, payload: dict[str, Any]) -> None:
    """PutMetricData through the CloudWatch app as the client's signed-in user, as the
    console's own calls are made."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.metrics
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    await wire._json(scope, principal, "PutMetricData", payload)


def _polyline(page: httpx.Response) -> list[tuple[float, float]]:
    found = _POINT.search(page.text)
    assert found is not None, page.text
    return [(float(x), float(y)) for x, y in (p.split(",") for p in found.group(1).split())]


async def test_metrics_listed_grouped_filtered_and_charted(console: ConsoleHarness) -> None:
    now = int(time.time())
    minute = now - now % 60
    times = [minute - 60 * i for i in (4, 3, 2, 1, 0)]
    other = await console.identity.create_tenant("other")
    metrics = _metrics(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _put(console, client, {"Namespace": "Shop", "MetricData": [
            {"MetricName": "Latency", "Dimensions": [{"Name": "Host", "Value": "web-1"}],
             "Timestamp": at, "Value": value, "Unit": "Milliseconds"}
            for at, value in zip(times, (10, 20, 30, 40, 50), strict=True)
        ] + [{"MetricName": "Orders", "Value": 3, "Unit": "Count"}]})  # fmt: skip
        sent = Series.of(tenant, "AWS/SQS", "NumberOfMessagesSent", [("QueueName", "jobs")])
        hidden = Series.of(other.tenant.id, "AWS/SQS", "NumberOfMessagesSent", [("QueueName", "x")])
        await metrics.put_platform([
            Point(series, 60, minute, "Count", Aggregate.of_values([(2.0, 1.0)]))
            for series in (sent, hidden)
        ])  # fmt: skip
        await metrics.put_metric_data(other.tenant.id, "Secret", [MetricDatum("Hidden", value=1)])
        token = await csrf(client, "/queues")
        assert (await client.post("/queues", data={"csrf": token, "name": "jobs"})).status_code
        listing = await client.get("/metrics")
        by_namespace = await client.get("/metrics", params={"namespace": "Shop"})
        by_name = await client.get("/metrics", params={"name": "Latency"})
        by_dimension = await client.get("/metrics", params={"dimension": "Host=web-1"})
        nothing = await client.get("/metrics", params={"namespace": "Nowhere"})
        queue = await client.get("/queues/jobs")
        link = re.search(r'href="([^"]+)" id="queue-metrics"', queue.text)
        assert link is not None
        queue_metrics = await client.get(unescape(link.group(1)).removeprefix("/console"))
        graph = {"namespace": "Shop", "name": "Latency", "dimension": "Host=web-1"}
        average = await client.get("/metrics/graph", params={**graph, "range": "1h"})
        biggest = await client.get(
            "/metrics/graph", params={**graph, "range": "1h", "stat": "Maximum", "period": "300"}
        )
        p99 = await client.get("/metrics/graph", params={**graph, "range": "1h", "stat": "p99"})
        week = await client.get("/metrics/graph", params={**graph, "range": "1w"})
        day = await client.get("/metrics/graph", params={**graph, "range": "1d", "stat": "x"})
        empty = await client.get("/metrics/graph", params={**graph, "dimension": "Host=web-2"})
        missing = await client.get("/metrics/graph", params={"name": "Latency"})
        too_many = await client.get(
            "/metrics", params=[("dimension", f"D{i}=v") for i in range(11)]
        )
        french = await client.get("/metrics", headers={"accept-language": "fr"})
        french_graph = await client.get(
            "/metrics/graph", params={**graph, "range": "1w", "period": "86400"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
    assert listing.status_code == 200
    # The platform's namespace first, then the account's own; nothing of the other account.
    assert listing.text.index(">AWS/SQS</a></h2>") < listing.text.index(">Shop</a></h2>")
    assert ">Hidden<" not in listing.text and ">Secret<" not in listing.text
    assert "QueueName=x" not in listing.text
    assert "<code>QueueName=jobs</code>" in listing.text
    assert "<code>Host=web-1</code>" in listing.text
    assert listing.text.count('<tr class="metric">') == 3
    assert 'href="/console/metrics">Metrics</a>' in listing.text  # the menu
    assert by_namespace.text.count('<tr class="metric">') == 2
    assert ">AWS/SQS</a></h2>" not in by_namespace.text
    assert by_name.text.count('<tr class="metric">') == 1 and ">Latency</a>" in by_name.text
    assert by_dimension.text.count('<tr class="metric">') == 1
    assert nothing.status_code == 200 and "No metrics match these filters." in nothing.text
    assert queue_metrics.text.count('<tr class="metric">') == 1
    assert ">NumberOfMessagesSent</a>" in queue_metrics.text
    assert 'value="QueueName=jobs"' in queue_metrics.text

    assert average.status_code == 200
    line = _polyline(average)
    assert len(line) == 5  # one point a minute, at the 1-hour range's 1-minute period
    # 0 at the plot's bottom (228), the ceiling (60: steps of 20 over 50) at its top (12).
    assert [y for _, y in line] == [192.0, 156.0, 120.0, 84.0, 48.0]
    xs = [x for x, _ in line]
    assert all(b - a == pytest.approx(632 / 60, abs=0.2) for a, b in itertools.pairwise(xs))
    unit = '<text class="unit" x="12" y="16" text-anchor="start">Milliseconds</text>'
    assert unit in average.text
    for label in ("0", "20", "40", "60"):
        assert f'text-anchor="end">{label}</text>' in average.text
    title = '<title id="metric-chart-title">Latency · Average (Milliseconds)</title>'
    assert title in average.text
    assert 'role="img" aria-labelledby="metric-chart-title metric-chart-desc"' in average.text
    rows = re.findall(r'<td class="value">([^<]*)</td>', average.text)
    assert rows == ["10", "20", "30", "40", "50"]
    when = datetime.fromtimestamp(times[0], UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert f"<td>{when}</td>" in average.text
    assert "Average · Period 1 min" in average.text
    # Five minutes in one 5-minute period (or two, by the clock): the maximum is 50.
    assert re.findall(r'<td class="value">([^<]*)</td>', biggest.text)[-1] == "50"
    assert "Period 5 min" in biggest.text and '<option value="300" selected>' in biggest.text
    p99_values = [float(v) for v in re.findall(r'<td class="value">([^<]*)</td>', p99.text)]
    assert p99_values == pytest.approx([10, 20, 30, 40, 50], rel=0.05)
    assert "Period 15 min" in week.text and len(_polyline(week)) in (1, 2)
    assert "Average · Period 1 min" in day.text  # an unknown statistic: the default
    assert empty.status_code == 200 and "No datapoints in this range." in empty.text
    assert "<svg" not in empty.text
    assert missing.status_code == 400 and "(MissingParameter)" in _alert(missing)
    assert too_many.status_code == 400 and "(InvalidParameterValue)" in _alert(too_many)
    assert "At most 10 dimension filters" in _alert(too_many)
    assert ">Métriques</a>" in french.text and "Espace de noms" in french.text
    assert '<option value="1w" selected>1 semaine</option>' in french_graph.text
    assert "Statistique" in french_graph.text and "Durée 1 j" in french_graph.text


async def test_pages_and_refusals(tmp_path: Path) -> None:
    """Pages of the console's size over ListMetrics' page; a user whose policies allow no
    CloudWatch call sees CloudWatch's AccessDenied (403) on both pages."""
    async with console_harness(tmp_path, console_page_size=2) as console:
        tenant = console.admin_tenant_id
        await console.user_with_password(tenant, "root")
        await console.user_with_password(tenant, "bob")
        await _metrics(console).put_metric_data(
            tenant, "App", [MetricDatum(f"M{i}", value=i) for i in range(5)]
        )
        async with console.client() as client:
            assert (await log_in(client, "admin", "root")).status_code == 303
            pages = [await client.get("/metrics")]
            while 'rel="next"' in pages[-1].text:
                found = re.search(r'href="([^"]+)" rel="next"', pages[-1].text)
                assert found is not None and len(pages) < 5
                pages.append(await client.get(unescape(found.group(1)).removeprefix("/console")))
            odd = [
                await client.get(path, params=params)
                for path, params in (
                    ("/metrics", {"token": "not-a-token"}),
                    ("/metrics", {"skip": "99999999999999999999", "namespace": "x" * 300}),
                    ("/metrics", {"dimension": "=v"}),
                    ("/metrics/graph", {"namespace": "App", "name": "M1", "dimension": "a"}),
                    ("/metrics/graph", {"namespace": "App", "name": "M1", "period": "7",
                                        "range": "1y", "unit": "Parsecs"}),
                    ("/metrics/graph", {"namespace": "App", "name": "x" * 300}),
                )
            ]  # fmt: skip
        async with console.client() as client:
            assert (await log_in(client, "admin", "bob")).status_code == 303
            denied = await client.get("/metrics")
            denied_graph = await client.get(
                "/metrics/graph", params={"namespace": "App", "name": "M1"}
            )
    names = [re.findall(r">(M\d)</a>", page.text) for page in pages]
    assert names == [["M0", "M1"], ["M2", "M3"], ["M4"]]
    assert [page.status_code for page in odd] == [400, 200, 200, 200, 200, 400]
    assert "No metrics match these filters." in odd[1].text
    assert "(InvalidParameterValue)" in _alert(odd[0]) and "(InvalidParameterValue)" in _alert(
        odd[5]
    )
    assert "Period 1 min" in odd[4].text and '<option value="3h" selected>' in odd[4].text
    assert denied.status_code == 403 and "(AccessDenied)" in _alert(denied)
    assert denied_graph.status_code == 403 and "(AccessDenied)" in _alert(denied_graph)


def test_periods_as_the_aws_console_chooses_them() -> None:
    # The finest of 1 min, 5 min, 15 min, 1 h, 6 h, 1 d within 1,440 datapoints.
    spans = {3600: 60, 3 * 3600: 60, 12 * 3600: 60, 86400: 60, 7 * 86400: 900}
    assert {span: auto_period(span, 1440) for span in spans} == spans
    assert auto_period(86400, 100) == 900 and auto_period(7 * 86400, 5) == 2016 * 60
    assert periods_for(7 * 86400, 1440) == [900, 3600, 21600, 86400]


def test_chart_geometry() -> None:
    one = draw([(1060, 5.0)], 1000, 1600, "Percent")
    assert one.count == 1 and one.markers == ((135.2, 48.0),) and one.unit == "Percent"
    assert [t.label for t in one.y_ticks] == ["0", "2", "4", "6"]  # 5 → ceiling 6, step 2
    negative = draw([(0, -3.0), (60, 7.5)], 0, 60, "None")
    assert negative.unit == "" and [t.label for t in negative.y_ticks] == ["-5", "0", "5", "10"]
    assert negative.line == "72.0,199.2 704.0,48.0"
    many = draw([(i * 60, float(i)) for i in range(1440)], 0, 86400, "Count")
    assert many.count == 1440 and many.markers == ()
    assert [t.label for t in many.x_ticks][:2] == ["00:00", "06:00"]
    assert number(1_500_000, 500_000, 2_000_000) == "1.5M" and number(0.25, 0.05) == "0.25"
    assert number(2048) == "2.048k"
