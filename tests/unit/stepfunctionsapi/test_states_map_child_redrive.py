"""Decision 0377 through the API, as boto3 calls it: RedriveExecution of a parent whose
distributed Map run failed redrives THAT run — only its child that failed runs again, under
its own ARN; the ones that succeeded are not run again and their outputs stay in the
results; the run, the child and ListExecutions say so. A parent stopped while its run went
on redrives that run too."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.stepfunctions.map_children import MapChild
from support.statesapp import REGION, World
from unit.stepfunctionsapi.test_states_map_runs import read


def sending(sent: str, later: str, **fields: Any) -> str:
    """Item "b" is sent to a queue that does not exist until the test makes it."""
    return json.dumps({"StartAt": "Map", "States": {"Map": {**fields,
        "Type": "Map", "End": True, "ItemsPath": "$.items", "Label": "orders",
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Where", "States": {
                "Where": {"Type": "Choice", "Default": "Send",
                          "Choices": [{"Variable": "$.id", "StringEquals": "b",
                                       "Next": "Later"}]},
                "Later": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                          "Parameters": {"QueueUrl": later, "MessageBody.$": "$.id"},
                          "ResultSelector": {"sent.$": "$.MD5OfMessageBody"},
                          "End": True},
                "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                         "Parameters": {"QueueUrl": sent, "MessageBody.$": "$.id"},
                         "ResultSelector": {"sent.$": "$.MD5OfMessageBody"},
                         "End": True}}}}}})  # fmt: skip


async def _children(world: World, run_arn: str, **filters: str) -> dict[str, dict[str, object]]:
    listed = await world.client("ListExecutions", mapRunArn=run_arn, **filters)
    return {e["executionArn"]: e for e in listed["executions"]}


async def test_a_redriven_parent_redrives_its_map_run_s_failed_child_only(world: World) -> None:
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch", definition=sending(sent, later),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    items = [{"id": name} for name in ("a", "c", "b")]
    parent = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                input=json.dumps({"items": items}))  # fmt: skip
    await world.run()
    failed = await world.client("DescribeExecution", executionArn=parent["executionArn"])
    assert failed["status"] == "FAILED", failed
    runs = await world.client("ListMapRuns", executionArn=parent["executionArn"])
    run_arn = runs["mapRuns"][0]["mapRunArn"]
    before = await _children(world, run_arn)
    [b_arn] = [a for a, e in before.items() if e["status"] == "FAILED"]
    b = await world.client("DescribeExecution", executionArn=b_arn)
    assert (b["redriveCount"], b["redriveStatus"]) == (0, "REDRIVABLE_BY_MAP_RUN"), b
    assert sorted(await world.bodies("sent")) == ["a", "c"]

    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent["executionArn"])
    await world.run()

    done = await world.client("DescribeExecution", executionArn=parent["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert [o["sent"] for o in json.loads(done["output"])] == [
        "0cc175b9c0f1b6a831c399e269772661",  # md5("a"): kept from the first run
        "4a8a08f09d37b73795649038408b5f33",
        "92eb5ffee6ae2fec3ad71c777531578f",
    ]
    assert await world.bodies("sent") == []  # a and c were not run again
    assert await world.bodies("later") == ["b"]
    assert "MapRunRedriven" in await world.kinds(parent["executionArn"])
    runs = await world.client("ListMapRuns", executionArn=parent["executionArn"])
    assert [r["mapRunArn"] for r in runs["mapRuns"]] == [run_arn]  # no new run
    described = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert described["status"] == "SUCCEEDED"
    assert described["redriveCount"] == 1 and "redriveDate" in described
    assert described["itemCounts"]["succeeded"] == 3
    assert described["itemCounts"]["pendingRedrive"] == 0

    after = await _children(world, run_arn)
    assert set(after) == set(before)  # the same children, b under its own ARN
    b = await world.client("DescribeExecution", executionArn=b_arn)
    assert (b["status"], b["redriveCount"]) == ("SUCCEEDED", 1), b
    assert "redriveDate" in b and b["redriveStatus"] == "NOT_REDRIVABLE"
    assert after[b_arn]["redriveCount"] == 1
    assert set(await _children(world, run_arn, redriveFilter="REDRIVEN")) == {b_arn}
    assert set(await _children(world, run_arn, redriveFilter="NOT_REDRIVEN")) == set(before) - {
        b_arn
    }
    kinds = await world.kinds(b_arn)
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert "ExecutionRedriven" in kinds and "ExecutionFailed" not in kinds


async def test_a_stopped_parent_s_redrive_redrives_its_aborted_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parent stopped while its run's second child begins: its redrive redrives that
    ABORTED run (found by the Map's Label: the stop wrote no failure naming it) — the first
    child, which succeeded, is not run again; the second runs again under its ARN."""
    sent = await world.queue("sent")
    saving = world.map_children.save
    parent: list[str] = []

    async def stopping_the_parent(child: MapChild) -> bool:
        written = await saving(child)
        if child.status == "RUNNING" and json.loads(child.input)["id"] == "c" and parent:
            await world.client("StopExecution", executionArn=parent.pop(), cause="by hand")
        return written

    monkeypatch.setattr(world.map_children, "save", stopping_the_parent)
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch", definition=sending(sent, sent),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    started = await world.client(
        "StartExecution",
        stateMachineArn=made["stateMachineArn"],
        input=json.dumps({"items": [{"id": "a"}, {"id": "c"}]}),
    )
    parent.append(started["executionArn"])
    await world.run()
    stopped = await world.client("DescribeExecution", executionArn=started["executionArn"])
    assert stopped["status"] == "ABORTED"
    assert await world.bodies("sent") == ["a"]
    run_arn = (await world.client("ListMapRuns", executionArn=started["executionArn"]))[
        "mapRuns"][0]["mapRunArn"]  # fmt: skip
    children = await _children(world, run_arn)
    assert sorted(str(e["status"]) for e in children.values()) == ["ABORTED", "SUCCEEDED"]
    [c_arn] = [a for a, e in children.items() if e["status"] == "ABORTED"]

    await world.client("RedriveExecution", executionArn=started["executionArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=started["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    assert await world.bodies("sent") == ["c"]
    described = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    assert set(await _children(world, run_arn)) == set(children)
    c = await world.client("DescribeExecution", executionArn=c_arn)
    assert (c["status"], c["redriveCount"]) == ("SUCCEEDED", 1)


async def test_a_run_redriven_1000_times_fails_its_map_state(world: World) -> None:
    """AWS's hard limit: past 1,000 redrives of a Map run, its parent's redrive fails the Map
    state with ``States.Runtime``; its children say they are not redrivable."""
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch", definition=sending(sent, later),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    parent = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                input=json.dumps({"items": [{"id": "b"}]}))  # fmt: skip
    await world.run()
    run_arn = (await world.client("ListMapRuns", executionArn=parent["executionArn"]))[
        "mapRuns"][0]["mapRunArn"]  # fmt: skip
    stored = await world.map_runs.get(world.tenant_id, run_arn)
    assert stored is not None
    world.map_runs._runs[(world.tenant_id, run_arn)] = stored.changed(redrive_count=1000)
    [b_arn] = await _children(world, run_arn)
    b = await world.client("DescribeExecution", executionArn=b_arn)
    assert b["redriveStatus"] == "NOT_REDRIVABLE"
    assert b["redriveStatusReason"] == "Map Run redrive limit exceeded"

    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent["executionArn"])
    await world.run()
    failed = await world.client("DescribeExecution", executionArn=parent["executionArn"])
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime"), failed
    assert await world.bodies("later") == []


async def test_the_redriven_run_s_results_hold_the_kept_and_the_new_outputs(
    world: World,
) -> None:
    """ResultWriter's files of the redriven run, under its same id: the children kept from
    the first attempt and the one run again, its ``RedriveCount`` 1."""
    await world.objects.create_bucket("outbox", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "s3:PutObject"],
         "Resource": "*"}]})  # fmt: skip
    writer = {"Resource": "arn:aws:states:::s3:putObject",
              "Parameters": {"Bucket": "outbox", "Prefix": "results"}}  # fmt: skip
    made = await world.client("CreateStateMachine", name="batch",
                              definition=sending(sent, later, ResultWriter=writer),
                              roleArn=await world.role("sender", policy=policy))  # fmt: skip
    items = [{"id": name} for name in ("a", "c", "b")]
    parent = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                input=json.dumps({"items": items}))  # fmt: skip
    await world.run()
    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent["executionArn"])
    await world.run()
    done = await world.client("DescribeExecution", executionArn=parent["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    run_id = output["MapRunArn"].rsplit(":", 1)[1]
    manifest = await read(world, "outbox", f"results/{run_id}/manifest.json")
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [
        f"results/{run_id}/SUCCEEDED_0.json"]  # fmt: skip
    assert manifest["ResultFiles"]["FAILED"] == []
    written = await read(world, "outbox", f"results/{run_id}/SUCCEEDED_0.json")
    counts = {json.loads(r["Input"])["id"]: r["RedriveCount"] for r in written}
    assert counts == {"a": 0, "c": 0, "b": 1}
    assert all(r["Status"] == "SUCCEEDED" and "Output" in r for r in written)
