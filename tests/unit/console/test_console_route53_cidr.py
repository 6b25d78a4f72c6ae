"""The console's Route 53 CIDR collections (decision 0361, over decision 0353): collections
listed in pages with their version and locations, created (a name taken refused in the
reader's language, the form kept), a collection's locations and blocks in pages of
ListCidrBlocks, a location's blocks added and replaced, a location removed, every change
under the version the page showed (a stale one refused in words with the form kept), the
collection deleted (refused in words while in use, in English and in French); IP-based
record sets written from the record form, shown, edited and deleted whole. Each checked
through Route 53's own answer apart from the page; every form needs the CSRF token."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.route53_record_forms import record_form, routing_of, set_json, shown_set
from andromede.console.wire_route53 import RecordRow, Routing
from andromede.console.wire_route53_cidr import CidrCalls
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    log_in,
    logged_events,
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
    """A row's form fields, its confirmation box unticked."""
    fields = re.findall(r'name="(\w+)" value="([^"]*)"', row)
    return {k: unescape(v) for k, v in fields if k != "confirm"}


async def _blocks(calls: CidrCalls, principal: Any, collection: str) -> dict[str, list[str]]:
    page = await calls.blocks(WIRE_ORIGIN, principal, collection, token="", limit=1000)
    return {location: list(blocks) for location, blocks in page.locations}


def test_an_ip_based_set_from_the_form_and_back() -> None:
    collection = "0b0f5c6e-1e9a-4a51-9a39-9f1f2bd1c0de"
    typed = {"policy": "cidr", "identifier": "isp", "cidr_collection": f" {collection} ",
             "cidr_location": " paris ", "region": "ignored", "gp_name": "ignored"}  # fmt: skip
    routing = routing_of(typed)
    assert routing == Routing(set_identifier="isp", cidr=(collection, "paris"))
    assert routing.policy == "cidr"
    assert routing_of({**typed, "policy": "weighted", "weight": "1"}).cidr is None
    record = RecordRow("www.example.com.", "A", 60, ("192.0.2.1",), routing)
    assert shown_set(set_json(record), "fault") == (routing, None)
    filled = record_form(record, "www")
    assert (filled["policy"], filled["cidr_collection"], filled["cidr_location"]) == (
        "cidr", collection, "paris",
    )  # fmt: skip
    assert routing_of(filled) == routing
    # A deletion's field from a page before decision 0361 still reads; a mangled one does not.
    older = set_json(RecordRow("a.example.com.", "A", 60, ())).replace(', "cidr": null', "")
    assert '"cidr"' not in older and shown_set(older, "fault") == (Routing(), None)
    with pytest.raises(Exception, match="fault"):
        shown_set(set_json(record).replace('"paris"]', '"paris", "x"]'), "fault")


async def test_collections_made_changed_by_version_and_deleted(tmp_path: Path) -> None:
    async with console_harness(tmp_path, console_page_size=2) as console:
        await _collections_flow(console)


