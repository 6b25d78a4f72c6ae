"""ListHostedZonesByVPC (decision 0285): the private zones of the caller's account
associated with a VPC, as ``HostedZoneSummaries`` with their ``Owner``, in pages of
``MaxItems`` (``NextToken`` the next zone's id). The account's own zones associated with the
VPC, and, when the VPC is the account's, other accounts' zones it was associated with by
their authorisation (decision 0346), each with its ``OwningAccount``, as AWS lists them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.http.response import Response
from andromede.route53.model import display_name
from andromede.route53.service import Route53Service
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import bounded_page_size
from andromede.route53api.operations import Route

__all__ = ["list_hosted_zones_by_vpc"]

_MAX_ITEMS: Final = 100
_ZONE_ID: Final = re.compile(r"^Z[A-Z0-9]{1,31}$")


async def list_hosted_zones_by_vpc(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    vpc_id, region = query.get("vpcid"), query.get("vpcregion")
    if not vpc_id:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'VPCId'")
    if not region:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'VPCRegion'")
    limit = bounded_page_size(query.get("maxitems"), "MaxItems", _MAX_ITEMS)
    token = query.get("nexttoken")
    if token is not None and not _ZONE_ID.match(token):
        raise Route53WireError("InvalidPaginationToken", "The specified NextToken is not valid.")
    owner = await service.owns_vpc(tenant, (region, vpc_id))
    zones = sorted(
        (
            z
            for z in await service.store.with_vpc(vpc_id)
            if (owner or z.tenant_id == tenant) and (region, vpc_id) in z.vpcs
        ),
        key=lambda z: z.zone_id,
    )
    if token is not None:
        zones = [z for z in zones if z.zone_id >= token]
    xml = wire.writer("ListHostedZonesByVPCResponse")
    xml.open("HostedZoneSummaries")
    for zone in zones[:limit]:
        xml.open("HostedZoneSummary")
        xml.element("HostedZoneId", zone.zone_id)
        xml.element("Name", display_name(zone.name))
        xml.open("Owner")
        xml.element("OwningAccount", zone.tenant_id)
        xml.close("Owner")
        xml.close("HostedZoneSummary")
    xml.close("HostedZoneSummaries")
    xml.element("MaxItems", limit)
    xml.element("NextToken", zones[limit].zone_id if len(zones) > limit else None)
    return wire.answer(xml)
