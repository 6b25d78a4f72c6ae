"""The executions' runner (decision 0271), in every gateway: each pass it claims the
executions due in its Region (a lease: one gateway drives an execution at a time) and steps
each, one state at a time, writing its position and history after every transition — so a
gateway that stops leaves the execution to another once its lease ran out, resumed where it
stood, and a Wait outlives a restart (the execution is due again at its end, whoever runs:
the lease is given back when it only waits).

An execution past its definition's ``TimeoutSeconds`` ends TIMED_OUT; one whose history
would pass ``max_history_events`` ends FAILED (``States.Runtime``), as AWS ends it. Each
state entered is a state transition, counted by the :class:`TransitionMeter`.

A step is raced against its execution's stop and its ``TimeoutSeconds`` (decision 0393): a
Wait or a retry's interval slept within it (a Parallel's branch, an inline Map's iteration,
a distributed Map's children) or a call it makes is cancelled at the stop — told at once
by this process's StopExecution, asked once a second for one made by another gateway —
or at the deadline, so the execution does not go on past its end.

What the cancelled step had done stays in the history (decision 0407): its events so far,
then the ``…Aborted`` events of the states it had in flight, before ``ExecutionTimedOut``
(written here) or ``ExecutionAborted`` (written by this process's StopExecution, which
waits for the step it halts to hand them over). An execution at rest past its deadline —
a Wait, a parked task — leaves its state's, read from its cursor."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from andromede.stepfunctions.branch_steps import (
    aborted_at_rest,
    activity_name,
    given_up_jobs,
    waiting_activities,
)
from andromede.stepfunctions.execution_service import ExecutionsService, started_event
from andromede.stepfunctions.execution_store import PurgeHook
from andromede.stepfunctions.executions import (
    EXECUTION_TRACE,
    Execution,
    ExecutionStatus,
    HistoryEvent,
)
from andromede.stepfunctions.halting import STEPPING, Watch, until_halted
from andromede.stepfunctions.history_events import Event
from andromede.stepfunctions.interpreter import Cursor, Interpreter, Step, TaskRunner
from andromede.stepfunctions.task_tokens import make_token
from andromede.stepfunctions.variables import VariableLimits
from andromede.wakeup import Doorbell, Pacer

__all__ = ["ExecutionsRunner", "RunnerPolicy", "TransitionMeter"]

log = logging.getLogger(__name__)


class ExecutionLogs(Protocol):
    async def write(
        self, execution: Execution, logging: dict[str, Any], events: list[HistoryEvent]
    ) -> None:
        """The events the machine's ``loggingConfiguration`` asks for, into its log group
        (never raises: a log must not stop an execution)."""
        ...


class TransitionMeter(Protocol):
    def transitions(self, execution: Execution, count: int) -> None: ...

    def ended(self, execution: Execution) -> None:
        """The execution ended (its status, its start and stop times)."""
        ...


@dataclass(frozen=True, slots=True)
class RunnerPolicy:
    pass_interval: float = 1.0
    idle_poll_max: float | None = None  # background_idle_poll_max (decision 0326)
    lease_ms: int = 60_000
    batch: int = 100
    retention_ms: int = 90 * 86_400_000  # closed executions kept (AWS: 90 days)
    variables: VariableLimits = field(default_factory=VariableLimits)


class _StepStopped(Exception):
    """The execution was stopped while its step ran: StopExecution writes its end, with
    ``flight``, the events the cancelled step left (decision 0407)."""

    def __init__(self, flight: list[Event]) -> None:
        super().__init__()
        self.flight = flight


@dataclass(frozen=True, slots=True)
class _Cut:
    """A step cut at its execution's ``TimeoutSeconds``: the events it left (none when the
    deadline came between steps)."""

    flight: list[Event]


def _now() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class ExecutionsRunner:
    def __init__(
        self,
        executions: ExecutionsService,
        policy: RunnerPolicy,
        owner: str,
        tasks: TaskRunner | None = None,
        meter: TransitionMeter | None = None,
        clock: Callable[[], int] = _now,
        logs: ExecutionLogs | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        doorbell: Doorbell | None = None,
        purged_with: PurgeHook | None = None,
    ) -> None:
        self._executions = executions
        self._policy = policy
        self._owner = owner
        self._tasks = tasks
        self._meter = meter
        self._logs = logs
        self._clock = clock
        self._sleep = sleep
        self._purged_with = purged_with  # an execution's Map runs go with it (decision 0372)
        self._driving: dict[str, asyncio.Task[None]] = {}
        # Rung by StartExecution, a redrive or a task's answer, and at a known due time (a
        # Wait's end, a task's timeout): idle, the passes back off (decision 0326).
        # ``doorbell``: the database's, which another gateway's commits ring too (0331).
        self._pacer = Pacer(policy.pass_interval, policy.idle_poll_max, doorbell)

    def wake(self) -> None:
        self._pacer.doorbell.ring()

    def due_at(self, wake_at: int) -> None:
        """An execution of this process comes due at ``wake_at`` (ms): a pass then. One due
        already is claimed by the next pass, at the interval (a ring now would spin)."""
        delay = wake_at - self._clock()
        if delay > 0:
            self._pacer.doorbell.ring_at(delay / 1000)

    async def run_pass(self, wait: bool = False) -> int:
        """Claim the executions due and drive each not driven already; how many were
        claimed. ``wait``: until they waited, ended or were taken."""
        now = self._clock()
        claimed = await self._executions.store.claim(
            self._executions.region,
            self._owner,
            now,
            now + self._policy.lease_ms,
            self._policy.batch,
        )
        started = []
        for execution in claimed:
            if execution.arn in self._driving:
                continue
            task = asyncio.create_task(self._drive(execution), name=f"sfn {execution.name}")
            self._driving[execution.arn] = task
            task.add_done_callback(self._forget)
            started.append(task)
        if wait and started:
            await asyncio.gather(*started)
        # Closed executions past their retention go, a batch a pass (AWS: after 90 days),
        # with their Map runs and the runs' children.
        await self._executions.store.purge(
            self._executions.region,
            now - self._policy.retention_ms,
            self._policy.batch,
            self._purged_with,
        )
        return len(claimed)

    def _forget(self, task: asyncio.Task[None]) -> None:
        for arn, driven in list(self._driving.items()):
            if driven is task:
                del self._driving[arn]

    async def run_forever(self) -> None:
        while True:
            claimed = 0
            try:
                claimed = await self.run_pass()
            except Exception:  # one failed pass must not stop the executions
                log.exception("Step Functions runner pass failed")
            await self._pacer.pause(claimed > 0 or bool(self._driving))

    async def _drive(self, execution: Execution) -> None:
        # Its tasks call the services with its caller's trace (decision 0351).
        traced = EXECUTION_TRACE.set(execution.trace)
        stepping = STEPPING.set(execution.arn)
        try:
            with self._executions.stops.watching(execution.arn) as watch:
                try:
                    await self._steps(execution, watch)
                except _StepStopped as stopped:
                    # StopExecution writes its end (ExecutionAborted) after these events.
                    watch.flight = stopped.flight
        except Exception:
            log.exception("Step Functions execution %s: its step failed", execution.arn)
        finally:
            STEPPING.reset(stepping)
            EXECUTION_TRACE.reset(traced)

    async def _steps(self, execution: Execution, watch: Watch) -> None:
        definition = json.loads(execution.definition)
        context = {
            "Execution": {
                "Id": execution.arn,
                "Name": execution.name,
                "StartTime": _iso(execution.started),
                "Input": json.loads(execution.input),
                "RoleArn": execution.role_arn,
            },
            "StateMachine": {"Id": execution.machine_arn, "Name": execution.machine_name},
        }
        machine = Interpreter(definition, context, self._tasks, self._clock, self._sleep,
                              self._policy.variables, redriven=execution.redriven)  # fmt: skip
        logging_config = await self._logging(execution)
        timeout = definition.get("TimeoutSeconds")
        # A redriven execution has its TimeoutSeconds again from its redrive (decision 0283).
        began = execution.redriven or execution.started
        deadline = None if timeout is None else began + int(timeout) * 1000
        current = execution
        while current.status is ExecutionStatus.RUNNING and current.cursor is not None:
            step: Step | _Cut
            if deadline is not None and self._clock() >= deadline:
                step = _Cut([])
            else:
                step = await self._step(machine, current, current.cursor, deadline, watch.rung)
            changed, events = self._after(current, definition, step, deadline)
            # An execution that only waits (a Wait, a token) or ended is driven by no one: its
            # lease is given back, so whichever gateway runs when it is due takes it.
            idle = (isinstance(step, _Cut) or step.waiting
                    or changed.status is not ExecutionStatus.RUNNING)  # fmt: skip
            lease_until = self._clock() + (0 if idle else self._policy.lease_ms)
            if not await self._executions.store.advance(changed, events, self._owner, lease_until):
                return  # stopped, or taken by another gateway: theirs now
            if idle and changed.status is ExecutionStatus.RUNNING:
                self.due_at(changed.wake_at)  # a Wait's end, a task's timeout or heartbeat
            if logging_config is not None and events and self._logs is not None:
                # ExecutionStarted was written by StartExecution: logged with the first step.
                first = [started_event(current)] if current.events == 1 else []
                await self._logs.write(changed, logging_config, first + events)
            entered = _entered(events)
            if self._meter is not None and entered:
                self._meter.transitions(changed, entered)
            if changed.status is not ExecutionStatus.RUNNING:
                if self._meter is not None:
                    self._meter.ended(changed)
                await self._executions.ended(changed)
            else:  # a .sync task given up (timed out, its Parallel failed): its job too
                gone = given_up_jobs(current.cursor, changed.cursor)
                await self._executions.stop_jobs(changed, gone)
            current = changed
            if isinstance(step, Step) and step.waiting:
                return

    async def _step(
        self, machine: Interpreter, current: Execution, cursor: dict[str, Any],
        deadline: int | None, rung: asyncio.Event,
    ) -> Step | _Cut:  # fmt: skip
        """The step from ``current``'s cursor; ``_Cut`` when it outlasted the deadline (its
        work cancelled); ``_StepStopped`` once the execution was stopped meanwhile, or
        before it begins when a stop of this process is being written."""
        flight: list[Event] = []
        if rung.is_set():
            raise _StepStopped(flight)
        token = make_token(current, current.events + 1)
        step = machine.step(Cursor.of_json(cursor), token, _nested_tokens(current), flight)
        if deadline is not None:
            step = asyncio.wait_for(step, max(0.0, (deadline - self._clock()) / 1000))

        async def stopped() -> bool:
            now = await self._executions.store.get(
                current.tenant_id, current.region, current.machine_name, current.name
            )
            return now is None or now.status is not ExecutionStatus.RUNNING

        try:
            return await until_halted(step, stopped, lambda: _StepStopped(flight), rung=rung)
        except TimeoutError:
            if deadline is None:
                raise
            return _Cut(flight)  # past its TimeoutSeconds within the step: TIMED_OUT now

    async def _logging(self, execution: Execution) -> dict[str, Any] | None:
        """The machine's logging configuration when it logs (its level not OFF)."""
        if self._logs is None:
            return None
        machine = await self._executions.machines.store.get(
            execution.tenant_id, execution.region, execution.machine_name
        )
        if machine is None or machine.logging.get("level", "OFF") == "OFF":
            return None
        return machine.logging

    def _after(
        self, current: Execution, definition: dict[str, Any], step: Step | _Cut,
        deadline: int | None,
    ) -> tuple[Execution, list[HistoryEvent]]:  # fmt: skip
        now = self._clock()
        if isinstance(step, _Cut):  # the step's events, else what its cursor had in flight
            found = step.flight or aborted_at_rest(definition, current.cursor)
        else:
            found = step.events
        events = [
            HistoryEvent(current.events + i + 1, current.events + i, now, e.type, e.details_name,
                         e.details)
            for i, e in enumerate(found)
        ]  # fmt: skip

        def ending(kind: str, name: str | None, details: dict[str, Any]) -> HistoryEvent:
            number = current.events + len(events) + 1
            return HistoryEvent(number, number - 1, now, kind, name, details)

        limit = self._executions.limits.max_history_events
        if isinstance(step, _Cut):
            cause = "The execution ran past its state machine's TimeoutSeconds."
            events = events[: max(0, limit - current.events - 1)]  # its end within the limit
            events.append(ending("ExecutionTimedOut", "executionTimedOutEventDetails",
                                 {"error": "States.Timeout", "cause": cause}))  # fmt: skip
            fields: dict[str, Any] = {"status": ExecutionStatus.TIMED_OUT, "error":
                                      "States.Timeout", "cause": cause,
                                      "resume": current.cursor}  # fmt: skip
        elif current.events + len(events) + 1 > limit:
            cause = f"The execution's history reached its limit of {limit} events."
            events = events[: max(0, limit - current.events - 1)]
            events.append(ending("ExecutionFailed", "executionFailedEventDetails",
                                 {"error": "States.Runtime", "cause": cause}))  # fmt: skip
            fields = {"status": ExecutionStatus.FAILED, "error": "States.Runtime", "cause": cause,
                      "resume": current.cursor}  # fmt: skip
        elif step.error is not None:
            failure = {"error": step.error.error, "cause": step.error.cause}
            events.append(ending("ExecutionFailed", "executionFailedEventDetails", failure))
            # A redrive resumes at the state that failed, its Parallel's or Map's branches or
            # iterations that succeeded kept (decision 0283).
            resume = {**(current.cursor or {}), "done": step.error.done}
            fields = {"status": ExecutionStatus.FAILED, "resume": resume, **failure}
        elif step.cursor is None:
            output = _dumps(step.output)
            succeeded = {"output": output, "outputDetails": {"truncated": False}}
            events.append(ending("ExecutionSucceeded", "executionSucceededEventDetails", succeeded))
            fields = {"status": ExecutionStatus.SUCCEEDED, "output": output}
        else:
            wake = step.cursor.wait_until if step.waiting else now
            if wake is not None and deadline is not None:
                wake = min(wake, deadline)
            task = step.cursor.task or {}
            parked = task.get("activity") if "output" not in task and "error" not in task else None
            before = (current.cursor or {}).get("task") or {}
            same_task = parked is not None and before.get("token") == task.get("token")
            waiting = None if parked is None else str(parked).rsplit(":", 1)[-1]
            cursor = step.cursor.as_json()
            if parked is None:  # an activity's task within a branch or an iteration (0283)
                pending = [t for t in waiting_activities(cursor) if not t.get("taken")]
                waiting = activity_name(pending[0]) if pending else None
            return current.changed(
                cursor=cursor,
                wake_at=wake or now,
                waiting_activity=waiting,
                activity_taken=same_task and current.activity_taken,
                transitions=current.transitions + _entered(events),
                events=current.events + len(events),
            ), events
        return current.changed(
            cursor=None,
            stopped=now,
            waiting_activity=None,
            transitions=current.transitions + _entered(events),
            events=current.events + len(events),
            **fields,
        ), events


def _nested_tokens(execution: Execution) -> Callable[[], str]:
    """The tokens of the tasks a step's Parallel branches or Map iterations schedule: each its
    own, apart from the top level's (decision 0283)."""
    made = 0
    base = (execution.events + 1) * 100_000

    def token() -> str:
        nonlocal made
        made += 1
        return make_token(execution, base + made)

    return token


def _entered(events: list[HistoryEvent]) -> int:
    return sum(1 for e in events if e.type.endswith("StateEntered"))
