"""Decision 0295's event source mappings through botocore's ``lambda`` model in process:
CreateEventSourceMapping's checks (the queue, the parameters, the execution role's SQS
permissions, one mapping per function and queue), Get, List with its filters and pages,
Update and Delete with AWS's states; then the poller (the function run in the real ``bwrap``
sandbox): a batch given as AWS's SQS event and deleted, a failure leaving the messages,
``batchItemFailures``, ``FilterCriteria``, a disabled mapping, and a mapping's deletion."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.lambda_mappings import MappingWorld, mapping_world
from support.lambdaapp import handler_zip

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None,
    reason="bubblewrap is not installed (scripts/install-system-deps.sh installs it)",
)

# Fails the messages whose body says so: all of them by an exception, or some by name.
SOURCE = """
import json

def handler(event, context):
    bodies = [r["body"] for r in event["Records"]]
    print("got", json.dumps(event))
    if "boom" in bodies:
        raise RuntimeError("asked to fail")
    return {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] == "retry"
    ]}
"""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[MappingWorld]:
    async for made in mapping_world(tmp_path):
        yield made


async def _function(world: MappingWorld, name: str = "consumer") -> str:
    role = await world.reader_role()
    made = await world.lam.function(name, Role=role, Code={"ZipFile": handler_zip(SOURCE)})
    return str(made["FunctionArn"])


async def test_created_read_listed_updated_and_deleted(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs")
    made = await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="consumer", BatchSize=5
    )
    assert made["State"] == "Creating" and made["BatchSize"] == 5
    assert made["FunctionArn"].endswith(":function:consumer")
    assert made["EventSourceMappingArn"].endswith(f":event-source-mapping:{made['UUID']}")
    await world.poller.run_pass()
    got = await world.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert (got["State"], got["StateTransitionReason"]) == ("Enabled", "USER_INITIATED")
    assert got["MaximumBatchingWindowInSeconds"] == 0
    again = await world.lam.fails(
        "CreateEventSourceMapping", "ResourceConflictException",
        EventSourceArn=queue, FunctionName="consumer",
    )  # fmt: skip
    assert made["UUID"] in again.message
    changed = await world.lam.client(
        "UpdateEventSourceMapping", UUID=made["UUID"], Enabled=False, BatchSize=100,
        MaximumBatchingWindowInSeconds=2, FunctionResponseTypes=["ReportBatchItemFailures"],
        ScalingConfig={"MaximumConcurrency": 2},
    )  # fmt: skip
    assert changed["State"] == "Disabling" and changed["BatchSize"] == 100
    assert changed["ScalingConfig"] == {"MaximumConcurrency": 2}
    await world.poller.run_pass()
    got = await world.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert got["State"] == "Disabled"
    assert got["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    gone = await world.lam.client("DeleteEventSourceMapping", UUID=made["UUID"])
    assert gone["State"] == "Deleting"
    await world.lam.fails("UpdateEventSourceMapping", "ResourceInUseException",
        UUID=made["UUID"], BatchSize=3)  # fmt: skip
    await world.poller.run_pass()
    await world.lam.fails("GetEventSourceMapping", "ResourceNotFoundException", UUID=made["UUID"])
    await world.lam.audit.flush()
    listed = await world.lam.audit_store.list_events(None, after_id=0, limit=500)
    created = [e for _, e in listed if e.action == "lambda:CreateEventSourceMapping"]
    assert created[0].resource == made["EventSourceMappingArn"]  # the conflict's: the function
    assert created[-1].resource.endswith(":function:consumer")


async def test_listed_by_queue_and_function_in_pages(world: MappingWorld) -> None:
    await _function(world, "one")
    await world.lam.function("two", Role=await world.reader_role("reader2"))
    queues = [await world.queue(f"q{i}") for i in range(3)]
    for arn in queues:
        await world.lam.client("CreateEventSourceMapping", EventSourceArn=arn, FunctionName="one")
    await world.lam.client("CreateEventSourceMapping", EventSourceArn=queues[0], FunctionName="two")
    first = await world.lam.client("ListEventSourceMappings", FunctionName="one", MaxItems=2)
    assert len(first["EventSourceMappings"]) == 2 and first["NextMarker"]
    rest = await world.lam.client(
        "ListEventSourceMappings", FunctionName="one", Marker=first["NextMarker"]
    )
    seen = {m["EventSourceArn"] for m in first["EventSourceMappings"] + rest["EventSourceMappings"]}
    assert seen == set(queues) and "NextMarker" not in rest
    by_queue = await world.lam.client("ListEventSourceMappings", EventSourceArn=queues[0])
    assert len(by_queue["EventSourceMappings"]) == 2


async def test_refused_as_aws_refuses(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs")
    mine = world.lam.tenant_id

    async def refused(code: str, **params: object) -> str:
        params.setdefault("EventSourceArn", queue)
        params.setdefault("FunctionName", "consumer")
        return (await world.lam.fails("CreateEventSourceMapping", code, **params)).message

    assert "ReceiveMessage" in await refused(
        "InvalidParameterValueException", EventSourceArn=f"arn:aws:sqs:eu-fr-1:{mine}:nothere"
    )
    await refused("ResourceNotFoundException", FunctionName="nobody")
    await refused("ResourceNotFoundException", FunctionName="consumer:7")
    await refused("InvalidParameterValueException", BatchSize=10001)
    assert "greater than 0" in await refused("InvalidParameterValueException", BatchSize=11)
    await refused("InvalidParameterValueException", StartingPosition="LATEST")
    assert await refused("InvalidParameterValueException", TumblingWindowInSeconds=60) == (
        "Unsupported TumblingWindowInSeconds parameter for given event source")  # fmt: skip
    await refused("InvalidParameterValueException", FunctionResponseTypes=["Nope"])
    await refused("InvalidParameterValueException", ScalingConfig={"MaximumConcurrency": 1001})
    await refused("InvalidParameterValueException",
        FilterCriteria={"Filters": [{"Pattern": "{not json"}]})  # fmt: skip
    await refused("InvalidParameterValueException", KMSKeyArn="arn:aws:kms:eu-fr-1:1:key/x")
    await refused("InvalidParameterValueException",
        EventSourceArn="arn:aws:sqs:eu-fr-1:999999999999:theirs")  # fmt: skip
    # A role that may receive but not delete: AWS's words.
    partial = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:GetQueueAttributes"], "Resource": "*"}]})  # fmt: skip
    role = await world.reader_role("partial", partial)
    await world.lam.function("weak", Role=role)
    assert (
        await refused("InvalidParameterValueException", FunctionName="weak")
        == "The function execution role does not have permissions to call DeleteMessage on SQS"
    )
    await world.lam.fails("GetEventSourceMapping", "ResourceNotFoundException",
        UUID="00000000-0000-0000-0000-000000000000")  # fmt: skip


@needs_bwrap
async def test_messages_given_to_the_function_and_deleted(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs", {"VisibilityTimeout": "1"})
    made = await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="consumer",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    for body in ("a", "b", "retry"):
        await world.send("jobs", body)
    assert await world.poller.run_pass() == 3
    logged = [m for _, g, _, m in world.lam.logs.written if m.startswith("got ")]
    event = json.loads(logged[0].removeprefix("got ").strip())
    record = event["Records"][0]
    assert {r["body"] for r in event["Records"]} == {"a", "b", "retry"}
    assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
        "aws:sqs", queue, "eu-fr-1")  # fmt: skip
    assert record["receiptHandle"] and record["md5OfBody"] and record["messageId"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    got = await world.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert got["LastProcessingResult"] == "OK"
    # Only the failed item comes back, once its visibility timeout is over.
    await _after_visibility()
    assert await world.visible("jobs") == ["retry"]


@needs_bwrap
async def test_a_failed_batch_stays_and_filters_drop_messages(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs", {"VisibilityTimeout": "1"})
    made = await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="consumer",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"kind": ["job"]}})}]},
    )  # fmt: skip
    await world.send("jobs", json.dumps({"kind": "job", "n": 1}))
    await world.send("jobs", json.dumps({"kind": "noise"}))
    assert await world.poller.run_pass() == 1
    logged = [m for _, _, _, m in world.lam.logs.written if m.startswith("got ")]
    assert len(json.loads(logged[0].removeprefix("got ").strip())["Records"]) == 1
    await _after_visibility()
    assert await world.visible("jobs") == []  # the match done, the noise deleted unseen
    cleared = await world.lam.client(
        "UpdateEventSourceMapping", UUID=made["UUID"], FilterCriteria={}
    )
    assert "FilterCriteria" not in cleared
    await world.send("jobs", "boom")
    await world.poller.run_pass()
    got = await world.lam.client("GetEventSourceMapping", UUID=made["UUID"])
    assert got["LastProcessingResult"] == "PROBLEM: Function call failed"
    await _after_visibility()
    assert await world.visible("jobs") == ["boom"]


@needs_bwrap
async def test_a_disabled_mapping_reads_nothing(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs")
    await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="consumer", Enabled=False
    )
    await world.send("jobs", "a")
    assert await world.poller.run_pass() == 0
    assert await world.visible("jobs") == ["a"]


async def _after_visibility() -> None:
    await asyncio.sleep(1.1)


@needs_bwrap
async def test_a_batch_waits_within_its_window(world: MappingWorld) -> None:
    await _function(world)
    queue = await world.queue("jobs")
    await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="consumer",
        BatchSize=20, MaximumBatchingWindowInSeconds=1,
    )  # fmt: skip
    await world.send("jobs", "a")
    assert await world.poller.run_pass() == 0  # held: smaller than BatchSize, younger than 1 s
    await world.send("jobs", "b")
    await asyncio.sleep(1.1)
    assert await world.poller.run_pass() == 2  # one batch of both
    logged = [m for _, _, _, m in world.lam.logs.written if m.startswith("got ")]
    assert len(logged) == 1


@needs_bwrap
async def test_an_unknown_item_identifier_fails_the_batch(world: MappingWorld) -> None:
    source = (
        "def handler(event, context):\n"
        "    return {'batchItemFailures': [{'itemIdentifier': 'not-in-the-batch'}]}\n"
    )
    role = await world.reader_role()
    await world.lam.function("odd", Role=role, Code={"ZipFile": handler_zip(source)})
    queue = await world.queue("jobs", {"VisibilityTimeout": "1"})
    await world.lam.client(
        "CreateEventSourceMapping", EventSourceArn=queue, FunctionName="odd",
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )  # fmt: skip
    await world.send("jobs", "a")
    assert await world.poller.run_pass() == 1
    await _after_visibility()
    assert await world.visible("jobs") == ["a"]
