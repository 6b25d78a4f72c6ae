"""AWS Lambda's function operations (decision 0286): one handler per operation, each
authorising ``lambda:<Action>`` on the function's ARN (qualified when the call names a
version or alias; the request's tags as ``aws:RequestTag/…`` and ``aws:TagKeys``) with the
function's resource-based policy, before it calls the service — and ``iam:PassRole`` on the
role a CreateFunction or UpdateFunctionConfiguration makes the function act as — then
answering in the API model's shape. A function named by the ARN of another account is that
account's, reached only when its resource policy allows the caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.functions.model import (
    LATEST,
    FunctionRecord,
    NamedFunction,
    parse_function_name,
)
from andromede.functions.record_service import FunctionRecords
from andromede.functions.service import FunctionsService, after_token, page_size, page_token
from andromede.lambdaapi.code_location import code_location
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.shapes import configuration
from andromede.lambdaapi.wire import Answer

__all__ = ["FUNCTION_ACTIONS", "Authorise", "LambdaCall", "found_function"]

# (IAM action, resource, context keys, the function's policy, its owner)
Authorise = Callable[[str, str, Mapping[str, Any], str | None, str], Awaitable[None]]
Handler = Callable[["LambdaCall"], Awaitable[dict[str, Any]]]


@dataclass
class LambdaCall:
    params: dict[str, Any]
    tenant_id: str
    caller: object
    functions: FunctionsService
    records: FunctionRecords
    authorise: Authorise
    base_url: str = ""  # the endpoint as the caller reached it, for Code.Location
    resources: list[str] = field(default_factory=list)
    answer: Answer = field(default_factory=Answer)

    def named(self) -> NamedFunction:
        return parse_function_name(
            self.params.get("FunctionName"), qualifier=self.params.get("Qualifier")
        )


def _request_tags(tags: Any) -> dict[str, Any]:
    if not isinstance(tags, Mapping):
        return {}
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    keys["aws:TagKeys"] = [str(k) for k in tags]
    return keys


async def found_function(
    call: LambdaCall,
    action: str,
    *,
    qualified: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, NamedFunction, FunctionRecord]:
    """(owner account, the name as called, the function's record), once the caller may
    ``action`` on it. A function that does not exist is authorised on its would-be ARN
    first, so that no one probes names."""
    named = call.named()
    if named.region not in (None, call.functions.region):
        raise LambdaWireError(
            "InvalidParameterValueException",
            f"The function ARN names Region {named.region}, not {call.functions.region}",
        )
    owner = named.account or call.tenant_id
    qualifier = named.qualifier if qualified else None
    arn = call.functions.arn(owner, named.name, qualifier)
    call.resources.append(arn)
    record = await call.functions.store.get(owner, named.name)
    keys = dict(extra or {})
    if record is not None:
        keys |= {f"aws:ResourceTag/{k}": v for k, v in record.tags}
    policy = None if record is None else record.policy(qualifier or "")
    await call.authorise(f"lambda:{action}", arn, keys, policy, owner)
    if record is None:
        raise LambdaWireError(
            "ResourceNotFoundException",
            f"Function not found: {call.functions.arn(owner, named.name, named.qualifier)}",
        )
    return owner, named, record


async def _configuration(
    call: LambdaCall, owner: str, name: str, qualifier: str | None
) -> dict[str, Any]:
    _, version = await call.functions.resolve(owner, name, qualifier)
    published = None if version.version == LATEST else version.version
    arn = call.functions.arn(owner, name, published)
    if qualifier in (None, LATEST) and version.version == LATEST:
        arn = call.functions.arn(owner, name, qualifier)
    return configuration(arn, version, await call.functions.environment(version))


async def _pass_role(call: LambdaCall, role: object) -> None:
    if isinstance(role, str):
        await call.authorise("iam:PassRole", role[:1600], {}, None, call.tenant_id)


async def _may_use_layers(call: LambdaCall, arns: object) -> None:
    """``lambda:GetLayerVersion`` on each layer version a function is given, judged with
    the version's policy (another account's layer is used only as it shares it)."""
    layers = call.functions.layers
    if layers is None or not isinstance(arns, list):
        return
    for arn in arns[:10]:  # more are refused by the service's bound
        canonical, owner, found = await layers.grants(arn)
        policy = None if found is None else found.policy
        await call.authorise("lambda:GetLayerVersion", canonical, {}, policy, owner)


async def create_function(call: LambdaCall) -> dict[str, Any]:
    named = call.named()
    arn = call.functions.arn(call.tenant_id, named.name)
    call.resources.append(arn)
    await call.authorise(
        "lambda:CreateFunction", arn, _request_tags(call.params.get("Tags")), None, call.tenant_id
    )
    await _pass_role(call, call.params.get("Role"))
    await _may_use_layers(call, call.params.get("Layers"))
    _, version = await call.functions.create(call.caller, call.tenant_id, call.params)
    call.answer = Answer(status=201)
    published = None if version.version == LATEST else version.version
    return configuration(
        call.functions.arn(call.tenant_id, version.name, published),
        version,
        await call.functions.environment(version),
    )


async def get_function(call: LambdaCall) -> dict[str, Any]:
    owner, named, record = await found_function(call, "GetFunction")
    _, version = await call.functions.resolve(owner, named.name, named.qualifier)
    location = await code_location(
        call.functions, call.base_url, owner, named.name, version.code_sha256
    )
    shape: dict[str, Any] = {
        "Configuration": await _configuration(call, owner, named.name, named.qualifier),
        "Code": {"RepositoryType": "S3", "Location": location},
    }
    if record.tags:
        shape["Tags"] = dict(record.tags)
    if record.reserved_concurrency is not None:
        shape["Concurrency"] = {"ReservedConcurrentExecutions": record.reserved_concurrency}
    return shape


async def get_function_configuration(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "GetFunctionConfiguration")
    return await _configuration(call, owner, named.name, named.qualifier)


async def list_functions(call: LambdaCall) -> dict[str, Any]:
    await call.authorise("lambda:ListFunctions", "*", {}, None, call.tenant_id)
    if call.params.get("FunctionVersion") not in (None, "ALL"):
        raise LambdaWireError("InvalidParameterValueException", "FunctionVersion must be ALL")
    page, marker = await call.functions.list_latest(
        call.tenant_id, call.params.get("Marker"), call.params.get("MaxItems")
    )
    shapes = []
    for version in page:
        arn = call.functions.arn(call.tenant_id, version.name)
        shapes.append(configuration(arn, version, await call.functions.environment(version)))
    answer: dict[str, Any] = {"Functions": shapes}
    if marker is not None:
        answer["NextMarker"] = marker
    return answer


def _own(call: LambdaCall, owner: str) -> None:
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")


async def update_function_code(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "UpdateFunctionCode", qualified=False)
    _own(call, owner)
    version = await call.functions.update_code(call.caller, owner, named.name, call.params)
    published = None if version.version == LATEST else version.version
    return configuration(
        call.functions.arn(owner, named.name, published),
        version,
        await call.functions.environment(version),
    )


async def update_function_configuration(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "UpdateFunctionConfiguration", qualified=False)
    _own(call, owner)
    if call.params.get("Role") is not None:
        await _pass_role(call, call.params["Role"])
    await _may_use_layers(call, call.params.get("Layers"))
    version = await call.functions.update_configuration(owner, named.name, call.params)
    return configuration(
        call.functions.arn(owner, named.name), version, await call.functions.environment(version)
    )


async def delete_function(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "DeleteFunction")
    _own(call, owner)
    await call.functions.delete(owner, named.name, named.qualifier)
    call.answer = Answer(status=204)
    return {}


async def publish_version(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "PublishVersion", qualified=False)
    _own(call, owner)
    version = await call.functions.publish(owner, named.name, call.params)
    call.answer = Answer(status=201)
    return configuration(
        call.functions.arn(owner, named.name, version.version),
        version,
        await call.functions.environment(version),
    )


async def list_versions(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "ListVersionsByFunction", qualified=False)
    versions = await call.functions.store.versions(owner, named.name)
    marker = call.params.get("Marker")
    after = after_token(marker)
    size = page_size(call.params.get("MaxItems"))
    keys = [v for v in versions if after is None or _order(v.version) > _order(after)]
    page = keys[:size]
    shapes = []
    for version in page:
        arn = call.functions.arn(owner, named.name, version.version)
        shapes.append(configuration(arn, version, await call.functions.environment(version)))
    answer: dict[str, Any] = {"Versions": shapes}
    if len(keys) > size:
        answer["NextMarker"] = page_token(page[-1].version)
    return answer


def _order(version: str) -> tuple[int, int]:
    return (0, 0) if version == LATEST else (1, int(version) if version.isdigit() else 0)


async def get_account_settings(call: LambdaCall) -> dict[str, Any]:
    await call.authorise("lambda:GetAccountSettings", "*", {}, None, call.tenant_id)
    limits = call.functions.limits
    records = await call.functions.store.records(call.tenant_id)
    reserved = sum(r.reserved_concurrency or 0 for r in records)
    layers = call.functions.layers
    return {
        "AccountLimit": {
            "TotalCodeSize": limits.max_code_storage,
            "CodeSizeUnzipped": limits.code.max_unzipped_bytes,
            "CodeSizeZipped": limits.code.max_zip_bytes,
            "ConcurrentExecutions": limits.concurrency_limit,
            "UnreservedConcurrentExecutions": limits.concurrency_limit - reserved,
        },
        "AccountUsage": {
            # Deployment packages and layer archives, as AWS counts them (decision 0302).
            "TotalCodeSize": await call.functions.store.code_bytes(call.tenant_id)
            + (0 if layers is None else await layers.stored_bytes(call.tenant_id)),
            "FunctionCount": len(records),
        },
    }


FUNCTION_ACTIONS: Final[dict[str, Handler]] = {
    "CreateFunction": create_function,
    "GetFunction": get_function,
    "GetFunctionConfiguration": get_function_configuration,
    "ListFunctions": list_functions,
    "UpdateFunctionCode": update_function_code,
    "UpdateFunctionConfiguration": update_function_configuration,
    "DeleteFunction": delete_function,
    "PublishVersion": publish_version,
    "ListVersionsByFunction": list_versions,
    "GetAccountSettings": get_account_settings,
}
