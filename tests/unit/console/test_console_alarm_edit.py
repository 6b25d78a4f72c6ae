"""Editing an alarm from the console (decision 0111, session 47: instances' monitoring): the
alarm's page offers "Edit", a form pre-filled with its settings that PutMetricAlarm's again
under the same name — with OK and INSUFFICIENT_DATA topics, its disabled actions and its unit
kept —; CloudWatch's refusal keeps the form as typed and still an edit; a metric-math alarm
(decision 0183) is shown read-only with its queries, its edit refused; French."""

from __future__ import annotations

import re
from html import unescape

import httpx

from andromede.metrics.alarm_service import AlarmService
from andromede.metrics.alarms import Alarm
from andromede.metrics.service import DataQuery
from support.console import ConsoleHarness, csrf, sign_in_root
from unit.console.test_console_alarms import _alarms, _alert, _form

_SCALING = "arn:aws:autoscaling:eu-fr-1"
_POLICY = (
    "scalingPolicy:0b0e7e52-7c1e-4f43-9d43-2b2a4d0f7a11:autoScalingGroupName/web:policyName/up"
)


async def _topic(client: httpx.AsyncClient, name: str) -> None:
    token = await csrf(client, "/topics")
    assert (await client.post("/topics", data={"csrf": token, "name": name})).status_code == 303


def _edit_href(page: httpx.Response) -> str:
    found = re.search(r'<a href="([^"]+)" id="edit-alarm">', page.text)
    assert found is not None, page.text
    return unescape(found.group(1)).removeprefix("/console")


