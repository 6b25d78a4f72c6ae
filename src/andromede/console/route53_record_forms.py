"""A zone page's record form beyond simple sets (decision 0290, over decision 0284): the
routing policy chosen (simple, weighted, failover, multivalue answer, latency, geolocation,
geoproximity — decision 0354: an AWS Region, a Local Zone Group or coordinates, and a bias,
each sent as typed for Route 53 to judge as it judges the API's —, and IP-based — decision
0361: a CIDR collection of the account's, offered from ListCidrCollections, and a location of
it or ``*``) with its fields, the health check named, and an alias's target — a record of the
zone or one of the account's load balancers, chosen from a list made of
ListResourceRecordSets and DescribeLoadBalancers' ``DNSName``/``CanonicalHostedZoneId`` as
the signed-in principal —; a listed set written back into the form (its "Edit") and into its
deletion's hidden field (the exact set, which a DELETE must name). Route 53 checks
everything sent.
"""

from __future__ import annotations

import json
from contextlib import suppress
from typing import TYPE_CHECKING, Final

from starlette.requests import Request

from andromede.console.handlers import Form, FormFault
from andromede.console.wire import WireError
from andromede.console.wire_route53 import (
    AliasRow,
    Geoproximity,
    RecordRow,
    Route53Wire,
    Routing,
)
from andromede.console.wire_route53_cidr import CidrCalls
from andromede.console.wire_route53_health import HealthCheckCalls

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "PLACES",
    "POLICIES",
    "alias_choices",
    "alias_of",
    "cidr_collection_choices",
    "health_check_choices",
    "record_form",
    "routing_of",
    "set_json",
    "shown_set",
]

POLICIES: Final = (
    "simple", "weighted", "failover", "multivalue", "latency", "geolocation", "geoproximity",
    "cidr",
)  # fmt: skip
# What names a geoproximity set's place (its ``GeoProximityLocation`` element).
PLACES: Final = ("AWSRegion", "LocalZoneGroup", "Coordinates")
_CHOICES: Final = 100  # the records and health checks offered: ListResourceRecordSets' page


def _geoproximity_of(fields: Form) -> Geoproximity:
    """The place and bias typed: the place's kind chooses which of its fields is sent."""
    place = fields.get("gp_place", "AWSRegion")
    name = fields.get("gp_name", "").strip()
    coordinates = place == "Coordinates"
    return Geoproximity(
        aws_region=name if place not in ("LocalZoneGroup", "Coordinates") else "",
        local_zone_group=name if place == "LocalZoneGroup" else "",
        latitude=fields.get("latitude", "").strip() if coordinates else "",
        longitude=fields.get("longitude", "").strip() if coordinates else "",
        bias=fields.get("bias", "").strip(),
    )


def routing_of(fields: Form) -> Routing:
    """The routing policy typed (a simple set sends no set identifier)."""
    policy = fields.get("policy", "simple")
    health = fields.get("health_check", "").strip()
    if policy not in POLICIES or policy == "simple":
        return Routing(health_check_id=health)
    geo = tuple(
        (element, fields.get(name, "").strip())
        for element, name in (
            ("ContinentCode", "continent"),
            ("CountryCode", "country"),
            ("SubdivisionCode", "subdivision"),
        )
        if fields.get(name, "").strip()
    )
    return Routing(
        set_identifier=fields.get("identifier", "").strip(),
        weight=fields.get("weight", "").strip() if policy == "weighted" else "",
        failover=fields.get("failover", "") if policy == "failover" else "",
        region=fields.get("region", "").strip() if policy == "latency" else "",
        geo=geo if policy == "geolocation" else (),
        multivalue=policy == "multivalue",
        health_check_id=health,
        geoproximity=_geoproximity_of(fields) if policy == "geoproximity" else None,
        cidr=(
            fields.get("cidr_collection", "").strip(),
            fields.get("cidr_location", "").strip(),
        )
        if policy == "cidr"
        else None,
    )


def alias_of(fields: Form) -> AliasRow | None:
    """The alias target chosen ("<hosted zone id> <DNS name>"), when the form's target is an
    alias; None for values."""
    if fields.get("target") != "alias":
        return None
    zone_id, _, dns_name = fields.get("alias_target", "").strip().partition(" ")
    return AliasRow(zone_id, dns_name, fields.get("evaluate") == "yes")


def record_form(record: RecordRow, relative: str) -> Form:
    """The form filled with a listed set, to be upserted."""
    routing, alias = record.routing, record.alias
    geo = dict(routing.geo)
    place = routing.geoproximity or Geoproximity()
    collection, location = routing.cidr or ("", "")
    form = {
        "name": relative,
        "type": record.record_type,
        "ttl": str(record.ttl) if alias is None else "300",
        "values": "\n".join(record.values),
        "change": "UPSERT",
        "policy": routing.policy or "simple",
        "identifier": routing.set_identifier,
        "weight": routing.weight,
        "failover": routing.failover,
        "region": routing.region,
        "continent": geo.get("ContinentCode", ""),
        "country": geo.get("CountryCode", ""),
        "subdivision": geo.get("SubdivisionCode", ""),
        "health_check": routing.health_check_id,
        "target": "values" if alias is None else "alias",
        "gp_place": place.place,
        "gp_name": place.aws_region or place.local_zone_group,
        "latitude": place.latitude,
        "longitude": place.longitude,
        "bias": place.bias,
        "cidr_collection": collection,
        "cidr_location": location,
    }
    if alias is not None:
        form["alias_target"] = f"{alias.hosted_zone_id} {alias.dns_name}"
        form["evaluate"] = "yes" if alias.evaluate_target_health else ""
    return form


