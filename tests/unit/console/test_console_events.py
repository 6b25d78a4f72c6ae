"""The console's EventBridge pages (decision 0111, session 48; decision 0192): the default and
custom buses, a bus's rules made (pattern or schedule), disabled, enabled and deleted; a rule's
targets (a queue or a topic of the account, chosen from lists; the event as is or a constant
JSON) added and removed; "Test pattern" — each EventBridge's own call as the signed-in user,
its refusals in its words, every form CSRF-checked."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import httpx

from andromede.console.pages_events import SAMPLE_EVENT
from support.console import ConsoleHarness, csrf, log_in, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _call(
    console: ConsoleHarness, client: httpx.AsyncClient, api: str, action: str, payload: Any
) -> Any:
    """An ``events``, ``sqs`` or ``sns`` call as the client's signed-in user, as the console's
    own calls are made."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    if api == "sns":
        sns = running.console.console.sns
        assert sns is not None
        return await sns.call(_SCOPE, principal, action, payload)
    wire = running.console.console.events if api == "events" else running.console.console.sqs
    assert wire is not None
    return await wire._json(_SCOPE, principal, action, payload)


async def test_rules_targets_and_buses(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/event-rules")
        empty = await client.get("/event-rules")
        assert "No rules on this bus yet." in empty.text
        assert '<li class="event-bus"><strong>default</strong>' in empty.text
        pattern = json.dumps({"source": ["aws.s3"]})
        made = await client.post(
            "/event-rules",
            data={"csrf": token, "name": "uploads", "pattern": pattern, "description": "s3"},
        )
        assert made.status_code == 303, made.text
        assert made.headers["location"] == "/console/event-rules/rule?bus=default&name=uploads"
        neither = await client.post("/event-rules", data={"csrf": token, "name": "nothing"})
        assert neither.status_code == 400 and "ValidationException" in _alert(neither)
        scheduled = await client.post(
            "/event-rules",
            data={
                "csrf": token,
                "name": "tick",
                "schedule": "rate(5 minutes)",
                "state": "DISABLED",
            },
        )
        assert scheduled.status_code == 303
        listed = await client.get("/event-rules")
        assert listed.text.count('class="event-rule"') == 2
        assert "rate(5 minutes)" in listed.text and "DISABLED" in listed.text

        # Enable / disable.
        page = await client.get("/event-rules/rule?bus=default&name=uploads")
        assert page.text.split('id="event-rule-state">', 1)[1].startswith("ENABLED")
        disabled = await client.post(
            "/event-rules/rule/disable", data={"csrf": token, "bus": "default", "name": "uploads"}
        )
        assert disabled.status_code == 303
        described = await _call(console, client, "events", "DescribeRule", {"Name": "uploads"})
        assert described["State"] == "DISABLED"
        enabled = await client.post(
            "/event-rules/rule/enable", data={"csrf": token, "bus": "default", "name": "uploads"}
        )
        assert enabled.status_code == 303
        described = await _call(console, client, "events", "DescribeRule", {"Name": "uploads"})
        assert described["State"] == "ENABLED"

        # Targets: the account's queue and topic offered; a constant input; removed.
        queue = await _call(console, client, "sqs", "CreateQueue", {"QueueName": "inbox"})
        assert queue["QueueUrl"]
        await _call(console, client, "sns", "CreateTopic", {"Name": "alerts"})
        page = await client.get("/event-rules/rule?bus=default&name=uploads")
        choices = page.text.split('name="target_arn"', 1)[1].split("</select>", 1)[0]
        assert "SQS: inbox" in choices and "SNS: alerts" in choices
        queue_arn = choices.split('<option value="', 1)[1].split('"', 1)[0]
        assert queue_arn.endswith(":inbox")
        topic_arn = choices.split('<option value="', 2)[2].split('"', 1)[0]
        unset = await client.post(
            "/event-rules/rule/put-target",
            data={"csrf": token, "name": "uploads", "target_arn": queue_arn, "mode": "constant"},
        )
        assert unset.status_code == 400 and _alert(unset) == "Type the constant JSON to send."
        bad_json = await client.post(
            "/event-rules/rule/put-target",
            data={
                "csrf": token, "name": "uploads", "target_arn": queue_arn,
                "mode": "constant", "input": "{not json",
            },
        )  # fmt: skip
        assert bad_json.status_code == 400 and "ValidationException" in _alert(bad_json)
        constant = await client.post(
            "/event-rules/rule/put-target",
            data={
                "csrf": token, "name": "uploads", "target_arn": queue_arn,
                "mode": "constant", "input": '{"hello": "<b>world</b>"}',
            },
        )  # fmt: skip
        assert constant.status_code == 303, constant.text
        as_is = await client.post(
            "/event-rules/rule/put-target",
            data={"csrf": token, "name": "uploads", "target_arn": topic_arn, "mode": "matched"},
        )
        assert as_is.status_code == 303
        targets = await _call(console, client, "events", "ListTargetsByRule", {"Rule": "uploads"})
        assert {(t["Id"], t["Arn"], t.get("Input")) for t in targets["Targets"]} == {
            ("inbox", queue_arn, '{"hello": "<b>world</b>"}'),
            ("alerts", topic_arn, None),
        }
        page = await client.get("/event-rules/rule?bus=default&name=uploads")
        assert page.text.count('class="event-target"') == 2
        assert "<b>world</b>" not in page.text and "&lt;b&gt;world&lt;/b&gt;" in page.text
        removed = await client.post(
            "/event-rules/rule/remove-target",
            data={"csrf": token, "name": "uploads", "target_id": "alerts"},
        )
        assert removed.status_code == 303
        targets = await _call(console, client, "events", "ListTargetsByRule", {"Rule": "uploads"})
        assert [t["Id"] for t in targets["Targets"]] == ["inbox"]

        # A custom bus, a rule on it, the bus deleted once its rule is.
        bus = await client.post(
            "/event-rules/create-bus", data={"csrf": token, "bus_name": "orders"}
        )
        assert (
            bus.status_code == 303 and bus.headers["location"] == "/console/event-rules?bus=orders"
        )
        on_bus = await client.post(
            "/event-rules",
            data={"csrf": token, "bus": "orders", "name": "paid", "pattern": pattern},
        )
        assert on_bus.headers["location"] == "/console/event-rules/rule?bus=orders&name=paid"
        orders = await client.get("/event-rules?bus=orders")
        assert orders.text.count('class="event-rule"') == 1 and ">paid</a>" in orders.text
        assert ">uploads</a>" not in orders.text
        unticked = await client.post(
            "/event-rules/delete-bus", data={"csrf": token, "bus": "orders"}
        )
        assert unticked.status_code == 400
        assert _alert(unticked) == "Tick the box to confirm the deletion."
        default = await client.post(
            "/event-rules/delete-bus", data={"csrf": token, "bus": "default", "confirm": "yes"}
        )
        assert default.status_code == 400
        assert _alert(default) == "Cannot delete event bus default. (ValidationException)"
        gone = await client.post(
            "/event-rules/rule/delete", data={"csrf": token, "bus": "orders", "name": "paid"}
        )
        assert gone.status_code == 303
        assert gone.headers["location"] == "/console/event-rules?bus=orders"
        deleted = await client.post(
            "/event-rules/delete-bus", data={"csrf": token, "bus": "orders", "confirm": "yes"}
        )
        assert deleted.status_code == 303
        buses = await _call(console, client, "events", "ListEventBuses", {})
        assert [b["Name"] for b in buses["EventBuses"]] == ["default"]

        forged = await client.post("/event-rules/rule/delete", data={"name": "uploads"})
        assert forged.status_code == 403
        assert (await client.get("/event-rules/rule?name=uploads")).status_code == 200


async def test_test_pattern(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/event-rules")
        page = await client.get("/event-rules")
        assert unescape(page.text.split('name="event"', 1)[1].split(">", 1)[1]).startswith(
            SAMPLE_EVENT
        )
        matched = await client.post(
            "/event-rules/test",
            data={"csrf": token, "pattern": '{"source": ["aws.s3"]}', "event": SAMPLE_EVENT},
        )
        assert matched.status_code == 200
        assert "The sample event matches the pattern." in matched.text
        unmatched = await client.post(
            "/event-rules/test",
            data={"csrf": token, "pattern": '{"source": ["aws.ec2"]}', "event": SAMPLE_EVENT},
        )
        assert "The sample event does not match the pattern." in unmatched.text
        assert "aws.ec2" in unmatched.text  # the pattern typed is kept in the form
        invalid = await client.post(
            "/event-rules/test",
            data={"csrf": token, "pattern": '{"source": "aws.s3"}', "event": SAMPLE_EVENT},
        )
        assert invalid.status_code == 400
        assert "InvalidEventPatternException" in _alert(invalid)
        forged = await client.post(
            "/event-rules/test", data={"pattern": "{}", "event": SAMPLE_EVENT}
        )
        assert forged.status_code == 403


async def test_a_user_without_policies_is_refused_in_the_services_words(
    console: ConsoleHarness,
) -> None:
    """The pages decide nothing: a user whose policies allow neither Logs nor EventBridge
    reads their refusals, and a form it posts changes nothing."""
    async with console.client() as client:
        await console.user_with_password(console.admin_tenant_id, "nobody")
        assert (await log_in(client, "admin", "nobody")).status_code == 303
        token = await csrf(client, "/event-rules")
        rules = await client.get("/event-rules")
        assert rules.status_code in (400, 403)
        assert "(AccessDeniedException)" in _alert(rules)
        groups = await client.get("/log-groups")
        assert groups.status_code in (400, 403) and "(AccessDeniedException)" in _alert(groups)
        made = await client.post("/log-groups", data={"csrf": token, "name": "nope"})
        assert "(AccessDeniedException)" in _alert(made)
        rule = await client.post(
            "/event-rules", data={"csrf": token, "name": "nope", "schedule": "rate(1 hour)"}
        )
        assert "(AccessDeniedException)" in _alert(rule)
    async with console.client() as client:
        await sign_in_root(console, client)
        assert "No log groups yet." in (await client.get("/log-groups")).text
        assert "No rules on this bus yet." in (await client.get("/event-rules")).text


async def test_a_managed_rule_shows_its_manager_and_offers_no_change(
    console: ConsoleHarness,
) -> None:
    """Decision 0341: an archive's rule is listed and shown with its ``ManagedBy``, with its
    target, without the forms that would change it; a change posted all the same is refused
    in EventBridge's words (``ManagedRuleException``) and changes nothing."""
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/event-rules")
        buses = await _call(console, client, "events", "ListEventBuses", {})
        bus_arn = buses["EventBuses"][0]["Arn"]
        await _call(
            console, client, "events", "CreateArchive",
            {"ArchiveName": "orders", "EventSourceArn": bus_arn},
        )  # fmt: skip
        await _call(console, client, "events", "PutRule", {"Name": "mine", "EventPattern": "{}"})
        listed = await client.get("/event-rules")
        assert listed.text.count('class="managed-rule"') == 1
        assert "managed by prod.vhs.events.aws.internal" in listed.text

        page = await client.get("/event-rules/rule?bus=default&name=Events-Archive-orders")
        assert page.status_code == 200
        managed_by = page.text.split('id="event-rule-managed-by">', 1)[1].split("<", 1)[0]
        assert managed_by == "prod.vhs.events.aws.internal"
        assert 'id="managed-rule-note"' in page.text
        assert page.text.count('class="event-target"') == 1
        assert "aws.events.event.json" in unescape(page.text)  # its input transformer
        for form in ("toggle-rule-form", "edit-rule-form", "put-target-form", "delete-rule-form"):
            assert f'id="{form}"' not in page.text
        assert 'class="remove-target"' not in page.text
        # A user's own rule keeps every form.
        mine = await client.get("/event-rules/rule?bus=default&name=mine")
        assert 'id="delete-rule-form"' in mine.text and 'id="managed-rule-note"' not in mine.text

        fields = {"csrf": token, "bus": "default", "name": "Events-Archive-orders"}
        refused = await client.post("/event-rules/rule/delete", data=fields)
        assert refused.status_code == 400 and "ManagedRuleException" in _alert(refused)
        removed = await client.post(
            "/event-rules/rule/remove-target",
            data={**fields, "target_id": "Events-Archive-orders"},
        )
        assert removed.status_code == 400 and "ManagedRuleException" in _alert(removed)
        described = await _call(
            console, client, "events", "DescribeRule", {"Name": "Events-Archive-orders"}
        )
        assert described["State"] == "ENABLED"
        archive = await _call(
            console, client, "events", "DescribeArchive", {"ArchiveName": "orders"}
        )
        assert archive["State"] == "ENABLED"
