"""Decision 0420 end to end: an ``andromede serve`` whose ``route53_client_geolocation_file``
(a GeoLite2 City MaxMind DB written by the test) is replaced where it is, as geoipupdate
does, while it runs: within ``route53_client_geolocation_reload_interval`` the public name
servers answer dnspython's queries by the new version's places, the same process still
serving; a broken replacement is refused with a warning naming the setting, the previous
version answering."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import dns.edns
import dns.message
import dns.query
import pytest

from e2e.iam_helpers import client_for, new_tenant
from support.geoip_mmdb import geolite2_record, write_mmdb
from support.server import ServerProcess, free_port, running_server

pytestmark = pytest.mark.e2e

NAME = "www.reloaded-places.example"
CLIENT = "198.51.100.0"


@pytest.fixture
def placed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("reload")
    database = write_mmdb(
        folder / "GeoLite2-City.mmdb", {"198.51.100.0/24": geolite2_record("EU", "FR")}
    )
    env = {
        "ANDROMEDE_WORKERS": "1",
        "ANDROMEDE_ROUTE53_DNS_LISTEN": f'["127.0.0.1:{free_port()}"]',
        "ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_FILE": str(database),
        "ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_RELOAD_INTERVAL": "0.5",
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


def test_a_replaced_database_answers_without_a_restart(placed_server: ServerProcess) -> None:
    tenant = new_tenant(placed_server, "route53-reload")
    route53: Any = client_for(
        placed_server, "route53", tenant.access_key_id, tenant.secret_access_key
    )
    zone_id = route53.create_hosted_zone(Name="reloaded-places.example.", CallerReference="r")[
        "HostedZone"
    ]["Id"]
    sets = [
        _geo_set("france", "192.0.2.1", CountryCode="FR"),
        _geo_set("us", "192.0.2.2", CountryCode="US"),
        _geo_set("rest", "192.0.2.9", CountryCode="*"),
    ]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": s} for s in sets]},
    )
    (listen,) = json.loads(placed_server.extra_env["ANDROMEDE_ROUTE53_DNS_LISTEN"])
    host, port = listen.rsplit(":", 1)

    def answered() -> list[str]:
        query = dns.message.make_query(NAME, "A")
        query.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(CLIENT, 24)])
        answer = dns.query.udp(query, host, timeout=5, port=int(port))
        return [d.to_text() for r in answer.answer for d in r]

    def until(wanted: str) -> None:
        found: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = answered()
            if found == [wanted]:
                return
            time.sleep(0.25)
        raise AssertionError(f"never answered {wanted}: {found}")

    until("192.0.2.1")  # France's set
    pids = placed_server.pids()
    database = placed_server.extra_env["ANDROMEDE_ROUTE53_CLIENT_GEOLOCATION_FILE"]
    folder = os.path.dirname(database)
    written = write_mmdb(
        placed_server.data_dir.with_name("next.mmdb"),
        {"198.51.100.0/24": geolite2_record("NA", "US", "CA")},
    )
    os.replace(written, database)  # as geoipupdate replaces it
    until("192.0.2.2")  # the United States' set, from the new version
    assert placed_server.pids() == pids  # not restarted
    whole = write_mmdb(
        placed_server.data_dir.with_name("whole.mmdb"),
        {"198.51.100.0/24": geolite2_record("AS", "JP")},
    ).read_bytes()
    broken = os.path.join(folder, "broken.mmdb")
    with open(broken, "wb") as cut:  # a download cut off half way: no metadata
        cut.write(whole[: len(whole) // 2])
    os.replace(broken, database)
    assert placed_server.log_path is not None
    deadline = time.monotonic() + 30
    while "the new version is refused" not in placed_server.log_path.read_text(errors="replace"):
        assert time.monotonic() < deadline, "the broken version was never refused"
        time.sleep(0.25)
    log = placed_server.log_path.read_text(errors="replace")
    assert "route53_client_geolocation_file: the new version is refused" in log
    assert answered() == ["192.0.2.2"]  # the previous version still answers
    assert placed_server.pids() == pids
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={"Changes": [{"Action": "DELETE", "ResourceRecordSet": s} for s in sets]},
    )
    route53.delete_hosted_zone(Id=zone_id)
