"""Decision 0237's item calls through botocore's own model: Terraform's state lock (PutItem
with ``attribute_not_exists(LockID)``, GetItem, DeleteItem); every attribute type round-trips;
UpdateItem's SET/REMOVE/ADD/DELETE with ``if_not_exists``, ``list_append`` and arithmetic;
conditions and their failure with the old item; ``ReturnValues``; projections; the item size
bound; items sealed in the store (no attribute, no hash key in clear); request units
billed."""

from __future__ import annotations

from andromede.dynamodb.store import ScanRange
from support.dynamodbapp import World

LOCK = {"LockID": {"S": "bucket/terraform.tfstate"}, "Info": {"S": '{"ID":"1"}'}}


async def test_terraform_state_locking(world: World) -> None:
    await world.client(
        "CreateTable",
        TableName="tf-locks",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
    )
    take = {
        "TableName": "tf-locks",
        "Item": LOCK,
        "ConditionExpression": "attribute_not_exists(LockID)",
    }
    await world.client("PutItem", **take)
    await world.fails("PutItem", "ConditionalCheckFailedException", **take)
    held = await world.client(
        "GetItem", TableName="tf-locks", ConsistentRead=True, Key={"LockID": LOCK["LockID"]}
    )
    assert held["Item"] == LOCK
    await world.client("DeleteItem", TableName="tf-locks", Key={"LockID": LOCK["LockID"]})
    await world.client("PutItem", **take)  # free again


async def test_every_attribute_type_round_trips_sealed(world: World) -> None:
    await world.table()
    item = {
        "pk": {"S": "secret-partition"},
        "s": {"S": "héllo"},
        "n": {"N": "001.500"},
        "b": {"B": b"\x00\xff"},
        "t": {"BOOL": True},
        "z": {"NULL": True},
        "l": {"L": [{"S": "x"}, {"N": "2"}]},
        "m": {"M": {"inner": {"SS": ["a", "b"]}}},
        "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"q"]},
        "big": {"N": "12345678901234567890123456789012345678"},
    }
    await world.client("PutItem", TableName="things", Item=item)
    got = (await world.client("GetItem", TableName="things", Key={"pk": item["pk"]}))["Item"]
    assert got["n"] == {"N": "1.5"}  # numbers normalised, as DynamoDB answers them
    assert got["b"] == {"B": b"\x00\xff"} and got["m"] == item["m"] and got["l"] == item["l"]
    assert got["big"] == item["big"] and got["z"] == {"NULL": True}
    # Sealed at rest: neither a value nor the partition key appears in the store's rows.
    table = await world.dynamodb.table(world.tenant_id, "things")
    rows = await world.store.scan(world.tenant_id, "things", ScanRange(), None, 10)
    assert len(rows) == 1 and b"secret-partition" not in rows[0].sealed
    assert b"secret-partition" not in rows[0].hash_token and table.wrapped_key
    await world.fails(
        "PutItem",
        "ValidationException",
        TableName="things",
        Item={"pk": {"S": "x"}, "n": {"N": "1" * 39}},
    )
    await world.fails(
        "PutItem",
        "ValidationException",
        TableName="things",
        Item={"pk": {"S": "x"}, "e": {"SS": ["a", "a"]}},
    )
    await world.fails("PutItem", "ValidationException", TableName="things", Item={"pk": {"N": "1"}})
    await world.fails(
        "PutItem", "ValidationException", TableName="things", Item={"other": {"S": "1"}}
    )
    await world.fails(
        "GetItem",
        "ValidationException",
        TableName="things",
        Key={"pk": {"S": "a"}, "extra": {"S": "b"}},
    )


