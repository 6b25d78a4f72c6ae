"""What AWS Lambda answers about a function's optional configurations that this platform does
not offer (decision 0297): runtime management (function URLs are served since decision 0312:
``lambdaapi.url_actions``; code signing since decision 0386: ``lambdaapi.code_signing_actions``
answers GetFunctionCodeSigningConfig where the wiring serves it, this module's answer being
what a Lambda without code signing says); and the recursion configuration, served
since decision 0328 (Put stores ``Allow`` or ``Terminate`` on the function's record, which
``functions.lineage`` applies). Terraform's
``aws_lambda_function`` and other tools read them on every refresh; AWS answers a function
that has none with the empty shape (no code signing config, runtime updates ``Auto``,
recursive loops ``Terminate``). These answers are true here: runtime versions cannot be set
(their Put operation stays refused by name). Each
authorises ``lambda:<Action>`` on the function's ARN through
:func:`~andromede.lambdaapi.actions.found_function`, as its neighbours do, so an unknown
function is ``ResourceNotFoundException`` and a stranger is refused."""

from __future__ import annotations

from typing import Any, Final

from andromede.functions.model import LATEST
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError

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
    _, _, record = await found_function(call, "GetFunctionRecursionConfig", qualified=False)
    return {"RecursiveLoop": record.recursive_loop}


async def put_function_recursion_config(call: LambdaCall) -> dict[str, Any]:
    owner, named, _ = await found_function(call, "PutFunctionRecursionConfig", qualified=False)
    if owner != call.tenant_id:
        raise LambdaWireError("AccessDeniedException", "Only the function's account may set it")
    loop = await call.records.put_recursion(owner, named.name, call.params.get("RecursiveLoop"))
    return {"RecursiveLoop": loop}


PROVIDER_READS: Final[dict[str, Handler]] = {
    "GetFunctionCodeSigningConfig": get_function_code_signing_config,
    "GetRuntimeManagementConfig": get_runtime_management_config,
    "GetFunctionRecursionConfig": get_function_recursion_config,
    "PutFunctionRecursionConfig": put_function_recursion_config,
}
