"""Decision 0322 through the API, as boto3 calls it: a distributed Map reading a JSON array
and a CSV object from S3 as the state machine's role (its policy decides:
``States.ItemReaderFailed`` otherwise), its results written by ResultWriter in AWS's layout
(owned by the bucket's owner, audited as the role's ``s3:PutObject``), the Map run's history
events; DescribeMapRun's counts, ListMapRuns, UpdateMapRun, and their errors in AWS's words."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from andromede.iam.model import Principal
from andromede.iam.service_roles import ServiceRoleSessions
from andromede.settings import Settings
from andromede.stepfunctions.interpreter import StatesError
from andromede.stepfunctions.map_runs import MapRun, MemoryMapRunStore
from andromede.storage.encryption import ObjectEncryption
from andromede.storage.integrity import BodyIntegrity
from andromede.storage.model import ContentHeaders
from andromede.wiring.stepfunctions import map_run_host
from support.statesapp import REGION, World


def allow(*actions: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": list(actions), "Resource": "*"}]})  # fmt: skip


async def put(world: World, bucket: str, key: str, body: str) -> None:
    data = body.encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield data

    await world.objects.put_object(
        bucket, key, chunks(), size=len(data), headers=ContentHeaders(),
        owner_id=world.tenant_id, integrity=BodyIntegrity(),
        encryption=ObjectEncryption(tenant_id=world.tenant_id),
    )  # fmt: skip


async def read(world: World, bucket: str, key: str) -> Any:
    record = await world.objects.head_object(bucket, key)
    body = b"".join([c async for c in world.objects.read_object(record, 0, record.size - 1)])
    return json.loads(body)


def machine(reader: dict[str, Any], **fields: Any) -> str:
    return json.dumps({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": True, "ItemReader": reader, "Label": "orders",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Default": "Ok", "Choices": [
                    {"Variable": "$.qty", "StringEquals": "0", "Next": "Bad"}]},
                "Bad": {"Type": "Fail", "Error": "Empty", "Cause": "no quantity"},
                "Ok": {"Type": "Pass", "End": True}}},
        **fields}}})  # fmt: skip


async def start(world: World, definition: str, role: str, data: Any) -> dict[str, Any]:
    made = await world.client("CreateStateMachine", name="batch", definition=definition,
                              roleArn=role)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps(data))  # fmt: skip
    await world.run()
    return await world.client("DescribeExecution", executionArn=run["executionArn"])


async def test_a_json_object_mapped_with_results_written_and_the_run_described(
    world: World,
) -> None:
    await world.objects.create_bucket("inbox", tenant_id=world.tenant_id, owner_id=world.tenant_id,
                                      region=REGION)  # fmt: skip
    await world.objects.create_bucket("outbox", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    items = [{"id": i, "qty": str(i % 4)} for i in range(8)]  # two with qty "0" fail
    await put(world, "inbox", "orders.json", json.dumps(items))
    role = await world.role("mapper", policy=allow("s3:GetObject", "s3:PutObject",
                                                   "s3:ListBucket"))  # fmt: skip
    definition = machine(
        {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
         "Parameters": {"Bucket": "inbox", "Key.$": "$.key"}},
        ToleratedFailureCount=2, MaxConcurrency=3,
        ResultWriter={"Resource": "arn:aws:states:::s3:putObject",
                      "Parameters": {"Bucket": "outbox", "Prefix": "results"}})  # fmt: skip
    done = await start(world, definition, role, {"key": "orders.json"})
    assert done["status"] == "SUCCEEDED", done
    output = json.loads(done["output"])
    run_arn = output["MapRunArn"]
    assert run_arn.startswith(f"arn:aws:states:{REGION}:{world.tenant_id}:mapRun:batch/orders:")
    run_id = run_arn.rsplit(":", 1)[1]
    manifest_key = f"results/{run_id}/manifest.json"
    assert output["ResultWriterDetails"] == {"Bucket": "outbox", "Key": manifest_key}
    manifest = await read(world, "outbox", manifest_key)
    assert manifest["MapRunArn"] == run_arn and manifest["DestinationBucket"] == "outbox"
    assert [f["Key"] for f in manifest["ResultFiles"]["SUCCEEDED"]] == [
        f"results/{run_id}/SUCCEEDED_0.json"]  # fmt: skip
    failed = await read(world, "outbox", f"results/{run_id}/FAILED_0.json")
    assert sorted(json.loads(r["Input"])["id"] for r in failed) == [0, 4]
    assert {r["StateMachineArn"].rsplit(":", 1)[1] for r in failed} == {"batch/orders"}
    assert {(r["Error"], r["Cause"], r["Status"]) for r in failed} == {
        ("Empty", "no quantity", "FAILED")}  # fmt: skip
    assert ("s3:PutObject", f"arn:aws:s3:::outbox/{manifest_key}", "success") in (
        await world.audited())  # fmt: skip

    kinds = await world.kinds(done["executionArn"])
    assert kinds[kinds.index("MapRunStarted") - 1] == "MapStateStarted"
    assert "MapRunSucceeded" in kinds
    history = await world.client("GetExecutionHistory", executionArn=done["executionArn"])
    started = next(e for e in history["events"] if e["type"] == "MapRunStarted")
    assert started["mapRunStartedEventDetails"] == {"mapRunArn": run_arn}

    described = await world.client("DescribeMapRun", mapRunArn=run_arn)
    assert described["status"] == "SUCCEEDED" and described["executionArn"] == done["executionArn"]
    assert described["maxConcurrency"] == 3 and described["toleratedFailureCount"] == 2
    assert described["itemCounts"]["succeeded"] == 6 and described["itemCounts"]["failed"] == 2
    assert described["itemCounts"]["total"] == 8 and described["itemCounts"]["resultsWritten"] == 8
    assert described["executionCounts"]["total"] == 8 and "stopDate" in described
    listed = await world.client("ListMapRuns", executionArn=done["executionArn"])
    assert [r["mapRunArn"] for r in listed["mapRuns"]] == [run_arn]
    assert listed["mapRuns"][0]["stateMachineArn"].endswith(":stateMachine:batch/orders")
    ended = await world.fails("UpdateMapRun", "ValidationException", mapRunArn=run_arn,
                              maxConcurrency=5)  # fmt: skip
    assert "is not running" in ended.message
    await world.fails("DescribeMapRun", "ResourceNotFound", mapRunArn=f"{run_arn[:-4]}ffff")
    await world.fails("DescribeMapRun", "InvalidArn", mapRunArn=done["executionArn"])
    children = await world.client("ListExecutions", mapRunArn=run_arn)  # decision 0369
    assert len(children["executions"]) == 8


async def test_csv_rows_as_items_and_the_roles_refusal(world: World) -> None:
    await world.objects.create_bucket("inbox", tenant_id=world.tenant_id, owner_id=world.tenant_id,
                                      region=REGION)  # fmt: skip
    await put(world, "inbox", "orders.csv", "id,qty\n1,2\n2,0\n")
    reader = {"Resource": "arn:aws:states:::s3:getObject",
              "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
              "Parameters": {"Bucket": "inbox", "Key": "orders.csv"}}  # fmt: skip
    role = await world.role("csv", policy=allow("s3:GetObject"))
    done = await start(world, machine(reader, ToleratedFailurePercentage=50), role, {})
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == [{"id": "1", "qty": "2"},
                                          {"Error": "Empty", "Cause": "no quantity"}]  # fmt: skip
    # A role without s3:GetObject: S3 refuses, the state fails as AWS's reader does.
    blind = await world.role("blind", policy=allow("s3:PutObject"))
    made = await world.client("CreateStateMachine", name="blind", definition=machine(reader),
                              roleArn=blind)  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    await world.run()
    failed = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert failed["status"] == "FAILED" and failed["error"] == "States.ItemReaderFailed"
    assert "AccessDenied" in failed["cause"]


async def test_the_threshold_fails_the_execution(world: World) -> None:
    await world.objects.create_bucket("inbox", tenant_id=world.tenant_id, owner_id=world.tenant_id,
                                      region=REGION)  # fmt: skip
    await put(world, "inbox", "a/1.json", "{}")
    await put(world, "inbox", "a/2.json", "{}")
    reader = {"Resource": "arn:aws:states:::s3:listObjectsV2",
              "Parameters": {"Bucket": "inbox", "Prefix": "a/"}}  # fmt: skip
    role = await world.role("lister", policy=allow("s3:ListBucket"))
    definition = json.loads(machine(reader))
    definition["States"]["Map"]["ItemProcessor"]["States"]["Check"]["Choices"][0] = {
        "Variable": "$.Key", "StringEquals": "a/2.json", "Next": "Bad"}  # fmt: skip
    done = await start(world, json.dumps(definition), role, {})
    assert done["status"] == "FAILED"
    assert done["error"] == "States.ExceedToleratedFailureThreshold"
    runs = await world.client("ListMapRuns", executionArn=done["executionArn"])
    described = await world.client("DescribeMapRun", mapRunArn=runs["mapRuns"][0]["mapRunArn"])
    assert described["status"] == "FAILED" and described["itemCounts"]["failed"] == 1


async def test_update_map_run_and_listing_errors(world: World) -> None:
    execution = f"arn:aws:states:{REGION}:{world.tenant_id}:execution:m:e"
    arn = f"arn:aws:states:{REGION}:{world.tenant_id}:mapRun:m/l:0000"
    await world.map_runs.save(MapRun(world.tenant_id, arn, execution, 1_800_000_000_000, 0,
                                     0.0, 0))  # fmt: skip
    assert await world.client("UpdateMapRun", mapRunArn=arn, maxConcurrency=7,
                              toleratedFailurePercentage=12.5) == {}  # fmt: skip
    described = await world.client("DescribeMapRun", mapRunArn=arn)
    assert described["maxConcurrency"] == 7 and described["toleratedFailurePercentage"] == 12.5
    await world.fails("UpdateMapRun", "ValidationException", mapRunArn=arn)
    await world.fails("ListMapRuns", "ExecutionDoesNotExist", executionArn=execution)
    # A run its execution left RUNNING (a gateway restarted mid-step) is aborted when the
    # execution is stopped.
    waits = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600,
                                                         "End": True}}})  # fmt: skip
    made = await world.client("CreateStateMachine", name="waits", definition=waits,
                              roleArn=await world.role("waits"))  # fmt: skip
    started = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    left = f"arn:aws:states:{REGION}:{world.tenant_id}:mapRun:waits/l:0001"
    await world.map_runs.save(MapRun(world.tenant_id, left, started["executionArn"],
                                     1_800_000_000_000, 0, 0.0, 0))  # fmt: skip
    await world.client("StopExecution", executionArn=started["executionArn"])
    stopped = await world.client("DescribeMapRun", mapRunArn=left)
    assert stopped["status"] == "ABORTED" and "stopDate" in stopped
    other = arn.replace(world.tenant_id, "000000000099")
    await world.fails("DescribeMapRun", "ResourceNotFound", mapRunArn=other)


async def test_the_settings_bound_a_run(world: World, tmp_path: Path) -> None:
    """``stepfunctions_item_reader_max_bytes``, ``stepfunctions_map_run_max_items`` and
    ``stepfunctions_map_run_max_concurrency`` as ``serve`` wires them (``map_run_host``)."""
    settings = Settings(
        data_dir=tmp_path, region=REGION, stepfunctions_item_reader_max_bytes=20,
        stepfunctions_map_run_max_items=2, stepfunctions_map_run_max_concurrency=3,
    )  # fmt: skip
    await world.objects.create_bucket("inbox", tenant_id=world.tenant_id,
                                      owner_id=world.tenant_id, region=REGION)  # fmt: skip
    await put(world, "inbox", "big.json", json.dumps(list(range(20))))
    for name in ("a", "b", "c"):
        await put(world, "inbox", f"k/{name}", "{}")
    role = await world.role("r", policy=allow("s3:GetObject", "s3:ListBucket"))
    sessions = ServiceRoleSessions(world.identity, "states.amazonaws.com", REGION)

    async def session(context: Mapping[str, Any]) -> Principal:
        made = await sessions.session(world.tenant_id, role, "s")
        assert made is not None
        return made

    store = MemoryMapRunStore()
    factory = map_run_host(settings, world.identity, world.audit, world.objects, store)
    assert factory is not None
    host = factory(session)
    assert (host.most_children(), host.most_items()) == (3, 2)
    with pytest.raises(StatesError, match="larger than 20 bytes"):
        await host.read_object({}, "inbox", "big.json")
    with pytest.raises(StatesError, match="More than 2 objects"):
        await host.list_objects({}, "inbox", "k/")
    assert len(await host.list_objects({}, "inbox", "k/a")) == 1
    assert map_run_host(settings, world.identity, world.audit, None, store) is None
    defaults = Settings(data_dir=tmp_path, region=REGION)
    assert defaults.stepfunctions_map_run_max_concurrency == 40
    assert defaults.stepfunctions_map_run_max_items == 100_000
    assert defaults.stepfunctions_item_reader_max_bytes == 64 * 1024 * 1024
    with pytest.raises(ValueError, match="stepfunctions_map_run_max_concurrency"):
        Settings(data_dir=tmp_path, stepfunctions_map_run_max_concurrency=10_001)
