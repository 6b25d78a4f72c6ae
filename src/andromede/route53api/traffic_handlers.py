"""Route 53's traffic policies on the wire (decision 0330): policies (Create, CreateVersion,
Get, List, ListVersions, UpdateComment, Delete) and instances (Create, Get, Update, Delete,
the three lists and the count), in botocore's ``route53`` shapes; the creations answer 201
with ``Location``. Lists page by AWS's markers, ``maxitems`` up to 100."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Final
from xml.etree.ElementTree import Element

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.model import display_name
from andromede.route53.traffic import TrafficPolicy, TrafficPolicyInstance
from andromede.route53.traffic_service import TrafficPolicyService
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.inputs import hosted_zone_id, max_items
from andromede.route53api.operations import Route

__all__ = ["TRAFFIC_HANDLERS"]

TrafficHandler = Callable[
    [TrafficPolicyService, str, Route, Mapping[str, str], bytes], Awaitable[Response]
]
_MAX_ITEMS: Final = 100


def _integer(raw: str | None, name: str) -> int:
    try:
        return int(raw or "")
    except ValueError as exc:
        raise Route53WireError(
            "InvalidInput", f"Invalid value for {name}: {(raw or '')[:16]}"
        ) from exc


def _write_policy(xml: XmlWriter, policy: TrafficPolicy, tag: str = "TrafficPolicy") -> None:
    xml.open(tag)
    xml.element("Id", policy.policy_id)
    xml.element("Version", policy.version)
    xml.element("Name", policy.name)
    xml.element("Type", policy.type)
    xml.element("Document", policy.document)
    xml.element("Comment", policy.comment or None)
    xml.close(tag)


def _write_instance(xml: XmlWriter, instance: TrafficPolicyInstance) -> None:
    xml.open("TrafficPolicyInstance")
    xml.element("Id", instance.instance_id)
    xml.element("HostedZoneId", instance.zone_id)
    xml.element("Name", display_name(instance.name))
    xml.element("TTL", instance.ttl)
    xml.element("State", instance.state)
    xml.element("Message", instance.message)
    xml.element("TrafficPolicyId", instance.policy_id)
    xml.element("TrafficPolicyVersion", instance.policy_version)
    xml.element("TrafficPolicyType", instance.policy_type)
    xml.close("TrafficPolicyInstance")


def _answer_policy(root: str, policy: TrafficPolicy, created: bool = False) -> Response:
    xml = wire.writer(root)
    _write_policy(xml, policy)
    if not created:
        return wire.answer(xml)
    location = f"/2013-04-01/trafficpolicy/{policy.policy_id}/{policy.version}"
    return wire.answer(xml, 201, location)


async def create_policy(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateTrafficPolicyRequest")
    policy = await service.create_policy(
        tenant,
        wire.text(root, "Name", required=True) or "",
        _document(root),
        wire.text(root, "Comment") or "",
    )
    return _answer_policy("CreateTrafficPolicyResponse", policy, created=True)


def _document(root: Element) -> str:
    node = wire.child(root, "Document")
    if node is None:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'Document'")
    return node.text or ""  # as given: GetTrafficPolicy answers it unchanged


async def create_version(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateTrafficPolicyVersionRequest")
    policy = await service.create_version(
        tenant, op.traffic_policy_id, _document(root), wire.text(root, "Comment") or ""
    )
    return _answer_policy("CreateTrafficPolicyVersionResponse", policy, created=True)


async def get_policy(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    version = _integer(op.traffic_policy_version, "Version")
    policy = await service.policy(tenant, op.traffic_policy_id, version)
    return _answer_policy("GetTrafficPolicyResponse", policy)


async def update_comment(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "UpdateTrafficPolicyCommentRequest")
    version = _integer(op.traffic_policy_version, "Version")
    comment = wire.text(root, "Comment", required=True) or ""
    policy = await service.update_comment(tenant, op.traffic_policy_id, version, comment)
    return _answer_policy("UpdateTrafficPolicyCommentResponse", policy)


async def delete_policy(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    version = _integer(op.traffic_policy_version, "Version")
    await service.delete_policy(tenant, op.traffic_policy_id, version)
    return wire.answer(wire.writer("DeleteTrafficPolicyResponse"))


async def list_policies(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    marker = query.get("trafficpolicyid")
    rows, more = await service.summaries(tenant, marker, limit)
    xml = wire.writer("ListTrafficPoliciesResponse")
    xml.open("TrafficPolicySummaries")
    for latest, count in rows:
        xml.open("TrafficPolicySummary")
        xml.element("Id", latest.policy_id)
        xml.element("Name", latest.name)
        xml.element("Type", latest.type)
        xml.element("LatestVersion", latest.version)
        xml.element("TrafficPolicyCount", count)
        xml.close("TrafficPolicySummary")
    xml.close("TrafficPolicySummaries")
    xml.element("IsTruncated", more is not None)
    # Empty on the last page: Terraform's provider and the Go SDK's callers stop at an empty
    # marker, whatever IsTruncated says (the last policy's id had them read it for ever).
    xml.element("TrafficPolicyIdMarker", more or "")
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def list_versions(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    raw = query.get("trafficpolicyversion")
    start = 1 if raw is None else _integer(raw, "TrafficPolicyVersionMarker")
    versions = [
        v for v in await service.versions(tenant, op.traffic_policy_id) if v.version >= start
    ]
    page, more = versions[:limit], versions[limit] if len(versions) > limit else None
    xml = wire.writer("ListTrafficPolicyVersionsResponse")
    xml.open("TrafficPolicies")
    for policy in page:
        _write_policy(xml, policy)
    xml.close("TrafficPolicies")
    xml.element("IsTruncated", more is not None)
    xml.element("TrafficPolicyVersionMarker", "" if more is None else str(more.version))
    xml.element("MaxItems", limit)
    return wire.answer(xml)


def _instance_settings(root: Element) -> tuple[int, str, int]:
    """What Create and UpdateTrafficPolicyInstance both set: the TTL, the policy and its
    version, read in that order (the first missing or invalid one is the one refused)."""
    return (
        _integer(wire.text(root, "TTL", required=True), "TTL"),
        wire.text(root, "TrafficPolicyId", required=True) or "",
        _integer(wire.text(root, "TrafficPolicyVersion", required=True), "TrafficPolicyVersion"),
    )


def _answer_instance(root: str, instance: TrafficPolicyInstance, created: bool = False) -> Response:
    xml = wire.writer(root)
    _write_instance(xml, instance)
    if not created:
        return wire.answer(xml)
    return wire.answer(xml, 201, f"/2013-04-01/trafficpolicyinstance/{instance.instance_id}")


async def create_instance(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "CreateTrafficPolicyInstanceRequest")
    instance = await service.create_instance(
        tenant,
        hosted_zone_id(wire.text(root, "HostedZoneId", required=True) or ""),
        wire.text(root, "Name", required=True) or "",
        *_instance_settings(root),
    )
    return _answer_instance("CreateTrafficPolicyInstanceResponse", instance, created=True)


async def get_instance(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    instance = await service.instance(tenant, op.traffic_instance_id)
    return _answer_instance("GetTrafficPolicyInstanceResponse", instance)


async def update_instance(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    root = wire.document(body, "UpdateTrafficPolicyInstanceRequest")
    instance = await service.update_instance(
        tenant,
        op.traffic_instance_id,
        *_instance_settings(root),
    )
    return _answer_instance("UpdateTrafficPolicyInstanceResponse", instance)


async def delete_instance(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    await service.delete_instance(tenant, op.traffic_instance_id)
    return wire.answer(wire.writer("DeleteTrafficPolicyInstanceResponse"))


async def _list_instances(
    service: TrafficPolicyService,
    tenant: str,
    query: Mapping[str, str],
    root: str,
    zone_id: str | None,
    policy: tuple[str, int] | None,
) -> Response:
    limit = max_items(query, _MAX_ITEMS)
    marker_zone = zone_id or query.get("hostedzoneid")
    marker_name = query.get("trafficpolicyinstancename")
    marker_type = query.get("trafficpolicyinstancetype")
    marker = None
    if marker_name is not None:
        marker = (hosted_zone_id(marker_zone or ""), marker_name, marker_type or "")
    instances, more = await service.instances(tenant, zone_id, policy, marker, limit)
    xml = wire.writer(root)
    xml.open("TrafficPolicyInstances")
    for instance in instances:
        _write_instance(xml, instance)
    xml.close("TrafficPolicyInstances")
    if more is not None and zone_id is None:
        xml.element("HostedZoneIdMarker", more.zone_id)
    if more is not None:
        xml.element("TrafficPolicyInstanceNameMarker", display_name(more.name))
        xml.element("TrafficPolicyInstanceTypeMarker", more.policy_type)
    xml.element("IsTruncated", more is not None)
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def list_instances(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    return await _list_instances(
        service, tenant, query, "ListTrafficPolicyInstancesResponse", None, None
    )


async def list_by_zone(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    zone_id = hosted_zone_id(query.get("id") or "")
    return await _list_instances(
        service, tenant, query, "ListTrafficPolicyInstancesByHostedZoneResponse", zone_id, None
    )


async def list_by_policy(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    policy = (query.get("id") or "", _integer(query.get("version"), "TrafficPolicyVersion"))
    return await _list_instances(
        service, tenant, query, "ListTrafficPolicyInstancesByPolicyResponse", None, policy
    )


async def count_instances(
    service: TrafficPolicyService, tenant: str, op: Route, query: Mapping[str, str], body: bytes
) -> Response:
    xml = wire.writer("GetTrafficPolicyInstanceCountResponse")
    xml.element("TrafficPolicyInstanceCount", len(await service.store.instances(tenant)))
    return wire.answer(xml)


TRAFFIC_HANDLERS: Final[dict[str, TrafficHandler]] = {
    "CreateTrafficPolicy": create_policy,
    "CreateTrafficPolicyVersion": create_version,
    "GetTrafficPolicy": get_policy,
    "UpdateTrafficPolicyComment": update_comment,
    "DeleteTrafficPolicy": delete_policy,
    "ListTrafficPolicies": list_policies,
    "ListTrafficPolicyVersions": list_versions,
    "CreateTrafficPolicyInstance": create_instance,
    "GetTrafficPolicyInstance": get_instance,
    "UpdateTrafficPolicyInstance": update_instance,
    "DeleteTrafficPolicyInstance": delete_instance,
    "ListTrafficPolicyInstances": list_instances,
    "ListTrafficPolicyInstancesByHostedZone": list_by_zone,
    "ListTrafficPolicyInstancesByPolicy": list_by_policy,
    "GetTrafficPolicyInstanceCount": count_instances,
}
