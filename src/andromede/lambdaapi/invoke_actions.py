"""AWS Lambda's Invoke (decision 0286): authorised as ``lambda:InvokeFunction`` on the
function's ARN (qualified when a qualifier is named) with its resource-based policy; the
payload JSON of at most the setting's bytes; ``InvocationType`` ``RequestResponse`` (run now,
the handler's result the answer's body, ``X-Amz-Executed-Version``, a failure
``X-Amz-Function-Error: Unhandled`` with AWS's ``errorMessage``/``errorType``/
``stackTrace``, ``LogType`` ``Tail`` the last 4 KB of the log base64 in
``X-Amz-Log-Result``), ``Event`` (queued, 202) or ``DryRun`` (checked only, 204)."""

from __future__ import annotations

import base64
import json
from typing import Any, Final

from andromede.functions.invoker import Invoker, log_tail
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.wire import Answer

__all__ = ["client_context", "invoke_actions"]

_TYPES: Final = ("RequestResponse", "Event", "DryRun")


def invoke_actions(
    invoker: Invoker, max_payload: int, max_event_payload: int
) -> dict[str, Handler]:
    """The Invoke handler over ``invoker`` (whose queue keeps Event invocations)."""

    async def invoke(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "InvokeFunction")
        invocation_type = call.params.get("InvocationType") or "RequestResponse"
        if invocation_type not in _TYPES:
            raise LambdaWireError(
                "InvalidParameterValueException",
                f"InvocationType must be one of {', '.join(_TYPES)}",
            )
        payload = call.params.get("Payload") or b"{}"
        limit = max_event_payload if invocation_type == "Event" else max_payload
        if len(payload) > limit:
            raise LambdaWireError(
                "RequestTooLargeException",
                f"Request must be smaller than {limit} bytes for the Invoke operation",
            )
        try:
            json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LambdaWireError(
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json",
            ) from exc
        record, version = await invoker.target(owner, named.name, named.qualifier)
        arn = call.functions.arn(owner, named.name, named.qualifier)
        if invocation_type == "DryRun":
            call.answer = Answer(status=204)
            return {}
        trace = call.params.get("TraceHeader")  # its lineage: decision 0328
        trace = trace if isinstance(trace, str) else None
        if invocation_type == "Event":
            await invoker.enqueue(record, version, payload, arn, trace)
            call.answer = Answer(status=202)
            return {}
        await invoker.refresh_reserves(owner)
        context = client_context(call.params.get("ClientContext"))
        done = await invoker.invoke(record, version, payload, arn, context, trace=trace)
        headers = [("X-Amz-Executed-Version", done.version)]
        body = done.payload
        failed = not done.ok
        if done.ok and len(body) > max_payload:
            body = json.dumps(
                {
                    "errorMessage": f"Response payload size ({len(body)} bytes) exceeded "
                    f"maximum allowed payload size ({max_payload} bytes).",
                    "errorType": "Function.ResponseSizeTooLarge",
                }
            ).encode()
            failed = True
        if failed:
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if call.params.get("LogType") == "Tail":
            tail = base64.b64encode(log_tail(done.log).encode()).decode()
            headers.append(("X-Amz-Log-Result", tail))
        call.answer = Answer(status=200, raw=body, headers=headers)
        return {}

    return {"Invoke": invoke}


def client_context(given: object) -> object:
    """``X-Amz-Client-Context``: base64 of a JSON object of at most 3,583 bytes, as AWS."""
    if given is None:
        return None
    try:
        decoded = base64.b64decode(str(given), validate=True)
        if len(decoded) > 3583:
            raise ValueError("too long")
        return json.loads(decoded)
    except ValueError as exc:
        raise LambdaWireError(
            "InvalidRequestContentException",
            "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes",
        ) from exc
