"""Decision 0259's legacy parameters through botocore's own model, on the developer guide's
"Legacy conditional parameters" examples: ``Expected`` (``Exists``/``Value`` and every
``ComparisonOperator``, AND/OR), ``AttributeUpdates`` PUT/DELETE/ADD, ``KeyConditions`` with
``QueryFilter``, ``ScanFilter``, ``AttributesToGet`` on GetItem, BatchGetItem, Query and
Scan; the mix with expressions and malformed conditions refused in AWS's words."""

from __future__ import annotations

from typing import Any

import pytest

from support.dynamodbapp import World
from support.firehoseapp import CallFailed

PRODUCT = {
    "pk": {"S": "product-456"},
    "Price": {"N": "650"},
    "ProductCategory": {"S": "Bicycle"},
    "Color": {"SS": ["Red", "Black"]},
    "Title": {"S": "20-Bicycle 456"},
}


def _n(value: str) -> dict[str, str]:
    return {"N": value}


async def _product(world: World) -> None:
    await world.table()
    await world.client("PutItem", TableName="things", Item=PRODUCT)


async def _get(world: World) -> dict[str, Any]:
    got = await world.client("GetItem", TableName="things", Key={"pk": PRODUCT["pk"]})
    return dict(got.get("Item") or {})


async def test_expected_exists_and_value_as_the_guide_writes_them(world: World) -> None:
    await world.table()
    first = {"pk": {"S": "a"}, "v": _n("1")}
    create_once = {"Expected": {"pk": {"Exists": False}}}
    await world.client("PutItem", TableName="things", Item=first, **create_once)
    await world.fails(
        "PutItem", "ConditionalCheckFailedException", TableName="things", Item=first,
        **create_once,
    )  # fmt: skip
    # Optimistic locking as the older mappers do it: Value implies Exists true.
    await world.client(
        "PutItem", TableName="things", Item={"pk": {"S": "a"}, "v": _n("2")},
        Expected={"v": {"Value": _n("1")}},
    )  # fmt: skip
    await world.fails(
        "DeleteItem", "ConditionalCheckFailedException", TableName="things",
        Key={"pk": {"S": "a"}}, Expected={"v": {"Exists": True, "Value": _n("1")}},
    )  # fmt: skip
    await world.client(
        "DeleteItem", TableName="things", Key={"pk": {"S": "a"}},
        Expected={"v": {"Exists": True, "Value": _n("2")}},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("condition", "holds"),
    [
        ({"ComparisonOperator": "LE", "AttributeValueList": [_n("650")]}, True),
        ({"ComparisonOperator": "LT", "AttributeValueList": [_n("650")]}, False),
        ({"ComparisonOperator": "GE", "AttributeValueList": [_n("650")]}, True),
        ({"ComparisonOperator": "GT", "AttributeValueList": [_n("100")]}, True),
        ({"ComparisonOperator": "EQ", "AttributeValueList": [_n("650")]}, True),
        ({"ComparisonOperator": "NE", "AttributeValueList": [_n("650")]}, False),
        ({"ComparisonOperator": "EQ", "Value": _n("650")}, True),
        ({"ComparisonOperator": "NOT_NULL"}, True),
        ({"ComparisonOperator": "NULL"}, False),
        ({"ComparisonOperator": "IN", "AttributeValueList": [_n("1"), _n("650")]}, True),
        ({"ComparisonOperator": "BETWEEN", "AttributeValueList": [_n("500"), _n("700")]}, True),
        ({"ComparisonOperator": "BETWEEN", "AttributeValueList": [_n("651"), _n("700")]}, False),
    ],
)
async def test_expected_comparison_operators_on_a_number(
    world: World, condition: dict[str, Any], holds: bool
) -> None:
    await _product(world)
    update = {
        "TableName": "things", "Key": {"pk": PRODUCT["pk"]},
        "AttributeUpdates": {"Price": {"Action": "PUT", "Value": _n("700")}},
        "Expected": {"Price": condition},
    }  # fmt: skip
    if holds:
        await world.client("UpdateItem", **update)
        assert (await _get(world))["Price"] == _n("700")
    else:
        await world.fails("UpdateItem", "ConditionalCheckFailedException", **update)
        assert (await _get(world))["Price"] == _n("650")


