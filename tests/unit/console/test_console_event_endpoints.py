"""EventBridge's global endpoints in the console (decision 0366 over 0355), two declared
Regions (the console's eu-fr-1, eu-de-1): the list and its create form (the account's buses,
the other Region, replication on or off with a role), EventBridge's refusals shown in the
reader's language with the fields as typed (a bus missing in the secondary Region,
replication without a role, a choice left empty), the endpoint's page (state, EndpointId,
URL, routing, buses), the failover edited (replication turned on: the managed rules on both
buses), the deletion (ticked, CSRF-checked) taking the rules with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.eventsapi.app import CONTENT_TYPE
from support.console import (
    TWO_REGIONS,
    ConsoleHarness,
    alert_text,
    console_harness,
    csrf,
    form_html,
    log_in,
    sign_in_root,
)
from support.json_client import signed_json_post

_CHECK = "arn:aws:route53:::healthcheck/0a1b2c3d-4e5f-6789-abcd-ef0123456789"


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, regions=TWO_REGIONS) as harness:
        yield harness


async def _events(
    console: ConsoleHarness, keys: Credentials, region: str, action: str, payload: dict[str, Any]
) -> dict[str, Any]:
    """EventBridge's own API in ``region``, signed with the account's root keys."""
    running = console.application._running
    assert running is not None
    reply = await signed_json_post(
        running.apis["events"], f"AWSEvents.{action}", payload, content_type=CONTENT_TYPE,
        credentials=keys, service="events", region=region,
    )  # fmt: skip
    assert reply.status == 200, reply.body
    return reply.json()


async def test_a_global_endpoint_made_shown_failed_over_and_deleted(
    regions: ConsoleHarness,
) -> None:
    console = regions
    made = await console.identity.create_tenant("shop")
    account = made.tenant.id
    keys = Credentials(made.access_key_id, made.secret_access_key)
    await console.user_with_password(account, "root")
    await _events(console, keys, "eu-fr-1", "CreateEventBus", {"Name": "orders"})
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, "/event-endpoints")
        empty = await client.get("/event-endpoints")
        assert empty.status_code == 200 and "No global endpoints yet." in empty.text
        form = form_html(empty, "create-endpoint-form")
        bus_arn = f"arn:aws:events:eu-fr-1:{account}:event-bus/orders"
        assert f'<option value="{bus_arn}">orders</option>' in form
        assert '<option value="eu-de-1">' in form and '<option value="eu-fr-1"' not in form
        assert (await client.get("/event-rules")).text.count('href="/console/event-endpoints"')

        endpoint = {
            "csrf": token, "name": "checkout", "description": "Orders, fault tolerant",
            "bus": bus_arn, "secondary": "eu-de-1", "health_check": _CHECK,
        }  # fmt: skip
        unchosen = await client.post(
            "/event-endpoints", data={**endpoint, "health_check": ""},
            headers={"accept-language": "fr"},
        )  # fmt: skip
        assert unchosen.status_code == 400
        assert alert_text(unchosen).startswith("Choisissez le bus d")
        # The secondary Region has no bus "orders" yet: EventBridge's refusal, as typed.
        missing = await client.post("/event-endpoints", data=endpoint)
        assert missing.status_code == 400 and "ValidationException" in alert_text(missing)
        assert f"arn:aws:events:eu-de-1:{account}:event-bus/orders" in alert_text(missing)
        typed = form_html(missing, "create-endpoint-form")
        assert 'value="checkout"' in typed and 'value="Orders, fault tolerant"' in typed
        assert 'id="endpoint-replication">' in typed  # an unticked box stays unticked
        await _events(console, keys, "eu-de-1", "CreateEventBus", {"Name": "orders"})
        # Replication (ticked, AWS's default) without a role: refused by EventBridge.
        roleless = await client.post(
            "/event-endpoints", data={**endpoint, "replication": "ENABLED"}
        )
        assert roleless.status_code == 400 and "RoleArn is required" in alert_text(roleless)
        forged = await client.post("/event-endpoints", data={**endpoint, "csrf": "forged"})
        assert forged.status_code == 403
        created = await client.post("/event-endpoints", data=endpoint)
        assert created.status_code == 303, created.text
        assert created.headers["location"] == "/console/event-endpoints/checkout"

        listed = await client.get("/event-endpoints")
        row = listed.text.split('id="endpoint-checkout"', 1)[1].split("</tr>", 1)[0]
        assert 'class="state">ACTIVE<' in row and 'class="secondary">eu-de-1<' in row
        assert 'class="bus">orders<' in row and 'class="replication">DISABLED<' in row
        described = await _events(
            console, keys, "eu-fr-1", "DescribeEndpoint", {"Name": "checkout"}
        )
        page = await client.get("/event-endpoints/checkout")
        assert page.status_code == 200
        assert f'id="endpoint-id">{described["EndpointId"]}<' in page.text
        assert f'id="endpoint-url">{described["EndpointUrl"]}<' in page.text
        assert 'id="endpoint-primary">eu-fr-1<' in page.text
        assert "the primary Region (eu-fr-1)" in page.text
        assert f"arn:aws:events:eu-de-1:{account}:event-bus/orders" in page.text
        failover = form_html(page, "failover-form")
        # The endpoint's own check stays chosen though Route 53 lists no such check.
        assert f'<option value="{_CHECK}" selected>' in failover
        assert '<option value="eu-de-1" selected>' in failover

        # The failover edited: replication on, as a role of the account.
        role = f"arn:aws:iam::{account}:role/replication"
        edit = {**endpoint, "replication": "ENABLED", "role_arn": role, "description": "Both"}
        saved = await client.post("/event-endpoints/checkout/update", data=edit)
        assert saved.status_code == 303, saved.text
        after = await _events(console, keys, "eu-fr-1", "DescribeEndpoint", {"Name": "checkout"})
        assert after["ReplicationConfig"] == {"State": "ENABLED"} and after["RoleArn"] == role
        assert after["Description"] == "Both"
        rule = "GlobalEndpointManagedRule-" + described["EndpointId"].replace(".", "-")
        for region in ("eu-fr-1", "eu-de-1"):
            rules = await _events(console, keys, region, "ListRules", {"EventBusName": "orders"})
            assert [r["Name"] for r in rules["Rules"]] == [rule]
        shown = await client.get("/event-endpoints/checkout")
        assert 'id="endpoint-replication-state">ENABLED<' in shown.text
        assert f'<option value="{role}" selected>' in form_html(shown, "failover-form")

        unticked = await client.post("/event-endpoints/checkout/delete", data={"csrf": token})
        assert unticked.status_code == 400
        forged = await client.post("/event-endpoints/checkout/delete", data={"confirm": "yes"})
        assert forged.status_code == 403
        deleted = await client.post(
            "/event-endpoints/checkout/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert (
            deleted.status_code == 303 and deleted.headers["location"] == "/console/event-endpoints"
        )
        listed = await _events(console, keys, "eu-fr-1", "ListEndpoints", {})
        assert listed["Endpoints"] == []
        for region in ("eu-fr-1", "eu-de-1"):
            rules = await _events(console, keys, region, "ListRules", {"EventBusName": "orders"})
            assert rules["Rules"] == []
        gone = await client.get("/event-endpoints/checkout")
        assert gone.status_code == 400
        assert "ResourceNotFoundException" in alert_text(gone)


async def test_one_region_offers_no_endpointform_html(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        page = await client.get("/event-endpoints")
    assert page.status_code == 200
    assert 'id="create-endpoint-form"' not in page.text
    assert "a global endpoint needs a second one to fail over to" in page.text
