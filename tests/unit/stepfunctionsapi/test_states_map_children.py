"""Decision 0369 through the API, as boto3 calls it: a distributed Map's child executions
listed by ListExecutions(``mapRunArn``) — newest first, in pages, by status, each with its
``mapRunArn`` and ``itemCount`` —, described by DescribeExecution (input, output or error,
dates, ``mapRunArn``), a STANDARD child's history by GetExecutionHistory; EXPRESS children
listed and described but without history (``InvalidArn``), as AWS; the errors in AWS's
words; the bound on the children a run keeps, as ``serve`` wires it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from andromede.iam.model import Principal
from andromede.settings import Settings
from andromede.stepfunctions.map_children import MapChild, MemoryMapChildStore
from andromede.stepfunctions.map_runs import MapRun, MemoryMapRunStore
from andromede.wiring.stepfunctions import map_run_host
from support.statesapp import REGION, World


def machine(kind: str = "STANDARD", **fields: Any) -> str:
    return json.dumps({"StartAt": "Map", "States": {"Map": {
        "Type": "Map", "End": True, "ItemsPath": "$.items", "Label": "orders",
        "ToleratedFailureCount": 5,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": kind},
            "StartAt": "Check", "States": {
                "Check": {"Type": "Choice", "Default": "Ok", "Choices": [
                    {"Variable": "$.qty", "NumericEquals": 0, "Next": "Bad"}]},
                "Bad": {"Type": "Fail", "Error": "Empty", "Cause": "no quantity"},
                "Ok": {"Type": "Pass", "Result": "done", "End": True}}},
        **fields}}})  # fmt: skip


async def run_map(world: World, definition: str, items: list[Any]) -> tuple[str, str]:
    """The parent execution's ARN and its Map run's."""
    made = await world.client("CreateStateMachine", name="batch", definition=definition,
                              roleArn=await world.role("mapper"))  # fmt: skip
    run = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"],
                             input=json.dumps({"items": items}))  # fmt: skip
    await world.run()
    done = await world.client("DescribeExecution", executionArn=run["executionArn"])
    assert done["status"] == "SUCCEEDED", done
    runs = await world.client("ListMapRuns", executionArn=run["executionArn"])
    return run["executionArn"], runs["mapRuns"][0]["mapRunArn"]


async def running_child(world: World) -> tuple[str, str, str]:
    """A Map run's child left RUNNING (as a gateway restarted mid-step leaves it), its parent
    execution waiting: the parent's ARN, the run's and the child's."""
    waits = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600,
                                                         "End": True}}})  # fmt: skip
    made = await world.client("CreateStateMachine", name="waits", definition=waits,
                              roleArn=await world.role("waits"))  # fmt: skip
    started = await world.client("StartExecution", stateMachineArn=made["stateMachineArn"])
    run_arn = f"arn:aws:states:{REGION}:{world.tenant_id}:mapRun:waits/l:0001"
    await world.map_runs.save(MapRun(world.tenant_id, run_arn, started["executionArn"],
                                     1_800_000_000_000, 0, 0.0, 0))  # fmt: skip
    arn = f"arn:aws:states:{REGION}:{world.tenant_id}:execution:waits/l:c1"
    await world.map_children.save(MapChild(world.tenant_id, run_arn, arn, 1_800_000_000_000,
                                           '{"n": 1}', 1))  # fmt: skip
    return started["executionArn"], run_arn, arn


async def test_standard_children_listed_described_and_their_histories(world: World) -> None:
    items = [{"id": i, "qty": i % 3} for i in range(5)]  # ids 0 and 3 fail
    _, run_arn = await run_map(world, machine(), items)
    listed = await world.client("ListExecutions", mapRunArn=run_arn)
    children = listed["executions"]
    assert len(children) == 5 and "nextToken" not in listed
    prefix = f"arn:aws:states:{REGION}:{world.tenant_id}:execution:batch/orders:"
    for child in children:
        assert child["executionArn"].startswith(prefix)
        assert child["name"] == child["executionArn"].rsplit(":", 1)[1]
        assert child["stateMachineArn"] == (
            f"arn:aws:states:{REGION}:{world.tenant_id}:stateMachine:batch/orders"
        )
        assert child["mapRunArn"] == run_arn and child["itemCount"] == 1
        assert child["redriveCount"] == 0 and child["stopDate"] >= child["startDate"]
    starts = [c["startDate"] for c in children]
    assert starts == sorted(starts, reverse=True)  # the newest first
    assert sorted(c["status"] for c in children) == ["FAILED"] * 2 + ["SUCCEEDED"] * 3

    failed = await world.client("ListExecutions", mapRunArn=run_arn, statusFilter="FAILED")
    assert len(failed["executions"]) == 2
    described = [await world.client("DescribeExecution", executionArn=c["executionArn"])
                 for c in failed["executions"]]  # fmt: skip
    assert sorted(json.loads(d["input"])["id"] for d in described) == [0, 3]
    for one in described:
        assert (one["status"], one["error"], one["cause"]) == ("FAILED", "Empty", "no quantity")
        assert one["mapRunArn"] == run_arn and "output" not in one and "stopDate" in one
        assert one["redriveStatus"] == "NOT_REDRIVABLE"
    ok = next(c for c in children if c["status"] == "SUCCEEDED")
    good = await world.client("DescribeExecution", executionArn=ok["executionArn"])
    assert good["output"] == '"done"' and good["outputDetails"] == {"included": True}
    assert good["stateMachineArn"].endswith(":stateMachine:batch/orders")

    history = await world.client("GetExecutionHistory", executionArn=ok["executionArn"])
    kinds = [e["type"] for e in history["events"]]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    assert "ChoiceStateEntered" in kinds and "PassStateExited" in kinds
    assert [e["id"] for e in history["events"]] == list(range(1, len(kinds) + 1))
    started = history["events"][0]["executionStartedEventDetails"]
    assert json.loads(started["input"])["qty"] in (1, 2)
    assert history["events"][-1]["executionSucceededEventDetails"]["output"] == '"done"'
    backwards = await world.client("GetExecutionHistory", executionArn=ok["executionArn"],
                                   reverseOrder=True, maxResults=2)  # fmt: skip
    assert [e["type"] for e in backwards["events"]] == kinds[::-1][:2]
    assert "nextToken" in backwards
    bad = failed["executions"][0]["executionArn"]
    ended = (await world.client("GetExecutionHistory", executionArn=bad))["events"][-1]
    assert ended["type"] == "ExecutionFailed"
    assert ended["executionFailedEventDetails"] == {"error": "Empty", "cause": "no quantity"}