async def test_expected_string_and_set_operators_joined_by_and_or(world: World) -> None:
    await _product(world)

    async def holds(expected: dict[str, Any], operator: str | None = None) -> bool:
        extra = {} if operator is None else {"ConditionalOperator": operator}
        try:
            await world.client(
                "UpdateItem", TableName="things", Key={"pk": PRODUCT["pk"]},
                AttributeUpdates={"Seen": {"Action": "ADD", "Value": _n("1")}},
                Expected=expected, **extra,
            )  # fmt: skip
        except CallFailed as exc:
            assert exc.code == "ConditionalCheckFailedException", exc.message
            return False
        return True

    assert await holds({"Title": {"ComparisonOperator": "BEGINS_WITH",
                                  "AttributeValueList": [{"S": "20-"}]}})  # fmt: skip
    assert await holds({"Title": {"ComparisonOperator": "CONTAINS",
                                  "AttributeValueList": [{"S": "Bicycle"}]}})  # fmt: skip
    assert await holds({"Color": {"ComparisonOperator": "CONTAINS",
                                  "AttributeValueList": [{"S": "Red"}]}})  # fmt: skip
    assert not await holds({"Color": {"ComparisonOperator": "NOT_CONTAINS",
                                      "AttributeValueList": [{"S": "Red"}]}})  # fmt: skip
    # A missing attribute does not satisfy NOT_CONTAINS, as AWS's.
    assert not await holds({"Nope": {"ComparisonOperator": "NOT_CONTAINS",
                                     "AttributeValueList": [{"S": "Red"}]}})  # fmt: skip
    both = {
        "ProductCategory": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "Car"}]},
        "Price": {"ComparisonOperator": "LT", "AttributeValueList": [_n("1000")]},
    }
    assert not await holds(both)  # AND by default
    assert not await holds(both, "AND")
    assert await holds(both, "OR")
    assert (await _get(world))["Seen"] == _n("4")


async def test_attribute_updates_put_delete_add_as_aws(world: World) -> None:
    await _product(world)
    answer = await world.client(
        "UpdateItem", TableName="things", Key={"pk": PRODUCT["pk"]},
        AttributeUpdates={
            "Price": {"Action": "ADD", "Value": _n("-50")},
            "Color": {"Action": "ADD", "Value": {"SS": ["Blue", "Red"]}},
            "Title": {"Action": "DELETE"},
            "Stock": {"Value": _n("3")},  # PUT is the default action
            "Sold": {"Action": "ADD", "Value": _n("1")},  # ADD to nothing: the number itself
        },
        ReturnValues="UPDATED_NEW",
    )  # fmt: skip
    new = answer["Attributes"]
    assert new["Price"] == _n("600") and new["Stock"] == _n("3") and new["Sold"] == _n("1")
    assert sorted(new["Color"]["SS"]) == ["Black", "Blue", "Red"] and "Title" not in new
    await world.client(
        "UpdateItem", TableName="things", Key={"pk": PRODUCT["pk"]},
        AttributeUpdates={"Color": {"Action": "DELETE", "Value": {"SS": ["Red", "Blue"]}}},
    )  # fmt: skip
    item = await _get(world)
    assert item["Color"] == {"SS": ["Black"]} and "Title" not in item
    # An item that was not there is made by the update, as AWS's.
    await world.client(
        "UpdateItem", TableName="things", Key={"pk": {"S": "new"}},
        AttributeUpdates={"Count": {"Action": "ADD", "Value": _n("5")}},
    )  # fmt: skip
    made = await world.client("GetItem", TableName="things", Key={"pk": {"S": "new"}})
    assert made["Item"] == {"pk": {"S": "new"}, "Count": _n("5")}


