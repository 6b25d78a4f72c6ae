"""Decision 0254's ``AWS/DynamoDB`` metrics, each call's into the metrics sink (which merges
a minute's in memory): consumed capacity by table and by global index, successful request
latency and returned item counts by table and operation, user errors for the account, failed
conditions, throttled calls and transaction conflicts by table, items the time to live
deleted."""

from __future__ import annotations

import time
from collections import Counter

from andromede.dynamodb.capacity import Tally
from andromede.dynamodbapi.observed import FinishedCall, table_names
from andromede.wiring.dynamodb_metrics import NAMESPACE, DynamoMetrics
from support.dynamodbapp import World
from support.metric_sinks import RecordingSink

NS = NAMESPACE


def named(world: World, name: str) -> list[tuple[tuple[tuple[str, str], ...], float, str]]:
    return [(p[3], p[4], p[5]) for p in world.sink.points if p[2] == name and p[1] == NS]


async def indexed_table(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="orders",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )


async def test_item_calls_count_capacity_latency_and_returned_items(world: World) -> None:
    await indexed_table(world)
    world.sink.points.clear()
    for pk in ("a", "b"):
        await world.client("PutItem", TableName="orders", Item={"pk": {"S": pk}, "g": {"S": "x"}})
    await world.client("GetItem", TableName="orders", Key={"pk": {"S": "a"}}, ConsistentRead=True)
    await world.client("Query", TableName="orders", IndexName="by-g",
                       KeyConditionExpression="g = :g",
                       ExpressionAttributeValues={":g": {"S": "x"}})  # fmt: skip
    await world.client("Scan", TableName="orders")
    table = (("TableName", "orders"),)
    index = (("TableName", "orders"), ("GlobalSecondaryIndexName", "by-g"))
    assert sum(v for d, v, _ in named(world, "ConsumedWriteCapacityUnits") if d == table) == 2
    assert sum(v for d, v, _ in named(world, "ConsumedWriteCapacityUnits") if d == index) == 2
    assert sum(v for d, v, _ in named(world, "ConsumedReadCapacityUnits") if d == table) == 1.5
    assert sum(v for d, v, _ in named(world, "ConsumedReadCapacityUnits") if d == index) == 0.5
    timed = named(world, "SuccessfulRequestLatency")
    latency = Counter(dict(d)["Operation"] for d, _, unit in timed if unit == "Milliseconds")
    assert latency == {"PutItem": 2, "GetItem": 1, "Query": 1, "Scan": 1}
    returned = {dict(d)["Operation"]: v for d, v, _ in named(world, "ReturnedItemCount")}
    assert returned == {"Query": 2, "Scan": 2}
    assert all(p[0] == world.tenant_id for p in world.sink.points)
    assert not named(world, "UserErrors")


async def test_errors_are_user_errors_or_their_own_metric(world: World) -> None:
    await world.table()
    world.sink.points.clear()
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "a"}})
    await world.fails("PutItem", "ConditionalCheckFailedException", TableName="things",
                      Item={"pk": {"S": "a"}},
                      ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
    await world.fails("GetItem", "ResourceNotFoundException", TableName="nothing",
                      Key={"pk": {"S": "a"}})  # fmt: skip
    await world.fails("GetItem", "ValidationException", TableName="things",
                      Key={"other": {"S": "a"}})  # fmt: skip
    assert named(world, "ConditionalCheckFailedRequests") == [
        ((("TableName", "things"),), 1, "Count")
    ]
    assert named(world, "UserErrors") == [((), 1, "Count"), ((), 1, "Count")]
    latency = [dict(d)["Operation"] for d, _, _ in named(world, "SuccessfulRequestLatency")]
    assert latency == ["PutItem"]  # a failed call has no successful latency


async def test_time_to_live_deletions_are_counted_per_table(world: World) -> None:
    await world.table()
    await world.client(
        "UpdateTimeToLive",
        TableName="things",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"},
    )
    past = str(int(time.time()) - 10)
    for pk in ("a", "b", "c"):
        await world.client("PutItem", TableName="things",
                           Item={"pk": {"S": pk}, "exp": {"N": past}})  # fmt: skip
    world.metrics.expired(await world.dynamodb.expire())
    assert world.sink.counts(NS, [("TableName", "things")])["TimeToLiveDeletedItemCount"] == 3


def test_throttles_and_conflicts_are_counted_by_table() -> None:
    sink = RecordingSink()
    metrics = DynamoMetrics(sink)

    def finished(action: str, error: str | None, tables: tuple[str, ...]) -> None:
        metrics.finished(FinishedCall("111122223333", action, tables, Tally(), None, 400 if error
                                      else 200, error, 0.002))  # fmt: skip

    finished("UpdateItem", "ThrottlingException", ("t1",))
    finished("TransactWriteItems", "TransactionConflictException", ("t1", "t2"))
    finished("CreateTable", None, ("t3",))  # a table call has no item metrics
    assert sink.counts(NS, [("TableName", "t1"), ("Operation", "UpdateItem")]) == {
        "ThrottledRequests": 1
    }
    assert sink.counts(NS, [("TableName", "t2")]) == {"TransactionConflict": 1}
    assert sink.counts(NS, []) == {}
    assert not [p for p in sink.points if ("TableName", "t3") in p[3]]
    arns = ["arn:aws:dynamodb:r:1:table/a/index/i", "arn:aws:dynamodb:r:1:table/b",
            "arn:aws:dynamodb:r:1:table/a"]  # fmt: skip
    assert table_names(arns) == ("a", "b")
