"""Decision 0420: a GeoIP point's ``accuracy_radius`` (GeoLite2 City blocks' column, a
MaxMind DB record's ``location.accuracy_radius``, km) past
``route53_client_max_accuracy_radius_km`` is not the client's point: the client keeps its
geolocation place (continent, country, subdivision) but is measured as one without
coordinates (S3's Multi-Region Access Points: no nearest Region, 0385's rule then); 0 takes
any radius; a radius that is no whole number of km is a bad line or record."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from andromede.errors import ConfigurationError
from andromede.route53.client_places import ClientRegions, GeoPlace, within_radius
from andromede.route53.geolocation_files import read_geolocation_files
from andromede.route53.geolocation_mmdb import place_of
from andromede.route53.geoproximity import ClientLocations
from andromede.settings import Settings
from andromede.wiring.route53 import route53_limits
from support.geoip_mmdb import geolite2_record, write_mmdb

WARSAW, OSAKA = (52.23, 21.01), (34.69, 135.5)
REGIONS = {"eu-central-1": (50.11, 8.68), "ap-northeast-3": OSAKA}
BLOCKS = """network,geoname_id,registered_country_geoname_id,represented_country_geoname_id,\
is_anonymous_proxy,is_satellite_provider,postal_code,latitude,longitude,accuracy_radius,is_anycast
203.0.113.0/24,756135,798544,,0,0,00-001,52.23,21.01,20,
203.0.114.0/24,756135,798544,,0,0,00-002,52.23,21.01,1000,
203.0.115.0/24,798544,798544,,0,0,,52.0,20.0,1001,
203.0.116.0/24,798544,798544,,0,0,,52.0,20.0,,
"""
LOCATIONS = """geoname_id,locale_code,continent_code,continent_name,country_iso_code,\
country_name,subdivision_1_iso_code,subdivision_1_name,subdivision_2_iso_code,\
subdivision_2_name,city_name,metro_code,time_zone,is_in_european_union
756135,en,EU,Europe,PL,Poland,14,Mazovia,,,Warsaw,,Europe/Warsaw,1
798544,en,EU,Europe,PL,Poland,,,,,,,Europe/Warsaw,1
"""


def net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text)


def test_a_radius_is_within_the_limit_or_not() -> None:
    assert within_radius("20", 1000) and within_radius(1000, 1000)
    assert not within_radius("1001", 1000) and not within_radius(1001, 1000)
    assert within_radius(20000, 0)  # 0: any radius
    assert within_radius("", 1) and within_radius(None, 1)  # no radius given: the point kept
    for bad in ("x", "-5", "1.5", "²", -5, 1.5, True, [20]):
        with pytest.raises(ValueError, match="is no whole number of km"):
            within_radius(bad, 1000)


def test_geolite2_blocks_coarser_than_the_limit_keep_their_place_not_their_point(
    tmp_path: Path,
) -> None:
    (tmp_path / "GeoLite2-City-Blocks-IPv4.csv").write_text(BLOCKS)
    (tmp_path / "GeoLite2-City-Locations-en.csv").write_text(LOCATIONS)
    found = dict(read_geolocation_files(str(tmp_path), 10, max_radius=1000))
    assert found[net("203.0.113.0/24")].point == WARSAW
    assert found[net("203.0.114.0/24")].point == WARSAW  # the limit itself is within it
    coarse = found[net("203.0.115.0/24")]
    assert coarse == GeoPlace("EU", "PL") and coarse.point is None
    assert found[net("203.0.116.0/24")].point == (52.0, 20.0)  # no radius: kept
    anything = dict(read_geolocation_files(str(tmp_path), 10, max_radius=0))
    assert anything[net("203.0.115.0/24")].point == (52.0, 20.0)
    (tmp_path / "GeoLite2-City-Blocks-IPv4.csv").write_text(
        BLOCKS + "192.0.2.0/24,756135,798544,,0,0,,52.2,21.0,far,\n"
    )
    with pytest.raises(ValueError, match=r"IPv4\.csv line 6: accuracy_radius 'far' is no whole"):
        read_geolocation_files(str(tmp_path), 10, max_radius=1000)


def test_a_maxmind_record_coarser_than_the_limit_has_no_point() -> None:
    coarse = place_of(geolite2_record("AS", "JP", point=OSAKA, radius=1500), 1000)
    assert coarse == GeoPlace("AS", "JP") and coarse is not None and coarse.point is None
    fine = place_of(geolite2_record("AS", "JP", point=OSAKA, radius=1000), 1000)
    assert fine is not None and fine.point == OSAKA
    anything = place_of(geolite2_record("AS", "JP", point=OSAKA, radius=1500), 0)
    assert anything is not None and anything.point == OSAKA
    record = geolite2_record("AS", "JP", point=OSAKA)
    record["location"]["accuracy_radius"] = "far"
    with pytest.raises(ValueError, match="accuracy_radius 'far' is no whole number of km"):
        place_of(record, 1000)


def test_the_setting_drops_coarse_points_for_every_reader(tmp_path: Path) -> None:
    database = write_mmdb(
        tmp_path / "GeoLite2-City.mmdb",
        {
            "198.51.100.0/24": geolite2_record("AS", "JP", point=OSAKA, radius=50),
            "198.51.101.0/24": geolite2_record("AS", "JP", point=OSAKA, radius=500),
        },
    )
    settings = Settings(
        route53_client_geolocation_file=str(database), route53_client_max_accuracy_radius_km=100
    )
    geography = route53_limits(settings).geography
    assert geography is not None
    nearest = ClientRegions(geography, ClientLocations({}, {}), REGIONS).nearest
    assert nearest("198.51.100.7", REGIONS) == "ap-northeast-3"
    # Too coarse: no point, so no nearest Region (the caller's fallback rule), but its
    # country still places it for geolocation sets.
    assert nearest("198.51.101.7", REGIONS) is None
    coarse = geography.place(net("198.51.101.7/32"))
    assert coarse.geo == GeoPlace("AS", "JP") and coarse.point is None
    wide = route53_limits(Settings(route53_client_geolocation_file=str(database))).geography
    assert wide is not None and wide.place(net("198.51.101.7/32")).point == OSAKA  # 1000 km
    bad = tmp_path / "bad.mmdb"
    record = geolite2_record("AS", "JP", point=OSAKA)
    record["location"]["accuracy_radius"] = -1
    write_mmdb(bad, {"198.51.100.0/24": record})
    with pytest.raises(
        ConfigurationError,
        match=r"bad\.mmdb: network 198\.51\.100\.0/24: accuracy_radius '-1' is no whole",
    ):
        route53_limits(Settings(route53_client_geolocation_file=str(bad)))


def test_the_radius_setting() -> None:
    assert Settings().route53_client_max_accuracy_radius_km == 1000
    assert (
        Settings(route53_client_max_accuracy_radius_km=0).route53_client_max_accuracy_radius_km == 0
    )
    with pytest.raises(ValueError):
        Settings(route53_client_max_accuracy_radius_km=-1)
    with pytest.raises(ValueError):
        Settings(route53_client_max_accuracy_radius_km=20001)
