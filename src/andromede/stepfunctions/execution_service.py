"""Step Functions' executions (decision 0271): started, described, listed in pages, stopped,
their histories read — the calls; :mod:`andromede.stepfunctions.runner` drives them.

StartExecution is idempotent as AWS's for a STANDARD machine: the same name and input while
that execution runs answers it; a name its machine used already otherwise is
``ExecutionAlreadyExists``. An execution keeps its machine's definition and role as they
were at its start. StopExecution ends a running execution ABORTED at once: its runner, if
it is stepping it, cancels the step (a Wait or a retry's interval slept in place, a call) —
at once in this process, within a second in another (decision 0393). The history keeps what
was in flight (decision 0407): the events of the step this process halted, then the
``…Aborted`` events of its states in flight (or, at rest, those its cursor had: a Wait's
``WaitStateAborted``, a parked task's ``TaskStateAborted``…), then ``ExecutionAborted``."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.branch_steps import aborted_at_rest, find_task, running_jobs, with_task
from andromede.stepfunctions.errors import (
    ExecutionAlreadyExists,
    ExecutionDoesNotExist,
    ExecutionNotRedrivable,
    InvalidExecutionInput,
    InvalidOutput,
    InvalidToken,
    StepFunctionsError,
    TaskDoesNotExist,
    TaskTimedOut,
    ValidationException,
)
from andromede.stepfunctions.execution_store import ExecutionStore
from andromede.stepfunctions.executions import (
    Execution,
    ExecutionStatus,
    HistoryEvent,
    check_execution_name,
    check_trace_header,
    split_execution_arn,
)
from andromede.stepfunctions.halting import HALT_SECONDS, StopSignals
from andromede.stepfunctions.history_events import Event
from andromede.stepfunctions.redrive import REDRIVE_WINDOW_MS, not_redrivable
from andromede.stepfunctions.service import StateMachinesService
from andromede.stepfunctions.task_tokens import token_target, verify_token
from andromede.stepfunctions.versions import split_qualified_arn

__all__ = ["ExecutionLimits", "ExecutionsService", "history_page", "started_event"]

log = logging.getLogger(__name__)

_DEFAULT_PAGE: Final = 100
_MAX_PAGE: Final = 1000
_STOPS: Final = 5  # compare-and-set attempts against a runner writing at the same time
_PARENT_TRIES: Final = 20
_PARENT_PAUSE: Final = 0.1  # seconds


@dataclass(frozen=True, slots=True)
class ExecutionLimits:
    max_payload_size: int = 262_144
    max_history_events: int = 25_000
    redrive_window_ms: int = REDRIVE_WINDOW_MS
    stop_wait: float = HALT_SECONDS  # for the step halted to hand over its events (0407)


def _now() -> int:
    return int(time.time() * 1000)


def _page_size(value: Any) -> int:
    if value is None or value == 0:
        return _DEFAULT_PAGE
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= _MAX_PAGE:
        raise ValidationException(f"maxResults must be between 0 and {_MAX_PAGE}.")
    return value


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode()


def _decode(token: Any, prefix: str) -> str:
    try:
        decoded = base64.urlsafe_b64decode(str(token).encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded.startswith(prefix):
        raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
    return decoded[len(prefix) :]


def _redriven(value: Any) -> bool | None:
    if value is None:
        return None
    if value not in ("REDRIVEN", "NOT_REDRIVEN"):
        raise ValidationException(f"Invalid redriveFilter: {str(value)[:32]}")
    return bool(value == "REDRIVEN")


def history_page(
    events: list[HistoryEvent], reverse: bool, token: Any, max_results: Any
) -> tuple[list[HistoryEvent], str | None]:
    """GetExecutionHistory's page of ``events`` (an execution's, or a Map run's child's,
    decision 0369) and the token of the next."""
    events = list(reversed(events)) if reverse else events
    start = 0
    if token is not None:
        offset = _decode(token, "hi1:")
        if not offset.isdigit():
            raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
        start = int(offset)
    size = _page_size(max_results)
    page = events[start : start + size]
    more = start + size < len(events)
    return page, _encode(f"hi1:{start + size}") if more else None


def started_event(execution: Execution) -> HistoryEvent:
    details: dict[str, Any] = {
        "input": execution.input,
        "inputDetails": {"truncated": False},
        "roleArn": execution.role_arn,
    }
    if execution.version_arn is not None:
        details["stateMachineVersionArn"] = execution.version_arn
    if execution.alias_arn is not None:
        details["stateMachineAliasArn"] = execution.alias_arn
    return HistoryEvent(
        1, 0, execution.started, "ExecutionStarted", "executionStartedEventDetails", details
    )


class ExecutionsService:
    def __init__(
        self,
        store: ExecutionStore,
        machines: StateMachinesService,
        limits: ExecutionLimits | None = None,
        clock: Callable[[], int] = _now,
    ) -> None:
        self.store = store
        self.machines = machines
        self.limits = limits or ExecutionLimits()
        self.region = machines.region
        self._clock = clock
        self.on_start: Callable[[], None] = lambda: None
        # Told when an execution comes due at a time (ms): a heartbeat's new deadline (0326).
        self.on_due: Callable[[int], None] = lambda _wake_at: None
        # Told of each execution started (``AWS/States`` metrics), after it is written.
        self.observe_start: Callable[[Execution], None] = lambda _execution: None
        # Told of each execution ended or stopped: its Map runs still running are aborted
        # (decision 0322).
        self.observe_end: Callable[[Execution], Awaitable[None]] | None = None
        # The steps this process runs, told of their execution's stop at once (0393).
        self.stops = StopSignals()

    def _input(self, value: Any) -> str:
        text = "{}" if value is None else value
        if not isinstance(text, str) or len(text.encode()) > self.limits.max_payload_size:
            raise InvalidExecutionInput(
                "Invalid State Machine Execution Input: 'the input must be a JSON text of at "
                f"most {self.limits.max_payload_size} bytes'"
            )
        try:
            json.loads(text)
        except ValueError as exc:
            raise InvalidExecutionInput(
                f"Invalid State Machine Execution Input: '{str(exc)[:256]}'"
            ) from exc
        return text

    async def start(
        self, tenant_id: str, params: dict[str, Any], parent: dict[str, Any] | None = None
    ) -> Execution:
        """StartExecution; ``parent``: the task of a ``.sync`` parent (its token and pattern),
        answered when this execution ends."""
        target = await self.machines.resolve(tenant_id, params.get("stateMachineArn"))
        machine = target.machine
        name = check_execution_name(params.get("name") or str(uuid.uuid4()))
        data = self._input(params.get("input"))
        trace = check_trace_header(params.get("traceHeader"))
        definition = json.loads(target.definition)
        now = self._clock()
        execution = Execution(
            tenant_id=tenant_id,
            region=machine.region,
            machine_name=machine.name,
            name=name,
            definition=target.definition,
            role_arn=target.role_arn,
            input=data,
            started=now,
            cursor={"state": definition["StartAt"], "data": json.loads(data), "wait_until": None},
            wake_at=now,
            events=1,
            revision_id=target.revision_id,
            token_key=secrets.token_hex(32),
            parent=parent,
            version=target.version,
            alias=target.alias,
            trace=trace,
        )
        found = await self.store.create(execution, [started_event(execution)])
        if found is None:
            self.observe_start(execution)
            self.on_start()
            return execution
        same = found.status is ExecutionStatus.RUNNING and json.loads(found.input) == json.loads(
            data
        )
        if not same:
            raise ExecutionAlreadyExists(f"Execution Already Exists: '{found.arn}'")
        return found

    async def get(self, tenant_id: str, arn: Any) -> Execution:
        account, machine, name = split_execution_arn(arn, self.region)
        found = (
            None
            if account != tenant_id
            else await self.store.get(tenant_id, self.region, machine, name)
        )
        if found is None:
            raise ExecutionDoesNotExist(f"Execution Does Not Exist: '{arn}'")
        return found

    async def page(
        self, tenant_id: str, machine_arn: Any, status: Any, token: Any, max_results: Any,
        redrive_filter: Any = None,
    ) -> tuple[list[Execution], str | None]:  # fmt: skip
        parts = split_qualified_arn(machine_arn, self.region)
        unqualified = f"arn:aws:states:{self.region}:{parts.account}:stateMachine:{parts.machine}"
        machine = await self.machines.get(tenant_id, unqualified)
        try:
            wanted = None if status is None else ExecutionStatus(status)
        except ValueError:
            raise ValidationException(f"Invalid statusFilter: {str(status)[:32]}") from None
        after = None
        if token is not None:
            started, _, name = _decode(token, "ex1:").partition(":")
            if not started.isdigit():
                raise InvalidToken(f"Invalid Token: '{str(token)[:64]}'")
            after = (int(started), name)
        size = _page_size(max_results)
        found = await self.store.executions(
            tenant_id, self.region, machine.name, wanted, after, size + 1,
            version=parts.version, alias=parts.alias, redriven=_redriven(redrive_filter),
        )  # fmt: skip
        page = found[:size]
        more = len(found) > size
        return page, _encode(f"ex1:{page[-1].started}:{page[-1].name}") if more else None

    async def stop(
        self, tenant_id: str, arn: Any, error: Any, cause: Any, tell_parent: bool = True
    ) -> Execution:
        """StopExecution; ``tell_parent`` False when the ``.sync`` parent stops it itself
        (decision 0383): its task, gone, is not waited for."""
        execution = await self.get(tenant_id, arn)
        if execution.status is not ExecutionStatus.RUNNING:
            return execution
        # Its step in this process, if one runs, ends first and hands over its events.
        async with self.stops.halting(execution.arn, self.limits.stop_wait) as flight:
            for _ in range(_STOPS):
                execution = await self.get(tenant_id, arn)
                if execution.status is not ExecutionStatus.RUNNING:
                    return execution
                stopped, events = self._aborted(execution, flight, error, cause)
                if await self.store.advance(stopped, events, None, 0):
                    break
            else:
                raise ValidationException(f"Execution {str(arn)[:256]} is changing: try again.")
        self.stops.ring(stopped.arn)  # a step of its own (an SDK task stopping it) ends now
        await self.ended(stopped, tell_parent)
        return stopped

    def _aborted(
        self, execution: Execution, flight: list[Event], error: Any, cause: Any
    ) -> tuple[Execution, list[HistoryEvent]]:
        """``execution`` ABORTED, and the events that end its history: what was in flight
        (the halted step's, else its cursor's), then ``ExecutionAborted``."""
        now = self._clock()
        details = {k: v for k, v in (("error", error), ("cause", cause)) if isinstance(v, str)}
        found = flight or aborted_at_rest(json.loads(execution.definition), execution.cursor)
        room = max(0, self.limits.max_history_events - execution.events - 1)
        kinds = [(e.type, e.details_name, e.details) for e in found[:room]]
        kinds.append(("ExecutionAborted", "executionAbortedEventDetails", details))
        events = [HistoryEvent(execution.events + i + 1, execution.events + i, now, *kind)
                  for i, kind in enumerate(kinds)]  # fmt: skip
        stopped = execution.changed(
            status=ExecutionStatus.ABORTED,
            stopped=now,
            cursor=None,
            resume=execution.cursor,
            waiting_activity=None,
            error=details.get("error"),
            cause=details.get("cause"),
            events=execution.events + len(events),
        )
        return stopped, events

    def redrive_status(self, execution: Execution) -> str | None:
        """AWS's reason ``execution`` cannot be redriven now; None when it can."""
        return not_redrivable(execution, self._clock(), self.limits.max_history_events,
                              self.limits.redrive_window_ms)  # fmt: skip

    async def redrive(self, tenant_id: str, arn: Any, client_token: Any) -> Execution:
        """RedriveExecution: the execution RUNNING again from the state it ended at (a
        Parallel's or a Map's succeeded branches or iterations kept), its input and ARN the
        same, ``ExecutionRedriven`` in its history; the same ``clientToken`` again answers
        the same redrive."""
        if client_token is not None and (
            not isinstance(client_token, str) or not 1 <= len(client_token) <= 64
        ):
            raise ValidationException(
                "1 validation error detected: Value at 'clientToken' failed to satisfy "
                "constraint: Member must have length between 1 and 64"
            )
        for _ in range(_STOPS):
            execution = await self.get(tenant_id, arn)
            if client_token is not None and execution.redrive_token == client_token:
                return execution
            reason = self.redrive_status(execution)
            if reason is not None:
                raise ExecutionNotRedrivable(
                    f"Execution with arn {execution.arn} cannot be redriven: {reason}"
                )
            now = self._clock()
            count = execution.redrive_count + 1
            event = HistoryEvent(execution.events + 1, execution.events, now,
                                 "ExecutionRedriven", "executionRedrivenEventDetails",
                                 {"redriveCount": count})  # fmt: skip
            resume = dict(execution.resume or {})
            # The variables as they were when the state that failed began (decision 0329).
            cursor = {"state": resume.get("state"), "data": resume.get("data"),
                      "wait_until": None, "done": resume.get("done"),
                      "variables": resume.get("variables")}  # fmt: skip
            redriven = execution.changed(
                status=ExecutionStatus.RUNNING, stopped=None, output=None, error=None,
                cause=None, cursor=cursor, resume=None, wake_at=now, waiting_activity=None,
                activity_taken=False, redrive_count=count, redriven=now,
                redrive_token=client_token, events=execution.events + 1,
            )  # fmt: skip
            if await self.store.advance(redriven, [event], None, 0):
                self.on_start()
                return redriven
        raise ValidationException(f"Execution {str(arn)[:256]} is changing: try again.")

    async def history(
        self, execution: Execution, reverse: bool, token: Any, max_results: Any
    ) -> tuple[list[HistoryEvent], str | None]:
        events = await self.store.history(
            execution.tenant_id, execution.region, execution.machine_name, execution.name
        )
        return history_page(events, reverse, token, max_results)

    async def task_of(self, tenant_id: str, token: Any) -> tuple[Execution, dict[str, Any]]:
        """The running execution and the parked task a token answers; InvalidToken for no
        token of the account's, TaskTimedOut for a task answered, timed out or gone."""
        if not isinstance(token, str) or not 1 <= len(token) <= 2048:
            raise InvalidToken("Invalid Token: 'Invalid token'")
        target = token_target(token)
        found = (
            None
            if target.tenant_id != tenant_id or target.region != self.region
            else await self.store.get(tenant_id, self.region, target.machine, target.name)
        )
        if found is None or not verify_token(token, found):
            raise InvalidToken("Invalid Token: 'Invalid token'")
        task = find_task(found.cursor, token)  # at the top level or in a branch (0283)
        if (
            found.status is not ExecutionStatus.RUNNING
            or not isinstance(task, dict)
            or task.get("token") != token
            or "output" in task
            or "error" in task
        ):
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        return found, task

    async def answer(self, tenant_id: str, token: Any, answer: dict[str, Any]) -> None:
        """SendTaskSuccess (``output``), SendTaskFailure (``error``, ``cause``) or
        SendTaskHeartbeat (``{}``): written into the parked task, the execution due now (a
        heartbeat only moves the task's heartbeat deadline)."""
        if "output" in answer:
            output = answer["output"]
            if not isinstance(output, str) or len(output.encode()) > self.limits.max_payload_size:
                raise InvalidOutput("Invalid Output: 'the output must be JSON of at most "
                                    f"{self.limits.max_payload_size} bytes'")  # fmt: skip
            try:
                answer = {"output": json.loads(output)}
            except ValueError as exc:
                raise InvalidOutput(f"Invalid Output: '{str(exc)[:256]}'") from exc
        for _ in range(_STOPS):
            execution, task = await self.task_of(tenant_id, token)
            now = self._clock()
            if answer:
                changed_task = {**task, **answer}
                wake = now
            else:
                if task.get("heartbeat") is None:
                    return
                changed_task = {**task, "beat_at": now + int(task["heartbeat"])}
                times = [t for t in (task.get("deadline"), changed_task["beat_at"]) if t]
                wake = min(times)
            cursor = with_task(execution.cursor or {}, token, changed_task, wake)
            if await self.store.advance(execution.changed(cursor=cursor, wake_at=wake), [],
                                        None, 0):  # fmt: skip
                if answer:
                    self.on_start()
                else:
                    self.on_due(wake)
                return
        raise TaskDoesNotExist("Task Does Not Exist: 'the task is changing: try again'")

    async def stop_jobs(self, execution: Execution, jobs: list[str]) -> None:
        """The nested executions ``jobs`` (its ``.sync`` tasks waited for them) stopped: AWS
        stops a ``.sync`` task's job when the task is stopped — its execution stopped, timed
        out, failed, or the task given up (decision 0383). One gone or ended is let be."""
        for arn in jobs:
            try:
                await self.stop(execution.tenant_id, arn, None, None, tell_parent=False)
            except StepFunctionsError as exc:
                log.info("Step Functions execution %s: its .sync job %s was not stopped: %s",
                         execution.arn, arn[:256], type(exc).__name__)  # fmt: skip

    async def ended(self, execution: Execution, tell_parent: bool = True) -> None:
        """Answer a ``.sync`` parent's task now that ``execution`` ended: its DescribeExecution
        as the task's output when it succeeded (``Output`` parsed for ``.sync:2``), else
        ``States.TaskFailed`` with that description as the cause. A parent gone or answered
        already is no error."""
        if execution.status is not ExecutionStatus.RUNNING and self.observe_end is not None:
            await self.observe_end(execution)
        if execution.status not in (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED):
            await self.stop_jobs(execution, running_jobs(execution.resume or execution.cursor))
        if (
            not tell_parent
            or execution.parent is None
            or (execution.status is ExecutionStatus.RUNNING)
        ):
            return
        described: dict[str, Any] = {
            "ExecutionArn": execution.arn,
            "StateMachineArn": execution.machine_arn,
            "Name": execution.name,
            "Status": execution.status.value,
            "StartDate": execution.started,
            "StopDate": execution.stopped,
            "Input": execution.input,
            "InputDetails": {"Included": True},
        }
        if execution.output is not None:
            parsed = execution.parent.get("mode") == "sync:2"
            described["Output"] = json.loads(execution.output) if parsed else execution.output
            described["OutputDetails"] = {"Included": True}
        if execution.error is not None:
            described["Error"] = execution.error
        if execution.cause is not None:
            described["Cause"] = execution.cause
        if execution.status is ExecutionStatus.SUCCEEDED:
            answer: dict[str, Any] = {"output": json.dumps(described)}
        else:
            answer = {"error": "States.TaskFailed", "cause": json.dumps(described)}
        # The parent parks once the child started: a child that ended at once may come
        # before that write, so a parent still at that state is tried again, briefly.
        for _ in range(_PARENT_TRIES):
            try:
                await self.answer(execution.tenant_id, execution.parent.get("token"), answer)
                return
            except TaskTimedOut:
                target = token_target(execution.parent.get("token"))
                parent = await self.store.get(
                    target.tenant_id, target.region, target.machine, target.name
                )
                if parent is None or parent.status is not ExecutionStatus.RUNNING:
                    return  # the parent ended (stopped, timed out): nothing waits
                await asyncio.sleep(_PARENT_PAUSE)
            except (InvalidToken, TaskDoesNotExist):
                return  # the parent is gone
        log.warning("Step Functions execution %s: its .sync parent did not take its end",
                    execution.arn)  # fmt: skip
