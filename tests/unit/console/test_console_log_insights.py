"""Logs Insights and the tail view in the console (decision 0111, session 50 second part;
decision 0186's pattern, diff and anomaly): a query run over ticked groups and a range, its
results read until complete, ``pattern`` rows shown as patterns with their counts, shares and
bars over the range, ``diff``'s comparison, Logs' refusal of a query it cannot parse with the
form kept; the tail of a group's last minutes reloading itself, filtered, paused."""

from __future__ import annotations

import asyncio
import re
import time
from html import unescape
from typing import Any

import httpx

from andromede.console.pages_log_insights import bar_line
from support.console import ConsoleHarness, csrf, sign_in_root

_HTML = '<script>alert("owned")</script>'


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


async def _finished(client: httpx.AsyncClient, location: str) -> httpx.Response:
    """The results page once the query ran (it reloads itself while it runs)."""
    for _ in range(100):
        page = await client.get(location.removeprefix("/console"))
        if '<meta http-equiv="refresh"' not in page.text:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("the query did not end")


def test_a_patterns_counts_over_the_range_as_bars() -> None:
    assert bar_line("[0, 2, 4, 8]") == "▁▃▅█"
    assert bar_line("[0, 0]") == "▁▁"
    assert bar_line("nope") == "" and bar_line('{"a": 1}') == "" and bar_line("[true]") == ""


async def test_a_query_its_patterns_and_the_tail(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        await _logs(console, client, "CreateLogGroup", {"logGroupName": "/app/web"})
        await _logs(console, client, "CreateLogGroup", {"logGroupName": "/app/other"})
        await _logs(
            console, client, "CreateLogStream", {"logGroupName": "/app/web", "logStreamName": "s"}
        )
        now = int(time.time() * 1000)
        messages = [f"user alice logged in from 10.0.0.{n}" for n in range(6)]
        messages += ["ERROR disk full on sda1", "ERROR disk full on sda2", _HTML]
        events = [{"timestamp": now - 60_000 + n, "message": m} for n, m in enumerate(messages)]
        await _logs(console, client, "PutLogEvents", {
            "logGroupName": "/app/web", "logStreamName": "s", "logEvents": events,
        })  # fmt: skip

        page = await client.get("/log-insights")
        assert page.status_code == 200 and 'name="group_/app/web" value="yes"' in page.text
        token = await csrf(client, "/log-insights")
        query = {"csrf": token, "group_/app/web": "yes", "minutes": "15",
                 "query": "fields @message | sort @timestamp asc"}  # fmt: skip
        forged = await client.post("/log-insights", data={**query, "csrf": "x"})
        assert forged.status_code == 403
        odd = await client.post("/log-insights", data={**query, "minutes": "7"})
        assert odd.status_code == 400 and "ranges offered" in _alert(odd)
        bad = await client.post(
            "/log-insights", data={**query, "query": "fields @message | nonsense"},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert bad.status_code == 400 and "(MalformedQueryException)" in _alert(bad)
        assert "nonsense</textarea>" in bad.text and 'value="yes" checked> /app/web' in bad.text
        assert 'value="yes"> /app/other' in bad.text

        # A plain query: a table of its fields, messages as text.
        ran = await client.post("/log-insights", data=query)
        assert ran.status_code == 303 and "/console/log-insights?query=" in ran.headers["location"]
        done = await _finished(client, ran.headers["location"])
        assert 'id="query-results"' in done.text and "Complete" in done.text
        assert "9 records matched" in done.text and _HTML not in done.text
        assert "user alice logged in from 10.0.0.0" in done.text
        assert "sort @timestamp asc</textarea>" in done.text  # the form holds the query again

        # pattern: its rows as patterns, most frequent first, counts, shares and bars.
        patterns = {**query, "query": "pattern @message"}
        done = await _finished(
            client, (await client.post("/log-insights", data=patterns)).headers["location"]
        )
        rows = done.text.split('id="query-patterns"', 1)[1].split("</table>", 1)[0]
        first = rows.split('<tr class="query-pattern">')[1]
        assert "<code>user alice logged in from &lt;*&gt;</code>" in first
        assert '<td class="sampleCount">6</td>' in first and "66.7 %" in first
        assert re.search(r'<span class="bars" title="\[[^"]*\]">[▁-█]+</span>', first)
        assert "<details><summary>Tokens</summary>" in first
        assert "Error" in rows  # the ERROR pattern's severity

        # diff: the compared window's counts beside the pattern's.
        differ = {**query, "query": "pattern @message | diff"}
        done = await _finished(
            client, (await client.post("/log-insights", data=differ)).headers["location"]
        )
        assert '<td class="diffStatus">New</td>' in done.text and ">Before</th>" in done.text

        # The tail: the last minutes' events, reloading itself; filtered; paused.
        group = await client.get("/log-groups/group", params={"name": "/app/web"})
        assert 'href="/console/log-tail?group=/app/web"' in group.text
        tail = await client.get("/log-tail", params={"group": "/app/web"})
        assert tail.status_code == 200 and '<meta http-equiv="refresh" content="5">' in tail.text
        assert "ERROR disk full on sda2" in tail.text and _HTML not in tail.text
        filtered = await client.get("/log-tail", params={"group": "/app/web", "pattern": "ERROR"})
        assert filtered.text.count('class="log-event"') == 2
        paused = await client.get("/log-tail", params={"group": "/app/web", "paused": "yes"})
        assert '<meta http-equiv="refresh"' not in paused.text and 'id="tail-resume"' in paused.text
        missing = await client.get("/log-tail", params={"group": "/app/none"})
        assert missing.status_code == 400 and "(ResourceNotFoundException)" in missing.text
