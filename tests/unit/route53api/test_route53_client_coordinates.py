"""Decision 0413: the GeoIP data's coordinates of a client's network (GeoLite2 City CSV
blocks, DB-IP's city lite CSV, a MaxMind DB's ``location``) kept with its place, checked, and
answered by: a geoproximity set by AWS's biased distance from the client's own point, a
latency set by the Region nearest it when no ``route53_client_regions`` network holds the
client (which still comes first), an operator's ``route53_client_locations`` network before
the data's point; the public name servers over real UDP by EDNS client subnet. The countries'
continents table (GeoNames'), giving a registered country alone its continent and DB-IP's
country lite file its rows."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path

import dns.asyncquery
import dns.edns
import dns.message
import dns.rcode
import pytest

from andromede.errors import ConfigurationError
from andromede.route53.client_places import (
    CONTINENTS,
    ClientGeography,
    ClientRegions,
    GeoPlace,
    coordinates,
)
from andromede.route53.country_continents import COUNTRY_CONTINENTS, continent_of
from andromede.route53.geolocation_files import read_geolocation_files
from andromede.route53.geolocation_mmdb import place_of
from andromede.route53.geoproximity import AWS_REGIONS, ClientLocations, GeoProximity
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import Change, RecordSet
from andromede.route53.public_zones import PublicZones
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from andromede.settings import Settings
from andromede.wiring.route53 import route53_limits
from support.geoip_mmdb import geolite2_record

SERVERS = ("ns1.dns.example.net",)
WARSAW, OSAKA, MADRID, BERLIN = (52.23, 21.01), (34.69, 135.5), (40.42, -3.7), (52.52, 13.4)
BLOCKS = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,\
is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
203.0.113.0/24,756135,798544,,0,0,00-001,52.23,21.01,20,
203.0.114.0/24,756135,798544,,0,0,00-002,52.23,21.01,20,
198.51.0.0/16,,798544,,0,0,,,,100,
"""
LOCATIONS = """geoname_id,locale_code,continent_code,continent_name,country_iso_code,\
country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,\
subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union
756135,en,EU,Europe,PL,Poland,14,Mazovia,,,Warsaw,,Europe/Warsaw,1
798544,en,EU,Europe,PL,Poland,,,,,,,Europe/Warsaw,1
"""
DBIP_CITY = """203.0.113.0,203.0.113.255,EU,PL,Mazovia,Warsaw,52.23,21.01
198.51.100.0,198.51.100.255,AS,JP,Osaka,Osaka,34.69,135.5
"""


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_coordinates_are_read_or_refused() -> None:
    assert coordinates("52.23", "21.01") == WARSAW
    assert coordinates(52.23, 21.01) == WARSAW  # a MaxMind DB's doubles
    assert coordinates("", "") is None and coordinates(None, 2.3) is None
    with pytest.raises(ValueError, match="is no place"):
        coordinates("north", "2.3")
    with pytest.raises(ValueError, match="off the globe"):
        coordinates("95", "2.3")
    with pytest.raises(ValueError, match="off the globe"):
        coordinates("nan", "2.3")
    with pytest.raises(ValueError, match="no numbers"):
        coordinates(True, 2.3)


def test_each_export_keeps_its_networks_points(tmp_path: Path) -> None:
    (tmp_path / "GeoLite2-City-Blocks-IPv4.csv").write_text(BLOCKS)
    (tmp_path / "GeoLite2-City-Locations-en.csv").write_text(LOCATIONS)
    found = dict(read_geolocation_files(str(tmp_path), 10))
    assert found[net("203.0.113.0/24")] == GeoPlace("EU", "PL")
    assert found[net("203.0.113.0/24")].point == WARSAW
    # Blocks of one place and point share one object (memory bounded as before).
    assert found[net("203.0.113.0/24")] is found[net("203.0.114.0/24")]
    assert found[net("198.51.0.0/16")].point is None  # the registered country's: no point
    dbip = tmp_path / "dbip-city-lite.csv"
    dbip.write_text(DBIP_CITY)
    by_dbip = dict(read_geolocation_files(str(dbip), 10))
    assert by_dbip[net("198.51.100.0/24")].point == OSAKA
    dbip.write_text(DBIP_CITY + "192.0.2.0,192.0.2.255,EU,FR,,,91.5,2.3\n")
    settings = Settings(route53_client_geolocation_file=str(dbip))
    with pytest.raises(ConfigurationError, match=r"dbip-city-lite\.csv line 3: .*off the globe"):
        route53_limits(settings)
    blocks = tmp_path / "GeoLite2-City-Blocks-IPv4.csv"
    blocks.write_text(BLOCKS + "192.0.2.0/24,756135,798544,,0,0,,x,21.01,20,\n")
    with pytest.raises(ValueError, match=r"Blocks-IPv4\.csv line 5: 'x','21.01' is no place"):
        read_geolocation_files(str(tmp_path), 10)


