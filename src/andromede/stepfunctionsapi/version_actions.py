"""Step Functions' version and alias operations (decision 0283): PublishStateMachineVersion
and ListStateMachineVersions (authorised on the state machine's ARN),
DeleteStateMachineVersion (on the version's), DescribeStateMachine of a version (on the
version's), CreateStateMachineAlias, DescribeStateMachineAlias, UpdateStateMachineAlias,
DeleteStateMachineAlias (on the alias's) and ListStateMachineAliases (on the machine's) —
AWS's resources for the qualified ARNs, so that a policy naming the unqualified ARN grants
nothing on its versions and aliases (``stateMachine:<name>:*`` does)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from andromede.stepfunctions.errors import InvalidArn, ResourceNotFound, StateMachineDoesNotExist
from andromede.stepfunctions.model import machine_arn
from andromede.stepfunctions.version_service import VersionsService
from andromede.stepfunctions.versions import MachineAlias, MachineVersion, split_qualified_arn
from andromede.stepfunctionsapi import actions
from andromede.stepfunctionsapi.actions import StatesCall, machine_authorised
from andromede.stepfunctionsapi.errors import StatesWireError

__all__ = ["VERSION_ACTIONS", "describe_version", "published"]

Handler = Callable[[StatesCall], Awaitable[dict[str, Any]]]


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _service(call: StatesCall) -> VersionsService:
    if call.versions is None:
        raise StatesWireError("UnknownOperationException", "Versions are not served here")
    return call.versions


async def _on(call: StatesCall, action: str, member: str) -> str:
    """The qualified ARN the call names, once the caller may ``action`` on it."""
    arn = str(call.params.get(member))[:2048]
    call.resources.append(arn[:256])
    await call.authorise(f"states:{action}", arn, {})
    return arn


async def published(call: StatesCall, arn: str, description: Any) -> MachineVersion:
    """The version CreateStateMachine or UpdateStateMachine publishes (``publish``), once the
    caller may ``states:PublishStateMachineVersion`` on the machine, as AWS asks."""
    await call.authorise("states:PublishStateMachineVersion", arn, {})
    return await _service(call).publish(call.tenant_id, arn, None, description)


async def publish_state_machine_version(call: StatesCall) -> dict[str, Any]:
    await machine_authorised(call, "PublishStateMachineVersion")
    version = await _service(call).publish(
        call.tenant_id,
        call.params.get("stateMachineArn"),
        call.params.get("revisionId"),
        call.params.get("description"),
    )
    call.resources.append(version.arn)
    return {"creationDate": _epoch(version.created), "stateMachineVersionArn": version.arn}


async def list_state_machine_versions(call: StatesCall) -> dict[str, Any]:
    await machine_authorised(call, "ListStateMachineVersions")
    page, token = await _service(call).versions(
        call.tenant_id,
        call.params.get("stateMachineArn"),
        call.params.get("nextToken"),
        call.params.get("maxResults"),
    )
    listed: dict[str, Any] = {
        "stateMachineVersions": [
            {"stateMachineVersionArn": v.arn, "creationDate": _epoch(v.created)} for v in page
        ]
    }
    if token is not None:
        listed["nextToken"] = token
    return listed


async def delete_state_machine_version(call: StatesCall) -> dict[str, Any]:
    arn = await _on(call, "DeleteStateMachineVersion", "stateMachineVersionArn")
    await _service(call).delete_version(call.tenant_id, arn)
    return {}


async def describe_version(call: StatesCall) -> dict[str, Any]:
    """DescribeStateMachine of a version's ARN: the version's snapshot."""
    arn = await _on(call, "DescribeStateMachine", "stateMachineArn")
    version = await _service(call).version(call.tenant_id, arn)
    if await call.machines.store.get(call.tenant_id, version.region, version.machine_name) is None:
        raise StateMachineDoesNotExist(f"State Machine Does Not Exist: '{arn}'")
    described: dict[str, Any] = {
        "stateMachineArn": version.arn,
        "name": version.machine_name,
        "status": "ACTIVE",
        "definition": version.definition,
        "roleArn": version.role_arn,
        "type": version.machine_type.value,
        "creationDate": _epoch(version.created),
        "loggingConfiguration": version.logging,
        "tracingConfiguration": {"enabled": version.tracing},
        "revisionId": version.revision_id,
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    }
    if version.description is not None:
        described["description"] = version.description
    if call.params.get("includedData") == "METADATA_ONLY":
        described.pop("definition")
    return described


def _alias_arn(call: StatesCall) -> str:
    """The ARN CreateStateMachineAlias makes: its name under its versions' machine (``*``
    when the routing names no machine: the service then says why)."""
    routing = call.params.get("routingConfiguration")
    first = routing[0] if isinstance(routing, list) and routing else None
    version = first.get("stateMachineVersionArn") if isinstance(first, dict) else None
    try:
        parts = split_qualified_arn(version, _service(call).region)
    except InvalidArn:  # a malformed routing: the service's validation answers it
        return "*"
    made = machine_arn(_service(call).region, parts.account, parts.machine)
    return f"{made}:{str(call.params.get('name'))[:80]}"


def _routing(alias: MachineAlias) -> list[dict[str, Any]]:
    return [
        {"stateMachineVersionArn": alias.version_arn(number), "weight": weight}
        for number, weight in alias.routing
    ]


async def create_state_machine_alias(call: StatesCall) -> dict[str, Any]:
    arn = _alias_arn(call)
    call.resources.append(arn[:256])
    await call.authorise("states:CreateStateMachineAlias", arn, {})
    alias = await _service(call).create_alias(call.tenant_id, call.params)
    return {"stateMachineAliasArn": alias.arn, "creationDate": _epoch(alias.created)}


async def describe_state_machine_alias(call: StatesCall) -> dict[str, Any]:
    arn = await _on(call, "DescribeStateMachineAlias", "stateMachineAliasArn")
    alias = await _service(call).alias(call.tenant_id, arn)
    described: dict[str, Any] = {
        "stateMachineAliasArn": alias.arn,
        "name": alias.name,
        "routingConfiguration": _routing(alias),
        "creationDate": _epoch(alias.created),
        "updateDate": _epoch(alias.updated),
    }
    if alias.description is not None:
        described["description"] = alias.description
    return described


async def update_state_machine_alias(call: StatesCall) -> dict[str, Any]:
    arn = await _on(call, "UpdateStateMachineAlias", "stateMachineAliasArn")
    alias = await _service(call).update_alias(call.tenant_id, arn, call.params)
    return {"updateDate": _epoch(alias.updated)}


async def delete_state_machine_alias(call: StatesCall) -> dict[str, Any]:
    arn = await _on(call, "DeleteStateMachineAlias", "stateMachineAliasArn")
    await _service(call).delete_alias(call.tenant_id, arn)
    return {}


async def list_state_machine_aliases(call: StatesCall) -> dict[str, Any]:
    found = await machine_authorised(call, "ListStateMachineAliases")
    if found is None:
        arn = call.params.get("stateMachineArn")
        raise ResourceNotFound(f"Resource not found: '{arn}'", str(arn)[:256])
    page, token = await _service(call).aliases(
        call.tenant_id,
        call.params.get("stateMachineArn"),
        call.params.get("nextToken"),
        call.params.get("maxResults"),
    )
    listed: dict[str, Any] = {
        "stateMachineAliases": [
            {"stateMachineAliasArn": a.arn, "creationDate": _epoch(a.created)} for a in page
        ]
    }
    if token is not None:
        listed["nextToken"] = token
    return listed


async def describe_state_machine(call: StatesCall) -> dict[str, Any]:
    """A version's ARN describes the version; the machine's, the machine."""
    arn = call.params.get("stateMachineArn")
    if isinstance(arn, str) and arn.count(":") == 7 and call.versions is not None:
        return await describe_version(call)
    return await actions.describe_state_machine(call)


async def create_state_machine(call: StatesCall) -> dict[str, Any]:
    """CreateStateMachine, its first version published with it when ``publish`` asks."""
    made = await actions.create_state_machine(call)
    if call.params.get("publish") is True:
        description = call.params.get("versionDescription")
        made["stateMachineVersionArn"] = (
            await published(call, made["stateMachineArn"], description)
        ).arn
    return made


async def update_state_machine(call: StatesCall) -> dict[str, Any]:
    """UpdateStateMachine, the new revision published as a version when ``publish`` asks."""
    updated = await actions.update_state_machine(call)
    if call.params.get("publish") is True:
        arn = str(call.params.get("stateMachineArn"))
        version = await published(call, arn, call.params.get("versionDescription"))
        updated["stateMachineVersionArn"] = version.arn
    return updated


VERSION_ACTIONS: Final[dict[str, Handler]] = {
    "PublishStateMachineVersion": publish_state_machine_version,
    "ListStateMachineVersions": list_state_machine_versions,
    "DeleteStateMachineVersion": delete_state_machine_version,
    "CreateStateMachineAlias": create_state_machine_alias,
    "DescribeStateMachineAlias": describe_state_machine_alias,
    "UpdateStateMachineAlias": update_state_machine_alias,
    "DeleteStateMachineAlias": delete_state_machine_alias,
    "ListStateMachineAliases": list_state_machine_aliases,
    "DescribeStateMachine": describe_state_machine,
    "CreateStateMachine": create_state_machine,
    "UpdateStateMachine": update_state_machine,
}
