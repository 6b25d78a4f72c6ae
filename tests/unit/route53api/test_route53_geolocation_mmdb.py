"""Decision 0410: the clients' places read from MaxMind DB (``.mmdb``) files, GeoLite2's and
DB-IP's, looked up in the mapped file by MaxMind's C reader and its pure-Python one alike:
IPv4 and IPv6 clients placed as decision 0404 places the same data's CSV export (the
registered country alone given its continent by decision 0413's table); a client subnet
shorter than its network placed nowhere; recognised by the metadata marker or named; a
malformed file, a database of another type, or one beside other files refused at start naming
the setting; a corrupt record past the ones checked at start places its client nowhere, said
once."""

from __future__ import annotations

import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

import maxminddb
import pytest

from andromede.errors import ConfigurationError
from andromede.route53.answers import ZoneSet
from andromede.route53.client_places import ClientGeography, GeoPlace, choose_by_location
from andromede.route53.geolocation_files import load_geography
from andromede.route53.geolocation_mmdb import METADATA_MARKER, is_mmdb, open_mmdb, place_of
from andromede.settings import Settings
from andromede.wiring.route53 import route53_limits
from support.geoip_mmdb import geolite2_record, write_mmdb

# The data of test_route53_geolocation_files.py's GeoLite2 CSV, as GeoLite2-City.mmdb holds it.
GEOLITE2: dict[str, dict[str, Any]] = {
    "198.51.0.0/16": geolite2_record(registered="US"),  # no geoname_id: its registered country
    "198.51.100.0/24": geolite2_record("NA", "US", "CA", registered="US"),
    "203.0.113.0/24": geolite2_record("EU", "FR", "IDF", registered="FR"),
    "2001:db8::/32": geolite2_record("OC", "AU", registered="AU"),
    "2001:db9::/32": geolite2_record("EU", registered="FR"),  # placed by its continent only
    "2001:dba::/32": geolite2_record("EU", "DE", "BY"),  # Bavaria: no US state
}
CLIENTS = {
    "198.51.100.7/32": GeoPlace("NA", "US", "CA"),
    "198.51.100.0/24": GeoPlace("NA", "US", "CA"),
    "198.51.7.7/32": GeoPlace("NA", "US", ""),  # the registered country's continent (0413)
    "203.0.113.9/32": GeoPlace("EU", "FR", ""),
    "2001:db8:1::/48": GeoPlace("OC", "AU", ""),
    "2001:db9::1/128": GeoPlace("EU", "", ""),
    "2001:dba::/64": GeoPlace("EU", "DE", ""),
    "192.0.2.1/32": None,  # in no network
    "2001:db7::/48": None,
    # A client subnet shorter than the one network holding its address is not held by it.
    "198.51.100.0/23": None,
    "2001:db8::/31": None,
}
# The pure-Python reader over mmap, and the default: the C reader over mmap where installed.
MODES = [maxminddb.MODE_MMAP, maxminddb.MODE_AUTO]


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def places(geography: ClientGeography | None) -> dict[str, GeoPlace | None]:
    assert geography is not None
    return {c: geography.place(net(c)).geo for c in CLIENTS}


@pytest.mark.parametrize("mode", MODES)
def test_a_geolite2_database_places_ipv4_and_ipv6_clients(tmp_path: Path, mode: int) -> None:
    database = write_mmdb(tmp_path / "GeoLite2-City.mmdb", GEOLITE2)
    found = open_mmdb(database, mode)
    try:
        geography = ClientGeography(found, {"203.0.113.0/24": "eu-west-3"})
        assert places(geography) == CLIENTS
        assert geography.networks == 0  # mapped, not held
        placed = geography.place(net("203.0.113.9/32"))
        assert placed.by_geo and placed.region == "eu-west-3"
    finally:
        found.close()


def test_a_place_without_a_continent_answers_its_countrys_set_not_a_continents() -> None:
    def geo_set(identifier: str, continent: str = "", country: str = "") -> ZoneSet:
        return ZoneSet("www.geo.test.", "A", 60, ("192.0.2.1",), "geo", identifier, None, None,
                       None, True, None, geo=(continent, country, ""))  # fmt: skip

    us, na, default = geo_set("us", country="US"), geo_set("na", "NA"), geo_set("*", "", "*")
    registered = GeoPlace("", "US", "")
    assert choose_by_location([na, us, default], [na, us, default], registered) == [us]
    assert choose_by_location([na, default], [na, default], registered) == [default]


