"""Decision 0291 through the API, on a fake clock: one partition key value throttled at its
partition limits (AWS's 3,000 read / 1,000 write units a second, here the settings made
small) even when its table's capacity or on-demand mode would allow more, with AWS's errors
(``ThrottlingException`` on demand, ``ProvisionedThroughputExceededException`` provisioned)
and ``ThrottlingReasons`` ``…KeyRangeThroughputExceeded``; the other keys untouched; a
global index's key read by a query; the ``Read/WriteKeyRangeThroughputThrottleEvents``
metrics; the settings reaching the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from andromede.dynamodb.throttling import ThroughputGate, ThroughputLimits
from andromede.settings import Settings
from andromede.wiring.dynamodb import throughput_limits
from support.dynamodbapp import World


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(world: World) -> Clock:
    ticking = Clock()
    limits = ThroughputLimits(partition_max_read=2, partition_max_write=2)
    world.dynamodb.throttle = ThroughputGate(limits, ticking)
    return ticking


def item(pk: str, **more: Any) -> dict[str, Any]:
    return {"pk": {"S": pk}, **{k: {"S": v} for k, v in more.items()}}


async def error_body(world: World, action: str, **payload: Any) -> dict[str, Any]:
    reply = await world.raw(action, payload)
    assert reply.status == 400, reply.body
    body: dict[str, Any] = json.loads(reply.body)
    return body


def arn_of(world: World, name: str = "things") -> str:
    return f"arn:aws:dynamodb:{world.app.service.region}:{world.tenant_id}:table/{name}"


async def test_a_hot_key_of_an_on_demand_table_is_throttled_alone(
    world: World, clock: Clock
) -> None:
    await world.table()
    world.sink.points.clear()
    for _ in range(2):  # one unit each: the key's second of burst
        await world.client("PutItem", TableName="things", Item=item("hot"))
    body = await error_body(world, "PutItem", TableName="things", Item=item("hot"))
    assert body["__type"].endswith("#ThrottlingException")
    assert "check if you have a hot key" in body["message"]
    assert body["ThrottlingReasons"] == [
        {"reason": "TableWriteKeyRangeThroughputExceeded", "resource": arn_of(world)}
    ]
    # Its neighbours' partitions are their own; the table's 40,000 are far from spent.
    await world.client("PutItem", TableName="things", Item=item("cold"))
    await world.client("UpdateItem", TableName="things", Key=item("cold2"))
    await world.fails("DeleteItem", "ThrottlingException", TableName="things", Key=item("hot"))
    # Reads have their own bucket; a consistent read of a small item is one unit.
    for _ in range(2):
        await world.client("GetItem", TableName="things", Key=item("hot"), ConsistentRead=True)
    await world.fails("GetItem", "ThrottlingException", TableName="things", Key=item("hot"),
                      ConsistentRead=True)  # fmt: skip
    await world.fails("Query", "ThrottlingException", TableName="things",
                      KeyConditionExpression="pk = :k",
                      ExpressionAttributeValues={":k": {"S": "hot"}})  # fmt: skip
    await world.client("Scan", TableName="things")  # a scan is no one key's
    events = sorted((p[2], p[3]) for p in world.sink.points if "KeyRange" in p[2])
    table = (("TableName", "things"),)
    assert events == [
        ("ReadKeyRangeThroughputThrottleEvents", table),
        ("ReadKeyRangeThroughputThrottleEvents", table),
        ("WriteKeyRangeThroughputThrottleEvents", table),
        ("WriteKeyRangeThroughputThrottleEvents", table),
    ]
    write_events = [p for p in world.sink.points if p[2] == "WriteThrottleEvents"]
    assert len(write_events) == 2  # among all the throttle events too
    clock.now += 1.0  # a second refills the partition
    await world.client("PutItem", TableName="things", Item=item("hot"))


async def test_a_provisioned_table_refuses_a_hot_key_below_its_capacity(
    world: World, clock: Clock
) -> None:
    await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 100, "WriteCapacityUnits": 100},
    )
    big = item("hot", v="x" * 1500)  # two write units
    await world.client("PutItem", TableName="things", Item=big)
    body = await error_body(world, "PutItem", TableName="things", Item=item("hot"))
    assert body["__type"].endswith("#ProvisionedThroughputExceededException")
    assert body["message"].startswith("The level of configured provisioned throughput")
    assert body["ThrottlingReasons"][0]["reason"] == "TableWriteKeyRangeThroughputExceeded"
    # A batch answers the hot key's request unprocessed and does the others.
    requests = [{"PutRequest": {"Item": item(pk)}} for pk in ("hot", "a", "b")]
    answer = await world.client("BatchWriteItem", RequestItems={"things": requests})
    assert answer["UnprocessedItems"] == {"things": requests[:1]}


async def test_a_global_index_key_read_by_a_query(world: World, clock: Clock) -> None:
    await world.client(
        "CreateTable",
        TableName="things",
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
    await world.client("PutItem", TableName="things", Item=item("a", g="x"))
    query: dict[str, Any] = {
        "TableName": "things",
        "IndexName": "by-g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    for _ in range(4):  # half a unit each (eventually consistent)
        await world.client("Query", **query)
    world.sink.points.clear()
    body = await error_body(world, "Query", **query)
    assert body["ThrottlingReasons"] == [
        {"reason": "IndexReadKeyRangeThroughputExceeded", "resource": f"{arn_of(world)}/index/by-g"}
    ]
    events = [(p[2], p[3]) for p in world.sink.points if "KeyRange" in p[2]]
    assert events == [
        (
            "ReadKeyRangeThroughputThrottleEvents",
            (("TableName", "things"), ("GlobalSecondaryIndexName", "by-g")),
        )
    ]
    # The table's own key "a" is another partition.
    await world.client("GetItem", TableName="things", Key=item("a"))


def test_the_partition_limits_are_settings_with_awss_defaults(tmp_path: Path) -> None:
    defaults = throughput_limits(Settings(data_dir=tmp_path))
    assert (defaults.partition_max_read, defaults.partition_max_write) == (3000, 1000)
    chosen = throughput_limits(
        Settings(data_dir=tmp_path, dynamodb_partition_max_read=7, dynamodb_partition_max_write=5)
    )
    assert (chosen.partition_max_read, chosen.partition_max_write) == (7, 5)


async def test_a_write_transaction_on_a_hot_key_is_cancelled(world: World, clock: Clock) -> None:
    await world.table()
    # A transactional write costs double: two units, the hot key's second of burst.
    await world.client("TransactWriteItems", TransactItems=[
        {"Put": {"TableName": "things", "Item": item("hot")}}])  # fmt: skip
    await world.fails("PutItem", "ThrottlingException", TableName="things", Item=item("hot"))
    body = await error_body(world, "TransactWriteItems", TransactItems=[
        {"Put": {"TableName": "things", "Item": item("cold")}},
        {"Put": {"TableName": "things", "Item": item("hot", v="x")}},
    ])  # fmt: skip
    assert body["__type"].endswith("#TransactionCanceledException")
    assert [r["Code"] for r in body["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert "Item" not in await world.client("GetItem", TableName="things", Key=item("cold"))
