"""Decision 0395's client places: the operator's geolocation CSV read (its header, comments,
bad lines, bound), a client placed by the longest network holding its address or client
subnet, Route 53's geolocation choice (subdivision, country, continent, default; unhealthy
ones giving way; no set and no default: none), and the public name servers over real UDP and
TCP answering geolocation and latency sets by the client's EDNS client subnet or address."""

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
from andromede.route53.answers import ZoneSet
from andromede.route53.client_places import (
    ClientGeography,
    GeoPlace,
    choose_by_location,
    read_geolocation,
)
from andromede.route53.geolocation_files import load_geography
from andromede.route53.geoproximity import AWS_REGIONS
from andromede.route53.memory import MemoryZoneStore
from andromede.route53.model import Change, RecordSet
from andromede.route53.public_zones import PublicZones
from andromede.route53.service import Route53Limits, Route53Service
from andromede.route53api.public_dns import DnsLimits, PublicNameServer
from andromede.settings import Settings
from andromede.wiring.route53 import route53_limits

SERVERS = ("ns1.dns.example.net",)
CSV = """network,continent,country,subdivision
# the operator's own networks
198.51.100.0/24,NA,US,CA
198.51.0.0/16,NA,US,
203.0.113.0/24,EU,FR,
192.0.2.0/24,AS,JP,
2001:db8::/32,OC,AU,
"""


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_the_csv_is_read_with_its_header_comments_and_bound() -> None:
    read = read_geolocation(CSV.splitlines(), 10)
    assert read[0] == (net("198.51.100.0/24"), GeoPlace("NA", "US", "CA"))
    assert read[1] == (net("198.51.0.0/16"), GeoPlace("NA", "US", ""))
    assert len(read) == 5
    with pytest.raises(ValueError, match="more than 4 networks"):
        read_geolocation(CSV.splitlines(), 4)
    for bad, why in (
        ("10.0.0.0/8,XX,FR", "no continent code"),
        ("10.0.0.0/8,EU,FRA", "no country code"),
        ("10.0.0.0/8,EU,FR,TOOLONG", "no subdivision code"),
        ("10.0.0.0/8,EU", "network,continent,country"),
    ):
        with pytest.raises(ValueError, match=why):
            read_geolocation(["1.0.0.0/8,EU,FR", bad], 10, "geo.csv")
    with pytest.raises(ValueError, match=r"geo.csv line 2: 'nowhere' is no network"):
        read_geolocation(["1.0.0.0/8,EU,FR", "nowhere,EU,FR"], 10, "geo.csv")


def test_a_client_is_placed_by_the_longest_network_holding_it() -> None:
    geography = ClientGeography(read_geolocation(CSV.splitlines(), 10),
                                {"203.0.113.0/25": "eu-west-3"}, AWS_REGIONS)  # fmt: skip
    assert geography.networks == 5
    assert geography.place(net("198.51.100.7/32")).geo == GeoPlace("NA", "US", "CA")
    assert geography.place(net("198.51.7.7/32")).geo == GeoPlace("NA", "US", "")
    assert geography.place(net("198.51.100.0/24")).geo == GeoPlace("NA", "US", "CA")
    # A client subnet shorter than a network is not held by it (as decision 0353's blocks).
    assert geography.place(net("198.0.0.0/8")).geo is None
    assert geography.place(net("2001:db8:1::/48")).geo == GeoPlace("OC", "AU", "")
    placed = geography.place(net("203.0.113.9/32"))
    assert placed.region == "eu-west-3" and placed.region_point == AWS_REGIONS["eu-west-3"]
    assert placed.by_geo and placed.by_region
    assert geography.place(net("203.0.113.200/32")).region is None
    nowhere = geography.place(None)
    assert nowhere.geo is None and nowhere.region is None


def test_the_settings_load_the_geography(tmp_path: Path) -> None:
    path = tmp_path / "geo.csv"
    path.write_text(CSV)
    settings = Settings(
        route53_client_geolocation_file=str(path),
        route53_client_regions={"192.0.2.0/24": "ap-northeast-1"},
    )
    geography = route53_limits(settings).geography
    assert geography is not None and geography.networks == 5
    assert route53_limits(Settings()).geography is None  # answered as in a VPC
    with pytest.raises(ValueError, match="more than 2 networks"):
        load_geography(str(path), 2, {})
    path.write_text("10.0.0.0/8,EU,FR\n10.1.0.0/16,XX,FR\n")
    with pytest.raises(ConfigurationError, match=r"geo\.csv line 2: 'XX' is no continent"):
        route53_limits(settings)
    path.unlink()
    with pytest.raises(ConfigurationError, match="cannot be read: No such file"):
        route53_limits(settings)
    with pytest.raises(ValueError, match="is no CIDR network"):
        Settings(route53_client_regions={"10.0.0.0/33": "eu-west-3"})
    with pytest.raises(ValueError, match="1 to 64 characters"):
        Settings(route53_client_regions={"10.0.0.0/8": ""})
    with pytest.raises(ValueError):
        Settings(route53_client_geolocation_max_networks=0)


def _geo_set(identifier: str, continent: str = "", country: str = "", sub: str = "") -> ZoneSet:
    return ZoneSet("www.geo.test.", "A", 60, ("192.0.2.1",), "geo", identifier, None, None,
                   None, True, None, geo=(continent, country, sub))  # fmt: skip


