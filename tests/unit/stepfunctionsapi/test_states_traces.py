"""Decision 0351: an execution keeps its caller's trace header (StartExecution's
``traceHeader``, botocore's member for ``X-Amzn-Trace-Id``) and its Task states call the
services with it — Lambda's Invoke (``lambda:invoke`` and a function's ARN, the handler run
in the real ``bwrap`` sandbox seeing it as ``_X_AMZN_TRACE_ID``, its lineage one run
further), an SQS message (its ``AWSTraceHeader``), a child execution — so that Lambda's
recursive loop detection counts a chain through a state machine. An execution started
without one passes none on; a ``traceHeader`` over AWS's 256 characters is refused."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from andromede.functions.lineage import Lineage, function_key
from andromede.queues.model import TRACE_HEADER
from support.lambdaapp import Functions, functions_over
from support.statesapp import World

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

TRACE = "Root=1-6756f2a0-0123456789abcdef01234567;Sampled=1"
SOURCE = """
import os

def handler(event, context):
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID")}
"""


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


@pytest.fixture
async def functions(world: World, tmp_path: Path) -> AsyncIterator[Functions]:
    async for made in functions_over(world.identity, world.audit, tmp_path / "fn"):
        world.lambdas.append(made.app)
        yield made


async def traces(world: World) -> list[str | None]:
    queue = await world.queues.get_queue(world.tenant_id, world.tenant_id, "sent")
    got = await world.queues.receive(queue, max_messages=10, visibility=30, wait=0)
    found = [m.payload.system.get(TRACE_HEADER) for m in got]
    return [None if one is None else one.string_value for one in found]


async def test_an_executions_tasks_carry_its_callers_trace(
    world: World, functions: Functions
) -> None:
    function_arn = await functions.create(world.tenant_id, "tracer", SOURCE)
    url = await world.queue("sent")
    definition = {"StartAt": "Invoke", "States": {
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "tracer"},
                   "ResultSelector": {"trace.$": "$.Payload.trace"}, "ResultPath": "$.invoke",
                   "Next": "Bare"},
        "Bare": {"Type": "Task", "Resource": function_arn,
                 "ResultPath": "$.bare", "Next": "Send"},
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": "sent"},
                 "ResultPath": None, "End": True}}}  # fmt: skip
    role = await world.role("tracer", policy=allow("lambda:InvokeFunction", "sqs:SendMessage"))
    machine = await world.client("CreateStateMachine", name="traced",
                                 definition=json.dumps(definition), roleArn=role)  # fmt: skip
    arn = machine["stateMachineArn"]
    key = function_key(world.tenant_id, "tracer")

    run = await world.client("StartExecution", stateMachineArn=arn, traceHeader=TRACE)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    for task in ("invoke", "bare"):
        seen = Lineage.parse(output[task]["trace"])
        assert seen.fields == tuple(TRACE.split(";")), output  # the caller's root, kept
        assert seen.counts == ((key, 1),)  # the function's first run in this chain
    assert await traces(world) == [TRACE]

    # Started without a trace: none passed on (each invocation begins a chain of its own).
    run = await world.client("StartExecution", stateMachineArn=arn, name="untraced")
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    output = json.loads(done["output"])
    roots = {Lineage.parse(output[task]["trace"]).fields[0] for task in ("invoke", "bare")}
    assert len(roots) == 2 and TRACE.split(";")[0] not in roots
    assert await traces(world) == [None]

    await world.fails(
        "StartExecution", "ValidationException", stateMachineArn=arn, traceHeader="x" * 257
    )


async def test_a_child_execution_goes_on_with_its_parents_trace(world: World) -> None:
    url = await world.queue("sent")
    child = {"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                 "Parameters": {"QueueUrl": url, "MessageBody": "child"},
                 "End": True}}}  # fmt: skip
    role = await world.role("parent", policy=allow("sqs:SendMessage", "states:StartExecution"))
    made = await world.client("CreateStateMachine", name="child",
                              definition=json.dumps(child), roleArn=role)  # fmt: skip
    parent = {"StartAt": "Start", "States": {
        "Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                  "Parameters": {"StateMachineArn": made["stateMachineArn"]},
                  "End": True}}}  # fmt: skip
    machine = await world.client("CreateStateMachine", name="parent",
                                 definition=json.dumps(parent), roleArn=role)  # fmt: skip
    await world.client(
        "StartExecution", stateMachineArn=machine["stateMachineArn"], traceHeader=TRACE
    )
    await world.run()
    await world.run()  # the child, started by the parent
    assert await traces(world) == [TRACE]
