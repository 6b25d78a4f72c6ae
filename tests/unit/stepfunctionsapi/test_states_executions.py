"""Decision 0271's executions through botocore's own JSON model: started (idempotently, as
AWS), run by the runner in the background, described, listed by status in pages, stopped;
their histories in AWS's event types and details (pages, reverse order, without data); a Wait
outlives the runner (the execution only waits, and goes on at its end); Retry and Catch;
the machine's TimeoutSeconds; the history's bound; the execution's definition kept when its
machine changes; state transitions metered; accounts isolated; IAM deciding."""

from __future__ import annotations

import json
import time
from typing import Any

from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from support.statesapp import World

CHOICE = {
    "StartAt": "Shape",
    "States": {
        "Shape": {"Type": "Pass", "Parameters": {"amount.$": "$.order.amount",
                                                  "id.$": "$$.Execution.Name"},
                  "ResultPath": "$.shaped", "Next": "Big?"},
        "Big?": {"Type": "Choice", "Default": "Small",
                 "Choices": [{"Variable": "$.shaped.amount", "NumericGreaterThan": 100,
                              "Next": "Big"}]},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "End": True},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "amount at most 100"},
    },
}  # fmt: skip


async def machine(world: World, definition: dict[str, Any], name: str = "orders") -> str:
    role = await world.role(f"{name}-role")
    made = await world.client(
        "CreateStateMachine", name=name, definition=json.dumps(definition), roleArn=role
    )
    return str(made["stateMachineArn"])


async def test_an_execution_runs_and_leaves_aws_history(world: World) -> None:
    arn = await machine(world, CHOICE)
    started = await world.client(
        "StartExecution", stateMachineArn=arn, name="e1", input='{"order": {"amount": 250}}'
    )
    execution = started["executionArn"]
    assert execution == f"arn:aws:states:eu-fr-1:{world.tenant_id}:execution:orders:e1"
    running = await world.client("DescribeExecution", executionArn=execution)
    assert running["status"] == "RUNNING" and "stopDate" not in running
    assert await world.run() == 1
    done = await world.client("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {
        "order": {"amount": 250},
        "shaped": {"amount": 250, "id": "e1"},
        "size": "big",
    }
    assert done["stopDate"] >= done["startDate"]
    history = (await world.client("GetExecutionHistory", executionArn=execution))["events"]
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered",
        "ChoiceStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded",
    ]  # fmt: skip
    assert [(e["id"], e["previousEventId"]) for e in history[:3]] == [(1, 0), (2, 1), (3, 2)]
    assert history[0]["executionStartedEventDetails"]["roleArn"].endswith(":role/orders-role")
    assert history[1]["stateEnteredEventDetails"]["name"] == "Shape"
    assert json.loads(history[-1]["executionSucceededEventDetails"]["output"])["size"] == "big"
    assert await world.usage("stepfunctions.state-transitions") == 3
    dims = (("StateMachineArn", arn),)
    recorded = {(p[1], p[2], p[3]): p[4] for p in world.sink.points}
    assert recorded[("AWS/States", "ExecutionsStarted", dims)] == 1
    assert recorded[("AWS/States", "ExecutionsSucceeded", dims)] == 1
    assert ("AWS/States", "ExecutionTime", dims) in recorded
    page = await world.client("GetExecutionHistory", executionArn=execution, maxResults=3,
                              reverseOrder=True, includeExecutionData=False)  # fmt: skip
    assert page["events"][0]["type"] == "ExecutionSucceeded"
    assert "output" not in page["events"][0]["executionSucceededEventDetails"]
    rest = await world.client("GetExecutionHistory", executionArn=execution,
                              nextToken=page["nextToken"], reverseOrder=True)  # fmt: skip
    assert len(rest["events"]) == 5 and rest["events"][-1]["type"] == "ExecutionStarted"
    for_execution = await world.client("DescribeStateMachineForExecution", executionArn=execution)
    assert json.loads(for_execution["definition"]) == CHOICE


