"""Decision 0289's TestDNSAnswer through botocore's rest-xml model: what the public name
servers answer for a name and type of the caller's public zone — the values, NOERROR, NXDOMAIN
or a referral's name servers, the zone's first name server, UDP — with the same answers as the
servers (a CNAME followed, a wildcard); the zone another account's or private refused, bad
parameters refused in Route 53's words."""

from __future__ import annotations

from support.route53app import CallFailed, World


async def test_the_answer_of_a_name_and_type(world: World) -> None:
    zone = await world.zone()
    await world.change(
        zone,
        ("CREATE", "www.example.com", "A", 60, ["192.0.2.1", "192.0.2.2"]),
        ("CREATE", "blog.example.com", "CNAME", 60, ["www.example.com"]),
        ("CREATE", "*.apps.example.com", "TXT", 60, ['"hello"']),
        ("CREATE", "lab.example.com", "NS", 60, ["ns.elsewhere.net."]),
    )
    got = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="www.example.com", RecordType="A"
    )
    assert got == {
        "Nameserver": "ns1.dns.example.net",
        "RecordName": "www.example.com",
        "RecordType": "A",
        "RecordData": ["192.0.2.1", "192.0.2.2"],
        "ResponseCode": "NOERROR",
        "Protocol": "UDP",
    }
    chained = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="blog.example.com", RecordType="A",
        ResolverIP="198.51.100.1", EDNS0ClientSubnetIP="203.0.113.0", EDNS0ClientSubnetMask="24",
    )  # fmt: skip
    assert chained["RecordData"] == ["www.example.com.", "192.0.2.1", "192.0.2.2"]
    wild = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="x.apps.example.com", RecordType="TXT"
    )
    assert wild["RecordData"] == ['"hello"']
    missing = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="nope.example.com", RecordType="A"
    )
    assert (missing["ResponseCode"], missing["RecordData"]) == ("NXDOMAIN", [])
    nodata = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="www.example.com", RecordType="MX"
    )
    assert (nodata["ResponseCode"], nodata["RecordData"]) == ("NOERROR", [])
    referral = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="a.lab.example.com", RecordType="A"
    )
    assert referral["RecordData"] == ["ns.elsewhere.net."]
    outside = await world.client(
        "TestDNSAnswer", HostedZoneId=zone, RecordName="www.example.org", RecordType="A"
    )
    assert outside["ResponseCode"] == "REFUSED"


async def test_geolocation_and_latency_answer_the_client_subnet_or_resolver(world: World) -> None:
    """Decision 0395: TestDNSAnswer places the client as the public name servers do, by its
    EDNS0ClientSubnetIP, else its ResolverIP."""
    zone = await world.zone()
    await world.client("ChangeResourceRecordSets", HostedZoneId=zone, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "A", "TTL": 60, "SetIdentifier": ident, **where,
            "ResourceRecords": [{"Value": value}]}}
        for name, ident, where, value in (
            ("geo.example.com", "fr", {"GeoLocation": {"CountryCode": "FR"}}, "192.0.2.10"),
            ("geo.example.com", "any", {"GeoLocation": {"CountryCode": "*"}}, "192.0.2.11"),
            ("near.example.com", "tokyo", {"Region": "ap-northeast-1"}, "192.0.2.20"),
            ("near.example.com", "paris", {"Region": "eu-west-3"}, "192.0.2.21"),
        )]})  # fmt: skip

    async def data(name: str, **client: str) -> object:
        got = await world.client(
            "TestDNSAnswer", HostedZoneId=zone, RecordName=name, RecordType="A", **client
        )
        return got["RecordData"]

    paris = {"ResolverIP": "198.51.100.1", "EDNS0ClientSubnetIP": "203.0.113.0"}
    assert await data("geo.example.com", **paris) == ["192.0.2.10"]
    assert await data("geo.example.com", ResolverIP="198.51.100.1") == ["192.0.2.11"]
    assert await data("near.example.com", ResolverIP="198.51.100.1") == ["192.0.2.20"]
    # No Region for the Paris subnet: the set nearest its declared place (decision 0339).
    assert await data("near.example.com", **paris) == ["192.0.2.21"]


async def test_refused_for_a_private_zone_another_account_or_bad_input(world: World) -> None:
    world.vpcs.add((world.tenant_id, "eu-fr-1", "vpc-1"))
    private = await world.zone(
        "corp.internal", VPC={"VPCRegion": "eu-fr-1", "VPCId": "vpc-1"}, HostedZoneConfig={
            "PrivateZone": True, "Comment": ""}
    )  # fmt: skip
    failed = await world.fails(
        "TestDNSAnswer", "InvalidInput",
        HostedZoneId=private, RecordName="a.corp.internal", RecordType="A",
    )  # fmt: skip
    assert "public hosted zones" in failed.message
    await world.fails(
        "TestDNSAnswer", "NoSuchHostedZone",
        HostedZoneId="ZNOTMINE0000000000000", RecordName="www.example.com", RecordType="A",
    )  # fmt: skip
    zone = await world.zone()
    bad = await world.raw(
        "GET", "/2013-04-01/testdnsanswer",
        query=f"hostedzoneid={zone}&recordname=www.example.com&recordtype=A&resolverip=nope",
    )  # fmt: skip
    assert bad.status == 400 and b"InvalidInput" in bad.body
    missing = await world.raw(
        "GET", "/2013-04-01/testdnsanswer", query=f"hostedzoneid={zone}&recordtype=A"
    )
    assert missing.status == 400 and b"RecordName" in missing.body
    assert isinstance(failed, CallFailed)
