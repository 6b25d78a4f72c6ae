"""Decision 0383 through the API, as boto3 calls it: a redriven Map run runs each child with
the input it had — an S3 item source changed since the failure pairs no item with another's
child —; a child that cannot be redriven is left as it ended and counted in
``failuresNotRedrivable``; a run whose children were kept before their item index was (before
migration 0154) is not redriven: a new run starts."""

from __future__ import annotations

import json
from typing import Any

from support.statesapp import REGION, World
from unit.stepfunctionsapi.test_states_map_runs import put

GET = "arn:aws:states:::s3:getObject"
ALLOWED = {"Effect": "Allow", "Action": ["sqs:SendMessage", "s3:GetObject"], "Resource": "*"}
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [ALLOWED]})


def sending(sent: str, later: str, kind: str = "STANDARD", **fields: Any) -> str:
    """Item "b" is sent to a queue that does not exist until the test makes it."""
    items = fields or {"ItemsPath": "$.items"}
    return json.dumps({"StartAt": "Map", "States": {"Map": {**items,
        "Type": "Map", "End": True, "Label": "orders", "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": kind},
            "StartAt": "Where", "States": {
                "Where": {"Type": "Choice", "Default": "Send",
                          "Choices": [{"Variable": "$.id", "StringEquals": "b",
                                       "Next": "Later"}]},
                "Later": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                          "Parameters": {"QueueUrl": later, "MessageBody.$": "$.id"},
                          "ResultSelector": {"id.$": "$.MD5OfMessageBody"}, "End": True},
                "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                         "Parameters": {"QueueUrl": sent, "MessageBody.$": "$.id"},
                         "ResultSelector": {"id.$": "$.MD5OfMessageBody"},
                         "End": True}}}}}})  # fmt: skip


async def _failed(world: World, definition: str, items: list[str]) -> tuple[str, str]:
    """A parent whose Map run failed at item "b": its ARN and its run's."""
    made = await world.client("CreateStateMachine", name="batch", definition=definition,
                              roleArn=await world.role("sender", policy=POLICY))  # fmt: skip
    given = json.dumps({"items": [{"id": i} for i in items]})
    parent = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                                input=given)  # fmt: skip
    await world.run()
    failed = await world.client("DescribeExecution", executionArn=parent["executionArn"])
    assert failed["status"] == "FAILED", failed
    runs = await world.client("ListMapRuns", executionArn=parent["executionArn"])
    return parent["executionArn"], runs["mapRuns"][0]["mapRunArn"]


async def _children(world: World, run_arn: str) -> dict[str, dict[str, Any]]:
    listed = await world.client("ListExecutions", mapRunArn=run_arn)
    return {e["executionArn"]: e for e in listed["executions"]}


async def test_a_changed_s3_source_redrives_each_child_with_its_own_input(world: World) -> None:
    """EXPRESS children (AWS starts them anew): the object now holds other items, more of
    them; the redrive still runs "b" — the failed child's input — and nothing else, and the
    run counts the items it began with."""
    await world.objects.create_bucket("inbox", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    await put(world, "inbox", "items.json", json.dumps([{"id": i} for i in "acb"]))
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    reader = {"Resource": GET, "ReaderConfig": {"InputType": "JSON"},
              "Parameters": {"Bucket": "inbox", "Key": "items.json"}}  # fmt: skip
    parent, run_arn = await _failed(world, sending(sent, later, "EXPRESS", ItemReader=reader), [])
    assert sorted(await world.bodies("sent")) == ["a", "c"]

    await put(world, "inbox", "items.json", json.dumps([{"id": i} for i in "xybw"]))
    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=parent)
    assert done["status"] == "SUCCEEDED", done
    assert await world.bodies("later") == ["b"]
    assert await world.bodies("sent") == []  # x, y and w were never this run's items
    assert len(json.loads(done["output"])) == 3
    described = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert (described["status"], described["redriveCount"]) == ("SUCCEEDED", 1)
    counts = described["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["pendingRedrive"]) == (3, 3, 0)


async def test_a_child_that_cannot_be_redriven_is_left_and_counted(world: World) -> None:
    """Child "b" ended before the redrivable period: AWS's NOT_REDRIVABLE. The parent's
    redrive redrives the run, but not "b": it stays FAILED, is counted in
    ``failuresNotRedrivable`` (items and executions), and — past the run's tolerated
    failures — fails the run again."""
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    parent, run_arn = await _failed(world, sending(sent, later), ["a", "b"])
    [b_arn] = [a for a, e in (await _children(world, run_arn)).items() if e["status"] == "FAILED"]
    b = await world.map_children.get(world.tenant_id, b_arn)
    assert b is not None and b.stopped is not None
    long_ago = b.stopped - 15 * 86_400_000
    assert await world.map_children.save(b.changed(stopped=long_ago))
    described = await world.client("DescribeExecution", executionArn=b_arn)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Execution redrivable period exceeded."
    assert await world.bodies("sent") == ["a"]

    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent)
    await world.run()
    again = await world.client("DescribeExecution", executionArn=parent)
    assert (again["status"], again["error"]) == ("FAILED", "States.ExceedToleratedFailureThreshold")
    assert await world.bodies("later") == [] and await world.bodies("sent") == []
    run = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert (run["status"], run["redriveCount"]) == ("FAILED", 1)
    for counts in (run["itemCounts"], run["executionCounts"]):
        assert (counts["failed"], counts["failuresNotRedrivable"]) == (1, 1), counts
        assert (counts["succeeded"], counts["pendingRedrive"]) == (1, 0), counts
    b_now = await world.client("DescribeExecution", executionArn=b_arn)
    assert (b_now["status"], b_now["redriveCount"]) == ("FAILED", 0)


async def test_a_run_kept_before_item_indexes_starts_anew(world: World) -> None:
    """Children kept before migration 0154 say no item index: which item each ran is not
    known, so the run is not redriven (its children say so) — a new run runs every item."""
    sent = await world.queue("sent")
    later = sent.rsplit("/", 1)[0] + "/later"
    parent, run_arn = await _failed(world, sending(sent, later), ["a", "b"])
    for arn in await _children(world, run_arn):
        child = await world.map_children.get(world.tenant_id, arn)
        assert child is not None
        world.map_children._children[(world.tenant_id, arn)] = child.changed(index=None)
    [b_arn] = [a for a, e in (await _children(world, run_arn)).items() if e["status"] == "FAILED"]
    b = await world.client("DescribeExecution", executionArn=b_arn)
    assert b["redriveStatus"] == "NOT_REDRIVABLE" and "new Map Run" in b["redriveStatusReason"]
    assert await world.bodies("sent") == ["a"]

    await world.queue("later")
    await world.client("RedriveExecution", executionArn=parent)
    await world.run()
    done = await world.client("DescribeExecution", executionArn=parent)
    assert done["status"] == "SUCCEEDED", done
    runs = await world.client("ListMapRuns", executionArn=parent)
    assert len(runs["mapRuns"]) == 2  # the old one left as it ended
    old = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert (old["status"], old["redriveCount"]) == ("FAILED", 0)
    assert await world.bodies("sent") == ["a"] and await world.bodies("later") == ["b"]
