"""Decision 0254's index CREATING: an index UpdateTable adds is answered CREATING with
``Backfilling`` true, refused to queries, scans and PartiQL reads as AWS refuses them, written
by every write meanwhile, filled outside the call (woken at once, or found again by another
gateway's backfill after a restart), then ACTIVE; one index created at a time per table."""

from __future__ import annotations

import asyncio
from typing import Any

from andromede.dynamodb.backfill import IndexBackfill
from support.dynamodbapp import World

QUERY: dict[str, Any] = {
    "TableName": "docs",
    "IndexName": "by_colour",
    "KeyConditionExpression": "colour = :c",
    "ExpressionAttributeValues": {":c": {"S": "red"}},
}


def create(name: str) -> dict[str, Any]:
    return {
        "Create": {
            "IndexName": name,
            "KeySchema": [{"AttributeName": "colour", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }
    }


async def docs(world: World, count: int) -> None:
    await world.client("CreateTable", TableName="docs",
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                       AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       BillingMode="PAY_PER_REQUEST")  # fmt: skip
    for n in range(count):
        item = {"pk": {"S": f"k{n:03}"}, "colour": {"S": "red"}}
        await world.client("PutItem", TableName="docs", Item=item)


async def add(world: World, name: str = "by_colour") -> dict[str, Any]:
    answer = await world.client(
        "UpdateTable", TableName="docs",
        AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[create(name)],
    )  # fmt: skip
    return dict(answer["TableDescription"])


async def status(world: World) -> list[tuple[str, str, bool]]:
    table = (await world.client("DescribeTable", TableName="docs"))["Table"]
    return [(i["IndexName"], i["IndexStatus"], i["Backfilling"])
            for i in table.get("GlobalSecondaryIndexes", [])]  # fmt: skip


async def test_a_creating_index_is_refused_to_reads_until_filled(world: World) -> None:
    await docs(world, 3)
    await add(world)
    assert await status(world) == [("by_colour", "CREATING", True)]
    refusal = "Cannot read from backfilling global secondary index: by_colour"
    assert await world.fails("Query", "ValidationException", **QUERY) == refusal
    assert await world.fails("Scan", "ValidationException", TableName="docs",
                             IndexName="by_colour") == refusal  # fmt: skip
    assert refusal in await world.fails(
        "ExecuteStatement", "ValidationException",
        Statement='SELECT * FROM "docs"."by_colour" WHERE colour = \'red\'',
    )  # fmt: skip
    assert "Only 1 online index" in await world.fails(
        "UpdateTable", "LimitExceededException", TableName="docs",
        AttributeDefinitions=[{"AttributeName": "colour", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[create("second")],
    )  # fmt: skip
    # Another gateway (or this one after a restart) finds the index still to fill.
    assert await IndexBackfill(world.dynamodb).run_once() == 1
    assert await status(world) == [("by_colour", "ACTIVE", False)]
    assert (await world.client("Query", **QUERY))["Count"] == 3
    assert await world.backfill.run_once() == 0  # nothing left


async def test_the_backfill_is_woken_by_the_index_added(world: World) -> None:
    await docs(world, 2)
    backfill = IndexBackfill(world.dynamodb)
    task = asyncio.create_task(backfill.forever(3600))  # its own period: never, here
    try:
        await add(world)
        for _ in range(200):
            if await status(world) == [("by_colour", "ACTIVE", False)]:
                break
            await asyncio.sleep(0.01)
        assert await status(world) == [("by_colour", "ACTIVE", False)]
        assert (await world.client("Query", **QUERY))["Count"] == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_deleted_creating_index_is_not_filled(world: World) -> None:
    await docs(world, 2)
    await add(world)
    await world.client(
        "UpdateTable",
        TableName="docs",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_colour"}}],
    )
    assert await world.backfill.run_once() == 0
    assert await status(world) == []
