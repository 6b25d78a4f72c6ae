"""The console's Route 53 pages for decision 0346 (decision 0354): reusable delegation sets
listed with their name servers and zones, created (from the platform's servers or a zone's
own) and deleted — refused in the reader's language while a zone uses them —, a new zone put
on a set; a private zone's VPC association authorisations given to another account's VPC,
listed and withdrawn, and that account associating the zone with its VPC, seeing it listed
and disassociating it; geoproximity record sets made from the record form (a Region or
coordinates, a bias), refused in Route 53's words with the form as typed, shown, edited and
deleted. Each checked through Route 53's own answer apart from the page; every form needs
the CSRF token."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from andromede.console.route53_record_forms import record_form, routing_of, set_json, shown_set
from andromede.console.wire_route53 import Geoproximity, RecordRow, Routing
from andromede.console.wire_route53_sets import SetCalls
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    logged_events,
    running_compute,
    sign_in_root,
)
from unit.console.test_console_dynamodb_edits import alert, form_of


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    async with console_harness(tmp_path) as harness:
        yield harness


def _row(page: httpx.Response, row_id: str) -> str:
    assert f'id="{row_id}"' in page.text, row_id
    return page.text.split(f'id="{row_id}"', 1)[1].split("</tr>", 1)[0]


def _hidden(row: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', row)}


def test_a_geoproximity_set_from_the_form_and_back() -> None:
    typed = {"policy": "geoproximity", "identifier": "paris", "gp_place": "Coordinates",
             "gp_name": "eu-fr-1", "latitude": " 48.86 ", "longitude": "2.35", "bias": "-20",
             "region": "ignored"}  # fmt: skip
    assert routing_of(typed) == Routing(
        set_identifier="paris",
        geoproximity=Geoproximity(latitude="48.86", longitude="2.35", bias="-20"),
    )
    by_region = routing_of({**typed, "gp_place": "AWSRegion", "bias": ""})
    assert by_region.geoproximity == Geoproximity(aws_region="eu-fr-1")
    assert by_region.policy == "geoproximity"
    group = routing_of({**typed, "gp_place": "LocalZoneGroup", "gp_name": "us-west-2-lax-1"})
    assert group.geoproximity == Geoproximity(local_zone_group="us-west-2-lax-1", bias="-20")
    assert routing_of({**typed, "policy": "weighted"}).geoproximity is None
    record = RecordRow("www.example.com.", "A", 60, ("192.0.2.1",), routing_of(typed))
    assert shown_set(set_json(record), "fault") == (record.routing, None)
    filled = record_form(record, "www")
    assert (filled["policy"], filled["gp_place"], filled["latitude"]) == (
        "geoproximity", "Coordinates", "48.86",
    )  # fmt: skip
    assert routing_of(filled) == record.routing
    # A deletion's field from a page before geoproximity still reads; a mangled one does not.
    older = set_json(RecordRow("a.example.com.", "A", 60, ())).replace(', "geoproximity": null', "")
    assert "geoproximity" not in older and shown_set(older, "fault") == (Routing(), None)
    mangled = set_json(record).replace('"-20"]', '"-20", "x"]')
    with pytest.raises(Exception, match="fault"):
        shown_set(mangled, "fault")


async def test_delegation_sets_listed_made_used_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = SetCalls(wires.route53)
        page = await client.get("/delegation-sets")
        assert page.status_code == 200 and 'id="no-sets"' in page.text
        assert 'id="menu-delegation-sets"' in page.text
        token = csrf_of(page)
        forged = await client.post("/delegation-sets", data={"csrf": "forged", "zone": ""})
        assert forged.status_code == 403
        assert (await calls.sets(WIRE_ORIGIN, principal, marker="", limit=10))[0] == []
        made = await client.post("/delegation-sets", data={"csrf": token, "zone": ""})
        assert made.status_code == 303, alert(made)
        set_id = made.headers["location"].rsplit("#set-", 1)[1]
        [listed], _next = await calls.sets(WIRE_ORIGIN, principal, marker="", limit=10)
        assert listed.set_id == set_id and listed.name_servers and listed.zones == ()

        # A zone made on the set from the hosted zones page's form.
        zones_page = await client.get("/hosted-zones")
        assert f'<option value="{set_id}">' in form_of(zones_page, "create-zone-form")
        fields = {"csrf": token, "name": "on-set.example", "visibility": "public",
                  "delegation_set": set_id}  # fmt: skip
        created = await client.post("/hosted-zones", data=fields)
        assert created.status_code == 303, alert(created)
        zone = created.headers["location"].rsplit("/", 1)[-1]
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert detail.delegation_set_id == set_id
        assert sorted(detail.name_servers) == sorted(listed.name_servers)
        zone_page = await client.get(f"/hosted-zones/{zone}")
        assert f'href="/console/delegation-sets#set-{set_id}">{set_id}</a>' in zone_page.text
        unknown = await client.post("/hosted-zones", data={**fields, "delegation_set": "NOPE1"})
        assert unknown.status_code == 400 and "(NoSuchDelegationSet)" in alert(unknown)
        assert '<option value="NOPE1"' not in form_of(unknown, "create-zone-form")

        # A set of a zone's own servers: the zone then on it.
        other = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "own.example", "visibility": "public"}
        )
        own_zone = other.headers["location"].rsplit("/", 1)[-1]
        page = await client.get("/delegation-sets")
        assert f'<option value="{own_zone}">own.example. ({own_zone})</option>' in page.text
        from_zone = await client.post("/delegation-sets", data={"csrf": token, "zone": own_zone})
        assert from_zone.status_code == 303, alert(from_zone)
        second = from_zone.headers["location"].rsplit("#set-", 1)[1]
        again = await client.post("/delegation-sets", data={"csrf": token, "zone": own_zone})
        assert again.status_code == 400 and "(DelegationSetAlreadyReusable)" in alert(again)
        assert "already on a reusable delegation set" in alert(again)
        assert f'value="{own_zone}" selected' in form_of(again, "create-set-form")
        page = await client.get("/delegation-sets")
        row = _row(page, f"set-{set_id}")
        assert f'href="/console/hosted-zones/{zone}" class="zone">on-set.example.</a>' in row
        assert all(f"<code>{server}</code>" in row for server in listed.name_servers)
        assert "own.example." in _row(page, f"set-{second}")

        # Deletion: after a ticked box, refused while a zone uses the set.
        deletion = {"csrf": token, "set_id": set_id}
        unticked = await client.post("/delegation-sets/delete", data=deletion)
        assert unticked.status_code == 400
        in_use = await client.post("/delegation-sets/delete", data={**deletion, "confirm": "yes"})
        assert in_use.status_code == 400
        assert alert(in_use) == (
            "Hosted zones use this delegation set: delete them first. (DelegationSetInUse)"
        )
        assert len((await calls.sets(WIRE_ORIGIN, principal, marker="", limit=10))[0]) == 2
        gone = await client.post(
            f"/hosted-zones/{zone}/delete", data={"csrf": token, "confirm": "yes"}
        )
        assert gone.status_code == 303, alert(gone)
        deleted = await client.post("/delegation-sets/delete", data={**deletion, "confirm": "yes"})
        assert deleted.status_code == 303, alert(deleted)
        [left], _next = await calls.sets(WIRE_ORIGIN, principal, marker="", limit=10)
        assert left.set_id == second
        audited = {e.action for e in await logged_events(console, tenant)}
        assert {"route53:CreateReusableDelegationSet",
                "route53:DeleteReusableDelegationSet"} <= audited  # fmt: skip
        reading = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                   "Action": ["route53:List*", "route53:Get*"], "Resource": "*"}]}  # fmt: skip
        await console.user_with_password(tenant, "reader")
        await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/delegation-sets")
        assert page.status_code == 200 and f'id="set-{second}"' in page.text
        refused = await client.post("/delegation-sets", data={"csrf": csrf_of(page), "zone": ""})
        assert refused.status_code == 403 and "(AccessDenied)" in alert(refused)
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get("/delegation-sets")
        assert "<h1>Jeux de délégation réutilisables Route 53</h1>" in french.text
        refused = await client.post(
            "/delegation-sets/delete",
            data={"csrf": csrf_of(french), "set_id": second, "confirm": "yes"},
        )
        assert refused.status_code == 400 and alert(refused) == (
            "Des zones hébergées utilisent ce jeu de délégation : supprimez-les d\u2019abord. "
            "(DelegationSetInUse)"
        )


async def test_another_accounts_vpc_authorised_associated_and_withdrawn(
    console: ConsoleHarness,
) -> None:
    async with console.client() as owner, console.client() as neighbour:
        tenant = await sign_in_root(console, owner)
        other_tenant = await sign_in_root(console, neighbour, account="neighbour")
        compute = running_compute(console)
        own_vpc = (await compute.default_network(tenant)).vpc.vpc_id
        their_vpc = (await compute.default_network(other_tenant)).vpc.vpc_id
        wires, principal = await console.wires(owner)
        calls = SetCalls(wires.route53)
        token = csrf_of(await owner.get("/hosted-zones"))
        made = await owner.post("/hosted-zones", data={"csrf": token, "name": "hub.internal",
                                "visibility": "private", "vpc_id": own_vpc})  # fmt: skip
        assert made.status_code == 303, alert(made)
        zone = made.headers["location"].rsplit("/", 1)[-1]
        page = await owner.get(f"/hosted-zones/{zone}")
        assert 'id="no-authorisations"' in page.text and 'id="authorise-form"' in page.text
        assert 'name="region" size="16" maxlength="64" required value="eu-fr-1"' in page.text

        # The neighbour cannot associate the zone before the owner authorises its VPC.
        their_token = csrf_of(await neighbour.get("/hosted-zones"))
        association = {"csrf": their_token, "zone_id": zone, "vpc_id": their_vpc}
        refused = await neighbour.post("/shared-zones", data=association)
        assert refused.status_code == 401 and "(NotAuthorizedException)" in alert(refused)
        assert "has not authorised this VPC" in alert(refused)
        unnamed = await neighbour.post("/shared-zones", data={**association, "zone_id": " "})
        assert unnamed.status_code == 400 and alert(unnamed) == "Choose a hosted zone."
        kept = form_of(refused, "associate-shared-form")
        assert f'value="{zone}"' in kept and f'<option value="{their_vpc}" selected>' in kept

        authorise = {"csrf": token, "vpc_id": "vpc-0000000000000dead", "region": "eu-fr-1"}
        forged = await owner.post(
            f"/hosted-zones/{zone}/authorise", data={**authorise, "csrf": "forged"}
        )
        assert forged.status_code == 403
        unknown = await owner.post(f"/hosted-zones/{zone}/authorise", data=authorise)
        assert unknown.status_code == 400 and "(InvalidVPCId)" in alert(unknown)
        assert 'value="vpc-0000000000000dead"' in form_of(unknown, "authorise-form")
        given = await owner.post(
            f"/hosted-zones/{zone}/authorise", data={**authorise, "vpc_id": their_vpc}
        )
        assert given.status_code == 303, alert(given)
        assert given.headers["location"].endswith("#authorisations")
        assert await calls.authorisations(WIRE_ORIGIN, principal, zone) == [("eu-fr-1", their_vpc)]
        page = await owner.get(f"/hosted-zones/{zone}")
        listed = page.text.split('id="zone-authorisations">', 1)[1].split("</ul>", 1)[0]
        assert f"<code>{their_vpc}</code> (eu-fr-1)" in listed

        associated = await neighbour.post("/shared-zones", data=association)
        assert associated.status_code == 303, alert(associated)
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert sorted(detail.vpcs) == sorted([("eu-fr-1", own_vpc), ("eu-fr-1", their_vpc)])
        theirs = await neighbour.get("/hosted-zones")
        row = _row(theirs, f"shared-{zone}-{their_vpc}")
        assert '<td class="name">hub.internal.</td>' in row
        assert f'<td class="owner">{tenant}</td>' in row
        assert 'id="no-shared-zones"' in (await owner.get("/hosted-zones")).text

        # Withdrawn after a ticked box: the association made stays, as on AWS.
        withdraw = {"csrf": token, "vpc_id": their_vpc, "region": "eu-fr-1"}
        unticked = await owner.post(f"/hosted-zones/{zone}/deauthorise", data=withdraw)
        assert unticked.status_code == 400
        assert await calls.authorisations(WIRE_ORIGIN, principal, zone) == [("eu-fr-1", their_vpc)]
        withdrawn = await owner.post(
            f"/hosted-zones/{zone}/deauthorise", data={**withdraw, "confirm": "yes"}
        )
        assert withdrawn.status_code == 303, alert(withdrawn)
        assert await calls.authorisations(WIRE_ORIGIN, principal, zone) == []
        again = await owner.post(
            f"/hosted-zones/{zone}/deauthorise", data={**withdraw, "confirm": "yes"}
        )
        assert again.status_code == 404 and alert(again) == (
            "This VPC is not authorised on this zone. (VPCAssociationAuthorizationNotFound)"
        )
        assert f"shared-{zone}-{their_vpc}" in (await neighbour.get("/hosted-zones")).text

        # The VPC's owner takes its VPC off the zone.
        dropped = await neighbour.post(
            "/shared-zones/disassociate", data={**association, "region": "eu-fr-1"}
        )
        assert dropped.status_code == 303, alert(dropped)
        detail = await wires.route53.zone(WIRE_ORIGIN, principal, zone)
        assert detail.vpcs == [("eu-fr-1", own_vpc)]
        assert 'id="no-shared-zones"' in (await neighbour.get("/hosted-zones")).text


async def test_geoproximity_sets_made_refused_shown_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        token = csrf_of(await client.get("/hosted-zones"))
        made = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "near.example", "visibility": "public"}
        )
        zone = made.headers["location"].rsplit("/", 1)[-1]
        page = await client.get(f"/hosted-zones/{zone}")
        assert '<option value="geoproximity">Geoproximity</option>' in form_of(page, "record-form")
        paris = {"csrf": token, "name": "www", "type": "A", "ttl": "60", "values": "192.0.2.1",
                 "change": "CREATE", "target": "values", "policy": "geoproximity",
                 "identifier": "paris", "gp_place": "AWSRegion", "gp_name": "eu-fr-1",
                 "bias": "120"}  # fmt: skip
        refused = await client.post(f"/hosted-zones/{zone}/record", data=paris)
        assert refused.status_code == 400 and "(InvalidInput)" in alert(refused)
        assert "cvc-maxInclusive-valid" in alert(refused)
        typed = form_of(refused, "record-form")
        assert '<option value="geoproximity" selected>' in typed
        assert 'name="bias" size="4" value="120"' in typed
        assert 'name="gp_name" size="20" value="eu-fr-1"' in typed
        nowhere = await client.post(
            f"/hosted-zones/{zone}/record", data={**paris, "gp_name": "", "bias": "10"}
        )
        assert nowhere.status_code == 400 and "but found none" in alert(nowhere)
        assert (
            await client.post(f"/hosted-zones/{zone}/record", data={**paris, "bias": "10"})
        ).status_code == 303
        coordinates = {**paris, "identifier": "far", "gp_place": "Coordinates", "gp_name": "",
                       "latitude": "95", "longitude": "2.35", "bias": "-20",
                       "values": "192.0.2.2"}  # fmt: skip
        refused = await client.post(f"/hosted-zones/{zone}/record", data=coordinates)
        assert refused.status_code == 400 and "Latitude 95 is not between -90 and 90" in (
            alert(refused)
        )
        assert '<option value="Coordinates" selected>' in form_of(refused, "record-form")
        made = await client.post(
            f"/hosted-zones/{zone}/record", data={**coordinates, "latitude": "-33.87"}
        )
        assert made.status_code == 303, alert(made)
        page = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=(), limit=100)
        sets = {r.routing.set_identifier: r.routing for r in page.records}
        assert sets["paris"].geoproximity == Geoproximity(aws_region="eu-fr-1", bias="10")
        assert sets["far"].geoproximity == Geoproximity(
            latitude="-33.87", longitude="2.35", bias="-20"
        )

        shown = await client.get(f"/hosted-zones/{zone}")
        row = _row(shown, "record-www.near.example.-A-paris")
        assert '<span class="geoproximity">eu-fr-1 · bias 10</span>' in row
        far = _row(shown, "record-www.near.example.-A-far")
        assert '<span class="geoproximity">-33.87, 2.35 · bias -20</span>' in far
        edit = re.search(r'class="edit-record" href="([^"]+)"', far)
        assert edit is not None
        filled = form_of(
            await client.get(unescape(edit.group(1)).removeprefix("/console")), "record-form"
        )
        assert '<option value="Coordinates" selected>' in filled
        assert 'name="latitude" size="7" value="-33.87"' in filled
        deletion = {**_hidden(far), "csrf": token, "confirm": "yes"}
        deleted = await client.post(f"/hosted-zones/{zone}/delete-record", data=deletion)
        assert deleted.status_code == 303, alert(deleted)
        page = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=(), limit=100)
        assert {r.routing.set_identifier for r in page.records} == {"", "paris"}
