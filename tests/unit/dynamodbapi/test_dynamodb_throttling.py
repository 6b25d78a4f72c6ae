"""Decision 0267 through the API, on a fake clock: a provisioned table's calls throttled with
AWS's error and ``ThrottlingReasons``, batches answering what was throttled as unprocessed,
transactions cancelled with ``ThrottlingError``, a global index's write capacity throttling
the table's writes, UpdateTable's new capacity taking effect, ``OnDemandThroughput``, the
table and account maximums and the decrease rule, the throttle metrics."""

from __future__ import annotations

import json
from typing import Any

import pytest

from andromede.dynamodb.throttling import ThroughputGate, ThroughputLimits
from support.dynamodbapp import World

BURST = 2.0  # seconds of capacity a bucket holds in these tests


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(world: World) -> Clock:
    ticking = Clock()
    limits = ThroughputLimits(
        burst_seconds=BURST,
        table_max_read=1000,
        table_max_write=1000,
        account_max_read=1500,
        account_max_write=1500,
        on_demand_max_read=100,
        on_demand_max_write=100,
    )
    world.dynamodb.throttle = ThroughputGate(limits, ticking)
    return ticking


async def provisioned(
    world: World, read: int = 1, write: int = 1, name: str = "things", **more: Any
) -> None:
    await world.client(
        "CreateTable",
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            *more.pop("attributes", []),
        ],
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": read, "WriteCapacityUnits": write},
        **more,
    )


def item(pk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}}


async def error_body(world: World, action: str, **payload: Any) -> dict[str, Any]:
    reply = await world.raw(action, payload)
    assert reply.status == 400, reply.body
    body: dict[str, Any] = json.loads(reply.body)
    return body


async def test_writes_past_the_capacity_and_its_burst_are_refused_as_aws_does(
    world: World, clock: Clock
) -> None:
    await provisioned(world, write=1)
    for pk in ("a", "b"):  # two seconds of one unit: the burst
        await world.client("PutItem", TableName="things", Item=item(pk))
    body = await error_body(world, "PutItem", TableName="things", Item=item("c"))
    assert body["__type"].endswith("#ProvisionedThroughputExceededException")
    assert body["message"] == (
        "The level of configured provisioned throughput for the table was exceeded. Consider "
        "increasing your provisioning level with the UpdateTable API."
    )
    arn = f"arn:aws:dynamodb:{world.app.service.region}:{world.tenant_id}:table/things"
    assert body["ThrottlingReasons"] == [
        {"reason": "TableWriteProvisionedThroughputExceeded", "resource": arn}
    ]
    await world.client("GetItem", TableName="things", Key=item("a"))  # reads are apart
    clock.now += 1.0
    await world.client("PutItem", TableName="things", Item=item("c"))
    assert (await world.client("GetItem", TableName="things", Key=item("c")))["Item"]


async def test_a_query_and_a_scan_spend_the_units_they_read(world: World, clock: Clock) -> None:
    await provisioned(world, read=1, write=10)
    for pk in "abcdefgh":
        await world.client("PutItem", TableName="things", Item=item(pk))
    await world.client("Scan", TableName="things", ConsistentRead=True)  # 1 unit
    await world.client("GetItem", TableName="things", Key=item("a"), ConsistentRead=True)
    await world.fails("Scan", "ProvisionedThroughputExceededException", TableName="things")


async def test_a_batch_write_answers_the_throttled_items_unprocessed(
    world: World, clock: Clock
) -> None:
    await provisioned(world, write=1)
    requests = [{"PutRequest": {"Item": item(pk)}} for pk in "abcd"]
    answer = await world.client("BatchWriteItem", RequestItems={"things": requests})
    # The first two spend the burst; the rest come back for the client to send again.
    assert answer["UnprocessedItems"] == {"things": requests[2:]}
    await world.fails("BatchWriteItem", "ProvisionedThroughputExceededException",
                      RequestItems={"things": requests[2:]})  # fmt: skip
    clock.now += 2.0
    answer = await world.client("BatchWriteItem", RequestItems={"things": requests[2:]})
    assert answer["UnprocessedItems"] == {}
    scanned = await world.client("Scan", TableName="things")
    assert scanned["Count"] == 4


