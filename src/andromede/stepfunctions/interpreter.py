"""The Amazon States Language run (decision 0271): one state of an execution at a time
(:meth:`Interpreter.step`), so that its runner keeps the execution's position in the database
after every transition and a Wait survives a restart; the branches of a Parallel and the
iterations of a Map run within their state (a restart runs that state again).

Each state's input and output go through ``InputPath``, ``Parameters`` (``.$`` keys a path,
a ``$$`` context path or an intrinsic function), ``ResultSelector``, ``ResultPath`` and
``OutputPath`` as AWS's; errors are :class:`StatesError` of AWS's names (``States.Runtime``,
``States.Timeout``, ``States.TaskFailed``, ``States.NoChoiceMatched``,
``States.IntrinsicFailure``, ``States.BranchFailed``…), retried and caught by ``Retry`` and
``Catch`` (``ErrorEquals``, ``IntervalSeconds``, ``MaxAttempts``, ``BackoffRate``,
``MaxDelaySeconds``, ``JitterStrategy``). Each state leaves AWS's history events
(``PassStateEntered``, ``MapIterationStarted``…) in the step's ``events``; a step cancelled
(its execution stopped or timed out) leaves there the events it had, then the ``…Aborted``
events of the states it had in flight, innermost first (decision 0407); so does a branch or
an iteration cut by a sibling's failure (``side_by_side``, decision 0416)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final, Protocol

from andromede.stepfunctions import map_entries, state_data, variables
from andromede.stepfunctions.choice import ChoiceFailure, matches, parse_timestamp
from andromede.stepfunctions.cursor import Cursor, Step
from andromede.stepfunctions.halting import ChildStopped, HistoryFull, until_halted
from andromede.stepfunctions.history_events import (
    Event,
    aborted_event,
    entered_event,
    exited_event,
    iteration_event,
)
from andromede.stepfunctions.intrinsics import IntrinsicFailure, evaluate_intrinsic, is_intrinsic
from andromede.stepfunctions.map_checks import is_distributed
from andromede.stepfunctions.retry_rules import delay_of, is_parked, matching_rule
from andromede.stepfunctions.side_by_side import side_by_side
from andromede.stepfunctions.states_error import StatesError
from andromede.stepfunctions.variables import VariableLimits

__all__ = [
    "FOREVER",
    "ChildStopped",
    "Cursor",
    "Event",
    "Halted",
    "HistoryFull",
    "Interpreter",
    "StatesError",
    "Step",
    "TaskRunner",
    "entered_event",
    "exited_event",
]

FOREVER: Final = 2**62  # ms: a task waiting for its token with no deadline

_NO_TASKS: Final = "Task resources are not served by this platform yet"
_LEGACY_FUNCTION: Final = re.compile(r"arn:aws[a-zA-Z-]*:lambda:")


Halted = Callable[[], Awaitable[bool]]


class TaskRunner(Protocol):
    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        """The task's result; StatesError when it fails."""
        ...


