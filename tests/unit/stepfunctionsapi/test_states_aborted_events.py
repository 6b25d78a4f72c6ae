"""Decision 0407: a stopped or timed-out execution's history keeps what was in flight, as
AWS's does — the events of the step cut so far, then the ``…Aborted`` events of its states
in flight, innermost first (``WaitStateAborted``, ``TaskStateAborted``, each unfinished
iteration's ``MapIterationAborted``, ``MapRunAborted``, ``ParallelStateAborted``,
``MapStateAborted``), then ``ExecutionAborted`` / ``ExecutionTimedOut``, their ids going on
from the history's. An execution at rest (a durable Wait, a parked task) leaves its state's
from its cursor. The sleeps of the steps cut here are real: an hour, unless cut."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import pytest

from andromede.stepfunctions import halting
from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from support.statesapp import World
from unit.stepfunctionsapi.test_states_stop_during_wait import real_runner, stepping
from unit.stepfunctionsapi.test_states_task_tokens import allow
from unit.stepfunctionsapi.test_states_task_tokens import started as parked_execution

HOUR_WAIT = {"Type": "Wait", "Seconds": 3600, "End": True}


async def machine(world: World, definition: dict[str, Any], name: str = "m") -> str:
    role = await world.role(f"{name}-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name=name, roleArn=role,
                              definition=json.dumps(definition))  # fmt: skip
    return str(made["stateMachineArn"])


async def start(world: World, definition: dict[str, Any], data: Any = None) -> str:
    arn = await machine(world, definition)
    run = await world.client("StartExecution", stateMachineArn=arn,
                             input=json.dumps(data or {}))  # fmt: skip
    return str(run["executionArn"])


async def history(world: World, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = (
        await world.client("GetExecutionHistory", executionArn=arn, maxResults=1000)
    )["events"]
    # The ids go on from the history's, each event after the one before.
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    assert [e.get("previousEventId", 0) for e in events] == list(range(len(events)))
    return events


async def kinds_after(world: World, arn: str, first: str) -> list[str]:
    kinds = [e["type"] for e in await history(world, arn)]
    return kinds[kinds.index(first) :]


async def stopped_in_its_step(
    world: World, arn: str, runner: ExecutionsRunner | None = None
) -> None:
    driving = await stepping(runner or real_runner(world))
    await world.client("StopExecution", executionArn=arn, error="Manual")
    assert await asyncio.wait_for(driving, 10) == 1


async def test_a_durable_wait_stopped_is_aborted(world: World) -> None:
    arn = await start(world, {"StartAt": "Pause", "States": {"Pause": HOUR_WAIT}})
    await world.run()  # in its Wait: at rest, nobody steps it
    await world.client("StopExecution", executionArn=arn, error="Manual", cause="by hand")
    events = await history(world, arn)
    assert [e["type"] for e in events] == ["ExecutionStarted", "WaitStateEntered",
                                           "WaitStateAborted", "ExecutionAborted"]  # fmt: skip
    assert "stateExitedEventDetails" not in events[2]  # AWS's has no details
    assert events[3]["executionAbortedEventDetails"] == {"error": "Manual", "cause": "by hand"}


async def test_a_durable_wait_timed_out_is_aborted(world: World) -> None:
    arn = await start(world, {"TimeoutSeconds": 60, "StartAt": "Pause",
                              "States": {"Pause": HOUR_WAIT}})  # fmt: skip
    await world.run()
    world.clock.offset += 61_000
    await world.run()
    assert await kinds_after(world, arn, "WaitStateEntered") == [
        "WaitStateEntered", "WaitStateAborted", "ExecutionTimedOut"]  # fmt: skip


async def test_a_parked_task_stopped_is_aborted_after_its_scheduling(world: World) -> None:
    arn = await parked_execution(world, {"End": True})
    await world.client("StopExecution", executionArn=arn)
    assert await kinds_after(world, arn, "TaskStateEntered") == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskStateAborted",
        "ExecutionAborted"]  # fmt: skip


async def test_a_state_not_entered_yet_leaves_nothing(world: World) -> None:
    """Stopped before its runner's first step: nothing was in flight."""
    arn = await start(world, {"StartAt": "Pause", "States": {"Pause": HOUR_WAIT}})
    await world.client("StopExecution", executionArn=arn)
    assert [e["type"] for e in await history(world, arn)] == [
        "ExecutionStarted", "ExecutionAborted"]  # fmt: skip