async def test_a_failure_its_error_and_the_names_idempotence(world: World) -> None:
    arn = await machine(world, CHOICE)
    small = '{"order": {"amount": 5}}'
    first = await world.client("StartExecution", stateMachineArn=arn, name="s", input=small)
    again = await world.client("StartExecution", stateMachineArn=arn, name="s", input=small)
    assert again == first  # same name and input while it runs: the same execution
    await world.fails("StartExecution", "ExecutionAlreadyExists", stateMachineArn=arn,
                      name="s", input='{"order": {"amount": 6}}')  # fmt: skip
    await world.run()
    failed = await world.client("DescribeExecution", executionArn=first["executionArn"])
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "TooSmall",
        "amount at most 100",
    )
    history = (await world.client("GetExecutionHistory",
                                  executionArn=first["executionArn"]))["events"]  # fmt: skip
    assert history[-2]["type"] == "FailStateEntered"
    assert history[-1]["executionFailedEventDetails"] == {
        "error": "TooSmall",
        "cause": "amount at most 100",
    }
    failure = await world.fails("StartExecution", "ExecutionAlreadyExists", stateMachineArn=arn,
                                name="s", input=small)  # fmt: skip
    assert failure.message == f"Execution Already Exists: '{first['executionArn']}'"
    bad = await world.fails("StartExecution", "InvalidExecutionInput", stateMachineArn=arn,
                            input="{nope")  # fmt: skip
    assert bad.message.startswith("Invalid State Machine Execution Input")
    await world.fails("StartExecution", "InvalidExecutionInput", stateMachineArn=arn,
                      input=json.dumps({"big": "x" * 2000}))  # fmt: skip
    await world.fails("StartExecution", "StateMachineDoesNotExist", stateMachineArn=arn + "x")


async def test_a_wait_outlives_the_runner_and_stop_aborts(world: World) -> None:
    waits = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 3600, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    arn = await machine(world, waits)
    one = (await world.client("StartExecution", stateMachineArn=arn, name="one"))["executionArn"]
    two = (await world.client("StartExecution", stateMachineArn=arn, name="two"))["executionArn"]
    assert await world.run() == 2
    assert await world.run() == 0  # both wait: nothing due
    stopped = await world.client("StopExecution", executionArn=two, error="Manual",
                                 cause="no longer needed")  # fmt: skip
    assert stopped["stopDate"].year >= 2026
    aborted = await world.client("DescribeExecution", executionArn=two)
    assert (aborted["status"], aborted["error"]) == ("ABORTED", "Manual")
    world.clock.offset += 3_600_000  # an hour on, whichever gateway runs
    assert await world.run() == 1
    done = await world.client("DescribeExecution", executionArn=one)
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {}
    kinds = [e["type"] for e in (await world.client("GetExecutionHistory",
                                                     executionArn=one))["events"]]  # fmt: skip
    assert kinds == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited",
                     "SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]  # fmt: skip
    listed = await world.client("ListExecutions", stateMachineArn=arn)
    assert {e["name"]: e["status"] for e in listed["executions"]} == {
        "one": "SUCCEEDED",
        "two": "ABORTED",
    }
    only = await world.client("ListExecutions", stateMachineArn=arn, statusFilter="ABORTED")
    assert [e["name"] for e in only["executions"]] == ["two"]
    first = await world.client("ListExecutions", stateMachineArn=arn, maxResults=1)
    second = await world.client("ListExecutions", stateMachineArn=arn, maxResults=1,
                                nextToken=first["nextToken"])  # fmt: skip
    assert {first["executions"][0]["name"], second["executions"][0]["name"]} == {"one", "two"}
    assert "nextToken" not in second


async def test_retry_catch_timeout_and_the_history_bound(world: World) -> None:
    retried = {"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [{"StartAt": "F", "States": {
                  "F": {"Type": "Fail", "Error": "Flaky"}}}],
              "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 5, "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Ok"}],
              "End": True},
        "Ok": {"Type": "Pass", "End": True}}}  # fmt: skip
    arn = await machine(world, retried, "retried")
    run = await world.client("StartExecution", stateMachineArn=arn, input='{"a": 1}')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"a": 1, "err": {"Error": "Flaky", "Cause": ""}}
    assert world.clock.slept == [5.0, 10.0]
    timed = {"TimeoutSeconds": 60, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 600, "End": True}}}  # fmt: skip
    arn = await machine(world, timed, "timed")
    run = await world.client("StartExecution", stateMachineArn=arn)
    await world.run()
    world.clock.offset += 60_000
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")
    looping = {"StartAt": "A", "States": {
        "A": {"Type": "Choice", "Choices": [{"Variable": "$.stop", "IsPresent": True,
                                             "Next": "End"}], "Default": "B"},
        "B": {"Type": "Pass", "Next": "A"},
        "End": {"Type": "Succeed"}}}  # fmt: skip
    arn = await machine(world, looping, "looping")
    run = await world.client("StartExecution", stateMachineArn=arn)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert (done["status"], done.get("error")) == ("FAILED", "States.Runtime"), done
    history = await world.client("GetExecutionHistory", executionArn=run["executionArn"],
                                 maxResults=1000)  # fmt: skip
    assert len(history["events"]) == 100  # the world's bound


