"""Where the public name servers' clients are for geolocation and latency sets (decision
0395), and which geolocation set answers a client. Pure but for reading the operator's file.

The operator declares its clients' networks, as Route 53 asks its own GeoIP data:

- ``route53_client_geolocation_file``: a CSV of ``network,continent,country,subdivision``
  (CIDR as the ``network`` column of MaxMind's GeoLite2 blocks files; ISO 3166 codes as
  Route 53's ``GeoLocation`` takes them; subdivision may be empty; a first line naming the
  columns and ``#`` comments are skipped), at most ``route53_client_geolocation_max_networks``
  networks (decision 0404 reads GeoLite2's and DB-IP's exports too:
  ``geolocation_files.py``; decision 0410 their MaxMind DB files, looked up where they are
  mapped rather than held: ``geolocation_mmdb.py``, a :class:`PlaceFinder`);
- ``route53_client_regions``: ``CIDR -> Region`` for latency sets.

The GeoIP exports also give a network's coordinates (GeoLite2 City's and DB-IP's
``latitude,longitude``, a MaxMind DB's ``location``): the client's own point (decision 0413),
which geoproximity sets measure from and latency sets use when no
``route53_client_regions`` network holds the client; and S3's Multi-Region Access Points
route to the active Region nearest it (:meth:`ClientRegions.nearest`).

A client is its EDNS client subnet when the query carries one, else the address the query
came from (as decision 0353); the longest network holding it places it (a client subnet
shorter than a network is not held by it). A lookup costs one dictionary probe per prefix
length present, whatever the number of networks.

Route 53's geolocation answer: the set of the client's subdivision, else of its country,
else of its continent, else the default (``CountryCode`` ``*``); an unhealthy one gives way to
the next larger area, the default last; when none of them is healthy the most specific
answers (as every policy answers when all its sets are unhealthy); a client placed nowhere is
answered the default; no set and no default: no answer (NOERROR, no data).

Decision 0420: the places are read again when the file changes (``geolocation_reload.py``)
and swapped into the one :class:`ClientGeography` the name servers and S3's Multi-Region
Access Points share; a lookup holds the version it began with, and a retired version (a
mapped MaxMind DB) is closed when its last lookup ends, never under one. A point less precise
than ``route53_client_max_accuracy_radius_km`` (:func:`within_radius`) is no point."""

from __future__ import annotations

import csv
import ipaddress
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Generic, Protocol, TypeVar, runtime_checkable

from andromede.route53.cidr_match import ClientNetwork, source_network
from andromede.route53.geoproximity import ClientLocations, Point, nearest

if TYPE_CHECKING:
    from andromede.route53.answers import ZoneSet

__all__ = [
    "ClientGeography",
    "ClientPlace",
    "ClientRegions",
    "GeoPlace",
    "PlaceFinder",
    "choose_by_location",
    "close_places",
    "coordinates",
    "held_places",
    "read_geolocation",
    "within_radius",
]

_T = TypeVar("_T")
CONTINENTS: Final = frozenset({"AF", "AN", "AS", "EU", "OC", "NA", "SA"})
MAX_SUBDIVISION: Final = 3  # ISO 3166-2's subdivision part: 1 to 3 characters


@dataclass(frozen=True)
class GeoPlace:
    """A network's place: the codes Route 53 compares (all "" for a network the data places
    by its coordinates only) and its coordinates when the data gives them (decision 0413)."""

    continent: str
    country: str
    subdivision: str = ""
    # Not compared: two networks of one place are in the same area for geolocation sets.
    point: Point | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ClientPlace:
    """Where one client is: ``geo`` None when the file places it nowhere (``by_geo`` False:
    no file, geolocation sets answered as in a VPC); ``region`` likewise for latency."""

    geo: GeoPlace | None
    region: str | None
    by_geo: bool
    by_region: bool
    region_point: Point | None = None

    @property
    def point(self) -> Point | None:
        """The client's own coordinates, from the GeoIP data (decision 0413)."""
        return None if self.geo is None else self.geo.point


@runtime_checkable
class PlaceFinder(Protocol):
    """Where a client is, looked up elsewhere than in networks held here (a mapped MaxMind
    DB, decision 0410): None when placed nowhere."""

    def find(self, client: ClientNetwork) -> GeoPlace | None: ...


@runtime_checkable
class _Closable(Protocol):
    def close(self) -> None: ...


def close_places(places: PlaceFinder | None) -> None:
    """Release what ``places`` holds (a mapped MaxMind DB's file); nothing for a table."""
    if isinstance(places, _Closable):
        places.close()


