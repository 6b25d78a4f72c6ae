"""Decision 0353's CIDR collections through botocore's ``route53`` model: created (idempotent by
caller reference, ``CidrCollectionAlreadyExistsException`` for another one, limited), changed
under an optimistic version, locations and blocks listed in pages, checked as AWS checks
blocks, deleted only when empty and unused; ``CidrRoutingConfig`` checked on
ChangeResourceRecordSets; IAM on the collection's ARN and an audit event per call; the
IP-based answers (TestDNSAnswer's client subnet and resolver, the public name servers' ECS
option and scope, longest block first, the default set, health respected)."""

from __future__ import annotations

import ipaddress
from typing import Any

import dns.edns
import dns.message
import dns.rdatatype

from andromede.route53.answers import ZoneAnswers
from andromede.route53.cidr_collections import check_block
from andromede.route53.errors import InvalidInput
from support.route53app import World

ZONE = "shop.example"


async def _collection(world: World, name: str = "isps", reference: str = "r1") -> str:
    made = await world.client("CreateCidrCollection", Name=name, CallerReference=reference)
    return str(made["Collection"]["Id"])


async def _put(world: World, cid: str, location: str, *blocks: str, **more: Any) -> Any:
    return await world.client(
        "ChangeCidrCollection",
        Id=cid,
        Changes=[{"LocationName": location, "Action": "PUT", "CidrList": list(blocks)}],
        **more,
    )


def _ip_set(name: str, value: str, ident: str, cid: str, location: str, **more: Any) -> Any:
    record = {
        "Name": name,
        "Type": "A",
        "TTL": 60,
        "ResourceRecords": [{"Value": value}],
        "SetIdentifier": ident,
        "CidrRoutingConfig": {"CollectionId": cid, "LocationName": location},
        **more,
    }
    return {"Action": "CREATE", "ResourceRecordSet": record}


async def test_collections_created_once_listed_and_limited(world: World) -> None:
    made = await world.client("CreateCidrCollection", Name="isps", CallerReference="r1")
    found = made["Collection"]
    assert found["Name"] == "isps" and found["Version"] == 1
    assert found["Arn"] == f"arn:aws:route53:::cidrcollection/{found['Id']}"
    assert made["Location"].endswith(f"/2013-04-01/cidrcollection/{found['Id']}")
    again = await world.client("CreateCidrCollection", Name="isps", CallerReference="r1")
    assert again["Collection"] == found  # a retried request
    await world.fails(
        "CreateCidrCollection", "CidrCollectionAlreadyExistsException", Name="isps",
        CallerReference="r2",
    )  # fmt: skip
    await world.fails("CreateCidrCollection", "InvalidInput", Name="no spaces", CallerReference="x")
    await _collection(world, "offices", "r3")
    limited = await world.fails(
        "CreateCidrCollection", "LimitsExceeded", Name="third", CallerReference="r4"
    )
    assert "MAX_CIDR_COLLECTIONS_BY_ACCOUNT" in limited.message
    first = await world.client("ListCidrCollections", MaxResults="1")
    assert len(first["CidrCollections"]) == 1 and first["NextToken"]
    rest = await world.client("ListCidrCollections", NextToken=first["NextToken"])
    assert "NextToken" not in rest
    names = {c["Name"] for c in first["CidrCollections"] + rest["CidrCollections"]}
    assert names == {"isps", "offices"}
    other = await world.other_tenant("other")
    assert (await other.client("ListCidrCollections"))["CidrCollections"] == []
    await other.fails(
        "ListCidrLocations", "NoSuchCidrCollectionException", CollectionId=found["Id"]
    )