async def test_a_batch_get_answers_the_throttled_keys_unprocessed(
    world: World, clock: Clock
) -> None:
    await provisioned(world, read=1, write=10)
    for pk in "abc":
        await world.client("PutItem", TableName="things", Item=item(pk))
    request = {"Keys": [item(pk) for pk in "abc"], "ConsistentRead": True}
    answer = await world.client("BatchGetItem", RequestItems={"things": request})
    assert len(answer["Responses"]["things"]) == 2
    assert answer["UnprocessedKeys"] == {"things": {"Keys": [item("c")], "ConsistentRead": True}}
    await world.fails("BatchGetItem", "ProvisionedThroughputExceededException",
                      RequestItems={"things": request})  # fmt: skip


async def test_transactions_are_cancelled_with_a_throttling_reason(
    world: World, clock: Clock
) -> None:
    await provisioned(world, read=1, write=1)
    await provisioned(world, read=5, write=5, name="roomy")
    await world.client("PutItem", TableName="things", Item=item("a"))
    await world.client("PutItem", TableName="things", Item=item("b"))
    body = await error_body(
        world,
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "roomy", "Item": item("x")}},
            {"Put": {"TableName": "things", "Item": item("y")}},
        ],
    )
    assert body["__type"].endswith("#TransactionCanceledException")
    assert [r["Code"] for r in body["CancellationReasons"]] == ["None", "ThrottlingError"]
    assert "Item" not in await world.client("GetItem", TableName="roomy", Key=item("x"))
    reads = [{"Get": {"TableName": "things", "Key": item(pk)}} for pk in "ab"]
    body = await error_body(world, "TransactGetItems", TransactItems=reads)
    # The first read (2 units: transactional and consistent) overdraws, the second is refused.
    assert [r["Code"] for r in body["CancellationReasons"]] == ["None", "ThrottlingError"]


async def test_a_global_index_short_of_write_capacity_throttles_the_tables_writes(
    world: World, clock: Clock
) -> None:
    await provisioned(
        world,
        write=100,
        attributes=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
    )
    for pk in "ab":
        await world.client("PutItem", TableName="things", Item={**item(pk), "g": {"S": "x"}})
    body = await error_body(world, "PutItem", TableName="things", Item=item("c"))
    assert body["message"].startswith(
        "The level of configured provisioned throughput for one or more global secondary"
    )
    assert body["ThrottlingReasons"][0]["reason"] == "IndexWriteProvisionedThroughputExceeded"
    assert body["ThrottlingReasons"][0]["resource"].endswith("/index/by-g")
    world.sink.points.clear()
    for _ in range(4):  # half a unit each (eventually consistent) of the index's two
        await world.client("Query", TableName="things", IndexName="by-g",
                           KeyConditionExpression="g = :g",
                           ExpressionAttributeValues={":g": {"S": "x"}})  # fmt: skip
    await world.fails("Query", "ProvisionedThroughputExceededException",
                      TableName="things", IndexName="by-g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "x"}})  # fmt: skip
    events = [(p[2], p[3]) for p in world.sink.points if p[2].endswith("ThrottleEvents")]
    index_dims = (("TableName", "things"), ("GlobalSecondaryIndexName", "by-g"))
    assert events == [("ReadThrottleEvents", index_dims)]
    throttled = [p[3] for p in world.sink.points if p[2] == "ThrottledRequests"]
    assert throttled == [(("TableName", "things"), ("Operation", "Query"))]


async def test_update_table_capacity_takes_effect_and_decreases_are_counted(
    world: World, clock: Clock
) -> None:
    await provisioned(world, write=1)
    for pk in "ab":
        await world.client("PutItem", TableName="things", Item=item(pk))
    await world.fails("PutItem", "ProvisionedThroughputExceededException",
                      TableName="things", Item=item("c"))  # fmt: skip
    raised = await world.client(
        "UpdateTable",
        TableName="things",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 50},
    )
    assert "LastIncreaseDateTime" in raised["TableDescription"]["ProvisionedThroughput"]
    clock.now += 0.1  # 5 units at the new rate
    await world.client("PutItem", TableName="things", Item=item("c"))
    for write in (40, 30, 20, 10):
        await world.client(
            "UpdateTable",
            TableName="things",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": write},
        )
    described = (await world.client("DescribeTable", TableName="things"))["Table"]
    throughput = described["ProvisionedThroughput"]
    assert throughput["NumberOfDecreasesToday"] == 4
    assert throughput["WriteCapacityUnits"] == 10
    assert "LastDecreaseDateTime" in throughput
    message = await world.fails(
        "UpdateTable",
        "LimitExceededException",
        TableName="things",
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 5},
    )
    assert "Number of decreases today: 4" in message
    await world.client(  # an increase is not a decrease
        "UpdateTable",
        TableName="things",
        ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 10},
    )