async def _collections_flow(console: ConsoleHarness) -> None:
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = CidrCalls(wires.route53)
        page = await client.get("/cidr-collections")
        assert page.status_code == 200 and 'id="no-collections"' in page.text
        assert 'id="menu-cidr-collections"' in page.text
        token = csrf_of(page)
        forged = await client.post("/cidr-collections", data={"csrf": "forged", "name": "edge"})
        assert forged.status_code == 403
        assert (await calls.collections(WIRE_ORIGIN, principal, token="", limit=10))[0] == []
        made = await client.post("/cidr-collections", data={"csrf": token, "name": "edge"})
        assert made.status_code == 303, alert(made)
        collection = made.headers["location"].rsplit("/", 1)[1]
        [listed], _next = await calls.collections(WIRE_ORIGIN, principal, token="", limit=10)
        assert (listed.collection_id, listed.name, listed.version) == (collection, "edge", 1)
        again = await client.post("/cidr-collections", data={"csrf": token, "name": "edge"})
        assert again.status_code == 400 and alert(again) == (
            "A CIDR collection of this name is already in your account. "
            "(CidrCollectionAlreadyExistsException)"
        )
        assert 'value="edge"' in form_of(again, "create-collection-form")
        for name in ("second", "third"):
            made_too = await client.post("/cidr-collections", data={"csrf": token, "name": name})
            assert made_too.status_code == 303, alert(made_too)

        # The collection's page: locations added under the version shown.
        url = f"/cidr-collections/{collection}"
        page = await client.get(url)
        assert (
            '<td id="collection-version">1</td>' in page.text and 'id="no-locations"' in page.text
        )
        location = {"csrf": token, "version": "1", "location": "paris", "mode": "add",
                    "blocks": "192.0.2.0/24\n198.51.100.0/24, 203.0.113.0/24"}  # fmt: skip
        wrong = await client.post(f"{url}/location", data={**location, "blocks": "192.0.2.1/24"})
        assert wrong.status_code == 400 and "(InvalidInput)" in alert(wrong)
        assert "192.0.2.1/24" in form_of(wrong, "location-form")
        added = await client.post(f"{url}/location", data=location)
        assert added.status_code == 303, alert(added)
        assert added.headers["location"].endswith("#locations")
        assert await _blocks(calls, principal, collection) == {
            "paris": ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
        }
        # The same form sent again is of version 1, no longer the collection's: refused whole.
        stale = await client.post(
            f"{url}/location", data={**location, "location": "lyon", "blocks": "10.1.0.0/16"}
        )
        assert stale.status_code == 409 and alert(stale) == (
            "The collection changed since the page was shown: it is shown again as it is now; "
            "send the form again to change that version. (CidrCollectionVersionMismatchException)"
        )
        kept = form_of(stale, "location-form")
        assert 'value="lyon"' in kept and "10.1.0.0/16" in kept and 'value="2"' in kept
        assert "lyon" not in await _blocks(calls, principal, collection)
        # A new location "replaced": it held no block, the typed ones are put.
        lyon = {**location, "version": "2", "location": "lyon", "blocks": "10.1.0.0/16",
                "mode": "replace"}  # fmt: skip
        assert (await client.post(f"{url}/location", data=lyon)).status_code == 303
        replaced = await client.post(
            f"{url}/location",
            data={**location, "version": "3", "mode": "replace",
                  "blocks": "203.0.113.0/24\n2001:db8::/32"},
        )  # fmt: skip
        assert replaced.status_code == 303, alert(replaced)
        assert await _blocks(calls, principal, collection) == {
            "lyon": ["10.1.0.0/16"], "paris": ["203.0.113.0/24", "2001:db8::/32"],
        }  # fmt: skip

        # Pages of console_page_size: the blocks two by two, the collections too.
        page = await client.get(url)
        assert '<td id="collection-version">4</td>' in page.text
        first = _row(page, "location-lyon")
        assert "<code>10.1.0.0/16</code>" in first and 'value="4"' in first
        assert "2001:db8::/32" not in page.text
        following = re.search(r'href="([^"]+)" rel="next" id="blocks-next"', page.text)
        assert following is not None
        second_page = await client.get(unescape(following.group(1)).removeprefix("/console"))
        assert "<code>2001:db8::/32</code>" in _row(second_page, "location-paris")
        listing = await client.get("/cidr-collections")
        assert 'id="collections-next"' in listing.text
        after = re.search(r'href="([^"]+)" rel="next" id="collections-next"', listing.text)
        assert after is not None
        rest = await client.get(unescape(after.group(1)).removeprefix("/console"))
        assert listing.text.count('class="cidr-collection"') == 2
        assert rest.text.count('class="cidr-collection"') == 1
        shown = _row(
            listing if f"collection-{collection}" in listing.text else rest,
            f"collection-{collection}",
        )
        assert '<td class="version">4</td>' in shown
        assert "<code>lyon</code>, <code>paris</code>" in shown

        # A location removed after a ticked box, under the version shown.
        removal = {**_hidden(_row(page, "location-lyon")), "csrf": token}
        unticked = await client.post(f"{url}/remove-location", data=removal)
        assert unticked.status_code == 400 and "lyon" in await _blocks(calls, principal, collection)
        removed = await client.post(f"{url}/remove-location", data={**removal, "confirm": "yes"})
        assert removed.status_code == 303, alert(removed)
        assert await _blocks(calls, principal, collection) == {
            "paris": ["203.0.113.0/24", "2001:db8::/32"]
        }
        gone = await client.post(
            f"{url}/remove-location", data={**removal, "version": "5", "confirm": "yes"}
        )
        assert gone.status_code == 404 and "(NoSuchCidrLocationException)" in alert(gone)

        # Deleted once empty: refused in words while it holds a location.
        deletion = {"csrf": token, "confirm": "yes"}
        in_use = await client.post(f"{url}/delete", data=deletion)
        assert in_use.status_code == 400 and alert(in_use) == (
            "This collection still holds locations or record sets name it: remove them first. "
            "(CidrCollectionInUseException)"
        )
        paris = {"csrf": token, "location": "paris", "version": "5", "confirm": "yes"}
        assert (await client.post(f"{url}/remove-location", data=paris)).status_code == 303
        deleted = await client.post(f"{url}/delete", data=deletion)
        assert (
            deleted.status_code == 303
            and deleted.headers["location"] == "/console/cidr-collections"
        )
        missing = await client.get(url)
        assert missing.status_code == 404 and "(NoSuchCidrCollectionException)" in alert(missing)
        audited = {e.action for e in await logged_events(console, tenant)}
        assert {"route53:CreateCidrCollection", "route53:ChangeCidrCollection",
                "route53:DeleteCidrCollection"} <= audited  # fmt: skip

        reading = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                   "Action": ["route53:List*", "route53:Get*"], "Resource": "*"}]}  # fmt: skip
        await console.user_with_password(tenant, "reader")
        await console.identity.put_user_policy(tenant, "reader", "read", json.dumps(reading))
    async with console.client() as client:
        assert (await log_in(client, "admin", "reader")).status_code == 303
        page = await client.get("/cidr-collections")
        assert page.status_code == 200 and '<td class="name"><a' in page.text
        refused = await client.post("/cidr-collections", data={"csrf": csrf_of(page), "name": "x"})
        assert refused.status_code == 403 and "(AccessDenied)" in alert(refused)


