"""Route 53 health checks in the console (decision 0290): listed with their status summed up
from GetHealthCheckStatus (a real HTTP server on 127.0.0.1 healthy, a closed port
unhealthy, as the gateway's rounds find them), created from the form (HTTP, TCP, CALCULATED
with children ticked, CLOUDWATCH_METRIC with an alarm of the account), a check's page with
its observations, last failure and ``HealthCheckStatus`` chart, updated with its version
(``HealthCheckVersionMismatch`` for a stale one), tagged, and deleted after a ticked box
(``HealthCheckInUse`` in Route 53's words). Each checked through Route 53's own answer."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from andromede.console import wire_alarms
from andromede.console.wire_route53_health import (
    HealthCheckCalls,
    HealthCheckRow,
    Observation,
    check_status,
)
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    sign_in_root,
)
from unit.console.test_console_dynamodb_edits import alert, form_of


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(
        tmp_path,
        route53_health_check_allow_cidrs=("127.0.0.0/8",),
        route53_health_check_round=0.05,
        route53_health_check_timeout=1.0,
        metrics_platform_interval=0.2,  # the metrics the rounds put, flushed at once
    ) as harness:
        yield harness


@pytest.fixture
async def endpoint() -> AsyncIterator[int]:
    """An HTTP server on 127.0.0.1 answering 200 to every request; its port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def _closed_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port: int = held.getsockname()[1]
    return port


def _check_id(response: httpx.Response) -> str:
    assert response.status_code == 303, alert(response)
    location = response.headers["location"]
    assert location.startswith("/console/health-checks/")
    return location.rsplit("/", 1)[-1]


def _status(page: httpx.Response, check: str) -> str:
    row = page.text.split(f'id="check-{check}">', 1)[1].split("</tr>", 1)[0]
    found = re.search(r'<td class="status status-\w+">(\w+)</td>', row)
    assert found is not None, row
    return found.group(1)


def _seen(*reports: str) -> list[Observation]:
    return [
        Observation("eu-fr-1", "192.0.2.1", report, f"2026-12-07T10:0{n}:00Z")
        for n, report in enumerate(reports)
    ]


def _row(kind: str = "HTTP", *, inverted: bool = False, disabled: bool = False,
         insufficient_data: str = "", children: tuple[str, ...] = (),
         threshold: str = "") -> HealthCheckRow:  # fmt: skip
    return HealthCheckRow(
        "c", "1", kind, inverted=inverted, disabled=disabled, children=children,
        health_threshold=threshold, insufficient_data=insufficient_data,
    )  # fmt: skip


_HEALTHY_DATA = "Healthy: The CloudWatch alarm has insufficient data."
_UNHEALTHY_DATA = "Unhealthy: The CloudWatch alarm has insufficient data."
_OK = "Success: The CloudWatch alarm is in the OK state."
_ALARM = "Failure: The CloudWatch alarm is in the ALARM state."


@pytest.mark.parametrize(
    ("check", "reports", "shown"),
    [
        (_row(), _seen(), "Unknown"),  # not checked yet (DNS answers it healthy)
        (_row(), _seen("Failure: HTTP Status Code 500", "Success: HTTP Status Code 200"),
         "Healthy"),  # the newest report counts
        (_row(), _seen("Success: HTTP Status Code 200", "Failure: HTTP Status Code 500"),
         "Unhealthy"),
        (_row(), _seen("Pending"), "Unknown"),  # a report of another shape
        (_row(inverted=True), _seen("Success: HTTP Status Code 200"), "Unhealthy"),
        (_row("TCP", inverted=True), _seen("Failure: TCP connection failed (refused)."),
         "Healthy"),
        (_row("TCP", disabled=True), _seen("Failure: TCP connection failed (refused)."),
         "Healthy"),
        (_row(disabled=True, inverted=True), _seen(), "Healthy"),  # disabled, never checked
        # An alarm's check: its state while it has data, else InsufficientDataHealthStatus.
        (_row("CLOUDWATCH_METRIC", insufficient_data="Unhealthy"), _seen(_OK), "Healthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="Healthy"), _seen(_ALARM), "Unhealthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="Healthy"), _seen(_HEALTHY_DATA),
         "Healthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="Healthy", inverted=True),
         _seen(_HEALTHY_DATA), "Unhealthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="Unhealthy"), _seen(_UNHEALTHY_DATA),
         "Unhealthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="Unhealthy"),
         _seen("Unhealthy: The CloudWatch alarm does not exist."), "Unhealthy"),
        # LastKnownStatus: the last report made while the alarm had data stays the newest.
        (_row("CLOUDWATCH_METRIC", insufficient_data="LastKnownStatus"), _seen(_ALARM),
         "Unhealthy"),
        (_row("CLOUDWATCH_METRIC", insufficient_data="LastKnownStatus"), _seen(), "Unknown"),
    ],
)  # fmt: skip
def test_the_status_shown_is_the_one_the_failover_reads(
    check: HealthCheckRow, reports: list[Observation], shown: str
) -> None:
    assert check_status(check, reports) == shown


