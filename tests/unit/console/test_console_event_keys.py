"""EventBridge's customer keys and secrets in the console (decision 0111, session 50 second
part; decision 0204 served): an archive's KMS key chosen among the account's keys at creation
and edit and shown in its row, a key EventBridge may not use refused in its words; a
connection's Secrets Manager secret linked from its row to the secret's page, its customer key
chosen at creation (an untagged key refused, the password never shown back)."""

from __future__ import annotations

import json
from html import unescape
from typing import Any

import httpx

from support.console import ConsoleHarness, csrf, sign_in_root

_SCOPE = {"client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9001), "scheme": "http"}


def _alert(page: httpx.Response) -> str:
    return unescape(page.text.split('role="alert">', 1)[1].split("</p>", 1)[0])


async def _call(
    console: ConsoleHarness, client: httpx.AsyncClient, api: str, action: str, payload: Any
) -> Any:
    """An EventBridge or KMS call as the client's signed-in user, as the console's are made."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    wire = getattr(running.console.console, api)
    assert wire is not None
    return await wire._json(_SCOPE, principal, action, payload)


async def _key(
    console: ConsoleHarness,
    client: httpx.AsyncClient,
    tenant: str,
    alias: str,
    *,
    bus: str | None = None,
    tagged: bool = False,
) -> str:
    """A customer key under ``alias``; its policy lets EventBridge use it for ``bus``."""
    statements: list[dict[str, Any]] = [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{tenant}:root"},
        "Action": "kms:*", "Resource": "*",
    }]  # fmt: skip
    if bus:
        statements.append({
            "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
            "Action": ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
            "Condition": {"StringEquals": {"kms:EncryptionContext:aws:events:event-bus:arn": bus}},
        })  # fmt: skip
    payload: dict[str, Any] = {
        "Policy": json.dumps({"Version": "2012-10-17", "Statement": statements})
    }
    if tagged:
        payload["Tags"] = [{"TagKey": "EventBridgeApiDestinations", "TagValue": "true"}]
    made = await _call(console, client, "kms", "CreateKey", payload)
    key_id = str(made["KeyMetadata"]["KeyId"])
    await _call(console, client, "kms", "CreateAlias", {"AliasName": alias, "TargetKeyId": key_id})
    return key_id


async def test_an_archive_under_a_customer_key(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        bus = (await _call(console, client, "events", "DescribeEventBus", {}))["Arn"]
        await _key(console, client, tenant, "alias/archives", bus=bus)
        await _key(console, client, tenant, "alias/closed")  # EventBridge not let in
        page = await client.get("/event-archives")
        create = page.text.split('id="create-archive-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/archives">' in create and "alias/aws/" not in create
        token = await csrf(client, "/event-archives")
        archive = {"csrf": token, "name": "orders", "bus_arn": bus, "pattern": "",
                   "retention": "", "kms_key": "alias/closed"}  # fmt: skip
        refused = await client.post("/event-archives", data=archive)
        assert refused.status_code == 400 and "(ValidationException)" in _alert(refused)
        assert "does not allow" in _alert(refused)
        form = refused.text.split('id="create-archive-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/closed" selected>' in form
        made = await client.post("/event-archives", data={**archive, "kms_key": "alias/archives"})
        assert made.status_code == 303
        held = await _call(console, client, "events", "DescribeArchive", {"ArchiveName": "orders"})
        assert held["KmsKeyIdentifier"] == "alias/archives"
        page = await client.get("/event-archives")
        row = page.text.split('id="archive-orders"', 1)[1].split("</tr>", 1)[0]
        assert '<td class="archive-key"><code>alias/archives</code>' in row

        # Edited: the key unchanged when none is chosen, then refused, then another.
        page = await client.get("/event-archives", params={"edit": "orders"})
        form = page.text.split('id="edit-archive-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="">Unchanged: alias/archives</option>' in form
        update = {"csrf": token, "archive": "orders", "description": "d", "pattern": "",
                  "retention": "", "kms_key": ""}  # fmt: skip
        url = "/event-archives/orders/update"
        assert (await client.post(url, data=update)).status_code == 303
        held = await _call(console, client, "events", "DescribeArchive", {"ArchiveName": "orders"})
        assert held["KmsKeyIdentifier"] == "alias/archives" and held["Description"] == "d"
        closed = await client.post(url, data={**update, "kms_key": "alias/closed"})
        assert closed.status_code == 400 and "(ValidationException)" in _alert(closed)
        await _key(console, client, tenant, "alias/archives-2", bus=bus)
        moved = await client.post(url, data={**update, "kms_key": "alias/archives-2"})
        assert moved.status_code == 303
        held = await _call(console, client, "events", "DescribeArchive", {"ArchiveName": "orders"})
        assert held["KmsKeyIdentifier"] == "alias/archives-2"


async def test_a_connections_secret_linked_and_its_key(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await _key(console, client, tenant, "alias/untagged")
        await _key(console, client, tenant, "alias/partners", tagged=True)
        token = await csrf(client, "/event-connections")
        connection = {"csrf": token, "name": "partner", "auth_type": "BASIC",
                      "username": "robot", "password": "S3cret-Pa55", "description": "",
                      "kms_key": "alias/untagged"}  # fmt: skip
        refused = await client.post("/event-connections", data=connection)
        assert refused.status_code == 400 and "EventBridgeApiDestinations=true" in _alert(refused)
        assert "S3cret-Pa55" not in refused.text
        assert '<option value="alias/untagged" selected>' in refused.text
        made = await client.post(
            "/event-connections", data={**connection, "kms_key": "alias/partners"}
        )
        assert made.status_code == 303
        plain = await client.post(
            "/event-connections", data={**connection, "name": "plain", "kms_key": ""}
        )
        assert plain.status_code == 303

        described = await _call(
            console, client, "events", "DescribeConnection", {"Name": "partner"}
        )
        secret_arn = described["SecretArn"]
        assert ":secret:events!connection/partner/" in secret_arn
        page = await client.get("/event-connections")
        row = page.text.split('id="connection-partner"', 1)[1].split("</tr>", 1)[0]
        assert "alias/partners" in row and "S3cret-Pa55" not in page.text
        link = row.split('<td class="connection-secret"><a href="', 1)[1].split('"', 1)[0]
        assert link.startswith("/console/secrets/")
        other = page.text.split('id="connection-plain"', 1)[1].split("</tr>", 1)[0]
        assert "events!connection/plain/" in other and "<br>Key" not in other
        # The link is the secret's page: EventBridge's secret, read as any by its account.
        secret = await client.get(link.removeprefix("/console"))
        assert secret.status_code == 200 and "events!connection/partner/" in secret.text


async def test_a_buses_key_and_dead_letter_queue(console: ConsoleHarness) -> None:
    """Decision 0213 in the console (session 52): chosen at the bus's creation, shown, changed
    and dropped; a key EventBridge may not use refused in its words with the form as typed."""
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        region = console.application.settings.region
        bus = f"arn:aws:events:{region}:{tenant}:event-bus/orders"
        await _key(console, client, tenant, "alias/orders", bus=bus)
        await _key(console, client, tenant, "alias/closed")  # EventBridge not let in
        token = await csrf(client, "/event-rules")
        for queue in ("dead", "dead-2"):
            made = await client.post("/queues", data={"csrf": token, "name": queue})
            assert made.status_code == 303
        queue_arn = f"arn:aws:sqs:{region}:{tenant}:dead"
        page = await client.get("/event-rules")
        create = page.text.split('id="create-bus-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/orders">' in create
        assert f'<option value="{queue_arn}">dead</option>' in create
        form = {"csrf": token, "bus_form": "create", "bus_name": "orders", "description": "",
                "kms_key": "alias/closed", "dead_letter": queue_arn}  # fmt: skip
        refused = await client.post("/event-rules/create-bus", data=form)
        assert refused.status_code == 400 and "(ValidationException)" in _alert(refused)
        typed = refused.text.split('id="create-bus-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/closed" selected>' in typed
        made = await client.post(
            "/event-rules/create-bus", data={**form, "kms_key": "alias/orders"}
        )
        assert made.status_code == 303, _alert(made)
        held = await _call(console, client, "events", "DescribeEventBus", {"Name": "orders"})
        assert held["KmsKeyIdentifier"] == "alias/orders"
        assert held["DeadLetterConfig"] == {"Arn": queue_arn}
        page = await client.get("/event-rules", params={"bus": "orders"})
        assert 'id="bus-kms-key"><code>alias/orders</code>' in page.text
        assert f'id="bus-dead-letter"><code>{queue_arn}</code>' in page.text
        update = page.text.split('id="update-bus-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/orders" selected>' in update

        # Changed: another queue, the key kept; then refused; then both dropped.
        change = {"csrf": token, "bus_form": "update", "bus": "orders", "kms_key": "alias/orders",
                  "dead_letter": f"arn:aws:sqs:{region}:{tenant}:dead-2"}  # fmt: skip
        assert (await client.post("/event-rules/update-bus", data=change)).status_code == 303
        held = await _call(console, client, "events", "DescribeEventBus", {"Name": "orders"})
        assert held["DeadLetterConfig"]["Arn"].endswith(":dead-2")
        closed = await client.post(
            "/event-rules/update-bus", data={**change, "kms_key": "alias/closed"}
        )
        assert closed.status_code == 400 and "(ValidationException)" in _alert(closed)
        typed = closed.text.split('id="update-bus-form"', 1)[1].split("</form>", 1)[0]
        assert '<option value="alias/closed" selected>' in typed
        dropped = await client.post(
            "/event-rules/update-bus", data={**change, "kms_key": "", "dead_letter": ""}
        )
        assert dropped.status_code == 303
        held = await _call(console, client, "events", "DescribeEventBus", {"Name": "orders"})
        assert "KmsKeyIdentifier" not in held and "DeadLetterConfig" not in held
        page = await client.get("/event-rules", params={"bus": "orders"})
        assert 'id="bus-kms-key">EventBridge&#39;s own key</dd>' in page.text
