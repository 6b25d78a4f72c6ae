"""Route 53's handlers (decision 0280): each operation's request read, the service called,
the answer written in botocore's ``route53`` shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final

from andromede.http.response import Response
from andromede.route53.model import display_name
from andromede.route53.service import Route53Service, Submitted
from andromede.route53api import wire
from andromede.route53api.delegation_set_handlers import delegation_set_id
from andromede.route53api.dns_answer import answer_dns_test
from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import max_items
from andromede.route53api.operations import Route
from andromede.route53api.vpc_authorisation_handlers import VPC_AUTHORISATION_HANDLERS
from andromede.route53api.zones_by_vpc import list_hosted_zones_by_vpc

__all__ = ["HANDLERS"]

Handler = Callable[[Route53Service, str, Route, Mapping[str, str], bytes], Awaitable[Response]]
_MAX_ITEMS: Final = 100
_MAX_RECORDS: Final = 300


async def create_hosted_zone(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateHostedZoneRequest")
    raw_set = wire.text(root, "DelegationSetId")
    config = wire.child(root, "HostedZoneConfig")
    private = (wire.text(config, "PrivateZone") or "false").lower() == "true"
    zone, submitted = await service.create_zone(
        tenant,
        wire.text(root, "Name", required=True) or "",
        wire.text(root, "CallerReference", required=True) or "",
        wire.text(config, "Comment") or "",
        private,
        wire.vpc_of(root),
        None if raw_set is None else delegation_set_id(raw_set),
    )
    xml = wire.writer("CreateHostedZoneResponse")
    wire.write_zone(xml, zone)
    wire.change_info(xml, submitted)
    if zone.private:
        wire.write_vpc(xml, zone.vpcs[0])
    else:
        wire.write_delegation(xml, zone)
    return wire.answer(xml, 201, f"/2013-04-01/hostedzone/{zone.zone_id}")


async def get_hosted_zone(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone = await service.zone(tenant, op.zone_id)
    xml = wire.writer("GetHostedZoneResponse")
    wire.write_zone(xml, zone)
    if zone.private:
        wire.write_vpcs(xml, zone.vpcs)
    else:
        wire.write_delegation(xml, zone)
    return wire.answer(xml)


async def list_hosted_zones(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    raw_set = query.get("delegationsetid")
    set_id = None if raw_set is None else delegation_set_id(raw_set)
    if set_id is not None and service.delegation_servers is not None:
        # The set must be the account's (NoSuchDelegationSet), as AWS answers (decision 0346).
        await service.delegation_servers(tenant, set_id, None)
    zones, next_marker = await service.list_zones(tenant, query.get("marker"), limit, set_id)
    wanted = query.get("hostedzonetype")
    if wanted == "PrivateHostedZone":
        zones = [z for z in zones if z.private]
    xml = wire.writer("ListHostedZonesResponse")
    xml.open("HostedZones")
    for zone in zones:
        wire.write_zone(xml, zone)
    xml.close("HostedZones")
    xml.element("Marker", query.get("marker", ""))
    xml.element("IsTruncated", next_marker is not None)
    xml.element("NextMarker", next_marker)
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def list_hosted_zones_by_name(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    zones, more = await service.list_by_name(
        tenant, query.get("dnsname"), query.get("hostedzoneid"), limit
    )
    xml = wire.writer("ListHostedZonesByNameResponse")
    xml.open("HostedZones")
    for zone in zones:
        wire.write_zone(xml, zone)
    xml.close("HostedZones")
    xml.element("DNSName", query.get("dnsname"))
    xml.element("HostedZoneId", query.get("hostedzoneid"))
    xml.element("IsTruncated", more is not None)
    if more is not None:
        xml.element("NextDNSName", more[0])
        xml.element("NextHostedZoneId", more[1])
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def get_hosted_zone_count(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    xml = wire.writer("GetHostedZoneCountResponse")
    xml.element("HostedZoneCount", len(await service.store.zones(tenant)))
    return wire.answer(xml)


async def delete_hosted_zone(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    submitted = await service.delete_zone(tenant, op.zone_id)
    xml = wire.writer("DeleteHostedZoneResponse")
    wire.change_info(xml, submitted)
    return wire.answer(xml)


async def update_hosted_zone_comment(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "UpdateHostedZoneCommentRequest")
    zone = await service.update_comment(tenant, op.zone_id, wire.text(root, "Comment") or "")
    xml = wire.writer("UpdateHostedZoneCommentResponse")
    wire.write_zone(xml, zone)
    return wire.answer(xml)


async def change_resource_record_sets(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "ChangeResourceRecordSetsRequest")
    changes = wire.parse_changes(root)
    submitted = await service.change_records(tenant, op.zone_id, changes)
    batch = wire.child(root, "ChangeBatch")
    xml = wire.writer("ChangeResourceRecordSetsResponse")
    wire.change_info(xml, submitted, wire.text(batch, "Comment"))
    return wire.answer(xml)


async def list_resource_record_sets(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_RECORDS)
    records, more = await service.list_records(
        tenant, op.zone_id, query.get("name"), query.get("type"), limit, query.get("identifier")
    )
    xml = wire.writer("ListResourceRecordSetsResponse")
    xml.open("ResourceRecordSets")
    for record in records:
        wire.write_record(xml, record)
    xml.close("ResourceRecordSets")
    xml.element("IsTruncated", more is not None)
    if more is not None:
        xml.element("NextRecordName", display_name(more.name))
        xml.element("NextRecordType", more.type)
        xml.element("NextRecordIdentifier", more.set_identifier)
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def get_change(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    submitted = await service.change_submitted(tenant, op.change_id)
    xml = wire.writer("GetChangeResponse")
    wire.change_info(xml, Submitted(op.change_id, submitted))
    return wire.answer(xml)


async def change_tags(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "ChangeTagsForResourceRequest")
    add = [
        (wire.text(t, "Key", required=True) or "", wire.text(t, "Value") or "")
        for t in wire.children(wire.child(root, "AddTags"), "Tag")
    ]
    remove = [
        (k.text or "").strip() for k in wire.children(wire.child(root, "RemoveTagKeys"), "Key")
    ]
    await service.change_tags(tenant, op.zone_id, add, remove)
    return wire.answer(wire.writer("ChangeTagsForResourceResponse"))


async def list_tags(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone = await service.zone(tenant, op.zone_id)
    xml = wire.writer("ListTagsForResourceResponse")
    xml.open("ResourceTagSet")
    xml.element("ResourceType", "hostedzone")
    xml.element("ResourceId", zone.zone_id)
    xml.open("Tags")
    for key, value in zone.tags:
        xml.open("Tag")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("Tag")
    xml.close("Tags")
    xml.close("ResourceTagSet")
    return wire.answer(xml)


async def change_vpc_association(
    service: Route53Service, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    """AssociateVPCWithHostedZone and DisassociateVPCFromHostedZone: the same request (a VPC,
    a comment) and answer (the change); only the service's call differs."""
    root = wire.document(body, f"{op.name}Request")
    vpc = wire.vpc_of(root)
    if vpc is None:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'VPC'")
    associating = op.name == "AssociateVPCWithHostedZone"
    change = service.associate if associating else service.disassociate
    submitted = await change(tenant, op.zone_id, vpc)
    xml = wire.writer(f"{op.name}Response")
    wire.change_info(xml, submitted, wire.text(root, "Comment"))
    return wire.answer(xml)


HANDLERS: Final[dict[str, Handler]] = {
    "CreateHostedZone": create_hosted_zone,
    "GetHostedZone": get_hosted_zone,
    "ListHostedZones": list_hosted_zones,
    "ListHostedZonesByName": list_hosted_zones_by_name,
    "GetHostedZoneCount": get_hosted_zone_count,
    "DeleteHostedZone": delete_hosted_zone,
    "UpdateHostedZoneComment": update_hosted_zone_comment,
    "ChangeResourceRecordSets": change_resource_record_sets,
    "ListResourceRecordSets": list_resource_record_sets,
    "GetChange": get_change,
    "ChangeTagsForResource": change_tags,
    "ListTagsForResource": list_tags,
    "AssociateVPCWithHostedZone": change_vpc_association,
    "DisassociateVPCFromHostedZone": change_vpc_association,
    "ListHostedZonesByVPC": list_hosted_zones_by_vpc,  # decision 0285
    "TestDNSAnswer": answer_dns_test,  # decision 0289
    **VPC_AUTHORISATION_HANDLERS,  # decision 0346
}
