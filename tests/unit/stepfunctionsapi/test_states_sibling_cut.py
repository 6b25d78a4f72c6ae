"""Decision 0416 for a Parallel's branches and a Map's iterations stepped durably (0283):
the first run to fail cuts its siblings — one within its step (a task called in place) is
cancelled, one at rest (a parked ``.waitForTaskToken`` task, a durable Wait) given up — each
leaving its ``…Aborted`` events (an iteration its ``MapIterationAborted``) before the state's
``ParallelStateFailed`` / ``MapStateFailed``; a given-up task's token answers
``TaskTimedOut``, as AWS's does for a task already closed."""

from __future__ import annotations

import asyncio
from typing import Any

from support.statesapp import World
from unit.stepfunctionsapi.test_states_aborted_events import (
    CALL,
    Blocking,
    blocking_runner,
    kinds_after,
    start,
)
from unit.stepfunctionsapi.test_states_parked_branches import ask, tokens

FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "Broke"}}}


async def test_a_failed_branch_gives_up_its_sibling_s_parked_task(world: World) -> None:
    url = await world.queue("asks")
    arn = await start(world, {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "A", "States": {"A": {**ask(url, "$.a"), "End": True}}},
            {"StartAt": "B", "States": {"B": {**ask(url, "$.b"), "End": True}}}]}}},
        {"a": "a", "b": "b"})  # fmt: skip
    await world.run()
    asked = await tokens(world, "asks")
    await world.client("SendTaskFailure", taskToken=asked["a"], error="Rejected")
    await world.run()
    parked = ["TaskStateEntered", "TaskScheduled", "TaskStarted"]
    assert await kinds_after(world, arn, "ParallelStateEntered") == [
        "ParallelStateEntered", "ParallelStateStarted", *parked, *parked, "TaskFailed",
        "TaskStateAborted", "ParallelStateFailed", "ExecutionFailed"]  # fmt: skip
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=asked["b"], output="{}")


async def test_a_failed_branch_cuts_its_sibling_s_call_within_the_step(world: World) -> None:
    """The sibling calls a task in place before it would park: cut in that call, it never
    schedules its parked task (no message is sent)."""
    url = await world.queue("late")
    calling = {"StartAt": "Call", "States": {
        "Call": {**{k: v for k, v in CALL.items() if k != "End"}, "Next": "Ask"},
        "Ask": {**ask(url, "$"), "End": True}}}  # fmt: skip
    arn = await start(world, {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [calling, FAIL]}}})  # fmt: skip
    tasks = Blocking()
    await asyncio.wait_for(blocking_runner(world, tasks).run_pass(wait=True), 10)
    assert tasks.cancelled == 1
    assert await world.bodies("late") == []
    assert await kinds_after(world, arn, "ParallelStateEntered") == [
        "ParallelStateEntered", "ParallelStateStarted", "TaskStateEntered", "TaskScheduled",
        "TaskStarted", "TaskStateAborted", "FailStateEntered", "ParallelStateFailed",
        "ExecutionFailed"]  # fmt: skip


async def test_a_failed_iteration_aborts_one_at_rest_in_its_wait(world: World) -> None:
    url = await world.queue("items")
    processor: dict[str, Any] = {"StartAt": "Which", "States": {
        "Which": {"Type": "Choice", "Default": "Ask", "Choices": [
            {"Variable": "$", "StringEquals": "slow", "Next": "Pause"}]},
        "Pause": {"Type": "Wait", "Seconds": 3600, "End": True},
        "Ask": {**ask(url, "$"), "End": True}}}  # fmt: skip
    arn = await start(world, {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "ItemProcessor": processor,
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}}, ["slow", "asked"])  # fmt: skip
    await world.run()
    asked = await tokens(world, "items")
    await world.client("SendTaskFailure", taskToken=asked["asked"], error="Rejected")
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED"  # the Map's Catch applies after the cut
    # The step's events by iteration, in order: the one at rest gives up first.
    assert await kinds_after(world, arn, "TaskStarted") == [
        "TaskStarted", "WaitStateAborted", "MapIterationAborted", "TaskFailed",
        "MapIterationFailed", "MapStateFailed", "MapStateExited", "PassStateEntered",
        "PassStateExited", "ExecutionSucceeded"]  # fmt: skip
