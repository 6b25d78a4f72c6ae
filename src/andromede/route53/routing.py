"""Route 53's routing policies and alias records, their rules (decision 0284): a record set
with a ``SetIdentifier`` has exactly one policy (weighted, latency, geolocation, failover,
multivalue answer, IP-based, geoproximity — decision 0339), checked as AWS checks it
(``InvalidInput`` for the shape of one set, ``InvalidChangeBatch`` messages for the zone after
a batch: a policy mixed with a simple set or another policy at one name and type, two failover
sets of one kind, an alias whose target in the zone is not there). No I/O; the types come
from ``model``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from andromede.route53.errors import InvalidInput
from andromede.route53.geoproximity import check_geoproximity

if TYPE_CHECKING:
    from andromede.route53.model import Change, HostedZone, RecordSet

__all__ = [
    "CONTINENTS",
    "alias_problem",
    "check_routing",
    "routing_problems",
]

CONTINENTS: Final = frozenset({"AF", "AN", "AS", "EU", "OC", "NA", "SA"})
_POLICIES: Final = (
    "Weight, Region, Failover, GeoLocation, MultiValueAnswer, GeoProximityLocation, or "
    "CidrRoutingConfig"
)
MAX_WEIGHT: Final = 255
MAX_IDENTIFIER: Final = 128


def _shown(name: str) -> str:
    return name.replace("*", "\\052")


def _policies(record: RecordSet) -> int:
    return sum(
        (
            record.weight is not None,
            record.region is not None,
            bool(record.geo_location),
            record.failover is not None,
            record.multivalue is not None,
            record.cidr_routing is not None,
            record.geoproximity is not None,
        )
    )


def check_routing(record: RecordSet, words: str) -> None:
    """One set's routing fields as AWS's schema and checks take them; ``words`` names the
    change (``model.change_words``)."""
    count = _policies(record)
    if record.set_identifier is None:
        if count:
            raise InvalidInput(f"Invalid request: Missing field 'SetIdentifier' in {words}")
        return
    if not 1 <= len(record.set_identifier) <= MAX_IDENTIFIER:
        raise InvalidInput(
            f"Invalid XML ; cvc-maxLength-valid: SetIdentifier must be 1 to {MAX_IDENTIFIER} "
            "characters"
        )
    if count == 0:
        raise InvalidInput(
            f"Invalid request: Expected exactly one of [{_POLICIES}], but found none in {words}"
        )
    if count > 1:
        raise InvalidInput(
            f"Invalid request: Expected exactly one of [{_POLICIES}], but found more than one "
            f"in {words}"
        )
    if record.weight is not None and not 0 <= record.weight <= MAX_WEIGHT:
        raise InvalidInput(
            f"Invalid XML ; cvc-maxInclusive-valid: Value '{record.weight}' is not facet-valid "
            f"with respect to maxInclusive '{MAX_WEIGHT}' for type 'ResourceRecordSetWeight'."
        )
    if record.failover is not None and record.failover not in {"PRIMARY", "SECONDARY"}:
        raise InvalidInput(
            f"Invalid XML ; cvc-enumeration-valid: Value '{record.failover[:16]}' is not "
            "facet-valid with respect to enumeration '[PRIMARY, SECONDARY]'."
        )
    if record.multivalue is not None and record.alias is not None:
        raise InvalidInput(
            f"Invalid request: A multivalue answer set cannot be an alias in {words}"
        )
    if record.geo_location:
        _check_geo(dict(record.geo_location), words)
    if record.geoproximity is not None:
        check_geoproximity(record.geoproximity, words)


def _check_geo(geo: dict[str, str], words: str) -> None:
    continent = geo.get("ContinentCode")
    country = geo.get("CountryCode")
    if continent is not None and (country is not None or "SubdivisionCode" in geo):
        raise InvalidInput(
            f"Invalid request: GeoLocation takes a ContinentCode or a CountryCode, not both, in "
            f"{words}"
        )
    if continent is not None and continent not in CONTINENTS:
        raise InvalidInput(f"Value '{continent[:8]}' for parameter ContinentCode is invalid.")
    if country is not None and country != "*" and not (len(country) == 2 and country.isalpha()):
        raise InvalidInput(f"Value '{country[:8]}' for parameter CountryCode is invalid.")
    if "SubdivisionCode" in geo and country is None:
        raise InvalidInput(f"Invalid request: SubdivisionCode requires a CountryCode in {words}")
    if continent is None and country is None:
        raise InvalidInput(f"Invalid request: GeoLocation is empty in {words}")


def alias_problem(target: str, record_type: str, zone_id: str, why: str) -> str:
    """AWS's words for an alias whose target is refused: ``why`` is "the alias target name
    does not lie within the target zone" or "that target was not found"."""
    return (
        f"Tried to create an alias that targets {_shown(target)}, type {record_type} in zone "
        f"{zone_id}, but {why}"
    )


