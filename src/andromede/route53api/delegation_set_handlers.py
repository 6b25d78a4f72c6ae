"""Route 53's reusable delegation sets on the wire (decision 0346):
CreateReusableDelegationSet (201 with ``Location``), GetReusableDelegationSet,
ListReusableDelegationSets (``marker``, ``maxitems`` up to 100), DeleteReusableDelegationSet
and GetReusableDelegationSetLimit (``MAX_ZONES_BY_REUSABLE_DELEGATION_SET``), in botocore's
``route53`` shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.delegation_sets import DelegationSet, DelegationSetService
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import hosted_zone_id, max_items
from andromede.route53api.operations import Route

__all__ = ["DELEGATION_SET_HANDLERS", "delegation_set_id"]

DelegationSetHandler = Callable[
    [DelegationSetService, str, Route, Mapping[str, str], bytes], Awaitable[Response]
]
_MAX_ITEMS: Final = 100
_LIMIT_TYPE: Final = "MAX_ZONES_BY_REUSABLE_DELEGATION_SET"


def delegation_set_id(raw: str) -> str:
    """A set's id as a path, a query or a body gives it (``/delegationset/`` before it or
    not), ``InvalidInput`` where it is none."""
    set_id = raw.strip().removeprefix("/delegationset/")
    if not set_id or len(set_id) > 32 or not set_id.isalnum():
        raise Route53WireError(
            "InvalidInput", f"The input is not valid: invalid delegation set id {set_id[:64]}"
        )
    return set_id


def write_set(xml: XmlWriter, found: DelegationSet, root: str = "DelegationSet") -> None:
    xml.open(root)
    xml.element("Id", f"/delegationset/{found.set_id}")
    xml.element("CallerReference", found.caller_reference)
    xml.open("NameServers")
    xml.elements("NameServer", list(found.name_servers))
    xml.close("NameServers")
    xml.close(root)


async def create(
    service: DelegationSetService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateReusableDelegationSetRequest")
    reference = wire.text(root, "CallerReference", required=True) or ""
    raw_zone = wire.text(root, "HostedZoneId")
    zone_id = None if raw_zone is None else hosted_zone_id(raw_zone)
    made = await service.create(tenant, reference, zone_id)
    xml = wire.writer("CreateReusableDelegationSetResponse")
    write_set(xml, made)
    return wire.answer(xml, 201, f"/2013-04-01/delegationset/{made.set_id}")


async def get(
    service: DelegationSetService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    found = await service.get(tenant, delegation_set_id(op.delegation_set_id))
    xml = wire.writer("GetReusableDelegationSetResponse")
    write_set(xml, found)
    return wire.answer(xml)


async def delete(
    service: DelegationSetService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    await service.delete(tenant, delegation_set_id(op.delegation_set_id))
    return wire.answer(wire.writer("DeleteReusableDelegationSetResponse"))


async def list_sets(
    service: DelegationSetService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    marker = query.get("marker")
    sets, following = await service.list(tenant, marker, limit)
    xml = wire.writer("ListReusableDelegationSetsResponse")
    xml.open("DelegationSets")
    for found in sets:
        write_set(xml, found)
    xml.close("DelegationSets")
    xml.element("Marker", marker or "")
    xml.element("IsTruncated", following is not None)
    xml.element("NextMarker", following)
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def get_limit(
    service: DelegationSetService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    if op.limit_type != _LIMIT_TYPE:
        raise Route53WireError(
            "InvalidInput",
            f"Invalid XML ; cvc-enumeration-valid: Value '{op.limit_type[:64]}' is not "
            f"facet-valid with respect to enumeration '[{_LIMIT_TYPE}]'.",
        )
    count = await service.zone_count(tenant, delegation_set_id(op.delegation_set_id))
    xml = wire.writer("GetReusableDelegationSetLimitResponse")
    xml.open("Limit")
    xml.element("Type", _LIMIT_TYPE)
    xml.element("Value", service.limits.max_zones)
    xml.close("Limit")
    xml.element("Count", count)
    return wire.answer(xml)


DELEGATION_SET_HANDLERS: Final[dict[str, DelegationSetHandler]] = {
    "CreateReusableDelegationSet": create,
    "GetReusableDelegationSet": get,
    "ListReusableDelegationSets": list_sets,
    "DeleteReusableDelegationSet": delete,
    "GetReusableDelegationSetLimit": get_limit,
}