def _place_fields(location: Geoproximity) -> tuple[str, ...]:
    """A geoproximity location as the deletion's hidden field keeps it."""
    return (
        location.aws_region, location.local_zone_group, location.latitude, location.longitude,
        location.bias,
    )  # fmt: skip


def _place_of(shown: object) -> Geoproximity:
    """The location ``_place_fields`` kept; ``ValueError`` for anything else."""
    if not isinstance(shown, list) or len(shown) != len(Geoproximity.__slots__):
        raise ValueError(shown)
    return Geoproximity(*(str(p) for p in shown))


def _cidr_of(shown: object) -> tuple[str, str]:
    """A CIDR location as ``set_json`` kept it (collection id, location); ``ValueError`` for
    anything else."""
    if not isinstance(shown, list) or len(shown) != 2:
        raise ValueError(shown)
    return str(shown[0]), str(shown[1])


def set_json(record: RecordRow) -> str:
    """A listed set's routing and alias, the deletion's hidden field."""
    routing, alias = record.routing, record.alias
    return json.dumps(
        {
            "identifier": routing.set_identifier,
            "weight": routing.weight,
            "failover": routing.failover,
            "region": routing.region,
            "geo": [list(pair) for pair in routing.geo],
            "multivalue": routing.multivalue,
            "health_check": routing.health_check_id,
            "geoproximity": None
            if routing.geoproximity is None
            else list(_place_fields(routing.geoproximity)),
            "cidr": None if routing.cidr is None else list(routing.cidr),
            "alias": None
            if alias is None
            else [alias.hosted_zone_id, alias.dns_name, alias.evaluate_target_health],
        }
    )


def shown_set(typed: str, fault: str) -> tuple[Routing, AliasRow | None]:
    """A deletion's set as the page showed it (``set_json``); ``fault`` when it cannot be
    read. A deletion without the field is of a simple set (a page before decision 0290);
    one without ``geoproximity`` of a set without it (a page before decision 0354), one
    without ``cidr`` of a set without a CIDR location (a page before decision 0361)."""
    if not typed:
        return Routing(), None
    try:
        shown = json.loads(typed)
        geo = tuple((str(k), str(v)) for k, v in shown["geo"])
        alias = shown["alias"]
        place = shown.get("geoproximity")
        cidr = shown.get("cidr")
        routing = Routing(
            set_identifier=str(shown["identifier"]),
            weight=str(shown["weight"]),
            failover=str(shown["failover"]),
            region=str(shown["region"]),
            geo=geo,
            multivalue=shown["multivalue"] is True,
            health_check_id=str(shown["health_check"]),
            geoproximity=None if place is None else _place_of(place),
            cidr=None if cidr is None else _cidr_of(cidr),
        )
        target = None if alias is None else AliasRow(str(alias[0]), str(alias[1]), alias[2] is True)
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise FormFault(fault) from exc
    return routing, target


async def alias_choices(
    console: Console,
    request: Request,
    session: Session,
    wire: Route53Wire,
    zone_id: str,
    typed: str,
) -> list[tuple[str, str]]:
    """The targets offered ((value, label)): the zone's record names, then the account's load
    balancers as ELB describes them to the signed-in principal (none where a service
    refuses); the target ``typed`` kept when it is not among them."""
    choices: list[tuple[str, str]] = []
    with suppress(WireError):
        page = await wire.records(
            request.scope, session.principal, zone_id, start=(), limit=_CHOICES
        )
        names = dict.fromkeys(r.name for r in page.records if r.record_type not in ("SOA", "NS"))
        choices += [(f"{zone_id} {name}", name) for name in names]
    if console.elb is not None:
        with suppress(WireError):
            balancers = await console.elb.load_balancers(request.scope, session.principal)
            choices += [
                (f"{b.canonical_zone_id} {b.dns_name}", f"{b.name} · {b.dns_name}")
                for b in balancers
                if b.canonical_zone_id and b.dns_name
            ]
    if typed.strip() and typed.strip() not in {value for value, _ in choices}:
        choices.append((typed.strip(), typed.strip()))
    return choices


async def health_check_choices(
    wire: Route53Wire, request: Request, session: Session, typed: str
) -> list[tuple[str, str]]:
    """The account's health checks ((id, label); none where Route 53 refuses), the check
    ``typed`` kept when it is not among them (so an edit does not drop it unseen)."""
    choices: list[tuple[str, str]] = []
    with suppress(WireError):
        checks, _ = await HealthCheckCalls(wire).page(
            request.scope, session.principal, marker="", limit=_CHOICES
        )
        choices = [
            (c.health_check_id, f"{c.health_check_id} · {c.type} {c.endpoint}") for c in checks
        ]
    if typed.strip() and typed.strip() not in {value for value, _ in choices}:
        choices.append((typed.strip(), typed.strip()))
    return choices


async def cidr_collection_choices(
    wire: Route53Wire, request: Request, session: Session, typed: str
) -> list[tuple[str, str]]:
    """The account's CIDR collections ((id, name); none where Route 53 refuses the listing),
    the collection ``typed`` kept when it is not among them."""
    choices: list[tuple[str, str]] = []
    with suppress(WireError):
        collections, _next = await CidrCalls(wire).collections(
            request.scope, session.principal, token="", limit=_CHOICES, locations=False
        )
        choices = [(c.collection_id, c.name) for c in collections]
    if typed.strip() and typed.strip() not in {value for value, _ in choices}:
        choices.append((typed.strip(), typed.strip()))
    return choices
