"""Decision 0280's hosted zones through botocore's own rest-xml model: made with their SOA and
NS records, idempotent by caller reference, described, listed by id and by name in pages,
counted, commented, tagged and deleted (not while holding records); private zones on the
account's VPCs, associated and disassociated; tenants apart; IAM deciding; the families not
served refused by name; errors in Route 53's XML shape."""

from __future__ import annotations

import json

from support.route53app import NAME_SERVERS, World


async def test_a_public_zone_is_made_with_its_soa_and_ns(world: World) -> None:
    made = await world.client(
        "CreateHostedZone",
        Name="Example.COM",
        CallerReference="r1",
        HostedZoneConfig={"Comment": "shop"},
    )
    zone = made["HostedZone"]
    assert zone["Id"].startswith("/hostedzone/Z") and len(zone["Id"]) == 12 + 21
    assert zone["Name"] == "example.com."
    assert zone["Config"] == {"Comment": "shop", "PrivateZone": False}
    assert zone["ResourceRecordSetCount"] == 2
    assert made["ChangeInfo"]["Status"] == "INSYNC"
    assert made["ChangeInfo"]["Id"].startswith("/change/C")
    assert made["DelegationSet"]["NameServers"] == list(NAME_SERVERS)
    assert made["Location"].endswith("/2013-04-01/hostedzone/" + zone["Id"].split("/")[-1])
    again = await world.client(
        "CreateHostedZone",
        Name="example.com.",
        CallerReference="r1",
        HostedZoneConfig={"Comment": "shop"},
    )
    assert again["HostedZone"]["Id"] == zone["Id"]
    failed = await world.fails(
        "CreateHostedZone", "HostedZoneAlreadyExists", Name="other.com", CallerReference="r1"
    )
    assert failed.status == 409
    got = await world.client("GetHostedZone", Id=zone["Id"])
    assert got["HostedZone"]["Name"] == "example.com."
    assert got["DelegationSet"]["NameServers"] == list(NAME_SERVERS)
    records = await world.client("ListResourceRecordSets", HostedZoneId=zone["Id"])
    sets = records["ResourceRecordSets"]
    assert [(r["Name"], r["Type"], r["TTL"]) for r in sets] == [
        ("example.com.", "NS", 172800),
        ("example.com.", "SOA", 900),
    ]
    assert sets[0]["ResourceRecords"] == [{"Value": n + "."} for n in NAME_SERVERS]
    assert sets[1]["ResourceRecords"] == [
        {"Value": "ns1.dns.example.net. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400"}
    ]
    change = await world.client("GetChange", Id=made["ChangeInfo"]["Id"])
    assert change["ChangeInfo"]["Status"] == "INSYNC"
    await world.fails("GetChange", "NoSuchChange", Id="CNOTHING")


async def test_zones_are_listed_counted_commented_and_deleted(world: World) -> None:
    ids = [await world.zone(name) for name in ("b.example", "a.example", "c.other", "example")]
    assert (await world.client("GetHostedZoneCount"))["HostedZoneCount"] == 4
    first = await world.client("ListHostedZones", MaxItems="3")
    assert first["IsTruncated"] is True and len(first["HostedZones"]) == 3
    rest = await world.client("ListHostedZones", Marker=first["NextMarker"])
    assert rest["IsTruncated"] is False
    listed = [z["Id"] for z in first["HostedZones"] + rest["HostedZones"]]
    assert listed == sorted(ids)
    by_name = await world.client("ListHostedZonesByName", MaxItems="2")
    assert [z["Name"] for z in by_name["HostedZones"]] == ["example.", "a.example."]
    assert by_name["NextDNSName"] == "b.example."
    after = await world.client(
        "ListHostedZonesByName",
        DNSName=by_name["NextDNSName"],
        HostedZoneId=by_name["NextHostedZoneId"],
    )
    assert [z["Name"] for z in after["HostedZones"]] == ["b.example.", "c.other."]
    commented = await world.client("UpdateHostedZoneComment", Id=ids[0], Comment="new")
    assert commented["HostedZone"]["Config"]["Comment"] == "new"
    await world.change(ids[0], ("CREATE", "www.b.example", "A", 60, ["192.0.2.1"]))
    failed = await world.fails("DeleteHostedZone", "HostedZoneNotEmpty", Id=ids[0])
    assert failed.status == 400
    await world.change(ids[0], ("DELETE", "www.b.example", "A", 60, ["192.0.2.1"]))
    deleted = await world.client("DeleteHostedZone", Id=ids[0])
    assert deleted["ChangeInfo"]["Status"] == "INSYNC"
    missing = await world.fails("GetHostedZone", "NoSuchHostedZone", Id=ids[0])
    assert missing.status == 404 and ids[0].split("/")[-1] in missing.message
    await world.zone("e.example")
    await world.zone("f.example")
    quota = await world.fails(
        "CreateHostedZone", "TooManyHostedZones", Name="g.example", CallerReference="x"
    )
    assert "5" in quota.message