async def test_the_execution_keeps_its_definition_and_accounts_are_isolated(
    world: World,
) -> None:
    arn = await machine(world, {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 10, "Next": "P"},
        "P": {"Type": "Pass", "Result": "old", "End": True}}})  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=arn)
    await world.run()
    new = {"StartAt": "N", "States": {"N": {"Type": "Pass", "Result": "new", "End": True}}}
    await world.client("UpdateStateMachine", stateMachineArn=arn, definition=json.dumps(new))
    world.clock.offset += 10_000
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert json.loads(done["output"]) == "old"
    other = await world.other_tenant("other")
    await other.fails("DescribeExecution", "ExecutionDoesNotExist",
                      executionArn=run["executionArn"])  # fmt: skip
    await other.fails("StartExecution", "StateMachineDoesNotExist", stateMachineArn=arn)
    user = await world.iam_user("dev")
    denied = await user.fails("StartExecution", "AccessDeniedException", stateMachineArn=arn)
    assert "states:StartExecution" in denied.message
    await world.fails("DescribeExecution", "InvalidArn", executionArn=arn)
    events = await world.audited()
    assert ("states:StartExecution", f"{arn},{run['executionArn']}", "success") in events


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


async def test_tasks_call_integrations_as_the_role(world: World) -> None:
    url = await world.queue("work")
    definition = {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": {"order.$": "$.id"}},
                 "ResultSelector": {"id.$": "$.MessageId"}, "ResultPath": "$.sent",
                 "Next": "Child"},
        "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                  "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "Name": "child",
                                 "Input": {"id": "child", "last": True}},
                  "ResultPath": "$.child", "Next": "Last?"},
        "Last?": {"Type": "Choice", "Choices": [{"Variable": "$.last", "IsPresent": True,
                                                 "Next": "Done"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    role = await world.role("worker", policy=allow("sqs:SendMessage", "states:StartExecution"))
    made = await world.client("CreateStateMachine", name="tasks",
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             name="parent", input='{"id": "o-1"}')  # fmt: skip
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["child"]["ExecutionArn"].endswith(":execution:tasks:child")
    assert sorted(await world.bodies("work")) == ['{"order":"o-1"}']
    await world.run()  # the child, started by the parent as its role
    child = await world.client("DescribeExecution", executionArn=output["child"]["ExecutionArn"])
    # Its own StartExecution of "child" (same name and input, running): itself, as on AWS.
    assert child["status"] == "SUCCEEDED"
    assert await world.bodies("work") == ['{"order":"child"}']
    history = (await world.client("GetExecutionHistory",
                                  executionArn=run["executionArn"]))["events"]  # fmt: skip
    kinds = [e["type"] for e in history]
    assert kinds[1:6] == ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
                          "TaskStateExited"]  # fmt: skip
    assert history[2]["taskScheduledEventDetails"]["resourceType"] == "sqs"
    events = await world.audited()
    assert any(a == "sqs:SendMessage" and o == "success" for a, _, o in events)


async def test_a_refused_task_is_the_integrations_error(world: World) -> None:
    url = await world.queue("work")
    definition = {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": "x"},
                 "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}],
                 "End": True},
        "Caught": {"Type": "Pass", "End": True}}}  # fmt: skip
    role = await world.role("weak", policy=allow("sns:Publish"))
    made = await world.client("CreateStateMachine", name="weak",
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["Error"] == "SQS.AccessDeniedException"
    assert await world.bodies("work") == []
    activity = {"StartAt": "A", "States": {"A": {
        "Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "B"}], "End": True},
        "B": {"Type": "Succeed"}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="act",
                              definition=json.dumps(activity), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert (done["status"], done.get("error")) == ("FAILED", "States.Runtime"), done
    assert "not served by this platform yet" in done["cause"]


async def test_start_execution_sync_waits_for_the_child(world: World) -> None:
    child = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Pass",
                "Parameters": {"twice.$": "States.MathAdd($.n, $.n)"},
                "End": True,
            }
        },
    }
    role = await world.role("parent", policy=allow("states:StartExecution"))
    child_arn = (
        await world.client(
            "CreateStateMachine", name="child", definition=json.dumps(child), roleArn=role
        )
    )["stateMachineArn"]
    failing = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Nope"}}}
    failing_arn = (
        await world.client(
            "CreateStateMachine", name="failing", definition=json.dumps(failing), roleArn=role
        )
    )["stateMachineArn"]
    parent = {"StartAt": "Run", "States": {
        "Run": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child_arn, "Input": {"n.$": "$.n"}},
                "ResultSelector": {"twice.$": "$.Output.twice", "status.$": "$.Status"},
                "ResultPath": "$.child", "Next": "Fails"},
        "Fails": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
                  "Parameters": {"StateMachineArn": failing_arn},
                  "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed",
                             "Next": "Done"}], "End": True},
        "Done": {"Type": "Succeed"}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="parent",
                              definition=json.dumps(parent), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input='{"n": 21}')  # fmt: skip
    for _ in range(6):  # the parent parks, the child runs and answers, the parent goes on
        await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    assert output["child"] == {"twice": 42, "status": "SUCCEEDED"}
    assert output["failed"]["Error"] == "States.TaskFailed"
    assert json.loads(output["failed"]["Cause"])["Error"] == "Nope"