async def test_on_demand_maximums_are_set_described_and_enforced(
    world: World, clock: Clock
) -> None:
    made = await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        OnDemandThroughput={"MaxWriteRequestUnits": 2},
    )
    assert made["TableDescription"]["OnDemandThroughput"] == {
        "MaxReadRequestUnits": -1,
        "MaxWriteRequestUnits": 2,
    }
    for pk in "ab":  # one second of burst on demand
        await world.client("PutItem", TableName="things", Item=item(pk))
    body = await error_body(world, "PutItem", TableName="things", Item=item("c"))
    assert body["__type"].endswith("#ThrottlingException")
    assert body["ThrottlingReasons"][0]["reason"] == "TableWriteMaxOnDemandThroughputExceeded"
    updated = await world.client(
        "UpdateTable", TableName="things", OnDemandThroughput={"MaxWriteRequestUnits": -1}
    )
    # No maximum left: no OnDemandThroughput, as AWS describes it (decision 0274).
    assert "OnDemandThroughput" not in updated["TableDescription"]
    clock.now += 0.1  # the ceiling, 100 a second, from now on
    await world.client("PutItem", TableName="things", Item=item("c"))
    await world.fails("UpdateTable", "LimitExceededException", TableName="things",
                      OnDemandThroughput={"MaxReadRequestUnits": 101})  # fmt: skip
    await world.fails("UpdateTable", "ValidationException", TableName="things",
                      OnDemandThroughput={"MaxReadRequestUnits": 0})  # fmt: skip
    await world.fails("CreateTable", "ValidationException", TableName="other",
                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                      ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                      OnDemandThroughput={"MaxReadRequestUnits": 5})  # fmt: skip


async def test_the_table_and_account_maximums_are_the_settings(world: World, clock: Clock) -> None:
    limits = await world.client("DescribeLimits")
    limits.pop("ResponseMetadata", None)
    assert limits == {
        "AccountMaxReadCapacityUnits": 1500,
        "AccountMaxWriteCapacityUnits": 1500,
        "TableMaxReadCapacityUnits": 1000,
        "TableMaxWriteCapacityUnits": 1000,
    }
    message = await world.fails(
        "CreateTable",
        "LimitExceededException",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 1001, "WriteCapacityUnits": 1},
    )
    assert "1000" in message
    await provisioned(world, read=900, write=1)
    await world.fails(
        "CreateTable",
        "LimitExceededException",
        TableName="other",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 700, "WriteCapacityUnits": 1},
    )
    await world.fails(
        "UpdateTable",
        "LimitExceededException",
        TableName="things",
        ProvisionedThroughput={"ReadCapacityUnits": 1001, "WriteCapacityUnits": 1},
    )
    await provisioned(world, read=600, write=1, name="other")


