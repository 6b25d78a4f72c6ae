"""Decision 0283's parked tasks within a Parallel's branches and a Map's iterations, through
botocore's own JSON model: a ``.waitForTaskToken`` task in a branch or an iteration parks the
execution durably (nothing is driven while it waits; the runner is a new one, as after a
restart), each task its own token, answered by SendTaskSuccess or SendTaskFailure wherever it
is parked; the state ends once every run has; a failure fails the state (its Catch applies);
``MaxConcurrency`` counts parked iterations; activities' tasks within an iteration given to
one worker each."""

from __future__ import annotations

import json
from typing import Any

from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from support.statesapp import World


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


def ask(url: str, tag: str) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": url, "MessageBody": {"token.$": "$$.Task.Token",
                                                            "tag.$": tag}}}  # fmt: skip


async def start(world: World, definition: dict[str, Any], data: Any, name: str = "m") -> str:
    role = await world.role(f"{name}-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name=name, definition=json.dumps(definition),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps(data))  # fmt: skip
    await world.run()
    return str(run["executionArn"])


async def tokens(world: World, queue: str) -> dict[str, str]:
    return {m["tag"]: m["token"] for m in map(json.loads, await world.bodies(queue))}


def restarted(world: World) -> None:
    """A new runner in place of the one that drove the execution (a gateway's restart)."""
    world.runner = ExecutionsRunner(world.executions, RunnerPolicy(lease_ms=60_000), "gateway-b",
                                    tasks=world.runner._tasks, clock=world.clock.now,
                                    sleep=world.clock.sleep)  # fmt: skip


async def test_parallel_branches_park_and_resume_by_their_tokens(world: World) -> None:
    url = await world.queue("asks")
    definition = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "ResultPath": "$.answers", "Next": "Done",
        "Branches": [
            {"StartAt": "A", "States": {"A": {**ask(url, "$.a"), "End": True}}},
            {"StartAt": "Pre", "States": {
                "Pre": {"Type": "Pass", "Result": "b", "ResultPath": "$.b", "Next": "B"},
                "B": {**ask(url, "$.b"), "ResultSelector": {"got.$": "$.ok"}, "End": True}}},
        ]}, "Done": {"Type": "Succeed"}}}  # fmt: skip
    arn = await start(world, definition, {"a": "a", "b": "?"})
    asked = await tokens(world, "asks")
    assert set(asked) == {"a", "b"} and asked["a"] != asked["b"]
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "RUNNING"
    restarted(world)
    assert await world.run() == 0  # parked: nothing to drive
    await world.client("SendTaskSuccess", taskToken=asked["b"], output='{"ok": 2}')
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=asked["b"], output="{}")
    await world.run()
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "RUNNING"
    await world.client("SendTaskHeartbeat", taskToken=asked["a"])
    await world.client("SendTaskSuccess", taskToken=asked["a"], output='"one"')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["answers"] == ["one", {"got": 2}]
    kinds = await world.kinds(arn)
    assert kinds.count("TaskScheduled") == 2 and kinds.count("TaskSucceeded") == 2
    assert kinds.count("ParallelStateStarted") == 1 and kinds.count("PassStateEntered") == 1
    assert kinds[-4:] == ["ParallelStateExited", "SucceedStateEntered", "SucceedStateExited",
                          "ExecutionSucceeded"]  # fmt: skip


async def test_map_iterations_park_within_their_concurrency(world: World) -> None:
    url = await world.queue("items")
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": True,
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": {**ask(url, "$"), "End": True}}},
    }}}  # fmt: skip
    arn = await start(world, definition, {"items": ["x", "y", "z"]})
    first = await tokens(world, "items")
    assert set(first) == {"x", "y"}  # the third waits for a free slot
    await world.client("SendTaskSuccess", taskToken=first["y"], output='"Y"')
    await world.run()
    second = await tokens(world, "items")
    assert set(second) == {"z"}
    await world.client("SendTaskSuccess", taskToken=second["z"], output='"Z"')
    await world.client("SendTaskSuccess", taskToken=first["x"], output='"X"')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == ["X", "Y", "Z"]
    kinds = await world.kinds(arn)
    assert kinds.count("MapIterationStarted") == 3 and kinds.count("MapIterationSucceeded") == 3


async def test_a_branchs_failure_fails_the_state_and_is_caught(world: World) -> None:
    url = await world.queue("fails")
    definition = {"StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "Next": "Done",
        "Catch": [{"ErrorEquals": ["Rejected"], "ResultPath": "$.why", "Next": "Caught"}],
        "Branches": [
            {"StartAt": "A", "States": {"A": {**ask(url, "$.a"), "End": True}}},
            {"StartAt": "B", "States": {"B": {**ask(url, "$.b"), "End": True}}},
        ]}, "Done": {"Type": "Succeed"}, "Caught": {"Type": "Pass", "End": True}}}  # fmt: skip
    arn = await start(world, definition, {"a": "a", "b": "b"})
    asked = await tokens(world, "fails")
    await world.client("SendTaskFailure", taskToken=asked["a"], error="Rejected", cause="no")
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["why"] == {"Error": "Rejected", "Cause": "no"}
    assert "ParallelStateFailed" in await world.kinds(arn)
    # The other branch's task went with its state: its token answers nothing now.
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=asked["b"], output="{}")


