"""The console's CloudWatch Logs pages (decision 0111, session 48; decision 0186): a group
made with a retention and tags, listed by prefix and in pages, its retention changed, its
metric filters made and deleted, its streams newest first, a stream's events in pages
(newer, older), a search with a typed pattern, its deletion — each Logs' own call as the
signed-in user, refusals in Logs' words, messages escaped (customer data, never markup)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.console import ConsoleHarness, console_harness, csrf, sign_in_root

_HTML = '<script>alert("owned")</script><img src=x onerror=alert(1)>'


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    # Pages of two rows, so that three of anything make two pages.
    async with console_harness(tmp_path, console_page_size=2) as harness:
        yield harness


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def _messages(page: httpx.Response) -> list[str]:
    return [
        unescape(cell.split("</pre>", 1)[0])
        for cell in page.text.split('<pre class="message">')[1:]
    ]


async def _logs(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """A Logs call as the client's signed-in user, as the console's own calls are made."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.logs
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, payload)


async def test_a_group_made_changed_searched_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/log-groups")
        created = await client.post(
            "/log-groups",
            data={"csrf": token, "name": "/app/web", "retention": "7", "tags": "team=web"},
        )
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/console/log-groups/group?name=%2Fapp%2Fweb"
        again = await client.post("/log-groups", data={"csrf": token, "name": "/app/web"})
        assert again.status_code == 400
        assert "ResourceAlreadyExistsException" in _alert(again)
        bad_retention = await client.post(
            "/log-groups", data={"csrf": token, "name": "/app/x", "retention": "8"}
        )
        assert bad_retention.status_code == 400
        assert _alert(bad_retention) == "Choose a retention among the offered ones."
        for name in ("/app/api", "/other"):
            made = await client.post("/log-groups", data={"csrf": token, "name": name})
            assert made.status_code == 303
        # A key of the account's, offered by ARN (Logs takes only ARNs), seals a group.
        assert (await client.post("/keys", data={"csrf": token})).status_code == 303
        form = (await client.get("/log-groups")).text.split('name="kms_key">', 1)[1]
        key_arn = form.split('<option value="', 2)[2].split('"', 1)[0]
        assert key_arn.startswith("arn:aws:kms:eu-fr-1:") and ":key/" in key_arn
        sealed = await client.post(
            "/log-groups", data={"csrf": token, "name": "/sealed", "kms_key": key_arn}
        )
        assert sealed.status_code == 303, _alert(sealed)
        page = await client.get("/log-groups/group?name=/sealed")
        assert f"<code>{key_arn}</code>" in page.text
        deleted = await client.post(
            "/log-groups/group/delete", data={"csrf": token, "name": "/sealed", "confirm": "yes"}
        )
        assert deleted.status_code == 303
        listed = await client.get("/log-groups?prefix=/app/")
        assert listed.text.count('class="log-group"') == 2  # a page of two
        assert "7 days" in listed.text and "Never expire" in listed.text
        assert "/other" not in listed.text
        assert 'id="log-groups-next"' not in listed.text  # the prefix holds two groups only
        first = await client.get("/log-groups")
        following = unescape(first.text.split('id="log-groups-next"', 1)[0].rsplit('href="', 1)[1])
        second = await client.get(following.split('"', 1)[0].removeprefix("/console"))
        assert second.text.count('class="log-group"') == 1 and "/other" in second.text

        described = await _logs(console, client, "ListTagsLogGroup", {"logGroupName": "/app/web"})
        assert described["tags"] == {"team": "web"}
        page = await client.get("/log-groups/group?name=/app/web")
        assert page.status_code == 200 and "7 days" in page.text
        changed = await client.post(
            "/log-groups/group/retention", data={"csrf": token, "name": "/app/web", "days": "30"}
        )
        assert changed.status_code == 303
        page = await client.get(changed.headers["location"].removeprefix("/console"))
        assert "30 days" in page.text.split('id="log-group-retention">', 1)[1].split("<", 1)[0]
        forever = await client.post(
            "/log-groups/group/retention", data={"csrf": token, "name": "/app/web", "days": ""}
        )
        assert forever.status_code == 303
        groups = await _logs(console, client, "DescribeLogGroups", {"logGroupNamePrefix": "/app/w"})
        assert "retentionInDays" not in groups["logGroups"][0]

        # Metric filters: made, listed, a bad pattern refused in Logs' words, deleted.
        made = await client.post(
            "/log-groups/group/put-filter",
            data={
                "csrf": token, "name": "/app/web", "filter_name": "errors",
                "pattern": "ERROR", "metric_namespace": "App", "metric_name": "Errors",
            },
        )  # fmt: skip
        assert made.status_code == 303, made.text
        page = await client.get("/log-groups/group?name=/app/web")
        assert page.text.count('class="metric-filter"') == 1 and "App / Errors" in page.text
        refused = await client.post(
            "/log-groups/group/put-filter",
            data={
                "csrf": token, "name": "/app/web", "filter_name": "bad",
                "pattern": '{ $.x = "', "metric_namespace": "App", "metric_name": "Bad",
            },
        )  # fmt: skip
        assert refused.status_code == 400 and "InvalidParameterException" in _alert(refused)
        removed = await client.post(
            "/log-groups/group/delete-filter",
            data={"csrf": token, "name": "/app/web", "filter_name": "errors"},
        )
        assert removed.status_code == 303
        page = await client.get("/log-groups/group?name=/app/web")
        assert 'class="metric-filter"' not in page.text

        # Deletion: a box to tick, then the group is gone.
        unticked = await client.post(
            "/log-groups/group/delete", data={"csrf": token, "name": "/app/web"}
        )
        assert unticked.status_code == 400
        deleted = await client.post(
            "/log-groups/group/delete", data={"csrf": token, "name": "/app/web", "confirm": "yes"}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == "/console/log-groups"
        gone = await client.get("/log-groups/group?name=/app/web")
        assert gone.status_code == 404
        assert _alert(gone) == "No such log group in your account."
        forged = await client.post(
            "/log-groups/group/delete", data={"name": "/app/api", "confirm": "yes"}
        )
        assert forged.status_code == 403  # no CSRF token: refused before any call
        assert (await client.get("/log-groups/group?name=/app/api")).status_code == 200


async def test_a_streams_events_paged_escaped_and_searched(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/log-groups")
        assert (await client.post("/log-groups", data={"csrf": token, "name": "g"})).status_code
        now = int(time.time() * 1000)  # Logs takes events of the last 14 days, as AWS does
        for stream in ("old", "new"):
            await _logs(
                console, client, "CreateLogStream", {"logGroupName": "g", "logStreamName": stream}
            )
        await _logs(
            console, client, "PutLogEvents",
            {"logGroupName": "g", "logStreamName": "old",
             "logEvents": [{"timestamp": now - 600_000, "message": "ERROR old"}]},
        )  # fmt: skip
        events = [
            {"timestamp": now - 300_000 + n, "message": m}
            for n, m in enumerate(["INFO one", "ERROR two", _HTML])
        ]
        await _logs(
            console, client, "PutLogEvents",
            {"logGroupName": "g", "logStreamName": "new", "logEvents": events},
        )  # fmt: skip
        group = await client.get("/log-groups/group?name=g")
        streams = group.text.split('id="log-streams"', 1)[1]
        assert streams.index(">new</a>") < streams.index(">old</a>")  # newest event first

        # The newest page first, then older; the HTML message shown as text.
        newest = await client.get("/log-groups/stream?group=g&stream=new")
        assert newest.status_code == 200
        assert _messages(newest) == ["ERROR two", _HTML]
        assert "<script>" not in newest.text and "<img src=x" not in newest.text
        assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in newest.text
        older_href = newest.text.split('id="log-events-older"', 1)[0].rsplit('href="', 1)[1]
        older = await client.get(unescape(older_href.split('"', 1)[0]).removeprefix("/console"))
        assert _messages(older) == ["INFO one"]
        newer_href = older.text.split('id="log-events-newer"', 1)[0].rsplit('href="', 1)[1]
        newer = await client.get(unescape(newer_href.split('"', 1)[0]).removeprefix("/console"))
        assert _messages(newer) == ["ERROR two", _HTML]

        # A search across the group's streams, paged; a bad pattern in Logs' words.
        found = await client.get("/log-groups/search", params={"group": "g", "pattern": "ERROR"})
        assert found.status_code == 200
        assert _messages(found) == ["ERROR old", "ERROR two"]
        assert ">old</td>" in found.text and ">new</td>" in found.text
        escaped = await client.get("/log-groups/search", params={"group": "g", "pattern": "owned"})
        assert _messages(escaped) == [_HTML] and "<script>" not in escaped.text
        bad = await client.get("/log-groups/search", params={"group": "g", "pattern": '{ $.a = "'})
        assert bad.status_code == 400 and "InvalidParameterException" in _alert(bad)
        missing = await client.get("/log-groups/stream?group=g&stream=nothing")
        assert missing.status_code == 400 and "ResourceNotFoundException" in _alert(missing)


async def test_a_groups_class_and_deletion_protection(console: ConsoleHarness) -> None:
    # Decision 0222: the class chosen at creation and shown, deletion protection toggled, a
    # protected group's deletion refused in Logs' words.
    async with console.client() as client:
        await sign_in_root(console, client)
        token = await csrf(client, "/log-groups")
        bad = await client.post(
            "/log-groups", data={"csrf": token, "name": "/cold/x", "log_class": "DELIVERY"}
        )
        assert bad.status_code == 400
        assert _alert(bad) == "Choose a log class among the offered ones."
        made = await client.post(
            "/log-groups",
            data={
                "csrf": token,
                "name": "/cold/archive",
                "log_class": "INFREQUENT_ACCESS",
                "deletion_protection": "yes",
            },
        )
        assert made.status_code == 303, made.text
        listed = (await client.get("/log-groups")).text
        assert '<td class="log-class">Infrequent Access</td>' in listed
        page = (await client.get("/log-groups/group?name=%2Fcold%2Farchive")).text
        assert '<td id="log-group-class">Infrequent Access</td>' in page
        assert '<td id="log-group-deletion-protection">On</td>' in page
        # What the class lacks is not offered: no metric filter form, no tail.
        assert 'id="put-filter-form"' not in page and 'id="log-tail"' not in page
        shown = await _logs(console, client, "DescribeLogGroups", {"logGroupNamePrefix": "/cold"})
        (group,) = shown["logGroups"]
        assert (group["logGroupClass"], group["deletionProtectionEnabled"]) == (
            "INFREQUENT_ACCESS",
            True,
        )
        refused = await client.post(
            "/log-groups/group/delete",
            data={"csrf": token, "name": "/cold/archive", "confirm": "yes"},
        )
        assert refused.status_code == 400
        assert "ValidationException" in _alert(refused)
        off = await client.post(
            "/log-groups/group/deletion-protection",
            data={"csrf": token, "name": "/cold/archive", "enabled": "no"},
        )
        assert off.status_code == 303
        page = (await client.get("/log-groups/group?name=%2Fcold%2Farchive")).text
        assert '<td id="log-group-deletion-protection">Off</td>' in page
        deleted = await client.post(
            "/log-groups/group/delete",
            data={"csrf": token, "name": "/cold/archive", "confirm": "yes"},
        )
        assert deleted.status_code == 303