class _Networks(Generic[_T]):
    """Networks with a value, the longest holding a client found by one probe a length."""

    def __init__(self, entries: Iterable[tuple[ClientNetwork, _T]]) -> None:
        self._by_length: dict[tuple[int, int], dict[ClientNetwork, _T]] = {}
        for network, value in entries:
            held = self._by_length.setdefault((network.version, network.prefixlen), {})
            held.setdefault(network, value)
        self._lengths = sorted(self._by_length, key=lambda k: k[1], reverse=True)

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_length.values())

    def find(self, client: ClientNetwork) -> _T | None:
        for version, length in self._lengths:
            if version != client.version or length > client.prefixlen:
                continue
            found = self._by_length[(version, length)].get(client.supernet(new_prefix=length))
            if found is not None:
                return found
        return None


def coordinates(latitude: object, longitude: object) -> Point | None:
    """A GeoIP network's coordinates (decision 0413): None when either is absent (""), a
    ``ValueError`` when either is no number or off the globe."""
    if latitude in ("", None) or longitude in ("", None):
        return None
    if isinstance(latitude, bool) or isinstance(longitude, bool):
        raise ValueError("latitude,longitude are no numbers")
    try:
        point = float(latitude), float(longitude)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{str(latitude)[:16]!r},{str(longitude)[:16]!r} is no place") from None
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):  # NaN fails too
        raise ValueError(f"{point[0]:.2f},{point[1]:.2f} is off the globe")
    return point


def within_radius(radius: object, max_radius: int) -> bool:
    """Whether a point of ``radius`` km (GeoLite2's ``accuracy_radius``; "" or None when the
    data gives none) is precise enough to be the client's (decision 0420): ``max_radius`` 0
    takes any; a ``ValueError`` when it is no whole number of km."""
    if radius in ("", None):
        return True
    if isinstance(radius, str) and radius.strip().isascii() and radius.strip().isdigit():
        km = int(radius)
    elif isinstance(radius, int) and not isinstance(radius, bool) and radius >= 0:
        km = radius
    else:
        raise ValueError(f"accuracy_radius {str(radius)[:16]!r} is no whole number of km")
    return max_radius == 0 or km <= max_radius


def _place(row: Sequence[str], where: str) -> GeoPlace:
    continent, country = row[1].strip().upper(), row[2].strip().upper()
    subdivision = row[3].strip().upper() if len(row) > 3 else ""
    if continent not in CONTINENTS:
        raise ValueError(f"{where}: {continent[:8]!r} is no continent code")
    if not (len(country) == 2 and country.isalpha()):
        raise ValueError(f"{where}: {country[:8]!r} is no country code")
    if subdivision and not (len(subdivision) <= MAX_SUBDIVISION and subdivision.isalnum()):
        raise ValueError(f"{where}: {subdivision[:8]!r} is no subdivision code")
    return GeoPlace(continent, country, subdivision)


def read_geolocation(
    lines: Iterable[str], max_networks: int, name: str = "geolocation"
) -> list[tuple[ClientNetwork, GeoPlace]]:
    """The networks of the CSV ``lines`` (the format above) with their places; ``ValueError``
    naming the line for a bad one, or past ``max_networks``."""
    found: list[tuple[ClientNetwork, GeoPlace]] = []
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        where = f"{name} line {number}"
        try:
            network = ipaddress.ip_network(row[0].strip(), strict=False)
        except ValueError:
            if number == 1:  # the columns' names
                continue
            raise ValueError(f"{where}: {row[0][:64]!r} is no network") from None
        if len(row) < 3:
            raise ValueError(f"{where}: network,continent,country[,subdivision] expected")
        if len(found) >= max_networks:
            raise ValueError(f"{name}: more than {max_networks} networks")
        found.append((network, _place(row, where)))
    return found


def held_places(entries: Iterable[tuple[ClientNetwork, GeoPlace]]) -> PlaceFinder:
    """The networks ``entries`` held in memory, ready to be swapped in (decision 0420)."""
    return _Networks(entries)


class _Lease:
    """One version of the places and the lookups under way in it (decision 0420)."""

    __slots__ = ("places", "retired", "users")

    def __init__(self, places: PlaceFinder | None) -> None:
        self.places = places
        self.users = 0
        self.retired = False


