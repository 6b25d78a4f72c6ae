"""S3 Inventory on the bucket settings page (decision 0154): the bucket's configurations
listed, one added (CSV, then Parquet: decision 0170) and removed through the console, each
S3's own call as the signed-in user, checked against what S3 itself answers; S3's refusals and
a user without the permission shown as S3 answers them; the section in French."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import httpx

from andromede.console.wire import S3Wire
from support.console import ConsoleHarness, csrf, log_in

BUCKET = "reports"
TARGET = "inventories"
SETTINGS = f"/buckets/{BUCKET}/settings"
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


async def _signed_in(console: ConsoleHarness, client: httpx.AsyncClient) -> str:
    """Signed in as the admin account's root, with both buckets; the session's CSRF token."""
    await console.user_with_password(console.admin_tenant_id, "root")
    assert (await log_in(client, "admin", "root")).status_code == 303
    token: str = await csrf(client)
    for name in (BUCKET, TARGET):
        made = await client.post(
            "/buckets", data={"csrf": token, "name": name, "region": "eu-fr-1"}
        )
        assert made.status_code == 303, made.text
    return token


async def _held(console: ConsoleHarness, client: httpx.AsyncClient) -> list[ET.Element]:
    """The bucket's configurations as S3's ListBucketInventoryConfigurations answers them."""
    running = console.application._running
    assert running is not None
    principal = await console.identity.resolve_console_session(client.cookies["andromede_console"])
    origin = {"scheme": "http", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 9000)}
    answer = await S3Wire(running.s3).request(
        origin, principal, "GET", f"/{BUCKET}", {"inventory": ""}
    )
    root = ET.fromstring(answer.body)  # noqa: S314 - the test's own server's answer
    return root.findall(f"{_NS}InventoryConfiguration")


def _form(token: str, **fields: str) -> dict[str, str]:
    return {"csrf": token, "inventory_id": "daily", "inventory_enabled": "yes",
            "inventory_bucket": TARGET, "inventory_frequency": "Daily",
            "inventory_versions": "Current", **fields}  # fmt: skip


def _row(page: httpx.Response, config_id: str) -> str:
    start = page.text.index(f'id="inventory-{config_id}"')
    return page.text[start : page.text.index("</tr>", start)]


async def test_a_configuration_added_listed_and_removed(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _signed_in(console, client)
        empty = await client.get(SETTINGS)
        assert empty.status_code == 200, empty.text
        assert "No inventory configurations." in empty.text
        assert 'name="field_ETag"' in empty.text and 'id="add-inventory-form"' in empty.text
        added = await client.post(
            f"{SETTINGS}/inventory",
            data=_form(token, inventory_prefix="inv", inventory_versions="All",
                       inventory_filter="logs/", field_Size="yes", field_ETag="yes",
                       inventory_frequency="Weekly"),
        )  # fmt: skip
        assert added.status_code == 303, added.text
        assert added.headers["location"].endswith("/settings#inventory")
        [held] = await _held(console, client)
        assert held.findtext(f"{_NS}Id") == "daily"
        assert held.findtext(f"{_NS}IsEnabled") == "true"
        target = f"{_NS}Destination/{_NS}S3BucketDestination/"
        assert held.findtext(f"{target}{_NS}Bucket") == f"arn:aws:s3:::{TARGET}"
        assert held.findtext(f"{target}{_NS}Format") == "CSV"
        assert held.findtext(f"{target}{_NS}Prefix") == "inv"
        assert held.findtext(f"{_NS}Schedule/{_NS}Frequency") == "Weekly"
        assert held.findtext(f"{_NS}IncludedObjectVersions") == "All"
        assert held.findtext(f"{_NS}Filter/{_NS}Prefix") == "logs/"
        fields = [f.text for f in held.iterfind(f"{_NS}OptionalFields/{_NS}Field")]
        assert fields == ["Size", "ETag"]
        page = await client.get(SETTINGS)
        row = _row(page, "daily")
        assert '<td class="enabled">Yes</td>' in row
        assert f"<code>arn:aws:s3:::{TARGET}/inv</code> (CSV)" in row
        assert '<td class="frequency">Weekly</td>' in row and '<td class="versions">All</td>' in row
        assert (
            '<td class="prefix">logs/</td>' in row and '<td class="fields">Size, ETag</td>' in row
        )
        disabled = await client.post(
            f"{SETTINGS}/inventory",
            data=_form(token, inventory_enabled="", inventory_format="Parquet"),
        )
        assert disabled.status_code == 303, disabled.text
        [held] = await _held(console, client)  # the same id: replaced, as S3 does
        assert held.findtext(f"{_NS}IsEnabled") == "false"
        assert held.findtext(f"{target}{_NS}Format") == "Parquet"
        assert f"<code>arn:aws:s3:::{TARGET}</code> (Parquet)" in _row(
            await client.get(SETTINGS), "daily"
        )
        removed = await client.post(
            f"{SETTINGS}/inventory/delete", data={"csrf": token, "inventory_id": "daily"}
        )
        assert removed.status_code == 303, removed.text
        assert await _held(console, client) == []
        assert "No inventory configurations." in (await client.get(SETTINGS)).text


async def test_s3s_refusals_show_with_the_form_as_sent(console: ConsoleHarness) -> None:
    async with console.client() as client:
        token = await _signed_in(console, client)
        missing = await client.post(
            f"{SETTINGS}/inventory", data=_form(token, inventory_bucket="no-such-bucket")
        )
        assert missing.status_code == 400 and "InvalidArgument" in missing.text
        assert 'value="no-such-bucket"' in missing.text
        bad_id = await client.post(f"{SETTINGS}/inventory", data=_form(token, inventory_id="a b"))
        assert bad_id.status_code == 400 and "InvalidArgument" in bad_id.text
        gone = await client.post(
            f"{SETTINGS}/inventory/delete", data={"csrf": token, "inventory_id": "nothing"}
        )
        assert gone.status_code == 404 and "NoSuchConfiguration" in gone.text
        forged = await client.post(f"{SETTINGS}/inventory", data=_form("forged"))
        assert forged.status_code == 403
        assert await _held(console, client) == []


async def test_s3s_policies_decide_and_french(console: ConsoleHarness) -> None:
    tenant = console.admin_tenant_id
    async with console.client() as client:
        await _signed_in(console, client)
    await console.user_with_password(tenant, "reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
    }
    await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(policy))
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get(SETTINGS)
        assert page.status_code == 200, page.text
        assert "Aucune configuration d\u2019inventaire." in page.text
        assert "Ajouter un inventaire" in page.text and "Format du rapport" in page.text
        refused = await client.post(f"{SETTINGS}/inventory", data=_form(await csrf(client)))
        assert refused.status_code == 403 and "AccessDenied" in refused.text
        assert await _held(console, client) == []
