"""Decision 0416: a Parallel branch or a Map iteration that fails cuts its siblings still
running, as AWS stops them — within the step that runs them (a Wait, a retry's interval, a
task's call slept or awaited in place). Each cut sibling leaves the events it had, then its
states' ``…Aborted`` events (an iteration its ``MapIterationAborted``), before the state's
``ParallelStateFailed`` / ``MapStateFailed``; no state of it runs after the failure; a Catch
on the Parallel or the Map applies as before. The Waits here last an hour, really slept:
without the cut, the step would not end within the test's bound."""

from __future__ import annotations

import asyncio
from typing import Any

from andromede.stepfunctions.interpreter import Interpreter, StatesError, Step

CONTEXT = {
    "Execution": {"Id": "arn:aws:states:eu-fr-1:000000000001:execution:m:e", "Name": "e"},
    "StateMachine": {"Name": "m"},
}
HOUR = 3600
CALL = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": "q", "MessageBody": "late"}, "End": True}  # fmt: skip
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Broke",
                                               "Cause": "at once"}}}  # fmt: skip


class Tasks:
    """A task runner whose calls are seen; ``blocking``: they never answer until cut."""

    def __init__(self, blocking: bool = False, failing: bool = False) -> None:
        self.blocking = blocking
        self.failing = failing
        self.calls: list[Any] = []
        self.cancelled = 0

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        self.calls.append(parameters)
        if self.failing:
            raise StatesError("Flaky", "try again")
        if self.blocking:
            try:
                await asyncio.sleep(HOUR)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return {}


def waiting_then_calling() -> dict[str, Any]:
    return {"StartAt": "Pause", "States": {
        "Pause": {"Type": "Wait", "Seconds": HOUR, "Next": "Send"}, "Send": CALL}}  # fmt: skip


async def stepped(definition: dict[str, Any], data: Any, tasks: Tasks) -> tuple[Step, list[str]]:
    machine = Interpreter(definition, CONTEXT, tasks)
    step = await asyncio.wait_for(machine.step(machine.start(data)), 10)
    return step, [e.type for e in step.events]


def parallel(*branches: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": list(branches), **fields}}}  # fmt: skip


async def test_a_failed_branch_cuts_its_sibling_s_wait_and_no_later_state_runs() -> None:
    tasks = Tasks()
    step, kinds = await stepped(parallel(waiting_then_calling(), FAIL), {}, tasks)
    assert step.error is not None and (step.error.error, step.error.cause) == ("Broke", "at once")
    assert tasks.calls == []  # the Task after the Wait was never called
    assert kinds == ["ParallelStateEntered", "ParallelStateStarted", "WaitStateEntered",
                     "WaitStateAborted", "FailStateEntered", "ParallelStateFailed"]  # fmt: skip


async def test_a_sibling_s_task_call_is_cut_and_aborted_after_its_scheduling() -> None:
    tasks = Tasks(blocking=True)
    calling = {"StartAt": "Send", "States": {"Send": CALL}}
    step, kinds = await stepped(parallel(calling, FAIL), {}, tasks)
    assert step.error is not None and tasks.cancelled == 1
    assert kinds == ["ParallelStateEntered", "ParallelStateStarted", "TaskStateEntered",
                     "TaskScheduled", "TaskStarted", "TaskStateAborted", "FailStateEntered",
                     "ParallelStateFailed"]  # fmt: skip


async def test_a_sibling_s_retry_interval_is_cut() -> None:
    tasks = Tasks(failing=True)
    retried = {"StartAt": "Send", "States": {"Send": {**CALL, "Retry": [
        {"ErrorEquals": ["Flaky"], "IntervalSeconds": HOUR, "MaxAttempts": 3}]}}}  # fmt: skip
    failing_later = {"StartAt": "Short", "States": {
        "Short": {"Type": "Wait", "Seconds": 0, "Next": "Boom"}, **FAIL["States"]}}  # fmt: skip
    step, kinds = await stepped(parallel(retried, failing_later), {}, tasks)
    assert step.error is not None and len(tasks.calls) == 1  # no second attempt
    assert kinds[kinds.index("TaskStateEntered"):kinds.index("WaitStateEntered")] == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
        "TaskStateAborted"]  # fmt: skip
    assert kinds[-1] == "ParallelStateFailed"


async def test_a_nested_parallel_in_a_cut_branch_is_aborted_innermost_first() -> None:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Parallel", "End": True,
                                                "Branches": [waiting_then_calling()]}}}  # fmt: skip
    tasks = Tasks()
    step, kinds = await stepped(parallel(inner, FAIL), {}, tasks)
    assert step.error is not None and tasks.calls == []
    assert kinds == ["ParallelStateEntered", "ParallelStateStarted", "ParallelStateEntered",
                     "ParallelStateStarted", "WaitStateEntered", "WaitStateAborted",
                     "ParallelStateAborted", "FailStateEntered", "ParallelStateFailed"]  # fmt: skip


async def test_the_parallel_s_catch_applies_after_the_cut() -> None:
    tasks = Tasks()
    definition = parallel(waiting_then_calling(), FAIL, Catch=[
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.why", "Next": "Caught"}])  # fmt: skip
    del definition["States"]["Both"]["End"]
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    step, kinds = await stepped(definition, {}, tasks)
    assert step.error is None and tasks.calls == []
    assert step.cursor is not None and step.cursor.state == "Caught"
    assert step.cursor.data == {"why": {"Error": "Broke", "Cause": "at once"}}
    assert kinds[-3:] == ["FailStateEntered", "ParallelStateFailed", "ParallelStateExited"]


async def test_a_failed_iteration_cuts_the_others_and_none_begins_after() -> None:
    """Iteration 0 waits, 1 fails; 2 waits for ``MaxConcurrency`` and never begins."""
    tasks = Tasks()
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "MaxConcurrency": 2, "ItemProcessor": {
            "StartAt": "Which", "States": {
                "Which": {"Type": "Choice", "Default": "Pause", "Choices": [
                    {"Variable": "$", "NumericEquals": 1, "Next": "Boom"}]},
                **waiting_then_calling()["States"], **FAIL["States"]}}}}}  # fmt: skip
    step, kinds = await stepped(definition, [0, 1, 2], tasks)
    assert step.error is not None and step.error.error == "Broke"
    assert tasks.calls == []
    events = step.events
    assert [(e.type, e.details.get("index")) for e in events if "Iteration" in e.type] == [
        ("MapIterationStarted", 0), ("MapIterationAborted", 0), ("MapIterationStarted", 1),
        ("MapIterationFailed", 1)]  # fmt: skip
    assert kinds.count("WaitStateAborted") == 1 and kinds[-1] == "MapStateFailed"
