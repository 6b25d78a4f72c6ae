"""The console's Route 53 pages (decision 0288): hosted zones listed (name, public or private,
record count, comment) and created (public, or private with a VPC of the account); a zone's
page: its record sets as a table, one created and upserted from a form (its name relative to
the zone, values one a line) — Route 53's ``InvalidChangeBatch`` shown in its words with the
form as typed —, one deleted after a ticked box with its exact values, a private zone's VPCs
associated and disassociated, its comment and tags, and the zone deleted after a ticked box
(``HostedZoneNotEmpty`` in Route 53's words). Each checked against what Route 53 answers apart
from the console; every form needs the CSRF token."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.pages_route53 import record_name, relative_name
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    running_compute,
    sign_in_root,
)
from unit.console.test_console_dynamodb_edits import alert, form_of

_VPC_ROW = re.compile(r'<tr class="vpc" id="vpc-(vpc-[0-9a-f]+)">')


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path) as harness:
        yield harness


def _zone_id(response: httpx.Response) -> str:
    assert response.status_code == 303, alert(response)
    location = response.headers["location"]
    assert location.startswith("/console/hosted-zones/")
    return location.rsplit("/", 1)[-1]


async def _records(console: ConsoleHarness, client: httpx.AsyncClient, zone: str) -> dict[Any, Any]:
    wires, principal = await console.wires(client)
    page = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=("", ""), limit=100)
    return {(r.name, r.record_type): (r.ttl, r.values) for r in page.records}


def test_a_record_name_is_typed_relative_to_the_zone() -> None:
    assert record_name("", "example.com.") == "example.com."
    assert record_name(" @ ", "example.com.") == "example.com."
    assert record_name("www", "example.com.") == "www.example.com."
    assert record_name("mail.other.org.", "example.com.") == "mail.other.org."
    assert relative_name("example.com.", "example.com.") == ""
    assert relative_name("www.example.com.", "example.com.") == "www"
    assert relative_name("www.notexample.com.", "example.com.") == "www.notexample.com."


async def test_a_public_zone_its_records_changed_deleted_and_the_zone_deleted(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        page = await client.get("/hosted-zones")
        assert page.status_code == 200 and 'id="no-zones"' in page.text
        assert 'id="menu-route53"' in page.text
        token = csrf_of(page)
        fields = {"csrf": token, "name": "example.com", "comment": "the shop <b>",
                  "visibility": "public"}  # fmt: skip
        forged = await client.post("/hosted-zones", data={**fields, "csrf": "forged"})
        assert forged.status_code == 403
        zone = _zone_id(await client.post("/hosted-zones", data=fields))
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert (detail.zone.name, detail.zone.private, detail.zone.comment) == (
            "example.com.", False, "the shop <b>",
        )  # fmt: skip
        listing = await client.get("/hosted-zones")
        row = unescape(listing.text.split(f'id="zone-{zone}">', 1)[1].split("</tr>", 1)[0])
        assert '<td class="visibility">Public</td>' in row
        assert '<td class="records">2</td>' in row and "the shop <b>" in row

        page = await client.get(f"/hosted-zones/{zone}")
        assert '<td id="zone-name">example.com.</td>' in page.text
        assert detail.name_servers[0] in page.text
        table = page.text.split('id="zone-records">', 1)[1].split("</table>", 1)[0]
        assert '<td class="type">SOA</td>' in table and '<td class="type">NS</td>' in table
        assert "delete-record" not in table  # the apex SOA and NS are Route 53's
        record = {"csrf": token, "name": "www", "type": "A", "ttl": "300",
                  "values": "192.0.2.1\r\n192.0.2.2\r\n", "change": "CREATE"}  # fmt: skip
        made = await client.post(f"/hosted-zones/{zone}/record", data=record)
        assert made.status_code == 303, alert(made)
        records = await _records(console, client, zone)
        assert records[("www.example.com.", "A")] == (300, ("192.0.2.1", "192.0.2.2"))
        again = await client.post(f"/hosted-zones/{zone}/record", data=record)
        assert again.status_code == 400 and "(InvalidChangeBatch)" in alert(again)
        assert "already exists" in alert(again)
        bad = {**record, "name": "api", "values": "not-an-address"}
        refused = await client.post(f"/hosted-zones/{zone}/record", data=bad)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        typed = form_of(refused, "record-form")
        assert 'name="name" maxlength="1024" value="api"' in typed
        assert "not-an-address</textarea>" in typed
        upserted = await client.post(
            f"/hosted-zones/{zone}/record",
            data={**record, "values": "192.0.2.9", "ttl": "60", "change": "UPSERT"},
        )
        assert upserted.status_code == 303, alert(upserted)
        apex = {**record, "name": "", "type": "TXT", "values": '"v=spf1 -all"'}
        assert (await client.post(f"/hosted-zones/{zone}/record", data=apex)).status_code == 303
        assert '<option value="TLSA">' in page.text  # decision 0324's types offered
        tlsa = {**record, "name": "_443._tcp.www", "type": "TLSA", "values": "3 1 1 " + "ab" * 32}
        assert (await client.post(f"/hosted-zones/{zone}/record", data=tlsa)).status_code == 303
        tlsa_deletion = {
            "csrf": token, "confirm": "yes", "name": "_443._tcp.www.example.com.",
            "type": "TLSA", "ttl": "300", "values": json.dumps([tlsa["values"]]),
        }  # fmt: skip
        assert (
            await client.post(f"/hosted-zones/{zone}/delete-record", data=tlsa_deletion)
        ).status_code == 303
        records = await _records(console, client, zone)
        assert records[("www.example.com.", "A")] == (60, ("192.0.2.9",))
        page = await client.get(f"/hosted-zones/{zone}")
        row = page.text.split('id="record-www.example.com.-A">', 1)[1].split("</tr>", 1)[0]
        edit = re.search(r'class="edit-record" href="([^"]+)"', row)
        assert edit is not None
        editing = await client.get(unescape(edit.group(1)).removeprefix("/console"))
        filled = form_of(editing, "record-form")
        assert 'name="name" maxlength="1024" value="www"' in filled
        assert '<option value="A" selected>' in filled and 'value="60"' in filled
        assert "192.0.2.9</textarea>" in filled and '<option value="UPSERT" selected>' in filled
        assert records[("example.com.", "TXT")] == (300, ('"v=spf1 -all"',))

        not_empty = await client.post(
            f"/hosted-zones/{zone}/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert not_empty.status_code == 400 and "(HostedZoneNotEmpty)" in alert(not_empty)
        page = await client.get(f"/hosted-zones/{zone}")
        row = page.text.split('id="record-www.example.com.-A">', 1)[1].split("</tr>", 1)[0]
        deletion = dict(re.findall(r'name="(\w+)" value="([^"]*)"', row))
        deletion = {k: unescape(v) for k, v in deletion.items() if k != "confirm"}
        assert json.loads(deletion["values"]) == ["192.0.2.9"] and deletion["ttl"] == "60"
        unticked = await client.post(f"/hosted-zones/{zone}/delete-record", data=deletion)
        assert unticked.status_code == 400
        assert ("www.example.com.", "A") in await _records(console, client, zone)
        stale = {**deletion, "confirm": "yes", "values": '["192.0.2.1"]'}
        refused = await client.post(f"/hosted-zones/{zone}/delete-record", data=stale)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        deleted = await client.post(
            f"/hosted-zones/{zone}/delete-record", data={**deletion, "confirm": "yes"}
        )
        assert deleted.status_code == 303, alert(deleted)
        assert ("www.example.com.", "A") not in await _records(console, client, zone)

        commented = await client.post(
            f"/hosted-zones/{zone}/comment", data={"csrf": token, "comment": "moved"}
        )
        assert commented.status_code == 303
        tags = {"csrf": token, "tags": "env=prod"}
        tagged = await client.post(f"/hosted-zones/{zone}/tag", data=tags)
        assert tagged.status_code == 303, alert(tagged)
        assert await wires.route53.tags(WIRE_ORIGIN, principal, zone) == [("env", "prod")]
        untagged = await client.post(
            f"/hosted-zones/{zone}/untag", data={"csrf": token, "key": "env"}
        )
        assert untagged.status_code == 303
        assert await wires.route53.tags(WIRE_ORIGIN, principal, zone) == []
        assert (await wires.route53.zone(WIRE_ORIGIN, principal, zone)).zone.comment == "moved"

        txt = unescape((await client.get(f"/hosted-zones/{zone}")).text)
        row = txt.split('id="record-example.com.-TXT">', 1)[1].split("</tr>", 1)[0]
        deletion = {"csrf": token, "confirm": "yes", "name": "example.com.", "type": "TXT",
                    "ttl": "300", "values": json.dumps(['"v=spf1 -all"'])}  # fmt: skip
        assert '"v=spf1 -all"' in row
        assert (
            await client.post(f"/hosted-zones/{zone}/delete-record", data=deletion)
        ).status_code == 303
        unticked = await client.post(f"/hosted-zones/{zone}/delete", data={"csrf": token})
        assert unticked.status_code == 400
        deleted = await client.post(
            f"/hosted-zones/{zone}/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert deleted.status_code == 303 and deleted.headers["location"] == (
            "/console/hosted-zones"
        )
        gone = await client.get(f"/hosted-zones/{zone}")
        assert gone.status_code == 404 and "(NoSuchHostedZone)" in alert(gone)


async def test_a_private_zone_with_its_vpcs_associated_and_disassociated(
    console: ConsoleHarness,
) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        default = (await running_compute(console).default_network(tenant)).vpc.vpc_id
        token = csrf_of(await client.get("/hosted-zones"))
        made = await client.post("/vpcs", data={"csrf": token, "cidr": "10.1.0.0/16",
                                                "name": "lab"})  # fmt: skip
        assert made.status_code == 303
        [other] = set(_VPC_ROW.findall((await client.get("/vpcs")).text)) - {default}
        page = await client.get("/hosted-zones")
        create = form_of(page, "create-zone-form")
        assert f'<option value="{default}">' in create and f'<option value="{other}">' in create
        fields = {"csrf": token, "name": "corp.internal", "visibility": "private",
                  "vpc_id": "vpc-0000000000000dead"}  # fmt: skip
        refused = await client.post("/hosted-zones", data=fields)
        assert refused.status_code == 400 and "(InvalidVPCId)" in alert(refused)
        assert 'value="private" checked' in form_of(refused, "create-zone-form")
        zone = _zone_id(await client.post("/hosted-zones", data={**fields, "vpc_id": default}))
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert detail.zone.private and detail.vpcs == [("eu-fr-1", default)]
        listing = await client.get("/hosted-zones")
        row = listing.text.split(f'id="zone-{zone}">', 1)[1].split("</tr>", 1)[0]
        assert '<td class="visibility">Private</td>' in row
        page = await client.get(f"/hosted-zones/{zone}")
        assert f"<code>{default}</code> (eu-fr-1)" in page.text.split('id="zone-vpcs">', 1)[1]
        associated = await client.post(
            f"/hosted-zones/{zone}/associate", data={"csrf": token, "vpc_id": other}
        )
        assert associated.status_code == 303, alert(associated)
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert sorted(detail.vpcs) == sorted([("eu-fr-1", default), ("eu-fr-1", other)])
        dropped = await client.post(
            f"/hosted-zones/{zone}/disassociate", data={"csrf": token, "vpc_id": default}
        )
        assert dropped.status_code == 303, alert(dropped)
        last = await client.post(
            f"/hosted-zones/{zone}/disassociate", data={"csrf": token, "vpc_id": other}
        )
        assert last.status_code == 400 and "(LastVPCAssociation)" in alert(last)
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert detail.vpcs == [("eu-fr-1", other)]


async def test_no_route53_served_and_a_user_without_permission(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        await console.user_with_password(tenant, "reader")
        async with console.without(client, "route53"):
            page = await client.get("/hosted-zones")
            assert page.status_code == 404 and "serves no Amazon Route 53" in alert(page)
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get("/hosted-zones")
        assert "<h1>Zones hébergées Route 53</h1>" in french.text
        assert "Créer une zone hébergée" in french.text
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/hosted-zones")
        assert page.status_code == 403 and "(AccessDenied)" in alert(page)


async def test_zones_and_record_sets_in_pages(tmp_path: Path) -> None:
    """Pages of two: the zones' next page by ListHostedZones' marker, the records' by
    ListResourceRecordSets' next name and type."""
    async with (
        console_harness(tmp_path, console_page_size=2) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = csrf_of(await client.get("/hosted-zones"))
        zones = []
        for name in ("a.example", "b.example", "c.example"):
            made = await client.post(
                "/hosted-zones", data={"csrf": token, "name": name, "visibility": "public"}
            )
            zones.append(_zone_id(made))
        first = await client.get("/hosted-zones")
        listed = re.findall(r'<tr class="hosted-zone" id="zone-([^"]+)">', first.text)
        link = re.search(r'href="([^"]+)" rel="next" id="zones-next"', first.text)
        assert len(listed) == 2 and link is not None
        rest = await client.get(unescape(link.group(1)).removeprefix("/console"))
        listed += re.findall(r'<tr class="hosted-zone" id="zone-([^"]+)">', rest.text)
        assert sorted(listed) == sorted(zones) and 'id="zones-next"' not in rest.text
        record = {"csrf": token, "name": "www", "type": "A", "ttl": "300",
                  "values": "192.0.2.1", "change": "CREATE"}  # fmt: skip
        made = await client.post(f"/hosted-zones/{zones[0]}/record", data=record)
        assert made.status_code == 303, alert(made)
        page = await client.get(f"/hosted-zones/{zones[0]}")
        shown = re.findall(r'<tr class="record" id="record-([^"]+)">', page.text)
        link = re.search(r'href="([^"]+)" rel="next" id="records-next"', page.text)
        assert len(shown) == 2 and link is not None
        rest = await client.get(unescape(link.group(1)).removeprefix("/console"))
        shown += re.findall(r'<tr class="record" id="record-([^"]+)">', rest.text)
        assert sorted(shown) == [
            "a.example.-NS", "a.example.-SOA", "www.a.example.-A",
        ]  # fmt: skip