def test_a_dbip_database_names_states_and_its_unknown_places_nowhere(tmp_path: Path) -> None:
    def dbip(continent: str, country: str, state: str = "") -> dict[str, Any]:
        record: dict[str, Any] = {
            "continent": {"code": continent, "names": {"en": "x"}},
            "country": {"iso_code": country, "is_in_european_union": False},
            "location": {"latitude": 30.2, "longitude": -97.7},
        }
        if state:
            record["subdivisions"] = [{"names": {"en": state}}]
        return record

    database = write_mmdb(
        tmp_path / "dbip-city-lite-2026-12.mmdb",
        {
            "198.51.0.0/17": dbip("NA", "US", "Texas"),
            "198.51.128.0/17": dbip("NA", "US", "California"),
            "203.0.113.0/24": dbip("EU", "FR", "Île-de-France"),
            "192.0.2.0/24": dbip("", "ZZ"),
            "2001:db8::/32": dbip("OC", "AU", "New South Wales"),
        },
        database_type="DBIP-City-Lite",
    )
    geography = load_geography(str(database), 1, {})  # the bound: not of a mapped file
    assert geography is not None
    assert geography.place(net("198.51.7.7/32")).geo == GeoPlace("NA", "US", "TX")
    assert geography.place(net("198.51.200.0/24")).geo == GeoPlace("NA", "US", "CA")
    assert geography.place(net("203.0.113.0/24")).geo == GeoPlace("EU", "FR", "")
    assert geography.place(net("192.0.2.1/32")).geo is None
    assert geography.place(net("2001:db8::/48")).geo == GeoPlace("OC", "AU", "")


@pytest.mark.parametrize("mode", MODES)
def test_an_ipv4_country_database_places_no_ipv6_client(tmp_path: Path, mode: int) -> None:
    database = write_mmdb(
        tmp_path / "GeoLite2-Country.mmdb",
        {"203.0.113.0/24": geolite2_record("EU", "FR")},
        ip_version=4,
        database_type="GeoLite2-Country",
    )
    found = open_mmdb(database, mode)
    try:
        assert found.find(net("203.0.113.0/24")) == GeoPlace("EU", "FR", "")
        assert found.find(net("2001:db8::/48")) is None
    finally:
        found.close()


def test_the_database_is_recognised_or_named(tmp_path: Path) -> None:
    database = write_mmdb(tmp_path / "GeoLite2-City.mmdb", GEOLITE2)
    assert is_mmdb(database) and METADATA_MARKER in database.read_bytes()[-4096:]
    assert places(load_geography(str(database), 10, {})) == CLIENTS  # by its marker
    assert places(load_geography(str(database), 10, {}, given="mmdb")) == CLIENTS
    # A GeoLite2 archive unpacked as it is: the database beside its licence.
    (tmp_path / "LICENSE.txt").write_text("GeoLite2 End User License Agreement\n")
    assert places(load_geography(str(tmp_path), 10, {})) == CLIENTS
    settings = Settings(
        route53_client_geolocation_file=str(database), route53_client_geolocation_format="mmdb"
    )
    geography = route53_limits(settings).geography
    assert (
        geography is not None
        and geography.place(net("198.51.100.7/32")).geo == CLIENTS["198.51.100.7/32"]
    )
    own = tmp_path / "own.csv"
    own.write_text("network,continent,country,subdivision\n10.0.0.0/8,EU,FR,\n")
    assert not is_mmdb(own)
    with pytest.raises(ValueError, match=r"own\.csv: no MaxMind DB \(no metadata marker\)"):
        load_geography(str(own), 10, {}, given="mmdb")
    with pytest.raises(ValueError, match=r"GeoLite2-City\.mmdb: a MaxMind DB, not a geolite2"):
        load_geography(str(database), 10, {}, given="geolite2")
    with pytest.raises(ValueError, match="a MaxMind DB is given alone"):
        load_geography(os.pathsep.join((str(own), str(database))), 10, {})
    # The CSV formats still read as before beside it.
    assert load_geography(str(own), 10, {}) is not None