async def test_start_sync_execution_runs_an_express_machine(world: World) -> None:
    role = await world.role()
    express = await world.client("CreateStateMachine", name="fast", type="EXPRESS",
                                 definition=json.dumps(CHOICE), roleArn=role)  # fmt: skip
    ran = await world.client("StartSyncExecution", stateMachineArn=express["stateMachineArn"],
                             name="s1", input='{"order": {"amount": 500}}')  # fmt: skip
    assert ran["status"] == "SUCCEEDED"
    assert ran["executionArn"].startswith(
        f"arn:aws:states:eu-fr-1:{world.tenant_id}:express:fast:s1:"
    )
    assert json.loads(ran["output"])["size"] == "big"
    assert ran["billingDetails"]["billedDurationInMilliseconds"] >= 100
    failed = await world.client("StartSyncExecution", stateMachineArn=express["stateMachineArn"],
                                input='{"order": {"amount": 1}}')  # fmt: skip
    assert (failed["status"], failed["error"], failed["cause"]) == (
        "FAILED",
        "TooSmall",
        "amount at most 100",
    )
    slow = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": True}}}
    timed = await world.client("CreateStateMachine", name="slow", type="EXPRESS",
                               definition=json.dumps(slow), roleArn=role)  # fmt: skip
    out = await world.client("StartSyncExecution", stateMachineArn=timed["stateMachineArn"])
    assert (out["status"], out["error"]) == ("TIMED_OUT", "States.Timeout")  # the world's 2 s
    standard = await machine(world, CHOICE, "standard")
    await world.fails("StartSyncExecution", "StateMachineTypeNotSupported",
                      stateMachineArn=standard)  # fmt: skip


async def test_another_gateway_takes_an_execution_up_after_its_wait(world: World) -> None:
    waits = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 30, "Next": "Done"},
        "Done": {"Type": "Pass", "Result": "other gateway", "End": True}}}  # fmt: skip
    arn = await machine(world, waits)
    run = await world.client("StartExecution", stateMachineArn=arn)
    assert await world.run() == 1  # gateway-a starts it, then it waits: a's lease given back
    other = ExecutionsRunner(
        world.executions, RunnerPolicy(lease_ms=60_000), "gateway-b",
        clock=world.clock.now, sleep=world.clock.sleep,
    )  # fmt: skip
    assert await other.run_pass(wait=True) == 0  # not due yet
    world.clock.offset += 30_000  # gateway-a gone: b takes it when due, not at a's lease's end
    assert await other.run_pass(wait=True) == 1
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert (done["status"], json.loads(done["output"])) == ("SUCCEEDED", "other gateway")