class Blocking:
    """A task runner whose calls never answer: the Task is in flight until cut."""

    def __init__(self) -> None:
        self.cancelled = 0

    async def run(self, resource: str, parameters: Any, context: dict[str, Any]) -> Any:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return {}


def blocking_runner(world: World, tasks: Blocking) -> ExecutionsRunner:
    return ExecutionsRunner(world.executions, RunnerPolicy(pass_interval=0.05), "gateway-c",
                            tasks=tasks, clock=world.clock.now, sleep=asyncio.sleep)  # fmt: skip


CALL = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
        "Parameters": {"QueueUrl": "q", "MessageBody": "x"}, "End": True}  # fmt: skip


async def test_a_task_stopped_in_its_call_is_aborted(world: World) -> None:
    arn = await start(world, {"StartAt": "Call", "States": {"Call": CALL}})
    tasks = Blocking()
    await stopped_in_its_step(world, arn, blocking_runner(world, tasks))
    assert tasks.cancelled == 1
    assert await kinds_after(world, arn, "TaskStateEntered") == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskStateAborted",
        "ExecutionAborted"]  # fmt: skip


async def test_a_task_timed_out_in_its_call_is_aborted(world: World) -> None:
    arn = await start(world, {"TimeoutSeconds": 1, "StartAt": "Call", "States": {"Call": CALL}})
    await asyncio.wait_for(blocking_runner(world, Blocking()).run_pass(wait=True), 10)
    assert await kinds_after(world, arn, "TaskStateEntered") == [
        "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskStateAborted",
        "ExecutionTimedOut"]  # fmt: skip


async def test_an_inline_map_s_running_iterations_are_aborted(world: World) -> None:
    """Two iterations run (their Waits), the third has not begun (``MaxConcurrency``)."""
    arn = await start(world, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "MaxConcurrency": 2,
        "ItemProcessor": {"StartAt": "Pause", "States": {"Pause": HOUR_WAIT}}}}},
        [1, 2, 3])  # fmt: skip
    await stopped_in_its_step(world, arn)
    events = await history(world, arn)
    kinds = [e["type"] for e in events]
    iteration = ["MapIterationStarted", "WaitStateEntered", "WaitStateAborted",
                 "MapIterationAborted"]  # fmt: skip
    assert kinds == ["ExecutionStarted", "MapStateEntered", "MapStateStarted", *iteration,
                     *iteration, "MapStateAborted", "ExecutionAborted"]  # fmt: skip
    aborted = [e["mapIterationAbortedEventDetails"] for e in events
               if e["type"] == "MapIterationAborted"]  # fmt: skip
    assert aborted == [{"name": "Each", "index": 0}, {"name": "Each", "index": 1}]


