"""MaxMind DB (``.mmdb``) files placing the public name servers' clients (decision 0410):
MaxMind's GeoLite2 / GeoIP2 City and Country databases and DB-IP's city and country lite
ones, as their publishers ship them.

The file is mapped, not read into Python objects: each client is looked up in the
database's own search tree (``maxminddb``'s C reader over ``mmap``, else its pure-Python
reader over ``mmap``), so a database of millions of networks costs the pages the lookups
touch, in the page cache, and ``route53_client_geolocation_max_networks`` (a bound on what is
held in memory) does not apply to it.

A record places its network as decision 0404 places a CSV export's row: by its own place
(``continent``, ``country``, the first of ``subdivisions``: ISO 3166-2's part after the
country, or DB-IP's state name, kept for the United States only,
:func:`~andromede.route53.geolocation_codes.route53_subdivision`), a continent alone placing
it by its continent; else (GeoLite2 gives no place of their own to some anycast and satellite
networks, as its CSV no ``geoname_id``) by ``registered_country``, its continent taken from
``country_continents.py`` (decision 0413: the database keeps none beside it, the CSV's
locations file gave it). The record's ``location`` (``latitude``, ``longitude``) is the
network's point (decision 0413), unless its ``accuracy_radius`` (km) exceeds
``route53_client_max_accuracy_radius_km`` (decision 0420: no point, the place kept).
A record placing nothing (DB-IP's ``ZZ`` too) places its network nowhere: the default answers.

The tree holds each address in exactly one network, so the network found for a client
subnet's first address, when longer than the subnet, is the only candidate and does not hold
it (decision 0353's rule): the client is placed nowhere, as a GeoLite2 CSV export of the same
data places it (its blocks do not nest either)."""

from __future__ import annotations

import itertools
import logging
import os
from pathlib import Path
from typing import Final

import maxminddb
from maxminddb.types import Record

from andromede.route53.cidr_match import ClientNetwork
from andromede.route53.client_places import CONTINENTS, GeoPlace, coordinates, within_radius
from andromede.route53.country_continents import continent_of
from andromede.route53.geolocation_codes import route53_subdivision
from andromede.route53.geoproximity import Point

__all__ = ["METADATA_MARKER", "MmdbPlaces", "is_mmdb", "open_mmdb", "place_of"]

log = logging.getLogger(__name__)

# The MaxMind DB spec: the metadata follow the last occurrence of this marker, within the
# file's last 128 KiB.
METADATA_MARKER: Final = b"\xab\xcd\xefMaxMind.com"
_METADATA_SPAN: Final = 128 * 1024
# The GeoIP2 schema's databases (City, Country, Enterprise; DB-IP's lite files are "DBIP-
# City-Lite" and "DBIP-Country-Lite", its commercial ones "... (compat=City)"): the others
# (ASN, ISP, Anonymous IP, Connection Type, Domain) place nothing.
_PLACE_TYPES: Final = ("city", "country", "enterprise")
_UNKNOWN: Final = "ZZ"  # ISO 3166's "unknown", DB-IP's reserved ranges (as its CSV: 0404)
_SAMPLED: Final = 256  # records checked at start, beside the metadata


def is_mmdb(file: Path) -> bool:
    """Whether ``file`` carries a MaxMind DB's metadata marker where the spec puts it."""
    with file.open("rb") as data:
        size = data.seek(0, os.SEEK_END)
        data.seek(max(0, size - _METADATA_SPAN))
        return METADATA_MARKER in data.read()


def _code(record: dict[str, Record], key: str, field: str) -> str:
    """``record[key][field]`` as an upper-case code, "" when absent; ``ValueError`` when the
    record is not of the GeoIP2 schema's shape."""
    part = record.get(key)
    if part is None:
        return ""
    value = part.get(field, "") if isinstance(part, dict) else None
    if not isinstance(value, str):
        raise ValueError(f"{key}.{field} is no text")
    return value.strip().upper()


def _subdivision(record: dict[str, Record]) -> str:
    subdivisions = record.get("subdivisions")
    if subdivisions is None:
        return ""
    if not isinstance(subdivisions, list):
        raise ValueError("subdivisions is no list")
    if not subdivisions or not isinstance(first := subdivisions[0], dict):
        return ""
    code = first.get("iso_code")
    if isinstance(code, str) and code:
        return code
    names = first.get("names")  # DB-IP's lite databases name the state only
    english = names.get("en") if isinstance(names, dict) else None
    return english if isinstance(english, str) else ""


