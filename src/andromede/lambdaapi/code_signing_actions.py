"""AWS Lambda's code signing operations (decision 0386): Create, Get, Update, Delete and List
of code signing configurations (each authorised as ``lambda:<Action>`` on the
configuration's ARN, Create and List on ``*``), ListFunctionsByCodeSigningConfig, and Put,
Get and Delete of a function's configuration (on the function's ARN, with its resource
policy, as its neighbours); answered in the API model's shape. Only the function's account
changes it.

DeleteFunction is wrapped here so that a deleted function's configuration goes with it (a
function made again under its name starts without one); GetFunctionCodeSigningConfig
replaces decision 0297's empty answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from andromede.functions.code_signing import CodeSigning, CodeSigningConfig
from andromede.functions.errors import CodeSigningConfigNotFound
from andromede.functions.service import after_token, page_size, page_token
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.qualifier_actions import own_function
from andromede.lambdaapi.wire import Answer

__all__ = ["code_signing_actions", "config_shape"]


def _time(ms: int) -> str:
    # AWS's ISO-8601 with milliseconds: 2020-11-19T17:32:07.107+0000
    stamp = datetime.fromtimestamp(ms / 1000, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}+0000"


def config_shape(signing: CodeSigning, config: CodeSigningConfig) -> dict[str, Any]:
    return {
        "CodeSigningConfigId": config.config_id,
        "CodeSigningConfigArn": signing.arn(config),
        "Description": config.description,
        "AllowedPublishers": {"SigningProfileVersionArns": list(config.publishers)},
        "CodeSigningPolicies": {"UntrustedArtifactOnDeployment": config.policy},
        "LastModified": _time(config.last_modified),
    }


def code_signing_actions(
    signing: CodeSigning, function_actions: Mapping[str, Handler]
) -> dict[str, Handler]:
    """The handlers of the code signing operations over ``signing``, and DeleteFunction
    (``function_actions``' own, perhaps already wrapped) forgetting the function's
    configuration."""

    async def on_config(call: LambdaCall, action: str) -> CodeSigningConfig:
        arn = call.params.get("CodeSigningConfigArn")
        if not isinstance(arn, str):
            raise LambdaWireError("InvalidParameterValueException", "CodeSigningConfigArn")
        call.resources.append(arn[:2048])
        await call.authorise(f"lambda:{action}", arn[:2048], {}, None, call.tenant_id)
        try:
            return await signing.get(call.tenant_id, arn)
        except CodeSigningConfigNotFound as exc:
            # The configuration's own operations answer ResourceNotFoundException for it.
            raise LambdaWireError("ResourceNotFoundException", str(exc)) from None

    async def create(call: LambdaCall) -> dict[str, Any]:
        await call.authorise("lambda:CreateCodeSigningConfig", "*", {}, None, call.tenant_id)
        made = await signing.create(call.tenant_id, call.params)
        call.resources.append(signing.arn(made))
        call.answer = Answer(status=201)
        return {"CodeSigningConfig": config_shape(signing, made)}

    async def get(call: LambdaCall) -> dict[str, Any]:
        config = await on_config(call, "GetCodeSigningConfig")
        return {"CodeSigningConfig": config_shape(signing, config)}

    async def update(call: LambdaCall) -> dict[str, Any]:
        config = await on_config(call, "UpdateCodeSigningConfig")
        changed = await signing.update(call.tenant_id, signing.arn(config), call.params)
        return {"CodeSigningConfig": config_shape(signing, changed)}

    async def delete(call: LambdaCall) -> dict[str, Any]:
        config = await on_config(call, "DeleteCodeSigningConfig")
        await signing.delete(call.tenant_id, signing.arn(config))
        call.answer = Answer(status=204)
        return {}

    async def list_configs(call: LambdaCall) -> dict[str, Any]:
        await call.authorise("lambda:ListCodeSigningConfigs", "*", {}, None, call.tenant_id)
        after = after_token(call.params.get("Marker"))
        size = page_size(call.params.get("MaxItems"))
        found = [
            c
            for c in await signing.store.configs(call.tenant_id)
            if after is None or c.config_id > after
        ]
        page = found[:size]
        answer: dict[str, Any] = {"CodeSigningConfigs": [config_shape(signing, c) for c in page]}
        if len(found) > size:
            answer["NextMarker"] = page_token(page[-1].config_id)
        return answer

    async def list_functions(call: LambdaCall) -> dict[str, Any]:
        config = await on_config(call, "ListFunctionsByCodeSigningConfig")
        after = after_token(call.params.get("Marker"))
        size = page_size(call.params.get("MaxItems"))
        names = [
            n
            for n in await signing.store.functions(call.tenant_id, config.config_id)
            if after is None or n > after
        ]
        page = names[:size]
        answer: dict[str, Any] = {
            "FunctionArns": [call.functions.arn(call.tenant_id, n) for n in page]
        }
        if len(names) > size:
            answer["NextMarker"] = page_token(page[-1])
        return answer

    async def put_function(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(
            call, "PutFunctionCodeSigningConfig", qualified=False
        )
        own_function(call, owner)
        config = await signing.attach(owner, named.name, call.params.get("CodeSigningConfigArn"))
        return {"CodeSigningConfigArn": signing.arn(config), "FunctionName": named.name}

    async def get_function(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(
            call, "GetFunctionCodeSigningConfig", qualified=False
        )
        config = await signing.attached(owner, named.name)
        # AWS's answer for a function without one: both required members, the ARN empty.
        arn = "" if config is None else signing.arn(config)
        return {"CodeSigningConfigArn": arn, "FunctionName": named.name}

    async def delete_function(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(
            call, "DeleteFunctionCodeSigningConfig", qualified=False
        )
        own_function(call, owner)
        await signing.store.detach(owner, named.name)
        call.answer = Answer(status=204)
        return {}

    delete_function_itself = function_actions["DeleteFunction"]

    async def deleting_function(call: LambdaCall) -> dict[str, Any]:
        answer = await delete_function_itself(call)
        named = call.named()
        if not named.qualifier:  # the function itself, not a version of it
            await signing.store.detach(named.account or call.tenant_id, named.name)
        return answer

    return {
        "CreateCodeSigningConfig": create,
        "GetCodeSigningConfig": get,
        "UpdateCodeSigningConfig": update,
        "DeleteCodeSigningConfig": delete,
        "ListCodeSigningConfigs": list_configs,
        "ListFunctionsByCodeSigningConfig": list_functions,
        "PutFunctionCodeSigningConfig": put_function,
        "GetFunctionCodeSigningConfig": get_function,
        "DeleteFunctionCodeSigningConfig": delete_function,
        "DeleteFunction": deleting_function,
    }
