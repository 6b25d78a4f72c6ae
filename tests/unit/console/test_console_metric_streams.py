"""CloudWatch metric streams in the console (decisions 0233 and 0239): streams listed (state,
Firehose stream, output format, filters, role), one made with include or exclude namespace
filters into a Firehose stream of the account as a role of the account (both offered by the
form), replaced under the same name, stopped and started, deleted after a ticked box;
CloudWatch's refusals (an output format it does not produce, a role of no account's) in its
words with the form as typed; a user CloudWatch refuses sees its refusal. Each the service's
own call as the signed-in user, checked against what it answers apart from the console."""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.pages_metric_streams import parse_filters
from support.console import (
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    logged_events,
    sign_in_root,
)
from unit.console.test_console_firehose import make_stream, trust

_LIST = "/metric-streams"


def alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


def form_of(page: httpx.Response, form_id: str) -> str:
    return page.text.split(f'id="{form_id}"', 1)[1].split("</form>", 1)[0]


def row_of(page: httpx.Response, name: str) -> str:
    return page.text.split(f'id="metric-stream-{name}"', 1)[1].split("</tr>", 1)[0]


async def cloudwatch(
    console: ConsoleHarness, client: httpx.AsyncClient, action: str, params: dict[str, Any]
) -> dict[str, Any]:
    """A CloudWatch call as the client's signed-in user, apart from the pages."""
    running = console.application._running
    assert running is not None
    wire = running.console.console.metrics
    assert wire is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    return await wire._json(scope, principal, action, params)


@pytest.fixture
async def quick(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    """The console whose Firehose deliverer passes every 0.05 s: a stream made is ACTIVE at
    once."""
    async with console_harness(tmp_path, firehose_delivery_poll_interval=0.05) as harness:
        yield harness


def test_filters_are_a_namespace_a_line_then_metric_names() -> None:
    assert parse_filters("AWS/EC2 CPUUtilization  NetworkIn\n\n  AWS/S3 \n") == [
        ("AWS/EC2", ("CPUUtilization", "NetworkIn")),
        ("AWS/S3", ()),
    ]
    assert parse_filters("") == []


async def test_a_metric_stream_made_listed_stopped_started_and_deleted(
    quick: ConsoleHarness,
) -> None:
    console = quick
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        stream_arn = await make_stream(console, client, tenant)
        role = await console.identity.create_role(
            tenant, "metrics", trust("streams.metrics.cloudwatch.amazonaws.com")
        )
        empty = await client.get(_LIST)
        assert empty.status_code == 200 and "No metric streams yet." in empty.text
        assert 'id="menu-metric-streams"' in empty.text
        token = csrf_of(empty)
        creating = form_of(empty, "create-metric-stream-form")
        assert f'<option value="{stream_arn}">clicks</option>' in creating
        assert f'<option value="{role.arn}">metrics</option>' in creating

        fields = {"csrf": token, "name": "all-ec2", "firehose_arn": stream_arn,
                  "role_arn": role.arn, "output_format": "opentelemetry1.0",
                  "filter_kind": "include",
                  "filters": "AWS/EC2 CPUUtilization\nAWS/S3"}  # fmt: skip
        # An output format CloudWatch does not produce here: its words, the form as typed.
        refused = await client.post(_LIST, data=fields)
        assert refused.status_code == 400 and "(InvalidParameterValue)" in alert(refused)
        again = form_of(refused, "create-metric-stream-form")
        assert 'value="all-ec2"' in again and "AWS/EC2 CPUUtilization\nAWS/S3" in again
        assert '<option value="opentelemetry1.0" selected>' in again
        no_role = await client.post(_LIST, data=fields | {"role_arn": ""})
        assert no_role.status_code == 400 and "a role" in alert(no_role)

        made = await client.post(_LIST, data=fields | {"output_format": "json"})
        assert made.status_code == 303, alert(made)
        held = await cloudwatch(console, client, "GetMetricStream", {"Name": "all-ec2"})
        assert held["IncludeFilters"] == [
            {"Namespace": "AWS/EC2", "MetricNames": ["CPUUtilization"]},
            {"Namespace": "AWS/S3"},
        ]
        assert held["FirehoseArn"] == stream_arn and held["RoleArn"] == role.arn
        listed = await client.get(_LIST)
        row = row_of(listed, "all-ec2")
        assert '<td class="state">running</td>' in row and '<td class="format">json</td>' in row
        assert '<a href="/console/firehose/clicks">clicks</a>' in row
        assert "<code>AWS/EC2</code> (CPUUtilization), <code>AWS/S3</code>" in row
        assert "Include:" in row

        # Replaced under the same name with an exclude filter.
        replaced = await client.post(
            _LIST, data=fields | {"output_format": "json", "filter_kind": "exclude",
                                  "filters": "AWS/Logs"},
        )  # fmt: skip
        assert replaced.status_code == 303
        held = await cloudwatch(console, client, "GetMetricStream", {"Name": "all-ec2"})
        assert held["IncludeFilters"] == [] and held["ExcludeFilters"] == [
            {"Namespace": "AWS/Logs"}
        ]
        assert "Exclude: <code>AWS/Logs</code>" in row_of(await client.get(_LIST), "all-ec2")

        stopped = await client.post(f"{_LIST}/all-ec2/stop", data={"csrf": token})
        assert stopped.status_code == 303
        held = await cloudwatch(console, client, "GetMetricStream", {"Name": "all-ec2"})
        assert held["State"] == "stopped"
        row = row_of(await client.get(_LIST), "all-ec2")
        assert '<td class="state">stopped</td>' in row and 'class="start-stream"' in row
        started = await client.post(f"{_LIST}/all-ec2/start", data={"csrf": token})
        assert started.status_code == 303
        held = await cloudwatch(console, client, "GetMetricStream", {"Name": "all-ec2"})
        assert held["State"] == "running"

        unticked = await client.post(f"{_LIST}/all-ec2/delete", data={"csrf": token})
        assert unticked.status_code == 400
        forged = await client.post(f"{_LIST}/all-ec2/delete", data={"confirm": "yes"})
        assert forged.status_code == 403
        deleted = await client.post(f"{_LIST}/all-ec2/delete",
                                    data={"csrf": token, "confirm": "yes"})  # fmt: skip
        assert deleted.status_code == 303
        assert (await cloudwatch(console, client, "ListMetricStreams", {}))["Entries"] == []
        actions = {e.action for e in await logged_events(console, tenant)}
        assert {"cloudwatch:PutMetricStream", "cloudwatch:StopMetricStreams",
                "cloudwatch:DeleteMetricStream"} <= actions  # fmt: skip


async def test_a_user_cloudwatch_refuses_sees_its_refusal(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    await console.user_with_password(tenant, "reader")
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(_LIST)
        assert page.status_code == 403  # CloudWatch's own status for AccessDenied
        assert alert(page) == "Access denied: your policies do not allow this. (AccessDenied)"
        assert 'id="create-metric-stream-form"' in page.text
