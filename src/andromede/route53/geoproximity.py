"""Route 53's geoproximity routing (decision 0339): where a set's resource is (an AWS Region, a
Local Zone Group, or coordinates), its ``GeoProximityLocation`` checked as AWS checks it, where
a querier is (a client network's declared place, else the gateway's region), and the choice of
the nearest set by AWS's biased distance. Pure.

AWS's rule: biased distance = actual distance * (1 - bias / 100); a positive bias makes a
set's region reach further, a negative one shrinks it. Distances are great-circle distances
(haversine) on a sphere of the Earth's mean radius: the choice depends on their order only."""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.route53.errors import InvalidInput

__all__ = [
    "AWS_REGIONS",
    "ClientLocations",
    "GeoProximity",
    "Point",
    "biased_distance",
    "check_geoproximity",
    "distance_km",
    "nearest",
    "parse_point",
    "places",
]

Point = tuple[float, float]  # (latitude, longitude), degrees

EARTH_RADIUS_KM: Final = 6371.0088
MAX_BIAS: Final = 99
MAX_PLACE: Final = 64  # AWSRegion's and LocalZoneGroup's length, as botocore's model says
# AWS's schema patterns (botocore's ``Latitude`` and ``Longitude`` shapes): two decimals.
LATITUDE_PATTERN: Final = r"[-+]?[0-9]{1,2}(\.[0-9]{0,2})?"
LONGITUDE_PATTERN: Final = r"[-+]?[0-9]{1,3}(\.[0-9]{0,2})?"
_LATITUDE: Final = re.compile(LATITUDE_PATTERN)
_LONGITUDE: Final = re.compile(LONGITUDE_PATTERN)
_KINDS: Final = "AWSRegion, LocalZoneGroup, or Coordinates"

# Where AWS's commercial Regions are (their metropolitan areas, two decimals): a set copied
# from an AWS configuration is answered by the same geometry. The operator's own regions (and
# Local Zone Groups) come from ``route53_region_coordinates``, which may also move these.
AWS_REGIONS: Final[Mapping[str, Point]] = {
    "us-east-1": (38.13, -78.45),
    "us-east-2": (39.96, -83.0),
    "us-west-1": (37.35, -121.96),
    "us-west-2": (45.84, -119.7),
    "ca-central-1": (45.5, -73.57),
    "ca-west-1": (51.05, -114.07),
    "sa-east-1": (-23.55, -46.63),
    "mx-central-1": (20.59, -100.39),
    "eu-west-1": (53.35, -6.26),
    "eu-west-2": (51.51, -0.13),
    "eu-west-3": (48.86, 2.35),
    "eu-central-1": (50.11, 8.68),
    "eu-central-2": (47.37, 8.54),
    "eu-north-1": (59.33, 18.07),
    "eu-south-1": (45.46, 9.19),
    "eu-south-2": (41.65, -0.88),
    "il-central-1": (32.09, 34.78),
    "me-south-1": (26.07, 50.56),
    "me-central-1": (24.45, 54.38),
    "af-south-1": (-33.92, 18.42),
    "ap-east-1": (22.32, 114.17),
    "ap-south-1": (19.08, 72.88),
    "ap-south-2": (17.39, 78.49),
    "ap-northeast-1": (35.68, 139.69),
    "ap-northeast-2": (37.57, 126.98),
    "ap-northeast-3": (34.69, 135.5),
    "ap-southeast-1": (1.35, 103.82),
    "ap-southeast-2": (-33.87, 151.21),
    "ap-southeast-3": (-6.21, 106.85),
    "ap-southeast-4": (-37.81, 144.96),
    "ap-southeast-5": (3.14, 101.69),
    "ap-southeast-7": (13.76, 100.5),
}


@dataclass(frozen=True)
class GeoProximity:
    """A set's ``GeoProximityLocation``: one of a Region, a Local Zone Group or coordinates
    (kept as the caller wrote them, AWS giving them back so), and its bias."""

    aws_region: str | None = None
    local_zone_group: str | None = None
    latitude: str | None = None
    longitude: str | None = None
    bias: int | None = None

    def place(self) -> str | None:
        """The named place (Region or Local Zone Group), None for coordinates."""
        return self.aws_region if self.aws_region is not None else self.local_zone_group

    def point(self, known: Mapping[str, Point]) -> Point | None:
        """Where the resource is: its coordinates, or its named place's; None when unknown."""
        if self.latitude is not None and self.longitude is not None:
            return float(self.latitude), float(self.longitude)
        place = self.place()
        return None if place is None else known.get(place)


def parse_point(text: str) -> Point:
    """``"latitude,longitude"`` in degrees (ValueError otherwise)."""
    latitude, _, longitude = text.partition(",")
    point = float(latitude), float(longitude)
    if not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180) or not all(
        math.isfinite(v) for v in point
    ):
        raise ValueError(f"not a latitude,longitude: {text!r}")
    return point


