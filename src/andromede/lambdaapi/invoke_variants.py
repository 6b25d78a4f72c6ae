"""AWS Lambda's other invocation operations (decision 0313), authorised as Invoke is —
``lambda:InvokeFunction`` on the function's ARN (qualified when a qualifier is named) with its
resource-based policy — and run by the same Invoker (concurrency, logs, metering):

- **InvokeWithResponseStream** (``POST /2021-11-15/functions/{name}/response-streaming-
  invocations``): ``InvocationType`` ``RequestResponse`` or ``DryRun`` (204), ``LogType``,
  ``ClientContext``, ``Qualifier``. The answer is AWS's event stream
  (``application/vnd.amazon.eventstream``, ``X-Amz-Executed-Version``): a ``PayloadChunk`` event
  for each piece of the answer as the handler makes it (``functions.response_stream``), then
  one ``InvokeComplete`` — with the handler's error type as ``ErrorCode`` and its error
  document as ``ErrorDetails`` when it failed, even after pieces were sent, and the last 4 KB
  of the log base64 as ``LogResult`` when ``Tail`` was asked. What fails before the run
  (not found, refused, throttled, a payload too large) is an ordinary error answer.
- **InvokeAsync** (deprecated, ``POST /2014-11-13/functions/{name}/invoke-async/``): the body
  is the event, queued as an ``Event`` invocation is; 202 ``{"Status": 202}``.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any, Final

from andromede.awswire.eventstream import CONTENT_TYPE as EVENT_STREAM
from andromede.awswire.eventstream import frame, json_event
from andromede.functions.invoker import Invoker, log_tail
from andromede.functions.response_stream import StreamedInvocation
from andromede.lambdaapi.actions import Handler, LambdaCall, found_function
from andromede.lambdaapi.errors import LambdaWireError
from andromede.lambdaapi.invoke_actions import client_context
from andromede.lambdaapi.wire import Answer

__all__ = ["invoke_variants"]

log = logging.getLogger(__name__)

_STREAM_TYPES: Final = ("RequestResponse", "DryRun")
_CHUNK_HEADERS: Final = [
    (":event-type", "PayloadChunk"),
    (":content-type", "application/octet-stream"),
    (":message-type", "event"),
]


def invoke_variants(
    invoker: Invoker, max_payload: int, max_event_payload: int, max_streamed: int
) -> dict[str, Handler]:
    """InvokeWithResponseStream (answers of at most ``max_streamed`` bytes) and InvokeAsync
    over ``invoker``."""

    async def invoke_with_response_stream(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "InvokeFunction")
        invocation_type = call.params.get("InvocationType") or "RequestResponse"
        if invocation_type not in _STREAM_TYPES:
            raise LambdaWireError(
                "InvalidParameterValueException",
                f"InvocationType must be one of {', '.join(_STREAM_TYPES)}",
            )
        payload = _checked(call.params.get("Payload"), max_payload, "InvokeWithResponseStream")
        record, version = await invoker.target(owner, named.name, named.qualifier)
        if invocation_type == "DryRun":
            call.answer = Answer(status=204)
            return {}
        arn = call.functions.arn(owner, named.name, named.qualifier)
        await invoker.refresh_reserves(owner)
        context = client_context(call.params.get("ClientContext"))
        streamed = StreamedInvocation(
            lambda sink: invoker.invoke(record, version, payload, arn, context, sink),
            max_streamed,
        )
        await streamed.start()
        call.answer = Answer(
            status=200,
            headers=[("Content-Type", EVENT_STREAM), ("X-Amz-Executed-Version", version.version)],
            stream=_EventStream(streamed, call.params.get("LogType") == "Tail", arn),
        )
        return {}

    async def invoke_async(call: LambdaCall) -> dict[str, Any]:
        owner, named, _ = await found_function(call, "InvokeFunction")
        payload = _checked(call.params.get("InvokeArgs"), max_event_payload, "InvokeAsync")
        record, version = await invoker.target(owner, named.name, named.qualifier)
        await invoker.enqueue(
            record, version, payload, call.functions.arn(owner, named.name, named.qualifier)
        )
        call.answer = Answer(status=202)
        return {"Status": 202}

    return {"InvokeWithResponseStream": invoke_with_response_stream, "InvokeAsync": invoke_async}


def _checked(given: object, limit: int, operation: str) -> bytes:
    """The event: JSON of at most ``limit`` bytes (an empty body is ``{}``)."""
    payload = given if isinstance(given, bytes) and given else b"{}"
    if len(payload) > limit:
        raise LambdaWireError(
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the {operation} operation",
        )
    try:
        json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LambdaWireError(
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json",
        ) from exc
    return payload


class _EventStream:
    """The answer's body: the events of :func:`_events`; closed before its end — the caller
    gone, or the answer never started —, the run is left to end on its own."""

    def __init__(self, streamed: StreamedInvocation, tail: bool, arn: str) -> None:
        self._streamed = streamed
        self._frames = _events(streamed, tail, arn)

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> bytes:
        return await anext(self._frames)

    async def aclose(self) -> None:
        # An async generator closed before it started runs none of its code: hence this
        # wrapper rather than a ``finally`` in the generator.
        await self._frames.aclose()
        if self._streamed.outcome is None:
            await self._streamed.abandon()


async def _events(
    streamed: StreamedInvocation, tail: bool, arn: str
) -> AsyncGenerator[bytes, None]:
    """The event stream: PayloadChunk events, then InvokeComplete. Nothing raises out of it:
    the status line is already sent, so a failure is told in InvokeComplete."""
    complete: dict[str, str] = {}
    try:
        async for piece in streamed.pieces():
            yield frame(_CHUNK_HEADERS, piece)
        done = streamed.outcome
        if done is not None and not done.ok:
            complete["ErrorCode"] = done.error_type or "Unhandled"
            complete["ErrorDetails"] = done.payload.decode("utf-8", "replace")
        if tail and done is not None:
            complete["LogResult"] = base64.b64encode(log_tail(done.log).encode()).decode()
    except Exception:
        log.exception("the streamed invocation of %s failed", arn[:256])
        complete = {"ErrorCode": "ServiceException", "ErrorDetails": "The invocation failed"}
    yield json_event("InvokeComplete", complete)
