"""CloudWatch Contributor Insights in the console (decisions 0272 and 0279): a rule made from the
form over a ticked log group (JSON, keys one a line, filters as JSON, Count), listed with its
state, schema, groups and managed flag; CloudWatch's refusal of a definition in its words with
the form as typed; the rule's page with its definition and its report over the last hour — the
top contributors of the events put meanwhile with their counts, the unique count, the chart
and its datapoints —; disabled, enabled, deleted after a ticked box. Each checked against what
CloudWatch answers apart from the console."""

from __future__ import annotations

import json
import time
from html import unescape
from typing import Any

import httpx

from andromede.console.handlers import FormFault
from andromede.console.insight_forms import definition_of, fields_of
from support.console import ConsoleHarness, csrf_of, log_in, logged_events, sign_in_root
from unit.console.test_console_firehose_edits import alert, call, form_of

_LIST = "/insight-rules"
_RULE = "/insight-rules/rule?name=errors%2Fby-ip"


def _words(text: str) -> str:
    return text


def test_the_form_is_read_into_a_rule_definition() -> None:
    fields = {"log_group:/app/web": "yes", "log_group:/app/db": "", "log_format": "CLF",
              "clf_fields": "1=ip\n 9 = status \n", "keys": " ip \n\nstatus",
              "value_of": "", "filters": '[{"Match": "status", "In": ["500"]}]',
              "aggregate_on": "Count"}  # fmt: skip
    assert json.loads(definition_of(fields, _words)) == {
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1},
        "LogGroupNames": ["/app/web"],
        "LogFormat": "CLF",
        "Fields": {"1": "ip", "9": "status"},
        "Contribution": {"Keys": ["ip", "status"], "Filters": [{"Match": "status", "In": ["500"]}]},
        "AggregateOn": "Count",
    }
    summed = json.loads(definition_of(
        {"log_group:a": "yes", "keys": "$.ip", "value_of": "$.bytes", "aggregate_on": "Sum",
         "clf_fields": "1=ip"}, _words,
    ))  # fmt: skip
    assert summed["Contribution"] == {"Keys": ["$.ip"], "ValueOf": "$.bytes"}
    assert "Fields" not in summed and summed["LogFormat"] == "JSON"
    # A definition read back into the form (the account's groups ticked, the others typed)
    # makes the same definition again.
    clf = definition_of(fields, _words)
    again = fields_of(clf, {"/app/web", "/app/db"})
    assert again["log_group:/app/web"] == "yes" and "log_group:/app/db" not in again
    assert json.loads(definition_of(again, _words)) == json.loads(clf)
    typed = fields_of(summed_text := definition_of({"log_group:b-*": "yes", "keys": "$.a"},
                                                   _words), set())  # fmt: skip
    assert typed["more_groups"] == "b-*" and json.loads(definition_of(typed, _words)) == (
        json.loads(summed_text)
    )
    assert fields_of("not json", set()) == {} and fields_of("[1]", set()) == {}
    # Other names and prefixes typed, one a line, after the ticked ones (once each).
    more = json.loads(definition_of({"log_group:a": "yes", "more_groups": "api-*\n a \n"}, _words))
    assert more["LogGroupNames"] == ["a", "api-*"]
    for refused in ({"keys": "$.ip", "more_groups": " \n"},
                    {"log_group:a": "yes", "filters": '{"Match": 1}'},
                    {"log_group:a": "yes", "filters": "[nope"}):  # fmt: skip
        try:
            definition_of(refused, _words)
        except FormFault:
            continue
        raise AssertionError(refused)


async def _events(console: ConsoleHarness, client: httpx.AsyncClient, *ips: str) -> None:
    now = int(time.time() * 1000)
    events = [
        {"timestamp": now - 1000 + n, "message": json.dumps({"ip": ip, "status": 500})}
        for n, ip in enumerate(ips)
    ]
    events.append({"timestamp": now, "message": json.dumps({"ip": "10.0.0.9", "status": 200})})
    await call(console, client, "logs", "PutLogEvents",
               {"logGroupName": "/app/web", "logStreamName": "s", "logEvents": events})  # fmt: skip