async def test_tags(world: World) -> None:
    zone = await world.zone()
    await world.client(
        "ChangeTagsForResource",
        ResourceType="hostedzone",
        ResourceId=zone,
        AddTags=[{"Key": "team", "Value": "web"}, {"Key": "env", "Value": "prod"}],
    )
    await world.client(
        "ChangeTagsForResource", ResourceType="hostedzone", ResourceId=zone, RemoveTagKeys=["env"]
    )
    listed = await world.client("ListTagsForResource", ResourceType="hostedzone", ResourceId=zone)
    assert listed["ResourceTagSet"]["Tags"] == [{"Key": "team", "Value": "web"}]
    assert listed["ResourceTagSet"]["ResourceId"] == zone.split("/")[-1]


async def test_private_zones_on_the_accounts_vpcs(world: World) -> None:
    world.vpcs.update(
        {(world.tenant_id, "eu-fr-1", "vpc-1"), (world.tenant_id, "eu-fr-1", "vpc-2")}
    )
    failed = await world.fails(
        "CreateHostedZone",
        "InvalidVPCId",
        Name="corp.internal",
        CallerReference="p0",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-9"},
    )
    assert "vpc-9" in failed.message
    made = await world.client(
        "CreateHostedZone",
        Name="corp.internal",
        CallerReference="p1",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
        HostedZoneConfig={"PrivateZone": True},
    )
    zone = made["HostedZone"]["Id"]
    assert made["HostedZone"]["Config"]["PrivateZone"] is True
    assert made["VPC"] == {"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"}
    await world.fails(
        "CreateHostedZone",
        "ConflictingDomainExists",
        Name="corp.internal",
        CallerReference="p2",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )
    await world.client(
        "AssociateVPCWithHostedZone",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-2"},
    )
    got = await world.client("GetHostedZone", Id=zone)
    assert got["VPCs"] == [
        {"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
        {"VPCRegion": "eu-fr-1", "VPCId": "vpc-2"},
    ]
    assert "DelegationSet" not in got
    await world.client(
        "DisassociateVPCFromHostedZone",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )
    await world.fails(
        "DisassociateVPCFromHostedZone",
        "LastVPCAssociation",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-2"},
    )
    await world.fails(
        "DisassociateVPCFromHostedZone",
        "VPCAssociationNotFound",
        HostedZoneId=zone,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )
    public = await world.zone("public.example")
    await world.fails(
        "AssociateVPCWithHostedZone",
        "PublicZoneVPCAssociation",
        HostedZoneId=public,
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )
    other = await world.other_tenant("other")
    other.vpcs.add((other.tenant_id, "eu-fr-1", "vpc-3"))
    await other.fails("GetHostedZone", "NoSuchHostedZone", Id=zone)
    await other.fails(
        "CreateHostedZone",
        "InvalidVPCId",
        Name="x.internal",
        CallerReference="o1",
        VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"},
    )


async def test_iam_decides_and_calls_are_audited(world: World) -> None:
    zone = await world.zone()
    user = await world.iam_user("dev")
    denied = await user.fails("GetHostedZone", "AccessDenied", Id=zone)
    assert denied.status == 403 and "route53:GetHostedZone" in denied.message
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["route53:GetHostedZone", "route53:ListResourceRecordSets"],
                "Resource": f"arn:aws:route53:::hostedzone/{zone.split('/')[-1]}",
            }
        ],
    }
    await world.identity.put_user_policy(world.tenant_id, "dev", "r53", json.dumps(policy))
    assert (await user.client("GetHostedZone", Id=zone))["HostedZone"]["Id"] == zone
    await user.fails("ListHostedZones", "AccessDenied")
    await world.anonymous().fails("ListHostedZones", "MissingAuthenticationToken")
    await world.audit.flush()
    listed = await world.audit_store.list_events(None, after_id=0, limit=500)
    events = [e for _, e in listed if e.action == "route53:GetHostedZone"]
    assert {e.outcome.value for e in events} == {"success", "failure"}
    assert events[-1].resource == f"arn:aws:route53:::hostedzone/{zone.split('/')[-1]}"


async def test_what_is_not_served_is_refused_by_name(world: World) -> None:
    failed = await world.fails("GetAccountLimit", "InvalidInput", Type="MAX_HEALTH_CHECKS_BY_OWNER")
    assert "Account limits" in failed.message
    zone = await world.zone()
    dnssec = await world.fails("GetDNSSEC", "InvalidInput", HostedZoneId=zone)
    assert "dnssec" in dnssec.message.lower()
    reply = await world.raw("GET", "/2013-04-01/nothing")
    assert reply.status == 404 and b"<Code>UnknownOperation</Code>" in reply.body
    assert b"https://route53.amazonaws.com/doc/2013-04-01/" in reply.body
