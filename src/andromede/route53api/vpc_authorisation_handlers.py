"""Route 53's VPC association authorisations on the wire (decision 0346):
CreateVPCAssociationAuthorization, ListVPCAssociationAuthorizations (``maxresults`` up to
50, ``nexttoken`` the next VPC's ``<vpc id>:<region>``) and DeleteVPCAssociationAuthorization,
by the zone's account, in botocore's ``route53`` shapes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.http.response import Response
from andromede.route53.service import Route53Service
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.operations import Route

__all__ = ["VPC_AUTHORISATION_HANDLERS"]

_MAX_RESULTS: Final = 50
_TOKEN: Final = re.compile(r"^[\w-]{1,64}:[\w-]{1,64}$")


def _vpc(body: bytes, root_name: str) -> tuple[str, str]:
    vpc = wire.vpc_of(wire.document(body, root_name))
    if vpc is None:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'VPC'")
    return vpc


async def create(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    vpc = _vpc(body, "CreateVPCAssociationAuthorizationRequest")
    await service.authorise_vpc(tenant, op.zone_id, vpc)
    xml = wire.writer("CreateVPCAssociationAuthorizationResponse")
    xml.element("HostedZoneId", op.zone_id)
    wire.write_vpc(xml, vpc)
    return wire.answer(xml)


async def delete(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    vpc = _vpc(body, "DeleteVPCAssociationAuthorizationRequest")
    await service.deauthorise_vpc(tenant, op.zone_id, vpc)
    return wire.answer(wire.writer("DeleteVPCAssociationAuthorizationResponse"))


async def list_authorisations(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    raw = query.get("maxresults") or str(_MAX_RESULTS)
    try:
        limit = int(raw)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", f"Invalid value for MaxResults: {raw[:16]}") from exc
    if limit < 1:
        raise Route53WireError("InvalidInput", "MaxResults must be at least 1")
    limit = min(limit, _MAX_RESULTS)
    token = query.get("nexttoken")
    if token is not None and not _TOKEN.match(token):
        raise Route53WireError("InvalidPaginationToken", "The specified NextToken is not valid.")
    zone = await service.zone(tenant, op.zone_id)
    vpcs = sorted(zone.authorised_vpcs, key=lambda v: (v[1], v[0]))
    if token is not None:
        vpcs = [v for v in vpcs if f"{v[1]}:{v[0]}" >= token]
    xml = wire.writer("ListVPCAssociationAuthorizationsResponse")
    xml.element("HostedZoneId", zone.zone_id)
    if len(vpcs) > limit:
        region, vpc_id = vpcs[limit]
        xml.element("NextToken", f"{vpc_id}:{region}")
    xml.open("VPCs")
    for vpc in vpcs[:limit]:
        wire.write_vpc(xml, vpc)
    xml.close("VPCs")
    return wire.answer(xml)


VPC_AUTHORISATION_HANDLERS: Final = {
    "CreateVPCAssociationAuthorization": create,
    "ListVPCAssociationAuthorizations": list_authorisations,
    "DeleteVPCAssociationAuthorization": delete,
}
