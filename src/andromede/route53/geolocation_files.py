"""The operator's geolocation files read into client networks with their places (decisions
0395 and 0404): the platform's own CSV, MaxMind's GeoLite2 City or Country CSV (blocks files
joined with a locations file by ``geoname_id``) and DB-IP's lite CSV (address ranges); or a
MaxMind DB file (``.mmdb``, decision 0410), mapped and looked up where it is
(``geolocation_mmdb.py``).

``route53_client_geolocation_file`` names a file, a directory (every ``*.csv`` and ``*.mmdb``
in it, for GeoLite2's several files or its unpacked archive) or several of them joined with
``os.pathsep``. The format is ``route53_client_geolocation_format``; the default
(``andromede``) also recognises the others: a MaxMind DB by its metadata marker, the CSV
exports by their first line (GeoLite2's header, a DB-IP range), so an operator may give an
export as it is published. A MaxMind DB is a whole database: it is given alone. Every CSV
format holds to ``route53_client_geolocation_max_networks`` and a bad line names its file and
line.

What Route 53 compares (its ``GeoLocation``): a continent code, an ISO 3166-1 country code
and, for the United States only, the state's two letters (``CA`` for California, USPS's
abbreviations). GeoLite2's ``subdivision_1_iso_code`` is ISO 3166-2's part after the country
(``CA``), kept for the US and dropped elsewhere (no set can name it); DB-IP's lite file gives
a state's name, turned into its letters for the US. A row placed nowhere (GeoLite2 gives no
``geoname_id`` to some anycast and satellite networks, DB-IP ``ZZ`` to reserved ranges) is
skipped: the client is answered the default set, as one the data does not place.

Decision 0413: the network's coordinates are kept with its place where the export gives them
(GeoLite2 City blocks' ``latitude`` and ``longitude``, DB-IP's city lite columns 7 and 8), for
geoproximity and latency sets and S3's Multi-Region Access Points; DB-IP's country lite file
(``ip_start,ip_end,country``) is read, each country's continent taken from
``country_continents.py``.

Decision 0420: GeoLite2 City blocks' ``accuracy_radius`` (km) past
``route53_client_max_accuracy_radius_km`` drops the point (the place stays); DB-IP's lite
files and the platform's CSV give none. :func:`files_identity` is what the reload compares
(``geolocation_reload.py``), :func:`read_places` what it reads."""

from __future__ import annotations

import csv
import ipaddress
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final, Literal

from andromede.route53.cidr_match import ClientNetwork
from andromede.route53.client_places import (
    CONTINENTS,
    ClientGeography,
    GeoPlace,
    PlaceFinder,
    coordinates,
    held_places,
    read_geolocation,
    within_radius,
)
from andromede.route53.country_continents import continent_of
from andromede.route53.geolocation_codes import route53_subdivision
from andromede.route53.geolocation_mmdb import is_mmdb, open_mmdb
from andromede.route53.geoproximity import Point

__all__ = [
    "FilesIdentity",
    "GeolocationFormat",
    "files_identity",
    "load_geography",
    "read_dbip",
    "read_geolite2",
    "read_places",
]

GeolocationFormat = Literal["andromede", "geolite2", "dbip", "mmdb"]
_GEOLITE2_BLOCKS: Final = ("network", "geoname_id", "registered_country_geoname_id")
_GEOLITE2_LOCATIONS: Final = ("geoname_id", "continent_code", "country_iso_code")
_UNPLACED: Final = frozenset({"", "ZZ"})  # DB-IP's "nowhere" (reserved ranges)
_DBIP_COUNTRY_COLUMNS: Final = 3  # ip_start,ip_end,country
_DBIP_CITY_COLUMNS: Final = 8  # ...,continent,country,stateprov,city,latitude,longitude

Networks = list[tuple[ClientNetwork, GeoPlace]]
# Each file's path, st_mtime_ns, st_size and st_ino: a file replaced by a rename (as
# geoipupdate does) or rewritten in place changes it (decision 0420).
FilesIdentity = tuple[tuple[str, int, int, int], ...]


def route53_place(continent: str, country: str, subdivision: str, where: str) -> GeoPlace:
    """The place as Route 53 compares it (the rules above); ``ValueError`` naming ``where``."""
    continent, country = continent.strip().upper(), country.strip().upper()
    if continent not in CONTINENTS:
        raise ValueError(f"{where}: {continent[:8]!r} is no continent code")
    if country and not (len(country) == 2 and country.isalpha()):
        raise ValueError(f"{where}: {country[:8]!r} is no country code")
    return GeoPlace(continent, country, route53_subdivision(country, subdivision))


def _rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    for number, row in enumerate(csv.reader(lines), start=1):
        if row and row[0].strip() and not row[0].lstrip().startswith("#"):
            yield number, row


def _columns(row: Sequence[str], wanted: Sequence[str], where: str) -> dict[str, int]:
    names = [name.strip().lower() for name in row]
    missing = [name for name in wanted if name not in names]
    if missing:
        raise ValueError(f"{where}: the header lacks {', '.join(missing)}")
    return {name: index for index, name in enumerate(names)}