def _now_ms() -> int:
    return int(time.time() * 1000)


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + f".{ms % 1000:03d}Z"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Interpreter:
    def __init__(
        self,
        definition: dict[str, Any],
        context: dict[str, Any],
        tasks: TaskRunner | None = None,
        clock: Callable[[], int] = _now_ms,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        limits: VariableLimits | None = None,
        halted: Halted | None = None,
        redriven: int | None = None,
        history_room: int | None = None,
        rung: asyncio.Event | None = None,
    ) -> None:
        self._definition = state_data.with_query_language(definition)
        # When its execution was last redriven (ms): a distributed Map its stop interrupted
        # redrives its run then (decision 0377).
        self.redriven = redriven
        self._context = context
        self._tasks = tasks
        self._clock = clock
        self._sleep = sleep
        self._limits = limits
        self._halted = halted
        self._rung = rung  # a Map run's child's stop, told at once in this process (0407)
        # A kept STANDARD child's: the events its states may leave (decision 0393), counted
        # over its history and the branches' and iterations' held apart until their state
        # ends (decision 0407): the lists that hold them while they run.
        self._history_room = history_room
        self._held: list[list[Event]] = []

    def nested(self, definition: dict[str, Any]) -> Interpreter:
        """The interpreter of a branch's or an iteration's states (decision 0283)."""
        return Interpreter(definition, self._context, self._tasks, self._clock, self._sleep,
                           self._limits, self._halted, self.redriven,
                           rung=self._rung)  # fmt: skip

    def child(
        self, definition: dict[str, Any], context: dict[str, Any], halted: Halted | None = None,
        history_room: int | None = None, rung: asyncio.Event | None = None,
    ) -> Interpreter:  # fmt: skip
        """The interpreter of a Map run's child execution (decision 0322): its own context;
        ``halted`` asked before each of its states whether it was stopped (decision 0374),
        ``rung`` set by its StopExecution in this process (0407); ``HistoryFull`` once its
        states left more than ``history_room`` events (0393)."""
        return Interpreter(definition, context, self._tasks, self._clock, self._sleep,
                           self._limits, halted, history_room=history_room,
                           rung=rung)  # fmt: skip

    def tasks(self) -> TaskRunner | None:
        return self._tasks

    async def run_states(self, data: Any, events: list[Event]) -> Any:
        """This definition's states run within the step from its start: their output (a
        distributed Map's child execution: it sees none of the parent's variables)."""
        with variables.scoped(limits=self._limits, inherit=False), self._holding([events]):
            return await self._branch(self._definition, data, events)

    # What ``branch_steps`` steps a Parallel's or a Map's runs with.
    def clock(self) -> int:
        return self._clock()

    def state_context(self, name: str) -> dict[str, Any]:
        return self._state_context(name)

    def input_of(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        return self._input(state, data, context)

    def template(self, template: Any, data: Any, context: dict[str, Any]) -> Any:
        return self._template(template, data, context)

    def read(self, path: str, data: Any, context: dict[str, Any]) -> Any:
        return self._read(path, data, context)

    def start(self, data: Any) -> Cursor:
        return Cursor(str(self._definition["StartAt"]), data)

    def state_named(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self._definition["States"][name]
        return found

    async def step(
        self, cursor: Cursor, token: str = "", tokens: Callable[[], str] | None = None,
        events: list[Event] | None = None,
    ) -> Step:  # fmt: skip
        """Run the state ``cursor`` names (a Wait that has not ended: only its start; a task
        answered by its token — ``token``, the one a task scheduled now gets: only its
        scheduling, then its answer). ``tokens`` makes the tokens of the tasks a Parallel's
        branches or a Map's iterations schedule: given, those are stepped durably. The
        cursor's variables are the scope's (over the outer one's, a durable branch's), and
        the cursor stepped to carries them as the state left them. ``events``: the caller's,
        where the step's events go as they happen (what a cancelled step left, 0407)."""
        with variables.scoped(cursor.variables, self._limits) as scope:
            step = await self._step(cursor, token, tokens, [] if events is None else events)
        if step.cursor is None:
            return step
        kept = scope.own or None
        return Step(replace(step.cursor, variables=kept), step.events, step.output, step.error,
                    step.waiting)  # fmt: skip

    async def _step(
        self, cursor: Cursor, token: str, tokens: Callable[[], str] | None, events: list[Event]
    ) -> Step:
        states = self._definition["States"]
        name = cursor.state
        state = states[name]
        context = self._state_context(name)
        try:
            if state["Type"] == "Task" and is_parked(str(state["Resource"])):
                return await self._parked(name, state, cursor, token, events)
            if tokens is not None and state["Type"] in ("Parallel", "Map"):
                from andromede.stepfunctions import branch_steps  # it steps with this module

                if branch_steps.parks_within(state) and not is_distributed(state):
                    return await branch_steps.step_branches(self, name, state, cursor, tokens,
                                                            events)  # fmt: skip
            if state["Type"] == "Wait":
                if cursor.wait_until is None:
                    events.append(entered_event(state, name, cursor.data))
                    until = self._wait_until(state, cursor.data, context)
                    cursor = Cursor(name, cursor.data, until)
                    if until > self._clock():
                        return Step(cursor, events, waiting=True)
                elif cursor.wait_until > self._clock():
                    return Step(cursor, events, waiting=True)
                data = self._input(state, cursor.data, context)
                output = state_data.finish(state, cursor.data, data, context)
                events.append(exited_event(state, name, output))
                return self._after(state, output, events)
            following, output = await self._run(name, state, cursor.data, events, cursor.done)
        except StatesError as err:
            _report(name, err, events)
            return Step(None, events, error=err)
        except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
            # A value of the wrong kind where the definition reads one (a TimeoutSecondsPath
            # selecting text…): the execution fails as AWS's does, it does not stay running.
            cause = f"{type(exc).__name__} in state {name}: {str(exc)[:256]}"
            return Step(None, events, error=StatesError("States.Runtime", cause))
        if following is None:
            return Step(None, events, output=output)
        return Step(Cursor(following, output), events)

    def _after(self, state: dict[str, Any], output: Any, events: list[Event]) -> Step:
        if state.get("End"):
            return Step(None, events, output=output)
        return Step(Cursor(str(state["Next"]), output), events)

    def _state_context(self, name: str, **extra: Any) -> dict[str, Any]:
        return {
            **self._context,
            "State": {"Name": name, "EnteredTime": _iso(self._clock()), "RetryCount": 0},
            **extra,
        }

    async def _parked(
        self, name: str, state: dict[str, Any], cursor: Cursor, token: str, events: list[Event]
    ) -> Step:
        """A Task answered by its token, at the execution's top level: scheduled (the
        integration called with ``$$.Task.Token``, or the activity's task queued by the
        runner), then parked until its answer, its deadline or its heartbeat's."""
        now = self._clock()
        raw = cursor.data
        task = cursor.task
        resource = str(state["Resource"])
        activity = ":activity:" in resource
        kind = "activity" if activity else resource.removeprefix("arn:aws:states:::").split(":")[0]
        named = {"resourceType": kind, "resource": resource.rsplit(":", 1)[-1]}
        if task is None:
            if cursor.wait_until is not None and cursor.wait_until > now:
                return Step(cursor, events, waiting=True)  # a retry's interval
            context = self._state_context(name, Task={"Token": token})
            if not cursor.retries:
                events.append(entered_event(state, name, raw))
            data = state_data.arguments(state, raw, self._input(state, raw, context), context)
            timeout = state_data.number_field(state, "TimeoutSeconds", raw, data, context)
            beat = state_data.number_field(state, "HeartbeatSeconds", raw, data, context)
            scheduled = {**named, "region": self._region(), "parameters": _dumps(data)}
            if activity:
                events.append(Event("ActivityScheduled", "activityScheduledEventDetails",
                                    {"resource": resource, "input": _dumps(data)}))  # fmt: skip
            else:
                events.append(Event("TaskScheduled", "taskScheduledEventDetails", scheduled))
                events.append(Event("TaskStarted", "taskStartedEventDetails", dict(named)))
            task = {
                "token": token, "activity": resource if activity else None, "input": data,
                "deadline": None if timeout is None else now + int(timeout) * 1000,
                "heartbeat": None if beat is None else int(beat) * 1000,
                "beat_at": None if beat is None else now + int(beat) * 1000,
            }  # fmt: skip
            if not activity:
                if self._tasks is None:
                    return self._task_failed(name, state, cursor, events, named,
                                             StatesError("States.Runtime", _NO_TASKS))  # fmt: skip
                try:
                    begun = await self._tasks.run(resource.removesuffix(".waitForTaskToken"),
                                                  data, context)  # fmt: skip
                except StatesError as err:
                    return self._task_failed(name, state, cursor, events, named, err)
                except asyncio.CancelledError:  # stopped or timed out while it schedules
                    events.append(Event("TaskStateAborted"))
                    raise
                if resource.endswith((".sync", ".sync:2")) and isinstance(begun, dict):
                    # The job it waits for: stopped if the task is (decision 0383).
                    task["job"] = begun.get("ExecutionArn")
            return Step(Cursor(name, raw, _due(task), task, cursor.retries), events, waiting=True)
        if "error" in task:
            answered = StatesError(str(task["error"]), str(task.get("cause") or ""))
            return self._task_failed(name, state, cursor, events, named, answered)
        if "output" in task:
            context = self._state_context(name)
            result = task["output"]
            details = {"output": _dumps(result)}
            if activity:
                events.append(Event("ActivitySucceeded", "activitySucceededEventDetails", details))
            else:
                events.append(Event("TaskSucceeded", "taskSucceededEventDetails",
                                    {**named, **details}))  # fmt: skip
            output = state_data.finish(state, raw, result, context)
            events.append(exited_event(state, name, output))
            return self._after(state, output, events)
        if task.get("deadline") is not None and now >= task["deadline"]:
            late = StatesError("States.Timeout", "The task timed out waiting for its token")
            return self._task_failed(name, state, cursor, events, named, late, timed_out=True)
        if task.get("beat_at") is not None and now >= task["beat_at"]:
            silent = StatesError("States.HeartbeatTimeout", "No heartbeat came in time")
            return self._task_failed(name, state, cursor, events, named, silent, timed_out=True)
        return Step(Cursor(name, raw, _due(task), task, cursor.retries), events, waiting=True)

    def _task_failed(
        self, name: str, state: dict[str, Any], cursor: Cursor, events: list[Event],
        named: dict[str, str], err: StatesError, timed_out: bool = False,
    ) -> Step:  # fmt: skip
        details = {"error": err.error, "cause": err.cause}
        if named["resourceType"] == "activity":
            kind = "ActivityTimedOut" if timed_out else "ActivityFailed"
            events.append(Event(kind, f"activity{kind[8:]}EventDetails", details))
        else:
            kind = "TaskTimedOut" if timed_out else "TaskFailed"
            events.append(Event(kind, f"task{kind[4:]}EventDetails", {**named, **details}))
        retries = dict(cursor.retries or {})
        index, retrier = matching_rule(state.get("Retry", []), err.error)
        if retrier is not None and retries.get(str(index), 0) < retrier.get("MaxAttempts", 3):
            made = retries.get(str(index), 0)
            retries[str(index)] = made + 1
            until = self._clock() + int(delay_of(retrier, made) * 1000)
            return Step(Cursor(name, cursor.data, until, None, retries), events, waiting=True)
        _, catcher = matching_rule(state.get("Catch", []), err.error)
        if catcher is None:
            return Step(None, events, error=err)
        caught = {"Error": err.error, "Cause": err.cause}
        context = self._state_context(name)
        output = state_data.caught(catcher, state, cursor.data, caught, context)
        events.append(exited_event(state, name, output))
        return Step(Cursor(str(catcher["Next"]), output), events)

    # Paths and templates -------------------------------------------------------------------

    def _read(self, path: str, data: Any, context: dict[str, Any]) -> Any:
        return state_data.read(path, data, context)

    def _template(self, template: Any, data: Any, context: dict[str, Any]) -> Any:
        return state_data.template(template, data, context)

    def _input(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        return state_data.input_of(state, data, context)

    def _output(self, state: dict[str, Any], data: Any, context: dict[str, Any]) -> Any:
        return state_data.output_of(state, data, context)

    # States --------------------------------------------------------------------------------

    async def _run(
        self, name: str, state: dict[str, Any], raw: Any, events: list[Event],
        done: dict[str, Any] | None = None,
    ) -> tuple[str | None, Any]:  # fmt: skip
        """The next state's name (None at an end) and this state's output."""
        try:
            return await self._run_state(name, state, raw, events, done)
        except StatesError as err:
            _report(name, err, events)
            raise

    async def _run_state(
        self, name: str, state: dict[str, Any], raw: Any, events: list[Event],
        done: dict[str, Any] | None,
    ) -> tuple[str | None, Any]:  # fmt: skip
        kind = state["Type"]
        context = self._state_context(name)
        events.append(entered_event(state, name, raw))
        if kind == "Fail":
            data = self._input(state, raw, context)
            error = self._fail_field(state, "Error", data, context)
            cause = self._fail_field(state, "Cause", data, context)
            raise StatesError(error, cause)
        if kind == "Choice":
            rule, following = self._choose(state, raw, context)
            output = state_data.chosen(rule, state, raw, context)
            events.append(exited_event(state, name, output))
            return following, output
        if kind == "Succeed":
            output = state_data.finish(state, raw, self._input(state, raw, context), context)
            events.append(exited_event(state, name, output))
            return None, output
        try:
            if kind == "Wait":  # within a branch or an iteration: slept in place
                data = self._input(state, raw, context)
                until = self._wait_until(state, raw, context)
                await self._pause(max(0.0, (until - self._clock()) / 1000), name)
                output = state_data.finish(state, raw, data, context)
            else:
                output = await self._guarded(name, state, raw, context, events, done)
        except asyncio.CancelledError:  # its execution stopped or timed out meanwhile
            aborted = aborted_event(state)
            events.extend([] if aborted is None else [aborted])
            raise
        if isinstance(output, _Caught):
            events.append(exited_event(state, name, output.output))
            return output.next, output.output
        events.append(exited_event(state, name, output))
        return (None if state.get("End") else str(state["Next"])), output

    def _fail_field(self, state: dict[str, Any], name: str, data: Any, context: Any) -> str:
        if state_data.is_jsonata(state):
            return state_data.fail_field(state, name, data, context)
        if f"{name}Path" in state:
            path = state[f"{name}Path"]
            try:
                value = (
                    evaluate_intrinsic(path, data, context)
                    if is_intrinsic(path)
                    else (self._read(path, data, context))
                )
            except IntrinsicFailure as exc:
                raise StatesError("States.IntrinsicFailure", str(exc)) from exc
            if not isinstance(value, str):
                raise StatesError("States.Runtime", f"The {name}Path must select a string")
            return value
        return str(state.get(name, ""))

    def _choose(
        self, state: dict[str, Any], raw: Any, context: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        """The rule that matched (None: the Default) and the state it goes on to."""
        jsonata = state_data.is_jsonata(state)
        data = raw if jsonata else self._input(state, raw, context)
        try:
            for rule in state["Choices"]:
                if (
                    state_data.condition(rule, raw, context)
                    if jsonata
                    else matches(rule, data, context)
                ):
                    return rule, str(rule["Next"])
        except ChoiceFailure as exc:
            raise StatesError("States.Runtime", str(exc)) from exc
        if "Default" in state:
            return None, str(state["Default"])
        raise StatesError("States.NoChoiceMatched", "No Choice Rules matched and no Default")

    def _wait_until(self, state: dict[str, Any], raw: Any, context: dict[str, Any]) -> int:
        data = self._input(state, raw, context)
        now = self._clock()
        if "Seconds" in state:
            seconds = state_data.wait_value(state, "Seconds", raw, context)
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError(state_data.QUERY_FAILED, "Seconds must be a natural number")
            return now + seconds * 1000
        if "SecondsPath" in state:
            seconds = self._read(state["SecondsPath"], data, context)
            if not isinstance(seconds, int) or isinstance(seconds, bool) or seconds < 0:
                raise StatesError("States.Runtime", "The SecondsPath must select a natural number")
            return now + seconds * 1000
        stamp = state_data.wait_value(state, "Timestamp", raw, context)
        if "TimestampPath" in state:
            stamp = self._read(state["TimestampPath"], data, context)
        parsed = parse_timestamp(stamp)
        if parsed is None:
            raise StatesError("States.Runtime", "The timestamp is no RFC 3339 timestamp")
        return int(parsed.timestamp() * 1000)

    async def _guarded(
        self, name: str, state: dict[str, Any], raw: Any, context: dict[str, Any],
        events: list[Event], done: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        """A Task, Pass, Parallel or Map state's output, under its Retry and Catch (``done``:
        a redrive's branches or iterations that succeeded, for the first attempt only)."""
        attempts: dict[int, int] = {}
        while True:
            try:
                return await self._body(name, state, raw, context, events, done)
            except StatesError as err:
                _report(name, err, events)
                done = None
                index, retrier = matching_rule(state.get("Retry", []), err.error)
                if retrier is not None and attempts.get(index, 0) < retrier.get("MaxAttempts", 3):
                    made = attempts.get(index, 0)
                    attempts[index] = made + 1
                    await self._pause(delay_of(retrier, made), name)  # stopped: no attempt
                    context = {**context, "State": {**context["State"], "RetryCount": made + 1}}
                    continue
                _, catcher = matching_rule(state.get("Catch", []), err.error)
                if catcher is None:
                    raise
                caught = {"Error": err.error, "Cause": err.cause}
                output = state_data.caught(catcher, state, raw, caught, context)
                return _Caught(str(catcher["Next"]), output)

    async def _body(
        self, name: str, state: dict[str, Any], raw: Any, context: dict[str, Any],
        events: list[Event], done: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        kind = state["Type"]
        data = self._input(state, raw, context)
        if kind == "Map" and is_distributed(state):
            from andromede.stepfunctions import distributed_map  # it runs with this module

            result = await distributed_map.run_map(self, name, state, data, context, events,
                                                    done)  # fmt: skip
        elif kind == "Map":
            result = await self._map(name, state, data, context, events, done or {})
        else:
            data = state_data.arguments(state, raw, data, context)
            if kind == "Pass":
                result = state.get("Result", data)
            elif kind == "Parallel":
                result = await self._parallel(state, data, events, done or {})
            else:
                result = await self._task(state, raw, data, context, events)
        return state_data.finish(state, raw, result, context)

    async def _task(
        self, state: dict[str, Any], raw: Any, data: Any, context: dict[str, Any],
        events: list[Event],
    ) -> Any:  # fmt: skip
        resource = str(state["Resource"])
        if is_parked(resource):
            # Reached only where no task tokens are made: an Express execution's branches
            # (a standard execution's are stepped durably, ``branch_steps``).
            raise StatesError(
                "States.Runtime",
                f"{resource[:256]}: Express workflows do not wait for tokens",
            )
        if self._tasks is None:
            raise StatesError("States.Runtime", f"{_NO_TASKS}: {resource}")
        timeout = state_data.number_field(state, "TimeoutSeconds", raw, data, context)
        if timeout is not None and (
            not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0
        ):
            raise StatesError("States.Runtime", "The task's timeout must be a positive number")
        if _LEGACY_FUNCTION.match(resource):
            return await self._function_task(self._tasks, resource, data, context, events, timeout)
        kind, _, action = resource.removeprefix("arn:aws:states:::").rpartition(":")
        named = {"resourceType": kind or "activity", "resource": action}
        scheduled = {**named, "region": self._region(), "parameters": _dumps(data)}
        events.append(Event("TaskScheduled", "taskScheduledEventDetails", scheduled))
        events.append(Event("TaskStarted", "taskStartedEventDetails", dict(named)))
        call = self._halting(self._tasks.run(resource, data, context), resource)
        try:
            result = await (call if timeout is None else asyncio.wait_for(call, float(timeout)))
        except TimeoutError:
            cause = f"The task timed out after {timeout} s"
            events.append(Event("TaskTimedOut", "taskTimedOutEventDetails",
                                {**named, "error": "States.Timeout", "cause": cause}))  # fmt: skip
            raise StatesError("States.Timeout", cause) from None
        except StatesError as err:
            events.append(Event("TaskFailed", "taskFailedEventDetails",
                                {**named, "error": err.error, "cause": err.cause}))  # fmt: skip
            raise
        events.append(Event("TaskSucceeded", "taskSucceededEventDetails",
                            {**named, "output": _dumps(result)}))  # fmt: skip
        return result

    async def _function_task(
        self,
        tasks: TaskRunner,
        resource: str,
        data: Any,
        context: dict[str, Any],
        events: list[Event],
        timeout: Any,
    ) -> Any:
        """A function's ARN as the resource (decision 0294): AWS's ``LambdaFunction…``
        history events rather than ``Task…`` ones."""
        scheduled: dict[str, Any] = {"resource": resource, "input": _dumps(data)}
        if timeout is not None:
            scheduled["timeoutInSeconds"] = int(timeout)
        events.append(Event("LambdaFunctionScheduled", "lambdaFunctionScheduledEventDetails",
                            scheduled))  # fmt: skip
        events.append(Event("LambdaFunctionStarted"))
        call = self._halting(tasks.run(resource, data, context), resource)
        try:
            result = await (call if timeout is None else asyncio.wait_for(call, float(timeout)))
        except TimeoutError:
            cause = f"The task timed out after {timeout} s"
            events.append(Event("LambdaFunctionTimedOut", "lambdaFunctionTimedOutEventDetails",
                                {"error": "States.Timeout", "cause": cause}))  # fmt: skip
            raise StatesError("States.Timeout", cause) from None
        except StatesError as err:
            events.append(Event("LambdaFunctionFailed", "lambdaFunctionFailedEventDetails",
                                {"error": err.error, "cause": err.cause}))  # fmt: skip
            raise
        events.append(Event("LambdaFunctionSucceeded", "lambdaFunctionSucceededEventDetails",
                            {"output": _dumps(result)}))  # fmt: skip
        return result

    def _region(self) -> str:
        parts = str(self._context.get("Execution", {}).get("Id", "")).split(":")
        return parts[3] if len(parts) > 3 else ""

    async def _branch(self, machine: dict[str, Any], data: Any, events: list[Event]) -> Any:
        """A branch's or an iteration's states, in a scope of their own over this one's."""
        states = machine["States"]
        name: str | None = str(machine["StartAt"])
        with variables.scoped():
            while name is not None:
                # A stopped child runs no further state, its branches' and iterations' neither,
                # as a stopped execution's runner finds its next write refused (decision 0374).
                await self._unless_halted(name)
                name, data = await self._run(name, states[name], data, events)
                if self._history_room is not None and self._history_size() > self._history_room:
                    raise HistoryFull(name)  # a looping child ends as it crosses the limit
        return data

    @contextlib.contextmanager
    def _holding(self, logs: list[list[Event]]) -> Iterator[None]:
        """``logs`` count in the history's size while they are apart from it (0407)."""
        self._held += logs
        try:
            yield
        finally:
            self._held = [h for h in self._held if not any(h is log for log in logs)]

    def _history_size(self) -> int:
        return sum(len(log) for log in self._held)

    def _halting(self, call: Awaitable[Any], name: str) -> Awaitable[Any]:
        """A Map run's child's task call, raced against its stop (decision 0383), told at once
        by its StopExecution in this process (0407)."""
        halted = self._halted
        if halted is None:
            return call
        return until_halted(call, halted, lambda: ChildStopped(name), rung=self._rung)

    async def _pause(self, seconds: float, name: str) -> None:
        """A Wait or a retry's interval slept in place: a Map run's child's ends at its stop
        (``ChildStopped``), not at its end (decision 0393)."""
        await self._halting(self._sleep(seconds), name)
        await self._unless_halted(name)

    async def _unless_halted(self, name: str) -> None:
        """``ChildStopped`` once a Map run's child was stopped (decision 0374)."""
        if self._rung is not None and self._rung.is_set():
            raise ChildStopped(name)
        if self._halted is not None and await self._halted():
            raise ChildStopped(name)

    async def _parallel(
        self, state: dict[str, Any], data: Any, events: list[Event], done: dict[str, Any]
    ) -> Any:
        """The branches' outputs; those of ``done`` (a redrive's) not run again. A branch's
        failure cuts the others (decision 0416: their ``…Aborted`` events before the state's
        ``ParallelStateFailed``); those that succeeded before are kept for a redrive."""
        events.append(Event("ParallelStateStarted"))
        logs: list[list[Event]] = [[] for _ in state["Branches"]]
        outputs = dict(done)

        async def branch(index: int, machine: dict[str, Any]) -> Any:
            if str(index) in outputs:
                return outputs[str(index)]
            outputs[str(index)] = await self._branch(machine, data, logs[index])
            return outputs[str(index)]

        try:
            runs = [branch(i, b) for i, b in enumerate(state["Branches"])]
            with self._holding(logs):
                results = await side_by_side(runs)
        except (asyncio.CancelledError, HistoryFull):  # each branch left its events (0407)
            events += [e for log in logs for e in log]
            raise
        except StatesError as err:
            err.done = outputs
            events += [e for log in logs for e in log]
            events.append(Event("ParallelStateFailed"))
            raise
        events += [e for log in logs for e in log]
        events.append(Event("ParallelStateSucceeded"))
        return list(results)

    async def _map(
        self, name: str, state: dict[str, Any], data: Any, context: dict[str, Any],
        events: list[Event], done: dict[str, Any],
    ) -> list[Any]:  # fmt: skip
        """The iterations' outputs; those of ``done`` (a redrive's) not run again."""
        items, keys = map_entries.selected_items(state, data, data, context)
        processor = state.get("ItemProcessor") or state["Iterator"]
        selector = state.get("ItemSelector", state.get("Parameters"))
        most = state_data.number_field(state, "MaxConcurrency", data, data, context)
        most = most or len(items) or 1
        gate = asyncio.Semaphore(most)
        events.append(Event("MapStateStarted", "mapStateStartedEventDetails",
                            {"length": len(items)}))  # fmt: skip
        logs: list[list[Event]] = [[] for _ in items]
        outputs = dict(done)
        failures: list[StatesError] = []

        async def iterate(index: int, item: Any) -> Any:
            if str(index) in outputs:
                return outputs[str(index)]
            async with gate:
                if failures:
                    return None  # an iteration failed: no other begins

                log = logs[index]
                log.append(iteration_event("Started", name, index))
                value = item
                if selector is not None:
                    item_context = map_entries.item_context(context, index, item, keys)
                    value = state_data.selected_item(state, selector, data, data, item_context)
                try:
                    out = await self._branch(processor, value, log)
                except StatesError as err:
                    failures.append(err)
                    log.append(iteration_event("Failed", name, index))
                    raise
                except asyncio.CancelledError:  # stopped, or cut by a failed sibling (0416)
                    log.append(iteration_event("Aborted", name, index))
                    raise
                log.append(iteration_event("Succeeded", name, index))
                outputs[str(index)] = out
                return out

        try:
            with self._holding(logs):
                runs = [iterate(i, item) for i, item in enumerate(items)]
                results = await side_by_side(runs)  # a failed iteration cuts the others
        except (asyncio.CancelledError, HistoryFull):
            events += [e for log in logs for e in log]
            raise
        except StatesError as err:
            err.done = outputs
            events += [e for log in logs for e in log]
            events.append(Event("MapStateFailed"))
            raise
        events += [e for log in logs for e in log]
        events.append(Event("MapStateSucceeded"))
        return list(results)


@dataclass(frozen=True, slots=True)
class _Caught:
    next: str
    output: Any


def _due(task: dict[str, Any]) -> int:
    """When a parked task must be looked at again: its deadline or its heartbeat's."""
    times = [t for t in (task.get("deadline"), task.get("beat_at")) if t is not None]
    return min(times) if times else FOREVER


def _report(name: str, err: StatesError, events: list[Event]) -> None:
    """A JSONata expression's failure as AWS tells it: an ``EvaluationFailed`` event, once."""
    if err.location is None or err.reported:
        return
    err.reported = True
    details = {"state": name, "error": err.error, "cause": err.cause, "location": err.location}
    events.append(Event("EvaluationFailed", "evaluationFailedEventDetails", details))
