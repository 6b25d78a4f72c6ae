"""Creating and editing a dashboard from the console (decision 0111, session 48): the JSON
body saved with PutDashboard as the user — its refusals shown with each validation message,
its warnings on the form after the save —; a metric widget of two lines drawn as one chart of
two series with a legend; the text widget's Markdown rendered with a safe subset, every
injection escaped or left as text; CSRF; another account's dashboard not editable; French."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from html import unescape

import httpx
import pytest

from andromede.console.markdown_text import render_markdown
from andromede.console.metric_chart import draw_series
from andromede.console.pages_dashboard_edit import validation_messages
from andromede.metrics.service import MetricDatum
from support.console import ConsoleHarness, csrf_of, sign_in_root
from unit.console.test_console_dashboards import _alert, _app, _dashboards


def _textarea(page: httpx.Response) -> str:
    found = re.search(r'<textarea name="body"[^>]*>(.*?)</textarea>', page.text, re.S)
    assert found is not None, page.text
    return unescape(found.group(1))


def _two_series(region: str) -> str:
    return json.dumps({"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 24, "height": 6,
         "properties": {"title": "Orders", "region": region, "stat": "Sum", "period": 60,
                        "metrics": [["Shop", "Orders", "Stage", "prod"],
                                    [".", ".", ".", "test", {"label": "Test orders"}]]}},
        {"type": "text", "x": 0, "y": 6, "width": 24, "height": 3,
         "properties": {"markdown": "## Runbook\n- see [alarms](/console/alarms)\n"
                                    "- [x](javascript:alert(1)) <img src=x onerror=alert(1)>"}},
    ]})  # fmt: skip


async def test_a_dashboard_created_and_edited_from_the_console(console: ConsoleHarness) -> None:
    now = int(time.time())
    minute = now - now % 60
    service = _dashboards(console)
    region = service._region
    other = await console.identity.create_tenant("other")
    await service.put(other.tenant.id, "theirs", json.dumps({"widgets": []}))
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _app(console)._metrics.put_metric_data(tenant, "Shop", [
            MetricDatum("Orders", dimensions=(("Stage", stage),), value=float(v),
                        timestamp=datetime.fromtimestamp(minute - 60 * i, UTC))
            for stage, values in (("prod", (5, 7, 9)), ("test", (1, 2)))
            for i, v in enumerate(values)
        ])  # fmt: skip
        listing = await client.get("/dashboards")
        new = await client.get("/dashboards-new")
        token = csrf_of(new)
        forged = await client.post(
            "/dashboards", data={"csrf": "x", "name": "ops", "body": _two_series(region)}
        )
        invalid = await client.post("/dashboards", data={
            "csrf": token, "name": "ops",
            "body": json.dumps({"widgets": [{"type": "metric", "x": 30, "properties": {}}]}),
        })  # fmt: skip
        not_json = await client.post(
            "/dashboards", data={"csrf": token, "name": "ops", "body": "{widgets"}
        )
        bad_name = await client.post(
            "/dashboards", data={"csrf": token, "name": "a b", "body": _two_series(region)}
        )
        created = await client.post(
            "/dashboards", data={"csrf": token, "name": "ops", "body": _two_series(region)}
        )
        page = await client.get("/dashboards/ops")
        edit = await client.get("/dashboards/ops/edit")
        warned_body = json.dumps({"widgets": [
            {"type": "log", "properties": {"query": "fields @message"}}]})  # fmt: skip
        warned = await client.post(
            "/dashboards/ops/edit", data={"csrf": token, "body": warned_body}
        )
        refused_edit = await client.post("/dashboards/ops/edit", data={"csrf": token, "body": "[]"})
        saved = await client.post(
            "/dashboards/ops/edit", data={"csrf": token, "body": _two_series(region)}
        )
        theirs = await client.get("/dashboards/theirs/edit")
        theirs_put = await client.post(
            "/dashboards/theirs/edit", data={"csrf": token, "body": json.dumps({"widgets": []})}
        )
        french = await client.get("/dashboards/ops/edit", headers={"accept-language": "fr"})
        stored = await service.get(tenant, "ops")
        kept = await service.get(other.tenant.id, "theirs")

    assert 'href="/console/dashboards-new" id="new-dashboard"' in listing.text
    # The creation form starts with a text widget; CloudWatch's refusals are shown with each
    # validation error's path and message, the body as typed.
    assert json.loads(_textarea(new))["widgets"][0]["type"] == "text"
    assert f"“region”: {region}" in unescape(new.text)
    assert forged.status_code == 403
    assert invalid.status_code == 400 and "(InvalidParameterInput)" in _alert(invalid)
    paths = re.findall(r"<li><code>([^<]+)</code>: ([^<]+)</li>", unescape(invalid.text))
    assert ("/widgets/0/properties", "Should have required property 'region'") in paths
    assert ("/widgets/0/properties", "Should have required property 'metrics'") in paths
    assert '"x": 30' in _textarea(invalid) and 'value="ops"' in invalid.text
    assert not_json.status_code == 400 and _textarea(not_json) == "{widgets"
    assert "valid JSON object" in _alert(not_json)
    assert bad_name.status_code == 400 and "DashboardName" in _alert(bad_name)
    # Created: its page draws the two lines as one chart of two series, with a legend.
    assert created.status_code == 303, _alert(created)
    assert created.headers["location"] == "/console/dashboards/ops"
    assert page.text.count('<figure class="chart">') == 1
    assert page.text.count('<polyline class="series"') == 2
    legend = re.findall(r'<li class="series-(\d)">.*?</svg> ([^<]+)</li>', page.text)
    assert legend == [("0", "Orders prod · Sum (3)"), ("1", "Test orders (2)")]
    assert '<title id="chart-1-title">Orders</title>' in page.text
    assert page.text.count('<tr class="datapoint">') == 5
    # Both series on one axis: the ceiling is 10 for the largest, 9; the test series' 2
    # lies at a fifth of the height from the bottom.
    assert re.findall(r'class="y-tick"[^>]*>([^<]+)</text>', page.text)[-1] == "10"
    # The Markdown rendered, the script and the javascript: link left as escaped text.
    assert "<h4>Runbook</h4>" in page.text
    assert '<a href="/console/alarms" rel="nofollow noopener noreferrer">alarms</a>' in page.text
    assert "[x](javascript:alert(1))" in page.text and "&lt;img src=x" in page.text
    assert "<img" not in page.text
    # Editing: the stored body in the form; warnings shown after the save; a refusal keeps
    # the body typed; saved: the dashboard's page.
    assert edit.status_code == 200 and json.loads(_textarea(edit)) == json.loads(
        _two_series(region)
    )
    assert 'id="dashboard-link">ops</a>' in edit.text
    assert warned.status_code == 200 and 'id="dashboard-warnings"' in warned.text
    assert "CloudWatch Logs is not served here" in warned.text
    assert refused_edit.status_code == 400 and _textarea(refused_edit) == "[]"
    assert "Should be object" in unescape(refused_edit.text)
    assert saved.status_code == 303 and stored.body == _two_series(region)
    # Another account's dashboard: CloudWatch's ResourceNotFound; a save of that name is
    # PutDashboard in the user's own account, the other's untouched.
    assert theirs.status_code == 404 and "(ResourceNotFound)" in _alert(theirs)
    assert 'id="dashboard-form"' not in theirs.text
    assert theirs_put.status_code == 303 and kept.body == json.dumps({"widgets": []})
    assert "Enregistrer le tableau de bord" in french.text


@pytest.mark.parametrize(
    ("markdown", "unwanted"),
    [
        ("<script>alert(1)</script>", "<script"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[a](javascript:alert(1))", 'href="javascript'),
        ("[a](JAVASCRIPT:alert(1))", 'href="JAVASCRIPT'),
        ("[a](&#106;avascript:alert(1))", "href="),
        ("[a](data:text/html;base64,PHNjcmlwdD4=)", "href="),
        ("[a](vbscript:msgbox)", "href="),
        ("<javascript:alert(1)>", "href="),
        ('[a](https://x.example/" onclick="alert(1))', 'onclick="'),
        ("![i](https://x.example/i.png)", "<img"),
        ('<a href="https://x">x</a>', "<a href"),
        ("`<b>` and\n\n    <b>indented</b>", "<b>"),
        ("[a](ftp://x.example/f)", "href="),
    ],
)
def test_markdown_injection_is_escaped(markdown: str, unwanted: str) -> None:
    assert unwanted not in render_markdown(markdown)


def test_markdown_safe_subset() -> None:
    html = render_markdown(
        "# T\n###### Six\n*e* **s** `c`\n\n1. one\n2. two\n\n> q\n\n"
        "[h](https://a.example/?x=1&y=2) [m](mailto:ops@a.example) [r](#top)"
    )
    assert "<h3>T</h3>" in html and "<h6>Six</h6>" in html  # under the widget's <h2>
    assert "<em>e</em> <strong>s</strong> <code>c</code>" in html
    assert "<ol>\n<li>one</li>" in html and "<blockquote>" in html
    rel = 'rel="nofollow noopener noreferrer"'
    assert f'<a href="https://a.example/?x=1&amp;y=2" {rel}>h</a>' in html
    assert f'<a href="mailto:ops@a.example" {rel}>m</a>' in html
    assert f'<a href="#top" {rel}>r</a>' in html


def test_series_share_one_axis() -> None:
    chart = draw_series(
        [("a", [(0, 10.0), (60, 20.0)]), ("b", [(0, -5.0)]), ("c", [])], 0, 120, "Count"
    )
    assert [s.label for s in chart.series] == ["a", "b", "c"]
    assert [s.count for s in chart.series] == [2, 1, 0] and chart.count == 3
    assert chart.line == "" and chart.markers == ()
    assert chart.y_ticks[0].label == "-10" and chart.y_ticks[-1].label == "20"
    top, bottom = chart.top, chart.bottom
    assert chart.series[0].markers[1] == (pytest.approx((chart.left + chart.right) / 2), top)
    assert chart.series[1].markers[0][1] == pytest.approx(bottom - (bottom - top) / 6, abs=0.1)
    assert chart.series[2].line == "" and chart.unit == "Count"


def test_validation_messages_read_from_the_refusal() -> None:
    message = 'The dashboard body is invalid, there are 1 validation errors: [{"dataPath": '
    assert validation_messages(message + '"/widgets", "message": "Should be array"}]') == [
        ("/widgets", "Should be array")
    ]
    assert validation_messages(message + "broken") == []
    assert validation_messages("The field DashboardBody is required.") == []
