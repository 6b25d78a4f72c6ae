"""Decision 0271's tasks answered by their token: a ``.waitForTaskToken`` integration sends
``$$.Task.Token`` and the execution parks (durably: nothing drives it) until
SendTaskSuccess, SendTaskFailure (caught by Catch, retried by Retry) or its heartbeat's or
TimeoutSeconds' deadline; a token answers once, only its own account, and a changed byte
makes it no token."""

from __future__ import annotations

import json
from typing import Any

from support.statesapp import World


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


async def started(world: World, task: dict[str, Any], name: str = "callback") -> str:
    url = await world.queue(f"{name}-q")
    definition = {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": url,
                               "MessageBody": {"token.$": "$$.Task.Token", "id.$": "$.id"}},
                "ResultPath": "$.answer", **task},
        "Caught": {"Type": "Pass", "End": True}}}  # fmt: skip
    if "Catch" not in task:
        definition["States"].pop("Caught")
    role = await world.role(f"{name}-role", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name=name,
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input='{"id": 7}')  # fmt: skip
    await world.run()
    return str(run["executionArn"])


async def token_of(world: World, name: str = "callback") -> str:
    (body,) = await world.bodies(f"{name}-q")
    message = json.loads(body)
    assert message["id"] == 7
    return str(message["token"])


async def test_send_task_success_resumes_the_parked_execution(world: World) -> None:
    execution = await started(world, {"End": True})
    token = await token_of(world)
    parked = await world.client("DescribeExecution", executionArn=execution)
    assert parked["status"] == "RUNNING"
    assert await world.run() == 0  # parked: nothing to drive
    await world.fails("SendTaskSuccess", "InvalidOutput", taskToken=token, output="{nope")
    other = await world.other_tenant("other")
    await other.fails("SendTaskSuccess", "InvalidToken", taskToken=token, output="{}")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    await world.fails("SendTaskSuccess", "InvalidToken", taskToken=tampered, output="{}")
    await world.client("SendTaskSuccess", taskToken=token, output='{"approved": true}')
    await world.fails("SendTaskSuccess", "TaskTimedOut", taskToken=token, output="{}")
    await world.run()
    done = await world.client("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"id": 7, "answer": {"approved": True}}
    kinds = await world.kinds(execution)
    assert kinds == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                     "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]  # fmt: skip
    await world.fails("SendTaskHeartbeat", "TaskTimedOut", taskToken=token)


async def test_failure_retry_catch_and_deadlines(world: World) -> None:
    execution = await started(world, {
        "End": True,
        "Retry": [{"ErrorEquals": ["Rejected"], "IntervalSeconds": 30, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.why", "Next": "Caught"}],
    })  # fmt: skip
    first = await token_of(world)
    await world.client("SendTaskFailure", taskToken=first, error="Rejected", cause="no")
    await world.run()  # failed, retried after 30 s: waits, durably
    assert await world.bodies("callback-q") == []
    world.clock.offset += 30_000
    await world.run()
    second = await token_of(world)
    assert second != first
    await world.client("SendTaskFailure", taskToken=second, error="Rejected", cause="again")
    await world.run()
    done = await world.client("DescribeExecution", executionArn=execution)
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["why"] == {"Error": "Rejected", "Cause": "again"}
    beat = await started(world, {"End": True, "HeartbeatSeconds": 10, "TimeoutSeconds": 60},
                         "beat")  # fmt: skip
    token = await token_of(world, "beat")
    world.clock.offset += 8_000
    await world.client("SendTaskHeartbeat", taskToken=token)
    world.clock.offset += 8_000  # 16 s in: the heartbeat moved the deadline to 18 s
    assert await world.run() == 0
    world.clock.offset += 3_000
    await world.run()
    late = await world.client("DescribeExecution", executionArn=beat)
    assert (late["status"], late["error"]) == ("FAILED", "States.HeartbeatTimeout")
    kinds = [e["type"] for e in (await world.client("GetExecutionHistory",
                                                     executionArn=beat))["events"]]  # fmt: skip
    assert kinds[-2:] == ["TaskTimedOut", "ExecutionFailed"]
