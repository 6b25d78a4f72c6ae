"""The console's Dashboards pages (decision 0111, session 47: dashboards): a dashboard put
through CloudWatch's dashboard service is listed (name, size, last modified) and drawn with
its widgets placed on the 24-column grid — a metric widget's chart with its datapoint table,
a text widget's Markdown rendered with its HTML escaped (session 48), an alarm widget's
states in words, any other type "not shown here" —; another account's dashboards are never
listed nor shown; deletion needs the ticked box; French."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.console.pages_dashboards import time_range, widgets_of
from andromede.metrics.alarms import Alarm
from andromede.metrics.dashboards import DashboardService
from andromede.metrics.service import MetricDatum
from andromede.settings import Settings
from support.console import ConsoleHarness, console_harness, csrf_of, sign_in_root


def _app(console: ConsoleHarness) -> CloudWatchApp:
    running = console.application._running
    assert running is not None
    app = running.apis[CloudWatchApp.name]
    assert isinstance(app, CloudWatchApp)
    return app


def _dashboards(console: ConsoleHarness) -> DashboardService:
    service = _app(console)._dashboards
    assert service is not None
    return service


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _rows(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr class="dashboard"><td><a href="[^"]+">([^<]+)</a>', page.text)


def _body(region: str) -> str:
    return json.dumps({"widgets": [
        {"type": "text", "x": 0, "y": 6, "width": 24, "height": 2,
         "properties": {"markdown": "# Shop\n<script>alert(1)</script> **bold**"}},
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "Latency", "region": region, "metrics": [
             ["Shop", "Latency", "Host", "web-1", {"stat": "Maximum", "period": 60}],
             [".", ".", ".", "web-2"],
             [{"expression": "m1 * 2", "id": "e1"}],
         ]}},
        {"type": "alarm", "x": 12, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "Alarms", "alarms": [
             "arn:aws:cloudwatch:x:1:alarm:low-orders", "arn:aws:cloudwatch:x:1:alarm:gone"]}},
        {"type": "log", "x": 0, "y": 8, "properties": {"query": "fields @message"}},
    ]})  # fmt: skip


async def test_dashboard_listed_drawn_escaped_and_deleted(console: ConsoleHarness) -> None:
    now = int(time.time())
    minute = now - now % 60
    service = _dashboards(console)
    region = service._region
    other = await console.identity.create_tenant("other")
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _app(console)._metrics.put_metric_data(tenant, "Shop", [
            MetricDatum("Latency", dimensions=(("Host", "web-1"),), value=float(v),
                        timestamp=datetime.fromtimestamp(minute - 60 * i, UTC), unit="Milliseconds")
            for i, v in enumerate((10, 20, 30))
        ])  # fmt: skip
        alarms = _app(console)._alarms
        assert alarms is not None
        await alarms.put_alarm(
            Alarm(tenant, "low-orders", "Shop", "Orders", (), 300, 1, 1, 1.0,
                  "LessThanThreshold", statistic="Sum")
        )  # fmt: skip
        await alarms.set_state(tenant, "low-orders", "ALARM", "Testing.", None)
        await service.put(tenant, "shop", _body(region))
        await service.put(tenant, "empty", json.dumps({"widgets": []}))
        await service.put(other.tenant.id, "secret-board", json.dumps({"widgets": []}))
        listing = await client.get("/dashboards")
        page = await client.get("/dashboards/shop")
        hidden = await client.get("/dashboards/secret-board")
        empty = await client.get("/dashboards/empty")
        french = await client.get("/dashboards/shop", headers={"accept-language": "fr"})
        token = csrf_of(page)
        unticked = await client.post("/dashboards/shop/delete", data={"csrf": token})
        forged = await client.post(
            "/dashboards/shop/delete", data={"csrf": "forged", "confirm": "yes"}
        )
        other_delete = await client.post(
            "/dashboards/secret-board/delete", data={"csrf": token, "confirm": "yes"}
        )
        deleted = await client.post(
            "/dashboards/shop/delete", data={"csrf": token, "confirm": "yes"}
        )
        gone = await client.get("/dashboards")
        left, _ = await service.page(other.tenant.id, None, None)

    # The list: this account's only, with size and last modified; the menu links it.
    assert listing.status_code == 200
    assert _rows(listing) == ["empty", "shop"]
    assert f"{len(_body(region).encode())} bytes" in listing.text
    assert " UTC</td>" in listing.text
    assert 'href="/console/dashboards">Dashboards</a>' in listing.text
    assert "secret-board" not in listing.text
    assert hidden.status_code == 404 and "(ResourceNotFound)" in _alert(hidden)
    assert [d.name for d in left] == ["secret-board"]  # the other account's, kept
    assert other_delete.status_code == 404
    # The widgets in (y, x) order, placed on the grid.
    assert page.status_code == 200
    kinds = re.findall(r'<section class="widget widget-(\w+) ([^"]+)"', page.text)
    assert kinds == [
        ("metric", "dash-w12 dash-h6 dash-x0 dash-y0"),
        ("alarm", "dash-w12 dash-h6 dash-x12 dash-y0"),
        ("text", "dash-w24 dash-h2 dash-x0 dash-y6"),
        ("log", "dash-w6 dash-h6 dash-x0 dash-y8"),
    ]
    # The metric widget: its lines ("." repeats the line above) as one chart of two series
    # with a legend (decision 0111, session 48), the datapoints in one table; the expression
    # is said not drawn.
    assert page.text.count('<figure class="chart">') == 1
    assert '<title id="chart-1-title">Latency (Milliseconds)</title>' in page.text
    assert '<desc id="chart-1-desc">3 datapoints from' in page.text
    assert "2 series, named in the legend." in page.text
    assert page.text.count('<polyline class="series"') == 1  # web-2 has no datapoints
    legend = re.findall(r'<li class="series-(\d)">.*?</svg> ([^<]+)</li>', page.text)
    assert legend == [("0", "Latency web-1 · Maximum (3)"), ("1", "Latency web-2 · Average (0)")]
    assert page.text.count('<tr class="datapoint">') == 3
    assert "<td>Latency web-1 · Maximum</td>" in page.text
    assert "namespace=Shop&amp;name=Latency&amp;dimension=Host%3Dweb-2" in page.text
    assert "1 metric lines not drawn here" in page.text
    # The text widget: its Markdown rendered, its HTML escaped, the heading under the title.
    assert "<h3>Shop</h3>" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <strong>bold</strong>" in page.text
    assert "<script>alert(1)" not in page.text
    # The alarm widget: states in words; an unknown alarm said so.
    assert '<strong class="state state-alarm">In alarm</strong>' in page.text
    assert "gone: no such alarm" in page.text
    assert "A “log” widget: not shown here." in unescape(page.text)
    assert "This dashboard has no widgets." in empty.text
    assert "Tableaux de bord" in french.text and "En alarme" in french.text
    # Deletion: unticked sends nothing; forged refused; ticked deletes.
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert forged.status_code == 403
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/dashboards"
    assert _rows(gone) == ["empty"]


def test_widgets_and_range_read_from_the_body() -> None:
    assert widgets_of("not json") == [] and widgets_of("[1]") == []
    placed = widgets_of(json.dumps({"widgets": [
        {"type": "text", "properties": {"markdown": "b"}},
        {"type": "metric", "x": 20, "y": 99, "width": 10, "height": 50, "properties": {}},
        {"type": "text", "x": 3, "y": 1, "properties": {"markdown": "a"}},
    ]}))  # fmt: skip
    assert [w.classes for w in placed] == [
        "dash-w6 dash-h6 dash-x3 dash-y1",
        "dash-w4 dash-h24 dash-x20",  # cut at the 24th column; past the grid's classes
        "dash-w6 dash-h6",
    ]
    now = 1_700_000_000
    end = (now // 60 + 1) * 60
    assert time_range("{}", now) == (end - 3 * 3600, end)
    assert time_range(json.dumps({"start": "-PT15M"}), now) == (now - 900, end)
    assert time_range(json.dumps({"start": "-P1DT1H"}), now) == (now - 90000, end)
    absolute = json.dumps({"start": "2023-11-14T00:00:00Z", "end": "2023-11-14T06:00:00Z"})
    assert time_range(absolute, now) == (1699920000, 1699941600)
    assert time_range(json.dumps({"start": "soon"}), now) == (end - 3 * 3600, end)


async def test_a_page_draws_at_most_console_dashboard_charts(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_dashboard_charts=1) as console:
        async with console.client() as client:
            tenant = await sign_in_root(console, client)
            await _dashboards(console).put(tenant, "shop", _body(_dashboards(console)._region))
            page = await client.get("/dashboards/shop")
            bad = json.dumps({"widgets": [
                {"type": "metric", "properties": {"region": "x", "metrics": [
                    ["Shop", "Latency", {"stat": "Bogus"}]]}},
                {"type": "text", "properties": {"markdown": "still here"}},
            ]})  # fmt: skip
            await _dashboards(console).put(tenant, "bad", bad)
            refused = await client.get("/dashboards/bad")
    assert page.status_code == 200
    assert page.text.count('<figure class="chart">') == 1
    assert "2 metric lines not drawn here" in page.text  # the second line and the expression
    # CloudWatch's refusal of one widget's call is shown in that widget; the rest is drawn.
    assert refused.status_code == 200
    refusal = re.search(r'<p class="refusal">([^<]+)</p>', refused.text)
    assert refusal is not None and "(InvalidParameterValue)" in refusal.group(1)
    assert "still here" in refused.text


@pytest.mark.parametrize("charts", [0, 501])
def test_console_dashboard_charts_is_bounded(charts: int) -> None:
    with pytest.raises(ValidationError, match="console_dashboard_charts"):
        Settings(console_dashboard_charts=charts)
    assert Settings().console_dashboard_charts == 30