async def test_changes_versioned_listed_and_checked(world: World) -> None:
    cid = await _collection(world)
    await _put(world, cid, "paris", "198.51.100.0/24", "2001:db8:1::/48")
    await _put(world, cid, "lyon", "203.0.113.0/24", CollectionVersion=2)
    stale = await world.fails(
        "ChangeCidrCollection", "CidrCollectionVersionMismatchException", Id=cid,
        CollectionVersion=2,
        Changes=[{"LocationName": "lyon", "Action": "PUT", "CidrList": ["192.0.2.0/24"]}],
    )  # fmt: skip
    assert stale.status == 409
    listed = await world.client("ListCidrCollections")
    assert listed["CidrCollections"][0]["Version"] == 3
    locations = await world.client("ListCidrLocations", CollectionId=cid)
    assert [loc["LocationName"] for loc in locations["CidrLocations"]] == ["lyon", "paris"]
    blocks = await world.client("ListCidrBlocks", CollectionId=cid, LocationName="paris")
    assert [b["CidrBlock"] for b in blocks["CidrBlocks"]] == ["198.51.100.0/24", "2001:db8:1::/48"]
    page = await world.client("ListCidrBlocks", CollectionId=cid, MaxResults="2")
    assert len(page["CidrBlocks"]) == 2 and page["NextToken"]
    last = await world.client("ListCidrBlocks", CollectionId=cid, NextToken=page["NextToken"])
    assert [(b["CidrBlock"], b["LocationName"]) for b in last["CidrBlocks"]] == [
        ("2001:db8:1::/48", "paris")
    ]
    missing = await world.fails(
        "ListCidrBlocks", "NoSuchCidrLocationException", CollectionId=cid, LocationName="rome"
    )
    assert missing.status == 404
    # A block is in one location; blocks are networks of /1 to /24 (IPv4), /1 to /48 (IPv6).
    await world.fails(
        "ChangeCidrCollection", "CidrBlockInUseException", Id=cid,
        Changes=[{"LocationName": "lyon", "Action": "PUT", "CidrList": ["198.51.100.0/24"]}],
    )  # fmt: skip
    for bad in ("198.51.100.0/25", "198.51.100.7/24", "0.0.0.0/0", "2001:db8::/64", "paris"):
        await world.fails(
            "ChangeCidrCollection", "InvalidInput", Id=cid,
            Changes=[{"LocationName": "lyon", "Action": "PUT", "CidrList": [bad]}],
        )  # fmt: skip
    await world.fails(
        "ChangeCidrCollection", "InvalidInput", Id=cid,
        Changes=[{"LocationName": "*", "Action": "PUT", "CidrList": ["192.0.2.0/24"]}],
    )  # fmt: skip
    # Six blocks a collection here (route53_max_cidr_blocks): the batch is refused whole.
    too_many = await world.fails(
        "ChangeCidrCollection", "LimitsExceeded", Id=cid,
        Changes=[{"LocationName": "nice", "Action": "PUT",
                  "CidrList": ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16", "10.4.0.0/16"]}],
    )  # fmt: skip
    assert "MAX_CIDR_BLOCKS_BY_COLLECTION" in too_many.message
    await world.client(
        "ChangeCidrCollection", Id=cid,
        Changes=[{"LocationName": "lyon", "Action": "DELETE_IF_EXISTS",
                  "CidrList": ["203.0.113.0/24", "192.0.2.0/24"]}],
    )  # fmt: skip
    after = await world.client("ListCidrLocations", CollectionId=cid)
    assert [loc["LocationName"] for loc in after["CidrLocations"]] == ["paris"]
    await world.fails(
        "ChangeCidrCollection", "NoSuchCidrCollectionException",
        Id="00000000-0000-4000-8000-000000000000",
        Changes=[{"LocationName": "x", "Action": "PUT", "CidrList": ["192.0.2.0/24"]}],
    )  # fmt: skip
    await world.fails("ListCidrLocations", "InvalidInput", CollectionId="not-a-uuid")


async def test_record_sets_name_a_collection_and_keep_it(world: World) -> None:
    cid = await _collection(world)
    other = await _collection(world, "offices", "r2")
    await _put(world, cid, "paris", "198.51.100.0/24")
    await _put(world, other, "paris", "192.0.2.0/24")
    zone = await world.zone(ZONE)
    name = f"www.{ZONE}"

    async def refused(code: str, *changes: Any) -> str:
        failed = await world.fails(
            "ChangeResourceRecordSets", code, HostedZoneId=zone,
            ChangeBatch={"Changes": list(changes)},
        )  # fmt: skip
        return failed.message

    await refused(
        "NoSuchCidrCollectionException",
        _ip_set(name, "192.0.2.1", "a", "00000000-0000-4000-8000-000000000000", "paris"),
    )
    assert "rome" in await refused(
        "InvalidChangeBatch", _ip_set(name, "192.0.2.1", "a", cid, "rome")
    )
    await world.client(
        "ChangeResourceRecordSets", HostedZoneId=zone,
        ChangeBatch={"Changes": [_ip_set(name, "192.0.2.1", "paris", cid, "paris"),
                                 _ip_set(name, "192.0.2.9", "rest", cid, "*")]},
    )  # fmt: skip
    assert "collection" in await refused(
        "InvalidChangeBatch", _ip_set(name, "192.0.2.2", "b", other, "paris")
    )
    assert "location paris" in await refused(
        "InvalidChangeBatch", _ip_set(name, "192.0.2.2", "b", cid, "paris")
    )
    in_use = await world.fails("DeleteCidrCollection", "CidrCollectionInUseException", Id=cid)
    assert in_use.status == 400
    await world.fails(
        "ChangeCidrCollection", "CidrBlockInUseException", Id=cid,
        Changes=[{"LocationName": "paris", "Action": "DELETE_IF_EXISTS",
                  "CidrList": ["198.51.100.0/24"]}],
    )  # fmt: skip
    await world.client(
        "ChangeCidrCollection", Id=other,
        Changes=[{"LocationName": "paris", "Action": "DELETE_IF_EXISTS",
                  "CidrList": ["192.0.2.0/24"]}],
    )  # fmt: skip
    await world.client("DeleteCidrCollection", Id=other)
    await world.fails("DeleteCidrCollection", "NoSuchCidrCollectionException", Id=other)


async def test_iam_on_the_collection_and_audited(world: World) -> None:
    cid = await _collection(world)
    user = await world.iam_user("dev")
    denied = await user.fails("ListCidrLocations", "AccessDenied", CollectionId=cid)
    assert f"arn:aws:route53:::cidrcollection/{cid}" in denied.message
    assert "route53:ListCidrLocations" in denied.message
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    made = [e for _, e in listed if e.action == "route53:CreateCidrCollection"]
    assert made and made[-1].outcome.value == "success"
    refused = [e for _, e in listed if e.action == "route53:ListCidrLocations"]
    assert refused[-1].resource == f"arn:aws:route53:::cidrcollection/{cid}"


async def test_test_dns_answer_by_client_subnet_and_resolver(world: World) -> None:
    cid = await _collection(world)
    await _put(world, cid, "isp", "198.51.0.0/16")
    await _put(world, cid, "office", "198.51.100.0/24")
    zone = await world.zone(ZONE)
    name = f"www.{ZONE}"
    await world.client(
        "ChangeResourceRecordSets", HostedZoneId=zone,
        ChangeBatch={"Changes": [_ip_set(name, "192.0.2.1", "isp", cid, "isp"),
                                 _ip_set(name, "192.0.2.2", "office", cid, "office"),
                                 _ip_set(name, "192.0.2.9", "rest", cid, "*")]},
    )  # fmt: skip

    async def answered(**params: str) -> list[str]:
        got = await world.client(
            "TestDNSAnswer", HostedZoneId=zone, RecordName=name, RecordType="A", **params
        )
        return list(got["RecordData"])

    assert await answered(ResolverIP="198.51.100.53") == ["192.0.2.2"]  # the longest block
    assert await answered(ResolverIP="198.51.7.1") == ["192.0.2.1"]
    assert await answered(ResolverIP="192.0.2.200") == ["192.0.2.9"]  # the default
    assert await answered() == ["192.0.2.9"]
    # The client subnet before the resolver; a subnet shorter than a block does not match it.
    assert await answered(ResolverIP="192.0.2.200", EDNS0ClientSubnetIP="198.51.100.0") == [
        "192.0.2.2"
    ]
    shorter = await answered(EDNS0ClientSubnetIP="198.51.0.0", EDNS0ClientSubnetMask="16")
    assert shorter == ["192.0.2.1"]
    widest = await answered(EDNS0ClientSubnetIP="198.0.0.0", EDNS0ClientSubnetMask="8")
    assert widest == ["192.0.2.9"]


def _document(default: bool = True, office_healthy: bool = True) -> str:
    sets = [
        {"name": "www.shop.example.", "type": "A", "ttl": 60, "values": [value],
         "policy": "cidr", "id": ident, "weight": None, "failover": None, "region": None,
         "healthy": healthy, "alias": None, "cidr": ["c1", location]}
        for value, ident, location, healthy in (
            ("192.0.2.1", "isp", "isp", True),
            ("192.0.2.2", "office", "office", office_healthy),
            ("192.0.2.9", "rest", "*", True),
        )
        if default or location != "*"
    ]  # fmt: skip
    return (
        '{"version": 1, "zones": ["shop.example."], "collections": {"c1": '
        '{"isp": ["198.51.0.0/16", "2001:db8::/32"], "office": ["198.51.100.0/24"]}}, '
        f'"sets": {__import__("json").dumps(sets)}}}'
    )


def _ask(answers: ZoneAnswers, source: str | None, subnet: tuple[str, int] | None = None) -> Any:
    query = dns.message.make_query("www.shop.example.", "A")
    if subnet is not None:
        query.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(*subnet)])
    return answers.respond(query, None, source)


