"""Decision 0247's ``ReturnConsumedCapacity`` through botocore's own model: TOTAL and INDEXES
on every item call, with the units the bill counts (4 KB reads, half eventually consistent;
1 KB writes; index writes as AWS; transactions double), a list per table for the batches and
transactions, nothing when NONE or not asked, and the value checked."""

from __future__ import annotations

from typing import Any

import pytest

from support.dynamodbapp import World


def _key(*names: str) -> list[dict[str, str]]:
    return [
        {"AttributeName": n, "KeyType": "HASH" if i == 0 else "RANGE"} for i, n in enumerate(names)
    ]


async def _indexed(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="docs",
        KeySchema=_key("pk", "sk"),
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("pk", "S"), ("sk", "S"), ("owner", "S"), ("date", "S"))
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_owner",
                "KeySchema": _key("owner"),
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_date",
                "KeySchema": _key("pk", "date"),
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )


def _doc(pk: str, sk: str, **more: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{n: {"S": v} for n, v in more.items()}}


async def test_single_item_calls_answer_their_units(world: World) -> None:
    await world.table()
    key = {"pk": {"S": "a"}}
    put = await world.client(
        "PutItem",
        TableName="things",
        Item={**key, "big": {"S": "x" * 1500}},
        ReturnConsumedCapacity="TOTAL",
    )
    assert put["ConsumedCapacity"] == {
        "TableName": "things",
        "CapacityUnits": 2.0,  # 1.5 KB: two write units
        "WriteCapacityUnits": 2.0,
    }
    got = await world.client("GetItem", TableName="things", Key=key, ReturnConsumedCapacity="TOTAL")
    assert got["ConsumedCapacity"] == {
        "TableName": "things",
        "CapacityUnits": 0.5,  # eventually consistent: half a unit
        "ReadCapacityUnits": 0.5,
    }
    strong = await world.client(
        "GetItem",
        TableName="things",
        Key=key,
        ConsistentRead=True,
        ReturnConsumedCapacity="INDEXES",
    )
    assert strong["ConsumedCapacity"] == {
        "TableName": "things",
        "CapacityUnits": 1.0,
        "ReadCapacityUnits": 1.0,
        "Table": {"CapacityUnits": 1.0, "ReadCapacityUnits": 1.0},
    }
    updated = await world.client(
        "UpdateItem",
        TableName="things",
        Key=key,
        UpdateExpression="REMOVE big",
        ReturnConsumedCapacity="TOTAL",
    )
    assert updated["ConsumedCapacity"]["CapacityUnits"] == 2.0  # the larger of old and new
    deleted = await world.client(
        "DeleteItem", TableName="things", Key=key, ReturnConsumedCapacity="TOTAL"
    )
    assert deleted["ConsumedCapacity"]["CapacityUnits"] == 1.0
    plain = await world.client("GetItem", TableName="things", Key=key)
    none = await world.client("GetItem", TableName="things", Key=key, ReturnConsumedCapacity="NONE")
    assert "ConsumedCapacity" not in plain and "ConsumedCapacity" not in none


async def test_queries_and_scans_count_bytes_read(world: World) -> None:
    await world.table(sort="sk")
    for i in range(3):
        item = {"pk": {"S": "p"}, "sk": {"S": f"{i}"}, "v": {"S": "y" * 3000}}
        await world.client("PutItem", TableName="things", Item=item)
    query = await world.client(
        "Query",
        TableName="things",
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ConsistentRead=True,
        ReturnConsumedCapacity="TOTAL",
    )
    assert query["ConsumedCapacity"]["CapacityUnits"] == 3.0  # 9 KB read: three 4 KB units
    scan = await world.client("Scan", TableName="things", ReturnConsumedCapacity="TOTAL")
    assert scan["ConsumedCapacity"]["CapacityUnits"] == 1.5


async def test_indexes_apart_with_indexes(world: World) -> None:
    await _indexed(world)
    put = await world.client(
        "PutItem",
        TableName="docs",
        Item=_doc("p", "1", owner="ann", date="2026"),
        ReturnConsumedCapacity="INDEXES",
    )
    assert put["ConsumedCapacity"] == {
        "TableName": "docs",
        "CapacityUnits": 3.0,
        "WriteCapacityUnits": 3.0,
        "Table": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
        "GlobalSecondaryIndexes": {"by_owner": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}},
        "LocalSecondaryIndexes": {"by_date": {"CapacityUnits": 1.0, "WriteCapacityUnits": 1.0}},
    }
    moved = await world.client(
        "UpdateItem",
        TableName="docs",
        Key={"pk": {"S": "p"}, "sk": {"S": "1"}},
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "bob"}},
        ReturnConsumedCapacity="INDEXES",
    )
    # The global index's key changed: a delete and a put there; the local one holds the same.
    assert moved["ConsumedCapacity"]["GlobalSecondaryIndexes"]["by_owner"]["CapacityUnits"] == 2.0
    assert "LocalSecondaryIndexes" not in moved["ConsumedCapacity"]
    query = await world.client(
        "Query",
        TableName="docs",
        IndexName="by_owner",
        KeyConditionExpression="#o = :o",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":o": {"S": "bob"}},
        ReturnConsumedCapacity="INDEXES",
    )
    assert query["ConsumedCapacity"] == {
        "TableName": "docs",
        "CapacityUnits": 0.5,
        "ReadCapacityUnits": 0.5,
        "Table": {"CapacityUnits": 0.0},
        "GlobalSecondaryIndexes": {"by_owner": {"CapacityUnits": 0.5, "ReadCapacityUnits": 0.5}},
    }