def _refused(file: Path, match: str, fmt: str = "andromede") -> None:
    settings = Settings(
        route53_client_geolocation_file=str(file),
        route53_client_geolocation_format=fmt,  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigurationError, match=f"^route53_client_geolocation_file: .*{match}"):
        route53_limits(settings)


def test_a_malformed_or_wrong_database_stops_the_start(tmp_path: Path) -> None:
    data = write_mmdb(tmp_path / "good.mmdb", GEOLITE2).read_bytes()
    metadata = data.rfind(METADATA_MARKER)
    bad_tree = tmp_path / "bad-tree.mmdb"
    bad_tree.write_bytes(b"\xff" * 64 + data[64:])
    _refused(bad_tree, r"bad-tree\.mmdb: no valid MaxMind DB \(.*search tree is corrupt")
    bad_data = tmp_path / "bad-data.mmdb"
    bad_data.write_bytes(data[: metadata - 200] + b"\xee" * 200 + data[metadata:])
    _refused(bad_data, r"bad-data\.mmdb: no valid MaxMind DB")
    cut = tmp_path / "cut.mmdb"
    cut.write_bytes(data[: metadata + 24])  # the metadata cut short
    _refused(cut, r"cut\.mmdb: no valid MaxMind DB")
    cut.write_bytes(data[:metadata])  # no metadata at all: no MaxMind DB when named so
    _refused(cut, r"cut\.mmdb: no MaxMind DB \(no metadata marker\)", "mmdb")
    asn = write_mmdb(
        tmp_path / "GeoLite2-ASN.mmdb",
        {"192.0.2.0/24": {"autonomous_system_number": 64496}},
        database_type="GeoLite2-ASN",
    )
    _refused(asn, r"a 'GeoLite2-ASN' MaxMind DB places no client")
    mislabelled = write_mmdb(
        tmp_path / "city.mmdb", {"192.0.2.0/24": {"autonomous_system_number": 64496}}
    )
    _refused(mislabelled, r"city\.mmdb: no record of its first networks names a country")
    wrong = write_mmdb(tmp_path / "wrong.mmdb", {"192.0.2.0/24": {"continent": {"code": "XX"}}})
    _refused(wrong, r"wrong\.mmdb: network 192\.0\.2\.0/24: 'XX' is no continent code")
    shaped = write_mmdb(tmp_path / "shaped.mmdb", {"192.0.2.0/24": {"country": "FR"}})
    _refused(shaped, r"shaped\.mmdb: network 192\.0\.2\.0/24: country\.iso_code is no text")


def test_a_record_of_another_shape_is_refused_by_its_field() -> None:
    assert place_of({"traits": {"is_anycast": True}}) is None
    for record, why in (
        ([1, 2], "the record is no map"),
        ({"country": {"iso_code": "FRA"}}, "'FRA' is no country code"),
        ({"continent": {"code": 7}}, r"continent\.code is no text"),
        ({"country": {"iso_code": "US"}, "subdivisions": "CA"}, "subdivisions is no list"),
    ):
        with pytest.raises(ValueError, match=why):
            place_of(record)  # type: ignore[arg-type]


@pytest.mark.parametrize("mode", MODES)
def test_a_corrupt_record_past_the_checked_ones_places_its_client_nowhere(
    tmp_path: Path, mode: int, caplog: pytest.LogCaptureFixture
) -> None:
    # More networks than the start checks, the last one's record not of the schema.
    networks = {f"10.{i // 256}.{i % 256}.0/24": geolite2_record("EU", "FR") for i in range(300)}
    networks["10.1.43.0/24"] = {"continent": {"code": "XX"}}
    found = open_mmdb(write_mmdb(tmp_path / "late.mmdb", networks), mode)
    try:
        with caplog.at_level(logging.WARNING, "andromede.route53.geolocation_mmdb"):
            assert found.find(net("10.1.43.7/32")) is None
            assert found.find(net("10.1.43.8/32")) is None
            assert found.find(net("10.1.42.7/32")) == GeoPlace("EU", "FR", "")
        warned = [r.getMessage() for r in caplog.records]
        assert warned == ["route53_client_geolocation_file late.mmdb: 'XX' is no continent code"]
    finally:
        found.close()