def routing_problems(
    zone: HostedZone, records: Sequence[RecordSet], changes: Sequence[Change]
) -> list[str]:
    """The routing rules over the zone after the batch, for the names and types it touched:
    one policy at a name and type (AWS refuses a weighted set beside a simple one, or a
    latency set beside a weighted one), one failover set of each kind, an alias into this
    zone naming a set of its type that the zone holds."""
    problems: list[str] = []
    groups: dict[tuple[str, str], list[RecordSet]] = {}
    for record in records:
        groups.setdefault((record.name, record.type), []).append(record)
    seen: set[tuple[str, str, str]] = set()
    for change in changes:
        record = change.record
        if change.action == "DELETE" or record.key() in seen:
            continue
        seen.add(record.key())
        group = groups.get((record.name, record.type), [])
        others = [r for r in group if r.key() != record.key()]
        name = _shown(record.name)
        if record.set_identifier is None and others:
            problems.append(
                f"RRSet with DNS name {name}, type {record.type} cannot be created as other "
                "RRsets exist with the same name and type."
            )
        elif any(r.policy != record.policy for r in others):
            problems.append(
                f"RRSet with DNS name {name}, type {record.type}, SetIdentifier "
                f"{record.set_identifier} cannot be created as a non-{record.policy} set exists "
                "with the same name and type."
            )
        elif record.failover is not None and any(r.failover == record.failover for r in others):
            problems.append(
                f"RRSet with DNS name {name}, type {record.type}, SetIdentifier "
                f"{record.set_identifier} cannot be created because another RRSet with the same "
                f"name and type already has failover type {record.failover}."
            )
        elif record.cidr_routing is not None:
            problems.extend(_cidr_problems(record, *record.cidr_routing, others))
        alias = record.alias
        if alias is not None and alias.hosted_zone_id == zone.zone_id:
            # A simple alias cannot target its own name and type: nothing else is there.
            if alias.dns_name != zone.name and not alias.dns_name.endswith("." + zone.name):
                why = "the alias target name does not lie within the target zone"
            elif not any(
                r.name == alias.dns_name and r.type == record.type and r.key() != record.key()
                for r in records
            ):
                why = "that target was not found"
            else:
                continue
            problems.append(alias_problem(alias.dns_name, record.type, zone.zone_id, why))
    return problems


def _cidr_problems(
    record: RecordSet, collection: str, location: str, others: Sequence[RecordSet]
) -> list[str]:
    """Decision 0353: the IP-based sets of a name and type name one collection, each location
    (``*`` too) once — else a client's address would choose between two sets."""
    name = _shown(record.name)
    for other in others:
        if other.cidr_routing is None:
            continue
        if other.cidr_routing[0] != collection:
            return [
                f"RRSet with DNS name {name}, type {record.type}, SetIdentifier "
                f"{record.set_identifier} cannot use CIDR collection {collection} as another "
                f"RRSet with the same name and type uses collection {other.cidr_routing[0]}."
            ]
        if other.cidr_routing[1] == location:
            return [
                f"RRSet with DNS name {name}, type {record.type}, SetIdentifier "
                f"{record.set_identifier} cannot use CIDR location {location} as RRSet "
                f"{other.set_identifier} with the same name and type uses it."
            ]
    return []