async def test_batches_and_transactions_answer_a_list_per_table(world: World) -> None:
    await world.table()
    await world.table("others")
    written = await world.client(
        "BatchWriteItem",
        RequestItems={
            "things": [{"PutRequest": {"Item": {"pk": {"S": str(i)}}}} for i in range(3)],
            "others": [{"PutRequest": {"Item": {"pk": {"S": "o"}}}}],
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert written["ConsumedCapacity"] == [
        {"TableName": "things", "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0},
        {"TableName": "others", "CapacityUnits": 1.0, "WriteCapacityUnits": 1.0},
    ]
    read = await world.client(
        "BatchGetItem",
        RequestItems={
            "things": {"Keys": [{"pk": {"S": "0"}}, {"pk": {"S": "1"}}], "ConsistentRead": True},
            "others": {"Keys": [{"pk": {"S": "o"}}]},
        },
        ReturnConsumedCapacity="TOTAL",
    )
    assert [c["CapacityUnits"] for c in read["ConsumedCapacity"]] == [2.0, 0.5]
    transacted = await world.client(
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "things", "Item": {"pk": {"S": "t"}}}},
            {"Delete": {"TableName": "others", "Key": {"pk": {"S": "o"}}}},
        ],
        ReturnConsumedCapacity="TOTAL",
    )
    assert [c["CapacityUnits"] for c in transacted["ConsumedCapacity"]] == [2.0, 2.0]
    before = await world.usage("dynamodb.read-units")
    got = await world.client(
        "TransactGetItems",
        TransactItems=[{"Get": {"TableName": "things", "Key": {"pk": {"S": "t"}}}}],
        ReturnConsumedCapacity="TOTAL",
    )
    assert got["ConsumedCapacity"] == [
        {"TableName": "things", "CapacityUnits": 2.0, "ReadCapacityUnits": 2.0}
    ]
    assert await world.usage("dynamodb.read-units") - before == 2  # billed double too


async def test_an_unknown_choice_is_refused(world: World) -> None:
    await world.table()
    reply = await world.raw(
        "GetItem",
        {"TableName": "things", "Key": {"pk": {"S": "a"}}, "ReturnConsumedCapacity": "ALL"},
    )
    assert reply.status == 400 and b"returnConsumedCapacity" in reply.body


async def test_item_collection_metrics_where_a_local_index_is(world: World) -> None:
    await _indexed(world)
    await world.table()  # no local index: no metrics
    put = await world.client(
        "PutItem",
        TableName="docs",
        Item=_doc("p", "1", date="2026", big="z" * 2000),
        ReturnItemCollectionMetrics="SIZE",
    )
    assert put["ItemCollectionMetrics"] == {
        "ItemCollectionKey": {"pk": {"S": "p"}},
        "SizeEstimateRangeGB": [0.0, 1.0],
    }
    plain = await world.client(
        "PutItem", TableName="things", Item={"pk": {"S": "a"}}, ReturnItemCollectionMetrics="SIZE"
    )
    assert "ItemCollectionMetrics" not in plain
    unasked = await world.client("PutItem", TableName="docs", Item=_doc("p", "2"))
    assert "ItemCollectionMetrics" not in unasked
    written = await world.client(
        "BatchWriteItem",
        RequestItems={
            "docs": [
                {"PutRequest": {"Item": _doc("p", "3")}},
                {"PutRequest": {"Item": _doc("q", "1")}},
                {"DeleteRequest": {"Key": {"pk": {"S": "p"}, "sk": {"S": "2"}}}},
            ],
            "things": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}],
        },
        ReturnItemCollectionMetrics="SIZE",
    )
    assert written["ItemCollectionMetrics"] == {
        "docs": [
            {"ItemCollectionKey": {"pk": {"S": "p"}}, "SizeEstimateRangeGB": [0.0, 1.0]},
            {"ItemCollectionKey": {"pk": {"S": "q"}}, "SizeEstimateRangeGB": [0.0, 1.0]},
        ]
    }
    transacted = await world.client(
        "TransactWriteItems",
        TransactItems=[
            {"Delete": {"TableName": "docs", "Key": {"pk": {"S": "q"}, "sk": {"S": "1"}}}},
            {
                "ConditionCheck": {
                    "TableName": "docs",
                    "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
        ReturnItemCollectionMetrics="SIZE",
    )
    assert transacted["ItemCollectionMetrics"] == {
        "docs": [{"ItemCollectionKey": {"pk": {"S": "q"}}, "SizeEstimateRangeGB": [0.0, 1.0]}]
    }
    reply = await world.raw(
        "PutItem",
        {"TableName": "docs", "Item": _doc("p", "9"), "ReturnItemCollectionMetrics": "ALL"},
    )
    assert reply.status == 400 and b"returnItemCollectionMetrics" in reply.body


async def test_item_collection_size_counts_the_partitions_items(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _indexed(world)
    monkeypatch.setattr("andromede.dynamodbapi.collections._GB", 5000)  # a "GB" of 5,000 bytes
    for i in range(3):
        await world.client("PutItem", TableName="docs", Item=_doc("p", str(i), v="y" * 2400))
    await world.client("PutItem", TableName="docs", Item=_doc("other", "0", v="y" * 9000))
    put = await world.client(
        "PutItem",
        TableName="docs",
        Item=_doc("p", "3", v="y" * 2400),
        ReturnItemCollectionMetrics="SIZE",
    )
    # Four items of about 2.4 KB: one whole "GB" and part of the next; the other partition's
    # item is not of this collection.
    assert put["ItemCollectionMetrics"]["SizeEstimateRangeGB"] == [1.0, 2.0]