def test_a_maxmind_record_s_location_and_its_registered_country_s_continent() -> None:
    placed = place_of(geolite2_record("AS", "JP", point=OSAKA))
    assert placed == GeoPlace("AS", "JP") and placed is not None and placed.point == OSAKA
    assert place_of(geolite2_record(registered="BR")) == GeoPlace("SA", "BR")
    assert place_of(geolite2_record(registered="ZZ")) is None
    with pytest.raises(ValueError, match="location is no map"):
        place_of({"country": {"iso_code": "FR"}, "location": [48.8, 2.3]})
    with pytest.raises(ValueError, match="off the globe"):
        place_of({"country": {"iso_code": "FR"}, "location": {"latitude": 91, "longitude": 2}})


def test_the_countries_continents() -> None:
    assert len(COUNTRY_CONTINENTS) >= 249  # every ISO 3166-1 country
    assert set(COUNTRY_CONTINENTS.values()) == CONTINENTS
    expected = {"FR": "EU", "US": "NA", "MX": "NA", "BR": "SA", "AQ": "AN", "AU": "OC",
                "JP": "AS", "EG": "AF", "TR": "AS", "RU": "EU", "PA": "NA", "fr": "EU"}  # fmt: skip
    assert {country: continent_of(country) for country in expected} == expected
    assert continent_of("QQ") == ""


def test_dbip_s_country_lite_file_is_placed_by_the_table(tmp_path: Path) -> None:
    lite = tmp_path / "dbip-country-lite.csv"
    lite.write_text("1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.3.255,CN\n1.0.4.0,1.0.4.255,ZZ\n")
    found = dict(read_geolocation_files(str(lite), 10))
    assert found[net("1.0.0.0/24")] == GeoPlace("OC", "AU")
    assert found[net("1.0.2.0/23")] == GeoPlace("AS", "CN")
    assert net("1.0.4.0/24") not in found


# -- answered --------------------------------------------------------------------------------

GEOGRAPHY = [
    (net("203.0.113.0/24"), GeoPlace("EU", "PL", point=WARSAW)),
    (net("198.51.100.0/24"), GeoPlace("AS", "JP", point=OSAKA)),
    (net("198.51.101.0/24"), GeoPlace("EU", "ES", point=MADRID)),
    (net("192.0.2.0/24"), GeoPlace("EU", "PL", point=WARSAW)),
    (net("2001:db8:f7::/48"), GeoPlace("EU", "DE", point=BERLIN)),
    (net("198.51.102.0/24"), GeoPlace("EU", "PL")),  # a country database's: no point
    (net("198.51.103.0/24"), GeoPlace("EU", "PT", point=(38.72, -9.14))),  # Lisbon
    (net("198.51.104.0/24"), GeoPlace("EU", "ES", point=MADRID)),
]


async def _no_vpc(tenant: str, region: str, vpc: str) -> bool:
    return False


@pytest.fixture
async def placed() -> AsyncIterator[int]:
    geography = ClientGeography(GEOGRAPHY, {"192.0.2.0/24": "eu-west-3"}, AWS_REGIONS)
    limits = Route53Limits(
        SERVERS,
        region="eu-west-3",
        places=dict(AWS_REGIONS),
        clients=ClientLocations({"198.51.101.0/24": "52.52,13.40"}, AWS_REGIONS),
        geography=geography,
    )
    service = Route53Service(MemoryZoneStore(), limits, _no_vpc)
    made, _ = await service.create_zone("111111111111", "coords.test", "r", "", False, None)

    def latency(region: str, address: str) -> RecordSet:
        return RecordSet("near.coords.test.", "A", 60, (address,), set_identifier=region,
                         region=region)  # fmt: skip

    def proximity(
        identifier: str, address: str, where: GeoProximity, name: str = "prox.coords.test."
    ) -> RecordSet:
        return RecordSet(name, "A", 60, (address,), set_identifier=identifier,
                         geoproximity=where)  # fmt: skip

    records = [
        latency("eu-west-3", "10.1.0.1"),  # Paris
        latency("eu-central-1", "10.1.0.2"),  # Frankfurt
        latency("ap-northeast-1", "10.1.0.3"),  # Tokyo
        proximity("paris", "10.2.0.1", GeoProximity(latitude="48.86", longitude="2.35")),
        proximity("frankfurt", "10.2.0.2", GeoProximity(aws_region="eu-central-1")),
        proximity("tokyo", "10.2.0.3", GeoProximity(latitude="35.68", longitude="139.69")),
        proximity("madrid", "10.3.0.1", GeoProximity(latitude="40.42", longitude="-3.7"),
                  "biased.coords.test."),
        proximity("paris-bias", "10.3.0.2",
                  GeoProximity(latitude="48.86", longitude="2.35", bias=90),
                  "biased.coords.test."),
    ]  # fmt: skip
    await service.change_records("111111111111", made.zone_id,
                                 [Change("CREATE", r) for r in records])  # fmt: skip
    server = PublicNameServer(
        PublicZones(service, SERVERS, 60.0),
        DnsLimits(rate_limit=0),
        locate=service.client_location,
        geography=geography,
    )
    (_, port), *_ = await server.start(("127.0.0.1:0",))
    try:
        yield port
    finally:
        server.close()