async def test_attribute_updates_refusals(world: World) -> None:
    await _product(world)
    base = {"TableName": "things", "Key": {"pk": PRODUCT["pk"]}}
    cases = [
        ({"Title": {"Action": "ADD", "Value": {"S": "x"}}},
         "One or more parameter values were invalid: ADD action is not supported for the type S"),
        ({"Title": {"Action": "DELETE", "Value": {"S": "x"}}},
         "One or more parameter values were invalid: DELETE action with value is not "
         "supported for the type S"),
        ({"Title": {"Action": "PUT"}},
         "One or more parameter values were invalid: Only DELETE action is allowed when no "
         "attribute value is specified"),
        ({"pk": {"Action": "PUT", "Value": {"S": "other"}}},
         "One or more parameter values were invalid: Cannot update attribute pk. This "
         "attribute is part of the key"),
    ]  # fmt: skip
    for updates, message in cases:
        got = await world.fails("UpdateItem", "ValidationException", AttributeUpdates=updates,
                                **base)  # fmt: skip
        assert got == message
    # A type mismatch with what the item holds, in the update's words.
    got = await world.fails(
        "UpdateItem", "ValidationException",
        AttributeUpdates={"Color": {"Action": "ADD", "Value": {"NS": ["1"]}}}, **base,
    )  # fmt: skip
    assert "incorrect data type" in got


async def test_mixing_legacy_and_expression_parameters_is_refused(world: World) -> None:
    await _product(world)
    got = await world.fails(
        "PutItem", "ValidationException", TableName="things", Item=PRODUCT,
        Expected={"pk": {"Exists": False}}, ConditionExpression="attribute_not_exists(pk)",
    )  # fmt: skip
    assert got == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    )
    got = await world.fails(
        "UpdateItem", "ValidationException", TableName="things", Key={"pk": PRODUCT["pk"]},
        AttributeUpdates={"a": {"Value": _n("1")}}, UpdateExpression="SET b = :b",
        ExpressionAttributeValues={":b": _n("1")},
    )  # fmt: skip
    assert got.endswith(
        "Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}"
    )
    got = await world.fails(
        "Query", "ValidationException", TableName="things",
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": PRODUCT["pk"]},
        QueryFilter={"Price": {"ComparisonOperator": "GT", "AttributeValueList": [_n("1")]}},
    )  # fmt: skip
    assert got.endswith(
        "Non-expression parameters: {QueryFilter} Expression parameters: {KeyConditionExpression}"
    )
    # AWS lets KeyConditions stand beside a FilterExpression.
    found = await world.client(
        "Query", TableName="things",
        KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [PRODUCT["pk"]]}},
        FilterExpression="Price > :p", ExpressionAttributeValues={":p": _n("1")},
    )  # fmt: skip
    assert found["Count"] == 1
    got = await world.fails(
        "GetItem", "ValidationException", TableName="things", Key={"pk": PRODUCT["pk"]},
        AttributesToGet=["Price"], ExpressionAttributeNames={"#p": "Price"},
    )  # fmt: skip
    assert got == "ExpressionAttributeNames can only be specified when using expressions"


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"Exists": True}, "Value must be provided when Exists is true for Attribute: a"),
        ({}, "Value must be provided when Exists is null for Attribute: a"),
        ({"Exists": False, "Value": {"S": "x"}},
         "Value cannot be used when Exists is false for Attribute: a"),
        ({"Value": {"S": "x"}, "ComparisonOperator": "EQ", "AttributeValueList": [{"S": "x"}]},
         "Value and AttributeValueList cannot be used together for Attribute: a"),
        ({"ComparisonOperator": "EQ"},
         "Value or AttributeValueList must be used with ComparisonOperator: EQ for Attribute: a"),
        ({"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"S": "x"}]},
         "Invalid number of argument(s) for the BETWEEN ComparisonOperator"),
        ({"Exists": True, "ComparisonOperator": "NULL"},
         "Exists and ComparisonOperator cannot be used together for Attribute: a"),
        ({"AttributeValueList": [{"S": "x"}]},
         "AttributeValueList can only be used with a ComparisonOperator for Attribute: a"),
        ({"ComparisonOperator": "IN", "AttributeValueList": [{"S": "x"}, {"N": "1"}]},
         "AttributeValues inside AttributeValueList must be of same type"),
        ({"ComparisonOperator": "LT", "AttributeValueList": [{"BOOL": True}]},
         "ComparisonOperator LT is not valid for BOOL AttributeValue type"),
        ({"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]},
         "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"),
    ],
)  # fmt: skip
async def test_malformed_expected_refused_in_aws_words(
    world: World, condition: dict[str, Any], message: str
) -> None:
    await world.table()
    got = await world.fails(
        "PutItem", "ValidationException", TableName="things", Item={"pk": {"S": "x"}},
        Expected={"a": condition},
    )  # fmt: skip
    assert got == "One or more parameter values were invalid: " + message


