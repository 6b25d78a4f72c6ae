"""AWS Lambda's operations on what a function holds beside its code (decision 0286): aliases,
the resource-based policy (AddPermission, RemovePermission, GetPolicy), tags and reserved
concurrency. Each authorises ``lambda:<Action>`` on the function's ARN through
:func:`~andromede.lambdaapi.actions.found_function`, as the function operations do."""

from __future__ import annotations

from typing import Any, Final

from andromede.functions.model import parse_function_name
from andromede.iam.policy import PolicyKind
from andromede.iam.policy.document import load_policy
from andromede.iam.policy.errors import MalformedPolicy
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.shapes import alias_shape
from andromede.lambdaapi.wire import Answer

__all__ = ["ACCESS_ACTIONS"]


def _alias_name(call: LambdaCall) -> str:
    return str(call.params.get("Name") or "")


async def _own_function(call: LambdaCall, action: str) -> str:
    owner, named, _ = await found_function(call, action, qualified=False)
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")
    return named.name


async def create_alias(call: LambdaCall) -> dict[str, Any]:
    name = await _own_function(call, "CreateAlias")
    alias = await call.records.create_alias(call.tenant_id, name, call.params)
    call.answer = Answer(status=201)
    return alias_shape(call.functions.arn(call.tenant_id, name, alias.name), alias)


async def get_alias(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "GetAlias", qualified=False)
    alias = await call.records.alias(owner, named.name, _alias_name(call))
    return alias_shape(call.functions.arn(owner, named.name, alias.name), alias)


async def update_alias(call: LambdaCall) -> dict[str, Any]:
    name = await _own_function(call, "UpdateAlias")
    alias = await call.records.update_alias(call.tenant_id, name, _alias_name(call), call.params)
    return alias_shape(call.functions.arn(call.tenant_id, name, alias.name), alias)


async def delete_alias(call: LambdaCall) -> dict[str, Any]:
    name = await _own_function(call, "DeleteAlias")
    await call.records.delete_alias(call.tenant_id, name, _alias_name(call))
    call.answer = Answer(status=204)
    return {}


async def list_aliases(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "ListAliases", qualified=False)
    page, marker = await call.records.aliases(
        owner,
        named.name,
        call.params.get("FunctionVersion"),
        call.params.get("Marker"),
        call.params.get("MaxItems"),
    )
    answer: dict[str, Any] = {
        "Aliases": [alias_shape(call.functions.arn(owner, named.name, a.name), a) for a in page]
    }
    if marker is not None:
        answer["NextMarker"] = marker
    return answer


async def add_permission(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "AddPermission")
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")
    statement = await call.records.add_permission(
        owner, named.name, named.qualifier, call.params, checked=_engine_reads
    )
    call.answer = Answer(status=201)
    return {"Statement": statement}


def _engine_reads(policy: str) -> None:
    """The policy once the IAM engine can evaluate it (a principal or condition it cannot
    read is refused now, not at the next call)."""
    try:
        load_policy(policy, kind=PolicyKind.RESOURCE)
    except MalformedPolicy as exc:
        raise LambdaWireError(
            "InvalidParameterValueException", f"The policy is not valid: {exc}"
        ) from None


async def remove_permission(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "RemovePermission")
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")
    await call.records.remove_permission(
        owner, named.name, named.qualifier, str(call.params.get("StatementId") or "")
    )
    call.answer = Answer(status=204)
    return {}


async def get_policy(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "GetPolicy")
    policy = await call.records.policy(owner, named.name, named.qualifier)
    _, latest = await call.functions.resolve(owner, named.name, None)
    return {"Policy": policy, "RevisionId": latest.revision_id}


def _resource_function(call: LambdaCall) -> None:
    """Names the tagged function (an unqualified function ARN) as FunctionName."""
    resource = call.params.get("Resource")
    named = parse_function_name(resource)
    if not isinstance(resource, str) or not resource.startswith("arn:") or named.qualifier:
        raise LambdaWireError(
            "InvalidParameterValueException", "Resource must be an unqualified function ARN"
        )
    call.params["FunctionName"] = resource


async def tag_resource(call: LambdaCall) -> dict[str, Any]:
    _resource_function(call)
    tags = call.params.get("Tags")
    keys: dict[str, Any] = {}
    if isinstance(tags, dict):
        keys = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
        keys["aws:TagKeys"] = [str(k) for k in tags]
    owner, named, _ = await found_function(call, "TagResource", extra=keys)
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may tag it")
    await call.records.tag(owner, named.name, tags)
    call.answer = Answer(status=204)
    return {}


async def untag_resource(call: LambdaCall) -> dict[str, Any]:
    _resource_function(call)
    keys = [str(k) for k in call.params.get("TagKeys") or []]
    owner, named, _ = await found_function(call, "UntagResource", extra={"aws:TagKeys": keys})
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may tag it")
    await call.records.untag(owner, named.name, keys)
    call.answer = Answer(status=204)
    return {}


async def list_tags(call: LambdaCall) -> dict[str, Any]:
    _resource_function(call)
    _, _, record = await found_function(call, "ListTags")
    return {"Tags": dict(record.tags)}


async def put_concurrency(call: LambdaCall) -> dict[str, Any]:
    name = await _own_function(call, "PutFunctionConcurrency")
    reserved = await call.records.put_concurrency(
        call.tenant_id, name, call.params.get("ReservedConcurrentExecutions")
    )
    return {"ReservedConcurrentExecutions": reserved}


async def get_concurrency(call: LambdaCall) -> dict[str, Any]:
    _, _, record = await found_function(call, "GetFunctionConcurrency", qualified=False)
    if record.reserved_concurrency is None:
        return {}
    return {"ReservedConcurrentExecutions": record.reserved_concurrency}


async def delete_concurrency(call: LambdaCall) -> dict[str, Any]:
    name = await _own_function(call, "DeleteFunctionConcurrency")
    await call.records.delete_concurrency(call.tenant_id, name)
    call.answer = Answer(status=204)
    return {}


ACCESS_ACTIONS: Final[dict[str, Handler]] = {
    "CreateAlias": create_alias,
    "GetAlias": get_alias,
    "UpdateAlias": update_alias,
    "DeleteAlias": delete_alias,
    "ListAliases": list_aliases,
    "AddPermission": add_permission,
    "RemovePermission": remove_permission,
    "GetPolicy": get_policy,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "ListTags": list_tags,
    "PutFunctionConcurrency": put_concurrency,
    "GetFunctionConcurrency": get_concurrency,
    "DeleteFunctionConcurrency": delete_concurrency,
}
