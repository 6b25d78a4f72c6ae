"""Decision 0283's RedriveExecution through botocore's own JSON model: a failed, aborted or
timed-out STANDARD execution resumes at the state it ended at, with the same input and ARN,
the states that succeeded not run again — nor a Parallel's branches or a Map's iterations that
succeeded; ``ExecutionRedriven`` in its history; ``redriveCount``, ``redriveDate``,
``redriveStatus`` and ``redriveStatusReason`` as AWS's; ``clientToken`` idempotent; AWS's
refusals (running, succeeded, past its 14 days)."""

from __future__ import annotations

import json
from typing import Any

from support.statesapp import World

DAY_MS = 86_400_000


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


def url(world: World, name: str) -> str:
    return f"http://127.0.0.1:9000/{world.tenant_id}/{name}"


async def start(world: World, definition: dict[str, Any], name: str = "m") -> str:
    role = await world.role(f"{name}-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name=name, definition=json.dumps(definition),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             name="e1", input='{"n": 1}')  # fmt: skip
    await world.run()
    return str(run["executionArn"])


def send(queue: str, body: str = "$.n") -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": queue, "MessageBody.$": body}}  # fmt: skip


async def test_a_failed_execution_resumes_where_it_failed(world: World) -> None:
    definition = {"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": "x", "ResultPath": "$.first", "Next": "Send"},
        "Send": {**send(url(world, "work")), "ResultPath": None, "End": True}}}  # fmt: skip
    arn = await start(world, definition)
    failed = await world.client("DescribeExecution", executionArn=arn)
    assert failed["status"] == "FAILED"
    assert (failed["redriveCount"], failed["redriveStatus"]) == (0, "REDRIVABLE")
    assert "redriveStatusReason" not in failed and "redriveDate" not in failed
    await world.queue("work")
    redriven = await world.client("RedriveExecution", executionArn=arn, clientToken="t-1")
    again = await world.client("RedriveExecution", executionArn=arn, clientToken="t-1")
    assert again["redriveDate"] == redriven["redriveDate"]  # the same token: the same redrive
    running = await world.client("DescribeExecution", executionArn=arn)
    assert (running["status"], running["redriveCount"]) == ("RUNNING", 1)
    assert running["redriveStatusReason"] == "Execution is RUNNING and cannot be redriven."
    assert "error" not in running and "stopDate" not in running
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"n": 1, "first": "x"}
    assert done["redriveDate"] == redriven["redriveDate"] and done["redriveCount"] == 1
    assert (done["redriveStatus"], done["redriveStatusReason"]) == (
        "NOT_REDRIVABLE",
        "Execution is SUCCEEDED and cannot be redriven.",
    )
    assert await world.bodies("work") == ["1"]
    history = (await world.client("GetExecutionHistory", executionArn=arn))["events"]
    kinds = [e["type"] for e in history]
    assert kinds.count("PassStateEntered") == 1  # what succeeded is not run again
    assert kinds.count("ExecutionRedriven") == 1
    redrive_event = history[kinds.index("ExecutionRedriven")]
    assert redrive_event["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert kinds.index("ExecutionFailed") < kinds.index("ExecutionRedriven")
    assert kinds[-1] == "ExecutionSucceeded"
    refused = await world.fails("RedriveExecution", "ExecutionNotRedrivable", executionArn=arn)
    assert "Execution is SUCCEEDED and cannot be redriven." in refused.message
    machine = arn.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    listed = await world.client("ListExecutions", stateMachineArn=machine,
                                redriveFilter="REDRIVEN")  # fmt: skip
    assert [(e["name"], e["redriveCount"]) for e in listed["executions"]] == [("e1", 1)]
    listed = await world.client("ListExecutions", stateMachineArn=machine,
                                redriveFilter="NOT_REDRIVEN")  # fmt: skip
    assert listed["executions"] == []


async def test_a_parallels_succeeded_branches_are_not_run_again(world: World) -> None:
    # The branch that succeeds ends before its sibling's call fails: a failure cuts the
    # branches still running (decision 0416), and those are run again.
    definition = {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True,
        "Branches": [
            {"StartAt": "Fine", "States": {"Fine": {"Type": "Pass", "Result": {"ok": True},
                                                    "End": True}}},
            {"StartAt": "Late", "States": {"Late": {**send(url(world, "late")), "End": True,
                                                    "ResultSelector": {"late": True}}}},
        ]}}}  # fmt: skip
    arn = await start(world, definition, "par")
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "FAILED"
    await world.queue("late")
    await world.client("RedriveExecution", executionArn=arn)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"ok": True}, {"late": True}]
    assert (await world.kinds(arn)).count("PassStateEntered") == 1  # succeeded: not run again
    assert await world.bodies("late") == ["1"]