async def test_ip_based_sets_made_shown_edited_and_deleted(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        calls = CidrCalls(wires.route53)
        token = csrf_of(await client.get("/cidr-collections"))
        made = await client.post("/cidr-collections", data={"csrf": token, "name": "isps"})
        collection = made.headers["location"].rsplit("/", 1)[1]
        url = f"/cidr-collections/{collection}"
        blocks = {"csrf": token, "version": "1", "location": "paris", "mode": "add",
                  "blocks": "192.0.2.0/24"}  # fmt: skip
        assert (await client.post(f"{url}/location", data=blocks)).status_code == 303
        zone_made = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "ip.example", "visibility": "public"}
        )
        zone = zone_made.headers["location"].rsplit("/", 1)[-1]
        page = await client.get(f"/hosted-zones/{zone}")
        form = form_of(page, "record-form")
        assert '<option value="cidr">IP-based</option>' in form
        assert f'<option value="{collection}">isps</option>' in form
        paris = {"csrf": token, "name": "www", "type": "A", "ttl": "60", "values": "192.0.2.10",
                 "change": "CREATE", "target": "values", "policy": "cidr",
                 "identifier": "paris", "cidr_collection": collection,
                 "cidr_location": "lyon"}  # fmt: skip
        refused = await client.post(f"/hosted-zones/{zone}/record", data=paris)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        typed = form_of(refused, "record-form")
        assert '<option value="cidr" selected>' in typed
        assert f'<option value="{collection}" selected>isps</option>' in typed
        assert 'name="cidr_location" size="16" maxlength="16" value="lyon"' in typed
        made = await client.post(
            f"/hosted-zones/{zone}/record", data={**paris, "cidr_location": "paris"}
        )
        assert made.status_code == 303, alert(made)
        default = {**paris, "identifier": "rest", "cidr_location": "*", "values": "192.0.2.20"}
        assert (await client.post(f"/hosted-zones/{zone}/record", data=default)).status_code == 303
        records = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=(), limit=100)
        sets = {r.routing.set_identifier: r.routing.cidr for r in records.records}
        assert sets == {"": None, "paris": (collection, "paris"), "rest": (collection, "*")}

        shown = await client.get(f"/hosted-zones/{zone}")
        row = _row(shown, "record-www.ip.example.-A-paris")
        assert (
            f'<a href="/console/cidr-collections/{collection}">isps</a> · <code>paris</code>' in row
        )
        edit = re.search(r'class="edit-record" href="([^"]+)"', row)
        assert edit is not None
        filled = form_of(
            await client.get(unescape(edit.group(1)).removeprefix("/console")), "record-form"
        )
        assert '<option value="cidr" selected>' in filled
        assert 'name="cidr_location" size="16" maxlength="16" value="paris"' in filled
        assert '<option value="UPSERT" selected>' in filled

        # While a set names it, the location keeps its last block and the collection stays.
        collection_page = await client.get(url)
        removal = {**_hidden(_row(collection_page, "location-paris")), "csrf": token,
                   "confirm": "yes"}  # fmt: skip
        kept = await client.post(f"{url}/remove-location", data=removal)
        assert kept.status_code == 400 and "(CidrBlockInUseException)" in alert(kept)
        assert await _blocks(calls, principal, collection) == {"paris": ["192.0.2.0/24"]}
    async with console.client(**{"accept-language": "fr"}) as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        french = await client.get(url)
        assert "<h1>Collection CIDR isps</h1>" in french.text
        assert "Fondé sur l\u2019IP" in (await client.get(f"/hosted-zones/{zone}")).text
        refused = await client.post(
            f"{url}/delete", data={"csrf": csrf_of(french), "confirm": "yes"}
        )
        assert refused.status_code == 400 and alert(refused) == (
            "Cette collection contient encore des emplacements ou des jeux "
            "d\u2019enregistrements la nomment : retirez-les d\u2019abord. "
            "(CidrCollectionInUseException)"
        )
    async with console.client() as client:
        assert (await log_in(client, "admin", "root")).status_code == 303
        shown = await client.get(f"/hosted-zones/{zone}")
        for identifier in ("paris", "rest"):
            row = _row(shown, f"record-www.ip.example.-A-{identifier}")
            deletion = {**_hidden(row), "csrf": csrf_of(shown), "confirm": "yes"}
            deleted = await client.post(f"/hosted-zones/{zone}/delete-record", data=deletion)
            assert deleted.status_code == 303, alert(deleted)
        records = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=(), limit=100)
        assert [r.routing.set_identifier for r in records.records] == ["", ""]
        page = await client.get(url)
        removal = {**_hidden(_row(page, "location-paris")), "confirm": "yes"}
        assert (await client.post(f"{url}/remove-location", data=removal)).status_code == 303
        deleted = await client.post(f"{url}/delete", data={"csrf": csrf_of(page), "confirm": "yes"})
        assert deleted.status_code == 303, alert(deleted)
        assert (await calls.collections(WIRE_ORIGIN, principal, token="", limit=10))[0] == []
