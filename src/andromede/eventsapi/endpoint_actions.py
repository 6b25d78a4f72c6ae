"""EventBridge's global endpoints on the wire (decision 0355): CreateEndpoint,
DescribeEndpoint, ListEndpoints, UpdateEndpoint, DeleteEndpoint, each authorised as
``events:<Action>`` on the endpoint's ARN (``*`` for ListEndpoints), and PutEvents with an
``EndpointId``: the entries go to the endpoint's bus in the Region its health check picks,
then on as any PutEvents there (its policies, its rules, its metering).

botocore signs a PutEvents naming an endpoint with SigV4a (its ruleset's ``sigv4a`` auth
scheme, ``X-Amz-Region-Set: *``); the shared endpoint verifies SigV4 (decision 0355 says
what a client sets meanwhile).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.events.endpoint_model import Endpoint, check_endpoint_name
from andromede.events.endpoints import EndpointService
from andromede.eventsapi.actions import EventsCall, put_events
from andromede.eventsapi.errors import EventsWireError

__all__ = ["ENDPOINT_ACTIONS"]

_ENDPOINT_ID: Final = re.compile(r"[A-Za-z0-9\-]+[\.][A-Za-z0-9\-]+")


def _service(call: EventsCall) -> EndpointService:
    if call.endpoints is None:
        raise EventsWireError(
            "UnsupportedOperation", "Global endpoints are not served here (decision 0355)."
        )
    return call.endpoints


def _arn(call: EventsCall, region: str, name: str) -> str:
    return f"arn:aws:events:{region}:{call.tenant_id}:endpoint/{name}"


def _home(call: EventsCall, service: EndpointService) -> str:
    region = call.params.get("HomeRegion")
    if region is None:
        return call.events.region
    if not isinstance(region, str) or region not in service.regions:
        raise EventsWireError("ValidationException", f"HomeRegion {str(region)[:20]} is not valid.")
    return region


def _shape(endpoint: Endpoint, url: str, *, full: bool = True) -> dict[str, Any]:
    s = endpoint.settings
    answer: dict[str, Any] = {
        "Name": endpoint.name,
        "Arn": endpoint.arn,
        "RoutingConfig": {
            "FailoverConfig": {
                "Primary": {"HealthCheck": s.health_check},
                "Secondary": {"Route": s.secondary},
            }
        },
        "ReplicationConfig": {"State": s.replication.value},
        "EventBuses": [{"EventBusArn": arn} for arn in s.bus_arns],
        "State": endpoint.state.value,
    }
    if s.role_arn is not None:
        answer["RoleArn"] = s.role_arn
    if full:
        answer["EndpointId"] = endpoint.endpoint_id
        answer["EndpointUrl"] = url
    return answer


def _described(endpoint: Endpoint, url: str) -> dict[str, Any]:
    answer = _shape(endpoint, url)
    if endpoint.settings.description is not None:
        answer["Description"] = endpoint.settings.description
    answer["CreationTime"] = endpoint.created
    answer["LastModifiedTime"] = endpoint.modified
    return answer


async def create_endpoint(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    region = call.events.region
    name = check_endpoint_name(call.params.get("Name"))
    await call.allow("CreateEndpoint", _arn(call, region, name))
    made = await service.create(call.tenant_id, region, name, call.params)
    return _shape(made, service.url, full=False)


async def describe_endpoint(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    region = _home(call, service)
    name = check_endpoint_name(call.params.get("Name"))
    await call.allow("DescribeEndpoint", _arn(call, region, name))
    return _described(await service.describe(call.tenant_id, region, name), service.url)


async def list_endpoints(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    region = _home(call, service)
    await call.allow("ListEndpoints", "*")
    prefix = call.text("NamePrefix", limit=64) or ""
    token = call.text("NextToken") or ""
    limit = call.params.get("MaxResults", call.list_page)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 100:
        raise EventsWireError("ValidationException", "MaxResults must be between 1 and 100.")
    limit = min(limit, call.list_page)
    found = await service.list_page(call.tenant_id, region, prefix, token, limit + 1)
    answer: dict[str, Any] = {"Endpoints": [_described(e, service.url) for e in found[:limit]]}
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def update_endpoint(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    region = call.events.region
    name = check_endpoint_name(call.params.get("Name"))
    await call.allow("UpdateEndpoint", _arn(call, region, name))
    return _shape(await service.update(call.tenant_id, region, name, call.params), service.url)


async def delete_endpoint(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    region = call.events.region
    name = check_endpoint_name(call.params.get("Name"))
    await call.allow("DeleteEndpoint", _arn(call, region, name))
    await service.delete(call.tenant_id, region, name)
    return {}


async def put_events_anywhere(call: EventsCall) -> dict[str, Any]:
    """PutEvents; with ``EndpointId``, to the endpoint's bus in the Region its health check
    picks now. An entry naming no bus, the endpoint's bus or either of its ARNs goes there;
    one naming another bus is refused with the call (an endpoint has one bus)."""
    endpoint_id = call.params.get("EndpointId")
    if endpoint_id is None:
        return await put_events(call)
    if (
        not isinstance(endpoint_id, str)
        or len(endpoint_id) > 50
        or not _ENDPOINT_ID.fullmatch(endpoint_id)
    ):
        raise EventsWireError(
            "ValidationException",
            f"1 validation error detected: Value '{str(endpoint_id)[:64]}' at 'endpointId' "
            "failed to satisfy constraint: Member must satisfy regular expression pattern: "
            "^[A-Za-z0-9\\-]+[\\.][A-Za-z0-9\\-]+$",
        )
    service = _service(call)
    routed = await service.route(call.tenant_id, endpoint_id)
    ours = {routed.bus_name, *routed.endpoint.settings.bus_arns}
    entries = call.params.get("Entries")
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            named = entry.get("EventBusName")
            if named and named not in ours:
                raise EventsWireError(
                    "ValidationException",
                    f"EventBusName {str(named)[:256]} is not the event bus of endpoint "
                    f"{endpoint_id}.",
                )
            entry["EventBusName"] = routed.bus_name
    call.events = service.events_in(routed.region)
    call.resources.append(routed.endpoint.arn)
    return await put_events(call)


ENDPOINT_ACTIONS: Final[dict[str, Callable[[EventsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateEndpoint": create_endpoint,
    "DescribeEndpoint": describe_endpoint,
    "ListEndpoints": list_endpoints,
    "UpdateEndpoint": update_endpoint,
    "DeleteEndpoint": delete_endpoint,
    "PutEvents": put_events_anywhere,
}
