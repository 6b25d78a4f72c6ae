"""A log group's data protection policy in the console (decision 0211; decision 0111, session
52): the policy put from the form (managed identifiers ticked among those Logs serves, a custom
expression, an audit destination group), shown and read back as Logs keeps it, refused in
Logs' words with the form as typed, deleted after a ticked box; masked events shown masked, and
the "Unmask" toggle on a stream's events, a search and Logs Insights showing the terms to a
user allowed ``logs:Unmask`` and AWS's AccessDeniedException to one denied it."""

from __future__ import annotations

import asyncio
import json
import time
from html import unescape
from typing import Any

import httpx

from andromede.console.pages_log_protection import MANAGED, document_from_form, policy_view
from andromede.dataidentifiers import MANAGED_IDENTIFIERS
from support.console import ConsoleHarness, csrf, log_in, sign_in_root

_EMAIL = "alice@example.com"


async def _logs(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    running = console.application._running
    assert running is not None
    wire = running.console.console.logs
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, payload)


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _messages(page: httpx.Response) -> list[str]:
    return [
        unescape(cell.split("</pre>", 1)[0])
        for cell in page.text.split('<pre class="message">')[1:]
    ]


def test_the_form_offers_every_served_identifier_and_builds_awss_shape() -> None:
    assert set(MANAGED) == set(MANAGED_IDENTIFIERS)

    fields = {
        "policy_name": "p",
        "managed_EmailAddress": "yes",
        "custom_name_1": "OrderId",
        "custom_regex_1": "ORD-[0-9]{6}",
        "findings_group": "/audit",
    }
    document = json.loads(document_from_form(fields, str))
    audit, deidentify = document["Statement"]
    identifiers = ["arn:aws:dataprotection::aws:data-identifier/EmailAddress", "OrderId"]
    assert audit["DataIdentifier"] == deidentify["DataIdentifier"] == identifiers
    assert audit["Operation"] == {
        "Audit": {"FindingsDestination": {"CloudWatchLogs": {"LogGroup": "/audit"}}}
    }
    assert deidentify["Operation"] == {"Deidentify": {"MaskConfig": {}}}
    assert document["Configuration"] == {
        "CustomDataIdentifier": [{"Name": "OrderId", "Regex": "ORD-[0-9]{6}"}]
    }
    view = policy_view(json.dumps(document))
    assert view.managed == ("EmailAddress",) and view.custom == (("OrderId", "ORD-[0-9]{6}"),)
    assert view.findings_group == "/audit" and view.name == "p"
    assert policy_view("not json").document == "not json"


async def _put_events(
    console: ConsoleHarness, client: httpx.AsyncClient, group: str, messages: list[str]
) -> None:
    now = int(time.time() * 1000)
    await _logs(
        console, client, "PutLogEvents",
        {"logGroupName": group, "logStreamName": "s",
         "logEvents": [{"timestamp": now + n, "message": m} for n, m in enumerate(messages)]},
    )  # fmt: skip


