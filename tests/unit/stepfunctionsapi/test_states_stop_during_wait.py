"""Decision 0393: a Wait or a retry's interval slept within a step (a Parallel's branch, an
inline Map's iteration — a standard execution's top-level Wait is durable already) ends at
the execution's stop or its ``TimeoutSeconds``, not at its end: the runner cancels the
step, told at once by this process's StopExecution, or within a second by its status when
another gateway stopped it. The sleeps here are real: an hour, unless the stop cuts them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from andromede.stepfunctions import halting
from andromede.stepfunctions.execution_service import ExecutionsService
from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from support.statesapp import World
from unit.stepfunctionsapi.test_states_task_tokens import allow


def waiting_then_sending(url: str, **extra: Any) -> str:
    """A Parallel whose branch waits an hour, then sends a message."""
    branch = {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Send"},
            "Send": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage",
                "Parameters": {"QueueUrl": url, "MessageBody": "late"},
                "End": True,
            },
        },
    }
    return json.dumps({**extra, "StartAt": "Both", "States": {"Both": {
        "Type": "Parallel", "End": True, "Branches": [branch]}}})  # fmt: skip


def real_runner(world: World) -> ExecutionsRunner:
    """The world's runner, but sleeping for real."""
    return ExecutionsRunner(world.executions, RunnerPolicy(pass_interval=0.05), "gateway-b",
                            tasks=world.runner._tasks, clock=world.clock.now,
                            sleep=asyncio.sleep)  # fmt: skip


async def started(world: World, definition: str) -> str:
    role = await world.role("sender", policy=allow("sqs:SendMessage"))
    made = await world.client("CreateStateMachine", name="waits", definition=definition,
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    return str(run["executionArn"])


async def stepping(runner: ExecutionsRunner) -> asyncio.Task[int]:
    """A pass driving the execution, let into its step's sleep."""
    driving = asyncio.create_task(runner.run_pass(wait=True))
    await asyncio.sleep(0.3)
    assert not driving.done()  # it sleeps in its step
    return driving


async def test_a_stop_ends_a_wait_within_a_branch_at_once(world: World) -> None:
    url = await world.queue("sent")
    arn = await started(world, waiting_then_sending(url))
    driving = await stepping(real_runner(world))
    began = time.monotonic()
    await world.client("StopExecution", executionArn=arn, error="Manual", cause="by hand")
    await asyncio.wait_for(driving, 10)  # the step ended with the stop, its sleep cut
    assert time.monotonic() - began < 5
    done = await world.client("DescribeExecution", executionArn=arn)
    assert (done["status"], done["error"]) == ("ABORTED", "Manual")
    kinds = await world.kinds(arn)
    # The step in flight keeps its events, then its states' aborted ones (decision 0407).
    assert kinds == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted",
                     "WaitStateEntered", "WaitStateAborted", "ParallelStateAborted",
                     "ExecutionAborted"]  # fmt: skip
    assert await world.bodies("sent") == []  # the branch's next state never ran


async def test_a_stop_ends_a_retry_interval_with_no_new_attempt(world: World) -> None:
    flaky = json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Parallel", "End": True,
        "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Flaky"}}}],
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 3600}]}}})  # fmt: skip
    arn = await started(world, flaky)
    driving = await stepping(real_runner(world))
    await world.client("StopExecution", executionArn=arn)
    assert await asyncio.wait_for(driving, 10) == 1
    kinds = await world.kinds(arn)
    assert kinds == ["ExecutionStarted", "ParallelStateEntered", "ParallelStateStarted",
                     "FailStateEntered", "ParallelStateFailed", "ParallelStateAborted",
                     "ExecutionAborted"]  # fmt: skip  # the first attempt, no second one


async def test_a_stop_by_another_gateway_is_seen_within_the_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another gateway process's StopExecution rings nothing here: the step asks its
    execution's status once a ``POLL_SECONDS`` while it runs."""
    monkeypatch.setattr(halting, "POLL_SECONDS", 0.05)
    url = await world.queue("sent")
    arn = await started(world, waiting_then_sending(url))
    driving = await stepping(real_runner(world))
    elsewhere = ExecutionsService(world.executions.store, world.machines, world.executions.limits)
    await elsewhere.stop(world.tenant_id, arn, None, None)
    await asyncio.wait_for(driving, 10)
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "ABORTED"
    assert await world.bodies("sent") == []
    # Its step ran in another process than the stop: its events are not handed over (0407).
    assert await world.kinds(arn) == ["ExecutionStarted", "ExecutionAborted"]


async def test_the_timeout_ends_a_wait_within_a_branch(world: World) -> None:
    url = await world.queue("sent")
    arn = await started(world, waiting_then_sending(url, TimeoutSeconds=1))
    began = time.monotonic()
    await asyncio.wait_for(real_runner(world).run_pass(wait=True), 10)
    assert time.monotonic() - began < 5
    done = await world.client("DescribeExecution", executionArn=arn)
    assert (done["status"], done["error"]) == ("TIMED_OUT", "States.Timeout")
    kinds = await world.kinds(arn)
    assert kinds[-3:] == ["WaitStateAborted", "ParallelStateAborted", "ExecutionTimedOut"]
    assert await world.bodies("sent") == []