def _cell(row: Sequence[str], columns: Mapping[str, int], name: str) -> str:
    index = columns.get(name)
    return row[index].strip() if index is not None and index < len(row) else ""


def read_geolite2_locations(lines: Iterable[str], name: str) -> dict[str, GeoPlace | None]:
    """``geoname_id -> place`` of a GeoLite2 locations file: a continent's own entry has no
    country (placed by its continent), one of neither is None (placed nowhere)."""
    places: dict[str, GeoPlace | None] = {}
    columns: dict[str, int] | None = None
    for number, row in _rows(lines):
        where = f"{name} line {number}"
        if columns is None:
            columns = _columns(row, _GEOLITE2_LOCATIONS, where)
            continue
        continent = _cell(row, columns, "continent_code")
        country = _cell(row, columns, "country_iso_code")
        places[_cell(row, columns, "geoname_id")] = (
            None
            if not continent and not country
            else route53_place(
                continent, country, _cell(row, columns, "subdivision_1_iso_code"), where
            )
        )
    return places


def read_geolite2(
    lines: Iterable[str],
    locations: Mapping[str, GeoPlace | None],
    max_networks: int,
    name: str,
    found: Networks,
    max_radius: int = 0,
) -> None:
    """A GeoLite2 blocks file's networks added to ``found``: a block's ``geoname_id``, else
    its registered country's, places it; its point kept when within ``max_radius`` km."""
    columns: dict[str, int] | None = None
    interned: dict[tuple[GeoPlace, Point], GeoPlace] = {}
    for number, row in _rows(lines):
        where = f"{name} line {number}"
        if columns is None:
            columns = _columns(row, _GEOLITE2_BLOCKS, where)
            continue
        try:
            network = ipaddress.ip_network(_cell(row, columns, "network"), strict=False)
        except ValueError:
            raise ValueError(f"{where}: {row[0][:64]!r} is no network") from None
        geoname = _cell(row, columns, "geoname_id") or _cell(
            row, columns, "registered_country_geoname_id"
        )
        if not geoname:
            continue
        if geoname not in locations:
            raise ValueError(f"{where}: geoname_id {geoname[:16]!r} is in no locations file")
        place = locations[geoname]
        if place is None:
            continue
        try:  # City blocks' coordinates (decision 0413); Country blocks have none
            point = coordinates(_cell(row, columns, "latitude"), _cell(row, columns, "longitude"))
            if not within_radius(_cell(row, columns, "accuracy_radius"), max_radius):
                point = None  # too coarse to measure from (decision 0420)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if point is not None:  # one object per place and point: blocks share them
            place = interned.setdefault((place, point), replace(place, point=point))
        if len(found) >= max_networks:
            raise ValueError(f"{name}: more than {max_networks} networks")
        found.append((network, place))


def _networks_of(first: str, last: str) -> list[ClientNetwork]:
    start, end = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
    if isinstance(start, ipaddress.IPv4Address) and isinstance(end, ipaddress.IPv4Address):
        return list(ipaddress.summarize_address_range(start, end))
    if isinstance(start, ipaddress.IPv6Address) and isinstance(end, ipaddress.IPv6Address):
        return list(ipaddress.summarize_address_range(start, end))
    raise ValueError("an IPv4 and an IPv6 address")


def _dbip_place(row: Sequence[str], where: str) -> GeoPlace:
    """A DB-IP row's place: the city lite file's ``continent,country,stateprov,city,latitude,
    longitude``, or the country lite file's ``country`` alone, its continent from the
    countries' table (decision 0413)."""
    if len(row) == _DBIP_COUNTRY_COLUMNS:
        continent = continent_of(row[2])
        if not continent:
            raise ValueError(f"{where}: {row[2][:8]!r} is no country code")
        return route53_place(continent, row[2], "", where)
    place = route53_place(row[2], row[3], row[4] if len(row) > 4 else "", where)
    try:
        point = coordinates(*row[6:8]) if len(row) >= _DBIP_CITY_COLUMNS else None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    return place if point is None else replace(place, point=point)


def read_dbip(lines: Iterable[str], max_networks: int, name: str, found: Networks) -> None:
    """A DB-IP lite file's ranges (``ip_start,ip_end,continent,country,stateprov,...``, or
    the country lite file's ``ip_start,ip_end,country``; no header) added to ``found`` as the
    CIDR networks covering each."""
    for number, row in _rows(lines):
        where = f"{name} line {number}"
        try:
            ranges = _networks_of(row[0], row[1] if len(row) > 1 else "")
        except (ValueError, TypeError):
            if number == 1 and row[0].strip().lower() == "ip_start":  # a header added by hand
                continue
            raise ValueError(f"{where}: {','.join(row[:2])[:80]!r} is no address range") from None
        if len(row) < _DBIP_COUNTRY_COLUMNS:
            raise ValueError(f"{where}: ip_start,ip_end,country[,...] expected")
        country_column = 2 if len(row) == _DBIP_COUNTRY_COLUMNS else 3
        if row[country_column].strip().upper() in _UNPLACED:
            continue
        place = _dbip_place(row, where)
        if len(found) + len(ranges) > max_networks:
            raise ValueError(f"{name}: more than {max_networks} networks")
        found.extend((network, place) for network in ranges)