def places(declared: Mapping[str, str]) -> dict[str, Point]:
    """AWS's Regions and the operator's declared places (``name -> "lat,lon"``), the latter
    winning."""
    known = dict(AWS_REGIONS)
    known.update({name: parse_point(text) for name, text in declared.items()})
    return known


def check_geoproximity(location: GeoProximity, words: str) -> None:
    """One ``GeoProximityLocation`` as AWS's schema and checks take it: exactly one kind of
    place, coordinates within AWS's pattern and the globe, a bias within -99..99."""
    kinds = sum(
        (
            location.aws_region is not None,
            location.local_zone_group is not None,
            location.latitude is not None or location.longitude is not None,
        )
    )
    if kinds != 1:
        found = "none" if kinds == 0 else "more than one"
        raise InvalidInput(
            f"Invalid request: Expected exactly one of [{_KINDS}], but found {found} in {words}"
        )
    for field, value in (("AWSRegion", location.aws_region),
                         ("LocalZoneGroup", location.local_zone_group)):  # fmt: skip
        if value is not None and not 1 <= len(value) <= MAX_PLACE:
            raise InvalidInput(
                f"Invalid XML ; cvc-maxLength-valid: {field} must be 1 to {MAX_PLACE} characters"
            )
    if location.latitude is not None or location.longitude is not None:
        _check_coordinates(location.latitude, location.longitude, words)
    if location.bias is not None and not -MAX_BIAS <= location.bias <= MAX_BIAS:
        facet = "maxInclusive" if location.bias > 0 else "minInclusive"
        limit = MAX_BIAS if location.bias > 0 else -MAX_BIAS
        raise InvalidInput(
            f"Invalid XML ; cvc-{facet}-valid: Value '{location.bias}' is not facet-valid with "
            f"respect to {facet} '{limit}' for type 'Bias'."
        )


def _check_coordinates(latitude: str | None, longitude: str | None, words: str) -> None:
    for field, value in (("Latitude", latitude), ("Longitude", longitude)):
        if value is None:
            raise InvalidInput(f"Invalid request: Missing field '{field}' in {words}")
    for field, value, pattern, bound in (
        ("Latitude", latitude or "", _LATITUDE, 90),
        ("Longitude", longitude or "", _LONGITUDE, 180),
    ):
        if not pattern.fullmatch(value):
            raise InvalidInput(
                f"Invalid XML ; cvc-pattern-valid: Value '{value[:16]}' is not facet-valid with "
                f"respect to pattern '{pattern.pattern}' for type '{field}'."
            )
        if not -bound <= float(value) <= bound:
            raise InvalidInput(
                f"Invalid request: {field} {value} is not between -{bound} and {bound} in {words}"
            )


def distance_km(a: Point, b: Point) -> float:
    """The great-circle distance between two points (haversine)."""
    lat1, lon1, lat2, lon2 = (math.radians(v) for v in (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def biased_distance(origin: Point, point: Point, bias: int) -> float:
    """AWS's biased distance: the actual distance * (1 - bias / 100)."""
    return distance_km(origin, point) * (1 - bias / 100)


def nearest(origin: Point | None, candidates: Sequence[tuple[Point | None, int]]) -> int:
    """The index of the candidate (its point, its bias) nearest ``origin`` by biased distance;
    the first among equals; a candidate without a point is farther than any with one, and
    without an origin the first candidate is chosen."""
    if origin is None or not candidates:
        return 0
    best, best_distance = 0, math.inf
    for index, (point, bias) in enumerate(candidates):
        if point is None:
            continue
        distance = biased_distance(origin, point, bias)
        if distance < best_distance:
            best, best_distance = index, distance
    return best


class ClientLocations:
    """Where DNS clients are (decision 0339): networks (CIDR) and their places, the longest
    prefix containing an address winning. Platforms have no GeoIP database to ask: the
    operator declares its clients' networks (``route53_client_locations``)."""

    def __init__(self, declared: Mapping[str, str], known: Mapping[str, Point]) -> None:
        networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, Point]] = []
        for network, where in declared.items():
            point = known.get(where)
            networks.append(
                (
                    ipaddress.ip_network(network, strict=False),
                    point if point is not None else parse_point(where),
                )
            )
        self._networks = sorted(networks, key=lambda n: n[0].prefixlen, reverse=True)

    def locate(self, address: str | None) -> Point | None:
        """The place of the network holding ``address``, None when none does (or it is no
        address)."""
        if not address or not self._networks:
            return None
        try:
            ip = ipaddress.ip_address(address.split("/", 1)[0])
        except ValueError:
            return None
        for network, point in self._networks:
            if ip.version == network.version and ip in network:
                return point
        return None
