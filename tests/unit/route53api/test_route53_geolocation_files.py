"""Decision 0404: the clients' places read from MaxMind's GeoLite2 CSV (blocks joined with
locations by geoname_id, a directory or a list of files) and DB-IP's city lite CSV (ranges
turned into CIDR networks) place clients as the platform's own CSV does; Route 53's
subdivision codes (US states only); a bad row names its file and line; the bound holds."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from andromede.errors import ConfigurationError
from andromede.route53.client_places import ClientGeography, GeoPlace
from andromede.route53.geolocation_files import load_geography, read_geolocation_files
from andromede.settings import Settings
from andromede.wiring.route53 import route53_limits

OWN = """network,continent,country,subdivision
198.51.100.0/24,NA,US,CA
198.51.0.0/16,NA,US,
203.0.113.0/24,EU,FR,
2001:db8::/32,OC,AU,
"""
BLOCKS_V4 = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,\
is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
198.51.100.0/24,5332921,6252001,,0,0,94103,37.7,-122.4,10,
198.51.0.0/16,,6252001,,0,0,,,,100,
203.0.113.0/24,2988507,3017382,,0,0,75001,48.8,2.3,20,
192.0.2.0/24,,,,0,1,,,,,
"""
BLOCKS_V6 = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,\
is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
2001:db8::/32,2077456,2077456,,0,0,,,,1000,
"""
LOCATIONS = """geoname_id,locale_code,continent_code,continent_name,country_iso_code,\
country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,\
subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union
5332921,en,NA,"North America",US,"United States",CA,California,,,,,America/Los_Angeles,0
6252001,en,NA,"North America",US,"United States",,,,,,,America/Chicago,0
2988507,en,EU,Europe,FR,France,IDF,Île-de-France,75,Paris,Paris,,Europe/Paris,1
3017382,en,EU,Europe,FR,France,,,,,,,,1
2077456,en,OC,Oceania,AU,Australia,,,,,,,Australia/Sydney,0
"""
# DB-IP's city lite: no header; a range is turned into the CIDR networks covering it.
DBIP = """198.51.0.0,198.51.99.255,NA,US,Texas,Austin,30.2,-97.7
198.51.100.0,198.51.100.255,NA,US,California,"San Francisco",37.7,-122.4
198.51.101.0,198.51.255.255,NA,US,Texas,Austin,30.2,-97.7
203.0.113.0,203.0.113.255,EU,FR,Île-de-France,Paris,48.8,2.3
192.0.2.0,192.0.2.255,ZZ,ZZ,,,0,0
2001:db8::,2001:db8:ffff:ffff:ffff:ffff:ffff:ffff,OC,AU,"New South Wales",Sydney,-33.8,151.2
"""
CLIENTS = {
    "198.51.100.7/32": GeoPlace("NA", "US", "CA"),
    "198.51.7.7/32": GeoPlace("NA", "US", ""),
    "203.0.113.9/32": GeoPlace("EU", "FR", ""),
    "2001:db8:1::/48": GeoPlace("OC", "AU", ""),
    "192.0.2.1/32": None,
}


def geolite2(folder: Path) -> Path:
    folder.mkdir()
    (folder / "GeoLite2-City-Blocks-IPv4.csv").write_text(BLOCKS_V4)
    (folder / "GeoLite2-City-Blocks-IPv6.csv").write_text(BLOCKS_V6)
    (folder / "GeoLite2-City-Locations-en.csv").write_text(LOCATIONS)
    return folder


def places(geography: ClientGeography | None) -> dict[str, GeoPlace | None]:
    assert geography is not None
    return {c: geography.place(ipaddress.ip_network(c)).geo for c in CLIENTS}


def test_every_format_places_the_clients_alike(tmp_path: Path) -> None:
    own, dbip = tmp_path / "own.csv", tmp_path / "dbip-city-lite-2026-12.csv"
    own.write_text(OWN)
    dbip.write_text(DBIP)
    folder = geolite2(tmp_path / "geolite2")
    dbip_places = places(load_geography(str(dbip), 100, {}, given="dbip"))
    # Texas's networks are in Texas for DB-IP (a state there), the US for the others.
    assert dbip_places.pop("198.51.7.7/32") == GeoPlace("NA", "US", "TX")
    expected = dict(CLIENTS)
    del expected["198.51.7.7/32"]
    assert dbip_places == expected
    assert places(load_geography(str(own), 100, {})) == CLIENTS
    assert places(load_geography(str(folder), 100, {}, given="geolite2")) == CLIENTS
    # Recognised by their first lines under the default format; files listed one by one.
    listed = os.pathsep.join(str(folder / n) for n in sorted(os.listdir(folder)))
    assert places(load_geography(listed, 100, {})) == CLIENTS
    assert (
        places(load_geography(str(dbip), 100, {}))["198.51.100.7/32"] == CLIENTS["198.51.100.7/32"]
    )


def test_subdivisions_are_what_route53_compares(tmp_path: Path) -> None:
    folder = geolite2(tmp_path / "g")
    networks = dict(read_geolocation_files(str(folder), 100, "geolite2"))
    # California's ISO 3166-2 part kept for the US; Île-de-France's dropped (no set names it).
    assert networks[ipaddress.ip_network("198.51.100.0/24")].subdivision == "CA"
    assert networks[ipaddress.ip_network("203.0.113.0/24")] == GeoPlace("EU", "FR", "")
    (folder / "GeoLite2-City-Locations-en.csv").write_text(
        LOCATIONS.replace(',US,"United States",CA,', ',US,"United States",US-CA,')
        + "6255148,en,EU,Europe,,,,,,,,,,0\n"
        + "2951839,en,EU,Europe,DE,Germany,BY,Bavaria,,,,,,1\n"
    )
    (folder / "GeoLite2-City-Blocks-IPv6.csv").write_text(
        BLOCKS_V6 + "2001:db9::/32,6255148,,,0,0,,,,,\n2001:dba::/32,2951839,,,0,0,,,,,\n"
    )
    networks = dict(read_geolocation_files(str(folder), 100, "geolite2"))
    assert networks[ipaddress.ip_network("198.51.100.0/24")].subdivision == "CA"
    # A network GeoLite2 places by its continent only answers its continent's set.
    assert networks[ipaddress.ip_network("2001:db9::/32")] == GeoPlace("EU", "", "")
    # Bavaria's two letters are no US state: Germany's network answers Germany's set.
    assert networks[ipaddress.ip_network("2001:dba::/32")] == GeoPlace("EU", "DE", "")


def test_a_bad_row_names_its_file_and_line(tmp_path: Path) -> None:
    folder = geolite2(tmp_path / "g")
    settings = Settings(
        route53_client_geolocation_file=str(folder), route53_client_geolocation_format="geolite2"
    )
    assert route53_limits(settings).geography is not None
    blocks = folder / "GeoLite2-City-Blocks-IPv4.csv"
    blocks.write_text(BLOCKS_V4 + "10.0.0.0/8,999,,,0,0,,,,,\n")
    with pytest.raises(
        ConfigurationError, match=r"GeoLite2-City-Blocks-IPv4\.csv line 6: geoname_id '999'"
    ):
        route53_limits(settings)
    blocks.write_text(BLOCKS_V4 + "10.0.0.0/33,6252001,,,0,0,,,,,\n")
    with pytest.raises(ConfigurationError, match=r"IPv4\.csv line 6: '10.0.0.0/33' is no network"):
        route53_limits(settings)
    blocks.write_text(BLOCKS_V4)
    locations = folder / "GeoLite2-City-Locations-en.csv"
    locations.write_text(LOCATIONS + "1,en,XX,Nowhere,FR,France,,,,,,,,1\n")
    with pytest.raises(ConfigurationError, match=r"Locations-en\.csv line 7: 'XX' is no continent"):
        route53_limits(settings)
    locations.unlink()
    with pytest.raises(ConfigurationError, match="need their locations file"):
        route53_limits(settings)
    dbip = tmp_path / "dbip.csv"
    dbip.write_text(DBIP + "10.0.0.9,10.0.0.1,EU,FR,,,0,0\n")
    dbip_settings = Settings(route53_client_geolocation_file=str(dbip))
    with pytest.raises(ConfigurationError, match=r"dbip\.csv line 7: .* is no address range"):
        route53_limits(dbip_settings)
    dbip.write_text("1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,QQ\n")  # the country lite file
    with pytest.raises(ConfigurationError, match=r"dbip\.csv line 2: 'QQ' is no country code"):
        route53_limits(dbip_settings)
    dbip.write_text("1.0.0.0,1.0.0.255,AU,EU\n")  # neither lite file
    with pytest.raises(ConfigurationError, match=r"dbip\.csv line 1: 'AU' is no continent"):
        route53_limits(dbip_settings)
    # Told the GeoLite2 format, the platform's own CSV is refused by its header.
    own = tmp_path / "own.csv"
    own.write_text(OWN)
    with pytest.raises(ValueError, match="need their locations file"):
        read_geolocation_files(str(own), 100, "geolite2")
    with_locations = os.pathsep.join(
        (str(own), str(geolite2(tmp_path / "g2") / "GeoLite2-City-Locations-en.csv"))
    )
    with pytest.raises(ValueError, match=r"own\.csv line 1: the header lacks geoname_id"):
        read_geolocation_files(with_locations, 100, "geolite2")
    with pytest.raises(ValueError):
        Settings(route53_client_geolocation_format="dat")  # legacy GeoIP: not read


def test_the_bound_holds_in_every_format(tmp_path: Path) -> None:
    folder = geolite2(tmp_path / "g")
    assert len(read_geolocation_files(str(folder), 4, "geolite2")) == 4
    with pytest.raises(ValueError, match=r"IPv6\.csv: more than 3 networks"):
        read_geolocation_files(str(folder), 3, "geolite2")
    dbip = tmp_path / "dbip.csv"
    dbip.write_text(DBIP)
    total = len(read_geolocation_files(str(dbip), 1000, "dbip"))
    assert total > 5  # 198.51.101.0-198.51.255.255 is several CIDR networks
    with pytest.raises(ValueError, match=f"more than {total - 1} networks"):
        read_geolocation_files(str(dbip), total - 1, "dbip")
    own = tmp_path / "own.csv"
    own.write_text(OWN)
    both = os.pathsep.join((str(own), str(dbip)))
    with pytest.raises(ValueError, match=r"dbip\.csv: more than"):
        read_geolocation_files(both, total, "andromede")
