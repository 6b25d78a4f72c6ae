"""A zone's record sets with routing policies and alias targets in the console (decision
0290): weighted and failover sets made from the record form with a set identifier and a
health check, shown in the table (policy, identifier, health check), refused in Route 53's
words with the form as typed, filled back by a row's "Edit" and deleted with their exact
set; an alias to a record of the zone and to one of the account's load balancers (offered
from DescribeLoadBalancers' DNS name and canonical zone). Each change checked through Route
53's own answer apart from the page."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from andromede.console.route53_record_forms import (
    alias_of,
    record_form,
    routing_of,
    set_json,
    shown_set,
)
from andromede.console.wire_route53 import AliasRow, RecordRow, Routing
from andromede.console.wire_route53_health import HealthCheckCalls
from support.console import (
    WIRE_ORIGIN,
    ConsoleHarness,
    console_harness,
    csrf_of,
    running_compute,
    sign_in_root,
)
from unit.console.test_console_dynamodb_edits import alert, form_of


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[ConsoleHarness]:
    # A health check of 127.0.0.1 is allowed, its rounds rare: the records only name it.
    async with console_harness(
        tmp_path, route53_health_check_allow_cidrs=("127.0.0.0/8",)
    ) as harness:
        yield harness


async def _sets(wires: Any, principal: Any, zone: str) -> dict[Any, Any]:
    page = await wires.route53.records(WIRE_ORIGIN, principal, zone, start=(), limit=100)
    return {(r.name, r.record_type, r.routing.set_identifier): r for r in page.records}


def _row(page: httpx.Response, row_id: str) -> str:
    assert f'id="{row_id}">' in page.text, row_id
    return page.text.split(f'id="{row_id}">', 1)[1].split("</tr>", 1)[0]


def _deletion(row: str) -> dict[str, str]:
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', row))
    return {k: unescape(v) for k, v in fields.items()}


def test_the_form_s_routing_policy_and_alias() -> None:
    typed = {"policy": "geolocation", "identifier": " fr ", "weight": "5", "country": "FR",
             "subdivision": "", "continent": "", "health_check": "hc-1"}  # fmt: skip
    assert routing_of(typed) == Routing(
        set_identifier="fr", geo=(("CountryCode", "FR"),), health_check_id="hc-1"
    )
    assert routing_of({**typed, "policy": "simple"}) == Routing(health_check_id="hc-1")
    assert routing_of({**typed, "policy": "latency", "region": "eu-fr-1"}).region == "eu-fr-1"
    assert routing_of({**typed, "policy": "multivalue"}).policy == "multivalue"
    assert routing_of({**typed, "policy": "failover", "failover": "SECONDARY"}).failover == (
        "SECONDARY"
    )
    assert alias_of({"target": "values", "alias_target": "Z1 www.example.com."}) is None
    assert alias_of({"target": "alias", "alias_target": "Z1 www.example.com."}) == AliasRow(
        "Z1", "www.example.com.", False
    )
    record = RecordRow(
        "www.example.com.", "A", 0, (),
        Routing(set_identifier="b", weight="7", health_check_id="hc-1"),
        AliasRow("Z1", "lb.example.com.", True),
    )  # fmt: skip
    assert shown_set(set_json(record), "fault") == (record.routing, record.alias)
    assert shown_set("", "fault") == (Routing(), None)
    filled = record_form(record, "www")
    assert (filled["policy"], filled["weight"], filled["target"]) == ("weighted", "7", "alias")
    assert (filled["alias_target"], filled["evaluate"]) == ("Z1 lb.example.com.", "yes")
    assert routing_of(filled) == record.routing and alias_of(filled) == record.alias


async def test_weighted_and_failover_sets_with_a_health_check(console: ConsoleHarness) -> None:
    async with console.client() as client:
        await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        token = csrf_of(await client.get("/hosted-zones"))
        made = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "example.com", "visibility": "public"}
        )
        zone = made.headers["location"].rsplit("/", 1)[-1]
        check = await HealthCheckCalls(wires.route53).create(
            WIRE_ORIGIN, principal, {"type": "TCP", "ip_address": "127.0.0.1", "port": "9"}
        )
        page = await client.get(f"/hosted-zones/{zone}")
        form = form_of(page, "record-form")
        assert f'<option value="{check}">' in form  # the account's checks offered
        weighted = {"csrf": token, "name": "www", "type": "A", "ttl": "60",
                    "values": "192.0.2.1", "change": "CREATE", "target": "values",
                    "policy": "weighted", "identifier": "blue", "weight": "10",
                    "health_check": check}  # fmt: skip
        assert (await client.post(f"/hosted-zones/{zone}/record", data=weighted)).status_code == 303
        green = {**weighted, "identifier": "green", "weight": "0", "values": "192.0.2.2",
                 "health_check": ""}  # fmt: skip
        assert (await client.post(f"/hosted-zones/{zone}/record", data=green)).status_code == 303
        sets = await _sets(wires, principal, zone)
        blue = sets[("www.example.com.", "A", "blue")]
        assert (blue.routing.weight, blue.routing.health_check_id) == ("10", check)
        assert blue.values == ("192.0.2.1",) and blue.routing.policy == "weighted"
        assert sets[("www.example.com.", "A", "green")].routing.weight == "0"

        # Route 53's refusals, the form as typed.
        simple = {**weighted, "policy": "simple", "identifier": "", "health_check": ""}
        refused = await client.post(f"/hosted-zones/{zone}/record", data=simple)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        assert "other RRsets exist with the same name and type" in unescape(alert(refused))
        heavy = {**weighted, "identifier": "red", "weight": "300", "health_check": "hc-gone"}
        refused = await client.post(f"/hosted-zones/{zone}/record", data=heavy)
        assert refused.status_code == 400 and "(InvalidInput)" in alert(refused)
        typed = form_of(refused, "record-form")
        assert '<option value="weighted" selected>' in typed
        assert 'name="identifier" maxlength="128" value="red"' in typed
        assert 'name="weight" size="4" value="300"' in typed
        assert '<option value="hc-gone" selected>' in typed  # kept, though not listed

        primary = {**weighted, "name": "api", "policy": "failover", "identifier": "main",
                   "failover": "PRIMARY", "values": "192.0.2.10"}  # fmt: skip
        backup = {**primary, "identifier": "backup", "failover": "SECONDARY",
                  "values": "192.0.2.20", "health_check": ""}  # fmt: skip
        for one in (primary, backup):
            made = await client.post(f"/hosted-zones/{zone}/record", data=one)
            assert made.status_code == 303, alert(made)
        sets = await _sets(wires, principal, zone)
        assert sets[("api.example.com.", "A", "main")].routing.failover == "PRIMARY"
        others = {**weighted, "health_check": "", "weight": ""}
        for name, fields in (
            ("geo", {"policy": "geolocation", "identifier": "fr", "country": "FR"}),
            ("geo", {"policy": "geolocation", "identifier": "rest", "country": "*"}),
            ("near", {"policy": "latency", "identifier": "here", "region": "eu-fr-1"}),
            ("many", {"policy": "multivalue", "identifier": "m1"}),
        ):
            made = await client.post(
                f"/hosted-zones/{zone}/record", data={**others, "name": name, **fields}
            )
            assert made.status_code == 303, alert(made)
        sets = await _sets(wires, principal, zone)
        assert sets[("geo.example.com.", "A", "fr")].routing.geo == (("CountryCode", "FR"),)
        assert sets[("near.example.com.", "A", "here")].routing.region == "eu-fr-1"
        assert sets[("many.example.com.", "A", "m1")].routing.multivalue
        assert sets[("api.example.com.", "A", "backup")].routing.failover == "SECONDARY"

        page = await client.get(f"/hosted-zones/{zone}")
        row = _row(page, "record-www.example.com.-A-blue")
        assert '<td class="policy">Weighted 10</td>' in row
        assert '<td class="identifier">blue</td>' in row
        assert f'href="/console/health-checks/{check}"' in row
        assert '<td class="policy">Failover SECONDARY</td>' in _row(
            page, "record-api.example.com.-A-backup"
        )
        for row_id, policy in (
            ("record-geo.example.com.-A-rest", "Geolocation CountryCode=*"),
            ("record-near.example.com.-A-here", "Latency eu-fr-1"),
            ("record-many.example.com.-A-m1", "Multivalue answer"),
        ):
            assert f'<td class="policy">{policy}</td>' in _row(page, row_id)
        edit = re.search(r'class="edit-record" href="([^"]+)"', row)
        assert edit is not None and "edit_id=blue" in unescape(edit.group(1))
        editing = await client.get(unescape(edit.group(1)).removeprefix("/console"))
        filled = form_of(editing, "record-form")
        assert '<option value="weighted" selected>' in filled
        assert 'name="identifier" maxlength="128" value="blue"' in filled
        assert 'name="weight" size="4" value="10"' in filled
        assert f'<option value="{check}" selected>' in filled
        upserted = await client.post(
            f"/hosted-zones/{zone}/record", data={**weighted, "weight": "20", "change": "UPSERT"}
        )
        assert upserted.status_code == 303, alert(upserted)
        sets = await _sets(wires, principal, zone)
        assert sets[("www.example.com.", "A", "blue")].routing.weight == "20"

        # A deletion names the set whole: a stale weight is refused, the shown one obeyed.
        page = await client.get(f"/hosted-zones/{zone}")
        deletion = _deletion(_row(page, "record-www.example.com.-A-blue"))
        shown = json.loads(deletion["set"])
        assert shown["identifier"] == "blue" and shown["weight"] == "20"
        stale = {**deletion, "set": json.dumps({**shown, "weight": "10"})}
        refused = await client.post(f"/hosted-zones/{zone}/delete-record", data=stale)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        garbled = await client.post(
            f"/hosted-zones/{zone}/delete-record", data={**deletion, "set": "{"}
        )
        assert garbled.status_code == 400
        deleted = await client.post(f"/hosted-zones/{zone}/delete-record", data=deletion)
        assert deleted.status_code == 303, alert(deleted)
        sets = await _sets(wires, principal, zone)
        assert ("www.example.com.", "A", "blue") not in sets
        assert ("www.example.com.", "A", "green") in sets


async def test_aliases_to_a_record_of_the_zone_and_to_a_load_balancer(
    console: ConsoleHarness,
) -> None:
    compute = running_compute(console)
    async with console.client() as client:
        tenant = await sign_in_root(console, client)
        wires, principal = await console.wires(client)
        default = await compute.default_network(tenant)
        assert default.subnet is not None
        token = csrf_of(await client.get("/hosted-zones"))
        made = await client.post(
            "/load-balancers",
            data={"csrf": token, "name": "front", f"subnet_{default.subnet.subnet_id}": "yes"},
        )
        assert made.status_code == 303, alert(made)
        [balancer] = await wires.elb.load_balancers(WIRE_ORIGIN, principal)
        assert balancer.canonical_zone_id and balancer.dns_name
        made = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "example.org", "visibility": "public"}
        )
        zone = made.headers["location"].rsplit("/", 1)[-1]
        record = {"csrf": token, "name": "www", "type": "A", "ttl": "300",
                  "values": "192.0.2.1", "change": "CREATE", "target": "values",
                  "policy": "simple"}  # fmt: skip
        assert (await client.post(f"/hosted-zones/{zone}/record", data=record)).status_code == 303
        page = await client.get(f"/hosted-zones/{zone}")
        targets = form_of(page, "record-form").split('id="alias-target">', 1)[1]
        to_www = f"{zone} www.example.org."
        to_balancer = f"{balancer.canonical_zone_id} {balancer.dns_name}"
        assert f'<option value="{to_www}">www.example.org.</option>' in targets
        assert f'<option value="{to_balancer}">front · {balancer.dns_name}</option>' in targets

        shop = {**record, "name": "shop", "target": "alias", "alias_target": to_www,
                "evaluate": "yes"}  # fmt: skip
        made = await client.post(f"/hosted-zones/{zone}/record", data=shop)
        assert made.status_code == 303, alert(made)
        front = {**record, "name": "front", "target": "alias", "alias_target": to_balancer}
        made = await client.post(f"/hosted-zones/{zone}/record", data=front)
        assert made.status_code == 303, alert(made)
        missing = {**record, "name": "gone", "target": "alias",
                   "alias_target": f"{zone} nothing.example.org."}  # fmt: skip
        refused = await client.post(f"/hosted-zones/{zone}/record", data=missing)
        assert refused.status_code == 400 and "(InvalidChangeBatch)" in alert(refused)
        assert "that target was not found" in unescape(alert(refused))
        typed = form_of(refused, "record-form")
        assert 'name="target" value="alias" checked' in typed
        assert f'<option value="{zone} nothing.example.org." selected>' in typed

        sets = await _sets(wires, principal, zone)
        alias = sets[("shop.example.org.", "A", "")].alias
        assert alias is not None and (alias.hosted_zone_id, alias.dns_name) == (
            zone, "www.example.org.",
        )  # fmt: skip
        assert alias.evaluate_target_health
        to_lb = sets[("front.example.org.", "A", "")].alias
        assert to_lb is not None and to_lb.hosted_zone_id == balancer.canonical_zone_id
        assert not to_lb.evaluate_target_health

        page = await client.get(f"/hosted-zones/{zone}")
        row = _row(page, "record-shop.example.org.-A")
        assert "Alias to <code>www.example.org.</code>" in row
        assert "evaluates target health" in row and '<td class="ttl"></td>' in row
        edit = re.search(r'class="edit-record" href="([^"]+)"', row)
        assert edit is not None
        filled = form_of(
            await client.get(unescape(edit.group(1)).removeprefix("/console")), "record-form"
        )
        assert 'name="target" value="alias" checked' in filled
        assert f'<option value="{to_www}" selected>' in filled
        assert 'name="evaluate" value="yes" checked' in filled
        deleted = await client.post(
            f"/hosted-zones/{zone}/delete-record", data=_deletion(row) | {"confirm": "yes"}
        )
        assert deleted.status_code == 303, alert(deleted)
        assert ("shop.example.org.", "A", "") not in await _sets(wires, principal, zone)


async def test_weighted_sets_in_pages_follow_the_next_identifier(tmp_path: Path) -> None:
    """Pages of two: three weighted sets of one name and type, the next page's link naming
    ListResourceRecordSets' next identifier."""
    async with (
        console_harness(tmp_path, console_page_size=2) as console,
        console.client() as client,
    ):
        await sign_in_root(console, client)
        token = csrf_of(await client.get("/hosted-zones"))
        made = await client.post(
            "/hosted-zones", data={"csrf": token, "name": "a.example", "visibility": "public"}
        )
        zone = made.headers["location"].rsplit("/", 1)[-1]
        for n, identifier in enumerate(("one", "two", "three")):
            weighted = {"csrf": token, "name": "www", "type": "A", "ttl": "60",
                        "values": f"192.0.2.{n + 1}", "change": "CREATE", "target": "values",
                        "policy": "weighted", "identifier": identifier, "weight": "1"}  # fmt: skip
            made = await client.post(f"/hosted-zones/{zone}/record", data=weighted)
            assert made.status_code == 303, alert(made)
        shown: list[str] = []
        href = f"/hosted-zones/{zone}"
        for _ in range(5):
            page = await client.get(href)
            shown += re.findall(r'<tr class="record" id="record-([^"]+)">', page.text)
            link = re.search(r'href="([^"]+)" rel="next" id="records-next"', page.text)
            if link is None:
                break
            href = unescape(link.group(1)).removeprefix("/console")
            if "www" in href:
                assert "identifier=" in href
        assert sorted(shown) == sorted([
            "a.example.-NS", "a.example.-SOA", "www.a.example.-A-one", "www.a.example.-A-three",
            "www.a.example.-A-two",
        ])  # fmt: skip
