"""What a VPC's zone responder answers (decision 0284), built from the private zones
associated with the VPC: a JSON document carried to the VPC's router in ``VpcDns``'s
``zone_document``, which :mod:`~andromede.route53.answers` reads. Pure.

The document (``version`` 1)::

    {"version": 1, "region": "eu-fr-1",
     "zones": ["corp.internal."],
     "sets": [{"name": "www.corp.internal.", "type": "A", "ttl": 60, "values": ["10.0.0.5"],
               "policy": "weighted", "id": "blue", "weight": 10, "failover": null,
               "region": null, "healthy": true, "alias": null}, …]}

``policy`` is ``simple``, ``weighted``, ``failover``, ``multivalue``, ``latency``, ``geo``,
``cidr`` — whose sets carry ``cidr`` (``[collection id, location]``, the document
``collections``: ``{id: {location: [blocks]}}``, decision 0353) — or ``geoproximity`` — whose
sets carry ``point`` (``[latitude, longitude]``, null
when their place is unknown) and ``bias``, and the document the gateway's region's
``location`` (decision 0339: where a VPC's queriers are); ``healthy`` the set's health
check's status when the document was built (a set without one is healthy); ``alias``
``{"name": <target>, "evaluate": bool}`` for an alias to a set of the zone, resolved by the
responder at each query — an alias to a load balancer is written with the balancer's
addresses as its values (TTL 60, as Route 53 answers one).

A geolocation set carries ``geo`` (``[continent, country, subdivision]``, "" for none) and a
latency set its Region's ``point`` when its place is known: the public name servers answer
them by their client's place (decision 0395).

AWS's rule for overlapping zones holds (decision 0280): a set of a zone is kept only when no
more specific zone of the VPC holds its name — but a DS set at a more specific zone's apex,
which is the enclosing zone's (decision 0324)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from andromede.route53.geoproximity import Point
from andromede.route53.model import HostedZone, RecordSet, within

__all__ = ["ALIAS_TTL", "DOCUMENT_VERSION", "responder_document"]

DOCUMENT_VERSION: Final = 1
# The TTL Route 53 gives the answers of an alias to an AWS resource (a load balancer).
ALIAS_TTL: Final = 60


def responder_document(
    zones: Sequence[HostedZone],
    healthy: Mapping[str, bool],
    foreign_aliases: Mapping[tuple[str, str, str], tuple[str, ...]],
    region: str = "",
    places: Mapping[str, Point] | None = None,
    collections: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> str:
    """The responder's document for ``zones``: ``healthy`` each named health check's status
    (healthy when absent), ``foreign_aliases`` the addresses of each alias target outside its
    zone by (hosted zone id, DNS name, type) — an alias whose target is gone answers
    nothing —, ``region`` the gateway's (the latency sets of it are answered), ``places``
    where the named places are (the geoproximity sets', the region's), ``collections`` the
    blocks of the CIDR collections the IP-based sets name, by location (decision 0353)."""
    known = places or {}
    names = sorted({z.name for z in zones})
    sets: list[dict[str, Any]] = []
    for zone in sorted(zones, key=lambda z: z.name):
        for record in zone.sorted_records():
            owner = max((n for n in names if within(record.name, n)), key=len)
            # A DS set at a child zone's apex is the parent's (decision 0324): kept from it.
            if owner == zone.name or (record.type == "DS" and record.name == owner):
                sets.append(_set(zone, record, healthy, foreign_aliases, known))
    document: dict[str, Any] = {
        "version": DOCUMENT_VERSION,
        "region": region,
        "zones": names,
        "sets": sets,
    }
    if collections:
        document["collections"] = {
            cid: {name: list(blocks) for name, blocks in held.items()}
            for cid, held in collections.items()
        }
    location = known.get(region)
    if location is not None:
        document["location"] = list(location)
    return json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
    )


def _set(
    zone: HostedZone,
    record: RecordSet,
    healthy: Mapping[str, bool],
    foreign_aliases: Mapping[tuple[str, str, str], tuple[str, ...]],
    places: Mapping[str, Point],
) -> dict[str, Any]:
    alias = record.alias
    values, ttl, alias_field = list(record.values), record.ttl, None
    if alias is not None and alias.hosted_zone_id == zone.zone_id:
        alias_field = {"name": alias.dns_name, "evaluate": alias.evaluate_target_health}
    elif alias is not None:
        key = (alias.hosted_zone_id, alias.dns_name, record.type)
        values, ttl = list(foreign_aliases.get(key, ())), ALIAS_TTL
    check = record.health_check_id
    found: dict[str, Any] = {
        "name": record.name,
        "type": record.type,
        "ttl": ttl,
        "values": values,
        "policy": record.policy,
        "id": record.set_identifier,
        "weight": record.weight,
        "failover": record.failover,
        "region": record.region,
        "healthy": True if check is None else healthy.get(check, True),
        "alias": alias_field,
    }
    if record.geoproximity is not None:
        point = record.geoproximity.point(places)
        found["point"] = None if point is None else list(point)
        found["bias"] = record.geoproximity.bias or 0
    if record.cidr_routing is not None:
        found["cidr"] = list(record.cidr_routing)
    if record.geo_location:  # decision 0395: the public name servers place their clients
        geo = dict(record.geo_location)
        found["geo"] = [geo.get(k, "") for k in ("ContinentCode", "CountryCode", "SubdivisionCode")]
    if record.region is not None and record.region in places:
        found["point"] = list(places[record.region])  # a latency set's Region's place (0395)
    return found
