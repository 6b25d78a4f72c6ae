"""An anomaly detection alarm (decision 0189: ``ThresholdMetricId``) in the console (decision
0111, session 48): listed and shown as AWS's console shows it — the metric, the operator in
words, the band's expression and width, no threshold of 0 — and charted with its band's two
edges from GetMetricData, the datapoints table holding the value between them. The alarm and
its detector are made through CloudWatch's own API, as the signed-in user."""

from __future__ import annotations

import re
import time
from html import unescape
from typing import Any

from andromede.console.metric_chart import draw_series
from support.console import ConsoleHarness, sign_in_root

_DIMENSIONS = [{"Name": "Api", "Value": "x"}]
_METRIC = {"Namespace": "App", "MetricName": "Latency", "Dimensions": _DIMENSIONS}


def _cell(page: str, cell_id: str) -> str:
    found = re.search(rf'id="{cell_id}">(.*?)</td>', page, re.S)
    assert found is not None, page
    return unescape(re.sub(r"<[^>]+>", "", found.group(1)))


async def test_a_band_alarm_is_shown_in_words_and_charted_with_its_band(
    console: ConsoleHarness,
) -> None:
    running = console.application._running
    assert running is not None and running.console.console.metrics is not None
    wire = running.console.console.metrics
    async with console.client() as client:
        await sign_in_root(console, client)
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        origin = {"client": ("127.0.0.1", 1), "scheme": "http"}

        async def call(action: str, payload: dict[str, Any]) -> dict[str, Any]:
            return await wire._json(origin, principal, action, payload)

        minute = int(time.time()) // 60 * 60
        data = [
            {"MetricName": "Latency", "Dimensions": _DIMENSIONS,
             "Timestamp": minute - 60 * m, "Value": 100.0 + m % 2}
            for m in range(1, 41)
        ]  # fmt: skip
        for chunk in range(0, len(data), 20):
            await call("PutMetricData", {"Namespace": "App", "MetricData": data[chunk:][:20]})
        await call(
            "PutAnomalyDetector", {"SingleMetricAnomalyDetector": {**_METRIC, "Stat": "Average"}}
        )
        queries = [
            {"Id": "m1", "MetricStat": {"Metric": _METRIC, "Period": 60, "Stat": "Average"},
             "ReturnData": True},
            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(m1, 2)", "Label": "band"},
        ]  # fmt: skip
        for name, operator in (
            ("latency-anomaly", "LessThanLowerOrGreaterThanUpperThreshold"),
            ("latency-high", "GreaterThanUpperThreshold"),
        ):
            await call(
                "PutMetricAlarm",
                {"AlarmName": name, "EvaluationPeriods": 2, "ComparisonOperator": operator,
                 "ThresholdMetricId": "ad1", "Metrics": queries},
            )  # fmt: skip
        listing = await client.get("/alarms")
        page = await client.get("/alarms/latency-anomaly")
        french = await client.get("/alarms/latency-high", headers={"accept-language": "fr"})
    conditions = [
        unescape(c) for c in re.findall(r'<td class="condition">([^<]*)</td>', listing.text)
    ]
    assert conditions == [
        "Latency outside of the band (width: 2)",
        "Latency greater than the band (width: 2)",
    ]
    assert page.status_code == 200
    assert _cell(page.text, "alarm-condition") == "Latency outside of the band (width: 2)"
    assert _cell(page.text, "alarm-band") == (
        "ANOMALY_DETECTION_BAND(m1, 2) · width: 2 standard deviations"
    )
    # The chart: the metric and the band's two edges, named in the legend.
    chart = page.text.split('id="alarm-chart"', 1)[1].split("</svg>", 1)[0]
    assert chart.count('<polyline class="series"') == 3
    assert 'class="threshold"' not in chart  # a band alarm has no threshold line
    area = re.search(r'<polygon class="band" points="([^"]+)"', chart)
    assert area is not None and len(area.group(1).split()) >= 50  # both edges, 25+ each
    assert "shaded area between its two edges" in page.text
    legend = re.findall(r"</svg> ([^<(]+) \(\d+\)</li>", page.text)
    assert [one.strip() for one in legend] == ["Latency", "Band lower edge", "Band upper edge"]
    rows = re.findall(
        r'<td class="value">([^<]*)</td><td class="lower">([^<]*)</td>'
        r'<td class="upper">([^<]*)</td>',
        page.text,
    )
    assert len(rows) >= 25
    for value, lower, upper in rows:
        if lower and upper:
            assert float(lower) <= float(value) <= float(upper)
    assert any(lower for _, lower, _ in rows)
    assert _cell(french.text, "alarm-condition") == ("Latency au-dessus de la bande (largeur : 2)")


def test_the_band_is_filled_between_its_edges_within_the_axis() -> None:
    lower = [(0, 8.0), (60, 9.0), (120, 7.0)]
    upper = [(0, 12.0), (60, 30.0), (180, 11.0)]  # 180: no lower edge there, not drawn
    chart = draw_series([("m", [(0, 10.0), (60, 10.0)])], 0, 180, "None", (lower, upper))
    points = [tuple(float(v) for v in p.split(",")) for p in chart.band.split()]
    # The lower edge forward at 0 and 60, then the upper edge back: four corners.
    assert [x for x, _ in points] == [72.0, 282.7, 282.7, 72.0]
    (_, y_low), (_, y_low2), (_, y_high2), (_, y_high) = points
    assert y_high < y_low and y_high2 < y_low2  # the upper edge above the lower
    assert chart.top <= min(y for _, y in points) and max(y for _, y in points) <= chart.bottom
    assert chart.y_ticks[-1].label == "30"  # the axis reaches the band's top
    assert draw_series([("m", [(0, 1.0)])], 0, 60, "None").band == ""
