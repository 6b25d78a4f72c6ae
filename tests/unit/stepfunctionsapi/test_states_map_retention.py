"""Decision 0372 through the API, as boto3 calls it: a distributed Map's runs and their
children go with their parent execution once it is past ``stepfunctions_execution_retention_days``
(AWS keeps them as long as their parent), never before, never another execution's."""

from __future__ import annotations

import json

from support.statesapp import World
from unit.stepfunctionsapi.test_states_map_children import machine, run_map

DAY_MS = 86_400_000


async def test_map_runs_and_children_go_with_their_parent(world: World) -> None:
    # Five children, purged two a batch (the test world's): the batches are seen to the end.
    parent, run_arn = await run_map(world, machine(), [{"qty": 1}] * 5)
    children = (await world.client("ListExecutions", mapRunArn=run_arn))["executions"]
    assert len(children) == 5

    world.clock.offset += 89 * DAY_MS  # within the retention: all kept
    await world.run()
    assert (await world.client("DescribeMapRun", mapRunArn=run_arn))["status"] == "SUCCEEDED"
    assert len((await world.client("ListExecutions", mapRunArn=run_arn))["executions"]) == 5

    # A second parent, ended later, keeps its own run when the first goes.
    started = await world.client(
        "StartExecution",
        stateMachineArn=parent.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
        input=json.dumps({"items": [{"qty": 2}]}),
    )
    await world.run()
    later = (await world.client("ListMapRuns", executionArn=started["executionArn"]))["mapRuns"]

    world.clock.offset += 2 * DAY_MS  # the first parent is past its 90 days
    await world.run()
    await world.fails("DescribeExecution", "ExecutionDoesNotExist", executionArn=parent)
    await world.fails("DescribeMapRun", "ResourceNotFound", mapRunArn=run_arn)
    await world.fails("ListExecutions", "ResourceNotFound", mapRunArn=run_arn)
    for child in children:
        await world.fails("DescribeExecution", "ExecutionDoesNotExist",
                          executionArn=child["executionArn"])  # fmt: skip
    assert await world.map_children.list_for_run(world.tenant_id, run_arn, None, None, 10) == []

    kept = later[0]["mapRunArn"]
    assert (await world.client("DescribeMapRun", mapRunArn=kept))["status"] == "SUCCEEDED"
    assert len((await world.client("ListExecutions", mapRunArn=kept))["executions"]) == 1
