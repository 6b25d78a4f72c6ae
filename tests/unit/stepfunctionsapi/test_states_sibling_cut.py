"""Decision 0416 for a Parallel's branches and a Map's iterations stepped durably (0283):
the first run to fail cuts its siblings — one within its step (a task called in place) is
cancelled, one at rest (a parked ``.waitForTaskToken`` task, a durable Wait) given up — each
leaving its ``…Aborted`` events (an iteration its ``MapIterationAborted``) before the state's
``ParallelStateFailed`` / ``MapStateFailed``; a given-up task's token answers
``TaskTimedOut``, as AWS's does for a task already closed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from support.statesapp import World
from unit.stepfunctionsapi.test_states_aborted_events import (
    CALL,
    Blocking,
    blocking_runner,
    kinds_after,
    start,
)
from unit.stepfunctionsapi.test_states_parked_branches import allow, ask, tokens

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


async def test_a_given_up_sibling_s_sync_child_is_stopped(world: World) -> None:
    """A branch parked on a ``.sync`` child execution, given up as its sibling fails: the
    child is stopped with it (decision 0383's given-up jobs), whether the Parallel's failure
    is caught or ends the execution."""
    role = await world.role("p", policy=allow("states:StartExecution", "sqs:SendMessage"))
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    child = (await world.client("CreateStateMachine", name="c", definition=json.dumps(waits),
                                roleArn=role))["stateMachineArn"]  # fmt: skip
    url = await world.queue("asks")
    for caught in (True, False):
        name = f"kid-{caught}".lower()
        syncing = {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
            "Parameters": {"StateMachineArn": child, "Name": name}, "End": True}}}  # fmt: skip
        asking = {"StartAt": "A", "States": {"A": {**ask(url, "$.a"), "End": True}}}
        both: dict[str, Any] = {"Type": "Parallel", "End": True, "Branches": [syncing, asking]}
        states: dict[str, Any] = {"Both": both}
        if caught:
            both["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
            states["Caught"] = {"Type": "Pass", "End": True}
        parent = {"StartAt": "Both", "States": states}
        made = await world.client("CreateStateMachine", name=f"par-{name}", roleArn=role,
                                  definition=json.dumps(parent))  # fmt: skip
        run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                 input=json.dumps({"a": name}))  # fmt: skip
        await world.run()
        await world.run()
        kid = child.replace(":stateMachine:", ":execution:") + f":{name}"
        assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "RUNNING"
        asked = await tokens(world, "asks")
        await world.client("SendTaskFailure", taskToken=asked[name], error="Rejected")
        await world.run()
        done = await world.client("DescribeExecution", executionArn=run["executionArn"])
        assert done["status"] == ("SUCCEEDED" if caught else "FAILED"), done
        assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "ABORTED"
        kinds = await kinds_after(world, run["executionArn"], "ParallelStateEntered")
        assert kinds.index("TaskStateAborted") < kinds.index("ParallelStateFailed")
