"""Decision 0410 end to end: an ``andromede serve`` whose ``route53_client_geolocation_file``
is a MaxMind DB (a GeoLite2 City database written by the test, IPv4 and IPv6 networks,
recognised by its metadata marker under the default format). boto3's ``route53`` client
writes geolocation sets (a US state, a country, a continent, the default) and the public
name servers answer dnspython's queries over UDP and TCP by the EDNS client subnet they carry
(IPv4 and IPv6), the subnet given back with its scope; TestDNSAnswer places its
``EDNS0ClientSubnetIP`` alike. A database of another type stops the server's start, naming
the setting."""

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

NAME = "www.mmdb-placed.example"
NETWORKS = {
    "198.51.100.0/24": geolite2_record("NA", "US", "CA"),
    "198.51.101.0/24": geolite2_record("NA", "US", "TX"),
    "203.0.113.0/24": geolite2_record("EU", "FR", "IDF"),
    "2001:db8:ca::/48": geolite2_record("NA", "US", "CA"),
    "2001:db8:f7::/48": geolite2_record("EU", "DE", "BY"),
    "2001:db8:a0::/48": geolite2_record("AS", "JP"),
}


@pytest.fixture(scope="module")
def placed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("mmdb")
    database = write_mmdb(folder / "GeoLite2-City.mmdb", NETWORKS)
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_ROUTE53_DNS_LISTEN": f'["127.0.0.1:{free_port()}"]',
        "ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_FILE": str(database),
    }
    with running_server(folder / "data", extra_env=env) as server:
        yield server


def _geo_set(identifier: str, value: str, **where: str) -> dict[str, Any]:
    return {
        "Name": NAME,
        "Type": "A",
        "SetIdentifier": identifier,
        "TTL": 30,
        "ResourceRecords": [{"Value": value}],
        "GeoLocation": where,
    }


def test_the_name_servers_answer_by_the_place_a_maxmind_db_gives(
    placed_server: ServerProcess,
) -> None:
    tenant = new_tenant(placed_server, "route53-mmdb")
    route53: Any = client_for(
        placed_server, "route53", tenant.access_key_id, tenant.secret_access_key
    )
    zone_id = route53.create_hosted_zone(Name="mmdb-placed.example.", CallerReference="mmdb")[
        "HostedZone"
    ]["Id"]
    sets = [
        _geo_set("california", "192.0.2.1", CountryCode="US", SubdivisionCode="CA"),
        _geo_set("us", "192.0.2.2", CountryCode="US"),
        _geo_set("europe", "192.0.2.3", ContinentCode="EU"),
        _geo_set("rest", "192.0.2.9", CountryCode="*"),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    (listen,) = json.loads(placed_server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answer(wanted: str, subnet: str, length: int, tcp: bool = False) -> dns.message.Message:
        # The change is answered within route53_dns_cache_seconds: asked until it is.
        found: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            query = dns.message.make_query(NAME, "A")
            query.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(subnet, length)])
            ask = dns.query.tcp if tcp else dns.query.udp
            answered = ask(query, host, timeout=5, port=int(port))
            found = [d.to_text() for r in answered.answer for d in r]
            if found == [wanted]:
                return answered
            time.sleep(0.25)
        raise AssertionError(f"{subnet}/{length}: never answered {wanted}: {found}")

    for tcp in (False, True):
        answer("192.0.2.1", "198.51.100.0", 24, tcp)  # California
        answer("192.0.2.2", "198.51.101.0", 24, tcp)  # Texas: the US set
        answer("192.0.2.3", "203.0.113.0", 24, tcp)  # France: Europe's
        answer("192.0.2.1", "2001:db8:ca::", 56, tcp)
        answer("192.0.2.3", "2001:db8:f7::", 48, tcp)  # Bavaria is no US state
        answer("192.0.2.9", "2001:db8:a0::", 48, tcp)  # Japan: no set, the default
        answer("192.0.2.9", "192.0.2.0", 24, tcp)  # placed nowhere: the default
        # A subnet shorter than its network is not held by it: the default.
        answer("192.0.2.9", "198.51.100.0", 16, tcp)
    scoped = answer("192.0.2.1", "2001:db8:ca::", 56)
    (option,) = [o for o in scoped.options if isinstance(o, dns.edns.ECSOption)]
    # The scope: the subnet asked, at most AWS's longest IPv6 block (/48, decision 0353).
    assert (option.address, option.srclen, option.scopelen) == ("2001:db8:ca::", 56, 48)
    tested = route53.test_dns_answer(
        HostedZoneId=zone_id,
        RecordName=NAME,
        RecordType="A",
        ResolverIP="192.0.2.53",
        EDNS0ClientSubnetIP="203.0.113.0",
        EDNS0ClientSubnetMask="24",
    )
    assert tested["RecordData"] == ["192.0.2.3"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
    )
    route53.delete_hosted_zone(Id=zone_id)


def test_a_database_of_another_type_stops_the_start(tmp_path: Path) -> None:
    asn = write_mmdb(
        tmp_path / "GeoLite2-ASN.mmdb",
        {"192.0.2.0/24": {"autonomous_system_number": 64496}},
        database_type="GeoLite2-ASN",
    )
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_ROUTE53_DNS_LISTEN": f'["127.0.0.1:{free_port()}"]',
        "ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_FILE": str(asn),
    }
    server = ServerProcess(data_dir=tmp_path / "data", port=free_port(), extra_env=env)
    try:
        with pytest.raises(RuntimeError, match="exited early") as refused:
            server.start()
    finally:
        server.stop()
    assert "route53_client_geolocation_file: GeoLite2-ASN.mmdb: a 'GeoLite2-ASN' MaxMind DB" in (
        str(refused.value)
    )
