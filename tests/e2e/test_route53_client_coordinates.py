"""Decision 0413 end to end: an ``andromede serve`` whose ``route53_client_geolocation_file``
is a GeoLite2 City export — its CSV blocks and locations, or its MaxMind DB — written by the
test with the clients' coordinates. boto3's ``route53`` client writes latency sets (three
AWS Regions, none the gateway's) and geoproximity sets (coordinates, one with a bias), and
the public name servers answer dnspython's queries by the point of the EDNS client subnet
they carry: the Region nearest it, the biased-nearest set, a ``route53_client_regions``
network first; TestDNSAnswer answers the same by ``EDNS0ClientSubnetIP`` and by
``ResolverIP``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.edns
import dns.message
import dns.query
import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.geoip_mmdb import geolite2_record, write_mmdb
from support.server import ServerProcess, free_port, running_server

pytestmark = pytest.mark.e2e

ZONE = "coords-placed.example."
LATENCY, PROXIMITY = "near.coords-placed.example", "prox.coords-placed.example"
WARSAW, OSAKA, LISBON = (52.23, 21.01), (34.69, 135.5), (38.72, -9.14)
# network -> (country, point): as the CSV's City blocks and the database's records hold them
NETWORKS = {
    "203.0.113.0/24": ("PL", WARSAW),
    "198.51.100.0/24": ("JP", OSAKA),
    "198.51.101.0/24": ("PT", LISBON),
    "192.0.2.0/24": ("PL", WARSAW),  # in route53_client_regions: eu-west-3
}
CONTINENT = {"PL": "EU", "JP": "AS", "PT": "EU"}
BLOCKS = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,\
is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
"""
LOCATIONS = """geoname_id,locale_code,continent_code,continent_name,country_iso_code,\
country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,\
subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union
"""
GEONAMES = {"PL": "798544", "JP": "1861060", "PT": "2264397"}


def _export(folder: Path, kind: str) -> Path:
    if kind == "mmdb":
        records = {
            network: geolite2_record(CONTINENT[country], country, point=point)
            for network, (country, point) in NETWORKS.items()
        }
        return write_mmdb(folder / "GeoLite2-City.mmdb", records)
    blocks = BLOCKS + "".join(
        f"{network},{GEONAMES[country]},{GEONAMES[country]},,0,0,,{point[0]},{point[1]},20,\n"
        for network, (country, point) in NETWORKS.items()
    )
    locations = LOCATIONS + "".join(
        f"{geoname},en,{CONTINENT[country]},x,{country},x,,,,,,,,0\n"
        for country, geoname in GEONAMES.items()
    )
    folder.mkdir(exist_ok=True)
    (folder / "GeoLite2-City-Blocks-IPv4.csv").write_text(blocks)
    (folder / "GeoLite2-City-Locations-en.csv").write_text(locations)
    return folder


@pytest.fixture(scope="module", params=["csv", "mmdb"])
def placed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp(f"coords-{request.param}")
    export = _export(folder / "export" if request.param == "csv" else folder, request.param)
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_ROUTE53_DNS_LISTEN": f'["127.0.0.1:{free_port()}"]',
        "ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_FILE": str(export),
        "ANDROMEDE_ROUTE53_CLIENT_REGIONS": '{"192.0.2.0/24": "eu-west-3"}',
    }
    with running_server(folder / "data", extra_env=env) as server:
        yield server


def _sets() -> list[dict[str, Any]]:
    def latency(region: str, value: str) -> dict[str, Any]:
        return {"Name": LATENCY, "Type": "A", "SetIdentifier": region, "TTL": 30,
                "Region": region, "ResourceRecords": [{"Value": value}]}  # fmt: skip

    def proximity(identifier: str, value: str, **where: Any) -> dict[str, Any]:
        return {"Name": PROXIMITY, "Type": "A", "SetIdentifier": identifier, "TTL": 30,
                "GeoProximityLocation": where, "ResourceRecords": [{"Value": value}]}  # fmt: skip

    return [
        latency("eu-west-3", "192.0.2.11"),  # Paris
        latency("eu-central-1", "192.0.2.12"),  # Frankfurt
        latency("ap-northeast-1", "192.0.2.13"),  # Tokyo
        proximity("madrid", "192.0.2.21", Coordinates={"Latitude": "40.42", "Longitude": "-3.70"}),
        proximity("paris", "192.0.2.22",
                  Coordinates={"Latitude": "48.86", "Longitude": "2.35"}, Bias=90),
        proximity("tokyo", "192.0.2.23", AWSRegion="ap-northeast-1"),
    ]  # fmt: skip


def test_latency_and_geoproximity_by_the_client_s_coordinates(
    placed_server: ServerProcess,
) -> None:
    tenant = new_tenant(placed_server, "route53-coords")
    route53: Any = client_for(
        placed_server, "route53", tenant.access_key_id, tenant.secret_access_key
    )
    zone_id = route53.create_hosted_zone(Name=ZONE, CallerReference="coords")["HostedZone"]["Id"]
    sets = _sets()
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    (listen,) = json.loads(placed_server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answer(name: str, wanted: str, subnet: str, tcp: bool = False) -> None:
        # The change is answered within route53_dns_cache_seconds: asked until it is.
        found: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            query = dns.message.make_query(name, "A")
            query.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(subnet, 24)])
            ask = dns.query.tcp if tcp else dns.query.udp
            found = [d.to_text() for r in ask(query, host, timeout=5, port=int(port)).answer
                     for d in r]  # fmt: skip
            if found == [wanted]:
                return
            time.sleep(0.25)
        raise AssertionError(f"{name} for {subnet}: never answered {wanted}: {found}")

    for tcp in (False, True):
        answer(LATENCY, "192.0.2.12", "203.0.113.0", tcp)  # Warsaw: Frankfurt
        answer(LATENCY, "192.0.2.13", "198.51.100.0", tcp)  # Osaka: Tokyo
        answer(LATENCY, "192.0.2.11", "198.51.101.0", tcp)  # Lisbon: Paris
        answer(LATENCY, "192.0.2.11", "192.0.2.0", tcp)  # its route53_client_regions Region
        answer(PROXIMITY, "192.0.2.22", "203.0.113.0", tcp)  # Paris's bias: 137 km
        answer(PROXIMITY, "192.0.2.23", "198.51.100.0", tcp)  # Osaka: Tokyo
        answer(PROXIMITY, "192.0.2.22", "198.51.101.0", tcp)  # Lisbon: 145 km beats 503

    def tested(name: str, **client: str) -> list[str]:
        found = route53.test_dns_answer(
            HostedZoneId=zone_id, RecordName=name, RecordType="A", **client
        )
        return list(found["RecordData"])

    by_subnet = {"ResolverIP": "10.0.0.53", "EDNS0ClientSubnetIP": "198.51.100.0"}
    assert tested(LATENCY, **by_subnet) == ["192.0.2.13"]
    assert tested(PROXIMITY, **by_subnet) == ["192.0.2.23"]
    assert tested(LATENCY, ResolverIP="203.0.113.53") == ["192.0.2.12"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
    )
    route53.delete_hosted_zone(Id=zone_id)
