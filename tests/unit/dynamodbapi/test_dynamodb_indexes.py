"""Decision 0243's secondary indexes through botocore's own model: CreateTable's global and
local indexes with AWS's checks and limits, DescribeTable's index descriptions and counts,
queries and scans on an index (its key schema, its order, its projection, sparse, pages whose
LastEvaluatedKey carries both keys), every write path keeping the index, a mistyped index key
refused, and UpdateTable creating (backfilled), updating and deleting a global index; over
the memory twin and the SQL store (migration 0116's entries)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.dynamodb.store_sql import SqlDynamoStore
from support.dynamodbapp import World, dynamodb_world
from support.store_backends import BACKENDS, backend_database


@pytest.fixture(params=BACKENDS)
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with backend_database(request, tmp_path) as db:
        store = None if db is None else SqlDynamoStore(db)
        async for made in dynamodb_world(tmp_path, store, dynamodb_max_tables=3):
            yield made


def _key(*names: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": n, "KeyType": "HASH" if i == 0 else "RANGE"} for i, n in enumerate(names)
    ]


def _attrs(**kinds: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in kinds.items()]


GSI = {
    "IndexName": "by_owner",
    "KeySchema": _key("owner", "rank"),
    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]},
}
LSI = {
    "IndexName": "by_date",
    "KeySchema": _key("pk", "date"),
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}


async def _table(world: World, **more: Any) -> None:
    await world.client(
        "CreateTable",
        TableName="docs",
        KeySchema=_key("pk", "sk"),
        AttributeDefinitions=_attrs(pk="S", sk="S", owner="S", rank="N", date="S"),
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[GSI],
        LocalSecondaryIndexes=[LSI],
        **more,
    )


def _doc(pk: str, sk: str, **more: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}}
    for name, value in more.items():
        item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    return item


async def _owned(world: World, owner: str, **more: Any) -> list[tuple[str, str]]:
    answer = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_owner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": owner}},
        **more,
    )
    return [(i["pk"]["S"], i["sk"]["S"]) for i in answer["Items"]]


async def test_indexes_are_described_and_queried_in_their_order(world: World) -> None:
    await _table(world)
    await world.client(
        "PutItem",
        TableName="docs",
        Item=_doc("a", "1", owner="ann", rank=10, title="t1", body="b1"),
    )
    await world.client(
        "PutItem",
        TableName="docs",
        Item=_doc("b", "1", owner="ann", rank=-3, title="t2", body="b2"),
    )
    await world.client("PutItem", TableName="docs", Item=_doc("c", "1", owner="bob", rank=1))
    await world.client("PutItem", TableName="docs", Item=_doc("d", "1", title="sparse"))
    await world.client("PutItem", TableName="docs", Item=_doc("a", "2", date="2026-01-01"))
    described = (await world.client("DescribeTable", TableName="docs"))["Table"]
    (gsi,) = described["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "by_owner" and gsi["IndexStatus"] == "ACTIVE"
    assert gsi["ItemCount"] == 3 and gsi["IndexSizeBytes"] > 0 and gsi["Backfilling"] is False
    assert gsi["IndexArn"].endswith(":table/docs/index/by_owner")
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["title"]}
    (lsi,) = described["LocalSecondaryIndexes"]
    assert lsi["ItemCount"] == 1 and "IndexStatus" not in lsi
    assert {a["AttributeName"] for a in described["AttributeDefinitions"]} == {
        "pk",
        "sk",
        "owner",
        "rank",
        "date",
    }

    assert await _owned(world, "ann") == [("b", "1"), ("a", "1")]  # rank -3 before 10
    assert await _owned(world, "ann", ScanIndexForward=False) == [("a", "1"), ("b", "1")]
    answer = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_owner",
        KeyConditionExpression="#o = :o AND #r > :r",
        ExpressionAttributeNames={"#o": "owner", "#r": "rank"},
        ExpressionAttributeValues={":o": {"S": "ann"}, ":r": {"N": "0"}},
    )
    # ALL_PROJECTED_ATTRIBUTES by default: the keys and the included title, not the body.
    assert answer["Items"] == [_doc("a", "1", owner="ann", rank=10, title="t1")]
    by_date = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_date",
        KeyConditionExpression="pk = :p AND #d BEGINS_WITH :d".replace(
            "#d BEGINS_WITH :d", "begins_with(#d, :d)"
        ),
        ExpressionAttributeNames={"#d": "date"},
        ExpressionAttributeValues={":p": {"S": "a"}, ":d": {"S": "2026"}},
    )
    assert by_date["Items"] == [_doc("a", "2", date="2026-01-01")]
    scanned = await world.client("Scan", TableName="docs", IndexName="by_owner")
    assert scanned["Count"] == 3  # the sparse item is not in the index


async def test_index_pages_carry_both_keys(world: World) -> None:
    await _table(world)
    for n in range(5):
        await world.client("PutItem", TableName="docs", Item=_doc(f"k{n}", "x", owner="o", rank=7))
    seen: list[tuple[str, str]] = []
    start: dict[str, Any] | None = None
    while True:
        more: dict[str, Any] = {"Limit": 2}
        if start is not None:
            more["ExclusiveStartKey"] = start
        answer = await world.client(
            "Query",
            TableName="docs",
            IndexName="by_owner",
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "o"}},
            **more,
        )
        seen += [(i["pk"]["S"], i["sk"]["S"]) for i in answer["Items"]]
        start = answer.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"pk", "sk", "owner", "rank"}
    assert sorted(seen) == [(f"k{n}", "x") for n in range(5)] and len(seen) == 5


async def test_gsi_reads_are_refused_as_aws_refuses_them(world: World) -> None:
    await _table(world)
    base: dict[str, Any] = {
        "TableName": "docs",
        "IndexName": "by_owner",
        "KeyConditionExpression": "#o = :o",
        "ExpressionAttributeNames": {"#o": "owner"},
        "ExpressionAttributeValues": {":o": {"S": "ann"}},
    }
    assert "Consistent reads are not supported" in await world.fails(
        "Query", "ValidationException", **base, ConsistentRead=True
    )
    assert "ALL_ATTRIBUTES" in await world.fails(
        "Query", "ValidationException", **base, Select="ALL_ATTRIBUTES"
    )
    assert "does not project [body]" in await world.fails(
        "Query", "ValidationException", **base, ProjectionExpression="body"
    )
    assert "specified index: nope" in await world.fails(
        "Query", "ValidationException", **(base | {"IndexName": "nope"})
    )
    on_table_key = {k: v for k, v in base.items() if k != "ExpressionAttributeNames"}
    assert "KeyConditionExpression" in await world.fails(
        "Query", "ValidationException", **(on_table_key | {"KeyConditionExpression": "pk = :o"})
    )
    # A local index reads its table's item: every attribute may be asked for.
    await world.client("PutItem", TableName="docs", Item=_doc("a", "1", date="d", body="b"))
    whole = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_date",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "a"}},
        Select="ALL_ATTRIBUTES",
    )
    assert whole["Items"] == [_doc("a", "1", date="d", body="b")]


async def test_every_write_keeps_the_index(world: World) -> None:
    await _table(world)
    await world.client("PutItem", TableName="docs", Item=_doc("a", "1", owner="ann", rank=1))
    await world.client(
        "UpdateItem",
        TableName="docs",
        Key=_doc("a", "1"),
        UpdateExpression="SET #o = :b",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":b": {"S": "bob"}},
    )
    assert await _owned(world, "ann") == [] and await _owned(world, "bob") == [("a", "1")]
    await world.client("DeleteItem", TableName="docs", Key=_doc("a", "1"))
    assert await _owned(world, "bob") == []
    puts = [{"PutRequest": {"Item": _doc(f"k{n}", "1", owner="cy", rank=n)}} for n in range(3)]
    await world.client("BatchWriteItem", RequestItems={"docs": puts})
    assert len(await _owned(world, "cy")) == 3
    await world.client(
        "BatchWriteItem", RequestItems={"docs": [{"DeleteRequest": {"Key": _doc("k0", "1")}}]}
    )
    await world.client(
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "docs", "Item": _doc("t", "1", owner="cy", rank=9)}},
            {"Delete": {"TableName": "docs", "Key": _doc("k1", "1")}},
        ],
    )
    assert await _owned(world, "cy") == [("k2", "1"), ("t", "1")]
    # An index key of the wrong type is refused and nothing is written.
    message = await world.fails(
        "PutItem",
        "ValidationException",
        TableName="docs",
        Item=_doc("z", "1", owner="cy", rank="high"),
    )
    assert message == (
        "One or more parameter values were invalid: Type mismatch for Index Key rank "
        "Expected: N Actual: S IndexName: by_owner"
    )
    assert "Type mismatch for Index Key" in await world.fails(
        "UpdateItem",
        "ValidationException",
        TableName="docs",
        Key=_doc("t", "1"),
        UpdateExpression="SET #d = :d",
        ExpressionAttributeNames={"#d": "date"},
        ExpressionAttributeValues={":d": {"N": "1"}},
    )
    assert "Size of hashkey has exceeded" in await world.fails(
        "PutItem",
        "ValidationException",
        TableName="docs",
        Item=_doc("z", "1", owner="o" * 2049, rank=1),
    )
    assert await _owned(world, "cy") == [("k2", "1"), ("t", "1")]


async def test_index_definitions_are_checked(world: World) -> None:
    async def refused(code: str = "ValidationException", **params: Any) -> str:
        base: dict[str, Any] = {
            "TableName": "bad",
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _attrs(pk="S", sk="S", owner="S", rank="N", date="S"),
            "BillingMode": "PAY_PER_REQUEST",
            "GlobalSecondaryIndexes": [GSI],
            "LocalSecondaryIndexes": [LSI],
        }
        given = {k: v for k, v in (base | params).items() if v is not None}
        return await world.fails("CreateTable", code, **given)

    assert "Duplicate index name: by_owner" in await refused(GlobalSecondaryIndexes=[GSI, GSI])
    many = [GSI | {"IndexName": f"g{n:02}"} for n in range(21)]
    assert "per-table limit of 20" in await refused(
        "LimitExceededException", GlobalSecondaryIndexes=many
    )
    six = [LSI | {"IndexName": f"l{n:02}"} for n in range(6)]
    assert "per-table limit of 5" in await refused(LocalSecondaryIndexes=six)
    wide = GSI | {
        "Projection": {
            "ProjectionType": "INCLUDE",
            "NonKeyAttributes": [f"a{n}" for n in range(101)],
        }
    }
    assert "exceeds limit of 100" in await refused(GlobalSecondaryIndexes=[wide])
    assert "same leading hash key" in await refused(
        LocalSecondaryIndexes=[LSI | {"KeySchema": _key("owner", "date")}]
    )
    assert "NonKeyAttributes is specified" in await refused(
        GlobalSecondaryIndexes=[
            GSI | {"Projection": {"ProjectionType": "ALL", "NonKeyAttributes": ["x"]}}
        ]
    )
    assert "Some AttributeDefinitions are not used" in await refused(LocalSecondaryIndexes=None)
    assert "pattern" in await refused(GlobalSecondaryIndexes=[GSI | {"IndexName": "a b"}])
    assert "should not be specified" in await refused(
        GlobalSecondaryIndexes=[
            GSI | {"ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}
        ]
    )


async def test_update_table_creates_updates_and_deletes_a_global_index(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="docs",
        KeySchema=_key("pk"),
        AttributeDefinitions=_attrs(pk="S"),
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
    )
    for n in range(130):  # more than one backfill page
        item = {"pk": {"S": f"k{n:03}"}, "colour": {"S": "red" if n % 2 else "blue"}}
        await world.client("PutItem", TableName="docs", Item=item)
    throughput = {"ReadCapacityUnits": 2, "WriteCapacityUnits": 3}
    created = await world.client(
        "UpdateTable",
        TableName="docs",
        AttributeDefinitions=_attrs(colour="S"),
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_colour",
                    "KeySchema": _key("colour"),
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                    "ProvisionedThroughput": throughput,
                }
            }
        ],
    )
    (gsi,) = created["TableDescription"]["GlobalSecondaryIndexes"]
    assert (gsi["IndexStatus"], gsi["Backfilling"]) == ("CREATING", True)  # decision 0254
    item = {"pk": {"S": "k130"}, "colour": {"S": "blue"}}
    await world.client("PutItem", TableName="docs", Item=item)  # in the index at once
    assert await world.backfill.run_once() == 1
    (gsi,) = (await world.client("DescribeTable", TableName="docs"))["Table"][
        "GlobalSecondaryIndexes"
    ]
    assert (gsi["IndexStatus"], gsi["Backfilling"], gsi["ItemCount"]) == ("ACTIVE", False, 131)
    red = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
        Select="COUNT",
    )
    assert red["Count"] == 65
    await world.client(
        "UpdateTable",
        TableName="docs",
        GlobalSecondaryIndexUpdates=[
            {
                "Update": {
                    "IndexName": "by_colour",
                    "ProvisionedThroughput": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 6},
                }
            }
        ],
    )
    described = (await world.client("DescribeTable", TableName="docs"))["Table"]
    assert described["GlobalSecondaryIndexes"][0]["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert "already exists" in await world.fails(
        "UpdateTable",
        "ValidationException",
        TableName="docs",
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_colour",
                    "KeySchema": _key("colour"),
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": throughput,
                }
            }
        ],
    )
    await world.client(
        "UpdateTable",
        TableName="docs",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_colour"}}],
    )
    described = (await world.client("DescribeTable", TableName="docs"))["Table"]
    assert "GlobalSecondaryIndexes" not in described
    await world.fails(
        "UpdateTable",
        "ResourceNotFoundException",
        TableName="docs",
        GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_colour"}}],
    )
    await world.fails(
        "Query",
        "ValidationException",
        TableName="docs",
        IndexName="by_colour",
        KeyConditionExpression="colour = :c",
        ExpressionAttributeValues={":c": {"S": "red"}},
    )


async def test_index_limits_are_settings(tmp_path: Path) -> None:
    async for world in dynamodb_world(
        tmp_path,
        dynamodb_max_global_indexes=1,
        dynamodb_max_local_indexes=1,
        dynamodb_max_projected_attributes=2,
    ):
        base: dict[str, Any] = {
            "TableName": "small",
            "KeySchema": _key("pk", "sk"),
            "AttributeDefinitions": _attrs(pk="S", sk="S", owner="S", rank="N", date="S"),
            "BillingMode": "PAY_PER_REQUEST",
        }
        two = [GSI, GSI | {"IndexName": "second"}]
        assert "limit of 1" in await world.fails(
            "CreateTable", "LimitExceededException", **base, GlobalSecondaryIndexes=two
        )
        assert "limit of 1" in await world.fails(
            "CreateTable",
            "ValidationException",
            **base,
            GlobalSecondaryIndexes=[GSI],
            LocalSecondaryIndexes=[LSI, LSI | {"IndexName": "second"}],
        )
        wide = GSI | {
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a", "b", "c"]}
        }
        assert "limit of 2" in await world.fails(
            "CreateTable",
            "ValidationException",
            **base,
            GlobalSecondaryIndexes=[wide],
            LocalSecondaryIndexes=[LSI],
        )
        await world.client(
            "CreateTable", **base, GlobalSecondaryIndexes=[GSI], LocalSecondaryIndexes=[LSI]
        )
        assert "limit of 1" in await world.fails(
            "UpdateTable",
            "LimitExceededException",
            TableName="small",
            GlobalSecondaryIndexUpdates=[{"Create": GSI | {"IndexName": "second"}}],
        )


async def test_index_writes_are_billed_as_aws_bills_them(world: World) -> None:
    await _table(world)
    await world.client("PutItem", TableName="docs", Item=_doc("a", "1", owner="ann", rank=1))
    assert await world.usage("dynamodb.write-units") == 2  # the table, the global index
    await world.client(
        "UpdateItem",
        TableName="docs",
        Key=_doc("a", "1"),
        UpdateExpression="SET #o = :b",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":b": {"S": "bob"}},
    )
    assert await world.usage("dynamodb.write-units") == 5  # its index key moved: two more
    await world.client("PutItem", TableName="docs", Item=_doc("b", "1", title="not indexed"))
    assert await world.usage("dynamodb.write-units") == 6
    await world.client(  # not projected into the index: the table's write alone
        "UpdateItem",
        TableName="docs",
        Key=_doc("a", "1"),
        UpdateExpression="SET body = :b",
        ExpressionAttributeValues={":b": {"S": "text"}},
    )
    assert await world.usage("dynamodb.write-units") == 7
    await world.client("DeleteItem", TableName="docs", Key=_doc("a", "1"))
    assert await world.usage("dynamodb.write-units") == 9
