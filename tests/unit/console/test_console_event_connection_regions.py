"""EventBridge's connections and API destinations in every Region in the console (decision
0406 over 0400), two declared Regions (the console's eu-fr-1, eu-de-1): the page's Region
chooser; a connection and an API destination listed, made, edited, deauthorized and deleted
in eu-de-1 through ``?region=``, each change EventBridge's own call in that Region (read back
with SigV4 in each Region), the namesakes of eu-fr-1 untouched; eu-de-1's customer keys
offered there only; a Region not served refused before any call, by the page and by the API
for a trusted call naming it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.console.wire import WireError
from andromede.eventsapi.app import CONTENT_TYPE
from andromede.http.asgi import TRUSTED_REGION_SCOPE_KEY
from andromede.kmsapi.app import CONTENT_TYPE as KMS_CONTENT_TYPE
from support.console import (
    TWO_REGIONS,
    ConsoleHarness,
    alert_text,
    console_harness,
    csrf,
    form_html,
    log_in,
)
from support.json_client import signed_json_post

_PAGE = "/event-connections"
_DE = "?region=eu-de-1"


@pytest.fixture
async def regions(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path, regions=TWO_REGIONS) as harness:
        yield harness


async def _api(
    console: ConsoleHarness, keys: Credentials, api: str, region: str, action: str,
    payload: dict[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """EventBridge's or KMS's own API in ``region``, signed with the account's root keys."""
    running = console.application._running
    assert running is not None
    target, content_type = (
        (f"AWSEvents.{action}", CONTENT_TYPE) if api == "events"
        else (f"TrentService.{action}", KMS_CONTENT_TYPE)
    )  # fmt: skip
    reply = await signed_json_post(
        running.apis[api], target, payload, content_type=content_type, credentials=keys,
        service=api, region=region,
    )  # fmt: skip
    assert reply.status == 200, (reply.status, reply.body)
    return reply.json() if reply.body else {}


async def _names(console: ConsoleHarness, keys: Credentials, region: str) -> dict[str, Any]:
    """The connections' and API destinations' names EventBridge lists in ``region``."""
    connections = await _api(console, keys, "events", region, "ListConnections", {})
    destinations = await _api(console, keys, "events", region, "ListApiDestinations", {})
    return {
        "connections": sorted(c["Name"] for c in connections["Connections"]),
        "destinations": sorted(d["Name"] for d in destinations["ApiDestinations"]),
    }


