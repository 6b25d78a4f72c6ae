"""DynamoDB's item calls (decision 0237): PutItem, GetItem, UpdateItem, DeleteItem with their
expressions and ``ReturnValues``, and BatchGetItem (100 keys) and BatchWriteItem (25
requests): what its tables' capacity throttles (decision 0267) is answered in
``UnprocessedKeys`` / ``UnprocessedItems`` for the client to send again, and the whole batch is
refused only when nothing in it could be done, as AWS does. A condition that fails is
``ConditionalCheckFailedException``, with the item when
``ReturnValuesOnConditionCheckFailure`` is ``ALL_OLD``."""

from __future__ import annotations

import json
from typing import Any, Final

from andromede.dynamodb.errors import ConditionFailed, ValidationError
from andromede.dynamodb.evaluate import project
from andromede.dynamodb.expressions import Path
from andromede.dynamodb.keys import check_key, key_of
from andromede.dynamodb.model import Table
from andromede.dynamodb.throttling import ThroughputExceeded
from andromede.dynamodb.values import Item
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["ITEM_ACTIONS"]

_BATCH_GET: Final = 100
_BATCH_WRITE: Final = 25


def _failed(call: DynamoCall, exc: ConditionFailed) -> DynamoWireError:
    wanted = call.choice("ReturnValuesOnConditionCheckFailure", ("ALL_OLD", "NONE"), "NONE")
    item = exc.item if wanted == "ALL_OLD" else None
    return DynamoWireError("ConditionalCheckFailedException", item=item)


def _no_expressions(call: DynamoCall, *names: str) -> None:
    for name in names:
        if call.params.get(name) is not None:
            raise ValidationError(f"Can not use {name} for this operation")