async def test_update_expressions(world: World) -> None:
    await world.table()
    key = {"pk": {"S": "k"}}
    made = await world.client(
        "UpdateItem",
        TableName="things",
        Key=key,
        ReturnValues="ALL_NEW",
        UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, tags = :l, m = :m "
        "ADD seen :set, total :one",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":l": {"L": [{"S": "a"}]},
            ":m": {"M": {}},
            ":set": {"SS": ["x", "y"]},
        },
    )
    assert made["Attributes"]["count"] == {"N": "1"}
    assert made["Attributes"]["m"] == {"M": {}}
    nested = await world.client(
        "UpdateItem",
        TableName="things",
        Key=key,
        ReturnValues="UPDATED_NEW",
        UpdateExpression="SET m.deep = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert nested["Attributes"] == {"m": {"M": {"deep": {"N": "1"}}}}
    # A path through a map that is not there is refused, as DynamoDB refuses it.
    message = await world.fails(
        "UpdateItem",
        "ValidationException",
        TableName="things",
        Key=key,
        UpdateExpression="SET nowhere.deep = :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert "document path provided in the update expression is invalid" in message
    again = await world.client(
        "UpdateItem",
        TableName="things",
        Key=key,
        ReturnValues="UPDATED_NEW",
        UpdateExpression="SET #c = #c + :two, tags = list_append(tags, :more) "
        "REMOVE m DELETE seen :x",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":two": {"N": "2"},
            ":more": {"L": [{"S": "b"}]},
            ":x": {"SS": ["x"]},
        },
    )
    assert again["Attributes"] == {
        "count": {"N": "3"},
        "tags": {"L": [{"S": "a"}, {"S": "b"}]},
        "seen": {"SS": ["y"]},
    }
    item = (await world.client("GetItem", TableName="things", Key=key))["Item"]
    assert "m" not in item and item["total"] == {"N": "1"}
    old = await world.client(
        "UpdateItem",
        TableName="things",
        Key=key,
        ReturnValues="UPDATED_OLD",
        UpdateExpression="SET total = total - :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    assert old["Attributes"] == {"total": {"N": "1"}}
    refused = [
        ("SET pk = :one", {":one": {"S": "x"}}, "part of the key"),
        ("SET a = :one, a = :one", {":one": {"N": "1"}}, "overlap"),
        ("SET a = :missing", {":one": {"N": "1"}}, "not defined"),
        ("SET a = :one", {":one": {"N": "1"}, ":unused": {"N": "1"}}, "unused"),
        ("SET a = nope + :one", {":one": {"N": "1"}}, "does not exist"),
        ("SET a = :one ADD b :one", {":one": {"S": "x"}}, "operand type"),
        ("FROB a", {":one": {"N": "1"}}, "Syntax error"),
    ]
    for expression, values, words in refused:
        message = await world.fails(
            "UpdateItem",
            "ValidationException",
            TableName="things",
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )
        assert words in message, (expression, message)


async def test_conditions_and_return_values(world: World) -> None:
    await world.table()
    item = {
        "pk": {"S": "c"},
        "n": {"N": "5"},
        "s": {"S": "prefix-rest"},
        "l": {"L": [{"S": "x"}]},
        "ss": {"SS": ["a"]},
    }
    await world.client("PutItem", TableName="things", Item=item)
    values = {
        ":lo": {"N": "1"},
        ":hi": {"N": "9"},
        ":p": {"S": "prefix"},
        ":a": {"S": "a"},
        ":x": {"S": "x"},
        ":S": {"S": "S"},
        ":three": {"N": "3"},
        ":seven": {"N": "7"},
        ":five": {"N": "5"},
    }
    holding = [
        "n BETWEEN :lo AND :hi",
        "n IN (:three, :five)",
        "begins_with(s, :p)",
        "contains(ss, :a) AND contains(l, :x)",
        "attribute_type(s, :S)",
        "size(l) < :three",
        "NOT (n > :seven) OR n = :lo",
        "n <> :three AND attribute_exists(pk)",
        "(n >= :five) AND (n <= :five)",
        "attribute_not_exists(nothing.deep[2])",
    ]
    for condition in holding:
        used = {k: v for k, v in values.items() if k in condition}
        await world.client(
            "PutItem",
            TableName="things",
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeValues=used,
        )
    failed = await world.raw(
        "DeleteItem",
        {
            "TableName": "things",
            "Key": {"pk": {"S": "c"}},
            "ConditionExpression": "n > :seven",
            "ExpressionAttributeValues": {":seven": {"N": "7"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
    )
    assert failed.json()["__type"].endswith("#ConditionalCheckFailedException")
    assert failed.json()["Item"]["n"] == {"N": "5"}
    # A comparison of different types is false, not an error, as DynamoDB's.
    await world.fails(
        "PutItem",
        "ConditionalCheckFailedException",
        TableName="things",
        Item=item,
        ConditionExpression="s < :five",
        ExpressionAttributeValues={":five": {"N": "5"}},
    )
    replaced = await world.client(
        "PutItem", TableName="things", ReturnValues="ALL_OLD", Item={"pk": {"S": "c"}}
    )
    assert replaced["Attributes"] == item
    deleted = await world.client(
        "DeleteItem", TableName="things", ReturnValues="ALL_OLD", Key={"pk": {"S": "c"}}
    )
    assert deleted["Attributes"] == {"pk": {"S": "c"}}
    assert await world.client("DeleteItem", TableName="things", Key={"pk": {"S": "c"}}) == {}


async def test_projections_sizes_and_request_units(world: World) -> None:
    await world.table(name="sized")
    item = {
        "pk": {"S": "p"},
        "a": {"M": {"b": {"L": [{"N": "1"}, {"N": "2"}]}, "c": {"S": "x"}}},
        "#odd": {"S": "y"},
        "big": {"S": "z" * 5000},
    }
    await world.client("PutItem", TableName="sized", Item=item)
    got = await world.client(
        "GetItem",
        TableName="sized",
        Key={"pk": {"S": "p"}},
        ProjectionExpression="a.b[1], #o",
        ExpressionAttributeNames={"#o": "#odd"},
    )
    assert got["Item"] == {"a": {"M": {"b": {"L": [{"N": "2"}]}}}, "#odd": {"S": "y"}}
    message = await world.fails(
        "PutItem",
        "ValidationException",
        TableName="sized",
        Item={"pk": {"S": "q"}, "huge": {"S": "h" * 409_600}},
    )
    assert "maximum allowed size" in message
    await world.client("GetItem", TableName="sized", Key={"pk": {"S": "p"}}, ConsistentRead=True)
    assert await world.usage("dynamodb.write-units") == 5  # 5,028 bytes: five 1 KB units
    # Two 4 KB units begun: one for the eventually consistent read (halved), two for the other.
    assert await world.usage("dynamodb.read-units") == 3