def test_the_most_specific_healthy_location_answers() -> None:
    california = _geo_set("ca", country="US", sub="CA")
    usa = _geo_set("us", country="US")
    america = _geo_set("na", continent="NA")
    default = _geo_set("default", country="*")
    every = [california, usa, america, default]
    here = GeoPlace("NA", "US", "CA")
    assert choose_by_location(every, every, here) == [california]
    assert choose_by_location(every, every, GeoPlace("NA", "US", "TX")) == [usa]
    assert choose_by_location(every, every, GeoPlace("NA", "CA", "")) == [america]
    assert choose_by_location(every, every, GeoPlace("EU", "FR", "")) == [default]
    assert choose_by_location(every, every, None) == [default]  # placed nowhere
    # An unhealthy set gives way to the next larger area, the default last.
    assert choose_by_location(every, [america, default], here) == [america]
    assert choose_by_location(every, [default], here) == [default]
    assert choose_by_location(every, [], here) == [california]  # none healthy: the best
    # No set of its places and no default: no answer.
    assert choose_by_location([california, usa], [california, usa], GeoPlace("EU", "FR")) == []
    assert choose_by_location([california], [california], None) == []


async def _no_vpc(tenant: str, region: str, vpc: str) -> bool:
    return False


@pytest.fixture
async def located(tmp_path: Path) -> AsyncIterator[tuple[PublicNameServer, int]]:
    geography = ClientGeography(
        read_geolocation(CSV.splitlines(), 10),
        {"203.0.113.0/24": "eu-west-3", "192.0.2.0/24": "ap-northeast-2",
         "127.0.0.0/8": "us-east-1"},
        AWS_REGIONS,
    )  # fmt: skip
    limits = Route53Limits(SERVERS, region="eu-fr-1", geography=geography)
    service = Route53Service(MemoryZoneStore(), limits, _no_vpc)
    made, _ = await service.create_zone("111111111111", "geo.test", "r", "", False, None)

    def geo(identifier: str, address: str, **where: str) -> RecordSet:
        return RecordSet("www.geo.test.", "A", 60, (address,), set_identifier=identifier,
                         geo_location=tuple(where.items()))  # fmt: skip

    def latency(region: str, address: str) -> RecordSet:
        return RecordSet("near.geo.test.", "A", 60, (address,), set_identifier=region,
                         region=region)  # fmt: skip

    records = [
        geo("ca", "10.0.0.1", CountryCode="US", SubdivisionCode="CA"),
        geo("us", "10.0.0.2", CountryCode="US"),
        geo("eu", "10.0.0.3", ContinentCode="EU"),
        latency("eu-west-3", "10.1.0.1"),
        latency("ap-northeast-1", "10.1.0.2"),
        latency("us-east-1", "10.1.0.3"),
        RecordSet("only.geo.test.", "A", 60, ("10.2.0.1",), set_identifier="oc",
                  geo_location=(("ContinentCode", "OC"),)),
    ]  # fmt: skip
    await service.change_records("111111111111", made.zone_id,
                                 [Change("CREATE", r) for r in records])  # fmt: skip
    server = PublicNameServer(
        PublicZones(service, SERVERS, 60.0), DnsLimits(rate_limit=0), geography=geography
    )
    (_, port), *_ = await server.start(("127.0.0.1:0",))
    try:
        yield server, port
    finally:
        server.close()


async def _ask(
    port: int, name: str, subnet: str | None = None, tcp: bool = False
) -> dns.message.Message:
    options: list[dns.edns.Option] = [] if subnet is None else [dns.edns.ECSOption(subnet, 24)]
    query = dns.message.make_query(name, "A", use_edns=0, options=options)
    if tcp:
        return await dns.asyncquery.tcp(query, "127.0.0.1", timeout=5, port=port)
    return await dns.asyncquery.udp(query, "127.0.0.1", timeout=5, port=port)


def _values(answer: dns.message.Message) -> list[str]:
    assert answer.rcode() == dns.rcode.NOERROR
    return [d.to_text() for rrset in answer.answer for d in rrset]


@pytest.mark.parametrize("tcp", [False, True])
async def test_the_public_name_servers_answer_by_the_clients_location(
    located: tuple[PublicNameServer, int], tcp: bool
) -> None:
    _, port = located
    assert _values(await _ask(port, "www.geo.test", "198.51.100.0", tcp)) == ["10.0.0.1"]
    assert _values(await _ask(port, "www.geo.test", "198.51.7.0", tcp)) == ["10.0.0.2"]
    assert _values(await _ask(port, "www.geo.test", "203.0.113.0", tcp)) == ["10.0.0.3"]
    # Placed in Japan, no set there nor a default: NOERROR with no answer, the zone's SOA.
    empty = await _ask(port, "www.geo.test", "192.0.2.0", tcp)
    assert _values(empty) == [] and empty.authority
    # Without a client subnet: the source (127.0.0.1), placed nowhere, no default either.
    assert _values(await _ask(port, "www.geo.test", None, tcp)) == []
    assert _values(await _ask(port, "only.geo.test", "198.51.100.0", tcp)) == []
    # The ECS scope says the answer depended on the client (RFC 7871).
    scoped = await _ask(port, "www.geo.test", "198.51.100.0", tcp)
    (option,) = [o for o in scoped.options if isinstance(o, dns.edns.ECSOption)]
    assert option.scopelen == 24
    # Latency: the client's Region's set, else the nearest one to its Region.
    assert _values(await _ask(port, "near.geo.test", "203.0.113.0", tcp)) == ["10.1.0.1"]
    assert _values(await _ask(port, "near.geo.test", "192.0.2.0", tcp)) == ["10.1.0.2"]
    assert _values(await _ask(port, "near.geo.test", None, tcp)) == ["10.1.0.3"]
