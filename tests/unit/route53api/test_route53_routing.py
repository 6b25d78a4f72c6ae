"""Decision 0284's record sets with a routing policy and alias records, through botocore's
rest-xml model: weighted, failover, multivalue, latency, geolocation and IP-based sets kept and
listed as written (in AWS's order, paged by ``NextRecordIdentifier``); AWS's ``InvalidInput``
for a set's shape and ``InvalidChangeBatch`` for the zone's rules (a policy beside a simple
set or another policy, a duplicate identifier, two primaries); aliases to a set of the zone
and to a load balancer, refused as AWS refuses a target that is not there."""

from __future__ import annotations

from typing import Any

from andromede.route53.model import AliasTarget
from support.route53app import World


def rrset(name: str, kind: str = "A", *values: str, ttl: int | None = 60, **more: Any) -> Any:
    record: dict[str, Any] = {"Name": name, "Type": kind, **more}
    if values:
        record["ResourceRecords"] = [{"Value": v} for v in values]
    if ttl is not None and "AliasTarget" not in more:
        record["TTL"] = ttl
    return record


async def change(world: World, zone: str, *sets: Any, action: str = "CREATE") -> Any:
    return await world.client(
        "ChangeResourceRecordSets",
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": s} for s in sets]},
    )


async def refused(world: World, zone: str, code: str, *sets: Any, action: str = "CREATE") -> str:
    failed = await world.fails(
        "ChangeResourceRecordSets",
        code,
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": s} for s in sets]},
    )
    return failed.message


async def listed(world: World, zone: str, **params: str) -> list[dict[str, Any]]:
    answer = await world.client("ListResourceRecordSets", HostedZoneId=zone, **params)
    return [r for r in answer["ResourceRecordSets"] if r["Type"] not in {"SOA", "NS"}]


async def test_every_policy_is_kept_and_listed_as_written(world: World) -> None:
    zone = await world.zone()
    # An IP-based set names a collection of the account and one of its locations (0353).
    collection = (await world.client("CreateCidrCollection", Name="offices", CallerReference="c"))[
        "Collection"
    ]["Id"]
    await world.client(
        "ChangeCidrCollection",
        Id=collection,
        Changes=[{"LocationName": "paris", "Action": "PUT", "CidrList": ["198.51.100.0/24"]}],
    )
    written = [
        rrset("www.example.com", "A", "192.0.2.1", SetIdentifier="blue", Weight=200),
        rrset("www.example.com", "A", "192.0.2.2", SetIdentifier="green", Weight=0),
        rrset(
            "app.example.com", "A", "192.0.2.3", SetIdentifier="main", Failover="PRIMARY",
            HealthCheckId="0f1e2d3c-aaaa-bbbb-cccc-000000000001",
        ),
        rrset("app.example.com", "A", "192.0.2.4", SetIdentifier="spare", Failover="SECONDARY"),
        rrset("mv.example.com", "A", "192.0.2.5", SetIdentifier="one", MultiValueAnswer=True),
        rrset("lat.example.com", "AAAA", "2001:db8::1", SetIdentifier="fr", Region="eu-fr-1"),
        rrset("geo.example.com", "A", "192.0.2.6", SetIdentifier="eu",
              GeoLocation={"ContinentCode": "EU"}),
        rrset("geo.example.com", "A", "192.0.2.7", SetIdentifier="fr",
              GeoLocation={"CountryCode": "FR", "SubdivisionCode": "75"}),
        rrset("cidr.example.com", "A", "192.0.2.8", SetIdentifier="office",
              CidrRoutingConfig={"CollectionId": collection, "LocationName": "paris"}),
    ]  # fmt: skip
    await change(world, zone, *written)
    got = await listed(world, zone)
    assert [(r["Name"], r["Type"], r.get("SetIdentifier")) for r in got] == [
        ("app.example.com.", "A", "main"),
        ("app.example.com.", "A", "spare"),
        ("cidr.example.com.", "A", "office"),
        ("geo.example.com.", "A", "eu"),
        ("geo.example.com.", "A", "fr"),
        ("lat.example.com.", "AAAA", "fr"),
        ("mv.example.com.", "A", "one"),
        ("www.example.com.", "A", "blue"),
        ("www.example.com.", "A", "green"),
    ]
    by_id = {(r["Name"], r["SetIdentifier"]): r for r in got}
    assert by_id[("www.example.com.", "green")]["Weight"] == 0
    primary = by_id[("app.example.com.", "main")]
    assert primary["Failover"] == "PRIMARY"
    assert primary["HealthCheckId"] == "0f1e2d3c-aaaa-bbbb-cccc-000000000001"
    assert by_id[("mv.example.com.", "one")]["MultiValueAnswer"] is True
    assert by_id[("lat.example.com.", "fr")]["Region"] == "eu-fr-1"
    assert by_id[("geo.example.com.", "fr")]["GeoLocation"] == {
        "CountryCode": "FR",
        "SubdivisionCode": "75",
    }
    assert by_id[("cidr.example.com.", "office")]["CidrRoutingConfig"]["LocationName"] == "paris"
    page = await world.client("ListResourceRecordSets", HostedZoneId=zone, MaxItems="4")
    assert page["IsTruncated"] is True
    assert (page["NextRecordName"], page["NextRecordType"], page["NextRecordIdentifier"]) == (
        "cidr.example.com.", "A", "office",
    )  # fmt: skip
    after = await listed(
        world, zone, StartRecordName="geo.example.com", StartRecordType="A",
        StartRecordIdentifier="fr", MaxItems="2",
    )  # fmt: skip
    assert [r["SetIdentifier"] for r in after] == ["fr", "fr"]
    # A DELETE names the set by its identifier and must match it whole, weight included.
    message = await refused(
        world, zone, "InvalidChangeBatch",
        rrset("www.example.com", "A", "192.0.2.1", SetIdentifier="blue", Weight=100),
        action="DELETE",
    )  # fmt: skip
    assert "set-identifier='blue'" in message and "do not match" in message
    await change(
        world, zone, rrset("www.example.com", "A", "192.0.2.1", SetIdentifier="blue", Weight=200),
        action="DELETE",
    )  # fmt: skip
    assert len(await listed(world, zone, StartRecordName="www.example.com")) == 1


