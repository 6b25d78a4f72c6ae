"""Decision 0346's reusable delegation sets through botocore's own rest-xml model: made of the
configured name servers (four of them, chosen from the set's id, when more are configured),
got, listed in pages, limited, used by CreateHostedZone's ``DelegationSetId`` (GetHostedZone
and ListHostedZones show it), made from a zone's own servers, deleted only when unused; every
refusal in AWS's codes."""

from __future__ import annotations

from andromede.route53.delegation_sets import choose_servers
from support.route53app import NAME_SERVERS, World


async def _set(world: World, reference: str, **params: object) -> dict[str, object]:
    made = await world.client("CreateReusableDelegationSet", CallerReference=reference, **params)
    found = made["DelegationSet"]
    assert isinstance(found, dict)
    return found


async def test_a_set_is_made_got_listed_limited_and_deleted(world: World) -> None:
    made = await world.client("CreateReusableDelegationSet", CallerReference="s1")
    found = made["DelegationSet"]
    assert found["Id"].startswith("/delegationset/N") and len(found["Id"]) == 15 + 21
    assert found["CallerReference"] == "s1"
    assert found["NameServers"] == list(NAME_SERVERS)
    assert made["Location"].endswith("/2013-04-01/delegationset/" + found["Id"].split("/")[-1])
    again = await world.fails(
        "CreateReusableDelegationSet", "DelegationSetAlreadyCreated", CallerReference="s1"
    )
    assert again.status == 400
    got = await world.client("GetReusableDelegationSet", Id=found["Id"])
    assert got["DelegationSet"] == found
    second = await _set(world, "s2")
    listed = await world.client("ListReusableDelegationSets", MaxItems="1")
    assert listed["IsTruncated"] is True and len(listed["DelegationSets"]) == 1
    rest = await world.client("ListReusableDelegationSets", Marker=listed["NextMarker"])
    assert rest["IsTruncated"] is False
    ids = [s["Id"] for s in listed["DelegationSets"] + rest["DelegationSets"]]
    assert ids == sorted([found["Id"], second["Id"]])
    limit = await world.client(
        "GetReusableDelegationSetLimit",
        DelegationSetId=found["Id"],
        Type="MAX_ZONES_BY_REUSABLE_DELEGATION_SET",
    )
    assert limit["Limit"] == {"Type": "MAX_ZONES_BY_REUSABLE_DELEGATION_SET", "Value": 2}
    assert limit["Count"] == 0
    await world.fails(
        "GetReusableDelegationSetLimit", "InvalidInput", DelegationSetId=found["Id"], Type="X"
    )
    await _set(world, "s3")
    exceeded = await world.fails("CreateReusableDelegationSet", "LimitsExceeded",
                                 CallerReference="s4")  # fmt: skip
    assert "3" in exceeded.message
    await world.client("DeleteReusableDelegationSet", Id=second["Id"])
    await world.fails("GetReusableDelegationSet", "NoSuchDelegationSet", Id=second["Id"])
    await world.fails("DeleteReusableDelegationSet", "NoSuchDelegationSet", Id=second["Id"])
    other = await world.other_tenant("other")
    await other.fails("GetReusableDelegationSet", "NoSuchDelegationSet", Id=found["Id"])
    assert (await other.client("ListReusableDelegationSets"))["DelegationSets"] == []
    # Another account's caller references are its own.
    await _set(other, "s1")