async def test_pages_and_errors(world: World) -> None:
    execution, run_arn = await run_map(world, machine(), [{"qty": 1}] * 5)
    seen: list[str] = []
    token = None
    for _ in range(5):
        page = await world.client("ListExecutions", mapRunArn=run_arn, maxResults=2,
                                  **({} if token is None else {"nextToken": token}))  # fmt: skip
        assert len(page["executions"]) <= 2
        seen += [c["executionArn"] for c in page["executions"]]
        token = page.get("nextToken")
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert (await world.client("ListExecutions", mapRunArn=run_arn,
                               redriveFilter="REDRIVEN"))["executions"] == []  # fmt: skip
    await world.fails("ListExecutions", "InvalidToken", mapRunArn=run_arn, nextToken="bm9wZQ==")
    both = await world.fails("ListExecutions", "ValidationException", mapRunArn=run_arn,
                             stateMachineArn=execution.replace(":execution:", ":stateMachine:")
                             .rsplit(":", 1)[0])  # fmt: skip
    assert "not both" in both.message
    await world.fails("ListExecutions", "ResourceNotFound", mapRunArn=f"{run_arn[:-4]}ffff")
    await world.fails("ListExecutions", "InvalidArn", mapRunArn=execution)
    await world.fails("ListExecutions", "ValidationException", mapRunArn=run_arn,
                      statusFilter="DONE")  # fmt: skip
    child = seen[0]
    await world.fails("DescribeExecution", "ExecutionDoesNotExist",
                      executionArn=f"{child[:-4]}ffff")  # fmt: skip
    other = child.replace(f":{world.tenant_id}:", ":000000000099:")
    await world.fails("DescribeExecution", "ExecutionDoesNotExist", executionArn=other)
    await world.fails("GetExecutionHistory", "ExecutionDoesNotExist", executionArn=other)
    # The parent's own execution list holds no child.
    parent = execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]
    assert len((await world.client("ListExecutions", stateMachineArn=parent))["executions"]) == 1


async def test_express_children_are_listed_and_described_without_history(world: World) -> None:
    definition = machine("EXPRESS", ItemBatcher={"MaxItemsPerBatch": 2})
    definition = definition.replace('"Variable": "$.qty"', '"Variable": "$.Items[0].qty"')
    _, run_arn = await run_map(world, definition, [{"qty": 1}] * 5)
    children = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"]
    assert sorted(c["itemCount"] for c in children) == [1, 2, 2]
    arn = children[0]["executionArn"]
    assert f":{world.tenant_id}:express:batch/orders:" in arn
    described = await world.client("DescribeExecution", executionArn=arn)
    assert described["status"] == "SUCCEEDED" and described["mapRunArn"] == run_arn
    assert len(json.loads(described["input"])["Items"]) == children[0]["itemCount"]
    await world.fails("GetExecutionHistory", "InvalidArn", executionArn=arn)


async def test_the_children_kept_are_bounded(world: World, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, region=REGION, stepfunctions_map_run_children_kept=2)
    assert Settings(data_dir=tmp_path).stepfunctions_map_run_children_kept == 100_000
    children = MemoryMapChildStore()
    factory = map_run_host(settings, world.identity, world.audit, world.objects,
                           MemoryMapRunStore(), children)  # fmt: skip
    assert factory is not None

    async def session(context: Mapping[str, Any]) -> Principal:
        raise AssertionError("no S3 call")

    assert factory(session).most_children_kept() == 2
    unkept = map_run_host(settings, world.identity, world.audit, world.objects,
                          MemoryMapRunStore())  # fmt: skip
    assert unkept is not None and unkept(session).most_children_kept() == 0


async def test_a_stopped_executions_running_children_are_aborted(world: World) -> None:
    """Children its Map run left RUNNING (a gateway restarted mid-step) are ABORTED when the
    execution is stopped, as the run is, and stay so."""
    parent, run_arn, arn = await running_child(world)
    assert (await world.client("DescribeExecution", executionArn=arn))["status"] == "RUNNING"
    await world.client("StopExecution", executionArn=parent)
    described = await world.client("DescribeExecution", executionArn=arn)
    assert described["status"] == "ABORTED" and "stopDate" in described
    assert described["input"] == '{"n": 1}'
    listed = await world.client("ListExecutions", mapRunArn=run_arn, statusFilter="ABORTED")
    assert [c["executionArn"] for c in listed["executions"]] == [arn]