async def test_a_sets_shape_is_checked_as_aws_checks_it(world: World) -> None:
    zone = await world.zone()
    missing = await refused(
        world, zone, "InvalidInput", rrset("w.example.com", "A", "192.0.2.1", Weight=10)
    )
    assert missing == (
        "Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, "
        "Name=w.example.com., Type=A, SetIdentifier=null]"
    )
    none = await refused(
        world, zone, "InvalidInput", rrset("w.example.com", "A", "192.0.2.1", SetIdentifier="x")
    )
    assert "Expected exactly one of [Weight, Region, Failover" in none
    assert none.endswith("but found none in Change with [Action=CREATE, Name=w.example.com., "
                         "Type=A, SetIdentifier=x]")  # fmt: skip
    two = await refused(
        world, zone, "InvalidInput",
        rrset("w.example.com", "A", "192.0.2.1", SetIdentifier="x", Weight=1, Region="eu-fr-1"),
    )  # fmt: skip
    assert "but found more than one" in two
    both = await refused(
        world, zone, "InvalidInput",
        rrset("w.example.com", "A", "192.0.2.1", AliasTarget={
            "HostedZoneId": zone.split("/")[-1], "DNSName": "x.example.com",
            "EvaluateTargetHealth": False}),
    )  # fmt: skip
    assert "Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords]" in both
    geo = await refused(
        world, zone, "InvalidInput",
        rrset("w.example.com", "A", "192.0.2.1", SetIdentifier="g",
              GeoLocation={"ContinentCode": "XX"}),
    )  # fmt: skip
    assert "ContinentCode" in geo


