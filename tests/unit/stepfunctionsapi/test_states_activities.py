"""Decision 0271's activities: created (idempotently), described, listed in pages, bounded,
deleted; a Task on an activity parks its execution until a worker takes the task
(GetActivityTask, a long poll answering nothing when none comes, one worker a task) and
answers it by its token (SendTaskSuccess, SendTaskFailure); AWS's Activity history events;
IAM on the activity's ARN; accounts isolated."""

from __future__ import annotations

import json

from support.statesapp import World


async def test_activities_are_made_listed_and_deleted(world: World) -> None:
    made = await world.client("CreateActivity", name="review", tags=[{"key": "t", "value": "1"}])
    arn = made["activityArn"]
    assert arn == f"arn:aws:states:eu-fr-1:{world.tenant_id}:activity:review"
    assert (await world.client("CreateActivity", name="review"))["activityArn"] == arn
    described = await world.client("DescribeActivity", activityArn=arn)
    assert described["name"] == "review"
    await world.client("CreateActivity", name="approve")
    await world.client("CreateActivity", name="ship")
    await world.fails("CreateActivity", "ActivityLimitExceeded", name="more")
    first = await world.client("ListActivities", maxResults=2)
    assert [a["name"] for a in first["activities"]] == ["approve", "review"]
    rest = await world.client("ListActivities", nextToken=first["nextToken"])
    assert [a["name"] for a in rest["activities"]] == ["ship"]
    tags = await world.client("ListTagsForResource", resourceArn=arn)
    assert tags["tags"] == [{"key": "t", "value": "1"}]
    await world.client("TagResource", resourceArn=arn, tags=[{"key": "u", "value": "2"}])
    await world.client("UntagResource", resourceArn=arn, tagKeys=["t"])
    assert (await world.client("ListTagsForResource", resourceArn=arn))["tags"] == [
        {"key": "u", "value": "2"}
    ]
    await world.client("DeleteActivity", activityArn=arn)
    await world.fails("ListTagsForResource", "ResourceNotFound", resourceArn=arn)
    await world.fails("DescribeActivity", "ActivityDoesNotExist", activityArn=arn)
    await world.fails("DescribeActivity", "InvalidArn", activityArn="arn:aws:states:x")
    other = await world.other_tenant("other")
    assert (await other.client("ListActivities"))["activities"] == []


async def test_a_worker_takes_and_answers_activity_tasks(world: World) -> None:
    arn = (await world.client("CreateActivity", name="review"))["activityArn"]
    definition = {"StartAt": "Review", "States": {
        "Review": {"Type": "Task", "Resource": arn, "Parameters": {"doc.$": "$.doc"},
                   "ResultPath": "$.review",
                   "Catch": [{"ErrorEquals": ["Refused"], "ResultPath": "$.why",
                              "Next": "Refused"}], "End": True},
        "Refused": {"Type": "Fail", "Error": "Refused"}}}  # fmt: skip
    role = await world.role()
    machine = await world.client("CreateStateMachine", name="docs",
                                 definition=json.dumps(definition), roleArn=role)  # fmt: skip
    assert await world.client("GetActivityTask", activityArn=arn) == {}  # none: long poll ends
    runs = [
        (await world.client("StartExecution", stateMachineArn=machine["stateMachineArn"],
                            name=name, input=json.dumps({"doc": name})))["executionArn"]
        for name in ("a", "b")
    ]  # fmt: skip
    await world.run()
    first = await world.client("GetActivityTask", activityArn=arn, workerName="w1")
    second = await world.client("GetActivityTask", activityArn=arn, workerName="w2")
    assert {json.loads(first["input"])["doc"], json.loads(second["input"])["doc"]} == {"a", "b"}
    assert await world.client("GetActivityTask", activityArn=arn) == {}  # each given once
    await world.client("SendTaskSuccess", taskToken=first["taskToken"], output='{"ok": true}')
    await world.client("SendTaskFailure", taskToken=second["taskToken"], error="Refused",
                       cause="typos")  # fmt: skip
    await world.run()
    outcomes = {}
    for run in runs:
        described = await world.client("DescribeExecution", executionArn=run)
        outcomes[described["name"]] = described["status"]
    by_doc = {json.loads(first["input"])["doc"]: "SUCCEEDED",
              json.loads(second["input"])["doc"]: "FAILED"}  # fmt: skip
    assert outcomes == by_doc
    succeeded = next(r for r in runs if outcomes[r.rsplit(":", 1)[-1]] == "SUCCEEDED")
    kinds = await world.kinds(succeeded)
    assert kinds == ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                     "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                     "ExecutionSucceeded"]  # fmt: skip
    user = await world.iam_user("worker")
    denied = await user.fails("GetActivityTask", "AccessDeniedException", activityArn=arn)
    assert "states:GetActivityTask" in denied.message
