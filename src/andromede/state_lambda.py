"""Step Functions' Lambda tasks (decision 0294): ``arn:aws:states:::lambda:invoke`` (and its
``.waitForTaskToken`` pattern) and a function's own ARN as a Task's ``Resource``, the
legacy form. Each is Lambda's Invoke called in process as the state machine's role
(``function_calls``): Lambda authorises ``lambda:InvokeFunction`` on the function by the
role's identity policies and the function's resource-based policy, runs it, audits and
meters it.

- ``lambda:invoke`` takes Invoke's parameters (``FunctionName``, ``Payload`` — a JSON value
  sent as its JSON, a string as it is —, ``InvocationType``, ``Qualifier``,
  ``ClientContext``) and answers as AWS's optimized integration: ``ExecutedVersion``,
  ``Payload`` (the function's answer read as JSON when it is), ``StatusCode``,
  ``SdkHttpMetadata`` and ``SdkResponseMetadata``;
- a function's ARN as ``Resource`` is invoked with the state's effective input, and its
  answer is the task's result.

A function that fails (Invoke's ``X-Amz-Function-Error``) fails the task with its
``errorType`` (``Lambda.Unknown`` when it gives none) and the error document as the cause,
as AWS words it; an error of the Lambda API is ``Lambda.<its code>`` for those AWS's SDK
models (``Lambda.ResourceNotFoundException``, ``Lambda.TooManyRequestsException``,
``Lambda.ServiceException``…), ``Lambda.AWSLambdaException`` for the others (a refusal:
``AccessDeniedException``), its cause in the SDK's words. Retry and Catch match them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.function_calls import (
    MODELLED,
    AsgiApp,
    FunctionAnswer,
    FunctionCallFailed,
    invoke_function,
)
from andromede.iam.model import Principal
from andromede.stepfunctions.interpreter import StatesError

__all__ = ["FUNCTION_ARN", "invoke_as_task", "invoke_legacy"]

FUNCTION_ARN: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}"
    r"(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)
_TYPES: Final = ("RequestResponse", "Event", "DryRun")
# How AWS's answer names the headers a Lambda answer carries.
_HEADER_NAMES: Final = {
    "content-type": "Content-Type",
    "content-length": "Content-Length",
    "x-amz-executed-version": "X-Amz-Executed-Version",
    "x-amz-function-error": "X-Amz-Function-Error",
    "x-amzn-requestid": "x-amzn-RequestId",
}


def _payload(value: Any) -> bytes:
    if value is None:
        return b"{}"
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, separators=(",", ":")).encode()


def _read(payload: bytes) -> Any:
    """The function's answer as JSON when it is, else its text."""
    if not payload:
        return ""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return payload.decode("utf-8", "replace")


async def _call(
    app: AsgiApp, session: Principal, name: str, payload: bytes, **options: Any
) -> FunctionAnswer:
    """Invoke's answer; ``options`` Invoke's (``trace``: the execution's trace header)."""
    try:
        answer = await invoke_function(app, session, name, payload, **options)
    except FunctionCallFailed as exc:
        error = exc.code if exc.code in MODELLED else "AWSLambdaException"
        raise StatesError(f"Lambda.{error}", exc.sdk_cause()[:32_768]) from None
    if answer.function_error is not None:
        document = answer.error_document()
        kind = document.get("errorType")
        raise StatesError(
            kind if isinstance(kind, str) and kind else "Lambda.Unknown",
            answer.payload.decode("utf-8", "replace")[:32_768],
        )
    return answer


async def invoke_as_task(
    app: AsgiApp, session: Principal, params: Mapping[str, Any], trace: str | None = None
) -> Any:
    """``arn:aws:states:::lambda:invoke`` with ``params``: Invoke's answer as AWS's
    optimized integration gives it; ``trace`` the execution's trace header (decision 0351)."""
    name = params.get("FunctionName")
    if not isinstance(name, str) or not name:
        raise StatesError(
            "Lambda.InvalidParameterValueException", "The field 'FunctionName' is required"
        )
    invocation_type = params.get("InvocationType", "RequestResponse")
    if invocation_type not in _TYPES:
        raise StatesError(
            "Lambda.InvalidParameterValueException",
            f"InvocationType must be one of {', '.join(_TYPES)}",
        )
    qualifier = params.get("Qualifier")
    context = params.get("ClientContext")
    answer = await _call(
        app,
        session,
        name,
        _payload(params.get("Payload")),
        invocation_type=invocation_type,
        qualifier=qualifier if isinstance(qualifier, str) else None,
        client_context=context if isinstance(context, str) else None,
        trace=trace,
    )
    headers = {_HEADER_NAMES.get(k, k): v for k, v in sorted(answer.headers.items())}
    result: dict[str, Any] = {}
    if answer.executed_version is not None:
        result["ExecutedVersion"] = answer.executed_version
    result |= {
        # Event (202) and DryRun (204) answers carry no payload.
        "Payload": _read(answer.payload) if answer.status == 200 else "",
        "SdkHttpMetadata": {
            "AllHttpHeaders": {k: [v] for k, v in headers.items()},
            "HttpHeaders": headers,
            "HttpStatusCode": answer.status,
        },
        "SdkResponseMetadata": {"RequestId": answer.request_id},
        "StatusCode": answer.status,
    }
    return result


async def invoke_legacy(
    app: AsgiApp, session: Principal, arn: str, data: Any, trace: str | None = None
) -> Any:
    """A function's ARN as a Task's ``Resource``: invoked with the effective input, its
    answer the result."""
    payload = json.dumps(data, separators=(",", ":")).encode()
    answer = await _call(app, session, arn, payload, trace=trace)
    return _read(answer.payload)
