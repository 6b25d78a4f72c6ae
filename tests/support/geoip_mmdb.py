"""Small real MaxMind DB (``.mmdb``) files for decision 0410's tests, written by the
``mmdb-writer`` package (the binary search tree, data section and metadata of MaxMind's
published format, read back by MaxMind's own ``maxminddb`` reader), with records of the
GeoIP2 schema GeoLite2 and DB-IP ship: ``continent.code``, ``country.iso_code``,
``registered_country.iso_code``, ``subdivisions[].iso_code`` or ``.names.en``,
``location.latitude``, ``.longitude`` and ``.accuracy_radius``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

__all__ = ["geolite2_record", "write_mmdb"]


def geolite2_record(
    continent: str = "",
    country: str = "",
    subdivision: str = "",
    registered: str = "",
    point: tuple[float, float] = (48.8, 2.3),
    radius: int = 20,
) -> dict[str, Any]:
    """A GeoLite2 City record (names and geoname ids as the real ones carry them), located
    at ``point`` (``location``'s latitude and longitude, decision 0413) within ``radius`` km
    (its ``accuracy_radius``, decision 0420)."""
    record: dict[str, Any] = {}
    if continent:
        record["continent"] = {"code": continent, "geoname_id": 6255148, "names": {"en": "x"}}
    if country:
        record["country"] = {"iso_code": country, "geoname_id": 3017382, "names": {"en": "x"}}
    if registered:
        record["registered_country"] = {"iso_code": registered, "geoname_id": 6252001}
    if subdivision:
        record["subdivisions"] = [{"iso_code": subdivision, "names": {"en": "x"}}]
    if continent or country:
        latitude, longitude = point
        record["location"] = {
            "latitude": latitude,
            "longitude": longitude,
            "accuracy_radius": radius,
        }
    return record


def write_mmdb(
    path: Path,
    networks: Mapping[str, Mapping[str, Any]],
    ip_version: int = 6,
    database_type: str = "GeoLite2-City",
) -> Path:
    """``path`` written with ``networks`` (CIDR -> record), inserted in the order given (a
    longer network after the one holding it splits it, as MaxMind's tree does); an IPv6
    database holds the IPv4 networks where MaxMind's do (``::/96``)."""
    writer = MMDBWriter(
        ip_version=ip_version,
        database_type=database_type,
        languages=["en"],
        description="Andromède test data",
        ipv4_compatible=ip_version == 6,
    )
    for network, record in networks.items():
        writer.insert_network(IPSet([network]), dict(record))
    writer.to_db_file(str(path))
    return path