async def test_ended_executions_go_after_the_retention(world: World) -> None:
    arn = await machine(world, {"StartAt": "P", "States": {"P": {"Type": "Succeed"}}})
    run = await world.client("StartExecution", stateMachineArn=arn, name="once")
    keeper = ExecutionsRunner(
        world.executions, RunnerPolicy(retention_ms=86_400_000), "gateway-c",
        clock=world.clock.now, sleep=world.clock.sleep,
    )  # fmt: skip
    await keeper.run_pass(wait=True)
    assert (await world.client("DescribeExecution", executionArn=run["executionArn"]))[
        "status"
    ] == "SUCCEEDED"
    world.clock.offset += 86_400_000 + 1
    await keeper.run_pass(wait=True)
    await world.fails("DescribeExecution", "ExecutionDoesNotExist",
                      executionArn=run["executionArn"])  # fmt: skip
    again = await world.client("StartExecution", stateMachineArn=arn, name="once")
    assert again["executionArn"] == run["executionArn"]  # its name free again


async def test_a_sync_child_is_stopped_with_its_stopped_parent(world: World) -> None:
    """Decision 0383: a ``.sync`` task's job is stopped when the task is — the nested
    execution the stopped parent waited for is ABORTED with it, and runs no further."""
    role = await world.role("p", policy=allow("states:StartExecution"))
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}}
    child = (await world.client("CreateStateMachine", name="c", definition=json.dumps(waits),
                                roleArn=role))["stateMachineArn"]  # fmt: skip
    parent = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync",
        "Parameters": {"StateMachineArn": child, "Name": "kid"}, "End": True}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="par", definition=json.dumps(parent),
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    await world.run()  # the child starts and waits
    kid = child.replace(":stateMachine:", ":execution:") + ":kid"
    assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "RUNNING"
    await world.client("StopExecution", executionArn=run["executionArn"])
    assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "ABORTED"
    world.clock.offset += 10_000
    started = time.monotonic()
    await world.run()
    assert time.monotonic() - started < 1.0  # no retrying a parent that ended
    assert (await world.client("DescribeExecution", executionArn=kid))["status"] == "ABORTED"
    stopped = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert stopped["status"] == "ABORTED"


def fenced_trust(account: str, machines: str) -> str:
    """AWS's confused-deputy trust policy for Step Functions (decision 0321)."""
    return json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
                       "Action": "sts:AssumeRole",
                       "Condition": {"StringEquals": {"aws:SourceAccount": account},
                                     "ArnLike": {"aws:SourceArn": machines}}}],
    })  # fmt: skip


async def test_a_trust_fenced_to_the_state_machine_is_assumed_for_it_alone(world: World) -> None:
    url = await world.queue("work")
    definition = json.dumps({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": "hi"}, "End": True}}})  # fmt: skip
    account = world.tenant_id
    trust = fenced_trust(account, f"arn:aws:states:*:{account}:stateMachine:orders*")
    role = await world.role("fenced", trust=trust, policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name="orders", definition=definition,
                              roleArn=role)  # fmt: skip
    failed = await world.fails("CreateStateMachine", "AccessDeniedException", name="refunds",
                               definition=definition, roleArn=role)  # fmt: skip
    assert "states.amazonaws.com" in failed.message
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    # The trust narrowed to another machine after the fact: the task cannot assume the role.
    narrowed = fenced_trust(account, f"arn:aws:states:*:{account}:stateMachine:refunds")
    await world.identity.update_assume_role_policy(account, "fenced", narrowed)
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert (done["status"], done["error"]) == ("FAILED", "States.TaskFailed"), done
    assert await world.bodies("work") == ["hi"]


async def test_put_events_tasks_are_judged_with_each_entrys_keys(world: World) -> None:
    """Decision 0318's keys reach the ``events:putEvents`` integration: a role fenced to one
    source puts that source's events and fails the task on another's."""
    fenced = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "events:PutEvents", "Resource": "*",
        "Condition": {"StringEquals": {"events:source": "orders"},
                      "Bool": {"events:eventBusInvocation": "false"}}}]})  # fmt: skip
    role = await world.role("putter", policy=fenced)
    definition = {"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [{"Source.$": "$.source", "DetailType": "placed",
                                            "Detail": {"id": 1}}]},
                "End": True}}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="puts",
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    ok = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                            name="ok", input='{"source": "orders"}')  # fmt: skip
    refused = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                 name="refused", input='{"source": "billing"}')  # fmt: skip
    await world.run()
    done = await world.client("DescribeExecution", executionArn=ok["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"])["FailedEntryCount"] == 0
    failed = await world.client("DescribeExecution", executionArn=refused["executionArn"])
    assert failed["status"] == "FAILED"
    assert failed["error"] == "EventBridge.AccessDeniedException"