def _files(path: str) -> list[Path]:
    files: list[Path] = []
    for part in path.split(os.pathsep):
        entry = Path(part)
        if entry.is_dir():
            files += sorted([*entry.glob("*.csv"), *entry.glob("*.mmdb")])
        else:
            files.append(entry)
    return files


def _mmdb_of(
    files: Sequence[Path], given: GeolocationFormat, max_radius: int = 0
) -> PlaceFinder | None:
    """The MaxMind DB the files are (decision 0410), None when they are CSV; ``ValueError``
    for a database beside other files, or a file not in the format named."""
    databases = [file for file in files if is_mmdb(file)]
    if given == "mmdb" and (not databases or len(databases) < len(files)):
        wrong = next((file.name for file in files if file not in databases), "the path")
        raise ValueError(f"{wrong}: no MaxMind DB (no metadata marker)")
    if not databases:
        return None
    if given not in ("andromede", "mmdb"):
        raise ValueError(f"{databases[0].name}: a MaxMind DB, not a {given} CSV export")
    if len(files) > 1:
        raise ValueError(f"{databases[0].name}: a MaxMind DB is given alone, not with other files")
    return open_mmdb(databases[0], max_radius=max_radius)


def _first_line(file: Path) -> list[str]:
    with file.open(encoding="utf-8-sig", newline="") as lines:
        return next((row for _, row in _rows(lines)), [])


def _format_of(first: Sequence[str], given: GeolocationFormat) -> GeolocationFormat:
    if given != "andromede":
        return given
    cells = [cell.strip().lower() for cell in first]
    if cells[:2] == ["network", "geoname_id"] or cells[:1] == ["geoname_id"]:
        return "geolite2"
    try:
        for cell in cells[:2]:
            ipaddress.ip_address(cell)
    except ValueError:
        return "andromede"
    return "dbip" if cells else "andromede"


def read_geolocation_files(
    path: str, max_networks: int, given: GeolocationFormat = "andromede", max_radius: int = 0
) -> Networks:
    """Every network of the files ``path`` names, in the format given or recognised."""
    files = _files(path)
    firsts = {file: _first_line(file) for file in files}
    formats = {file: _format_of(first, given) for file, first in firsts.items()}
    found: Networks = []
    locations: dict[str, GeoPlace | None] = {}
    is_locations = {f: [c.strip().lower() for c in firsts[f][:1]] == ["geoname_id"] for f in files}
    geolite2 = [f for f in files if formats[f] == "geolite2"]
    if geolite2 and not any(is_locations[f] for f in geolite2):
        raise ValueError(f"{geolite2[0].name}: GeoLite2 blocks need their locations file")
    # English first: the codes are the same in every language's file.
    for file in sorted(geolite2, key=lambda f: not f.name.lower().endswith("-en.csv")):
        if is_locations[file]:
            with file.open(encoding="utf-8-sig", newline="") as lines:
                in_file = read_geolite2_locations(lines, file.name)
            locations = {**in_file, **locations}
    for file in files:
        with file.open(encoding="utf-8-sig", newline="") as lines:
            if formats[file] == "geolite2":
                if not is_locations[file]:
                    read_geolite2(lines, locations, max_networks, file.name, found, max_radius)
            elif formats[file] == "dbip":
                read_dbip(lines, max_networks, file.name, found)
            else:
                own = read_geolocation(lines, max_networks, file.name)
                if len(found) + len(own) > max_networks:
                    raise ValueError(f"{file.name}: more than {max_networks} networks")
                found += own
    return found


def files_identity(path: str) -> FilesIdentity:
    """The identity of the files ``path`` names (a directory's as listed now: a file added or
    removed changes it too); ``OSError`` when one cannot be looked at."""
    identity = []
    for file in _files(path):
        found = file.stat()
        identity.append((str(file), found.st_mtime_ns, found.st_size, found.st_ino))
    return tuple(identity)


def read_places(
    path: str, max_networks: int, given: GeolocationFormat = "andromede", max_radius: int = 0
) -> PlaceFinder:
    """The places of the files ``path`` names: a MaxMind DB mapped, CSV networks held;
    ``ValueError`` naming the file (and line) of a bad one, ``OSError`` for an unreadable
    one."""
    database = _mmdb_of(_files(path), given, max_radius)
    if database is not None:
        return database
    return held_places(read_geolocation_files(path, max_networks, given, max_radius))


def load_geography(
    path: str,
    max_networks: int,
    regions: Mapping[str, str],
    places: Mapping[str, Point] | None = None,
    given: GeolocationFormat = "andromede",
    max_radius: int = 0,
) -> ClientGeography | None:
    """The geography of the settings, None when they declare none (answered as in a VPC);
    its version the files' identity taken before they are read (a change while they are
    is read again at the first check, decision 0420)."""
    if not path and not regions:
        return None
    if not path:
        return ClientGeography(None, regions, places)
    identity = files_identity(path)
    found = read_places(path, max_networks, given, max_radius)
    return ClientGeography(found, regions, places, version=identity)