async def test_between_bounds_out_of_order(world: World) -> None:
    await world.table()
    got = await world.fails(
        "PutItem", "ValidationException", TableName="things", Item={"pk": {"S": "x"}},
        Expected={"a": {"ComparisonOperator": "BETWEEN",
                        "AttributeValueList": [_n("5"), _n("1")]}},
    )  # fmt: skip
    assert got == (
        "The BETWEEN condition was provided a range where the lower bound is greater than the "
        "upper bound"
    )


async def _replies(world: World) -> None:
    """The guide's Reply table: a thread's replies keyed by their date."""
    await world.table("Reply", sort="ReplyDateTime")
    for day, by in (("2015-09-01", "a"), ("2015-09-15", "b"), ("2015-10-01", "a")):
        await world.client("PutItem", TableName="Reply", Item={
            "pk": {"S": "Amazon DynamoDB#Thread 1"}, "ReplyDateTime": {"S": day},
            "PostedBy": {"S": f"User {by}"}, "Message": {"S": f"reply of {day}"},
        })  # fmt: skip


async def test_query_with_key_conditions_query_filter_and_attributes_to_get(
    world: World,
) -> None:
    await _replies(world)
    thread = {"ComparisonOperator": "EQ",
              "AttributeValueList": [{"S": "Amazon DynamoDB#Thread 1"}]}  # fmt: skip
    found = await world.client(
        "Query", TableName="Reply",
        KeyConditions={"pk": thread, "ReplyDateTime": {
            "ComparisonOperator": "GE", "AttributeValueList": [{"S": "2015-09-10"}]}},
        ScanIndexForward=False,
    )  # fmt: skip
    assert [i["ReplyDateTime"]["S"] for i in found["Items"]] == ["2015-10-01", "2015-09-15"]
    filtered = await world.client(
        "Query", TableName="Reply",
        KeyConditions={"pk": thread, "ReplyDateTime": {
            "ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "2015-09"}]}},
        QueryFilter={"PostedBy": {"ComparisonOperator": "EQ",
                                  "AttributeValueList": [{"S": "User a"}]}},
        AttributesToGet=["Message", "PostedBy"],
    )  # fmt: skip
    assert filtered["Items"] == [{"Message": {"S": "reply of 2015-09-01"},
                                  "PostedBy": {"S": "User a"}}]  # fmt: skip
    assert filtered["Count"] == 1 and filtered["ScannedCount"] == 2
    between = await world.client(
        "Query", TableName="Reply", Select="COUNT",
        KeyConditions={"pk": thread, "ReplyDateTime": {
            "ComparisonOperator": "BETWEEN",
            "AttributeValueList": [{"S": "2015-09-01"}, {"S": "2015-09-30"}]}},
    )  # fmt: skip
    assert between["Count"] == 2
    refused = await world.fails(
        "Query", "ValidationException", TableName="Reply",
        KeyConditions={"pk": thread},
        QueryFilter={"ReplyDateTime": {"ComparisonOperator": "NOT_NULL"}},
    )  # fmt: skip
    assert refused == (
        "QueryFilter can only contain non-key attributes: Primary key attribute: ReplyDateTime"
    )
    refused = await world.fails(
        "Query", "ValidationException", TableName="Reply",
        KeyConditions={"pk": {"ComparisonOperator": "NE",
                              "AttributeValueList": [{"S": "x"}]}},
    )  # fmt: skip
    assert refused == (
        "One or more parameter values were invalid: Unsupported operator on KeyCondition: NE"
    )
    refused = await world.fails(
        "Query", "ValidationException", TableName="Reply",
        KeyConditions={"ReplyDateTime": {"ComparisonOperator": "EQ",
                                         "AttributeValueList": [{"S": "2015-09-01"}]}},
    )  # fmt: skip
    assert refused == "Query condition missed key schema element: pk"


async def test_scan_filter_get_and_batch_get_with_attributes_to_get(world: World) -> None:
    await _replies(world)
    scanned = await world.client(
        "Scan", TableName="Reply",
        ScanFilter={
            "PostedBy": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "User a"}]},
            "ReplyDateTime": {"ComparisonOperator": "LT",
                              "AttributeValueList": [{"S": "2015-09-10"}]},
        },
        ConditionalOperator="OR", AttributesToGet=["ReplyDateTime"],
    )  # fmt: skip
    days = sorted(i["ReplyDateTime"]["S"] for i in scanned["Items"])
    assert days == ["2015-09-01", "2015-10-01"] and scanned["Items"][0].keys() == {"ReplyDateTime"}
    key = {"pk": {"S": "Amazon DynamoDB#Thread 1"}, "ReplyDateTime": {"S": "2015-09-15"}}
    got = await world.client("GetItem", TableName="Reply", Key=key,
                             AttributesToGet=["PostedBy", "Missing"])  # fmt: skip
    assert got["Item"] == {"PostedBy": {"S": "User b"}}
    batch = await world.client(
        "BatchGetItem", RequestItems={"Reply": {"Keys": [key], "AttributesToGet": ["Message"]}}
    )
    assert batch["Responses"]["Reply"] == [{"Message": {"S": "reply of 2015-09-15"}}]
    refused = await world.fails(
        "Scan", "ValidationException", TableName="Reply", Select="COUNT",
        AttributesToGet=["Message"],
    )  # fmt: skip
    assert refused == "Cannot specify the AttributesToGet when choosing to get COUNT"
    refused = await world.fails(
        "Scan", "ValidationException", TableName="Reply", ConditionalOperator="XOR",
        ScanFilter={"PostedBy": {"ComparisonOperator": "NOT_NULL"}},
    )  # fmt: skip
    assert "Member must satisfy enum value set: [AND, OR]" in refused


async def test_a_transaction_action_ignores_legacy_members_as_aws(world: World) -> None:
    """TransactWriteItems' ``Put`` has no ``Expected`` in AWS's shape: one sent raw is ignored,
    not read (decision 0259)."""
    await world.table()
    reply = await world.raw("TransactWriteItems", {"TransactItems": [{"Put": {
        "TableName": "things", "Item": {"pk": {"S": "raw"}},
        "Expected": {"pk": {"Exists": True, "Value": {"S": "never"}}},
    }}]})  # fmt: skip
    assert reply.status == 200, reply.body
    got = await world.client("GetItem", TableName="things", Key={"pk": {"S": "raw"}})
    assert got["Item"] == {"pk": {"S": "raw"}}