def test_a_calculated_check_by_its_children_and_threshold() -> None:
    both = ("a", "b")
    assert check_status(_row("CALCULATED", children=both), []) == "Unknown"  # not read
    one = {"a": True, "b": False}
    assert check_status(_row("CALCULATED", children=both, threshold="1"), [], one) == "Healthy"
    two = _row("CALCULATED", children=both, threshold="2")
    assert check_status(two, [], one) == "Unhealthy"
    assert check_status(two, [], {"a": True}) == "Unhealthy"  # a child deleted
    assert check_status(two, [], {"a": True, "b": True}) == "Healthy"
    inverted = _row("CALCULATED", children=both, threshold="2", inverted=True)
    assert check_status(inverted, [], one) == "Healthy"
    disabled = _row("CALCULATED", children=both, threshold="2", disabled=True)
    assert check_status(disabled, [], one) == "Healthy"
    assert check_status(_row("CALCULATED", threshold="0"), [], {}) == "Healthy"


async def test_checks_made_watched_updated_and_deleted(
    console: ConsoleHarness, endpoint: int
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = HealthCheckCalls(wires.route53)
        page = await client.get("/health-checks")
        assert page.status_code == 200 and 'id="no-checks"' in page.text
        assert 'id="menu-health-checks"' in page.text
        token = csrf_of(page)
        http = {"csrf": token, "type": "HTTP", "ip_address": "127.0.0.1", "port": str(endpoint),
                "resource_path": "/health", "request_interval": "10",
                "failure_threshold": "1"}  # fmt: skip
        forged = await client.post("/health-checks", data={**http, "csrf": "forged"})
        assert forged.status_code == 403
        healthy = _check_id(await client.post("/health-checks", data=http))
        made = await calls.get(WIRE_ORIGIN, principal, healthy)
        assert (made.type, made.port, made.resource_path) == ("HTTP", str(endpoint), "/health")
        assert (made.request_interval, made.failure_threshold, made.inverted) == ("10", "1", False)
        closed = {**http, "type": "TCP", "port": str(_closed_port()), "resource_path": ""}
        unhealthy = _check_id(await client.post("/health-checks", data=closed))
        both = {**closed, "fqdn": "shop.example.com"}
        refused = await client.post("/health-checks", data=both)
        assert refused.status_code == 400 and "(InvalidInput)" in alert(refused)
        assert "must not have a fully qualified domain name" in unescape(alert(refused))
        typed = form_of(refused, "create-check-form")
        assert '<option value="TCP" selected>' in typed and 'value="shop.example.com"' in typed

        # The gateway's rounds probe both: the list sums their reports up.
        for _ in range(200):
            listing = await client.get("/health-checks")
            shown = (_status(listing, healthy), _status(listing, unhealthy))
            if shown == ("Healthy", "Unhealthy"):
                break
            await asyncio.sleep(0.05)
        assert shown == ("Healthy", "Unhealthy")
        row = listing.text.split(f'id="check-{healthy}">', 1)[1].split("</tr>", 1)[0]
        assert f'<td class="endpoint">http://127.0.0.1:{endpoint}/health</td>' in row
        page = await client.get(f"/health-checks/{healthy}")
        observed = page.text.split('id="check-observations">', 1)[1].split("</table>", 1)[0]
        assert "Success: HTTP Status Code 200" in observed
        assert '<td id="check-status" class="status-healthy">Healthy</td>' in page.text
        assert 'id="no-failures"' in page.text
        assert "HealthCheckId%3D" + healthy in page.text.split('id="chart-link"', 1)[0]
        page = await client.get(f"/health-checks/{unhealthy}")
        failures = page.text.split('id="check-failures">', 1)[1].split("</table>", 1)[0]
        assert "Failure" in failures
        # The HealthCheckStatus metric the rounds put, drawn as the metrics pages draw it.
        for _ in range(100):
            page = await client.get(f"/health-checks/{healthy}")
            if "<td>1</td>" in page.text.split('id="chart-rows">', 1)[-1]:
                break
            await asyncio.sleep(0.1)
        assert "<td>1</td>" in page.text.split('id="chart-rows">', 1)[1]
        chart = page.text.split('<svg id="chart-status"', 1)[1].split("</svg>", 1)[0]
        assert '<circle class="marker"' in chart and "HealthCheckStatus · Minimum" in chart

        # A calculated check of both, an alarm's check.
        page = await client.get("/health-checks")
        children = page.text.split('id="check-children">', 1)[1].split("</fieldset>", 1)[0]
        assert f'name="child_{healthy}"' in children and f'name="child_{unhealthy}"' in children
        calculated = {"csrf": token, "type": "CALCULATED", f"child_{healthy}": "yes",
                      f"child_{unhealthy}": "yes", "health_threshold": "1"}  # fmt: skip
        parent = _check_id(await client.post("/health-checks", data=calculated))
        made = await calls.get(WIRE_ORIGIN, principal, parent)
        assert sorted(made.children) == sorted([healthy, unhealthy])
        assert made.health_threshold == "1"
        page = await client.get(f"/health-checks/{parent}")
        assert "(InvalidInput)" in page.text.split('id="observations-error">', 1)[1]
        await wire_alarms.put(wires.metrics, WIRE_ORIGIN, principal, {
            "AlarmName": "slow", "Namespace": "AWS/Route53", "MetricName": "HealthCheckStatus",
            "Dimensions": [{"Name": "HealthCheckId", "Value": healthy}],
            "Statistic": "Minimum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
        })  # fmt: skip
        page = await client.get("/health-checks")
        assert '<option value="slow">slow</option>' in form_of(page, "create-check-form")
        metric = {"csrf": token, "type": "CLOUDWATCH_METRIC", "alarm": "slow",
                  "insufficient_data": "Unhealthy"}  # fmt: skip
        watcher = _check_id(await client.post("/health-checks", data=metric))
        made = await calls.get(WIRE_ORIGIN, principal, watcher)
        assert made.alarm == ("eu-fr-1", "slow") and made.insufficient_data == "Unhealthy"

        # HealthCheckInUse while the calculated check names it.
        in_use = await client.post(
            f"/health-checks/{healthy}/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert in_use.status_code == 400 and "(HealthCheckInUse)" in alert(in_use)

        # An update of the version shown; a stale version refused.
        page = await client.get(f"/health-checks/{unhealthy}")
        update = form_of(page, "update-check-form")
        version = re.search(r'name="version" value="(\d+)"', update)
        assert version is not None and 'name="failure_threshold" size="3" value="1"' in update
        changed = {"csrf": token, "version": version.group(1), "ip_address": "127.0.0.1",
                   "port": str(endpoint), "failure_threshold": "2",
                   "inverted": "yes"}  # fmt: skip
        saved = await client.post(f"/health-checks/{unhealthy}/update", data=changed)
        assert saved.status_code == 303, alert(saved)
        made = await calls.get(WIRE_ORIGIN, principal, unhealthy)
        assert (made.port, made.failure_threshold, made.inverted) == (str(endpoint), "2", True)
        assert int(made.version) == int(version.group(1)) + 1
        stale = await client.post(
            f"/health-checks/{unhealthy}/update", data={**changed, "failure_threshold": "3"}
        )
        assert stale.status_code == 409 and "(HealthCheckVersionMismatch)" in alert(stale)
        assert 'name="failure_threshold" size="3" value="3"' in form_of(stale, "update-check-form")

        tagged = await client.post(
            f"/health-checks/{healthy}/tag", data={"csrf": token, "tags": "team=web"}
        )
        assert tagged.status_code == 303, alert(tagged)
        assert await wires.route53.tags(WIRE_ORIGIN, principal, healthy, kind="healthcheck") == [
            ("team", "web")
        ]
        listing = await client.get("/health-checks")
        assert "<code>team=web</code>" in listing.text.split(f'id="check-{healthy}">', 1)[1]
        untagged = await client.post(
            f"/health-checks/{healthy}/untag", data={"csrf": token, "key": "team"}
        )
        assert untagged.status_code == 303
        assert await wires.route53.tags(WIRE_ORIGIN, principal, healthy, kind="healthcheck") == []

        unticked = await client.post(f"/health-checks/{parent}/delete", data={"csrf": token})
        assert unticked.status_code == 400
        for check in (parent, healthy):
            deleted = await client.post(
                f"/health-checks/{check}/delete", data={"csrf": token, "confirm": "yes"}
            )
            assert deleted.status_code == 303 and deleted.headers["location"] == (
                "/console/health-checks"
            )
        gone = await client.get(f"/health-checks/{healthy}")
        assert gone.status_code == 404 and "(NoSuchHealthCheck)" in alert(gone)


async def _statuses_seen(
    console: ConsoleHarness, client: httpx.AsyncClient, tenant: str, shown: dict[str, str]
) -> tuple[dict[str, str], dict[str, bool]]:
    """The list's statuses and DNS answers' (decision 0284's lookup, the one EventBridge's
    failover reads too) once every check has its first result and the list shows
    ``shown``; polled while the gateway's rounds run (bounded)."""
    running = console.application._running
    assert running is not None
    lookup = running.apis["route53"].service.health
    listed: dict[str, str] = {}
    answered: dict[str, bool] = {}
    for _ in range(400):
        page = await client.get("/health-checks")
        listed = {check: _status(page, check) for check in shown}
        answered = dict(await lookup.healthy(tenant, list(shown)))
        if listed == shown and set(answered) == set(shown):
            break
        await asyncio.sleep(0.05)
    return listed, answered


async def test_the_pages_read_each_check_as_the_dns_failover_does(
    console: ConsoleHarness, endpoint: int
) -> None:
    """Decision 0371: disabled, inverted, an alarm's check with each missing-data status and
    calculated checks, shown by the list and a check's page as the DNS answers read them."""
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = HealthCheckCalls(wires.route53)
        up = {"type": "HTTP", "ip_address": "127.0.0.1", "port": str(endpoint),
              "request_interval": "10", "failure_threshold": "1"}  # fmt: skip
        down = {**up, "type": "TCP", "port": str(_closed_port())}
        await wire_alarms.put(wires.metrics, WIRE_ORIGIN, principal, {
            "AlarmName": "quiet", "Namespace": "Shop", "MetricName": "Orders",
            "Statistic": "Sum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "LessThanThreshold",
        })  # fmt: skip
        alarm = {"type": "CLOUDWATCH_METRIC", "alarm": ("eu-fr-1", "quiet")}

        async def made(fields: dict[str, object]) -> str:
            return await calls.create(WIRE_ORIGIN, principal, fields)

        expected = {
            await made({**up, "inverted": True}): "Unhealthy",
            await made(up): "Healthy",
            await made({**down, "disabled": True}): "Healthy",
            await made({**down, "inverted": True}): "Healthy",
            await made(down): "Unhealthy",
            await made({**alarm, "insufficient_data": "Healthy"}): "Healthy",
            await made({**alarm, "insufficient_data": "Unhealthy"}): "Unhealthy",
            await made({**alarm, "insufficient_data": "Unhealthy", "inverted": True}): "Healthy",
        }
        listed, answered = await _statuses_seen(console, client, principal.tenant_id, expected)
        assert listed == expected
        # The children's first results are in: a calculated check's first round counts them.
        inverted_up, plain_up, disabled_down = list(expected)[:3]
        pair = [inverted_up, disabled_down]
        calculated = {
            await made({"type": "CALCULATED", "children": pair, "health_threshold": "2"}):
            "Unhealthy",
            await made({"type": "CALCULATED", "children": pair, "health_threshold": "1"}):
            "Healthy",
            await made({"type": "CALCULATED", "children": [plain_up], "health_threshold": "1",
                        "inverted": True}): "Unhealthy",
        }  # fmt: skip
        expected |= calculated
        listed, answered = await _statuses_seen(console, client, principal.tenant_id, expected)
        assert listed == expected
        assert answered == {check: shown == "Healthy" for check, shown in expected.items()}
        for check, shown in expected.items():
            page = await client.get(f"/health-checks/{check}")
            mark = f'<td id="check-status" class="status-{shown.lower()}">{shown}</td>'
            assert mark in page.text, check


async def test_no_route53_french_and_a_user_without_permission(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await console.user_with_password(tenant, "reader")
        async with console.without(client, "route53"):
            page = await client.get("/health-checks")
            assert page.status_code == 404 and "serves no Amazon Route 53" in alert(page)
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get("/health-checks")
        assert "<h1>Vérifications de l\u2019\u00e9tat Route 53</h1>" in french.text
        assert "Cr\u00e9er une v\u00e9rification de l\u2019\u00e9tat" in french.text
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/health-checks")
        assert page.status_code == 403 and "(AccessDenied)" in alert(page)