async def test_a_nested_parallel_s_branches_are_aborted_innermost_first(world: World) -> None:
    inner = {"StartAt": "In", "States": {"In": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Pause", "States": {"Pause": HOUR_WAIT}}]}}}  # fmt: skip
    arn = await start(world, {"StartAt": "Out", "States": {"Out": {
        "Type": "Parallel", "End": True, "Branches": [inner]}}})  # fmt: skip
    await stopped_in_its_step(world, arn)
    assert await kinds_after(world, arn, "WaitStateEntered") == [
        "WaitStateEntered", "WaitStateAborted", "ParallelStateAborted", "ParallelStateAborted",
        "ExecutionAborted"]  # fmt: skip


async def test_a_durable_map_at_rest_aborts_its_parked_iterations(world: World) -> None:
    """A Map whose iterations wait for their tokens is stepped durably (0283): at rest, its
    iterations' parked tasks are aborted from its cursor."""
    url = await world.queue("asks")
    ask = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token"}},
           "End": True}  # fmt: skip
    arn = await start(world, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": ask}}}}}, [1, 2])  # fmt: skip
    await world.run()
    assert len(await world.bodies("asks")) == 2  # both parked
    await world.client("StopExecution", executionArn=arn)
    kinds = await kinds_after(world, arn, "MapStateEntered")
    parked = ["MapIterationStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted"]
    assert kinds == ["MapStateEntered", "MapStateStarted", *parked, *parked,
                     "TaskStateAborted", "MapIterationAborted", "TaskStateAborted",
                     "MapIterationAborted", "MapStateAborted", "ExecutionAborted"]  # fmt: skip


def distributed(child_states: dict[str, Any]) -> dict[str, Any]:
    return {"StartAt": "Batch", "States": {"Batch": {
        "Type": "Map", "End": True, "Label": "batch",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Pause", "States": child_states}}}}  # fmt: skip


async def test_a_distributed_map_s_run_is_aborted_with_its_state(world: World) -> None:
    arn = await start(world, distributed({"Pause": HOUR_WAIT}), [1])
    await stopped_in_its_step(world, arn)
    assert await kinds_after(world, arn, "MapStateEntered") == [
        "MapStateEntered", "MapStateStarted", "MapRunStarted", "MapRunAborted",
        "MapStateAborted", "ExecutionAborted"]  # fmt: skip


async def children_of(world: World, arn: str) -> list[dict[str, Any]]:
    runs = (await world.client("ListMapRuns", executionArn=arn))["mapRuns"]
    if not runs:
        return []
    listed = await world.client("ListExecutions", mapRunArn=runs[0]["mapRunArn"])
    return list(listed["executions"])


async def test_a_map_child_s_stop_reaches_its_wait_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child's StopExecution rings its work in this process: its hour-long Wait ends at
    once, not at the next status read (made a minute apart here)."""
    monkeypatch.setattr(halting, "POLL_SECONDS", 60.0)
    arn = await start(world, distributed({"Pause": HOUR_WAIT}), [1])
    driving = asyncio.create_task(real_runner(world).run_pass(wait=True))
    try:
        for _ in range(200):  # the child begins within the parent's step
            children = await children_of(world, arn)
            if children:
                break
            await asyncio.sleep(0.05)
        assert [c["status"] for c in children] == ["RUNNING"]
        await asyncio.sleep(0.2)  # in its Wait by now
        await world.client("StopExecution", executionArn=children[0]["executionArn"])
        await asyncio.wait_for(asyncio.shield(driving), 10)
    finally:
        driving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await driving
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == [
        {"Error": "States.Aborted", "Cause": "The child was stopped"}]  # fmt: skip


async def test_a_durable_map_cut_within_its_step_keeps_each_run_s_events(world: World) -> None:
    """A durable Map's iteration calls a task in place before it parks: cut in that call,
    the run leaves its step's events and its Task's abort; the iteration not begun
    (``MaxConcurrency``) leaves none."""
    ask = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
           "End": True}  # fmt: skip
    call = {**{k: v for k, v in CALL.items() if k != "End"}, "Next": "Ask"}
    arn = await start(world, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "MaxConcurrency": 1,
        "ItemProcessor": {"StartAt": "Call", "States": {"Call": call, "Ask": ask}}}}},
        [1, 2])  # fmt: skip
    await stopped_in_its_step(world, arn, blocking_runner(world, Blocking()))
    assert await kinds_after(world, arn, "MapStateEntered") == [
        "MapStateEntered", "MapStateStarted", "MapIterationStarted", "TaskStateEntered",
        "TaskScheduled", "TaskStarted", "TaskStateAborted", "MapIterationAborted",
        "MapStateAborted", "ExecutionAborted"]  # fmt: skip
