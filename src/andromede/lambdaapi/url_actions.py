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

from andromede.functions.url_config_service import FunctionUrls
from andromede.functions.url_configs import FunctionUrlConfig
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.qualifier_actions import (
    forgetting_deletes,
    own_function,
    qualifier_handlers,
)
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


def url_actions(urls: FunctionUrls, function_actions: Mapping[str, Handler]) -> dict[str, Handler]:
    """The handlers of the five operations over ``urls``, and DeleteFunction and
    DeleteAlias (``function_actions``' own, perhaps already wrapped) forgetting the URLs of
    what they delete."""

    async def create(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "CreateFunctionUrlConfig")
        own_function(call, owner)
        made = await urls.create(owner, named.name, named.qualifier, call.params)
        call.answer = Answer(status=201)
        shape = url_config_shape(urls, made)
        del shape["LastModifiedTime"]  # not a member of Create's answer
        return shape

    async def update(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "UpdateFunctionUrlConfig")
        own_function(call, owner)
        changed = await urls.update(owner, named.name, named.qualifier, call.params)
        return url_config_shape(urls, changed)

    async def get(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "GetFunctionUrlConfig")
        return url_config_shape(urls, await urls.get(owner, named.name, named.qualifier))

    return {
        "CreateFunctionUrlConfig": create,
        "UpdateFunctionUrlConfig": update,
        "GetFunctionUrlConfig": get,
        **qualifier_handlers(
            urls,
            delete_action="DeleteFunctionUrlConfig",
            list_action="ListFunctionUrlConfigs",
            listed_as="FunctionUrlConfigs",
            shape=lambda c: url_config_shape(urls, c),
        ),
        # A version has no URL: deleting one leaves the function's.
        **forgetting_deletes(urls, function_actions, of_versions=False),
    }