async def test_the_zones_routing_rules_are_refused_in_one_batch(world: World) -> None:
    zone = await world.zone()
    await change(
        world, zone,
        rrset("www.example.com", "A", "192.0.2.1", SetIdentifier="blue", Weight=1),
        rrset("plain.example.com", "A", "192.0.2.9"),
        rrset("app.example.com", "A", "192.0.2.3", SetIdentifier="main", Failover="PRIMARY"),
    )  # fmt: skip
    message = await refused(
        world, zone, "InvalidChangeBatch",
        rrset("www.example.com", "A", "192.0.2.2"),
        rrset("www.example.com", "A", "192.0.2.3", SetIdentifier="blue", Weight=5),
        rrset("plain.example.com", "A", "192.0.2.2", SetIdentifier="w", Weight=5),
        rrset("app.example.com", "A", "192.0.2.4", SetIdentifier="other", Failover="PRIMARY"),
        rrset("www.example.com", "A", "192.0.2.5", SetIdentifier="lat", Region="eu-fr-1"),
    )  # fmt: skip
    assert message.startswith("[") and message.endswith("]")
    assert (
        "RRSet with DNS name www.example.com., type A cannot be created as other RRsets exist "
        "with the same name and type."
    ) in message
    assert (
        "Tried to create resource record set [name='www.example.com.', type='A', "
        "set-identifier='blue'] but it already exists"
    ) in message
    assert (
        "RRSet with DNS name plain.example.com., type A, SetIdentifier w cannot be created as a "
        "non-weighted set exists with the same name and type."
    ) in message
    assert "already has failover type PRIMARY" in message
    assert "SetIdentifier lat cannot be created as a non-latency set exists" in message
    # Nothing of the refused batch was applied.
    assert len(await listed(world, zone)) == 3


async def test_an_alias_to_a_set_of_the_zone(world: World) -> None:
    zone = await world.zone()
    zone_id = zone.split("/")[-1]

    def alias(target: str) -> dict[str, Any]:
        return {"HostedZoneId": zone_id, "DNSName": target, "EvaluateTargetHealth": True}

    await change(
        world, zone,
        rrset("www.example.com", "A", "192.0.2.1", SetIdentifier="blue", Weight=1),
        rrset("example.com", "A", AliasTarget=alias("www.example.com")),
    )  # fmt: skip
    apex = next(r for r in await listed(world, zone) if r["Name"] == "example.com.")
    assert apex["AliasTarget"] == {
        "HostedZoneId": zone_id,
        "DNSName": "www.example.com.",
        "EvaluateTargetHealth": True,
    }
    assert "TTL" not in apex and "ResourceRecords" not in apex
    missing = await refused(
        world, zone, "InvalidChangeBatch", rrset("a.example.com", "A", AliasTarget=alias("nope"
        ".example.com")),
    )  # fmt: skip
    assert missing == (
        f"[Tried to create an alias that targets nope.example.com., type A in zone {zone_id}, "
        "but that target was not found]"
    )
    wrong_type = await refused(
        world, zone, "InvalidChangeBatch",
        rrset("a.example.com", "AAAA", AliasTarget=alias("www.example.com")),
    )  # fmt: skip
    assert "type AAAA" in wrong_type and "not found" in wrong_type
    outside = await refused(
        world, zone, "InvalidChangeBatch",
        rrset("a.example.com", "A", AliasTarget=alias("www.example.org")),
    )  # fmt: skip
    assert "does not lie within the target zone" in outside


async def test_an_alias_to_a_load_balancer(world: World) -> None:
    zone = await world.zone()
    asked: list[tuple[str, AliasTarget, str]] = []

    async def balancers(tenant: str, target: AliasTarget, kind: str) -> tuple[str, ...] | None:
        asked.append((tenant, target, kind))
        return ("10.0.1.10",) if target.dns_name == "web-1a2b.elb.eu-fr-1.example.test." else None

    world.service.alias_targets = balancers
    lb = {
        "HostedZoneId": "ZELBZONE",
        "DNSName": "web-1a2b.elb.eu-fr-1.example.test",
        "EvaluateTargetHealth": False,
    }
    await change(world, zone, rrset("lb.example.com", "A", AliasTarget=lb))
    assert asked == [
        (world.tenant_id, AliasTarget("ZELBZONE", "web-1a2b.elb.eu-fr-1.example.test.", False), "A")
    ]
    gone = await refused(
        world, zone, "InvalidChangeBatch",
        rrset("old.example.com", "A", AliasTarget={**lb, "DNSName": "gone-9.elb.example.test"}),
    )  # fmt: skip
    assert gone == (
        "[Tried to create an alias that targets gone-9.elb.example.test., type A in zone "
        "ZELBZONE, but the alias target name does not lie within the target zone, Tried to "
        "create an alias that targets gone-9.elb.example.test., type A in zone ZELBZONE, but "
        "that target was not found]"
    )