def _values(response: Any) -> list[str]:
    return [r.to_text() for rrset in response.answer for r in rrset]


def test_the_longest_block_the_default_health_and_the_scope() -> None:
    answers = ZoneAnswers(_document())
    assert _values(_ask(answers, "198.51.100.7")) == ["192.0.2.2"]
    assert _values(_ask(answers, "198.51.3.4")) == ["192.0.2.1"]
    assert _values(_ask(answers, "2001:db8:5::1")) == ["192.0.2.1"]
    assert _values(_ask(answers, "192.0.2.77")) == ["192.0.2.9"]
    # The client subnet wins over the resolver's address; the response carries it back with
    # the scope of the answer (the source prefix, /24 at most for IPv4).
    response = _ask(answers, "192.0.2.77", ("198.51.100.0", 24))
    assert _values(response) == ["192.0.2.2"]
    (option,) = [o for o in response.options if isinstance(o, dns.edns.ECSOption)]
    assert (option.address, option.srclen, option.scopelen) == ("198.51.100.0", 24, 24)
    long_source = _ask(answers, None, ("198.51.100.9", 32))
    (option,) = [o for o in long_source.options if isinstance(o, dns.edns.ECSOption)]
    assert option.scopelen == 24
    # An unhealthy location gives way to the next block holding the client, then the default.
    assert _values(_ask(ZoneAnswers(_document(office_healthy=False)), "198.51.100.7")) == [
        "192.0.2.1"
    ]
    # No block holds it and no default set: no data (NOERROR).
    bare = _ask(ZoneAnswers(_document(default=False)), "192.0.2.77")
    assert bare.rcode() == 0 and _values(bare) == []
    assert _values(_ask(ZoneAnswers(_document(default=False)), None)) == []