async def test_a_failed_map_is_redriven_from_its_failed_iteration(world: World) -> None:
    url = await world.queue("redo")
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": {**ask(url, "$"), "End": True}}},
    }}}  # fmt: skip
    arn = await start(world, definition, {"items": ["p", "q"]})
    asked = await tokens(world, "redo")
    await world.client("SendTaskSuccess", taskToken=asked["p"], output='"P"')
    await world.client("SendTaskFailure", taskToken=asked["q"], error="Nope")
    await world.run()
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "FAILED"
    await world.client("RedriveExecution", executionArn=arn)
    await world.run()
    again = await tokens(world, "redo")
    assert set(again) == {"q"}  # only the failed iteration is run again
    await world.client("SendTaskSuccess", taskToken=again["q"], output='"Q"')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", ["P", "Q"])


async def test_activities_within_a_map_are_taken_one_worker_a_task(world: World) -> None:
    activity = (await world.client("CreateActivity", name="review"))["activityArn"]
    definition = {"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.items", "End": True,
        "ItemProcessor": {"StartAt": "Review", "States": {"Review": {
            "Type": "Task", "Resource": activity, "End": True}}}}}}  # fmt: skip
    arn = await start(world, definition, {"items": [{"n": 1}, {"n": 2}]})
    first = await world.client("GetActivityTask", activityArn=activity, workerName="w1")
    second = await world.client("GetActivityTask", activityArn=activity, workerName="w2")
    assert {json.loads(first["input"])["n"], json.loads(second["input"])["n"]} == {1, 2}
    assert first["taskToken"] != second["taskToken"]
    assert await world.client("GetActivityTask", activityArn=activity) == {}  # none left
    await world.client("SendTaskSuccess", taskToken=second["taskToken"], output='"two"')
    await world.client("SendTaskSuccess", taskToken=first["taskToken"], output='"one"')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    by_input = (
        {1: "one", 2: "two"} if json.loads(first["input"])["n"] == 1 else {1: "two", 2: "one"}
    )
    assert json.loads(done["output"]) == [by_input[1], by_input[2]]
    kinds = await world.kinds(arn)
    assert kinds.count("ActivityScheduled") == 2 and kinds.count("ActivityStarted") == 2
    assert kinds.count("ActivitySucceeded") == 2


async def test_an_express_branch_does_not_wait_for_a_token(world: World) -> None:
    url = await world.queue("express")
    branch = {"StartAt": "A", "States": {"A": {**ask(url, "$"), "End": True}}}
    both = {"Type": "Parallel", "End": True, "Branches": [branch]}
    definition = {"StartAt": "Both", "States": {"Both": both}}
    role = await world.role("express-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name="fast", type="EXPRESS",
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    ran = await world.client("StartSyncExecution", stateMachineArn=made["stateMachineArn"])
    assert (ran["status"], ran["error"]) == ("FAILED", "States.Runtime")
    assert "Express workflows do not wait for tokens" in ran["cause"]


async def test_jsonata_branches_park_with_their_variables_across_a_restart(world: World) -> None:
    """Decision 0329: a durable branch in JSONata keeps its own variables in its run's cursor,
    reads the outer scope's, and the Parallel assigns from its branches' results."""
    url = await world.queue("jsonata-asks")
    ask_jsonata = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Arguments": {
            "QueueUrl": url,
            "MessageBody": {"token": "{% $states.context.Task.Token %}", "tag": "{% $mine %}"},
        },
        "Output": "{% $states.result.ok & '/' & $mine & '/' & $outer %}",
        "End": True,
    }
    definition = {"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
        "Set": {"Type": "Pass", "Assign": {"outer": "{% $states.input.o %}"}, "Next": "Both"},
        "Both": {"Type": "Parallel", "Next": "Done",
                 "Assign": {"answers": "{% $states.result %}"},
                 "Branches": [
                     {"StartAt": "PreA", "States": {
                         "PreA": {"Type": "Pass", "Assign": {"mine": "a"}, "Next": "A"},
                         "A": ask_jsonata}},
                     {"StartAt": "PreB", "States": {
                         "PreB": {"Type": "Pass", "Assign": {"mine": "b"}, "Next": "B"},
                         "B": ask_jsonata}}]},
        "Done": {"Type": "Pass", "Output": {"answers": "{% $answers %}"},
                 "End": True}}}  # fmt: skip
    arn = await start(world, definition, {"o": "O"}, name="jsonata-parked")
    asked = await tokens(world, "jsonata-asks")
    assert set(asked) == {"a", "b"}
    restarted(world)
    await world.client("SendTaskSuccess", taskToken=asked["b"], output='{"ok": "2"}')
    await world.run()
    await world.client("SendTaskSuccess", taskToken=asked["a"], output='{"ok": "1"}')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=arn)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"answers": ["1/a/O", "2/b/O"]}
