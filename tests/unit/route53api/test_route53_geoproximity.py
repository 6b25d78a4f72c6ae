"""Decision 0339's geoproximity routing: AWS's biased distance and the choice of the nearest
set (pure); client networks placed by their longest prefix; record sets with a
``GeoProximityLocation`` kept, listed and deleted through botocore's rest-xml model, refused
in AWS's words; answered by the nearest healthy set to the querier — the gateway's region by
default, the resolver's or its client subnet's declared network (TestDNSAnswer, the public
name servers) — with the bias moving the boundary."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import dns.edns
import dns.message
import pytest

from andromede.route53.answers import ZoneAnswers
from andromede.route53.errors import InvalidInput
from andromede.route53.geoproximity import (
    AWS_REGIONS,
    ClientLocations,
    GeoProximity,
    biased_distance,
    check_geoproximity,
    distance_km,
    nearest,
)
from andromede.route53.public_zones import PublicZones
from andromede.route53.responder_data import responder_document
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from support.route53app import NAME_SERVERS, World

PARIS = (48.86, 2.35)
FRANKFURT = AWS_REGIONS["eu-central-1"]
TOKYO = AWS_REGIONS["ap-northeast-1"]
HEALTH_CHECK = "0f1e2d3c-aaaa-bbbb-cccc-000000000001"


def test_distances_and_awss_bias_formula() -> None:
    assert 9600 < distance_km(PARIS, TOKYO) < 9800
    assert 440 < distance_km(PARIS, FRANKFURT) < 500
    assert distance_km(PARIS, PARIS) == 0
    # biased distance = actual distance * (1 - bias / 100)
    actual = distance_km(PARIS, TOKYO)
    assert biased_distance(PARIS, TOKYO, 50) == pytest.approx(actual * 0.5)
    assert biased_distance(PARIS, TOKYO, -99) == pytest.approx(actual * 1.99)
    assert biased_distance(PARIS, TOKYO, 0) == pytest.approx(actual)


def test_the_nearest_by_biased_distance() -> None:
    assert nearest(PARIS, [(TOKYO, 0), (FRANKFURT, 0)]) == 1
    # Tokyo's region grown by 99: 1 % of ~9,700 km is nearer than Frankfurt's ~480.
    assert nearest(PARIS, [(TOKYO, 99), (FRANKFURT, 0)]) == 0
    # Frankfurt's shrunk by 99 (~955 km) still wins against an unbiased Tokyo.
    assert nearest(PARIS, [(TOKYO, 0), (FRANKFURT, -99)]) == 1
    # From Tokyo, Tokyo; a set whose place is unknown is farther than any; no origin: first.
    assert nearest(TOKYO, [(FRANKFURT, 90), (TOKYO, -90)]) == 1
    assert nearest(PARIS, [(None, 99), (TOKYO, 0)]) == 1
    assert nearest(None, [(TOKYO, 0), (FRANKFURT, 0)]) == 0


def test_client_networks_are_placed_by_their_longest_prefix() -> None:
    clients = ClientLocations(
        {"10.0.0.0/8": "eu-central-1", "10.1.0.0/16": "35.68,139.69", "2001:db8::/32": "1,2"},
        AWS_REGIONS,
    )
    assert clients.locate("10.1.2.3") == (35.68, 139.69)
    assert clients.locate("10.2.0.1") == FRANKFURT
    assert clients.locate("10.1.0.0/24") == (35.68, 139.69)  # a client subnet
    assert clients.locate("2001:db8::7") == (1.0, 2.0)
    assert clients.locate("192.0.2.1") is None
    assert clients.locate("not an address") is None
    assert clients.locate(None) is None


def test_a_bias_below_minus_99_is_refused_by_the_server_too() -> None:
    """botocore refuses it in the client; another client (the CLI's raw XML, Terraform's Go
    SDK) could send it."""
    with pytest.raises(InvalidInput, match="minInclusive '-99' for type 'Bias'"):
        check_geoproximity(GeoProximity(aws_region="eu-fr-1", bias=-100), "Change")
    check_geoproximity(GeoProximity(aws_region="eu-fr-1", bias=-99), "Change")


def rrset(identifier: str, value: str, where: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "Name": "www.example.com",
        "Type": "A",
        "SetIdentifier": identifier,
        "TTL": 60,
        "ResourceRecords": [{"Value": value}],
        "GeoProximityLocation": where,
        **more,
    }


async def change(world: World, zone: str, *sets: Any, action: str = "CREATE") -> Any:
    return await world.client(
        "ChangeResourceRecordSets",
        HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": action, "ResourceRecordSet": s} for s in sets]},
    )


async def geo_sets(world: World, zone: str) -> dict[str, dict[str, Any]]:
    listed = await world.client("ListResourceRecordSets", HostedZoneId=zone)
    return {r["SetIdentifier"]: r for r in listed["ResourceRecordSets"] if "SetIdentifier" in r}


async def test_each_kind_of_location_is_kept_listed_and_deleted(world: World) -> None:
    zone = await world.zone()
    written = [
        rrset("paris", "192.0.2.1", {"Coordinates": {"Latitude": "48.86", "Longitude": "2.35"},
                                     "Bias": -20}, HealthCheckId=HEALTH_CHECK),
        rrset("tokyo", "192.0.2.2", {"AWSRegion": "ap-northeast-1", "Bias": 10}),
        rrset("lyon", "192.0.2.3", {"LocalZoneGroup": "eu-fr-1-lyo-1"}),
        rrset("home", "192.0.2.4", {"AWSRegion": "eu-fr-1"}),
    ]  # fmt: skip
    await change(world, zone, *written)
    got = await geo_sets(world, zone)
    assert {k: v["GeoProximityLocation"] for k, v in got.items()} == {
        "home": {"AWSRegion": "eu-fr-1"},
        "lyon": {"LocalZoneGroup": "eu-fr-1-lyo-1"},
        "paris": {"Coordinates": {"Latitude": "48.86", "Longitude": "2.35"}, "Bias": -20},
        "tokyo": {"AWSRegion": "ap-northeast-1", "Bias": 10},
    }
    assert got["paris"]["HealthCheckId"] == HEALTH_CHECK
    # A DELETE names the set whole: another bias is not it.
    wrong = {**written[1], "GeoProximityLocation": {"AWSRegion": "ap-northeast-1", "Bias": 11}}
    failed = await world.fails(
        "ChangeResourceRecordSets", "InvalidChangeBatch", HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": wrong}]},
    )  # fmt: skip
    assert "the values provided do not match the current values" in failed.message
    await change(world, zone, *written, action="DELETE")
    assert await geo_sets(world, zone) == {}


@pytest.mark.parametrize(
    ("record", "code", "words"),
    [
        (rrset("a", "192.0.2.1", {"Bias": 10}), "InvalidInput",
         "Expected exactly one of [AWSRegion, LocalZoneGroup, or Coordinates], but found none"),
        (rrset("a", "192.0.2.1", {"AWSRegion": "eu-fr-1", "Coordinates": {
            "Latitude": "1", "Longitude": "2"}}), "InvalidInput",
         "Expected exactly one of [AWSRegion, LocalZoneGroup, or Coordinates], but found more"),
        (rrset("a", "192.0.2.1", {"AWSRegion": "eu-fr-1", "Bias": 100}), "InvalidInput",
         "Value '100' is not facet-valid with respect to maxInclusive '99' for type 'Bias'"),
        (rrset("a", "192.0.2.1", {"Coordinates": {"Latitude": "48.8566", "Longitude": "2"}}),
         "InvalidInput", "cvc-pattern-valid: Value '48.8566' is not facet-valid"),
        (rrset("a", "192.0.2.1", {"Coordinates": {"Latitude": "95", "Longitude": "2"}}),
         "InvalidInput", "Latitude 95 is not between -90 and 90"),
        (rrset("a", "192.0.2.1", {"Coordinates": {"Latitude": "5", "Longitude": "-181"}}),
         "InvalidInput", "Longitude -181 is not between -180 and 180"),
        (rrset("a", "192.0.2.1", {"AWSRegion": "mars-north-1"}), "InvalidInput",
         "AWSRegion 'mars-north-1' is not a known location in Change with [Action=CREATE, "
         "Name=www.example.com., Type=A, SetIdentifier=a]"),
        (rrset("a", "192.0.2.1", {"LocalZoneGroup": "eu-fr-1-nowhere-1"}), "InvalidInput",
         "LocalZoneGroup 'eu-fr-1-nowhere-1' is not a known location"),
        ({k: v for k, v in rrset("a", "192.0.2.1", {"AWSRegion": "eu-fr-1"}).items()
          if k != "SetIdentifier"}, "InvalidInput", "Missing field 'SetIdentifier'"),
        (rrset("a", "192.0.2.1", {"AWSRegion": "eu-fr-1"}, Weight=1), "InvalidInput",
         "but found more than one in"),
    ],
)  # fmt: skip
async def test_bad_locations_are_refused_in_awss_words(
    world: World, record: dict[str, Any], code: str, words: str
) -> None:
    zone = await world.zone()
    failed = await world.fails(
        "ChangeResourceRecordSets", code, HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": record}]},
    )  # fmt: skip
    assert words in failed.message


async def test_geoproximity_is_not_mixed_with_another_policy(world: World) -> None:
    zone = await world.zone()
    weighted = {"Name": "www.example.com", "Type": "A", "SetIdentifier": "w", "Weight": 1,
                "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.9"}]}  # fmt: skip
    await change(world, zone, weighted)
    failed = await world.fails(
        "ChangeResourceRecordSets", "InvalidChangeBatch", HostedZoneId=zone,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet":
                                  rrset("g", "192.0.2.1", {"AWSRegion": "eu-fr-1"})}]},
    )  # fmt: skip
    assert "SetIdentifier g cannot be created as a non-geoproximity set exists" in failed.message


class _Health:
    def __init__(self) -> None:
        self.down: set[str] = set()

    async def healthy(self, tenant_id: str, ids: Collection[str]) -> Mapping[str, bool]:
        return {i: i not in self.down for i in ids}


async def dns_test(world: World, zone: str, **params: str) -> list[str]:
    answer = await world.client("TestDNSAnswer", HostedZoneId=zone,
                                RecordName="www.example.com", RecordType="A", **params)  # fmt: skip
    return list(answer["RecordData"])


async def test_the_nearest_healthy_set_answers_with_its_bias(world: World) -> None:
    zone = await world.zone()
    health = _Health()
    world.service.health = health
    await change(
        world, zone,
        rrset("frankfurt", "192.0.2.1", {"AWSRegion": "eu-central-1"}),
        rrset("tokyo", "192.0.2.2", {"Coordinates": {"Latitude": "35.68", "Longitude": "139.69"}},
              HealthCheckId=HEALTH_CHECK),
    )  # fmt: skip
    # A querier placed nowhere is at the gateway's region (eu-fr-1, Paris): Frankfurt.
    assert await dns_test(world, zone) == ["192.0.2.1"]
    assert await dns_test(world, zone, ResolverIP="192.0.2.200") == ["192.0.2.1"]
    # A resolver of a network declared at Tokyo: Tokyo; its client subnet at Paris wins.
    assert await dns_test(world, zone, ResolverIP="198.51.100.7") == ["192.0.2.2"]
    assert await dns_test(
        world, zone, ResolverIP="198.51.100.7", EDNS0ClientSubnetIP="203.0.113.9"
    ) == ["192.0.2.1"]
    # Tokyo's region grown by 99: from Paris, 1 % of ~9,700 km beats Frankfurt's ~480 km.
    await change(world, zone, rrset("tokyo", "192.0.2.2", {
        "Coordinates": {"Latitude": "35.68", "Longitude": "139.69"}, "Bias": 99},
        HealthCheckId=HEALTH_CHECK), action="UPSERT")  # fmt: skip
    assert await dns_test(world, zone) == ["192.0.2.2"]
    # Unhealthy, it answers no more while another is healthy.
    health.down.add(HEALTH_CHECK)
    assert await dns_test(world, zone) == ["192.0.2.1"]


async def test_the_public_name_servers_place_a_query_by_its_source(world: World) -> None:
    zone = await world.zone()
    await change(
        world, zone,
        rrset("paris", "192.0.2.1", {"AWSRegion": "eu-fr-1"}),
        rrset("tokyo", "192.0.2.2", {"AWSRegion": "ap-northeast-1"}),
    )  # fmt: skip
    server = PublicNameServer(
        PublicZones(world.service, NAME_SERVERS, 0.0),
        DnsLimits(rate_limit=0, max_udp_size=1232, max_tcp_connections=8),
        locate=world.service.client_location,
    )

    async def asked(source: str, subnet: str | None = None) -> list[str]:
        query = dns.message.make_query("www.example.com", "A")
        if subnet is not None:
            query.use_edns(0, options=[dns.edns.ECSOption(subnet, 24)])
        wire = await server.answer(query.to_wire(), udp=True, source=source)
        assert wire is not None
        return [d.to_text() for r in dns.message.from_wire(wire).answer for d in r]

    assert await asked("192.0.2.77") == ["192.0.2.1"]  # nowhere declared: the region's
    assert await asked("198.51.100.7") == ["192.0.2.2"]  # a Tokyo resolver
    assert await asked("198.51.100.7", "203.0.113.0") == ["192.0.2.1"]  # its Paris clients


async def test_a_vpcs_queriers_are_at_the_gateways_region(world: World) -> None:
    zone = await world.zone()
    await change(
        world, zone,
        rrset("frankfurt", "192.0.2.1", {"AWSRegion": "eu-central-1"}),
        rrset("tokyo", "192.0.2.2", {"AWSRegion": "ap-northeast-1"}),
    )  # fmt: skip
    stored = await world.service.zone(world.tenant_id, zone.rsplit("/", 1)[-1])
    known = {"eu-central-1": FRANKFURT, "ap-northeast-1": TOKYO, "jp-1": (35.0, 139.0)}
    for region, expected in (("eu-fr-1", "192.0.2.1"), ("jp-1", "192.0.2.2")):
        document = responder_document([stored], {}, {}, region, {**known, "eu-fr-1": PARIS})
        found = ZoneAnswers(document).answer("www.example.com.", "A").answer
        assert [d.to_text() for r in found for d in r] == [expected]
    # A region whose place is unknown: the first set by identifier, as geolocation answers.
    document = responder_document([stored], {}, {}, "nowhere-1", known)
    found = ZoneAnswers(document).answer("www.example.com.", "A").answer
    assert [d.to_text() for r in found for d in r] == ["192.0.2.1"]
