"""The console's Alarms pages (decision 0111, session 47: alarms): an alarm created from a
metric's chart through the form exists in CloudWatch's alarm service with the settings typed
(its ALARM action a topic SNS lists to the user); the list shows each state in words,
filtered by state and name prefix, in pages, never another account's alarms; an alarm's page
shows its definition, its metric's chart with the threshold drawn, its history, and turns
its actions off and deletes it after a ticked box; CloudWatch's refusals are shown with the
form as typed, never a 500; CSRF on every form; French."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import httpx

from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.console.metric_chart import draw
from andromede.console.pages_alarms import alarm_definition
from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import Alarm
from andromede.metrics.service import MetricDatum, MetricsService
from support.console import ConsoleHarness, console_harness, csrf, csrf_of, log_in, sign_in_root


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _app(console: ConsoleHarness) -> CloudWatchApp:
    running = console.application._running
    assert running is not None
    app = running.apis[CloudWatchApp.name]
    assert isinstance(app, CloudWatchApp)
    return app


def _alarms(console: ConsoleHarness) -> AlarmService:
    service = _app(console)._alarms
    assert service is not None
    return service


def _metrics(console: ConsoleHarness) -> MetricsService:
    return _app(console)._metrics


def _rows(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr class="alarm"><td><a href="[^"]+">([^<]+)</a>', page.text)


def _form(page: httpx.Response, **typed: str) -> dict[str, str]:
    """The create form's hidden fields and first values as the page holds them, then
    ``typed``."""
    form = page.text.split('id="alarm-form"', 1)[1].split("</form>", 1)[0]
    fields = {
        name: unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
    }
    for name, value in re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', form):
        fields[name] = unescape(value)
    for name, body in re.findall(r'<select name="(\w+)">(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        fields[name] = unescape(chosen.group(1)) if chosen else ""
    return {**fields, **typed}


async def test_alarm_created_from_a_chart_listed_shown_and_deleted(
    console: ConsoleHarness,
) -> None:
    now = int(time.time())
    minute = now - now % 60
    other = await console.identity.create_tenant("other")
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _metrics(console).put_metric_data(tenant, "Shop", [
            MetricDatum("Latency", dimensions=(("Host", "web-1"),), value=float(v),
                        timestamp=datetime.fromtimestamp(minute - 60 * i, UTC), unit="Milliseconds")
            for i, v in enumerate((10, 20, 30))
        ])  # fmt: skip
        token = await csrf(client, "/topics")
        assert (await client.post("/topics", data={"csrf": token, "name": "pager"})).status_code
        await _alarms(console).put_alarm(
            Alarm(other.tenant.id, "secret-alarm", "Shop", "Latency", (), 60, 1, 1, 1.0,
                  "GreaterThanThreshold", statistic="Average")
        )  # fmt: skip
        graph = await client.get(
            "/metrics/graph",
            params={"namespace": "Shop", "name": "Latency", "dimension": "Host=web-1",
                    "stat": "Maximum", "range": "1h"},
        )  # fmt: skip
        link = re.search(r'<a href="([^"]+)" id="create-alarm-link">', graph.text)
        assert link is not None
        new = await client.get(unescape(link.group(1)).removeprefix("/console"))
        topic = re.search(r'<option value="(arn:aws:sns:[^"]+:pager)">pager</option>', new.text)
        assert topic is not None, new.text
        typed = {"alarm_name": "high-latency", "threshold": "abc", "evaluation_periods": "3",
                 "datapoints_to_alarm": "2", "treat_missing_data": "breaching",
                 "comparison": "GreaterThanOrEqualToThreshold", "topic_arn": topic.group(1),
                 "description": "p < 25 ms"}  # fmt: skip
        fields = _form(new, **typed)
        not_a_number = await client.post("/metrics/alarm", data=fields)
        bad_period = await client.post(
            "/metrics/alarm", data={**fields, "threshold": "25", "period": "7"}
        )
        forged = await client.post("/metrics/alarm", data={**fields, "csrf": "forged"})
        created = await client.post("/metrics/alarm", data={**fields, "threshold": "25"})
        found, _ = await _alarms(console).describe(tenant, names=["high-latency"])
        await _alarms(console).put_alarm(
            Alarm(tenant, "low-orders", "Shop", "Orders", (), 300, 1, 1, 1.0,
                  "LessThanThreshold", statistic="Sum")
        )  # fmt: skip
        await _alarms(console).set_state(tenant, "low-orders", "ALARM", "Testing.", None)
        listing = await client.get("/alarms")
        in_alarm = await client.get("/alarms", params={"state": "ALARM"})
        by_prefix = await client.get("/alarms", params={"prefix": "high"})
        none = await client.get("/alarms", params={"prefix": "zzz", "state": "OK"})
        page = await client.get("/alarms/high-latency")
        hidden = await client.get("/alarms/secret-alarm")
        token = csrf_of(page)
        disabled = await client.post(
            "/alarms/high-latency/actions", data={"csrf": token, "enabled": "no"}
        )
        after = await client.get("/alarms/high-latency")
        unticked = await client.post("/alarms/high-latency/delete", data={"csrf": token})
        french = await client.get("/alarms", headers={"accept-language": "fr"})
        french_page = await client.get("/alarms/high-latency", headers={"accept-language": "fr"})
        deleted = await client.post(
            "/alarms/high-latency/delete", data={"csrf": token, "confirm": "yes"}
        )
        again = await client.post(
            "/alarms/high-latency/delete", data={"csrf": token, "confirm": "yes"}
        )
        gone = await client.get("/alarms")

    # The form, from the chart: the metric, its dimension, the chart's statistic and period.
    assert new.status_code == 200
    assert fields["namespace"] == "Shop" and fields["metric"] == "Latency"
    assert fields["dimensions"] == "Host=web-1"
    assert fields["statistic"] == "Maximum" and fields["period"] == "60"
    # CloudWatch's refusals, with the form as typed.
    assert not_a_number.status_code == 400
    assert _alert(not_a_number) == "Threshold must be a number. (SerializationException)"
    assert 'name="threshold" size="12" required value="abc"' in not_a_number.text
    assert 'value="high-latency"' in not_a_number.text
    assert f'<option value="{topic.group(1)}" selected>' in not_a_number.text
    assert bad_period.status_code == 400 and "(InvalidParameterValue)" in _alert(bad_period)
    assert 'name="period" list="alarm-periods" size="8" value="7"' in bad_period.text
    assert forged.status_code == 403
    assert created.status_code == 303, _alert(created)
    assert created.headers["location"] == "/console/alarms/high-latency"
    assert len(found) == 1
    alarm = found[0]
    assert (alarm.namespace, alarm.metric_name, alarm.dimensions) == (
        "Shop", "Latency", (("Host", "web-1"),),
    )  # fmt: skip
    assert (alarm.statistic, alarm.period, alarm.threshold) == ("Maximum", 60, 25.0)
    assert alarm.comparison == "GreaterThanOrEqualToThreshold"
    assert (alarm.evaluation_periods, alarm.datapoints_to_alarm) == (3, 2)
    assert alarm.treat_missing_data == "breaching" and alarm.description == "p < 25 ms"
    assert alarm.alarm_actions == (topic.group(1),)
    assert f":{tenant}:pager" in topic.group(1)

    # The list: states in words, filters, never the other account's.
    assert listing.status_code == 200
    assert sorted(_rows(listing)) == ["high-latency", "low-orders"]
    assert '<td class="state state-insufficient_data">Insufficient data</td>' in listing.text
    assert '<td class="state state-alarm">In alarm</td>' in listing.text
    assert 'href="/console/alarms">Alarms</a>' in listing.text  # the menu
    assert "secret-alarm" not in listing.text
    assert _rows(in_alarm) == ["low-orders"] and _rows(by_prefix) == ["high-latency"]
    assert '<option value="ALARM" selected>' in in_alarm.text
    assert "No alarms match these filters." in none.text
    assert hidden.status_code == 404 and "(ResourceNotFound)" in _alert(hidden)

    # The alarm's page: definition, chart with the threshold, history, actions.
    assert page.status_code == 200
    assert 'id="alarm-condition">Maximum &gt;= 25</td>' in page.text
    assert "2 out of 3" in page.text and ">breaching</td>" in page.text
    assert f"<code>{topic.group(1)}</code>" in page.text
    assert '<line class="threshold"' in page.text
    assert "The threshold, 25, is drawn as a dashed line." in page.text
    points = re.search(r'<polyline class="series" points="([^"]*)"', page.text)
    assert points is not None and len(points.group(1).split()) == 3
    assert page.text.count('<tr class="datapoint">') == 3
    assert "Alarm &#34;high-latency&#34; created" in page.text
    assert 'id="alarm-actions-enabled">Actions enabled' in page.text
    assert disabled.status_code == 303
    assert 'id="alarm-actions-enabled">Actions disabled' in after.text
    assert "Enable actions" in after.text
    # Deletion: unticked sends nothing; ticked deletes; again is CloudWatch's refusal.
    assert unticked.status_code == 400 and "Tick the box" in _alert(unticked)
    assert deleted.status_code == 303 and deleted.headers["location"] == "/console/alarms"
    assert again.status_code == 404 and "(ResourceNotFound)" in _alert(again)
    assert _rows(gone) == ["low-orders"]
    assert "Alarmes" in french.text and "Données insuffisantes" in french.text
    assert "Le seuil, 25, est tracé en pointillés." in french_page.text


async def test_pages_and_refusals(tmp_path: Path) -> None:
    """Pages of the console's size over DescribeAlarms; a user whose policies allow no
    CloudWatch call sees CloudWatch's AccessDenied (403) on the list, an alarm and the form,
    with the form as typed."""
    async with console_harness(tmp_path, console_page_size=2) as console:
        tenant = console.admin_tenant_id
        await console.user_with_password(tenant, "root")
        await console.user_with_password(tenant, "bob")
        for i in range(5):
            await _alarms(console).put_alarm(
                Alarm(tenant, f"a{i}" if i < 4 else "a4/slash?", "App", "M", (), 60, 1, 1, 1.0,
                      "GreaterThanThreshold", statistic="Sum")
            )  # fmt: skip
        async with console.client() as client:
            assert (await log_in(client, "admin", "root")).status_code == 303
            pages = [await client.get("/alarms")]
            while 'rel="next"' in pages[-1].text:
                found = re.search(r'href="([^"]+)" rel="next"', pages[-1].text)
                assert found is not None and len(pages) < 5
                pages.append(await client.get(unescape(found.group(1)).removeprefix("/console")))
            odd = await client.get("/alarms", params={"token": "nonsense", "state": "WHATEVER"})
            link = re.search(r'<a href="([^"]+)">a4/slash\?</a>', pages[-1].text)
            assert link is not None
            slashed = await client.get(unescape(link.group(1)).removeprefix("/console"))
            token = csrf_of(slashed)
            form = r'action="([^"]+)" class="inline" id="alarm-actions-form"'
            action = re.search(form, slashed.text)
            assert action is not None
            slashed_off = await client.post(
                unescape(action.group(1)).removeprefix("/console"),
                data={"csrf": token, "enabled": "no"},
            )
        async with console.client() as client:
            assert (await log_in(client, "admin", "bob")).status_code == 303
            denied = await client.get("/alarms")
            denied_alarm = await client.get("/alarms/a1")
            new = await client.get("/metrics/alarm", params={"namespace": "App", "name": "M"})
            denied_new = await client.post(
                "/metrics/alarm", data=_form(new, alarm_name="mine", threshold="3")
            )
    assert [_rows(page) for page in pages] == [["a0", "a1"], ["a2", "a3"], ["a4/slash?"]]
    # A name with a "/" and a "?" has its page and its changes.
    assert slashed.status_code == 200 and 'id="alarm-condition">Sum &gt; 1</td>' in slashed.text
    assert slashed_off.status_code == 303
    assert slashed_off.headers["location"] == "/console/alarms/a4%2Fslash%3F"
    # An unknown state is no filter; a token of no listing is CloudWatch's refusal.
    assert odd.status_code == 400 and "(InvalidNextToken)" in _alert(odd)
    assert '<option value="">Any state</option>' in odd.text
    assert denied.status_code == 403 and "(AccessDenied)" in _alert(denied)
    assert denied_alarm.status_code == 403 and "(AccessDenied)" in _alert(denied_alarm)
    assert new.status_code == 200
    assert denied_new.status_code == 403 and "(AccessDenied)" in _alert(denied_new)
    assert 'value="mine"' in denied_new.text


def test_the_form_read_into_put_metric_alarm() -> None:
    typed = {"alarm_name": " a ", "namespace": "N", "metric": "M",
             "dimensions": "A=1\r\nB=2", "statistic": "p99", "period": "60",
             "evaluation_periods": "x", "threshold": "nan", "comparison": "LessThanThreshold",
             "treat_missing_data": "", "topic_arn": "", "datapoints_to_alarm": ""}  # fmt: skip
    definition = alarm_definition(typed)
    assert definition == {
        "AlarmName": "a", "Namespace": "N", "MetricName": "M",
        "Dimensions": [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}],
        "ExtendedStatistic": "p99", "Period": 60, "EvaluationPeriods": "x",
        "Threshold": "nan", "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "missing", "AlarmActions": [],
    }  # fmt: skip
    assert (
        alarm_definition({**typed, "threshold": "1.5", "datapoints_to_alarm": "2"})[
            "DatapointsToAlarm"
        ]
        == 2
    )


def test_the_threshold_is_within_the_axis() -> None:
    # Values up to 10, a threshold of 95: the axis rises to 100 and the line is near the top.
    chart = draw([(0, 5.0), (60, 10.0)], 0, 120, "Count", 95.0)
    assert chart.y_ticks[-1].label == "100"
    assert chart.threshold is not None and chart.top <= chart.threshold < chart.top + 20
    assert chart.threshold_label == "95"
    assert draw([(0, 5.0)], 0, 120, "Count").threshold is None
    assert draw([(0, 5.0)], 0, 120, "Count", float("inf")).threshold is None