async def _ask(port: int, name: str, subnet: str | None, length: int = 24) -> list[str]:
    options: list[dns.edns.Option] = []
    if subnet is not None:
        options = [dns.edns.ECSOption(subnet, length)]
    query = dns.message.make_query(name, "A", use_edns=0, options=options)
    answer = await dns.asyncquery.udp(query, "127.0.0.1", timeout=5, port=port)
    assert answer.rcode() == dns.rcode.NOERROR
    return [d.to_text() for rrset in answer.answer for d in rrset]


async def test_latency_answers_the_region_nearest_the_client_s_point(placed: int) -> None:
    assert await _ask(placed, "near.coords.test", "203.0.113.0") == ["10.1.0.2"]  # Warsaw
    assert await _ask(placed, "near.coords.test", "198.51.100.0") == ["10.1.0.3"]  # Osaka
    assert await _ask(placed, "near.coords.test", "2001:db8:f7::", 48) == ["10.1.0.2"]
    # route53_client_regions first: a measured latency beats a distance.
    assert await _ask(placed, "near.coords.test", "192.0.2.0") == ["10.1.0.1"]
    # A client of no point (a country database's), or placed nowhere: the gateway's place.
    assert await _ask(placed, "near.coords.test", "198.51.102.0") == ["10.1.0.1"]
    assert await _ask(placed, "near.coords.test", None) == ["10.1.0.1"]
    # The operator's declared network (Berlin) before the data's point (Madrid).
    assert await _ask(placed, "near.coords.test", "198.51.101.0") == ["10.1.0.2"]


async def test_geoproximity_answers_by_distance_from_the_client_s_point(placed: int) -> None:
    assert await _ask(placed, "prox.coords.test", "203.0.113.0") == ["10.2.0.2"]  # Warsaw
    assert await _ask(placed, "prox.coords.test", "198.51.100.0") == ["10.2.0.3"]  # Osaka
    assert await _ask(placed, "prox.coords.test", "198.51.102.0") == ["10.2.0.1"]  # the gateway
    assert await _ask(placed, "prox.coords.test", "198.51.101.0") == ["10.2.0.2"]  # Berlin
    # Lisbon is ~500 km from Madrid, ~1,450 km from Paris: Paris's bias of 90 makes it 145.
    assert await _ask(placed, "biased.coords.test", "198.51.103.0") == ["10.3.0.2"]
    # Madrid's own clients stay Madrid's (0 km against 105).
    assert await _ask(placed, "biased.coords.test", "198.51.104.0") == ["10.3.0.1"]


def test_the_region_nearest_a_client_among_some() -> None:
    geography = ClientGeography(GEOGRAPHY, {"192.0.2.0/24": "eu-west-3"}, AWS_REGIONS)
    declared = ClientLocations({"198.51.101.0/24": "52.52,13.40"}, AWS_REGIONS)
    regions = ClientRegions(geography, declared, AWS_REGIONS)
    both = ("eu-west-3", "ap-northeast-1")
    assert regions.nearest("198.51.100.7", both) == "ap-northeast-1"  # Osaka
    assert regions.nearest("203.0.113.7", both) == "eu-west-3"
    assert regions.nearest("192.0.2.7", ("eu-central-1", "eu-west-3")) == "eu-west-3"
    assert regions.nearest("192.0.2.7", ("eu-central-1", "ap-northeast-1")) == "eu-central-1"
    assert regions.nearest("198.51.101.7", ("eu-west-3", "eu-central-1")) == "eu-central-1"
    assert regions.nearest("198.51.102.7", both) is None  # no point
    assert regions.nearest("10.0.0.1", both) is None and regions.nearest(None, both) is None
    assert regions.nearest("203.0.113.7", ("unknown-1",)) is None  # no Region of known place
