"""Decision 0280's record sets through botocore's rest-xml model: CREATE, UPSERT and DELETE of
every served type, all or nothing, refused with AWS's ``InvalidChangeBatch`` messages (a
CNAME at the apex or beside other records, a DELETE not matching exactly, a name outside the
zone, a record that exists, too many changes, a bad value), the apex SOA and NS kept; listed
in AWS's order (labels reversed, then type) in pages from a name and type."""

from __future__ import annotations

from support.route53app import World


async def names(world: World, zone: str, **params: str) -> list[tuple[str, str]]:
    listed = await world.client("ListResourceRecordSets", HostedZoneId=zone, **params)
    return [(r["Name"], r["Type"]) for r in listed["ResourceRecordSets"]]


async def test_every_served_type_is_written_and_listed_in_aws_order(world: World) -> None:
    zone = await world.zone()
    answer = await world.change(
        zone,
        ("CREATE", "www.example.com", "A", 300, ["192.0.2.1", "192.0.2.2"]),
        ("CREATE", "www.example.com", "AAAA", 300, ["2001:db8::1"]),
        ("CREATE", "example.com", "MX", 300, ["10 mail.example.com."]),
        ("CREATE", "example.com", "TXT", 300, ['"v=spf1 -all"', '"a" "b"']),
        ("CREATE", "_sip._tcp.example.com", "SRV", 300, ["1 10 5060 sip.example.com."]),
        ("CREATE", "4.2.0.192.example.com", "PTR", 300, ["host.example.com."]),
        ("CREATE", "example.com", "CAA", 300, ['0 issue "letsencrypt.org"']),
        ("CREATE", "sub.example.com", "NS", 300, ["ns.elsewhere.net."]),
        ("CREATE", "blog.example.com", "CNAME", 60, ["www.example.com"]),
        ("CREATE", "*.example.com", "A", 60, ["192.0.2.9"]),
    )
    assert answer["ChangeInfo"]["Status"] == "INSYNC"
    assert await names(world, zone) == [
        ("example.com.", "CAA"),
        ("example.com.", "MX"),
        ("example.com.", "NS"),
        ("example.com.", "SOA"),
        ("example.com.", "TXT"),
        ("\\052.example.com.", "A"),
        ("4.2.0.192.example.com.", "PTR"),
        ("_sip._tcp.example.com.", "SRV"),
        ("blog.example.com.", "CNAME"),
        ("sub.example.com.", "NS"),
        ("www.example.com.", "A"),
        ("www.example.com.", "AAAA"),
    ]
    first = await world.client("ListResourceRecordSets", HostedZoneId=zone, MaxItems="5")
    assert first["IsTruncated"] is True
    assert (first["NextRecordName"], first["NextRecordType"]) == ("\\052.example.com.", "A")
    after = await names(
        world, zone, StartRecordName=first["NextRecordName"], StartRecordType="A", MaxItems="2"
    )
    assert after == [("\\052.example.com.", "A"), ("4.2.0.192.example.com.", "PTR")]
    assert await names(world, zone, StartRecordName="www.example.com", StartRecordType="AAAA") == [
        ("www.example.com.", "AAAA")
    ]
    got = await world.client("GetHostedZone", Id=zone)
    assert got["HostedZone"]["ResourceRecordSetCount"] == 12
    await world.change(zone, ("UPSERT", "www.example.com", "A", 30, ["192.0.2.7"]))
    listed = await world.client(
        "ListResourceRecordSets", HostedZoneId=zone, StartRecordName="www.example.com"
    )
    assert listed["ResourceRecordSets"][0]["TTL"] == 30
    assert listed["ResourceRecordSets"][0]["ResourceRecords"] == [{"Value": "192.0.2.7"}]


async def refused(world: World, zone: str, *changes: tuple[str, str, str, int, list[str]]) -> str:
    try:
        await world.change(zone, *changes)
    except Exception as exc:
        assert getattr(exc, "code", None) == "InvalidChangeBatch", exc
        assert getattr(exc, "status", None) == 400
        return str(getattr(exc, "message", ""))
    raise AssertionError("the batch was accepted")


async def test_invalid_batches_are_refused_whole_in_aws_words(world: World) -> None:
    zone = await world.zone()
    await world.change(zone, ("CREATE", "www.example.com", "A", 300, ["192.0.2.1"]))
    message = await refused(
        world,
        zone,
        ("CREATE", "new.example.com", "A", 300, ["192.0.2.3"]),
        ("CREATE", "www.example.com", "A", 300, ["192.0.2.1"]),
    )
    assert message == (
        "[Tried to create resource record set [name='www.example.com.', type='A'] but it "
        "already exists]"
    )
    assert ("new.example.com.", "A") not in await names(world, zone)  # all or nothing
    assert "is not permitted at apex in zone example.com." in await refused(
        world, zone, ("CREATE", "example.com", "CNAME", 300, ["other.net"])
    )
    assert "conflicts with other records with the same DNS name" in await refused(
        world, zone, ("CREATE", "www.example.com", "CNAME", 300, ["other.net"])
    )
    assert "do not match the current values" in await refused(
        world, zone, ("DELETE", "www.example.com", "A", 60, ["192.0.2.1"])
    )
    assert "but it was not found" in await refused(
        world, zone, ("DELETE", "nope.example.com", "A", 60, ["192.0.2.1"])
    )
    assert "RRSet with DNS name www.other.com. is not permitted in zone example.com." in (
        await refused(world, zone, ("CREATE", "www.other.com", "A", 60, ["192.0.2.1"]))
    )
    assert "ARRDATAIllegalIPv4Address" in await refused(
        world, zone, ("CREATE", "bad.example.com", "A", 60, ["192.0.2"])
    )
    assert "MXRRDATANotTwoFields" in await refused(
        world, zone, ("CREATE", "example.com", "MX", 60, ["mail.example.com"])
    )
    assert "exactly one SOA" in await refused(
        world,
        zone,
        ("DELETE", "example.com", "SOA", 900, [await soa(world, zone)]),
    )
    too_many = [("CREATE", f"h{i}.example.com", "A", 60, ["192.0.2.1"]) for i in range(11)]
    assert "limit of 10 exceeded" in await refused(world, zone, *too_many)
    bad_type = await world.fails(
        "ChangeResourceRecordSets",
        "InvalidInput",
        HostedZoneId=zone,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": "x.example.com",
                        "Type": "NXT",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "x"}],
                    },
                }
            ]
        },
    )
    assert "'NXT' is not facet-valid" in bad_type.message
    assert "NAPTRRRDATAIllegal" in await refused(
        world, zone, ("CREATE", "x.example.com", "NAPTR", 60, ["x"])
    )
    await world.change(zone, ("DELETE", "www.example.com", "A", 300, ["192.0.2.1"]))
    assert await names(world, zone) == [("example.com.", "NS"), ("example.com.", "SOA")]


async def soa(world: World, zone: str) -> str:
    listed = await world.client("ListResourceRecordSets", HostedZoneId=zone)
    record = next(r for r in listed["ResourceRecordSets"] if r["Type"] == "SOA")
    return str(record["ResourceRecords"][0]["Value"])