async def test_zones_on_a_set_show_it_and_keep_it_in_use(world: World) -> None:
    found = await _set(world, "web")
    set_id = str(found["Id"]).split("/")[-1]
    made = await world.client(
        "CreateHostedZone", Name="shop.example", CallerReference="z1", DelegationSetId=set_id
    )
    assert made["DelegationSet"] == {"Id": found["Id"], "NameServers": list(NAME_SERVERS)}
    zone = made["HostedZone"]["Id"]
    got = await world.client("GetHostedZone", Id=zone)
    assert got["DelegationSet"]["Id"] == found["Id"]
    records = await world.client("ListResourceRecordSets", HostedZoneId=zone)
    assert records["ResourceRecordSets"][0]["ResourceRecords"] == [
        {"Value": n + "."} for n in NAME_SERVERS
    ]
    plain = await world.zone("plain.example")
    assert "Id" not in (await world.client("GetHostedZone", Id=plain))["DelegationSet"]
    on_set = await world.client("ListHostedZones", DelegationSetId=set_id)
    assert [z["Id"] for z in on_set["HostedZones"]] == [zone]
    await world.fails("ListHostedZones", "NoSuchDelegationSet", DelegationSetId="NNOSUCHSET")
    # The same parameters give the zone back; the set is one of them.
    again = await world.client(
        "CreateHostedZone", Name="shop.example", CallerReference="z1", DelegationSetId=set_id
    )
    assert again["HostedZone"]["Id"] == zone
    await world.fails(
        "CreateHostedZone", "HostedZoneAlreadyExists", Name="shop.example", CallerReference="z1"
    )
    # A parent, a child or a namesake cannot share the set's name servers.
    for name in ("example", "www.shop.example", "shop.example"):
        await world.fails(
            "CreateHostedZone",
            "ConflictingDomainExists",
            Name=name,
            CallerReference=f"c-{name}",
            DelegationSetId=set_id,
        )
    await world.client(
        "CreateHostedZone", Name="other.example", CallerReference="z2", DelegationSetId=set_id
    )
    full = await world.fails(
        "CreateHostedZone",
        "TooManyHostedZones",
        Name="third.example",
        CallerReference="z3",
        DelegationSetId=set_id,
    )
    assert "MAX_ZONES_BY_REUSABLE_DELEGATION_SET" in full.message
    count = await world.client(
        "GetReusableDelegationSetLimit",
        DelegationSetId=set_id,
        Type="MAX_ZONES_BY_REUSABLE_DELEGATION_SET",
    )
    assert count["Count"] == 2
    in_use = await world.fails("DeleteReusableDelegationSet", "DelegationSetInUse", Id=set_id)
    assert in_use.status == 400
    await world.fails(
        "CreateHostedZone",
        "NoSuchDelegationSet",
        Name="x.example",
        CallerReference="z4",
        DelegationSetId="NNOSUCHSET",
    )
    world.vpcs.add((world.tenant_id, "eu-fr-1", "vpc-1"))
    await world.fails(
        "CreateHostedZone",
        "InvalidInput",
        Name="corp.internal",
        CallerReference="z5",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
        DelegationSetId=set_id,
    )
    other = await world.other_tenant("other")
    await other.fails(
        "CreateHostedZone",
        "NoSuchDelegationSet",
        Name="theirs.example",
        CallerReference="o1",
        DelegationSetId=set_id,
    )


async def test_a_zones_own_servers_made_reusable(world: World) -> None:
    zone = await world.zone("mine.example")
    made = await _set(world, "from-zone", HostedZoneId=zone)
    assert made["NameServers"] == list(NAME_SERVERS)
    got = await world.client("GetHostedZone", Id=zone)
    assert got["DelegationSet"]["Id"] == made["Id"]
    await world.fails(
        "CreateReusableDelegationSet",
        "DelegationSetAlreadyReusable",
        CallerReference="again",
        HostedZoneId=zone,
    )
    await world.fails(
        "CreateReusableDelegationSet",
        "HostedZoneNotFound",
        CallerReference="none",
        HostedZoneId="ZNOSUCHZONE",
    )
    world.vpcs.add((world.tenant_id, "eu-fr-1", "vpc-1"))
    private = await world.zone("corp.internal", VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"})
    await world.fails(
        "CreateReusableDelegationSet",
        "InvalidArgument",
        CallerReference="private",
        HostedZoneId=private,
    )
    # The refusals made no set.
    listed = await world.client("ListReusableDelegationSets")
    assert [s["Id"] for s in listed["DelegationSets"]] == [made["Id"]]
    set_id = str(made["Id"]).split("/")[-1]
    await world.fails("DeleteReusableDelegationSet", "DelegationSetInUse", Id=set_id)
    await world.client("DeleteHostedZone", Id=zone)
    await world.client("DeleteReusableDelegationSet", Id=set_id)


def test_four_servers_chosen_stably_from_more() -> None:
    configured = [f"ns{i}.dns.example.net" for i in range(1, 9)]
    chosen = {choose_servers(configured, f"N{i:020d}") for i in range(40)}
    assert all(len(c) == 4 and len(set(c)) == 4 for c in chosen)
    assert all(set(c) <= set(configured) for c in chosen)
    assert len(chosen) > 1  # the sets spread over the servers
    assert choose_servers(configured, "NABC") == choose_servers(configured, "NABC")
    assert choose_servers(["a.example.", "b.example"], "NABC") == ("a.example", "b.example")


async def test_iam_decides_on_the_set(world: World) -> None:
    found = await _set(world, "s1")
    set_id = str(found["Id"]).split("/")[-1]
    user = await world.iam_user("dev")
    denied = await user.fails("GetReusableDelegationSet", "AccessDenied", Id=set_id)
    assert f"arn:aws:route53:::delegationset/{set_id}" in denied.message
    assert "route53:GetReusableDelegationSet" in denied.message
