"""DescribeTable's answers as Terraform's ``aws_dynamodb_table`` reads them back (decision
0274): an on-demand table or global index without a maximum has no ``OnDemandThroughput``
(the provider's block is not computed: a -1 there was drift on every plan), one with a
maximum has both members."""

from __future__ import annotations

from support.dynamodbapp import World

INDEX = {
    "IndexName": "by-g",
    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
    "Projection": {"ProjectionType": "KEYS_ONLY"},
}
ATTRIBUTES = [
    {"AttributeName": "pk", "AttributeType": "S"},
    {"AttributeName": "g", "AttributeType": "S"},
]


async def test_no_maximum_no_on_demand_throughput(world: World) -> None:
    made = await world.client(
        "CreateTable",
        TableName="things",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=ATTRIBUTES,
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[INDEX],
    )
    assert "OnDemandThroughput" not in made["TableDescription"]
    described = (await world.client("DescribeTable", TableName="things"))["Table"]
    assert "OnDemandThroughput" not in described
    (index,) = described["GlobalSecondaryIndexes"]
    assert "OnDemandThroughput" not in index
    await world.client(
        "UpdateTable", TableName="things", OnDemandThroughput={"MaxReadRequestUnits": 40}
    )
    described = (await world.client("DescribeTable", TableName="things"))["Table"]
    assert described["OnDemandThroughput"] == {
        "MaxReadRequestUnits": 40,
        "MaxWriteRequestUnits": -1,
    }
