"""Decision 0383: what StopExecution does to work in flight. A ``.waitForTaskToken`` task's
token and an activity's are no longer accepted (SendTaskSuccess, SendTaskFailure and
SendTaskHeartbeat: ``TaskTimedOut``, as AWS answers for a task that is closed), a queued
activity task is no longer handed to a worker, and the nested executions of ``.sync`` tasks
within a stopped Parallel's branches are stopped with it."""

from __future__ import annotations

import json
import time

from support.statesapp import World
from unit.stepfunctionsapi.test_states_task_tokens import allow, started, token_of


async def test_a_stopped_execution_s_task_token_is_refused(world: World) -> None:
    execution = await started(world, {"End": True})
    token = await token_of(world)
    await world.client("StopExecution", executionArn=execution, error="Cancelled")
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=token, output="{}")
    await world.fails("SendTaskFailure", "TaskTimedOut", taskToken=token, error="Late")
    await world.fails("SendTaskHeartbeat", "TaskTimedOut", taskToken=token)
    stopped = await world.client("DescribeExecution", executionArn=execution)
    assert (stopped["status"], stopped["error"]) == ("ABORTED", "Cancelled")


async def test_a_stopped_execution_s_activity_task_is_withdrawn(world: World) -> None:
    arn = (await world.client("CreateActivity", name="review"))["activityArn"]
    definition = {"StartAt": "Review", "States": {
        "Review": {"Type": "Task", "Resource": arn, "End": True}}}  # fmt: skip
    machine = await world.client("CreateStateMachine", name="docs", roleArn=await world.role(),
                                 definition=json.dumps(definition))  # fmt: skip
    runs = [
        (await world.client("StartExecution", stateMachineArn=machine["stateMachineArn"],
                            name=name))["executionArn"]
        for name in ("taken", "queued")
    ]  # fmt: skip
    await world.run()
    taken = await world.client("GetActivityTask", activityArn=arn, workerName="w1")
    for run in runs:  # the one whose task a worker holds, and the one still queued
        await world.client("StopExecution", executionArn=run)
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=taken["taskToken"],
                      output="{}")  # fmt: skip
    await world.fails("SendTaskHeartbeat", "TaskTimedOut", taskToken=taken["taskToken"])
    assert await world.client("GetActivityTask", activityArn=arn) == {}  # the other withdrawn


async def test_sync_children_in_a_stopped_parallel_are_stopped(world: World) -> None:
    role = await world.role("p", policy=allow("states:StartExecution"))
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    child = (await world.client("CreateStateMachine", name="c", definition=json.dumps(waits),
                                roleArn=role))["stateMachineArn"]  # fmt: skip

    def branch(name: str) -> dict[str, object]:
        return {"StartAt": "Run", "States": {"Run": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Name": name}, "End": True}}}  # fmt: skip

    parent = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [branch("one"), branch("two")]}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="par", definition=json.dumps(parent),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    await world.run()
    kids = [child.replace(":stateMachine:", ":execution:") + f":{n}" for n in ("one", "two")]
    for kid in kids:
        assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "RUNNING"
    await world.client("StopExecution", executionArn=run["executionArn"])
    for kid in kids:
        assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "ABORTED"


async def test_a_sync_task_that_times_out_stops_its_child(world: World) -> None:
    """The task gives up waiting (``TimeoutSeconds``) and its execution goes on through a
    ``Catch``: the nested execution it waited for is stopped, as AWS stops the job."""
    role = await world.role("p", policy=allow("states:StartExecution"))
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    child = (await world.client("CreateStateMachine", name="c", definition=json.dumps(waits),
                                roleArn=role))["stateMachineArn"]  # fmt: skip
    parent = {"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                "Parameters": {"StateMachineArn": child, "Name": "slow"}, "TimeoutSeconds": 5,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}], "End": True},
        "Late": {"Type": "Pass", "End": True}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="par", definition=json.dumps(parent),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    await world.run()
    kid = child.replace(":stateMachine:", ":execution:") + ":slow"
    assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "RUNNING"
    world.clock.offset += 5_000
    began = time.monotonic()
    await world.run()
    assert time.monotonic() - began < 1.0  # the stopped child's end waits for no parent
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "ABORTED"
