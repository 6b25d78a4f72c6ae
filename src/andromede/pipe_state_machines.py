"""Where EventBridge Pipes meets Step Functions (decision 0316): a state machine as a pipe's
target (a ``pipes.runner.PipeBatchTarget``) and as its enrichment. Either receives the
batch's events, each shaped by its template, as one JSON array — the execution's input, even
for a batch of one, as AWS sends it — through Step Functions' own API called in process as
the pipe's role (the session in place of a signature, as Step Functions' DynamoDB tasks call
DynamoDB: ``state_tasks.call_in_process``). So Step Functions authorises
``states:StartExecution`` or ``states:StartSyncExecution`` on the machine by the role's
identity policies, checks the input, starts or runs the execution, meters it and audits it
with the role's session as the caller, as for any caller.

- **Target.** ``StepFunctionStateMachineParameters.InvocationType`` ``REQUEST_RESPONSE`` (the
  default: StartSyncExecution, EXPRESS workflows only; an execution that does not succeed
  fails the batch, tried again by the source's rules; its output may be AWS's partial batch
  response, ``{"batchItemFailures": [{"itemIdentifier": …}]}``) or ``FIRE_AND_FORGET``
  (StartExecution: started, the batch done, whatever the execution then does).
- **Enrichment.** An EXPRESS machine run by StartSyncExecution; its output (JSON) is the
  enrichment's answer, the events passed on; an execution that does not succeed fails the
  batch.

A role refused or a machine gone is ``EndpointRefused`` (``NO_PERMISSIONS``,
``NO_RESOURCE``: the pipe's ``StateReason``), an input Step Functions refuses or a STANDARD
machine given to StartSyncExecution ``INVALID_PARAMETER``; a throttle or an execution's
failure is :class:`StateMachineFailed`, retried as the source retries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from andromede.function_calls import AsgiApp
from andromede.functions.lineage import furthest
from andromede.pipe_functions import batch_item_failures
from andromede.pipe_roles import PipeRoles
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.model import Pipe
from andromede.state_tasks import call_in_process

__all__ = ["PipeStateMachines", "StateMachineFailed"]

_CONTENT_TYPE: Final = "application/x-amz-json-1.0"
_REFUSALS: Final = {
    "AccessDeniedException": "NO_PERMISSIONS",
    "StateMachineDoesNotExist": "NO_RESOURCE",
    "StateMachineDeleting": "NO_RESOURCE",
    "UnknownOperationException": "NO_RESOURCE",
    "InvalidArn": "INVALID_PARAMETER",
    "InvalidExecutionInput": "INVALID_PARAMETER",
    "InvalidName": "INVALID_PARAMETER",
    "StateMachineTypeNotSupported": "INVALID_PARAMETER",
    "ValidationException": "INVALID_PARAMETER",
}


class StateMachineFailed(Exception):
    """The execution did not succeed, or Step Functions could not start it now (throttled,
    at its limit): tried again by the source's rules."""


class PipeStateMachines:
    def __init__(self, roles: PipeRoles, states: Callable[[], AsgiApp | None]) -> None:
        self._roles = roles
        self._states = states

    def takes(self, pipe: Pipe) -> bool:
        """Whether the pipe's target is a state machine: its batch goes as one array."""
        return pipe.target_kind == "states"

    async def send_batch(self, pipe: Pipe, payload: str, traces: Sequence[str]) -> list[str]:
        """``payload`` (the batch's array) as the input of an execution of the target
        machine, its ``traceHeader`` the source event's furthest along its chain (decision
        0351); the identifiers of the events a synchronous one reported failed."""
        params = pipe.target_parameters.get("StepFunctionStateMachineParameters") or {}
        trace = furthest(traces)
        if params.get("InvocationType") == "FIRE_AND_FORGET":
            await self._call(pipe, "StartExecution", pipe.target, payload, trace)
            return []
        output = await self._run(pipe, pipe.target, payload, trace)
        return batch_item_failures(output)

    async def enrich(self, pipe: Pipe, payload: str, trace: str | None = None) -> bytes:
        """``payload`` (the batch's array) as the input of a synchronous execution of the
        enrichment machine, its ``traceHeader`` the batch's (decision 0364); its output."""
        return await self._run(pipe, pipe.enrichment, payload, trace)

    async def _run(self, pipe: Pipe, machine: str, payload: str, trace: str | None = None) -> bytes:
        ran = await self._call(pipe, "StartSyncExecution", machine, payload, trace)
        status = str(ran.get("status", ""))
        if status != "SUCCEEDED":
            error = str(ran.get("error") or "States.Runtime")[:256]
            cause = str(ran.get("cause") or "")[:512]
            raise StateMachineFailed(f"The execution ended {status or 'FAILED'}: {error}: {cause}")
        output = ran.get("output")
        return output.encode() if isinstance(output, str) else b"null"

    async def _call(
        self, pipe: Pipe, action: str, machine: str, payload: str, trace: str | None = None
    ) -> dict[str, Any]:
        session = await self._roles.session(pipe)
        app = self._states()
        if app is None:
            raise EndpointRefused("NO_RESOURCE", "Step Functions is not served by this deployment")
        status, answer = await call_in_process(
            app,
            f"AWSStepFunctions.{action}",
            _CONTENT_TYPE,
            session,
            {"stateMachineArn": machine, "input": payload}
            | ({"traceHeader": trace} if trace else {}),
        )
        if status < 300:
            return answer
        code = str(answer.get("__type", "InternalServerError")).rsplit("#", 1)[-1]
        message = str(answer.get("message") or answer.get("Message") or "")[:512]
        if code in _REFUSALS:
            raise EndpointRefused(_REFUSALS[code], f"{code}: {message}")
        raise StateMachineFailed(f"{code}: {message}")
