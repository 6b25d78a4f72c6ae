"""Decision 0294's Lambda tasks: ``arn:aws:states:::lambda:invoke`` (its answer as AWS's
optimized integration gives it), ``.waitForTaskToken`` and a function's ARN as the resource
call Lambda's Invoke in process as the state machine's role, the handler run in the real
``bwrap`` sandbox. The role's identity policies or the function's resource-based policy
must allow ``lambda:InvokeFunction`` (``Lambda.AWSLambdaException`` otherwise); a
function's failure is its ``errorType``, caught by Catch; a missing function is
``Lambda.ResourceNotFoundException``."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.functions.record_service import FunctionRecords
from support.lambdaapp import Functions, functions_over
from support.statesapp import World

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

SOURCE = """
def handler(event, context):
    if isinstance(event, dict) and event.get("fail"):
        raise ValueError("no " + str(event["fail"]))
    if isinstance(event, dict) and "token" in event:
        print("token=" + event["token"])
    return {"seen": event, "version": context.function_version}
"""


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


@pytest.fixture
async def functions(world: World, tmp_path: Path) -> AsyncIterator[Functions]:
    async for made in functions_over(world.identity, world.audit, tmp_path / "fn"):
        world.lambdas.append(made.app)
        yield made


async def execute(
    world: World, name: str, states: dict[str, Any], role: str, given: Any
) -> dict[str, Any]:
    definition = {"StartAt": next(iter(states)), "States": states}
    made = await world.client("CreateStateMachine", name=name,
                              definition=json.dumps(definition), roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps(given))  # fmt: skip
    await world.run()
    return await world.client("DescribeExecution", executionArn=run["executionArn"])


async def test_lambda_invoke_answers_as_aws(world: World, functions: Functions) -> None:
    await functions.create(world.tenant_id, "work", SOURCE, Publish=True)
    role = await world.role("invoker", policy=allow("lambda:InvokeFunction"))
    done = await execute(world, "invoke", {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "work", "Qualifier": "1",
                                "Payload": {"order.$": "$.order", "fixed": 1}},
                 "ResultSelector": {"payload.$": "$.Payload", "status.$": "$.StatusCode",
                                    "version.$": "$.ExecutedVersion",
                                    "code.$": "$.SdkHttpMetadata.HttpStatusCode"},
                 "End": True}}, role, {"order": "o-1"})  # fmt: skip
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {
        "payload": {"seen": {"order": "o-1", "fixed": 1}, "version": "1"},
        "status": 200, "version": "1", "code": 200}  # fmt: skip
    assert functions.meters.counted[(world.tenant_id, "lambda.requests")] == 1
    # Lambda audited the call as the role's session.
    audited = await world.audited()
    assert (
        "lambda:Invoke",
        f"arn:aws:lambda:eu-fr-1:{world.tenant_id}:function:work:1",
        "success",
    ) in audited


async def test_the_role_or_the_functions_policy_must_allow(
    world: World, functions: Functions
) -> None:
    await functions.create(world.tenant_id, "guarded", SOURCE)
    role = await world.role("bare", policy=allow("sqs:SendMessage"))
    task = {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": "guarded", "Payload.$": "$"},
                     "OutputPath": "$.Payload", "End": True}}  # fmt: skip
    refused = await execute(world, "refused", task, role, {"a": 1})
    assert refused["status"] == "FAILED"
    assert refused["error"] == "Lambda.AWSLambdaException"
    assert "not authorized to perform: lambda:InvokeFunction" in refused["cause"]
    assert "Error Code: AccessDeniedException" in refused["cause"]
    # Within the account, the function's resource-based policy naming the role suffices.
    await functions.permit(world.tenant_id, "guarded", StatementId="sfn", Principal=role,
                           Action="lambda:InvokeFunction")  # fmt: skip
    allowed = await execute(world, "allowed", task, role, {"a": 1})
    assert allowed["status"] == "SUCCEEDED", allowed
    assert json.loads(allowed["output"]) == {"seen": {"a": 1}, "version": "$LATEST"}


async def test_function_errors_are_caught_by_their_type(world: World, functions: Functions) -> None:
    arn = await functions.create(world.tenant_id, "flaky", SOURCE)
    role = await world.role("catcher", policy=allow("lambda:InvokeFunction"))
    states = {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                 "Catch": [{"ErrorEquals": ["ValueError"], "ResultPath": "$.error",
                            "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}  # fmt: skip
    caught = await execute(world, "catch", states, role, {"fail": "luck"})
    assert caught["status"] == "SUCCEEDED", caught
    error = json.loads(caught["output"])["error"]
    assert error["Error"] == "ValueError"
    assert json.loads(error["Cause"])["errorMessage"] == "no luck"
    missing = await execute(world, "missing", {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "nowhere"}, "End": True}}, role, {})  # fmt: skip
    assert missing["status"] == "FAILED"
    assert missing["error"] == "Lambda.ResourceNotFoundException"


async def test_a_functions_arn_as_the_resource(world: World, functions: Functions) -> None:
    arn = await functions.create(world.tenant_id, "legacy", SOURCE)
    role = await world.role("legacy", policy=allow("lambda:InvokeFunction"))
    done = await execute(world, "legacy", {
        "Call": {"Type": "Task", "Resource": arn, "InputPath": "$.inner",
                 "ResultPath": "$.result", "End": True}}, role, {"inner": [1, 2]})  # fmt: skip
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {
        "inner": [1, 2], "result": {"seen": [1, 2], "version": "$LATEST"}}  # fmt: skip
    kinds = await world.kinds(done["executionArn"])
    assert kinds[2:6] == ["LambdaFunctionScheduled", "LambdaFunctionStarted",
                          "LambdaFunctionSucceeded", "TaskStateExited"]  # fmt: skip
    history = await world.client("GetExecutionHistory", executionArn=done["executionArn"])
    scheduled = history["events"][2]["lambdaFunctionScheduledEventDetails"]
    assert (scheduled["resource"], json.loads(scheduled["input"])) == (arn, [1, 2])
    failed = await execute(world, "legacy-fails", {
        "Call": {"Type": "Task", "Resource": arn, "End": True}}, role, {"fail": "x"})  # fmt: skip
    assert (failed["status"], failed["error"]) == ("FAILED", "ValueError")
    assert "LambdaFunctionFailed" in await world.kinds(failed["executionArn"])


async def test_event_invocations_and_task_tokens(world: World, functions: Functions) -> None:
    await functions.create(world.tenant_id, "callback", SOURCE)
    role = await world.role("tokens", policy=allow("lambda:InvokeFunction"))
    queued = await execute(world, "event", {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "callback", "InvocationType": "Event",
                                "Payload": {}}, "End": True}}, role, {})  # fmt: skip
    assert queued["status"] == "SUCCEEDED", queued
    answer = json.loads(queued["output"])
    assert (answer["StatusCode"], answer["Payload"]) == (202, "")
    assert len(await functions.queue.claim("test", 2**62, 1000, 10)) == 1
    parked = await execute(world, "wait", {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                 "Parameters": {"FunctionName": "callback",
                                "Payload": {"token.$": "$$.Task.Token"}},
                 "End": True}}, role, {})  # fmt: skip
    assert parked["status"] == "RUNNING"
    (token,) = [m.removeprefix("token=") for *_, m in functions.logs.written
                if m.startswith("token=")]  # fmt: skip
    await world.client("SendTaskSuccess", taskToken=token, output='{"approved": true}')
    await world.run()
    done = await world.client("DescribeExecution", executionArn=parked["executionArn"])
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"approved": True}


async def test_a_throttle_is_retried_by_its_name(world: World, functions: Functions) -> None:
    await functions.create(world.tenant_id, "busy", SOURCE)
    await FunctionRecords(functions.service).put_concurrency(world.tenant_id, "busy", 0)
    role = await world.role("throttled", policy=allow("lambda:InvokeFunction"))
    states = {
        "Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                 "Parameters": {"FunctionName": "busy"},
                 "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"],
                            "IntervalSeconds": 1, "MaxAttempts": 2}],
                 "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Gave up"}],
                 "End": True},
        "Gave up": {"Type": "Pass", "End": True}}  # fmt: skip
    done = await execute(world, "throttled", states, role, {})
    for _ in range(3):  # the retries' sleeps are the test clock's
        await world.run()
    done = await world.client("DescribeExecution", executionArn=done["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert world.clock.slept == [1.0, 2.0]  # retried twice, then caught
    history = await world.client("GetExecutionHistory", executionArn=done["executionArn"])
    failed = [e["taskFailedEventDetails"]["error"] for e in history["events"]
              if e["type"] == "TaskFailed"]  # fmt: skip
    assert failed == ["Lambda.TooManyRequestsException"] * 3


async def test_another_accounts_function_needs_both_policies(
    world: World, functions: Functions
) -> None:
    other = await world.other_tenant("owner")
    arn = await functions.create(other.tenant_id, "shared", SOURCE)
    role = await world.role("crosser", policy=allow("lambda:InvokeFunction"))
    task = {"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                     "Parameters": {"FunctionName": arn, "Payload": {"x": 1}},
                     "OutputPath": "$.Payload.seen", "End": True}}  # fmt: skip
    refused = await execute(world, "cross-refused", task, role, {})
    assert refused["error"] == "Lambda.AWSLambdaException"
    assert "no resource-based policy allows" in refused["cause"]
    await functions.permit(other.tenant_id, "shared", StatementId="partner",
                           Principal=world.tenant_id, Action="lambda:InvokeFunction")  # fmt: skip
    allowed = await execute(world, "cross-allowed", task, role, {})
    assert allowed["status"] == "SUCCEEDED", allowed
    assert json.loads(allowed["output"]) == {"x": 1}