async def test_connections_and_destinations_in_the_region_chosen(
    regions: ConsoleHarness,
) -> None:
    console = regions
    made = await console.identity.create_tenant("shop")
    account = made.tenant.id
    keys = Credentials(made.access_key_id, made.secret_access_key)
    await console.user_with_password(account, "root")
    # A customer key of eu-de-1 EventBridge may use, offered on eu-de-1's page only.
    key = await _api(console, keys, "kms", "eu-de-1", "CreateKey", {
        "Tags": [{"TagKey": "EventBridgeApiDestinations", "TagValue": "true"}],
    })  # fmt: skip
    key_id = key["KeyMetadata"]["KeyId"]
    await _api(console, keys, "kms", "eu-de-1", "CreateAlias",
               {"AliasName": "alias/partners-de", "TargetKeyId": key_id})  # fmt: skip
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, _PAGE)
        home = await client.get(_PAGE)
        chooser = form_html(home, "region-chooser")
        assert '<option value="eu-fr-1" selected>' in chooser
        assert '<option value="eu-de-1">' in chooser
        assert "alias/partners-de" not in form_html(home, "create-connection-form-api_key")
        de_page = await client.get(f"{_PAGE}{_DE}")
        assert '<option value="eu-de-1" selected>' in form_html(de_page, "region-chooser")
        assert 'action="/console/event-connections?region=eu-de-1"' in de_page.text
        assert '<option value="alias/partners-de">' in form_html(
            de_page, "create-connection-form-api_key"
        )

        connection = {"csrf": token, "name": "partner", "auth_type": "API_KEY",
                      "api_key_name": "x-api-key", "api_key_value": "k-de", "description": "",
                      "kms_key": "alias/partners-de"}  # fmt: skip
        made_de = await client.post(f"{_PAGE}{_DE}", data=connection)
        assert made_de.status_code == 303
        assert made_de.headers["location"] == f"/console{_PAGE}{_DE}"
        # Its namesake in eu-fr-1, under the account's aws/secretsmanager key.
        made_fr = await client.post(_PAGE, data={**connection, "kms_key": ""})
        assert made_fr.status_code == 303 and made_fr.headers["location"] == f"/console{_PAGE}"
        de_arn = f"arn:aws:events:eu-de-1:{account}:connection/partner/"
        described = await _api(console, keys, "events", "eu-de-1", "DescribeConnection",
                               {"Name": "partner"})  # fmt: skip
        assert described["ConnectionArn"].startswith(de_arn)
        assert described["KmsKeyIdentifier"] == "alias/partners-de"
        assert described["SecretArn"].startswith(f"arn:aws:secretsmanager:eu-de-1:{account}:")

        shown = await client.get(f"{_PAGE}{_DE}")
        row = shown.text.split('id="connection-partner"', 1)[1].split("</tr>", 1)[0]
        # eu-de-1's secret: its ARN shown, not linked to the console's (eu-fr-1's) secrets.
        assert "secretsmanager:eu-de-1" in row and "/console/secrets/" not in row
        assert 'action="/console/event-connections/partner/update?region=eu-de-1"' in row
        fr_row = (await client.get(_PAGE)).text.split('id="connection-partner"', 1)[1]
        assert '<a href="/console/secrets/' in fr_row.split("</tr>", 1)[0]

        # An API destination on eu-de-1's connection, in eu-de-1 only.
        destination = {"csrf": token, "name": "hook", "connection_arn": described["ConnectionArn"],
                       "endpoint": "https://hooks.example.com/de", "method": "POST",
                       "rate": "5"}  # fmt: skip
        created = await client.post(f"{_PAGE}/destinations{_DE}", data=destination)
        assert created.status_code == 303 and created.headers["location"].endswith(_DE)
        assert await _names(console, keys, "eu-de-1") == {
            "connections": ["partner"],
            "destinations": ["hook"],
        }
        assert await _names(console, keys, "eu-fr-1") == {
            "connections": ["partner"],
            "destinations": [],
        }
        listed = await client.get(f"{_PAGE}{_DE}")
        assert 'id="destination-hook"' in listed.text
        assert 'id="destination-hook"' not in (await client.get(_PAGE)).text

        # Edited in eu-de-1: the destination's endpoint, the connection's description.
        edit = {"csrf": token, "kind": "destination", "row": "hook",
                "endpoint": "https://hooks.example.com/v2", "method": "PUT",
                "rate": ""}  # fmt: skip
        edited = await client.post(f"{_PAGE}/destinations/hook/update{_DE}", data=edit)
        assert edited.status_code == 303
        hook = await _api(console, keys, "events", "eu-de-1", "DescribeApiDestination",
                          {"Name": "hook"})  # fmt: skip
        assert hook["InvocationEndpoint"] == "https://hooks.example.com/v2"
        assert hook["HttpMethod"] == "PUT"
        update = {"csrf": token, "kind": "connection", "row": "partner", "auth_type": "API_KEY",
                  "api_key_name": "", "api_key_value": "", "description": "of eu-de-1"}  # fmt: skip
        updated = await client.post(f"{_PAGE}/partner/update{_DE}", data=update)
        assert updated.status_code == 303
        for region, description in (("eu-de-1", "of eu-de-1"), ("eu-fr-1", "")):
            one = await _api(console, keys, "events", region, "DescribeConnection",
                             {"Name": "partner"})  # fmt: skip
            assert one.get("Description", "") == description
        # A refusal in eu-de-1 shows eu-de-1's page again, the form as typed.
        refused = await client.post(
            f"{_PAGE}/destinations{_DE}", data={**destination, "endpoint": "ftp://nowhere"}
        )
        assert refused.status_code == 400 and "ValidationException" in alert_text(refused)
        assert '<option value="eu-de-1" selected>' in form_html(refused, "region-chooser")
        assert 'value="ftp://nowhere"' in form_html(refused, "create-destination-form")

        # Deleted in eu-de-1 (the destination, then its connection); eu-fr-1's kept.
        unticked = await client.post(f"{_PAGE}/destinations/hook/delete{_DE}", data={"csrf": token})
        assert unticked.status_code == 400
        gone = await client.post(
            f"{_PAGE}/destinations/hook/delete{_DE}", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 303
        deleted = await client.post(
            f"{_PAGE}/partner/delete{_DE}", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303
        assert await _names(console, keys, "eu-de-1") == {"connections": [], "destinations": []}
        assert (await _names(console, keys, "eu-fr-1"))["connections"] == ["partner"]


async def test_a_region_not_served_is_refused_before_any_call(regions: ConsoleHarness) -> None:
    console = regions
    made = await console.identity.create_tenant("shop")
    keys = Credentials(made.access_key_id, made.secret_access_key)
    await console.user_with_password(made.tenant.id, "root")
    async with console.client() as client:
        assert (await log_in(client, "shop", "root")).status_code == 303
        token = await csrf(client, _PAGE)
        page = await client.get(f"{_PAGE}?region=us-east-1", headers={"accept-language": "fr"})
        assert page.status_code == 404
        assert alert_text(page) == "Cette console ne sert aucune Région us-east-1."
        connection = {"csrf": token, "name": "partner", "auth_type": "API_KEY",
                      "api_key_name": "x-api-key", "api_key_value": "k"}  # fmt: skip
        posted = await client.post(f"{_PAGE}?region=us-east-1", data=connection)
        assert posted.status_code == 404 and "us-east-1" in alert_text(posted)
        for region in ("eu-fr-1", "eu-de-1"):
            assert (await _names(console, keys, region))["connections"] == []
        # The API itself refuses a trusted call naming a Region it does not serve.
        running = console.application._running
        assert running is not None
        events = running.console.console.events
        assert events is not None
        principal = await console.identity.resolve_console_session(
            client.cookies["andromede_console"]
        )
        origin = {"client": ("127.0.0.1", 1), "scheme": "http",
                  TRUSTED_REGION_SCOPE_KEY: "us-east-1"}  # fmt: skip
        with pytest.raises(WireError) as refusal:
            await events.connections(origin, principal, limit=10)
        assert refusal.value.code == "ValidationException"
        assert "us-east-1 is not served" in refusal.value.message
        kms = running.console.console.kms
        assert kms is not None
        with pytest.raises(WireError) as refusal:
            await kms._json(origin, principal, "ListKeys", {})
        assert refusal.value.code == "ValidationException"