async def test_a_maps_succeeded_iterations_are_not_run_again(world: World) -> None:
    items = [{"q": url(world, "one"), "b": "1"}, {"q": url(world, "two"), "b": "2"}]
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": True,
        "ItemProcessor": {"StartAt": "Put", "States": {"Put": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl.$": "$.q", "MessageBody.$": "$.b"},
            "ResultSelector": {"sent": True}, "End": True}}}}}}  # fmt: skip
    await world.queue("one")
    role = await world.role("map-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name="map", definition=json.dumps(definition),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps({"items": items}))  # fmt: skip
    arn = run["executionArn"]
    await world.run()
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "FAILED"
    await world.queue("two")
    await world.client("RedriveExecution", executionArn=arn)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"sent": True}, {"sent": True}]
    assert await world.bodies("one") == ["1"]  # sent once: its iteration is not run again
    assert await world.bodies("two") == ["2"]


async def test_an_aborted_execution_resumes_and_the_window_closes(world: World) -> None:
    definition = {"StartAt": "Hold", "States": {
        "Hold": {"Type": "Wait", "Seconds": 60, "Next": "Done"},
        "Done": {"Type": "Pass", "End": True}}}  # fmt: skip
    arn = await start(world, definition, "wait")
    running = await world.client("DescribeExecution", executionArn=arn)
    assert running["redriveStatus"] == "NOT_REDRIVABLE"
    await world.fails("RedriveExecution", "ExecutionNotRedrivable", executionArn=arn)
    await world.client("StopExecution", executionArn=arn)
    await world.client("RedriveExecution", executionArn=arn)
    await world.run()
    waiting = await world.client("DescribeExecution", executionArn=arn)
    assert waiting["status"] == "RUNNING"  # back at its Wait
    world.clock.offset += 61_000
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert (done["status"], done["redriveCount"]) == ("SUCCEEDED", 1)
    # Another, aborted 15 days ago: past AWS's 14 days.
    second = await world.client("StartExecution", stateMachineArn=done["stateMachineArn"],
                                name="late")  # fmt: skip
    await world.client("StopExecution", executionArn=second["executionArn"])
    world.clock.offset += 15 * DAY_MS
    old = await world.client("DescribeExecution", executionArn=second["executionArn"])
    assert old["redriveStatusReason"] == "Execution redrivable period exceeded."
    await world.fails("RedriveExecution", "ExecutionNotRedrivable",
                      executionArn=second["executionArn"])  # fmt: skip
    await world.fails("RedriveExecution", "ExecutionDoesNotExist",
                      executionArn=second["executionArn"] + "x")  # fmt: skip


async def test_a_redrive_keeps_the_variables_assigned_before_the_failure(world: World) -> None:
    """Decision 0329: the redriven state reads the variables as they were when it failed."""
    definition = {"QueryLanguage": "JSONata", "StartAt": "First", "States": {
        "First": {"Type": "Pass", "Assign": {"tag": "{% 'n=' & $string($states.input.n) %}"},
                  "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Arguments": {"QueueUrl": url(world, "tagged"), "MessageBody": "{% $tag %}"},
                 "Output": "{% $tag %}", "End": True}}}  # fmt: skip
    arn = await start(world, definition, name="vars")
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "FAILED"
    await world.queue("tagged")
    await world.client("RedriveExecution", executionArn=arn)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == "n=1"
    assert await world.bodies("tagged") == ["n=1"]
