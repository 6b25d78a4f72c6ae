"""EventBridge's archives and replays, connections and API destinations in the console
(decision 0111, session 49; decisions 0196, 0200): each page renders, each form makes
EventBridge's own call as the signed-in user, refusals (EventBridge's and the page's own)
are shown in the reader's language, a connection's credentials never come back, every form
CSRF-checked."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import httpx

from support.console import ConsoleHarness, csrf, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _events(console: ConsoleHarness, client: httpx.AsyncClient, action: str) -> Any:
    """An EventBridge call (an empty request) as the client's signed-in user."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    wire = running.console.console.events
    assert wire is not None
    return await wire._json(_SCOPE, principal, action, {})


async def test_archives_and_replays(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/event-archives")
        empty = await client.get("/event-archives")
        assert empty.status_code == 200
        assert "No archives yet." in empty.text and "No replays yet." in empty.text
        bus_arn = empty.text.split('name="bus_arn"', 1)[1].split('value="', 1)[1].split('"')[0]
        assert bus_arn.endswith(":event-bus/default")
        archive = {"csrf": token, "name": "all", "bus_arn": bus_arn, "retention": "7"}
        fault = await client.post(
            "/event-archives", data={**archive, "retention": "a week"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert fault.status_code == 400
        assert _alert(fault) == "La rétention est un nombre entier de jours."
        assert 'value="a week"' in fault.text  # the form as typed
        made = await client.post(
            "/event-archives", data={**archive, "pattern": '{"source": ["aws.s3"]}'}
        )
        assert made.status_code == 303, made.text
        twice = await client.post("/event-archives", data=archive)
        assert twice.status_code == 400 and "ResourceAlreadyExistsException" in _alert(twice)
        listed = await client.get("/event-archives")
        row = listed.text.split('id="archive-all"', 1)[1].split("</tr>", 1)[0]
        assert ">default</a>" in row and 'class="retention">7<' in row

        # Replays: a window that ends before it starts refused in EventBridge's words.
        replay = {"csrf": token, "name": "again", "archive": "all"}
        badly = await client.post(
            "/event-archives/replays",
            data={**replay, "start": "2026-12-05T10:00", "end": "not a time"},
        )
        assert badly.status_code == 400
        assert _alert(badly) == "Type the time as YYYY-MM-DDTHH:MM (UTC)."
        backwards = await client.post(
            "/event-archives/replays",
            data={**replay, "start": "2026-12-05T10:00", "end": "2026-12-05T09:00"},
        )
        assert backwards.status_code == 400 and "ValidationException" in _alert(backwards)
        started = await client.post(
            "/event-archives/replays",
            data={**replay, "start": "2026-12-05T09:00", "end": "2026-12-05T10:00"},
        )
        assert started.status_code == 303, started.text
        page = await client.get("/event-archives")
        row = page.text.split('id="replay-again"', 1)[1].split("</tr>", 1)[0]
        assert "2026-12-05 09:00" in row and "2026-12-05 10:00" in row
        cancelled = await client.post("/event-archives/replays/again/cancel", data={"csrf": token})
        replays = await _events(console, client, "ListReplays")
        state = replays["Replays"][0]["State"]
        if cancelled.status_code == 303:
            assert state in ("CANCELLING", "CANCELLED")
        else:  # the replay ran out before the click: EventBridge says so
            assert state == "COMPLETED" and "Exception" in _alert(cancelled)

        unticked = await client.post("/event-archives/all/delete", data={"csrf": token})
        assert unticked.status_code == 400
        forged = await client.post("/event-archives/all/delete", data={"confirm": "yes"})
        assert forged.status_code == 403
        deleted = await client.post(
            "/event-archives/all/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303
        assert (await _events(console, client, "ListArchives"))["Archives"] == []


async def test_connections_and_api_destinations(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/event-connections")
        empty = await client.get("/event-connections")
        assert empty.status_code == 200 and "No connections yet." in empty.text
        assert 'id="create-destination-form"' not in empty.text  # no connection to use yet
        basic = {
            "csrf": token, "name": "partner", "auth_type": "BASIC",
            "username": "robot", "password": "s3cret-Pa55",
        }  # fmt: skip
        unset = await client.post(
            "/event-connections", data={**basic, "password": ""},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert unset.status_code == 400
        assert _alert(unset) == "Saisissez le nom d'utilisateur et le mot de passe."
        made = await client.post("/event-connections", data=basic)
        assert made.status_code == 303, made.text
        key = {
            "csrf": token, "name": "metrics", "auth_type": "API_KEY",
            "api_key_name": "x-api-key", "api_key_value": "k3y-Value-42",
        }  # fmt: skip
        assert (await client.post("/event-connections", data=key)).status_code == 303
        twice = await client.post("/event-connections", data=basic)
        assert twice.status_code == 400 and "ResourceAlreadyExistsException" in _alert(twice)
        assert "s3cret-Pa55" not in twice.text  # a refused form comes back without it
        page = await client.get("/event-connections")
        assert "s3cret-Pa55" not in page.text and "k3y-Value-42" not in page.text
        row = page.text.split('id="connection-partner"', 1)[1].split("</tr>", 1)[0]
        assert "BASIC" in row and 'class="state">AUTHORIZED' in row
        choices = page.text.split('name="connection_arn"', 1)[1].split("</select>", 1)[0]
        arn = choices.split(">partner</option>", 1)[0].rsplit('value="', 1)[1].split('"')[0]

        destination = {
            "csrf": token, "name": "hook", "connection_arn": arn, "method": "POST",
            "endpoint": "https://partner.example/hook", "rate": "5",
        }  # fmt: skip
        plain = await client.post(
            "/event-connections/destinations",
            data={**destination, "endpoint": "ftp://partner.example/hook"},
        )
        assert plain.status_code == 400 and "ValidationException" in _alert(plain)
        rate = await client.post(
            "/event-connections/destinations", data={**destination, "rate": "fast"}
        )
        assert _alert(rate) == "The rate is a whole number of invocations a second."
        made = await client.post("/event-connections/destinations", data=destination)
        assert made.status_code == 303, made.text
        page = await client.get("/event-connections")
        row = page.text.split('id="destination-hook"', 1)[1].split("</tr>", 1)[0]
        assert "https://partner.example/hook" in row and "<td>5</td>" in row
        assert "<td>partner</td>" in row

        deauthorized = await client.post(
            "/event-connections/partner/deauthorize", data={"csrf": token}
        )
        assert deauthorized.status_code == 303
        page = await client.get("/event-connections")
        row = page.text.split('id="connection-partner"', 1)[1].split("</tr>", 1)[0]
        assert 'class="state">DEAUTHORIZ' in row

        forged = await client.post(
            "/event-connections/destinations/hook/delete", data={"confirm": "yes"}
        )
        assert forged.status_code == 403
        gone = await client.post(
            "/event-connections/destinations/hook/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 303
        for name in ("partner", "metrics"):
            deleted = await client.post(
                f"/event-connections/{name}/delete", data={"csrf": token, "confirm": "yes"}
            )
            assert deleted.status_code == 303
        assert (await _events(console, client, "ListConnections"))["Connections"] == []


_LOGS_MAY_WRITE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logs.eu-fr-1.amazonaws.com"},
                "Action": ["s3:GetBucketAcl", "s3:PutObject"],
                "Resource": ["arn:aws:s3:::exports", "arn:aws:s3:::exports/*"],
            }
        ],
    }
)


async def test_a_log_groups_export_tasks(console: ConsoleHarness) -> None:
    """Decision 0186's session-49 addendum shown: a group's export tasks made, listed with
    their status and cancelled; Logs' refusals and the page's own, in the reader's words."""
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/log-groups")
        assert (await client.post("/log-groups", data={"csrf": token, "name": "/app"})).is_redirect
        group = await client.get("/log-groups/group?name=%2Fapp")
        assert 'href="/console/log-exports?group=/app"' in group.text
        page = await client.get("/log-exports?group=%2Fapp")
        assert page.status_code == 200 and "No export tasks for this group." in page.text
        made = await client.post(
            "/buckets", data={"csrf": token, "name": "exports", "region": "eu-fr-1"}
        )
        assert made.is_redirect
        task = {
            "csrf": token, "group": "/app", "name": "nightly", "bucket": "exports",
            "start": "2026-12-05T00:00", "end": "2026-12-05T12:00",
        }  # fmt: skip
        refused = await client.post("/log-exports", data=task)  # no policy lets Logs write
        assert refused.status_code == 400 and "InvalidParameterException" in _alert(refused)
        assert 'value="nightly"' in refused.text
        fault = await client.post(
            "/log-exports", data={**task, "start": "yesterday"}, headers={"accept-language": "fr"}
        )
        assert _alert(fault) == "Saisissez l'heure sous la forme AAAA-MM-JJTHH:MM (UTC)."
        policy = await client.post(
            "/buckets/exports/settings/policy", data={"csrf": token, "policy": _LOGS_MAY_WRITE}
        )
        assert policy.is_redirect, policy.text
        exported = await client.post("/log-exports", data=task)
        assert exported.status_code == 303, exported.text
        assert exported.headers["location"] == "/console/log-exports?group=%2Fapp"
        page = await client.get("/log-exports?group=%2Fapp")
        row = page.text.split('class="export-task"', 1)[1].split("</tr>", 1)[0]
        assert "nightly" in row and "2026-12-05 00:00" in row and "s3://exports/" in row
        task_id = row.split('id="export-', 1)[1].split('"', 1)[0]
        cancelled = await client.post(
            "/log-exports/cancel", data={"csrf": token, "group": "/app", "task_id": task_id}
        )
        page = await client.get("/log-exports?group=%2Fapp")
        status = page.text.split('class="status">', 1)[1].split("<", 1)[0]
        if cancelled.status_code == 303:
            assert status.startswith("CANCELLED")
        else:  # the task finished before the click: Logs says so
            assert status.startswith(("COMPLETED", "FAILED")) and "Exception" in _alert(cancelled)
        assert (await client.get("/log-exports?group=%2Fother")).text.count("export-task") == 0
