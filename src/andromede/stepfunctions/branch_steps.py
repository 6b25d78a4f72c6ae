"""A Parallel's branches and a Map's iterations that wait for a task's token (decision 0283):
stepped durably, as the execution's top level is, instead of within one step.

A Parallel or a Map holding a ``.waitForTaskToken`` or ``.sync`` Task (at any depth) keeps
its branches' or iterations' own cursors in its cursor's ``task`` (``runs``): each step drives
every run that can go on — a nested interpreter stepping the branch's states until it ends,
fails or waits (its parked task, a Wait) — and writes where each stands, so a gateway's
restart resumes them and SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat answer a
task wherever it is parked (:func:`find_task`, :func:`with_task`). The state is due again at
the earliest of its runs' deadlines. Once a run fails, no other run begins (a Map's), those
within their step are cut and those at rest given up (decision 0416: each leaves its
``…Aborted`` events, :func:`aborted_at_rest` for one at rest, before the state's failure;
a given-up parked task's token answers ``TaskTimedOut``), and the state fails: its Retry (a
durable wait, the runs begun again) and Catch apply, and the runs that succeeded are kept
for a redrive.
``MaxConcurrency`` bounds the iterations begun and not ended, parked ones included.

Stopped or timed out (decision 0407), a Parallel or Map in flight leaves, after the events
its runs had, the ``…Aborted`` events of each run's state in flight (a run cut within its
step left its own; a parked one's come from its cursor, :func:`aborted_at_rest`), each
unfinished iteration's ``MapIterationAborted``, then its ``ParallelStateAborted`` or
``MapStateAborted`` — as a cursor at rest does when nobody steps it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from andromede.stepfunctions import map_entries, state_data
from andromede.stepfunctions.history_events import (
    Event,
    aborted_event,
    entered_event,
    exited_event,
    iteration_event,
)
from andromede.stepfunctions.interpreter import FOREVER, Cursor, StatesError, Step
from andromede.stepfunctions.retry_rules import delay_of, is_parked, matching_rule
from andromede.stepfunctions.side_by_side import side_by_side

if TYPE_CHECKING:
    from andromede.stepfunctions.interpreter import Interpreter

__all__ = [
    "aborted_at_rest",
    "activity_name",
    "find_task",
    "given_up_jobs",
    "parks_within",
    "running_jobs",
    "step_branches",
    "waiting_activities",
    "with_task",
]

Tokens = Callable[[], str]


def parks_within(state: dict[str, Any]) -> bool:
    """Whether a Parallel's branches or a Map's iterations hold a Task answered by a token
    (an integration's ``.waitForTaskToken`` or ``.sync``), at any depth."""
    machines = state.get("Branches") or []
    if state.get("Type") == "Map":
        machines = [state.get("ItemProcessor") or state.get("Iterator") or {}]
    for machine in machines:
        for inner in (machine.get("States") or {}).values():
            kind = inner.get("Type")
            if kind == "Task" and is_parked(str(inner.get("Resource", ""))):
                return True
            if kind in ("Parallel", "Map") and parks_within(inner):
                return True
    return False


def find_task(cursor: dict[str, Any] | None, token: str) -> dict[str, Any] | None:
    """The parked task ``token`` names within ``cursor`` (its own, or a run's, at any depth)."""
    task = (cursor or {}).get("task")
    if not isinstance(task, dict):
        return None
    if task.get("token") == token:
        return task
    for run in task.get("runs") or []:
        found = find_task(run.get("cursor"), token)
        if found is not None:
            return found
    return None


def with_task(
    cursor: dict[str, Any], token: str, changed: dict[str, Any], due: int | None
) -> dict[str, Any]:
    """``cursor`` with the task ``token`` names replaced by ``changed``, the cursors that hold
    it due at ``due`` (None: as they were)."""
    task = cursor.get("task")
    if not isinstance(task, dict):
        return cursor
    timing = {} if due is None else {"wait_until": due}
    if task.get("token") == token:
        return {**cursor, "task": changed, **timing}
    runs = [
        {**run, "cursor": with_task(run["cursor"], token, changed, due)}
        if isinstance(run.get("cursor"), dict)
        else run
        for run in task.get("runs") or []
    ]
    return {**cursor, "task": {**task, "runs": runs}, **timing}


def waiting_activities(cursor: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The activities' tasks parked within the runs of ``cursor``'s Parallel or Map (at any
    depth), not answered yet, in order; ``taken`` once a worker got one."""
    task = (cursor or {}).get("task")
    found: list[dict[str, Any]] = []
    if not isinstance(task, dict):
        return found
    for run in task.get("runs") or []:
        inner = run.get("cursor")
        if not isinstance(inner, dict):
            continue
        parked = inner.get("task")
        if (
            isinstance(parked, dict)
            and parked.get("activity")
            and not ("output" in parked or "error" in parked)
        ):
            found.append(parked)
        found += waiting_activities(inner)
    return found


def running_jobs(cursor: dict[str, Any] | None) -> list[str]:
    """The nested executions ``.sync`` tasks parked in ``cursor`` (its own, or its runs' at
    any depth) still wait for, unanswered: what a stopped execution stops (decision 0383)."""
    task = (cursor or {}).get("task")
    if not isinstance(task, dict):
        return []
    found: list[str] = []
    if isinstance(task.get("job"), str) and not ("output" in task or "error" in task):
        found.append(task["job"])
    for run in task.get("runs") or []:
        found += running_jobs(run.get("cursor") if isinstance(run, dict) else None)
    return found


def given_up_jobs(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The jobs ``.sync`` tasks waited for before a step and no task waits for after it,
    unanswered: given up (a task's timeout, a failed branch's siblings) — stopped with it."""
    waiting = set(running_jobs(after))
    return sorted({job for job in running_jobs(before) if job not in waiting})


def activity_name(task: dict[str, Any]) -> str:
    return str(task.get("activity")).rsplit(":", 1)[-1]


def aborted_at_rest(definition: dict[str, Any], cursor: dict[str, Any] | None) -> list[Event]:
    """The ``…Aborted`` events a stop or a timeout leaves of an execution at rest at
    ``cursor`` (decision 0407): its state was entered when the cursor waits (a Wait's end, a
    retry's interval) or holds a task (parked, or a Parallel's or Map's runs); a durable
    Parallel's or Map's runs at rest each leave their own first, an iteration its
    ``MapIterationAborted``. A cursor at a state not entered yet leaves none."""
    if not isinstance(cursor, dict):
        return []
    state = (definition.get("States") or {}).get(cursor.get("state"))
    if not isinstance(state, dict) or (cursor.get("wait_until") is None
                                       and cursor.get("task") is None):  # fmt: skip
        return []
    events: list[Event] = []
    task = cursor.get("task")
    runs = task.get("runs") if isinstance(task, dict) else None
    if state.get("Type") in ("Parallel", "Map") and isinstance(runs, list):
        for index, (run, machine) in enumerate(zip(runs, _definitions(state, len(runs)),
                                                   strict=True)):  # fmt: skip
            if run.get("begun") and isinstance(run.get("cursor"), dict):
                events += aborted_at_rest(machine, run["cursor"])
                if state["Type"] == "Map":
                    events.append(iteration_event("Aborted", str(cursor["state"]), index))
    aborted = aborted_event(state)
    return events + ([] if aborted is None else [aborted])


async def step_branches(
    machine: Interpreter, name: str, state: dict[str, Any], cursor: Cursor, tokens: Tokens,
    events: list[Event],
) -> Step:  # fmt: skip
    now = machine.clock()
    parallel = state["Type"] == "Parallel"
    context = machine.state_context(name)
    task = cursor.task
    if task is None:
        if cursor.wait_until is not None and cursor.wait_until > now:
            return Step(cursor, events, waiting=True)  # a retry's interval
        if not cursor.retries:
            events.append(entered_event(state, name, cursor.data))
        task = _begin(machine, name, state, cursor, context, events)
    runs: list[dict[str, Any]] = [dict(r) for r in task["runs"]]
    definitions = _definitions(state, len(runs))
    logs: list[list[Event]] = [[] for _ in runs]
    cut: set[int] = set()  # the runs cancelled within a step of theirs: they left their events
    try:
        await _drive_runs(machine, name, state, runs, logs, tokens, cut)
    except asyncio.CancelledError:  # its execution stopped or timed out meanwhile (0407)
        for index, run in enumerate(runs):
            if run.get("begun") and "cursor" in run:
                if index not in cut:
                    logs[index] += aborted_at_rest(definitions[index], run["cursor"])
                if not parallel:
                    logs[index].append(iteration_event("Aborted", name, index))
        events += [e for log in logs for e in log]
        events.append(Event("ParallelStateAborted" if parallel else "MapStateAborted"))
        raise
    kind = "Parallel" if parallel else "Map"
    failure = next((r["error"] for r in runs if "error" in r), None)
    if failure is not None:  # its runs still going were cut or are at rest: aborted (0416)
        for index, run in enumerate(runs):
            if run.get("begun") and "cursor" in run:
                if index not in cut:
                    logs[index] += aborted_at_rest(definitions[index], run["cursor"])
                if not parallel:
                    logs[index].append(iteration_event("Aborted", name, index))
                del run["cursor"]  # its parked task is gone: its token answers TaskTimedOut
    events += [e for log in logs for e in log]
    if failure is not None:
        events.append(Event(f"{kind}StateFailed"))
        err = StatesError(str(failure["error"]), str(failure.get("cause") or ""))
        err.done = {str(i): r["output"] for i, r in enumerate(runs) if "output" in r}
        return _failed(machine, name, state, cursor, events, err)
    if all("output" in r for r in runs):
        events.append(Event(f"{kind}StateSucceeded"))
        try:
            results = [r["output"] for r in runs]
            output = state_data.finish(state, cursor.data, results, context)
        except StatesError as err:
            return _failed(machine, name, state, cursor, events, err)
        events.append(exited_event(state, name, output))
        if state.get("End"):
            return Step(None, events, output=output)
        return Step(Cursor(str(state["Next"]), output), events)
    due = min((r["cursor"].get("wait_until") or FOREVER for r in runs if "cursor" in r and
               r.get("begun")), default=FOREVER)  # fmt: skip
    return Step(Cursor(name, cursor.data, due, {**task, "runs": runs}, cursor.retries), events,
                waiting=True)  # fmt: skip


async def _drive_runs(
    machine: Interpreter, name: str, state: dict[str, Any], runs: list[dict[str, Any]],
    logs: list[list[Event]], tokens: Tokens, cut: set[int],
) -> None:  # fmt: skip
    """Drive every run that can go on until each ended or waits, begun within the bound,
    or until one failed: those still within their step then are cut (in ``cut``)."""
    parallel = state["Type"] == "Parallel"
    limit = len(runs) if parallel else (state.get("MaxConcurrency", 0) or len(runs))
    definitions = _definitions(state, len(runs))
    progressed = True
    while progressed:
        failed = any("error" in r for r in runs)
        active = sum(1 for r in runs if r.get("begun") and "cursor" in r)
        for index, run in enumerate(runs):
            if failed or active >= limit:
                break
            if not run.get("begun") and "cursor" in run:
                run["begun"] = True
                active += 1
                if not parallel:
                    logs[index].append(iteration_event("Started", name, index))
        going = [i for i, r in enumerate(runs) if r.get("begun") and "cursor" in r]
        # The first run to fail cuts those still within their step (decision 0416).
        ended = await side_by_side(
            [_drive(machine, definitions[i], runs[i], logs[i], tokens, cut, i) for i in going],
            functools.partial(_failed_run, [runs[i] for i in going]),
        )
        for index, finished in zip(going, ended, strict=True):
            if finished and not parallel:
                kind = "Failed" if "error" in runs[index] else "Succeeded"
                logs[index].append(iteration_event(kind, name, index))
        failed = any("error" in r for r in runs)
        progressed = not failed and any(ended) and any(not r.get("begun") for r in runs)


def _failed_run(runs: list[dict[str, Any]], index: int) -> bool:
    return "error" in runs[index]


def _definitions(state: dict[str, Any], count: int) -> list[dict[str, Any]]:
    if state["Type"] == "Parallel":
        return list(state["Branches"])
    processor = state.get("ItemProcessor") or state["Iterator"]
    return [processor] * count


def _begin(
    machine: Interpreter, name: str, state: dict[str, Any], cursor: Cursor,
    context: dict[str, Any], events: list[Event],
) -> dict[str, Any]:  # fmt: skip
    """The runs of a Parallel's or a Map's first step: their inputs (a redrive's ``done``
    runs ended already)."""
    done = cursor.done or {}
    data = machine.input_of(state, cursor.data, context)
    if state["Type"] == "Parallel":
        data = state_data.arguments(state, cursor.data, data, context)
        events.append(Event("ParallelStateStarted"))
        inputs = [data for _ in state["Branches"]]
        starts = [str(b["StartAt"]) for b in state["Branches"]]
    else:
        items, keys = map_entries.selected_items(state, cursor.data, data, context)
        selector = state.get("ItemSelector", state.get("Parameters"))
        inputs = [
            item if selector is None else state_data.selected_item(
                state, selector, cursor.data, data,
                map_entries.item_context(context, i, item, keys))
            for i, item in enumerate(items)
        ]  # fmt: skip
        processor = state.get("ItemProcessor") or state["Iterator"]
        starts = [str(processor["StartAt"])] * len(items)
        events.append(Event("MapStateStarted", "mapStateStartedEventDetails",
                            {"length": len(items)}))  # fmt: skip
    runs: list[dict[str, Any]] = []
    for index, (start, value) in enumerate(zip(starts, inputs, strict=True)):
        if str(index) in done:
            runs.append({"output": done[str(index)], "begun": True})
        else:
            runs.append({"cursor": Cursor(start, value).as_json(), "begun": False})
    return {"runs": runs}


async def _drive(
    machine: Interpreter, definition: dict[str, Any], run: dict[str, Any], log: list[Event],
    tokens: Tokens, cut: set[int], index: int,
) -> bool:  # fmt: skip
    """Step one run until it ends, fails or waits; whether it ended (``run`` changed in
    place: its cursor, or its output or error). Cancelled within a step, the run's index
    goes into ``cut``, the events that step left (its aborted ones too) into ``log``."""
    nested = machine.nested(definition)
    current = Cursor.of_json(run["cursor"])
    while True:
        events: list[Event] = []
        try:
            step = await nested.step(current, tokens(), tokens, events)
        except asyncio.CancelledError:
            log += events
            cut.add(index)
            raise
        log += events
        if step.error is not None:
            del run["cursor"]
            run["error"] = {"error": step.error.error, "cause": step.error.cause}
            return True
        if step.cursor is None:
            del run["cursor"]
            run["output"] = step.output
            return True
        run["cursor"] = step.cursor.as_json()
        if step.waiting:
            return False
        current = step.cursor


def _failed(
    machine: Interpreter, name: str, state: dict[str, Any], cursor: Cursor, events: list[Event],
    err: StatesError,
) -> Step:  # fmt: skip
    """The state's Retry (a durable wait, its runs begun again), Catch, or the failure."""
    retries = dict(cursor.retries or {})
    index, retrier = matching_rule(state.get("Retry", []), err.error)
    if retrier is not None and retries.get(str(index), 0) < retrier.get("MaxAttempts", 3):
        made = retries.get(str(index), 0)
        retries[str(index)] = made + 1
        until = machine.clock() + int(delay_of(retrier, made) * 1000)
        return Step(Cursor(name, cursor.data, until, None, retries), events, waiting=True)
    _, catcher = matching_rule(state.get("Catch", []), err.error)
    if catcher is None:
        return Step(None, events, error=err)
    caught = {"Error": err.error, "Cause": err.cause}
    context = machine.state_context(name)
    output = state_data.caught(catcher, state, cursor.data, caught, context)
    events.append(exited_event(state, name, output))
    return Step(Cursor(str(catcher["Next"]), output), events)
