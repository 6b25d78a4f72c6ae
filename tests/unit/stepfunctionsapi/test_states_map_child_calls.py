"""Decision 0372 through the API, as boto3 calls it: the remaining execution operations on a
distributed Map's child — DescribeStateMachineForExecution answers the Map run's state
machine (the ``ItemProcessor`` as its definition, ``mapRunArn``, ``label``), StopExecution
aborts a RUNNING child and its run counts it ``aborted``, RedriveExecution is refused with
AWS's ``ExecutionNotRedrivable`` (children are redriven through their parent); EXPRESS
children ``InvalidArn`` for the first two, as AWS supports neither for Express."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.stepfunctions.map_children import MapChild
from support.statesapp import REGION, World
from unit.stepfunctionsapi.test_states_map_children import machine, run_map, running_child


async def test_a_childs_state_machine_is_its_map_runs(world: World) -> None:
    parent, run_arn = await run_map(world, machine(), [{"qty": 1}, {"qty": 0}])
    child = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"][0]
    described = await world.client("DescribeStateMachineForExecution",
                                   executionArn=child["executionArn"])  # fmt: skip
    assert described["stateMachineArn"] == (
        f"arn:aws:states:{REGION}:{world.tenant_id}:stateMachine:batch/orders"
    )
    assert described["name"] == "batch/orders" and described["label"] == "orders"
    assert described["mapRunArn"] == run_arn
    processor = json.loads(machine())["States"]["Map"]["ItemProcessor"]
    del processor["ProcessorConfig"]
    assert json.loads(described["definition"]) == processor
    of_parent = await world.client("DescribeStateMachineForExecution", executionArn=parent)
    assert described["roleArn"] == of_parent["roleArn"]
    assert described["updateDate"] == of_parent["updateDate"]
    assert "mapRunArn" not in of_parent and "label" not in of_parent

    await world.fails("DescribeStateMachineForExecution", "ExecutionDoesNotExist",
                      executionArn=f"{child['executionArn'][:-4]}ffff")  # fmt: skip
    other = child["executionArn"].replace(f":{world.tenant_id}:", ":000000000099:")
    await world.fails("DescribeStateMachineForExecution", "ExecutionDoesNotExist",
                      executionArn=other)  # fmt: skip


async def test_express_children_have_no_machine_to_describe_nor_stop(world: World) -> None:
    _, run_arn = await run_map(world, machine("EXPRESS"), [{"qty": 1}])
    child = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"][0]
    assert ":express:" in child["executionArn"]
    for operation in ("DescribeStateMachineForExecution", "StopExecution"):
        await world.fails(operation, "InvalidArn", executionArn=child["executionArn"])


async def test_a_running_child_is_stopped(world: World) -> None:
    _, run_arn, arn = await running_child(world)
    stopped = await world.client("StopExecution", executionArn=arn, error="Operator",
                                 cause="bad item")  # fmt: skip
    described = await world.client("DescribeExecution", executionArn=arn)
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED", "Operator", "bad item",
    )  # fmt: skip
    assert described["stopDate"] == stopped["stopDate"]
    events = (await world.client("GetExecutionHistory", executionArn=arn))["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "ExecutionAborted"]
    assert events[-1]["executionAbortedEventDetails"] == {"error": "Operator", "cause": "bad item"}
    listed = await world.client("ListExecutions", mapRunArn=run_arn, statusFilter="ABORTED")
    assert [c["executionArn"] for c in listed["executions"]] == [arn]
    # Stopped again: answered as it is, nothing changed.
    again = await world.client("StopExecution", executionArn=arn, error="Other")
    assert again["stopDate"] == stopped["stopDate"]
    assert (await world.client("DescribeExecution", executionArn=arn))["error"] == "Operator"
    await world.fails("StopExecution", "ExecutionDoesNotExist", executionArn=f"{arn[:-2]}zz")


async def test_children_are_redriven_through_their_parent(world: World) -> None:
    _, run_arn = await run_map(world, machine(), [{"qty": 0}])
    child = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"][0]
    assert child["status"] == "FAILED"
    refused = await world.fails("RedriveExecution", "ExecutionNotRedrivable",
                                executionArn=child["executionArn"])  # fmt: skip
    assert "redrive the parent" in refused.message
    described = await world.client("DescribeExecution", executionArn=child["executionArn"])
    # Its run succeeded (its failure tolerated): its parent's redrive would not run it (0377).
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "Its Map Run is SUCCEEDED and cannot be redriven"
    await world.fails("RedriveExecution", "ExecutionDoesNotExist",
                      executionArn=f"{child['executionArn'][:-4]}ffff")  # fmt: skip


async def test_a_child_stopped_while_it_runs_is_counted_aborted(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A StopExecution that comes while the child runs (here: as it begins): the run goes
    on, the child stays ABORTED and its Map run counts it so, not as succeeded."""
    saving = world.map_children.save
    stopped: list[str] = []

    async def stopping_the_first(child: MapChild) -> bool:
        written = await saving(child)
        if child.status == "RUNNING" and not stopped:
            stopped.append(child.arn)
            await world.client("StopExecution", executionArn=child.arn, cause="by hand")
        return written

    monkeypatch.setattr(world.map_children, "save", stopping_the_first)
    _, run_arn = await run_map(world, machine(), [{"qty": 1}] * 3)
    run: dict[str, Any] = await world.client("DescribeMapRun", mapRunArn=run_arn)
    counts = run["executionCounts"]
    assert (counts["aborted"], counts["succeeded"], counts["failed"]) == (1, 2, 0)
    assert counts["pending"] == counts["running"] == 0 and counts["total"] == 3
    assert run["itemCounts"]["aborted"] == 1
    described = await world.client("DescribeExecution", executionArn=stopped[0])
    assert described["status"] == "ABORTED" and described["cause"] == "by hand"
    assert "output" not in described