async def put_item(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("PutItem")
    item = call.item("Item")
    returned = call.choice(
        "ReturnValues", ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"), "NONE"
    )
    if returned not in ("NONE", "ALL_OLD"):
        raise ValidationError("ReturnValues can only be ALL_OLD or NONE")
    _no_expressions(call, "UpdateExpression", "ProjectionExpression")
    expressions = call.expressions()
    try:
        old = await call.dynamodb.put_item(table, item, expressions.condition)
    except ConditionFailed as exc:
        raise _failed(call, exc) from None
    return {"Attributes": old} if returned == "ALL_OLD" and old else {}


async def get_item(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("GetItem")
    key = call.item("Key")
    _no_expressions(call, "ConditionExpression", "UpdateExpression")
    expressions = call.expressions()
    item = await call.dynamodb.get_item(table, key, bool(call.boolean("ConsistentRead")))
    if item is None:
        return {}
    if expressions.projection is not None:
        item = project(item, expressions.projection)
    return {"Item": item}


async def delete_item(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DeleteItem")
    key = call.item("Key")
    returned = call.choice(
        "ReturnValues", ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"), "NONE"
    )
    if returned not in ("NONE", "ALL_OLD"):
        raise ValidationError("ReturnValues can only be ALL_OLD or NONE")
    _no_expressions(call, "UpdateExpression", "ProjectionExpression")
    expressions = call.expressions()
    try:
        old = await call.dynamodb.delete_item(table, key, expressions.condition)
    except ConditionFailed as exc:
        raise _failed(call, exc) from None
    return {"Attributes": old} if returned == "ALL_OLD" and old else {}


async def update_item(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("UpdateItem")
    key = call.item("Key")
    returned = call.choice(
        "ReturnValues", ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"), "NONE"
    )
    _no_expressions(call, "ProjectionExpression")
    expressions = call.expressions()
    try:
        old, new = await call.dynamodb.update_item(
            table, key, expressions.update, expressions.condition
        )
    except ConditionFailed as exc:
        raise _failed(call, exc) from None
    paths = tuple(a.path for a in expressions.update.actions) if expressions.update else ()
    chosen: Item | None = {
        "ALL_OLD": old,
        "ALL_NEW": new,
        "UPDATED_OLD": None if old is None else project(old, paths),
        "UPDATED_NEW": project(new, paths),
    }.get(returned or "NONE")
    return {"Attributes": chosen} if chosen else {}


def _key_text(table: Table, key: Item) -> str:
    return json.dumps({n: key[n] for n in table.key_names}, sort_keys=True)


async def batch_get_item(call: DynamoCall) -> dict[str, Any]:
    requested = call.mapping("RequestItems")
    if not requested:
        raise invalid("RequestItems", "Member must have length greater than or equal to 1")
    total = sum(len(r.get("Keys") or []) for r in requested.values() if isinstance(r, dict))
    if total > _BATCH_GET:
        raise ValidationError("Too many items requested for the BatchGetItem call")
    responses: dict[str, list[Item]] = {}
    unprocessed: dict[str, dict[str, Any]] = {}
    throttled: ThroughputExceeded | None = None
    done = 0
    for name, request in requested.items():
        if not isinstance(request, dict):
            raise invalid("RequestItems", "Member must be a structure")
        table = await call.table("BatchGetItem", name)
        expressions = call.expressions(request)
        projection: tuple[Path, ...] | None = expressions.projection
        consistent = bool(call.boolean("ConsistentRead", source=request))
        keys = [check_key(table, call.item("Key", {"Key": k})) for k in request.get("Keys") or []]
        if not keys:
            raise invalid("RequestItems.keys", "Member must have length greater than or equal to 1")
        if len({_key_text(table, k) for k in keys}) != len(keys):
            raise ValidationError("Provided list of item keys contains duplicates")
        found = responses.setdefault(table.name, [])
        for key, given in zip(keys, request.get("Keys") or [], strict=True):
            try:
                item = await call.dynamodb.get_item(table, key, consistent)
            except ThroughputExceeded as exc:
                throttled = exc
                again = unprocessed.setdefault(name, {**request, "Keys": []})
                again["Keys"].append(given)
                continue
            done += 1
            if item is not None:
                found.append(item if projection is None else project(item, projection))
    if throttled is not None and not done:
        raise throttled  # nothing could be read
    return {"Responses": responses, "UnprocessedKeys": unprocessed}


async def batch_write_item(call: DynamoCall) -> dict[str, Any]:
    requested = call.mapping("RequestItems")
    if not requested:
        raise invalid("RequestItems", "Member must have length greater than or equal to 1")
    total = sum(len(r) for r in requested.values() if isinstance(r, list))
    if total > _BATCH_WRITE:
        raise invalid(
            "RequestItems",
            "Map value must satisfy constraint: [Member must have "
            "length less than or equal to 25, Member must have length greater than "
            "or equal to 1]",
        )
    planned: list[tuple[str, Table, Item, bool, dict[str, Any]]] = []
    for name, requests in requested.items():
        if not isinstance(requests, list) or not requests:
            raise invalid("RequestItems", "Member must have length greater than or equal to 1")
        table = await call.table("BatchWriteItem", name)
        seen: set[str] = set()
        for request in requests:
            if not isinstance(request, dict) or len(request) != 1:
                raise ValidationError(
                    "Supplied AttributeValue has more than one datatypes set, "
                    "must contain exactly one of the supported datatypes"
                )
            put = request.get("PutRequest")
            delete = request.get("DeleteRequest")
            if isinstance(put, dict):
                item = call.item("Item", put)
                key = key_of(table, item)
                planned.append((name, table, item, True, request))
            elif isinstance(delete, dict):
                key = check_key(table, call.item("Key", delete))
                planned.append((name, table, key, False, request))
            else:
                raise invalid("RequestItems", "Member must be a PutRequest or a DeleteRequest")
            text = _key_text(table, key)
            if text in seen:
                raise ValidationError("Provided list of item keys contains duplicates")
            seen.add(text)
    unprocessed: dict[str, list[dict[str, Any]]] = {}
    throttled: ThroughputExceeded | None = None
    for name, table, item, is_put, given in planned:
        try:
            if is_put:
                await call.dynamodb.put_item(table, item, None)
            else:
                await call.dynamodb.delete_item(table, item, None)
        except ThroughputExceeded as exc:
            throttled = exc
            unprocessed.setdefault(name, []).append(given)
    if throttled is not None and sum(map(len, unprocessed.values())) == len(planned):
        raise throttled  # nothing could be written
    return {"UnprocessedItems": unprocessed}


ITEM_ACTIONS: Final[dict[str, Handler]] = {
    "BatchGetItem": batch_get_item,
    "BatchWriteItem": batch_write_item,
    "DeleteItem": delete_item,
    "GetItem": get_item,
    "PutItem": put_item,
    "UpdateItem": update_item,
}