def _rules(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["Name"]: rule for rule in answer["InsightRules"]}


async def test_a_rule_made_listed_reported_disabled_enabled_and_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        for group in ("/app/web", "/app/db"):
            await call(console, client, "logs", "CreateLogGroup", {"logGroupName": group})
        await call(console, client, "logs", "CreateLogStream",
                   {"logGroupName": "/app/web", "logStreamName": "s"})  # fmt: skip
        empty = await client.get(_LIST)
        assert empty.status_code == 200 and "No Contributor Insights rules yet." in empty.text
        assert 'id="menu-insight-rules"' in empty.text
        creating = form_of(empty, "create-insight-rule-form")
        assert 'name="log_group:/app/web" value="yes"' in creating
        assert 'name="log_group:/app/db" value="yes"' in creating
        token = csrf_of(empty)
        fields = {"csrf": token, "name": "errors/by-ip", "log_group:/app/web": "yes",
                  "log_format": "JSON", "keys": "$.ip", "value_of": "",
                  "filters": '[{"Match": "$.status", "GreaterThan": 499}]',
                  "aggregate_on": "Count", "state": "ENABLED"}  # fmt: skip

        # CloudWatch's refusal of a criterion it does not know: its words, the form as typed.
        bad = await client.post(
            _LIST, data=fields | {"filters": '[{"Match": "$.status", "Above": 1}]'}
        )
        assert bad.status_code == 400 and "(InvalidParameterValue)" in alert(bad)
        again = form_of(bad, "create-insight-rule-form")
        assert 'name="log_group:/app/web" value="yes" checked' in again
        assert '"Above": 1}]</textarea>' in unescape(again) and 'value="errors/by-ip"' in again
        none = await client.post(_LIST, data={k: v for k, v in fields.items()
                                              if not k.startswith("log_group:")})  # fmt: skip
        assert none.status_code == 400 and "Tick or name at least one log group." in alert(none)
        # Past twice AWS's 20 groups the form is not read: 400, nothing sent.
        flood = fields | {f"log_group:/g{n}": "yes" for n in range(60)}
        flooded = await client.post(_LIST, data=flood)
        assert flooded.status_code == 400 and flooded.text == "The form could not be read."

        made = await client.post(_LIST, data=fields)
        assert made.status_code == 303, alert(made)
        assert made.headers["location"] == "/console" + _RULE
        held = _rules(await call(console, client, "metrics", "DescribeInsightRules", {}))
        definition = json.loads(held["errors/by-ip"]["Definition"])
        assert definition["LogGroupNames"] == ["/app/web"]
        assert definition["Contribution"] == {
            "Keys": ["$.ip"],
            "Filters": [{"Match": "$.status", "GreaterThan": 499}],
        }
        listed = await client.get(_LIST)
        row = listed.text.split('id="insight-rule-errors/by-ip"', 1)[1].split("</tr>", 1)[0]
        assert f'<a href="/console{_RULE}">errors/by-ip</a>' in row.replace("&amp;", "&")
        assert '<td class="state">ENABLED</td>' in row
        assert '<td class="schema">CloudWatchLogRule/1</td>' in row
        assert "<code>/app/web</code>" in row and '<td class="managed">no</td>' in row

        await _events(console, client, "10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.2")
        page = await client.get(_RULE)
        assert page.status_code == 200
        assert '"GreaterThan": 499' in unescape(page.text.split('id="insight-rule-definition"')[1])
        figures = page.text.split('id="report-figures"', 1)[1].split("</dl>", 1)[0]
        assert '<dd class="statistic">Count</dd>' in figures
        assert '<dd class="aggregate-value">4</dd>' in figures
        assert '<dd class="unique-count">2</dd>' in figures
        contributors = page.text.split('id="contributors"', 1)[1].split("</table>", 1)[0]
        assert '<th scope="col">$.ip</th>' in contributors
        first, second = contributors.split('class="contributor"')[1:3]
        assert '<td class="key">10.0.0.1</td><td class="value">3</td>' in first
        assert '<td class="key">10.0.0.2</td><td class="value">1</td>' in second
        assert 'id="insight-chart"' in page.text and "10.0.0.1 (1)" in page.text
        assert 'class="datapoint"' in page.text and "10.0.0.9" not in page.text
        day = await client.get(_RULE + "&range=24h")
        assert "<strong>24 hours</strong>" in day.text and "Period 15 min" in day.text

        # Its edit: the form holds its definition; saved under its name, it is replaced.
        edit = await client.get(f"{_LIST}?edit=errors%2Fby-ip")
        editing = form_of(edit, "create-insight-rule-form")
        assert 'name="log_group:/app/web" value="yes" checked' in editing
        assert 'name="log_group:/app/db" value="yes">' in editing
        assert 'value="errors/by-ip"' in editing and ">$.ip</textarea>" in editing
        assert '"GreaterThan": 499}]</textarea>' in unescape(editing)
        assert "Edit the rule errors/by-ip" in edit.text
        replaced = await client.post(
            _LIST, data=fields | {"more_groups": "/app/api-*", "aggregate_on": "Sum",
                                  "value_of": "$.bytes"},
        )  # fmt: skip
        assert replaced.status_code == 303, alert(replaced)
        held = _rules(await call(console, client, "metrics", "DescribeInsightRules", {}))
        definition = json.loads(held["errors/by-ip"]["Definition"])
        assert definition["LogGroupNames"] == ["/app/web", "/app/api-*"]
        assert definition["AggregateOn"] == "Sum"
        edit = await client.get(f"{_LIST}?edit=errors%2Fby-ip")
        assert "/app/api-*</textarea>" in form_of(edit, "create-insight-rule-form")
        assert (await client.post(_LIST, data=fields)).status_code == 303  # Count again

        disabled = await client.post(_RULE.replace("/rule?", "/rule/disable?"),
                                     data={"csrf": token})  # fmt: skip
        assert disabled.status_code == 303
        held = _rules(await call(console, client, "metrics", "DescribeInsightRules", {}))
        assert held["errors/by-ip"]["State"] == "DISABLED"
        page = await client.get(_RULE)
        assert (
            '<dd class="state">DISABLED</dd>' in page.text
            and 'id="enable-insight-rule"' in page.text
        )
        enabled = await client.post(_RULE.replace("/rule?", "/rule/enable?"), data={"csrf": token})
        assert enabled.status_code == 303
        held = _rules(await call(console, client, "metrics", "DescribeInsightRules", {}))
        assert held["errors/by-ip"]["State"] == "ENABLED"

        deleting = _RULE.replace("/rule?", "/rule/delete?")
        unticked = await client.post(deleting, data={"csrf": token})
        assert unticked.status_code == 400
        assert "errors/by-ip" in _rules(
            await call(console, client, "metrics", "DescribeInsightRules", {})
        )
        deleted = await client.post(deleting, data={"csrf": token, "confirm": "yes"})
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console" + _LIST
        assert _rules(await call(console, client, "metrics", "DescribeInsightRules", {})) == {}
        gone = await client.get(_RULE, headers={"accept-language": "fr"})
        assert gone.status_code == 404 and "(ResourceNotFoundException)" in alert(gone)
        again = await client.post(_RULE.replace("/rule?", "/rule/enable?"), data={"csrf": token})
        assert again.status_code == 400 and "does not exist" in alert(again)
        actions = {e.action for e in await logged_events(console, tenant)}
        assert {"cloudwatch:PutInsightRule", "cloudwatch:DisableInsightRules",
                "cloudwatch:EnableInsightRules",
                "cloudwatch:DeleteInsightRules"} <= actions  # fmt: skip


async def test_a_user_cloudwatch_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    await console.user_with_password(console.admin_tenant_id, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(_LIST)
        assert page.status_code == 403 and "(AccessDenied)" in alert(page)
        assert 'id="create-insight-rule-form"' in page.text
        rule = await client.get(_RULE, headers={"accept-language": "fr"})
        assert rule.status_code == 403 and "(AccessDenied)" in alert(rule)
        made = await client.post(_LIST, data={"csrf": csrf_of(page), "name": "x",
                                              "more_groups": "a", "keys": "$.ip"})  # fmt: skip
        assert made.status_code == 403 and "(AccessDenied)" in alert(made)