async def test_an_import_and_the_platforms_own_work_are_not_throttled(
    world: World, clock: Clock
) -> None:
    await provisioned(world, write=1)
    service = world.dynamodb
    table = await service.table(world.tenant_id, "things")
    for pk in "abcdef":  # outside a client's call: not measured, not enforced
        await service.put_item(table, item(pk), None)
    await world.client("PutItem", TableName="things", Item=item("g"))


async def test_a_partiql_batch_answers_each_throttled_statement_its_error(
    world: World, clock: Clock
) -> None:
    await provisioned(world, write=1)
    statements = [
        {"Statement": "INSERT INTO things VALUE {'pk': ?}", "Parameters": [{"S": pk}]}
        for pk in "abc"
    ]
    answer = await world.client("BatchExecuteStatement", Statements=statements)
    codes = [r.get("Error", {}).get("Code") for r in answer["Responses"]]
    assert codes == [None, None, "ProvisionedThroughputExceeded"]


async def test_a_partiql_read_transaction_is_cancelled_when_throttled(
    world: World, clock: Clock
) -> None:
    await provisioned(world, read=1, write=5)
    for pk in "ab":
        await world.client("PutItem", TableName="things", Item=item(pk))
    statements = [
        {"Statement": "SELECT * FROM things WHERE pk = ?", "Parameters": [{"S": pk}]} for pk in "ab"
    ]
    body = await error_body(world, "ExecuteTransaction", TransactStatements=statements)
    assert body["__type"].endswith("#TransactionCanceledException")
    assert [r["Code"] for r in body["CancellationReasons"]] == ["None", "ThrottlingError"]


async def test_a_global_indexs_on_demand_maximum_is_set_described_and_updated(
    world: World, clock: Clock
) -> None:
    index = {
        "IndexName": "by-g",
        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
        "OnDemandThroughput": {"MaxReadRequestUnits": 1},
    }
    made = await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[index],
    )
    (described,) = made["TableDescription"]["GlobalSecondaryIndexes"]
    assert described["OnDemandThroughput"] == {
        "MaxReadRequestUnits": 1,
        "MaxWriteRequestUnits": -1,
    }
    query = {
        "TableName": "things",
        "IndexName": "by-g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "x"}},
    }
    await world.client("Query", **query)
    await world.client("Query", **query)  # half a unit each: the second empties it
    body = await error_body(world, "Query", **query)
    assert body["__type"].endswith("#ThrottlingException")
    assert body["ThrottlingReasons"][0]["reason"] == "IndexReadMaxOnDemandThroughputExceeded"
    updated = await world.client(
        "UpdateTable",
        TableName="things",
        GlobalSecondaryIndexUpdates=[
            {"Update": {"IndexName": "by-g", "OnDemandThroughput": {"MaxReadRequestUnits": 50}}}
        ],
    )
    (after,) = updated["TableDescription"]["GlobalSecondaryIndexes"]
    assert after["OnDemandThroughput"]["MaxReadRequestUnits"] == 50
    clock.now += 0.1
    await world.client("Query", **query)


async def test_a_global_indexs_capacity_update_is_bounded_by_the_account(
    world: World, clock: Clock
) -> None:
    await provisioned(
        world,
        read=700,
        attributes=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
                "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            }
        ],
    )

    def update(read: int) -> dict[str, Any]:
        throughput = {"ReadCapacityUnits": read, "WriteCapacityUnits": 1}
        return {"Update": {"IndexName": "by-g", "ProvisionedThroughput": throughput}}

    await world.fails("UpdateTable", "LimitExceededException", TableName="things",
                      GlobalSecondaryIndexUpdates=[update(801)])  # fmt: skip
    await world.client("UpdateTable", TableName="things", GlobalSecondaryIndexUpdates=[update(800)])


async def test_an_index_without_capacity_on_a_provisioned_table_draws_on_the_tables(
    world: World, clock: Clock
) -> None:
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
    await world.client(
        "UpdateTable",
        TableName="things",
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    await world.client("PutItem", TableName="things", Item={**item("a"), "g": {"S": "x"}})