def place_of(record: Record, max_radius: int = 0) -> GeoPlace | None:
    """The place of a GeoIP2-schema record as Route 53 compares it (the rules above), its
    point kept when within ``max_radius`` km (0: any), None when it places nothing;
    ``ValueError`` when it is not of that schema."""
    if not isinstance(record, dict):
        raise ValueError("the record is no map")
    continent = _code(record, "continent", "code")
    country = _code(record, "country", "iso_code")
    if not continent and not country:  # no place of its own (0404: no geoname_id)
        country = _code(record, "registered_country", "iso_code")
        continent = continent_of(country)  # 0413: the country's, as GeoLite2's CSV gives it
    country = "" if country == _UNKNOWN else country
    if continent and continent not in CONTINENTS:
        raise ValueError(f"{continent[:8]!r} is no continent code")
    if country and not (len(country) == 2 and country.isalpha()):
        raise ValueError(f"{country[:8]!r} is no country code")
    point = _point(record, max_radius)
    if not continent and not country:  # DB-IP's reserved ranges: their point means nothing
        return None
    subdivision = route53_subdivision(country, _subdivision(record))
    return GeoPlace(continent, country, subdivision, point)


def _point(record: dict[str, Record], max_radius: int) -> Point | None:
    """The record's ``location`` (decision 0413), None when it has none or one less
    precise than ``max_radius`` km (decision 0420)."""
    location = record.get("location")
    if location is None:
        return None
    if not isinstance(location, dict):
        raise ValueError("location is no map")
    point = coordinates(location.get("latitude", ""), location.get("longitude", ""))
    precise = within_radius(location.get("accuracy_radius"), max_radius)
    return point if precise else None


class MmdbPlaces:
    """The places of one MaxMind DB, looked up in its mapped search tree."""

    def __init__(self, reader: maxminddb.Reader, name: str, max_radius: int = 0) -> None:
        self._reader = reader
        self._name = name
        self._max_radius = max_radius
        self._ipv4_only = reader.metadata().ip_version == 4
        self._warned = False

    def find(self, client: ClientNetwork) -> GeoPlace | None:
        """The place of the one network holding ``client`` (the rules above), None when the
        database places it nowhere."""
        if client.version == 6 and self._ipv4_only:
            return None
        try:
            record, length = self._reader.get_with_prefix_len(client.network_address)
            if record is None or length > client.prefixlen:
                return None
            return place_of(record, self._max_radius)
        except (maxminddb.InvalidDatabaseError, ValueError) as exc:
            # A corrupt record past the ones checked at start: that client is placed
            # nowhere, the others still answered; said once, not once a query.
            if not self._warned:
                self._warned = True
                log.warning("route53_client_geolocation_file %s: %s", self._name, exc)
            return None

    @property
    def closed(self) -> bool:
        return bool(self._reader.closed)

    def close(self) -> None:
        self._reader.close()


def _check(reader: maxminddb.Reader, name: str, max_radius: int) -> None:
    kind = reader.metadata().database_type
    if not any(word in kind.lower() for word in _PLACE_TYPES):
        raise ValueError(
            f"{name}: a {kind[:64]!r} MaxMind DB places no client (a City or Country"
            " database is wanted)"
        )
    placing = False
    for network, record in itertools.islice(reader, _SAMPLED):
        try:
            placing = place_of(record, max_radius) is not None or placing
        except ValueError as exc:
            raise ValueError(f"{name}: network {network}: {exc}") from None
    if not placing:
        raise ValueError(f"{name}: no record of its first networks names a country or continent")


def open_mmdb(file: Path, mode: int = maxminddb.MODE_AUTO, max_radius: int = 0) -> MmdbPlaces:
    """The MaxMind DB ``file`` mapped and checked (its metadata, its type, its first
    records); ``ValueError`` naming the file when it is malformed or places nothing. Points
    less precise than ``max_radius`` km are dropped (0: none).
    ``mode`` is the reader's: by default, for a path, the C reader over mmap, else the
    pure-Python one over mmap (or seeks), never MODE_MEMORY, which would read the file in."""
    try:
        reader = maxminddb.open_database(str(file), mode)
    except (maxminddb.InvalidDatabaseError, ValueError) as exc:
        raise ValueError(f"{file.name}: no valid MaxMind DB ({exc})") from None
    try:
        _check(reader, file.name, max_radius)
    except maxminddb.InvalidDatabaseError as exc:
        reader.close()
        raise ValueError(f"{file.name}: no valid MaxMind DB ({exc})") from None
    except ValueError:
        reader.close()
        raise
    return MmdbPlaces(reader, file.name, max_radius)
