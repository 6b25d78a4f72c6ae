"""DynamoDB's TransactWriteItems and TransactGetItems (decision 0237): each action authorised
as the call it stands for (``dynamodb:PutItem``, ``UpdateItem``, ``DeleteItem``,
``ConditionCheckItem``, ``GetItem``), as AWS authorises them; the writes applied all or none
(``dynamodb.transactions``). ``ClientRequestToken`` is remembered ten minutes after the
transaction succeeds (decision 0259, ``dynamodbapi.idempotency``)."""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.capacity import transactional
from andromede.dynamodb.errors import TransactionCanceled, ValidationError
from andromede.dynamodb.evaluate import project
from andromede.dynamodb.throttling import ThroughputExceeded, cancellation_reasons
from andromede.dynamodb.transactions import MAX_ACTIONS, TransactOp, transact_write
from andromede.dynamodbapi.idempotency import once
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["TRANSACTION_ACTIONS"]

_KINDS: Final = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _actions(call: DynamoCall) -> list[dict[str, Any]]:
    listed = call.listing("TransactItems")
    if not listed or len(listed) > MAX_ACTIONS:
        raise invalid(
            "TransactItems",
            f"Member must have length less than or equal to "
            f"{MAX_ACTIONS}, Member must have length greater than or equal to 1",
        )
    for action in listed:
        if not isinstance(action, dict) or len(action) != 1:
            raise ValidationError(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
    return listed


async def transact_write_items(call: DynamoCall) -> dict[str, Any]:
    token = call.string("ClientRequestToken", min_length=1, max_length=36)
    ops: list[TransactOp] = []
    for action in _actions(call):
        kind, body = next(iter(action.items()))
        if kind not in _KINDS or not isinstance(body, dict):
            raise ValidationError(
                "TransactItems can only contain one of Check, Put, Update or Delete"
            )
        table = await call.table(_KINDS[kind], call.string("TableName", source=body))
        expressions = call.expressions(body, legacy_served=False)
        if kind == "Update" and expressions.update is None:
            raise invalid("TransactItems.update.updateExpression", "Member must not be null")
        if kind == "ConditionCheck" and expressions.condition is None:
            raise invalid(
                "TransactItems.conditionCheck.conditionExpression", "Member must not be null"
            )
        wanted = body.get("ReturnValuesOnConditionCheckFailure")
        if wanted not in (None, "ALL_OLD", "NONE"):
            raise invalid(
                "ReturnValuesOnConditionCheckFailure",
                "Member must satisfy enum value set: [ALL_OLD, NONE]",
                wanted,
            )
        item = call.item("Item", body) if kind == "Put" else None
        ops.append(
            TransactOp(
                kind,
                table,
                item if item is not None else call.item("Key", body),
                expressions.condition,
                item,
                expressions.update,
                wanted == "ALL_OLD",
            )
        )
    if len({op.table.tenant_id for op in ops}) > 1:  # decision 0266: one account's store
        raise ValidationError(
            "TransactWriteItems across tables of more than one account is not served by this "
            "platform (decision 0266)"
        )
    await once(call, token, ops[0].table, lambda: transact_write(call.dynamodb, ops))
    return {}


async def transact_get_items(call: DynamoCall) -> dict[str, Any]:
    responses: list[dict[str, Any]] = []
    reads = []
    for action in _actions(call):
        body = action.get("Get")
        if not isinstance(body, dict):
            raise ValidationError("TransactGetItems can only contain Get actions")
        table = await call.table("GetItem", call.string("TableName", source=body))
        reads.append((table, body, call.expressions(body, legacy_served=False)))
    # Decision 0267: a transaction its tables' capacity throttles is cancelled, item by item.
    throttled = cancellation_reasons(call.dynamodb.throttle, [(t, False) for t, _, _ in reads])
    if throttled is not None:
        raise TransactionCanceled(throttled)
    for position, (table, body, expressions) in enumerate(reads):
        try:
            with transactional():  # a transactional read costs double, as AWS's
                key = call.item("Key", body)
                item = await call.dynamodb.get_item(table, key, consistent=True)
        except ThroughputExceeded as exc:  # overdrawn by the transaction's earlier reads
            reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in reads]
            reasons[position] = {"Code": "ThrottlingError", "Message": str(exc)}
            raise TransactionCanceled(reasons) from None
        if item is not None and expressions.projection is not None:
            item = project(item, expressions.projection)
        responses.append({} if item is None else {"Item": item})
    return {"Responses": responses}


TRANSACTION_ACTIONS: Final[dict[str, Handler]] = {
    "TransactGetItems": transact_get_items,
    "TransactWriteItems": transact_write_items,
}
