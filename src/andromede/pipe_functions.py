"""Where EventBridge Pipes meets Lambda (decision 0294): a function as a pipe's target (the
``pipes.runner.PipeBatchTarget``) and as its enrichment. Either receives the batch's events,
each shaped by its template, as one JSON array — even a batch of one, as AWS sends it — in
Lambda's Invoke called in process as the pipe's role (``function_calls``): Lambda
authorises ``lambda:InvokeFunction`` by the role's identity policies and the function's
resource-based policy, runs the function, audits and meters it.

- **Target.** ``LambdaFunctionParameters.InvocationType`` ``REQUEST_RESPONSE`` (the default:
  run now, the batch failed when the function fails) or ``FIRE_AND_FORGET`` (queued, Lambda
  retrying it as any Event invocation). A synchronous function may answer
  ``{"batchItemFailures": [{"itemIdentifier": …}]}``: those events failed, the others are
  done, as AWS documents for SQS (the ``messageId``), Kinesis and DynamoDB streams (the
  ``eventID``) sources; an identifier empty or of no event of the batch fails it whole.
- **Enrichment.** Run now; its answer is the enrichment's output; a function's failure
  fails the batch (retried by the source's rules).

A role refused or a function gone is ``EndpointRefused`` (``NO_PERMISSIONS``,
``NO_RESOURCE``: the pipe's ``StateReason``); a throttle or a function's failure any other
exception, retried as the source retries.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Final

from andromede.function_calls import (
    AsgiApp,
    FunctionAnswer,
    FunctionCallFailed,
    invoke_function,
)
from andromede.functions.lineage import furthest
from andromede.pipe_roles import PipeRoles
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe

__all__ = ["FunctionFailed", "PipeFunctions", "batch_item_failures"]

_REFUSALS: Final = {
    "AccessDeniedException": "NO_PERMISSIONS",
    "ResourceNotFoundException": "NO_RESOURCE",
    "InvalidParameterValueException": "INVALID_PARAMETER",
    "RequestTooLargeException": "INVALID_PARAMETER",
    "InvalidRequestContentException": "INVALID_PARAMETER",
}
_INVOCATION_TYPES: Final = {"REQUEST_RESPONSE": "RequestResponse", "FIRE_AND_FORGET": "Event"}


class FunctionFailed(Exception):
    """The function (or Lambda, throttling it) failed the batch: tried again by the
    source's rules."""


class PipeFunctions:
    def __init__(self, roles: PipeRoles, lambdas: Callable[[], AsgiApp | None]) -> None:
        self._roles = roles
        self._lambdas = lambdas

    def takes(self, pipe: Pipe) -> bool:
        """Whether the pipe's target is a function: its batch goes as one array."""
        return pipe.target_kind == "lambda"

    async def send_batch(self, pipe: Pipe, payload: str, traces: Sequence[str]) -> list[str]:
        """``payload`` (the batch's array) to the target function, with the trace header of
        the source event furthest along its chain (decision 0351: the function's recursive
        loop detection); the identifiers of the events it reported failed (none: all done)."""
        params = pipe.target_parameters.get("LambdaFunctionParameters") or {}
        invocation = _INVOCATION_TYPES[params.get("InvocationType") or "REQUEST_RESPONSE"]
        answer = await self._invoke(pipe, pipe.target, payload, invocation, furthest(traces))
        if invocation != "RequestResponse":
            return []
        return batch_item_failures(answer.payload)

    async def enrich(self, pipe: Pipe, payload: str, trace: str | None = None) -> bytes:
        """``payload`` (the batch's array) to the enrichment function, invoked with the
        batch's ``trace`` header (decision 0364: its ``_X_AMZN_TRACE_ID``, and Lambda's loop
        detection counting it); its answer."""
        answer = await self._invoke(pipe, pipe.enrichment, payload, "RequestResponse", trace)
        return answer.payload

    async def _invoke(
        self, pipe: Pipe, function: str, payload: str, invocation: str, trace: str | None = None
    ) -> FunctionAnswer:
        session = await self._roles.session(pipe)
        app = self._lambdas()
        if app is None:
            raise EndpointRefused("NO_RESOURCE", "Lambda is not served by this deployment")
        try:
            answer = await invoke_function(
                app, session, function, payload.encode(), invocation_type=invocation, trace=trace
            )
        except FunctionCallFailed as exc:
            if exc.code in _REFUSALS:
                raise EndpointRefused(_REFUSALS[exc.code], exc.message[:512]) from None
            raise FunctionFailed(f"{exc.code}: {exc.message[:512]}") from None
        if answer.function_error is not None:
            kind = answer.error_document().get("errorType") or "Unhandled"
            raise FunctionFailed(f"The function failed: {str(kind)[:256]}")
        return answer


def batch_item_failures(payload: bytes) -> list[str]:
    """A function's (or a state machine's, decision 0316) ``batchItemFailures``: the
    identifiers it reported failed. An answer without them (or with an empty list, or null)
    is a success; an identifier that is empty or not a string fails the batch whole."""
    try:
        answer = json.loads(payload or b"null")
    except (ValueError, UnicodeDecodeError):
        return []
    if not isinstance(answer, dict):
        return []
    failures = answer.get("batchItemFailures")
    if not isinstance(failures, list):
        return []
    found: list[str] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or not identifier:
            raise FunctionFailed("batchItemFailures named an empty or invalid itemIdentifier")
        found.append(identifier)
    return found
