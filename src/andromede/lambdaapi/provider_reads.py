"""What AWS Lambda answers about a function's optional configurations that this platform does
not offer (decision 0297): code signing, runtime management and recursion detection (function
URLs are served since decision 0312: ``lambdaapi.url_actions``). Terraform's
``aws_lambda_function`` and other tools read them on every refresh; AWS answers a function
that has none with the empty shape (no code signing config, runtime updates ``Auto``,
recursive loops ``Terminate``). These answers are true here: none of these can be set (their
Put and Create operations stay refused by name). Each authorises ``lambda:<Action>`` on the
function's ARN through :func:`~andromede.lambdaapi.actions.found_function`, as its neighbours
do, so an unknown function is ``ResourceNotFoundException`` and a stranger is refused."""

from __future__ import annotations

from typing import Any, Final

from andromede.functions.model import LATEST
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function

__all__ = ["PROVIDER_READS"]


async def get_function_code_signing_config(call: LambdaCall) -> dict[str, Any]:
    _, named, _ = await found_function(call, "GetFunctionCodeSigningConfig", qualified=False)
    # AWS's answer for a function without one: both required members, the ARN empty.
    return {"CodeSigningConfigArn": "", "FunctionName": named.name}


async def get_runtime_management_config(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "GetRuntimeManagementConfig")
    _, version = await call.functions.resolve(owner, named.name, named.qualifier)
    published = None if version.version == LATEST else version.version
    # The host's interpreter of the runtime is the one used: AWS's "Auto" mode, under which
    # no RuntimeVersionArn is returned.
    return {
        "UpdateRuntimeOn": "Auto",
        "FunctionArn": call.functions.arn(owner, named.name, published),
    }


async def get_function_recursion_config(call: LambdaCall) -> dict[str, Any]:
    await found_function(call, "GetFunctionRecursionConfig", qualified=False)
    return {"RecursiveLoop": "Terminate"}


PROVIDER_READS: Final[dict[str, Handler]] = {
    "GetFunctionCodeSigningConfig": get_function_code_signing_config,
    "GetRuntimeManagementConfig": get_runtime_management_config,
    "GetFunctionRecursionConfig": get_function_recursion_config,
}
