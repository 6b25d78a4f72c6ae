"""``ReturnConsumedCapacity`` answered (decision 0247): every item call, the PartiQL ones
included, is run under a capacity tally (``dynamodb.capacity``) and, when asked, answers the
units it consumed as AWS does — ``TOTAL`` the table's name and its units, ``INDEXES`` also
the table's own and each index's (``Table``, ``GlobalSecondaryIndexes``,
``LocalSecondaryIndexes``); one object for a call on one table, a list (a table each) for
the batches and transactions. ``ReturnItemCollectionMetrics`` ``SIZE`` is answered here too,
by ``dynamodbapi.collections``."""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.capacity import Tally, Units, measuring
from andromede.dynamodbapi.collections import COLLECTED, item_collection_metrics
from andromede.dynamodbapi.params import DynamoCall, Handler

__all__ = ["MEASURED", "with_capacity"]

_SINGLE: Final = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "ExecuteStatement"}
)
_LISTED: Final = frozenset(
    {
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
MEASURED: Final = _SINGLE | _LISTED
_RETURNING: Final = frozenset({"Query", "Scan", "ExecuteStatement"})  # ReturnedItemCount


def _units(units: Units) -> dict[str, float]:
    described = {"CapacityUnits": units.total}
    if units.read:
        described["ReadCapacityUnits"] = units.read
    if units.write:
        described["WriteCapacityUnits"] = units.write
    return described


def describe(tally: Tally, name: str, indexes: bool) -> dict[str, Any]:
    """One table's ``ConsumedCapacity``: its units and its indexes' together, and (``INDEXES``)
    apart."""
    own = tally.tables[name]
    held = tally.indexes.get(name, {})
    total = Units(
        own.read + sum(u.read for _, u in held.values()),
        own.write + sum(u.write for _, u in held.values()),
    )
    described: dict[str, Any] = {"TableName": name, **_units(total)}
    if indexes:
        described["Table"] = _units(own)
        for local, key in ((False, "GlobalSecondaryIndexes"), (True, "LocalSecondaryIndexes")):
            mine = {n: _units(u) for n, (is_local, u) in held.items() if is_local is local}
            if mine:
                described[key] = mine
    return described


async def with_capacity(action: str, handler: Handler, call: DynamoCall) -> dict[str, Any]:
    """``handler``'s answer, with its ``ConsumedCapacity`` and ``ItemCollectionMetrics`` when
    the call asks for them."""
    if action not in MEASURED:
        return await handler(call)
    wanted = call.choice("ReturnConsumedCapacity", ("INDEXES", "TOTAL", "NONE"), "NONE")
    sizes = (
        call.choice("ReturnItemCollectionMetrics", ("SIZE", "NONE"))
        if action in COLLECTED
        else None
    )
    with measuring() as tally:
        call.tally = tally  # for the call's AWS/DynamoDB metrics too (decision 0254)
        answer = await handler(call)
    if action in _RETURNING:
        call.returned = int(answer.get("Count", len(answer.get("Items", []))))
    if sizes == "SIZE":
        metrics = await item_collection_metrics(action, call)
        if metrics is not None:
            answer["ItemCollectionMetrics"] = metrics
    if wanted == "NONE" or not tally.tables:
        return answer
    consumed = [describe(tally, name, wanted == "INDEXES") for name in tally.tables]
    answer["ConsumedCapacity"] = consumed[0] if action in _SINGLE else consumed
    return answer
