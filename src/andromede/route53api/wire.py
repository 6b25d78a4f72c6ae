"""Route 53's REST-XML shapes (decision 0280): request documents read into the service's
values (``defusedxml``, any namespace), answers written as botocore's ``route53`` model
names them. Alias targets, routing policies and health checks are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.model import Change, HostedZone, RecordSet, display_name, normalise_name
from andromede.route53.service import Submitted
from andromede.route53api.errors import NAMESPACE, Route53WireError

__all__ = [
    "answer",
    "change_info",
    "document",
    "parse_changes",
    "text",
    "vpc_of",
    "write_zone",
    "writer",
]

_NOT_YET: tuple[tuple[str, str], ...] = (
    ("AliasTarget", "Alias records"),
    ("HealthCheckId", "Health checks"),
    ("TrafficPolicyInstanceId", "Traffic policies"),
    ("SetIdentifier", "Routing policies other than simple"),
    ("Weight", "Weighted routing"),
    ("Region", "Latency routing"),
    ("GeoLocation", "Geolocation routing"),
    ("GeoProximityLocation", "Geoproximity routing"),
    ("Failover", "Failover routing"),
    ("MultiValueAnswer", "Multivalue answer routing"),
    ("CidrRoutingConfig", "IP-based routing"),
)


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
        for element, feature in _NOT_YET:
            if child(node, element) is not None:
                raise Route53WireError(
                    "InvalidInput", f"{feature} ({element}) are not supported yet"
                )
        name = normalise_name(text(node, "Name", required=True) or "")
        ttl_text = text(node, "TTL")
        try:
            ttl = int(ttl_text) if ttl_text is not None else -1
        except ValueError as exc:
            raise Route53WireError("InvalidInput", f"Invalid TTL {(ttl_text or '')[:16]}") from exc
        values = tuple(
            (text(r, "Value", required=True) or "")
            for r in children(child(node, "ResourceRecords"), "ResourceRecord")
        )
        record_type = text(node, "Type", required=True) or ""
        if ttl < 0 and values:
            raise Route53WireError(
                "InvalidInput",
                f"Invalid request: Missing field 'TTL' in Change with [Action={action}, "
                f"Name={display_name(name)}, Type={record_type}, SetIdentifier=null]",
            )
        changes.append(Change(action, RecordSet(name, record_type, max(ttl, 0), values)))
    return changes


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


def write_vpcs(xml: XmlWriter, vpcs: tuple[tuple[str, str], ...]) -> None:
    xml.open("VPCs")
    for region, vpc_id in vpcs:
        xml.open("VPC")
        xml.element("VPCRegion", region)
        xml.element("VPCId", vpc_id)
        xml.close("VPC")
    xml.close("VPCs")


def write_delegation(xml: XmlWriter, zone: HostedZone) -> None:
    servers = next((r.values for r in zone.records if r.name == zone.name and r.type == "NS"), ())
    xml.open("DelegationSet")
    xml.open("NameServers")
    xml.elements("NameServer", [s.rstrip(".") for s in servers])
    xml.close("NameServers")
    xml.close("DelegationSet")


def write_record(xml: XmlWriter, record: RecordSet) -> None:
    xml.open("ResourceRecordSet")
    xml.element("Name", display_name(record.name))
    xml.element("Type", record.type)
    xml.element("TTL", record.ttl)
    xml.open("ResourceRecords")
    for value in record.values:
        xml.open("ResourceRecord")
        xml.element("Value", value)
        xml.close("ResourceRecord")
    xml.close("ResourceRecords")
    xml.close("ResourceRecordSet")


def writer(root: str) -> XmlWriter:
    return XmlWriter(root, namespace=NAMESPACE)


def answer(xml: XmlWriter, status: int = 200, location: str | None = None) -> Response:
    headers = [("Content-Type", "text/xml")]
    if location is not None:
        headers.append(("Location", location))
    return Response(status=status, headers=headers, body=xml.document())
