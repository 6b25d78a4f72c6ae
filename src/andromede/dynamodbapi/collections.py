"""``ReturnItemCollectionMetrics`` ``SIZE`` answered (decision 0247): after a write to a table
with a local secondary index, the item collection it touched (the items of one partition
key) and an estimate of its size in GB, ``[lower, upper]``, as AWS answers — one object for
PutItem, UpdateItem and DeleteItem, a list per table for BatchWriteItem and
TransactWriteItems. Tables without a local index answer nothing, as AWS's.

The size is the sum of the collection's item sizes, read from the store's rows (their size
column; nothing is opened), a hundred rows a read: a cost the caller asks for by asking.
"""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.keys import key_of
from andromede.dynamodb.model import Table
from andromede.dynamodb.values import Item
from andromede.dynamodbapi.params import DynamoCall

__all__ = ["COLLECTED", "item_collection_metrics"]

_GB: Final = 1024**3
_ROWS: Final = 100
_SINGLE: Final = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}
_TRANSACT: Final = {"Put": "Item", "Update": "Key", "Delete": "Key"}
COLLECTED: Final = frozenset({*_SINGLE, "BatchWriteItem", "TransactWriteItems"})


async def _metrics(call: DynamoCall, table: Table, item: Item) -> dict[str, Any]:
    key = key_of(table, item)
    hash_token, _, _ = await call.dynamodb.held(table, key)
    total = 0
    after: bytes | None = None
    while True:
        rows = await call.dynamodb.store.query(
            table.tenant_id, table.name, hash_token, None, None, True, after, _ROWS
        )
        total += sum(row.size for row in rows)
        if len(rows) < _ROWS:
            break
        after = rows[-1].sort_token
    low = float(total // _GB)
    hash_name = table.hash_key.name
    return {"ItemCollectionKey": {hash_name: key[hash_name]}, "SizeEstimateRangeGB": [low, low + 1]}


async def _table(call: DynamoCall, given: object) -> Table | None:
    """The table (a name or an ARN, already authorised by the call) if it has a local index."""
    name, _ = call.table_name(str(given))
    table = await call.dynamodb.table(call.tenant_id, name)
    return table if any(index.local for index in table.indexes) else None


async def item_collection_metrics(action: str, call: DynamoCall) -> Any:
    """The ``ItemCollectionMetrics`` of a write that succeeded, None when there are none."""
    if action in _SINGLE:
        table = await _table(call, call.params.get("TableName"))
        item = call.params.get(_SINGLE[action])
        return None if table is None or not isinstance(item, dict) else await _metrics(
            call, table, item
        )  # fmt: skip
    touched: list[tuple[object, Item]] = []
    if action == "BatchWriteItem":
        for name, requests in (call.params.get("RequestItems") or {}).items():
            for request in requests:
                put, delete = request.get("PutRequest"), request.get("DeleteRequest")
                touched.append((name, put["Item"] if put else delete["Key"]))
    else:
        for action_item in call.params.get("TransactItems") or []:
            kind, body = next(iter(action_item.items()))
            if kind in _TRANSACT:
                touched.append((body.get("TableName"), body[_TRANSACT[kind]]))
    answered: dict[str, list[dict[str, Any]]] = {}
    seen: set[str] = set()
    for name, item in touched:
        table = await _table(call, name)
        if table is None:
            continue
        metrics = await _metrics(call, table, item)
        collection = repr((table.name, metrics["ItemCollectionKey"]))
        if collection not in seen:  # one entry a collection, however many items it took
            seen.add(collection)
            answered.setdefault(table.name, []).append(metrics)
    return answered or None