def test_an_answer_not_depending_on_the_client_has_scope_zero() -> None:
    document = (
        '{"version": 1, "zones": ["shop.example."], "sets": [{"name": "www.shop.example.", '
        '"type": "A", "ttl": 60, "values": ["192.0.2.5"], "policy": "simple", "id": null, '
        '"weight": null, "failover": null, "region": null, "healthy": true, "alias": null}]}'
    )
    response = _ask(ZoneAnswers(document), None, ("198.51.100.0", 24))
    assert _values(response) == ["192.0.2.5"]
    (option,) = [o for o in response.options if isinstance(o, dns.edns.ECSOption)]
    assert option.scopelen == 0
    assert response.question[0].rdtype == dns.rdatatype.A


def test_blocks_as_aws_takes_them() -> None:
    assert check_block("2001:DB8::/32") == "2001:db8::/32"
    assert check_block("10.0.0.0/8") == "10.0.0.0/8"
    for bad in ("10.0.0.0", "10.0.0.1/8", "10.0.0.0/25", "::/0", "2001:db8::/49", "x/8"):
        try:
            check_block(bad)
        except InvalidInput:
            continue
        raise AssertionError(f"{bad} was taken")
    assert ipaddress.ip_network(check_block("192.0.2.0/24")).prefixlen == 24
