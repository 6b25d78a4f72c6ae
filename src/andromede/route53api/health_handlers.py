"""Route 53 health checks' handlers (decision 0285): each operation's request read, the
health check service called, the answer written in botocore's ``route53`` shapes; and the
tags of a health check (ChangeTagsForResource, ListTagsForResource, ListTagsForResources
for both resource types)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final

from andromede.http.response import Response
from andromede.http.xml import XmlWriter
from andromede.route53.errors import NoSuchHostedZone
from andromede.route53.health_service import HealthCheckService
from andromede.route53.service import Route53Service
from andromede.route53api import wire
from andromede.route53api.errors import Route53WireError
from andromede.route53api.health_wire import (
    read_config,
    read_update,
    write_health_check,
    write_observations,
)
from andromede.route53api.inputs import max_items
from andromede.route53api.operations import Route

__all__ = ["health_handler"]

HealthHandler = Callable[
    [Route53Service, HealthCheckService, str, Route, Mapping[str, str], bytes],
    Awaitable[Response],
]
_MAX_ITEMS: Final = 1000
_MAX_TAGGED: Final = 10  # ListTagsForResources: ten resources a call


async def create_health_check(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    root = wire.document(body, "CreateHealthCheckRequest")
    reference = wire.text(root, "CallerReference", required=True) or ""
    check = await health.create(tenant, reference, read_config(root))
    xml = wire.writer("CreateHealthCheckResponse")
    write_health_check(xml, check)
    return wire.answer(xml, 201, f"/2013-04-01/healthcheck/{check.health_check_id}")


async def get_health_check(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    xml = wire.writer("GetHealthCheckResponse")
    write_health_check(xml, await health.get(tenant, op.health_check_id))
    return wire.answer(xml)


async def list_health_checks(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    limit = max_items(query, _MAX_ITEMS, default=100)
    checks, next_marker = await health.page(tenant, query.get("marker"), limit)
    xml = wire.writer("ListHealthChecksResponse")
    xml.open("HealthChecks")
    for check in checks:
        write_health_check(xml, check)
    xml.close("HealthChecks")
    xml.element("Marker", query.get("marker", ""))
    xml.element("IsTruncated", next_marker is not None)
    xml.element("NextMarker", next_marker)
    xml.element("MaxItems", limit)
    return wire.answer(xml)


async def update_health_check(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    root = wire.document(body, "UpdateHealthCheckRequest")
    version, changes, reset = read_update(root)
    check = await health.update(tenant, op.health_check_id, version, changes, reset)
    xml = wire.writer("UpdateHealthCheckResponse")
    write_health_check(xml, check)
    return wire.answer(xml)


async def delete_health_check(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    await health.delete(tenant, op.health_check_id)
    return wire.answer(wire.writer("DeleteHealthCheckResponse"))


async def get_health_check_count(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    xml = wire.writer("GetHealthCheckCountResponse")
    xml.element("HealthCheckCount", await health.count(tenant))
    return wire.answer(xml)


async def get_health_check_status(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    check = await health.get(tenant, op.health_check_id)
    if check.config.type == "CALCULATED":
        # AWS: GetHealthCheckStatus does not answer calculated health checks.
        raise Route53WireError(
            "InvalidInput", "The status of a calculated health check is not available."
        )
    xml = wire.writer("GetHealthCheckStatusResponse")
    write_observations(xml, check.status.observations)
    return wire.answer(xml)


async def get_last_failure_reason(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    check = await health.get(tenant, op.health_check_id)
    xml = wire.writer("GetHealthCheckLastFailureReasonResponse")
    write_observations(xml, check.status.last_failures)
    return wire.answer(xml)


def _read_tag_changes(body: bytes) -> tuple[list[tuple[str, str]], list[str]]:
    root = wire.document(body, "ChangeTagsForResourceRequest")
    add = [
        (wire.text(t, "Key", required=True) or "", wire.text(t, "Value") or "")
        for t in wire.children(wire.child(root, "AddTags"), "Tag")
    ]
    remove = [
        (k.text or "").strip() for k in wire.children(wire.child(root, "RemoveTagKeys"), "Key")
    ]
    return add, remove


async def change_tags(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    add, remove = _read_tag_changes(body)
    await health.change_tags(tenant, op.health_check_id, add, remove)
    return wire.answer(wire.writer("ChangeTagsForResourceResponse"))


def _write_tag_set(
    xml: XmlWriter, kind: str, resource_id: str, tags: Sequence[tuple[str, str]]
) -> None:
    xml.open("ResourceTagSet")
    xml.element("ResourceType", kind)
    xml.element("ResourceId", resource_id)
    xml.open("Tags")
    for key, value in tags:
        xml.open("Tag")
        xml.element("Key", key)
        xml.element("Value", value)
        xml.close("Tag")
    xml.close("Tags")
    xml.close("ResourceTagSet")


async def list_tags(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    check = await health.get(tenant, op.health_check_id)
    xml = wire.writer("ListTagsForResourceResponse")
    _write_tag_set(xml, "healthcheck", check.health_check_id, check.tags)
    return wire.answer(xml)


async def list_tags_for_resources(
    zones: Route53Service,
    health: HealthCheckService,
    tenant: str,
    op: Route,
    query: Mapping[str, str],
    body: bytes,
) -> Response:
    root = wire.document(body, "ListTagsForResourcesRequest")
    ids = [
        (e.text or "").strip() for e in wire.children(wire.child(root, "ResourceIds"), "ResourceId")
    ]
    if not ids:
        raise Route53WireError("InvalidInput", "Invalid request: Missing field 'ResourceIds'")
    if len(ids) > _MAX_TAGGED:
        raise Route53WireError(
            "InvalidInput", f"At most {_MAX_TAGGED} resource IDs can be specified in a request."
        )
    xml = wire.writer("ListTagsForResourcesResponse")
    xml.open("ResourceTagSets")
    for resource_id in ids:
        if op.resource_type == "healthcheck":
            tags = (await health.get(tenant, resource_id)).tags
        else:
            zone = await zones.store.get(tenant, resource_id)
            if zone is None:
                raise NoSuchHostedZone(f"No hosted zone found with ID: {resource_id[:64]}")
            tags = zone.tags
        _write_tag_set(xml, op.resource_type, resource_id, tags)
    xml.close("ResourceTagSets")
    return wire.answer(xml)


_ALWAYS: Final[dict[str, HealthHandler]] = {
    "CreateHealthCheck": create_health_check,
    "ListHealthChecks": list_health_checks,
    "GetHealthCheckCount": get_health_check_count,
    "ListTagsForResources": list_tags_for_resources,
}
_BY_ID: Final[dict[str, HealthHandler]] = {
    "GetHealthCheck": get_health_check,
    "UpdateHealthCheck": update_health_check,
    "DeleteHealthCheck": delete_health_check,
    "GetHealthCheckStatus": get_health_check_status,
    "GetHealthCheckLastFailureReason": get_last_failure_reason,
    "ChangeTagsForResource": change_tags,
    "ListTagsForResource": list_tags,
}


def health_handler(op: Route) -> HealthHandler | None:
    """The handler of a health check operation (None: a hosted zone's)."""
    if op.name in _ALWAYS:
        return _ALWAYS[op.name]
    if op.health_check_id:
        return _BY_ID.get(op.name)
    return None
