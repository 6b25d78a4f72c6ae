"""AWS Lambda's function URL configuration operations (decision 0312): Create, Update, Get
and Delete ``FunctionUrlConfig`` authorised as ``lambda:<Action>`` on the function's ARN
(qualified when the call names an alias), List on the unqualified one, each with the
function's resource-based policy as its neighbours; answered in the API model's shape. Only
the function's account changes its URLs.

DeleteFunction and DeleteAlias are wrapped here so that a function's or an alias's URLs go
with it, as on AWS; a closed tenant's go with the tenant (``wiring.functions``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from andromede.functions.model import parse_function_name
from andromede.functions.url_config_service import FunctionUrls
from andromede.functions.url_configs import FunctionUrlConfig
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.wire import Answer

__all__ = ["url_actions", "url_config_shape"]


def _time(ms: int) -> str:
    # AWS's ISO-8601 with microseconds: 2021-10-27T20:53:08.109946Z
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def url_config_shape(urls: FunctionUrls, config: FunctionUrlConfig) -> dict[str, Any]:
    shape: dict[str, Any] = {
        "FunctionUrl": urls.url(config),
        "FunctionArn": urls.arn(config),
        "AuthType": config.auth_type,
        "CreationTime": _time(config.created),
        "LastModifiedTime": _time(config.last_modified),
        "InvokeMode": config.invoke_mode,
    }
    if config.cors is not None:
        shape["Cors"] = config.cors.shape()
    return shape


def _own(call: LambdaCall, owner: str) -> None:
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")


def url_actions(urls: FunctionUrls, function_actions: Mapping[str, Handler]) -> dict[str, Handler]:
    """The handlers of the five operations over ``urls``, and DeleteFunction and
    DeleteAlias (``function_actions``' own, perhaps already wrapped) forgetting the URLs of
    what they delete."""

    async def create(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "CreateFunctionUrlConfig")
        _own(call, owner)
        made = await urls.create(owner, named.name, named.qualifier, call.params)
        call.answer = Answer(status=201)
        shape = url_config_shape(urls, made)
        del shape["LastModifiedTime"]  # not a member of Create's answer
        return shape

    async def update(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "UpdateFunctionUrlConfig")
        _own(call, owner)
        changed = await urls.update(owner, named.name, named.qualifier, call.params)
        return url_config_shape(urls, changed)

    async def get(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "GetFunctionUrlConfig")
        return url_config_shape(urls, await urls.get(owner, named.name, named.qualifier))

    async def delete(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "DeleteFunctionUrlConfig")
        _own(call, owner)
        await urls.delete(owner, named.name, named.qualifier)
        call.answer = Answer(status=204)
        return {}

    async def list_configs(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "ListFunctionUrlConfigs", qualified=False)
        page, marker = await urls.list(
            owner, named.name, call.params.get("Marker"), call.params.get("MaxItems")
        )
        answer: dict[str, Any] = {"FunctionUrlConfigs": [url_config_shape(urls, c) for c in page]}
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    delete_function = function_actions["DeleteFunction"]
    delete_alias = function_actions["DeleteAlias"]

    async def deleting_function(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_function(call)
        named = call.named()
        if not named.qualifier:  # a version has no URL; the function's all go
            await urls.forget(call.tenant_id, named.name, None)
        return answer

    async def deleting_alias(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_alias(call)
        named = parse_function_name(call.params.get("FunctionName"))
        await urls.forget(call.tenant_id, named.name, str(call.params.get("Name", "")))
        return answer

    return {
        "CreateFunctionUrlConfig": create,
        "UpdateFunctionUrlConfig": update,
        "GetFunctionUrlConfig": get,
        "DeleteFunctionUrlConfig": delete,
        "ListFunctionUrlConfigs": list_configs,
        "DeleteFunction": deleting_function,
        "DeleteAlias": deleting_alias,
    }
