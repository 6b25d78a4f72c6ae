"""Decision 0237's transactions through botocore's own model: puts, updates, deletes and
condition checks over several tables applied all or none; a failed condition cancels the
whole with a reason per item (the item when asked); one item twice refused; a write that
comes between the read and the store's transaction makes none apply; TransactGetItems."""

from __future__ import annotations

from typing import Any

from andromede.dynamodb.store import DynamoStore, TransactWrite
from support.dynamodbapp import World


def _put(table: str, key: str, **more: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": {"pk": {"S": key}}, **more}}


async def test_writes_apply_all_or_none(world: World) -> None:
    await world.table("accounts")
    await world.table("ledger")
    await world.client(
        "PutItem", TableName="accounts", Item={"pk": {"S": "ada"}, "balance": {"N": "10"}}
    )
    await world.client("PutItem", TableName="accounts", Item={"pk": {"S": "bob"}})
    debit = {
        "Update": {
            "TableName": "accounts",
            "Key": {"pk": {"S": "ada"}},
            "UpdateExpression": "SET balance = balance - :amount",
            "ConditionExpression": "balance >= :amount",
            "ExpressionAttributeValues": {":amount": {"N": "7"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    await world.client(
        "TransactWriteItems",
        TransactItems=[
            debit,
            _put("ledger", "entry-1", ConditionExpression="attribute_not_exists(pk)"),
            {
                "ConditionCheck": {
                    "TableName": "accounts",
                    "Key": {"pk": {"S": "bob"}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
        ],
    )
    balance = await world.client("GetItem", TableName="accounts", Key={"pk": {"S": "ada"}})
    assert balance["Item"]["balance"] == {"N": "3"}
    # The debit no longer holds: nothing is written, the ledger entry included.
    refused = await world.raw(
        "TransactWriteItems", {"TransactItems": [_put("ledger", "entry-2"), debit]}
    )
    body = refused.json()
    assert body["__type"].endswith("#TransactionCanceledException")
    assert "[None, ConditionalCheckFailed]" in body["message"]
    assert body["CancellationReasons"][0] == {"Code": "None"}
    assert body["CancellationReasons"][1]["Item"]["balance"] == {"N": "3"}
    await world.fails(
        "TransactWriteItems",
        "TransactionCanceledException",
        TransactItems=[_put("ledger", "entry-2"), debit],
    )
    missing = await world.client("GetItem", TableName="ledger", Key={"pk": {"S": "entry-2"}})
    assert missing == {}
    await world.client(
        "TransactWriteItems",
        TransactItems=[{"Delete": {"TableName": "ledger", "Key": {"pk": {"S": "entry-1"}}}}],
    )
    assert (await world.client("Scan", TableName="ledger"))["Count"] == 0
    message = await world.fails(
        "TransactWriteItems",
        "ValidationException",
        TransactItems=[_put("ledger", "x"), _put("ledger", "x")],
    )
    assert "multiple operations on one item" in message
    got = await world.client(
        "TransactGetItems",
        TransactItems=[
            {
                "Get": {
                    "TableName": "accounts",
                    "Key": {"pk": {"S": "ada"}},
                    "ProjectionExpression": "balance",
                }
            },
            {"Get": {"TableName": "accounts", "Key": {"pk": {"S": "nobody"}}}},
        ],
    )
    assert got["Responses"] == [{"Item": {"balance": {"N": "3"}}}, {}]


async def test_the_store_applies_none_when_one_item_moved(world: World) -> None:
    store: DynamoStore = world.store
    await world.table("things")
    table = await world.dynamodb.table(world.tenant_id, "things")
    first = await world.dynamodb.row(table, b"h1", b"", {"pk": {"S": "a"}}, 3, None)
    second = await world.dynamodb.row(table, b"h2", b"", {"pk": {"S": "b"}}, 3, None)
    assert await store.transact(world.tenant_id, [TransactWrite("things", b"h1", b"", 0, first)])
    # h1 is at revision 1 now: a transaction expecting it absent changes nothing, h2 included.
    assert not await store.transact(
        world.tenant_id,
        [
            TransactWrite("things", b"h2", b"", 0, second),
            TransactWrite("things", b"h1", b"", 0, first),
        ],
    )
    assert await store.get_item(world.tenant_id, "things", b"h2", b"") is None
