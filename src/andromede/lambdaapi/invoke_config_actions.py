"""AWS Lambda's asynchronous invocation configuration operations (decision 0300): Put,
Update, Get and Delete ``FunctionEventInvokeConfig`` authorised as ``lambda:<Action>`` on the
function's ARN (qualified when the call names a version or alias), List on the unqualified
one, each with the function's resource-based policy as its neighbours; answered in the API
model's shape. Only the function's account changes its configurations.

DeleteFunction and DeleteAlias are wrapped here so that a function's, a version's or an
alias's configurations go with it, as on AWS; a closed tenant's go with the tenant
(``wiring.functions``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andromede.functions.invoke_config_service import EventInvokeConfigs
from andromede.functions.invoke_configs import EventInvokeConfig
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.qualifier_actions import (
    forgetting_deletes,
    own_function,
    qualifier_handlers,
)

__all__ = ["invoke_config_actions", "invoke_config_shape"]


def invoke_config_shape(configs: EventInvokeConfigs, config: EventInvokeConfig) -> dict[str, Any]:
    destinations: dict[str, Any] = {"OnSuccess": {}, "OnFailure": {}}
    if config.on_success:
        destinations["OnSuccess"] = {"Destination": config.on_success}
    if config.on_failure:
        destinations["OnFailure"] = {"Destination": config.on_failure}
    shape: dict[str, Any] = {
        "LastModified": config.last_modified / 1000,
        "FunctionArn": configs.arn(config),
        "DestinationConfig": destinations,
    }
    if config.maximum_retry_attempts is not None:
        shape["MaximumRetryAttempts"] = config.maximum_retry_attempts
    if config.maximum_event_age is not None:
        shape["MaximumEventAgeInSeconds"] = config.maximum_event_age
    return shape


def invoke_config_actions(
    configs: EventInvokeConfigs, function_actions: Mapping[str, Handler]
) -> dict[str, Handler]:
    """The handlers of the five operations over ``configs``, and DeleteFunction and
    DeleteAlias (``function_actions``' own) forgetting what they delete."""

    async def put(call: LambdaCall, action: str, *, merge: bool) -> dict[str, Any]:
        owner, named, _ = await found_function(call, action)
        own_function(call, owner)
        made = await configs.put(owner, named.name, named.qualifier, call.params, merge=merge)
        return invoke_config_shape(configs, made)

    async def put_config(call: LambdaCall) -> dict[str, Any]:
        return await put(call, "PutFunctionEventInvokeConfig", merge=False)

    async def update_config(call: LambdaCall) -> dict[str, Any]:
        return await put(call, "UpdateFunctionEventInvokeConfig", merge=True)

    async def get_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "GetFunctionEventInvokeConfig")
        found = await configs.get(owner, named.name, named.qualifier)
        return invoke_config_shape(configs, found)

    return {
        "PutFunctionEventInvokeConfig": put_config,
        "UpdateFunctionEventInvokeConfig": update_config,
        "GetFunctionEventInvokeConfig": get_config,
        **qualifier_handlers(
            configs,
            delete_action="DeleteFunctionEventInvokeConfig",
            list_action="ListFunctionEventInvokeConfigs",
            listed_as="FunctionEventInvokeConfigs",
            shape=lambda c: invoke_config_shape(configs, c),
        ),
        **forgetting_deletes(configs, function_actions),
    }
