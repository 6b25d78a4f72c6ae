"""EventBridge's connection and API destination actions (decision 0200): Create, Describe,
Update, Delete and DeauthorizeConnection on ``connection/<name>``, Create, Describe, Update
and DeleteApiDestination on ``api-destination/<name>``, the lists on ``*`` — each
``events:<Action>``, calling :class:`andromede.events.connections.ConnectionService`. No
answer ever carries a secret: DescribeConnection shows the public AuthParameters only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.events.connection_model import ApiDestination, Connection
from andromede.events.connections import ConnectionService
from andromede.eventsapi.actions import EventsCall
from andromede.eventsapi.errors import EventsWireError

__all__ = ["CONNECTION_ACTIONS"]


def _service(call: EventsCall) -> ConnectionService:
    if call.connections is None:
        raise EventsWireError("UnsupportedOperation", "Connections are not served here.")
    return call.connections


def _times(connection: Connection, *, authorized: bool = True) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "ConnectionArn": connection.arn,
        "ConnectionState": connection.state,
        "CreationTime": connection.created.timestamp(),
        "LastModifiedTime": connection.modified.timestamp(),
    }
    if authorized and connection.last_authorized is not None:
        shape["LastAuthorizedTime"] = connection.last_authorized.timestamp()
    return shape


def _connection_shape(connection: Connection, *, full: bool) -> dict[str, Any]:
    shape = {
        **_times(connection),
        "Name": connection.name,
        "AuthorizationType": connection.auth_type,
    }
    if connection.state_reason is not None:
        shape["StateReason"] = connection.state_reason
    if full:
        shape["SecretArn"] = connection.secret_arn
        shape["AuthParameters"] = connection.shown
        if connection.kms_key is not None:
            shape["KmsKeyIdentifier"] = connection.kms_key
        if connection.description is not None:
            shape["Description"] = connection.description
    return shape


def _destination_shape(destination: ApiDestination, *, full: bool) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "ApiDestinationArn": destination.arn,
        "Name": destination.name,
        "ApiDestinationState": destination.state,
        "ConnectionArn": destination.connection_arn,
        "InvocationEndpoint": destination.endpoint,
        "HttpMethod": destination.method,
        "InvocationRateLimitPerSecond": destination.rate,
        "CreationTime": destination.created.timestamp(),
        "LastModifiedTime": destination.modified.timestamp(),
    }
    if full and destination.description is not None:
        shape["Description"] = destination.description
    return shape


def _not_served(call: EventsCall) -> None:
    if call.params.get("InvocationConnectivityParameters") is not None:
        raise EventsWireError(
            "ValidationException",
            "InvocationConnectivityParameters is not supported here (decision 0200): "
            "connections reach public endpoints.",
        )


def _rate(call: EventsCall) -> int | None:
    value = call.params.get("InvocationRateLimitPerSecond")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise EventsWireError(
            "ValidationException", "InvocationRateLimitPerSecond must be an integer."
        )
    return value


async def create_connection(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("CreateConnection", service.connection_arn(call.tenant_id, name))
    _not_served(call)
    connection = await service.create_connection(
        call.tenant_id,
        name,
        call.text("AuthorizationType", required=True, limit=64) or "",
        call.params.get("AuthParameters"),
        description=call.text("Description", limit=512),
        kms_key=call.text("KmsKeyIdentifier", limit=2048),
        caller=call.caller,
    )
    call.resources[-1] = connection.arn
    return _times(connection, authorized=False)


async def describe_connection(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("DescribeConnection", service.connection_arn(call.tenant_id, name))
    return _connection_shape(await service.describe_connection(call.tenant_id, name), full=True)


async def list_connections(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    await call.allow("ListConnections", "*")
    after, limit = call.page()
    found = await service.list_connections(
        call.tenant_id,
        prefix=call.text("NamePrefix", limit=64) or "",
        state=call.text("ConnectionState", limit=64),
        after=after,
        limit=limit + 1,
    )
    answer: dict[str, Any] = {
        "Connections": [_connection_shape(c, full=False) for c in found[:limit]]
    }
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def update_connection(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("UpdateConnection", service.connection_arn(call.tenant_id, name))
    _not_served(call)
    connection = await service.update_connection(
        call.tenant_id,
        name,
        auth_type=call.text("AuthorizationType", limit=64),
        auth_params=call.params.get("AuthParameters"),
        description=call.text("Description", limit=512),
        kms_key=call.text("KmsKeyIdentifier", limit=2048),
        caller=call.caller,
    )
    return _times(connection)


async def delete_connection(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("DeleteConnection", service.connection_arn(call.tenant_id, name))
    return _times(await service.delete_connection(call.tenant_id, name))


async def deauthorize_connection(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("DeauthorizeConnection", service.connection_arn(call.tenant_id, name))
    return _times(await service.deauthorize_connection(call.tenant_id, name, caller=call.caller))


def _destination_answer(destination: ApiDestination) -> dict[str, Any]:
    return {
        "ApiDestinationArn": destination.arn,
        "ApiDestinationState": destination.state,
        "CreationTime": destination.created.timestamp(),
        "LastModifiedTime": destination.modified.timestamp(),
    }


async def create_api_destination(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("CreateApiDestination", service.destination_arn(call.tenant_id, name))
    destination = await service.create_destination(
        call.tenant_id,
        name,
        call.text("ConnectionArn", required=True, limit=1600) or "",
        call.text("InvocationEndpoint", required=True, limit=2048) or "",
        call.text("HttpMethod", required=True, limit=16) or "",
        rate=_rate(call),
        description=call.text("Description", limit=512),
    )
    call.resources[-1] = destination.arn
    return _destination_answer(destination)


async def describe_api_destination(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("DescribeApiDestination", service.destination_arn(call.tenant_id, name))
    found = await service.describe_destination(call.tenant_id, name)
    return _destination_shape(found, full=True)


async def list_api_destinations(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    await call.allow("ListApiDestinations", "*")
    after, limit = call.page()
    found = await service.list_destinations(
        call.tenant_id,
        prefix=call.text("NamePrefix", limit=64) or "",
        connection_arn=call.text("ConnectionArn", limit=1600),
        after=after,
        limit=limit + 1,
    )
    answer: dict[str, Any] = {
        "ApiDestinations": [_destination_shape(d, full=False) for d in found[:limit]]
    }
    if len(found) > limit:
        answer["NextToken"] = found[limit - 1].name
    return answer


async def update_api_destination(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("UpdateApiDestination", service.destination_arn(call.tenant_id, name))
    destination = await service.update_destination(
        call.tenant_id,
        name,
        connection_arn=call.text("ConnectionArn", limit=1600),
        endpoint=call.text("InvocationEndpoint", limit=2048),
        method=call.text("HttpMethod", limit=16),
        rate=_rate(call),
        description=call.text("Description", limit=512),
    )
    return _destination_answer(destination)


async def delete_api_destination(call: EventsCall) -> dict[str, Any]:
    service = _service(call)
    name = call.text("Name", required=True, limit=64) or ""
    await call.allow("DeleteApiDestination", service.destination_arn(call.tenant_id, name))
    await service.delete_destination(call.tenant_id, name)
    return {}


CONNECTION_ACTIONS: Final[dict[str, Callable[[EventsCall], Awaitable[dict[str, Any]]]]] = {
    "CreateConnection": create_connection,
    "DescribeConnection": describe_connection,
    "ListConnections": list_connections,
    "UpdateConnection": update_connection,
    "DeleteConnection": delete_connection,
    "DeauthorizeConnection": deauthorize_connection,
    "CreateApiDestination": create_api_destination,
    "DescribeApiDestination": describe_api_destination,
    "ListApiDestinations": list_api_destinations,
    "UpdateApiDestination": update_api_destination,
    "DeleteApiDestination": delete_api_destination,
}
