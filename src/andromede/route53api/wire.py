"""Route 53's REST-XML shapes (decision 0280): request documents read into the service's
values (``defusedxml``, any namespace), answers written as botocore's ``route53`` model
names them: record sets with their routing policy and alias target (decision 0284) and the
traffic policy instance that made them (decision 0330) and their ``GeoProximityLocation``
(decision 0339)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.geoproximity import GeoProximity
from andromede.route53.model import (
    AliasTarget,
    Change,
    HostedZone,
    RecordSet,
    display_name,
    normalise_name,
)
from andromede.route53.service import Submitted
from andromede.route53api.errors import NAMESPACE, Route53WireError

__all__ = [
    "answer",
    "change_info",
    "document",
    "parse_changes",
    "text",
    "vpc_of",
    "write_delegation",
    "write_vpc",
    "write_vpcs",
    "write_zone",
    "writer",
]

_GEO_FIELDS: tuple[str, ...] = ("ContinentCode", "CountryCode", "SubdivisionCode")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def document(body: bytes, root_name: str) -> Element:
    try:
        root = cast(Element, SafeET.fromstring(body))
    except (SafeET.ParseError, DefusedXmlException, ValueError, UnicodeError) as exc:
        raise Route53WireError(
            "InvalidInput", "Invalid XML ; the document is not well-formed"
        ) from exc
    if _local(root.tag) != root_name:
        raise Route53WireError("InvalidInput", f"Invalid XML ; expected the element {root_name}")
    return root


def child(node: Element, name: str) -> Element | None:
    return next((c for c in node if _local(c.tag) == name), None)


def children(node: Element | None, name: str) -> list[Element]:
    return [] if node is None else [c for c in node if _local(c.tag) == name]


def text(node: Element | None, name: str, required: bool = False) -> str | None:
    found = None if node is None else child(node, name)
    if found is None:
        if required:
            raise Route53WireError("InvalidInput", f"Invalid request: Missing field '{name}'")
        return None
    return (found.text or "").strip()


def vpc_of(node: Element | None) -> tuple[str, str] | None:
    vpc = None if node is None else child(node, "VPC")
    if vpc is None:
        return None
    vpc_id = text(vpc, "VPCId", required=True) or ""
    region = text(vpc, "VPCRegion", required=True) or ""
    return region, vpc_id


def parse_changes(root: Element) -> list[Change]:
    batch = child(root, "ChangeBatch")
    entries = children(None if batch is None else child(batch, "Changes"), "Change")
    if not entries:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'Changes'")
    changes = []
    for entry in entries:
        action = text(entry, "Action", required=True) or ""
        if action not in {"CREATE", "DELETE", "UPSERT"}:
            raise Route53WireError(
                "InvalidInput",
                f"Invalid XML ; cvc-enumeration-valid: Value '{action[:16]}' is not facet-valid "
                "with respect to enumeration '[CREATE, DELETE, UPSERT]'.",
            )
        node = child(entry, "ResourceRecordSet")
        if node is None:
            raise Route53WireError(
                "InvalidInput", "Invalid request: Missing field 'ResourceRecordSet'"
            )
        changes.append(Change(action, _record_set(node, action)))
    return changes


def _integer(node: Element, name: str) -> int | None:
    raw = text(node, name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise Route53WireError("InvalidInput", f"Invalid {name} {raw[:16]}") from exc


def _record_set(node: Element, action: str) -> RecordSet:
    if child(node, "TrafficPolicyInstanceId") is not None:
        # Decision 0330: an instance's sets are made by CreateTrafficPolicyInstance only.
        raise Route53WireError(
            "InvalidInput",
            "Invalid request: a traffic policy instance's record sets are created by "
            "CreateTrafficPolicyInstance, not ChangeResourceRecordSets",
        )
    name = normalise_name(text(node, "Name", required=True) or "")
    record_type = text(node, "Type", required=True) or ""
    identifier = text(node, "SetIdentifier")
    words = (
        f"Change with [Action={action}, Name={display_name(name)}, Type={record_type}, "
        f"SetIdentifier={identifier if identifier is not None else 'null'}]"
    )
    ttl = _integer(node, "TTL")
    values = tuple(
        (text(r, "Value", required=True) or "")
        for r in children(child(node, "ResourceRecords"), "ResourceRecord")
    )
    alias = _alias(child(node, "AliasTarget"))
    if alias is not None and (ttl is not None or values):
        raise Route53WireError(
            "InvalidInput",
            "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and "
            f"ResourceRecords], or TrafficPolicyInstanceId], but found more than one in {words}",
        )
    if alias is None and ttl is None and values:
        raise Route53WireError("InvalidInput", f"Invalid request: Missing field 'TTL' in {words}")
    geo = child(node, "GeoLocation")
    cidr = child(node, "CidrRoutingConfig")
    multivalue = text(node, "MultiValueAnswer")
    return RecordSet(
        name,
        record_type,
        max(ttl or 0, 0) if alias is None else 0,
        values,
        set_identifier=identifier,
        weight=_integer(node, "Weight"),
        region=text(node, "Region"),
        geo_location=tuple(
            (field, value) for field in _GEO_FIELDS if (value := text(geo, field)) is not None
        )
        if geo is not None
        else (),
        failover=text(node, "Failover"),
        multivalue=None if multivalue is None else multivalue.lower() == "true",
        health_check_id=text(node, "HealthCheckId"),
        cidr_routing=None
        if cidr is None
        else (
            text(cidr, "CollectionId", required=True) or "",
            text(cidr, "LocationName", required=True) or "",
        ),
        geoproximity=_geoproximity(child(node, "GeoProximityLocation")),
        alias=alias,
    )


def _geoproximity(node: Element | None) -> GeoProximity | None:
    if node is None:
        return None
    coordinates = child(node, "Coordinates")
    return GeoProximity(
        aws_region=text(node, "AWSRegion"),
        local_zone_group=text(node, "LocalZoneGroup"),
        latitude=None if coordinates is None else text(coordinates, "Latitude", required=True),
        longitude=None if coordinates is None else text(coordinates, "Longitude", required=True),
        bias=_integer(node, "Bias"),
    )


def _alias(node: Element | None) -> AliasTarget | None:
    if node is None:
        return None
    zone_id = text(node, "HostedZoneId", required=True) or ""
    dns_name = text(node, "DNSName", required=True) or ""
    evaluate = text(node, "EvaluateTargetHealth")
    if evaluate is None:
        raise Route53WireError(
            "InvalidInput",
            "Invalid XML ; cvc-complex-type.2.4.b: The content of element 'AliasTarget' is not "
            'complete. One of \'{"https://route53.amazonaws.com/doc/2013-04-01/":'
            "EvaluateTargetHealth}' is expected.",
        )
    return AliasTarget(
        zone_id.rsplit("/", 1)[-1], normalise_name(dns_name), evaluate.lower() == "true"
    )


def timestamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def change_info(xml: XmlWriter, submitted: Submitted, comment: str | None = None) -> None:
    xml.open("ChangeInfo")
    xml.element("Id", f"/change/{submitted.change_id}")
    xml.element("Status", "INSYNC")
    xml.element("SubmittedAt", timestamp(submitted.submitted))
    xml.element("Comment", comment or None)
    xml.close("ChangeInfo")


def write_zone(xml: XmlWriter, zone: HostedZone) -> None:
    xml.open("HostedZone")
    xml.element("Id", f"/hostedzone/{zone.zone_id}")
    xml.element("Name", display_name(zone.name))
    xml.element("CallerReference", zone.caller_reference)
    xml.open("Config")
    xml.element("Comment", zone.comment or None)
    xml.element("PrivateZone", zone.private)
    xml.close("Config")
    xml.element("ResourceRecordSetCount", len(zone.records))
    xml.close("HostedZone")


def write_vpc(xml: XmlWriter, vpc: tuple[str, str]) -> None:
    xml.open("VPC")
    xml.element("VPCRegion", vpc[0])
    xml.element("VPCId", vpc[1])
    xml.close("VPC")


def write_vpcs(xml: XmlWriter, vpcs: tuple[tuple[str, str], ...]) -> None:
    xml.open("VPCs")
    for vpc in vpcs:
        write_vpc(xml, vpc)
    xml.close("VPCs")


def write_delegation(xml: XmlWriter, zone: HostedZone) -> None:
    servers = next((r.values for r in zone.records if r.name == zone.name and r.type == "NS"), ())
    xml.open("DelegationSet")
    if zone.delegation_set_id is not None:  # a reusable set's (decision 0346)
        xml.element("Id", f"/delegationset/{zone.delegation_set_id}")
    xml.open("NameServers")
    xml.elements("NameServer", [s.rstrip(".") for s in servers])
    xml.close("NameServers")
    xml.close("DelegationSet")


def write_record(xml: XmlWriter, record: RecordSet) -> None:
    xml.open("ResourceRecordSet")
    xml.element("Name", display_name(record.name))
    xml.element("Type", record.type)
    xml.element("SetIdentifier", record.set_identifier)
    xml.element("Weight", record.weight)
    xml.element("Region", record.region)
    if record.geo_location:
        xml.open("GeoLocation")
        for field, value in record.geo_location:
            xml.element(field, value)
        xml.close("GeoLocation")
    xml.element("Failover", record.failover)
    xml.element("MultiValueAnswer", record.multivalue)
    if record.alias is None:
        xml.element("TTL", record.ttl)
        xml.open("ResourceRecords")
        for value in record.values:
            xml.open("ResourceRecord")
            xml.element("Value", value)
            xml.close("ResourceRecord")
        xml.close("ResourceRecords")
    else:
        xml.open("AliasTarget")
        xml.element("HostedZoneId", record.alias.hosted_zone_id)
        xml.element("DNSName", display_name(record.alias.dns_name))
        xml.element("EvaluateTargetHealth", record.alias.evaluate_target_health)
        xml.close("AliasTarget")
    xml.element("HealthCheckId", record.health_check_id)
    xml.element("TrafficPolicyInstanceId", record.traffic_policy_instance_id)
    if record.cidr_routing is not None:
        xml.open("CidrRoutingConfig")
        xml.element("CollectionId", record.cidr_routing[0])
        xml.element("LocationName", record.cidr_routing[1])
        xml.close("CidrRoutingConfig")
    location = record.geoproximity
    if location is not None:
        xml.open("GeoProximityLocation")
        xml.element("AWSRegion", location.aws_region)
        xml.element("LocalZoneGroup", location.local_zone_group)
        if location.latitude is not None:
            xml.open("Coordinates")
            xml.element("Latitude", location.latitude)
            xml.element("Longitude", location.longitude)
            xml.close("Coordinates")
        xml.element("Bias", location.bias)
        xml.close("GeoProximityLocation")
    xml.close("ResourceRecordSet")


def writer(root: str) -> XmlWriter:
    return XmlWriter(root, namespace=NAMESPACE)


def answer(xml: XmlWriter, status: int = 200, location: str | None = None) -> Response:
    headers = [("Content-Type", "text/xml")]
    if location is not None:
        headers.append(("Location", location))
    return Response(status=status, headers=headers, body=xml.document())
