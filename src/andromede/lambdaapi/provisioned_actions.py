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

from andromede.functions.model import parse_function_name
from andromede.functions.provisioned import ProvisionedConfig
from andromede.functions.provisioned_service import ProvisionedConcurrency
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
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


def _own(call: LambdaCall, owner: str) -> None:
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may change it")


def provisioned_actions(
    provisioned: ProvisionedConcurrency, function_actions: Mapping[str, Handler]
) -> dict[str, Handler]:
    """The handlers of the four operations over ``provisioned``, DeleteFunction and
    DeleteAlias (``function_actions``' own) forgetting what they delete, and
    PutFunctionConcurrency and GetAccountSettings counting the provisioned executions."""

    async def put_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "PutProvisionedConcurrencyConfig")
        _own(call, owner)
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

    async def delete_config(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "DeleteProvisionedConcurrencyConfig")
        _own(call, owner)
        await provisioned.delete(owner, named.name, named.qualifier)
        call.answer = Answer(status=204)
        return {}

    async def list_configs(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(
            call, "ListProvisionedConcurrencyConfigs", qualified=False
        )
        page, marker = await provisioned.list(
            owner, named.name, call.params.get("Marker"), call.params.get("MaxItems")
        )
        answer: dict[str, Any] = {
            "ProvisionedConcurrencyConfigs": [
                {"FunctionArn": provisioned.arn(c), **provisioned_shape(c)} for c in page
            ]
        }
        if marker is not None:
            answer["NextMarker"] = marker
        return answer

    delete_function = function_actions["DeleteFunction"]
    delete_alias = function_actions["DeleteAlias"]
    account_settings = function_actions["GetAccountSettings"]

    async def deleting_function(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_function(call)
        named = call.named()
        await provisioned.forget(call.tenant_id, named.name, named.qualifier or None)
        return answer

    async def deleting_alias(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_alias(call)
        named = parse_function_name(call.params.get("FunctionName"))
        await provisioned.forget(call.tenant_id, named.name, str(call.params.get("Name", "")))
        return answer

    async def put_concurrency(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "PutFunctionConcurrency", qualified=False)
        _own(call, owner)
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
        "DeleteProvisionedConcurrencyConfig": delete_config,
        "ListProvisionedConcurrencyConfigs": list_configs,
        "DeleteFunction": deleting_function,
        "DeleteAlias": deleting_alias,
        "PutFunctionConcurrency": put_concurrency,
        "GetAccountSettings": get_account_settings,
    }