async def test_a_policy_put_shown_refused_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        token = await csrf(client, "/log-groups")
        for name in ("/app/web", "/audit"):
            assert (
                await client.post("/log-groups", data={"csrf": token, "name": name})
            ).status_code == 303
        page = await client.get("/log-groups/group?name=/app/web")
        assert 'id="data-protection-none"' in page.text
        for name in MANAGED:  # every identifier Logs serves is offered, none it refuses
            assert f'name="managed_{name}"' in page.text
        assert '<option value="/audit">' in page.text  # another group as the destination

        empty = await client.post(
            "/log-groups/group/put-protection", data={"csrf": token, "name": "/app/web"}
        )
        assert empty.status_code == 400
        assert _alert(empty) == "Choose at least one data identifier."
        bad = await client.post(
            "/log-groups/group/put-protection",
            data={
                "csrf": token, "name": "/app/web", "policy_name": "typed",
                "custom_name_1": "bad name!", "custom_regex_1": "ORD",
            },
        )  # fmt: skip
        assert bad.status_code == 400 and "InvalidParameterException" in _alert(bad)
        assert 'value="typed"' in bad.text and 'value="bad name!"' in bad.text  # as typed
        forged = await client.post(
            "/log-groups/group/put-protection",
            data={"name": "/app/web", "managed_EmailAddress": "yes"},
        )
        assert forged.status_code == 403

        put = await client.post(
            "/log-groups/group/put-protection",
            data={
                "csrf": token, "name": "/app/web", "policy_name": "pii",
                "managed_EmailAddress": "yes", "custom_name_1": "OrderId",
                "custom_regex_1": "ORD-[0-9]{6}", "findings_group": "/audit",
            },
        )  # fmt: skip
        assert put.status_code == 303, _alert(put)
        assert put.headers["location"] == "/console/log-groups/group?name=%2Fapp%2Fweb"
        kept = await _logs(
            console, client, "GetDataProtectionPolicy", {"logGroupIdentifier": "/app/web"}
        )
        assert "EmailAddress" in kept["policyDocument"]
        page = await client.get("/log-groups/group?name=/app/web")
        managed = page.text.split('id="data-protection-managed">', 1)[1].split("</td>", 1)[0]
        assert managed == "<code>EmailAddress</code>"
        assert "<code>OrderId</code>: <code>ORD-[0-9]{6}</code>" in page.text
        assert '<a href="/console/log-groups/group?name=/audit">/audit</a>' in page.text
        assert 'name="managed_EmailAddress" value="yes" checked' in page.text  # the form filled
        assert 'name="managed_IpAddress" value="yes">' in page.text

        # Events ingested now are masked; the toggle shows them to root (allowed everything).
        await _logs(console, client, "CreateLogStream", {"logGroupName": "/app/web",
                                                         "logStreamName": "s"})  # fmt: skip
        await _put_events(console, client, "/app/web", [f"mail {_EMAIL} ORD-123456"])
        masked = await client.get("/log-groups/stream?group=/app/web&stream=s")
        assert _messages(masked) == [f"mail {'*' * len(_EMAIL)} **********"]
        assert _EMAIL not in masked.text
        toggle = masked.text.split('id="log-unmask-toggle"', 1)[0].rsplit('href="', 1)[1]
        unmasked = await client.get(unescape(toggle.split('"', 1)[0]).removeprefix("/console"))
        assert _messages(unmasked) == [f"mail {_EMAIL} ORD-123456"]
        assert ">Mask</a>" in unmasked.text
        searched = await client.get(
            "/log-groups/search", params={"group": "/app/web", "pattern": "mail"}
        )
        assert _EMAIL not in searched.text and "Unmask</a>" in searched.text
        revealed = await client.get(
            "/log-groups/search", params={"group": "/app/web", "pattern": "mail", "unmask": "yes"}
        )
        assert _messages(revealed) == [f"mail {_EMAIL} ORD-123456"]

        # A user who reads logs but is denied logs:Unmask sees AWS's refusal.
        await console.user_with_password(tenant, "dev")
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "logs:*", "Resource": "*"},
                {"Effect": "Deny", "Action": "logs:Unmask", "Resource": "*"},
            ],
        }
        await console.identity.put_user_policy(tenant, "dev", "logs", json.dumps(policy))
        async with console.client() as dev:
            assert (await log_in(dev, "admin", "dev")).status_code == 303
            seen = await dev.get("/log-groups/stream?group=/app/web&stream=s")
            denied = await dev.get("/log-groups/stream?group=/app/web&stream=s&unmask=yes")
            dev_token = await csrf(dev, "/log-insights")
            query = await dev.post(
                "/log-insights",
                data={"csrf": dev_token, "group_/app/web": "yes", "minutes": "60",
                      "query": "fields @message", "unmask": "yes"},
            )  # fmt: skip
        assert _messages(seen) == [f"mail {'*' * len(_EMAIL)} **********"]
        assert denied.status_code == 400
        assert "AccessDeniedException" in _alert(denied) and "logs:Unmask" in _alert(denied)
        assert _EMAIL not in denied.text
        assert query.status_code == 400 and "logs:Unmask" in _alert(query)
        assert 'id="query-unmask" checked' in query.text  # the form as typed

        # Logs Insights with the box ticked, as root: the terms shown.
        ran = await client.post(
            "/log-insights",
            data={"csrf": token, "group_/app/web": "yes", "minutes": "60",
                  "query": "fields @message", "unmask": "yes"},
        )  # fmt: skip
        assert ran.status_code == 303, _alert(ran)
        for _ in range(100):
            results = await client.get(ran.headers["location"].removeprefix("/console"))
            if '<meta http-equiv="refresh"' not in results.text:
                break
            await asyncio.sleep(0.05)
        assert _EMAIL in results.text

        # Deletion: a box to tick, then no policy.
        unticked = await client.post(
            "/log-groups/group/delete-protection", data={"csrf": token, "name": "/app/web"}
        )
        assert unticked.status_code == 400
        deleted = await client.post(
            "/log-groups/group/delete-protection",
            data={"csrf": token, "name": "/app/web", "confirm": "yes"},
        )
        assert deleted.status_code == 303
        page = await client.get("/log-groups/group?name=/app/web")
        assert 'id="data-protection-none"' in page.text


async def test_a_reader_denied_the_policy_sees_the_refusal_in_its_section(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _logs(console, client, "CreateLogGroup", {"logGroupName": "g"})
    await console.user_with_password(tenant, "reader")
    actions = ["logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:DescribeMetricFilters"]
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}  # fmt: skip
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/log-groups/group?name=g")
    assert page.status_code == 200
    section = page.text.split('id="data-protection-error">', 1)[1].split("</p>", 1)[0]
    assert "AccessDeniedException" in unescape(section)
    assert 'id="put-protection-form"' not in page.text