class ClientGeography:
    """The operator's networks: where a client is for geolocation and latency sets.
    ``version`` is what the places were read from (the files' identity, decision 0420)."""

    def __init__(
        self,
        geolocation: Iterable[tuple[ClientNetwork, GeoPlace]] | PlaceFinder | None,
        regions: Mapping[str, str],
        places: Mapping[str, Point] | None = None,
        version: object = None,
    ) -> None:
        self._lease = _Lease(
            geolocation
            if geolocation is None or isinstance(geolocation, PlaceFinder)
            else _Networks(geolocation)
        )
        # Lookups may come from any thread (the name servers, S3's requests): the lease
        # counts them, and a swap never closes a version one of them still reads.
        self._lock = threading.Lock()
        self._by_geo = geolocation is not None
        self._regions = _Networks(
            (ipaddress.ip_network(block, strict=False), region) for block, region in regions.items()
        )
        self._by_region = bool(regions)
        self._places = dict(places or {})
        self.version = version

    @property
    def networks(self) -> int:
        """The networks held in memory (none for a mapped database)."""
        held = self._lease.places
        return len(held) if isinstance(held, _Networks) else 0

    def swap(self, places: PlaceFinder, version: object) -> None:
        """``places`` (read from ``version``) answer from the next lookup on (decision
        0420); the previous ones are closed once no lookup reads them any more."""
        with self._lock:
            previous, self._lease = self._lease, _Lease(places)
            self.version = version
            previous.retired = True
            unused = previous.users == 0
        if unused:
            close_places(previous.places)

    def _find(self, client: ClientNetwork) -> GeoPlace | None:
        with self._lock:
            lease = self._lease
            lease.users += 1
        try:
            return None if lease.places is None else lease.places.find(client)
        finally:
            with self._lock:
                lease.users -= 1
                last = lease.retired and lease.users == 0
            if last:  # the last lookup of a version swapped out meanwhile
                close_places(lease.places)

    def place(self, client: ClientNetwork | None) -> ClientPlace:
        geo = None if not self._by_geo or client is None else self._find(client)
        region = None if client is None else self._regions.find(client)
        return ClientPlace(
            geo,
            region,
            by_geo=self._by_geo,
            by_region=self._by_region,
            region_point=None if region is None else self._places.get(region),
        )


class ClientRegions:
    """The Region nearest a client among some (decision 0413, for S3's Multi-Region Access
    Points, which AWS routes to "the closest" active Region): the client's
    ``route53_client_regions`` Region when it is one of them (a measured latency beats a
    distance), else the one whose place (``route53_region_coordinates``, AWS's Regions) is
    nearest the client's point — its ``route53_client_locations`` network's, else the GeoIP
    data's coordinates of it. The same :class:`ClientGeography` the name servers read."""

    def __init__(
        self,
        geography: ClientGeography | None,
        declared: ClientLocations,
        places: Mapping[str, Point],
    ) -> None:
        self._geography = geography
        self._declared = declared
        self._places = dict(places)

    def nearest(self, address: str | None, regions: Collection[str]) -> str | None:
        """The Region of ``regions`` nearest the client at ``address``; None when the client
        is placed nowhere, or no Region of them has a known place."""
        network = source_network(address)
        if network is None or not regions:
            return None
        place = None if self._geography is None else self._geography.place(network)
        if place is not None and place.region in regions:
            return place.region
        point = self._declared.locate(address) or (None if place is None else place.point)
        candidates = sorted(r for r in regions if r in self._places)  # by name among equals
        if point is None or not candidates:
            return None
        return candidates[nearest(point, [(self._places[r], 0) for r in candidates])]


def _geo_of(zone_set: ZoneSet) -> GeoPlace | None:
    return None if zone_set.geo is None else GeoPlace(*zone_set.geo)


def choose_by_location(
    sets: Sequence[ZoneSet], healthy: Sequence[ZoneSet], where: GeoPlace | None
) -> list[ZoneSet]:
    """The geolocation set answering a client at ``where`` (the rules above)."""
    by_place = {_geo_of(s): s for s in reversed(sets)}  # the first of a place kept
    wanted: list[GeoPlace] = []
    if where is not None:
        if where.subdivision:
            wanted.append(GeoPlace("", where.country, where.subdivision))
        if where.country:
            wanted.append(GeoPlace("", where.country))
        if where.continent:  # a MaxMind DB's registered country alone has none (0410)
            wanted.append(GeoPlace(where.continent, ""))
    wanted.append(GeoPlace("", "*"))
    candidates = [by_place[p] for p in wanted if p in by_place]
    chosen = next((s for s in candidates if s in healthy), None)
    return [chosen] if chosen is not None else candidates[:1]
