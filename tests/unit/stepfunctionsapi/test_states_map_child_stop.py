"""Decision 0374 through the API, as boto3 calls it: a Map run's STANDARD child stopped by
StopExecution while it runs stops at its next state transition — no further state of it
runs (here: no task sends its message), its record stays StopExecution's, and its run
counts it ``aborted`` while the other children run to their end."""

from __future__ import annotations

import json

import pytest

from andromede.stepfunctions.map_children import MapChild, MemoryMapChildStore
from support.statesapp import World


def sending(url: str) -> str:
    return json.dumps({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": True, "ItemsPath": "$.items", "Label": "orders",
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Pass", "Next": "Send"},
                "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                         "Parameters": {"QueueUrl": url, "MessageBody.$": "$.id"},
                         "End": True}}}}}})  # fmt: skip


async def test_a_stopped_child_runs_no_further_state(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = await world.queue("sent")
    saving = world.map_children.save
    stopped: list[str] = []

    async def stopping_the_second(child: MapChild) -> bool:
        """The second child stopped as it begins: before its first transition."""
        written = await saving(child)
        if child.status == "RUNNING" and json.loads(child.input)["id"] == "b":
            stopped.append(child.arn)
            await world.client("StopExecution", executionArn=child.arn, cause="by hand")
        return written

    monkeypatch.setattr(world.map_children, "save", stopping_the_second)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch", definition=sending(url),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    items = [{"id": name} for name in ("a", "b", "c")]
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps({"items": items}))  # fmt: skip
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done

    assert sorted(await world.bodies("sent")) == ["a", "c"]  # b sent nothing
    described = await world.client("DescribeExecution", executionArn=stopped[0])
    assert (described["status"], described["cause"]) == ("ABORTED", "by hand")
    history = await world.client("GetExecutionHistory", executionArn=stopped[0])
    assert [e["type"] for e in history["events"]] == ["ExecutionStarted", "ExecutionAborted"]
    run_arn = (await world.client("ListMapRuns", executionArn=run["executionArn"]))["mapRuns"][0][
        "mapRunArn"
    ]
    counts = (await world.client("DescribeMapRun", mapRunArn=run_arn))["executionCounts"]
    assert (counts["succeeded"], counts["aborted"], counts["failed"]) == (2, 1, 0)
    output = json.loads(done["output"])
    assert output[1] == {"Error": "States.Aborted", "Cause": "The child was stopped"}


async def test_a_child_aborted_with_its_stopped_parent_runs_no_further_state(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent stopped while a child begins: the child, aborted with its run (0369),
    stops at its next transition too, its task never sent."""
    url = await world.queue("sent")
    saving = world.map_children.save
    parent: list[str] = []

    async def stopping_the_parent(child: MapChild) -> bool:
        written = await saving(child)
        if child.status == "RUNNING" and json.loads(child.input)["id"] == "a":
            await world.client("StopExecution", executionArn=parent[0], cause="by hand")
        return written

    monkeypatch.setattr(world.map_children, "save", stopping_the_parent)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch", definition=sending(url),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps({"items": [{"id": "a"}]}))  # fmt: skip
    parent.append(run["executionArn"])
    await world.run()
    assert await world.bodies("sent") == []
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "ABORTED"
    run_arn = (await world.client("ListMapRuns", executionArn=run["executionArn"]))["mapRuns"][0][
        "mapRunArn"
    ]
    child = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"][0]
    assert child["status"] == "ABORTED"


class _StoppingOnSleep(list[float]):
    """The clock's record of sleeps: the first sleep (a retry's interval) stops the child,
    as a StopExecution coming while it waits would (the store's record made ABORTED)."""

    def __init__(self, store: MemoryMapChildStore) -> None:
        super().__init__()
        self.store = store

    def append(self, seconds: float) -> None:
        super().append(seconds)
        for child in self.store._children.values():
            if child.status == "RUNNING":
                self.store._children[(child.tenant_id, child.arn)] = child.changed(
                    status="ABORTED", stopped=child.started
                )


async def test_a_child_stopped_during_a_retry_makes_no_further_attempt(world: World) -> None:
    assert isinstance(world.map_children, MemoryMapChildStore)
    world.clock.slept = _StoppingOnSleep(world.map_children)
    gone = f"http://127.0.0.1:9000/{world.tenant_id}/no-such-queue"
    definition = json.loads(sending(gone))
    send = definition["States"]["Map"]["ItemProcessor"]["States"]["Send"]
    send["Retry"] = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3, "IntervalSeconds": 1}]
    made = await world.client("CreateStateMachine", name="batch",
                              definition=json.dumps(definition),
                              roleArn=await world.role("sender"))  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps({"items": [{"id": "a"}]}))  # fmt: skip
    await world.run()
    assert list(world.clock.slept) == [1.0]  # one interval slept, no attempt after it
    run_arn = (await world.client("ListMapRuns", executionArn=run["executionArn"]))["mapRuns"][0][
        "mapRunArn"
    ]
    counts = (await world.client("DescribeMapRun", mapRunArn=run_arn))["executionCounts"]
    assert (counts["aborted"], counts["failed"]) == (1, 0)
