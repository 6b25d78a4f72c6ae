"""Decision 0280's zone store over every implementation (memory, SQLite, PostgreSQL): a zone
kept with its record sets, tags and VPCs as written; one caller reference an account;
compare-and-set writes and deletes (a stale version refused); private zones found by VPC;
changes kept by id; a closed tenant's zones forgotten."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.route53.errors import ZoneChanged
from andromede.route53.geoproximity import GeoProximity
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import AliasTarget, HostedZone, RecordSet, made_records
from andromede.route53.store import ZoneStore
from andromede.route53.store_sql import SqlZoneStore
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ZoneStore]:
    async with backend_database(request, tmp_path) as db:
        yield MemoryZoneStore() if db is None else SqlZoneStore(db)


def zone(zone_id: str, tenant_id: str = "000000000001", **fields: object) -> HostedZone:
    made = HostedZone(
        tenant_id=tenant_id,
        zone_id=zone_id,
        name="example.com.",
        caller_reference=f"ref-{zone_id}",
        comment="shop",
        private=False,
        created=1_800_000_000_000,
        tags=(("team", "web"),),
        records=made_records("example.com.", ("ns1.example.net",)),
    )
    return dataclasses.replace(made, **fields)  # type: ignore[arg-type]


async def test_kept_as_written_and_replaced_by_version(store: ZoneStore) -> None:
    first = zone("Z1")
    await store.create(first)
    assert await store.get("000000000001", "Z1") == first
    assert await store.get("000000000002", "Z1") is None
    assert await store.by_reference("000000000001", "ref-Z1") == first
    with pytest.raises(ZoneChanged):
        await store.create(zone("Z9", caller_reference="ref-Z1"))
    www = RecordSet("www.example.com.", "A", 60, ("192.0.2.1", "192.0.2.2"))
    second = first.replaced(records=(*first.records, www), comment="new")
    await store.replace(second)
    assert await store.get("000000000001", "Z1") == second
    with pytest.raises(ZoneChanged):
        await store.replace(first.replaced(comment="stale"))
    with pytest.raises(ZoneChanged):
        await store.delete("000000000001", "Z1", first.version)
    await store.delete("000000000001", "Z1", second.version)
    assert await store.get("000000000001", "Z1") is None


async def test_private_zones_by_vpc_changes_and_forgetting(store: ZoneStore) -> None:
    private = zone("Z2", private=True, vpcs=(("eu-fr-1", "vpc-1"),))
    await store.create(private)
    await store.create(zone("Z3", tenant_id="000000000002"))
    assert [z.zone_id for z in await store.with_vpc("vpc-1")] == ["Z2"]
    await store.replace(private.replaced(vpcs=(("eu-fr-1", "vpc-2"),)))
    assert await store.with_vpc("vpc-1") == []
    assert [z.zone_id for z in await store.with_vpc("vpc-2")] == ["Z2"]
    await store.add_change("000000000001", "C1", 42)
    assert await store.change("000000000001", "C1") == 42
    assert await store.change("000000000002", "C1") is None
    assert [z.zone_id for z in await store.zones("000000000001")] == ["Z2"]
    await store.create(zone("Z4", tenant_id="000000000003"))
    assert sorted(z.zone_id for z in await store.public_zones()) == ["Z3", "Z4"]
    assert await store.forget_tenant("000000000001") == 1
    assert await store.zones("000000000001") == []
    assert await store.with_vpc("vpc-2") == []
    assert await store.change("000000000001", "C1") is None
    assert [z.zone_id for z in await store.zones("000000000002")] == ["Z3"]
    assert sorted(z.zone_id for z in await store.public_zones()) == ["Z3", "Z4"]


async def test_each_zone_is_claimed_for_billing_once_a_month(store: ZoneStore) -> None:
    await store.create(zone("Z1"))
    await store.create(zone("Z2", tenant_id="000000000002"))
    assert await store.claim_billing(202612) == [("000000000001", "Z1"), ("000000000002", "Z2")]
    assert await store.claim_billing(202612) == []
    await store.create(zone("Z3"))
    assert await store.claim_billing(202612) == [("000000000001", "Z3")]
    await store.delete("000000000001", "Z1", 1)
    assert await store.claim_billing(202701) == [("000000000001", "Z3"), ("000000000002", "Z2")]


async def test_routing_policies_and_aliases_are_kept(store: ZoneStore) -> None:
    """Decision 0284: a set's routing policy, health check and alias target round-trip."""
    routed = (
        RecordSet("www.example.com.", "A", 60, ("192.0.2.1",), set_identifier="b", weight=0),
        RecordSet(
            "app.example.com.", "A", 30, ("192.0.2.2",), set_identifier="p",
            failover="PRIMARY", health_check_id="hc-1",
        ),
        RecordSet(
            "geo.example.com.", "A", 30, ("192.0.2.3",), set_identifier="fr",
            geo_location=(("CountryCode", "FR"), ("SubdivisionCode", "75")),
        ),
        RecordSet("mv.example.com.", "A", 5, ("192.0.2.4",), set_identifier="1", multivalue=True),
        RecordSet(
            "c.example.com.", "A", 5, ("192.0.2.5",), set_identifier="o",
            cidr_routing=("coll", "paris"),
        ),
        RecordSet("l.example.com.", "AAAA", 5, ("::1",), set_identifier="l", region="eu-fr-1"),
        # Decision 0339: each kind of geoproximity place, with and without a bias.
        RecordSet("n.example.com.", "A", 5, ("192.0.2.6",), set_identifier="r",
                  geoproximity=GeoProximity(aws_region="eu-fr-1", bias=-20)),
        RecordSet("n.example.com.", "A", 5, ("192.0.2.7",), set_identifier="z",
                  geoproximity=GeoProximity(local_zone_group="eu-fr-1-lyo-1")),
        RecordSet("n.example.com.", "A", 5, ("192.0.2.8",), set_identifier="c",
                  geoproximity=GeoProximity(latitude="48.86", longitude="-2.35", bias=0)),
        RecordSet(
            "example.com.", "A", 0, (),
            alias=AliasTarget("Z1", "www.example.com.", evaluate_target_health=True),
        ),
    )  # fmt: skip
    first = zone("Z3")
    await store.create(first)
    second = first.replaced(records=(*first.records, *routed))
    await store.replace(second)
    assert await store.get("000000000001", "Z3") == second


async def test_delegation_set_and_authorisations_kept_and_any_accounts_zone_found(
    store: ZoneStore,
) -> None:
    """Decision 0346: a zone's reusable delegation set and its authorised VPCs are kept; a
    zone is found by id whatever its account (the owner of an authorised VPC names it)."""
    first = zone("Z1", delegation_set_id="NSET1", authorised_vpcs=(("eu-fr-1", "vpc-b"),))
    await store.create(first)
    assert await store.get("000000000001", "Z1") == first
    assert await store.by_id("Z1") == first
    assert await store.by_id("Z9") is None
    withdrawn = first.replaced(authorised_vpcs=())
    await store.replace(withdrawn)
    assert await store.by_id("Z1") == withdrawn
    plain = zone("Z2", caller_reference="ref-Z2", tenant_id="000000000002")
    await store.create(plain)
    found = await store.by_id("Z2")
    assert found == plain and found.delegation_set_id is None and found.authorised_vpcs == ()