async def test_an_alarm_edited_from_its_page(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _topic(client, "pager")
        await _topic(client, "calm")
        service: AlarmService = _alarms(console)
        await service.put_alarm(
            Alarm(tenant, "slow/api", "Shop", "Latency", (("Host", "web-1"),), 60, 3, 2, 250.0,
                  "GreaterThanThreshold", statistic="Average", unit="Milliseconds",
                  description="p", actions_enabled=False,
                  alarm_actions=(f"{_SCALING}:{tenant}:{_POLICY}",))
        )  # fmt: skip
        page = await client.get("/alarms/slow%2Fapi")
        edit = await client.get(_edit_href(page))
        fields = _form(edit)
        pager = next(a for a in re.findall(r'<option value="([^"]+:pager)"', edit.text))
        calm = next(a for a in re.findall(r'<option value="([^"]+:calm)"', edit.text))
        refused = await client.post(
            "/metrics/alarm", data={**fields, "threshold": "lots", "ok_topic_arn": calm}
        )
        saved = await client.post(
            "/metrics/alarm",
            data={**fields, "threshold": "300", "comparison": "GreaterThanOrEqualToThreshold",
                  "ok_topic_arn": calm, "insufficient_topic_arn": pager,
                  "datapoints_to_alarm": "3"},
        )  # fmt: skip
        [edited], _ = await service.describe(tenant, names=["slow/api"])
        after = await client.get("/alarms/slow%2Fapi")
        french = await client.get(_edit_href(after), headers={"accept-language": "fr"})
        unknown = await client.get("/metrics/alarm", params={"edit": "nothing"})

    # The form: every setting of the alarm, the name fixed, the actions it has kept.
    assert edit.status_code == 200
    assert fields["editing"] == "yes" and fields["alarm_name"] == "slow/api"
    assert 'name="alarm_name" maxlength' not in edit.text  # not typed again
    assert (fields["namespace"], fields["metric"], fields["dimensions"]) == (
        "Shop", "Latency", "Host=web-1",
    )  # fmt: skip
    assert (fields["statistic"], fields["period"], fields["threshold"]) == ("Average", "60", "250")
    assert fields["comparison"] == "GreaterThanThreshold"
    assert (fields["evaluation_periods"], fields["datapoints_to_alarm"]) == ("3", "2")
    assert fields["description"] == "p" and fields["unit"] == "Milliseconds"
    assert fields["actions_enabled"] == "no"
    assert fields["topic_arn"].endswith(":policyName/up")  # offered though SNS lists it not
    assert fields["ok_topic_arn"] == "" and fields["insufficient_topic_arn"] == ""
    assert 'id="save-alarm">Save alarm</button>' in edit.text
    assert 'href="/console/alarms/slow%2Fapi" id="alarm-link">slow/api</a>' in edit.text
    # CloudWatch's refusal: the form as typed, still the edit.
    assert refused.status_code == 400 and "(SerializationException)" in _alert(refused)
    assert 'id="save-alarm"' in refused.text and 'value="lots"' in refused.text
    assert f'<option value="{calm}" selected>' in refused.text
    # Saved: the same alarm replaced, what the form does not show kept.
    assert saved.status_code == 303, _alert(saved)
    assert saved.headers["location"] == "/console/alarms/slow%2Fapi"
    assert (edited.threshold, edited.comparison) == (300.0, "GreaterThanOrEqualToThreshold")
    assert edited.datapoints_to_alarm == 3 and edited.unit == "Milliseconds"
    assert edited.actions_enabled is False and edited.description == "p"
    assert edited.alarm_actions == (fields["topic_arn"],)
    assert edited.ok_actions == (calm,) and edited.insufficient_data_actions == (pager,)
    assert 'id="alarm-condition">Average &gt;= 300</td>' in after.text
    assert f"<code>{calm}</code>" in after.text and f"<code>{pager}</code>" in after.text
    assert "Modifier l\u2019alarme slow/api" in french.text and "Notifier en OK" in french.text
    assert unknown.status_code == 404 and 'id="alarm-form"' not in unknown.text


async def test_a_math_alarm_is_shown_not_edited(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        queries = (
            DataQuery("m1", "App", "Errors", (("Api", "x"),), 60, "Sum", return_data=False),
            DataQuery("m2", "App", "Requests", (("Api", "x"),), 60, "Sum", return_data=False),
            DataQuery("e1", "", "", (), 0, "", label="Error rate", expression="100*m1/m2"),
        )
        await _alarms(console).put_alarm(
            Alarm(tenant, "error-rate", "", "", (), 0, 2, 2, 5.0, "GreaterThanThreshold",
                  metrics=queries)
        )  # fmt: skip
        await _alarms(console).put_alarm(
            Alarm(tenant, "two-topics", "App", "Errors", (), 60, 1, 1, 1.0,
                  "GreaterThanThreshold", statistic="Sum",
                  ok_actions=(f"arn:aws:sns:eu-fr-1:{tenant}:a", f"arn:aws:sns:eu-fr-1:{tenant}:b"))
        )  # fmt: skip
        page = await client.get("/alarms/error-rate")
        edit = await client.get("/metrics/alarm", params={"edit": "error-rate"})
        french = await client.get("/alarms/error-rate", headers={"accept-language": "fr"})
        several = await client.get("/alarms/two-topics")
        several_edit = await client.get("/metrics/alarm", params={"edit": "two-topics"})
    assert page.status_code == 200
    assert 'id="alarm-expression"><code>100*m1/m2</code>' in page.text
    assert page.text.count('<tr class="query">') == 3
    assert "Error rate" in page.text and "<code>App</code> Errors" in page.text
    assert "namespace=App&amp;name=Requests" in page.text  # each metric linked to its chart
    assert 'id="alarm-chart"' not in page.text and 'id="edit-alarm"' not in page.text
    assert "shown here but not editable" in page.text
    assert edit.status_code == 400 and "not editable" in _alert(edit)
    assert 'id="alarm-form"' not in edit.text
    assert "ne se modifie pas" in french.text
    assert several.status_code == 200 and 'id="edit-alarm"' not in several.text
    assert "more than one action for a state" in several.text
    assert several_edit.status_code == 400
