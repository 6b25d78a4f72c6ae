"""AWS Lambda's provisioned concurrency operations (decision 0314): Put, Get and Delete
``ProvisionedConcurrencyConfig`` authorised as ``lambda:<Action>`` on the function's ARN
qualified by the version or alias, List on the unqualified one, each with the function's
resource-based policy as its neighbours; answered in the API model's shape. Only the
function's account changes its configurations.

DeleteFunction and DeleteAlias are wrapped here so that a function's, a version's or an
alias's configurations go with it, as on AWS; PutFunctionConcurrency refuses a reserve below
the function's provisioned executions, and GetAccountSettings' unreserved concurrency counts
the provisioned executions of the functions without a reserve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from andromede.functions.provisioned import ProvisionedConfig
from andromede.functions.provisioned_service import ProvisionedConcurrency
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.qualifier_actions import (
    forgetting_deletes,
    own_function,
    qualifier_handlers,
)
from andromede.lambdaapi.shapes import lambda_date
from andromede.lambdaapi.wire import Answer

__all__ = ["provisioned_actions", "provisioned_shape"]


def provisioned_shape(config: ProvisionedConfig) -> dict[str, Any]:
    """``GetProvisionedConcurrencyConfigResponse``'s members, as AWS answers them."""
    shape: dict[str, Any] = {
        "RequestedProvisionedConcurrentExecutions": config.requested,
        "AvailableProvisionedConcurrentExecutions": config.allocated,
        "AllocatedProvisionedConcurrentExecutions": config.allocated,
        "Status": config.status.value,
        "LastModified": lambda_date(config.last_modified),
    }
    if config.status_reason:
        shape["StatusReason"] = config.status_reason
    return shape


def provisioned_actions(
    provisioned: ProvisionedConcurrency, function_actions: Mapping[str, Handler]
) -> dict[str, Handler]:
    """The handlers of the four operations over ``provisioned``, DeleteFunction and
    DeleteAlias (``function_actions``' own) forgetting what they delete, and
    PutFunctionConcurrency and GetAccountSettings counting the provisioned executions."""

    async def put_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "PutProvisionedConcurrencyConfig")
        own_function(call, owner)
        made = await provisioned.put(
            owner,
            named.name,
            named.qualifier,
            call.params.get("ProvisionedConcurrentExecutions"),
        )
        call.answer = Answer(status=202)
        return provisioned_shape(made)

    async def get_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "GetProvisionedConcurrencyConfig")
        return provisioned_shape(await provisioned.get(owner, named.name, named.qualifier))

    account_settings = function_actions["GetAccountSettings"]

    async def put_concurrency(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "PutFunctionConcurrency", qualified=False)
        own_function(call, owner)
        reserved = call.params.get("ReservedConcurrentExecutions")
        await provisioned.check_reserve(owner, named.name, reserved)
        kept = await call.records.put_concurrency(owner, named.name, reserved)
        return {"ReservedConcurrentExecutions": kept}

    async def get_account_settings(call: LambdaCall) -> dict[str, Any]:
        answer = await account_settings(call)
        unreserved = await provisioned.unreserved(call.tenant_id)
        answer["AccountLimit"]["UnreservedConcurrentExecutions"] = unreserved
        return answer

    return {
        "PutProvisionedConcurrencyConfig": put_config,
        "GetProvisionedConcurrencyConfig": get_config,
        **qualifier_handlers(
            provisioned,
            delete_action="DeleteProvisionedConcurrencyConfig",
            list_action="ListProvisionedConcurrencyConfigs",
            listed_as="ProvisionedConcurrencyConfigs",
            shape=lambda c: {"FunctionArn": provisioned.arn(c), **provisioned_shape(c)},
        ),
        **forgetting_deletes(provisioned, function_actions),
        "PutFunctionConcurrency": put_concurrency,
        "GetAccountSettings": get_account_settings,
    }
