"""A load balancer page's access logs (decisions 0264, 0269 and 0279), for a Network and an
Application Load Balancer alike: off at first, the account's buckets offered; a prefix ELBv2
refuses in its words with the form as typed; turned on into a bucket with a prefix
(ModifyLoadBalancerAttributes' ``access_logs.s3.*``) and shown; turned off, the bucket kept
as ELBv2 keeps it; an ALB's connection logs (decision 0287) the same way, in their own form.
Each checked against what ELBv2 answers apart from the console."""

from __future__ import annotations

import httpx
import pytest

from support.console import ConsoleHarness, csrf_of, running_compute, sign_in_root
from unit.console.test_console_firehose_edits import alert, form_of


async def _attributes(
    console: ConsoleHarness, client: httpx.AsyncClient, name: str
) -> dict[str, str]:
    """The load balancer's attributes as ELBv2 answers them apart from the page."""
    running = console.application._running
    assert running is not None
    elb = running.console.console.elb
    assert elb is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    scope = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}
    [lb] = await elb.load_balancers(scope, principal, [name])
    return await elb.load_balancer_attributes(scope, principal, lb.arn)


@pytest.mark.parametrize("lb_type", ["network", "application"])
async def test_access_logs_shown_turned_on_and_off(console: ConsoleHarness, lb_type: str) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await running_compute(console).default_network(tenant)
        assert default.subnet is not None
        token = csrf_of(await client.get("/load-balancers"))
        bucket = await client.post("/buckets", data={"csrf": token, "name": "edge-logs",
                                                    "region": "eu-fr-1"})  # fmt: skip
        assert bucket.status_code == 303
        made = await client.post(
            "/load-balancers",
            data={"csrf": token, "name": "edge", "type": lb_type,
                  f"subnet_{default.subnet.subnet_id}": "yes"},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        page = await client.get("/load-balancers/edge")
        assert '<dd class="access-logs-status">disabled</dd>' in page.text
        assert ('id="access-logs-note"' in page.text) == (lb_type == "network")
        # Decision 0287: an ALB's connection logs, its own form; none for an NLB.
        assert ('id="connection-logs-form"' in page.text) == (lb_type == "application")
        logs_form = form_of(page, "access-logs-form")
        assert '<option value="edge-logs">edge-logs</option>' in logs_form

        fields = {"csrf": token, "enabled": "yes", "bucket": "edge-logs", "prefix": "AWSLogs/x"}
        refused = await client.post("/load-balancers/edge/access-logs", data=fields)
        assert refused.status_code == 400 and "AWSLogs" in alert(refused)
        again = form_of(refused, "access-logs-form")
        assert 'value="AWSLogs/x"' in again and '<option value="edge-logs" selected>' in again
        assert (await _attributes(console, client, "edge"))["access_logs.s3.enabled"] == "false"

        on = await client.post("/load-balancers/edge/access-logs", data=fields | {"prefix": "lb"})
        assert on.status_code == 303, alert(on)
        assert on.headers["location"] == "/console/load-balancers/edge#access-logs"
        held = await _attributes(console, client, "edge")
        assert held["access_logs.s3.enabled"] == "true"
        assert (held["access_logs.s3.bucket"], held["access_logs.s3.prefix"]) == (
            "edge-logs", "lb"
        )  # fmt: skip
        page = await client.get("/load-balancers/edge")
        assert '<dd class="access-logs-status">enabled</dd>' in page.text
        assert '<a href="/console/buckets/edge-logs">edge-logs</a>' in page.text
        assert '<dd class="access-logs-prefix"><code>lb</code></dd>' in page.text

        off = await client.post("/load-balancers/edge/access-logs", data={"csrf": token})
        assert off.status_code == 303
        held = await _attributes(console, client, "edge")
        assert held["access_logs.s3.enabled"] == "false"
        assert held["access_logs.s3.bucket"] == "edge-logs"
        page = await client.get("/load-balancers/edge")
        assert '<dd class="access-logs-status">disabled</dd>' in page.text
        assert 'name="enabled" value="yes">' in form_of(page, "access-logs-form")


async def test_an_albs_connection_logs_turned_on_and_off(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        default = await running_compute(console).default_network(tenant)
        assert default.subnet is not None
        token = csrf_of(await client.get("/load-balancers"))
        bucket = await client.post("/buckets", data={"csrf": token, "name": "conn-logs",
                                                    "region": "eu-fr-1"})  # fmt: skip
        assert bucket.status_code == 303
        made = await client.post(
            "/load-balancers",
            data={"csrf": token, "name": "shop", "type": "application",
                  f"subnet_{default.subnet.subnet_id}": "yes"},
        )  # fmt: skip
        assert made.status_code == 303, alert(made)
        page = await client.get("/load-balancers/shop")
        assert '<dd class="connection-logs-status">disabled</dd>' in page.text
        fields = {"csrf": token, "enabled": "yes", "bucket": "conn-logs", "prefix": "/x"}
        refused = await client.post("/load-balancers/shop/connection-logs", data=fields)
        assert refused.status_code == 400 and "connection logs" in alert(refused)
        assert 'value="/x"' in form_of(refused, "connection-logs-form")
        on = await client.post(
            "/load-balancers/shop/connection-logs", data=fields | {"prefix": "tls"}
        )
        assert on.status_code == 303, alert(on)
        assert on.headers["location"] == "/console/load-balancers/shop#connection-logs"
        held = await _attributes(console, client, "shop")
        assert (held["connection_logs.s3.enabled"], held["connection_logs.s3.bucket"]) == (
            "true", "conn-logs",
        )  # fmt: skip
        assert held["access_logs.s3.enabled"] == "false"  # the other destination untouched
        page = await client.get("/load-balancers/shop")
        assert '<dd class="connection-logs-status">enabled</dd>' in page.text
        assert '<dd class="connection-logs-prefix"><code>tls</code></dd>' in page.text
        off = await client.post("/load-balancers/shop/connection-logs", data={"csrf": token})
        assert off.status_code == 303
        held = await _attributes(console, client, "shop")
        assert held["connection_logs.s3.enabled"] == "false"
        assert held["connection_logs.s3.bucket"] == "conn-logs"
