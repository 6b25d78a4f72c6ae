"""Decision 0259's transaction idempotency through botocore's own model: a
``ClientRequestToken`` retried with the same TransactWriteItems (or ExecuteTransaction)
answers success without writing again, with another request
``IdempotentParameterMismatchException``; a cancelled transaction is not remembered; a
lapsed token is a new request; the store keeps a MAC of the request, not the request."""

from __future__ import annotations

import time
from typing import Any

from andromede.dynamodb.idempotency import TOKEN_WINDOW_MS
from support.dynamodbapp import World


def _now() -> int:
    return int(time.time() * 1000)


def _add(amount: str, token: str, condition: str | None = None) -> dict[str, Any]:
    update: dict[str, Any] = {
        "TableName": "things",
        "Key": {"pk": {"S": "counter"}},
        "UpdateExpression": "ADD hits :n",
        "ExpressionAttributeValues": {":n": {"N": amount}},
    }
    if condition is not None:
        update["ConditionExpression"] = condition
    return {"TransactItems": [{"Update": update}], "ClientRequestToken": token}


async def _hits(world: World) -> str | None:
    got = await world.client("GetItem", TableName="things", Key={"pk": {"S": "counter"}})
    return got.get("Item", {}).get("hits", {}).get("N")


async def test_a_retried_token_answers_without_writing_again(world: World) -> None:
    await world.table()
    await world.client("TransactWriteItems", **_add("1", "retry-1"))
    await world.client("TransactWriteItems", **_add("1", "retry-1"))  # the SDK's retry
    assert await _hits(world) == "1"
    message = await world.fails(
        "TransactWriteItems", "IdempotentParameterMismatchException", **_add("5", "retry-1")
    )
    assert message == (
        "The request uses the same client token as a previous, but non-identical request."
    )
    await world.client("TransactWriteItems", **_add("1", "retry-2"))  # another token runs
    without_token = {"TransactItems": _add("1", "unused")["TransactItems"]}
    await world.client("TransactWriteItems", **without_token)
    await world.client("TransactWriteItems", **without_token)
    assert await _hits(world) == "4"  # without a token, every call runs
    # Per account: the store holds a MAC of the request, neither the request nor its values.
    held = await world.store.claim_token(world.tenant_id, "retry-1", b"probe", _now())
    assert held is not None and held.settled and len(held.digest) == 32
    assert b"counter" not in held.digest
    assert await world.store.claim_token("another-account", "retry-1", b"x", _now()) is None


async def test_a_token_whose_transaction_still_runs_is_in_progress(world: World) -> None:
    await world.table()
    request = _add("1", "running")
    await world.client("TransactWriteItems", **request)
    held = await world.store.claim_token(world.tenant_id, "running", b"", _now())
    assert held is not None and held.settled
    # As if another gateway's call with this request had claimed the token, still running.
    await world.store.prune_tokens(_now() + 2 * TOKEN_WINDOW_MS)
    assert await world.store.claim_token(world.tenant_id, "running", held.digest, _now()) is None
    message = await world.fails("TransactWriteItems", "TransactionInProgressException", **request)
    assert message == "The transaction with the given request token is already in progress."
    assert await _hits(world) == "1"


async def test_a_cancelled_transaction_is_not_remembered(world: World) -> None:
    await world.table()
    once = _add("1", "after-cancel", condition="attribute_exists(pk)")
    await world.fails("TransactWriteItems", "TransactionCanceledException", **once)
    await world.client("PutItem", TableName="things", Item={"pk": {"S": "counter"}})
    await world.client("TransactWriteItems", **once)  # decided again, and now it holds
    await world.client("TransactWriteItems", **once)
    assert await _hits(world) == "1"


async def test_a_lapsed_token_is_a_new_request(world: World) -> None:
    await world.table()
    await world.client("TransactWriteItems", **_add("1", "lapsing"))
    late = 2 * TOKEN_WINDOW_MS + 10**13  # far past the window, as the upkeep prunes it
    assert await world.store.prune_tokens(late) == 1
    await world.client("TransactWriteItems", **_add("1", "lapsing"))
    assert await _hits(world) == "2"


async def test_execute_transaction_remembers_its_token(world: World) -> None:
    await world.table()
    statements = [{"Statement": "UPDATE things SET hits = hits + 1 WHERE pk = 'counter'"}]
    await world.client("PutItem", TableName="things",
                       Item={"pk": {"S": "counter"}, "hits": {"N": "0"}})  # fmt: skip
    await world.client("ExecuteTransaction", TransactStatements=statements,
                       ClientRequestToken="partiql-1")  # fmt: skip
    await world.client("ExecuteTransaction", TransactStatements=statements,
                       ClientRequestToken="partiql-1")  # fmt: skip
    assert await _hits(world) == "1"
    other = [{"Statement": "UPDATE things SET hits = hits + 2 WHERE pk = 'counter'"}]
    await world.fails("ExecuteTransaction", "IdempotentParameterMismatchException",
                      TransactStatements=other, ClientRequestToken="partiql-1")  # fmt: skip
