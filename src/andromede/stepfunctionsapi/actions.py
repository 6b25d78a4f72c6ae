"""Step Functions' operations (decision 0271): one handler per operation, each authorising
``states:<Action>`` on the state machine's ARN (the request's tags as ``aws:RequestTag/…`` and
``aws:TagKeys``, the machine's as ``aws:ResourceTag/…``) — and ``iam:PassRole`` on the role a
CreateStateMachine or UpdateStateMachine makes the machine act as — before it calls the
service, then answering in the API model's shape (dates as epoch seconds)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.stepfunctions.activities import Activity
from andromede.stepfunctions.activity_service import ActivitiesService
from andromede.stepfunctions.errors import (
    ActivityDoesNotExist,
    ResourceNotFound,
    StateMachineDoesNotExist,
)
from andromede.stepfunctions.execution_service import ExecutionsService
from andromede.stepfunctions.express import SyncExecutions
from andromede.stepfunctions.map_children import MapChildStore
from andromede.stepfunctions.map_runs import MapRunStore
from andromede.stepfunctions.model import StateMachine, check_name, machine_arn
from andromede.stepfunctions.service import StateMachinesService
from andromede.stepfunctions.version_service import VersionsService
from andromede.stepfunctionsapi.errors import StatesWireError

__all__ = ["ACTIONS", "StatesCall", "machine_authorised", "request_tags"]

Authorise = Callable[[str, str, Mapping[str, Any]], Awaitable[None]]
Handler = Callable[["StatesCall"], Awaitable[dict[str, Any]]]


@dataclass
class StatesCall:
    params: dict[str, Any]
    tenant_id: str
    machines: StateMachinesService
    authorise: Authorise
    executions: ExecutionsService | None = None
    activities: ActivitiesService | None = None
    sync: SyncExecutions | None = None
    versions: VersionsService | None = None
    map_runs: MapRunStore | None = None
    map_children: MapChildStore | None = None  # a Map run's child executions (0369)
    resources: list[str] = field(default_factory=list)


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def _resource_tags(machine: StateMachine | None) -> dict[str, Any]:
    return {} if machine is None else {f"aws:ResourceTag/{k}": v for k, v in machine.tags}


def request_tags(tags: Any) -> dict[str, Any]:
    if not isinstance(tags, list):
        return {}
    pairs = [
        (t["key"], t.get("value", ""))
        for t in tags
        if isinstance(t, dict) and isinstance(t.get("key"), str)
    ]
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in pairs}
    keys["aws:TagKeys"] = [k for k, _ in pairs]
    return keys


async def _machine(
    call: StatesCall, action: str, member: str = "stateMachineArn", **extra: Any
) -> StateMachine | None:
    """The machine the call names, once the caller may ``action`` on its ARN (one that does
    not exist is authorised on its ARN first, so that no one probes names); None when it does
    not exist."""
    arn = call.params.get(member)
    call.resources.append(str(arn)[:256])
    try:
        found: StateMachine | None = await call.machines.get(call.tenant_id, arn)
    except StateMachineDoesNotExist:
        found = None
    await call.authorise(f"states:{action}", str(arn)[:256], extra | _resource_tags(found))
    return found


machine_authorised = _machine


async def _pass_role(call: StatesCall) -> None:
    role = call.params.get("roleArn")
    if isinstance(role, str) and role:
        await call.authorise("iam:PassRole", role[:1600], {})


async def create_state_machine(call: StatesCall) -> dict[str, Any]:
    name = check_name(call.params.get("name"))
    arn = machine_arn(call.machines.region, call.tenant_id, name)
    call.resources.append(arn)
    await call.authorise("states:CreateStateMachine", arn, request_tags(call.params.get("tags")))
    await _pass_role(call)
    machine = await call.machines.create(call.tenant_id, call.params)
    return {"stateMachineArn": machine.arn, "creationDate": _epoch(machine.created)}


async def describe_state_machine(call: StatesCall) -> dict[str, Any]:
    found = await _machine(call, "DescribeStateMachine")
    machine = found or await call.machines.get(call.tenant_id, call.params.get("stateMachineArn"))
    described: dict[str, Any] = {
        "stateMachineArn": machine.arn,
        "name": machine.name,
        "status": "ACTIVE",
        "definition": machine.definition,
        "roleArn": machine.role_arn,
        "type": machine.machine_type.value,
        "creationDate": _epoch(machine.created),
        "loggingConfiguration": machine.logging,
        "tracingConfiguration": {"enabled": machine.tracing},
        "revisionId": machine.revision_id,
        "encryptionConfiguration": {"type": "AWS_OWNED_KEY"},
    }
    if call.params.get("includedData") == "METADATA_ONLY":
        described.pop("definition")
    return described


async def update_state_machine(call: StatesCall) -> dict[str, Any]:
    await _machine(call, "UpdateStateMachine")
    await _pass_role(call)
    machine = await call.machines.update(
        call.tenant_id, call.params.get("stateMachineArn"), call.params
    )
    return {"updateDate": _epoch(machine.updated), "revisionId": machine.revision_id}


async def delete_state_machine(call: StatesCall) -> dict[str, Any]:
    await _machine(call, "DeleteStateMachine")
    await call.machines.delete(call.tenant_id, call.params.get("stateMachineArn"))
    return {}


async def list_state_machines(call: StatesCall) -> dict[str, Any]:
    call.resources.append("*")
    await call.authorise("states:ListStateMachines", "*", {})
    page, token = await call.machines.list(
        call.tenant_id, call.params.get("nextToken"), call.params.get("maxResults")
    )
    listed: dict[str, Any] = {
        "stateMachines": [
            {
                "stateMachineArn": m.arn,
                "name": m.name,
                "type": m.machine_type.value,
                "creationDate": _epoch(m.created),
            }
            for m in page
        ]
    }
    if token is not None:
        listed["nextToken"] = token
    return listed


async def validate_state_machine_definition(call: StatesCall) -> dict[str, Any]:
    call.resources.append("*")
    await call.authorise("states:ValidateStateMachineDefinition", "*", {})
    checked = call.machines.validate(call.params)
    return {
        "result": checked.result,
        "diagnostics": [
            {"severity": d.severity, "code": d.code, "message": d.message}
            | ({} if d.location is None else {"location": d.location})
            for d in checked.diagnostics
        ],
        "truncated": checked.truncated,
    }


async def _tagged(call: StatesCall, action: str, **extra: Any) -> StateMachine:
    arn = call.params.get("resourceArn")
    found = await _machine(call, action, "resourceArn", **extra)
    return found or await call.machines.tagged(call.tenant_id, arn)


async def _activity(call: StatesCall, action: str, **extra: Any) -> Activity:
    """The activity a tagging call names, once the caller may ``action`` on it."""
    arn = str(call.params.get("resourceArn"))[:256]
    call.resources.append(arn)
    activities = call.activities
    found = None
    if activities is not None:
        try:
            found = await activities.get(call.tenant_id, arn)
        except ActivityDoesNotExist:
            found = None
    keys = {} if found is None else {f"aws:ResourceTag/{k}": v for k, v in found.tags}
    await call.authorise(f"states:{action}", arn, extra | keys)
    if found is None:
        raise ResourceNotFound(f"Resource not found: '{arn}'", arn)
    return found


def _is_activity(call: StatesCall) -> bool:
    return ":activity:" in str(call.params.get("resourceArn"))


async def tag_resource(call: StatesCall) -> dict[str, Any]:
    tags = call.params.get("tags")
    if _is_activity(call) and call.activities is not None:
        activity = await _activity(call, "TagResource", **request_tags(tags))
        await call.activities.tag(activity, tags)
        return {}
    machine = await _tagged(call, "TagResource", **request_tags(tags))
    await call.machines.tag(machine, tags)
    return {}


async def untag_resource(call: StatesCall) -> dict[str, Any]:
    keys = call.params.get("tagKeys")
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise StatesWireError("ValidationException", "tagKeys must be a list of strings.")
    if _is_activity(call) and call.activities is not None:
        activity = await _activity(call, "UntagResource", **{"aws:TagKeys": keys})
        await call.activities.untag(activity, keys)
        return {}
    machine = await _tagged(call, "UntagResource", **{"aws:TagKeys": keys})
    await call.machines.untag(machine, keys)
    return {}


async def list_tags_for_resource(call: StatesCall) -> dict[str, Any]:
    if _is_activity(call) and call.activities is not None:
        tags = (await _activity(call, "ListTagsForResource")).tags
    else:
        tags = (await _tagged(call, "ListTagsForResource")).tags
    return {"tags": [{"key": k, "value": v} for k, v in tags]}


ACTIONS: Final[dict[str, Handler]] = {
    "CreateStateMachine": create_state_machine,
    "DescribeStateMachine": describe_state_machine,
    "UpdateStateMachine": update_state_machine,
    "DeleteStateMachine": delete_state_machine,
    "ListStateMachines": list_state_machines,
    "ValidateStateMachineDefinition": validate_state_machine_definition,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTagsForResource": list_tags_for_resource,
}
