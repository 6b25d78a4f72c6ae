"""DynamoDB's Query and Scan (decision 0237): a key condition read into one hash key and a
range of sort keys, items in sort-key order (``ScanIndexForward``), ``Limit`` counting the
items read, pages of 1 MB as AWS's, ``ExclusiveStartKey`` / ``LastEvaluatedKey``, a
``FilterExpression`` applied after the read, ``Select`` ``COUNT``, a projection; a scan's
parallel ``Segment`` of ``TotalSegments``. On a secondary index (``IndexName``, decision
0243): the index's key schema and order, its projection (``ALL_PROJECTED_ATTRIBUTES`` by
default; a global index refuses what it does not project and consistent reads, as AWS's), a
``LastEvaluatedKey`` of the index's and the table's keys; a call on an index is authorised on
the index's ARN (``<table ARN>/index/<name>``), as AWS does (decision 0291)."""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.backfill import check_readable
from andromede.dynamodb.capacity import on_index
from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.evaluate import project
from andromede.dynamodb.expressions import Path
from andromede.dynamodb.keys import key_range
from andromede.dynamodb.model import SecondaryIndex, Table
from andromede.dynamodb.service import Page
from andromede.dynamodb.store import ScanRange
from andromede.dynamodbapi.params import DynamoCall, Expressions, Handler, invalid

__all__ = ["QUERY_ACTIONS"]

_SELECT: Final = ("ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT")
_SPACE: Final = 1 << 32


def _index_name(call: DynamoCall) -> str | None:
    """``IndexName``, checked before the call is authorised on the index's ARN."""
    return call.string("IndexName", min_length=3, max_length=255)


def _index(
    call: DynamoCall, table: Table, expressions: Expressions
) -> tuple[SecondaryIndex | None, str, bool]:
    """The index the call names (None: the table), the ``Select`` in force, and whether the
    items are read whole (the table, or a local index reading its table's items)."""
    name = call.string("IndexName", min_length=3, max_length=255)
    given = call.choice("Select", _SELECT)
    if name is None:
        return None, given or "ALL_ATTRIBUTES", True
    index = table.index(name)
    if index is None:
        raise ValidationError(f"The table does not have the specified index: {name}")
    check_readable(index)  # CREATING (decision 0254)
    if not index.local and call.boolean("ConsistentRead"):
        raise ValidationError("Consistent reads are not supported on global secondary indexes")
    projection = expressions.projection
    select = given or ("SPECIFIC_ATTRIBUTES" if projection else "ALL_PROJECTED_ATTRIBUTES")
    held = index.projects(table.key_names)
    if index.local or held is None:
        whole = select in ("ALL_ATTRIBUTES", "SPECIFIC_ATTRIBUTES")
        return index, select, whole
    if select == "ALL_ATTRIBUTES":
        raise ValidationError(
            "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not "
            f"supported for global secondary index {name} because its projection type is not ALL"
        )
    missing = sorted({str(p.elements[0]) for p in projection or ()} - held)
    if missing:
        raise ValidationError(
            "One or more parameter values were invalid: Global secondary index "
            f"{name} does not project [{', '.join(missing)}]"
        )
    return index, select, False


def _common(call: DynamoCall, select: str, index: SecondaryIndex | None) -> int | None:
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationError(
            "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName"
        )
    # The legacy AttributesToGet stands for a ProjectionExpression (decision 0259).
    projection = next(
        (n for n in ("ProjectionExpression", "AttributesToGet") if call.params.get(n)), None
    )
    if select == "SPECIFIC_ATTRIBUTES" and projection is None:
        raise ValidationError("SPECIFIC_ATTRIBUTES requires a ProjectionExpression")
    if select not in ("SPECIFIC_ATTRIBUTES", "ALL_ATTRIBUTES") and projection:
        raise ValidationError(f"Cannot specify the {projection} when choosing to get {select}")
    return call.integer("Limit", minimum=1, maximum=2**31 - 1)


def _top_level_names(node: object) -> set[str]:
    """The top-level attribute names a parsed expression reads."""
    if isinstance(node, Path):
        return {str(node.elements[0])}
    if isinstance(node, tuple):
        return set().union(*(_top_level_names(n) for n in node))
    if hasattr(node, "__dataclass_fields__"):
        return set().union(*(_top_level_names(getattr(node, f)) for f in node.__dataclass_fields__))
    return set()


def _answer(page: Page, select: str, expressions: Expressions) -> dict[str, Any]:
    answer: dict[str, Any] = {"Count": len(page.items), "ScannedCount": page.scanned}
    if select != "COUNT":
        projection = expressions.projection
        answer["Items"] = (
            page.items if projection is None else [project(i, projection) for i in page.items]
        )
    if page.last_key is not None:
        answer["LastEvaluatedKey"] = page.last_key
    return answer


async def query(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("Query", index=_index_name(call))
    expressions = call.expressions()
    index, select, whole = _index(call, table, expressions)
    limit = _common(call, select, index)
    if expressions.key_condition is None:
        raise ValidationError(
            "Either the KeyConditions or KeyConditionExpression parameter must "
            "be specified in the request."
        )
    if expressions.condition is not None or expressions.update is not None:
        raise ValidationError("Can not use ConditionExpression or UpdateExpression for Query")
    keys = key_range(table if index is None else index, expressions.key_condition)
    if expressions.filter is not None:
        named = _top_level_names(expressions.filter) & set(
            table.key_names if index is None else index.key_names
        )
        if named:
            raise ValidationError(
                "QueryFilter can only contain non-key attributes: Primary key attribute: "
                f"{sorted(named)[0]}"
                if call.params.get("QueryFilter") is not None
                else "Filter Expression can only contain non-primary key "
                f"attributes: Primary key attribute: {sorted(named)[0]}"
            )
    forward = call.boolean("ScanIndexForward")
    start = call.mapping("ExclusiveStartKey")
    if index is not None:
        with on_index(index):  # its reads are the index's (ReturnConsumedCapacity INDEXES)
            page = await call.dynamodb.query_index(
                table,
                index,
                keys,
                forward is not False,
                None if start is None else call.item("ExclusiveStartKey"),
                limit,
                expressions.filter,
                whole,
            )
        return _answer(page, select, expressions)
    page = await call.dynamodb.query(
        table,
        keys,
        forward is not False,
        None if start is None else call.item("ExclusiveStartKey"),
        limit,
        expressions.filter,
        bool(call.boolean("ConsistentRead")),
    )
    return _answer(page, select, expressions)


async def scan(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("Scan", index=_index_name(call))
    expressions = call.expressions()
    index, select, whole = _index(call, table, expressions)
    limit = _common(call, select, index)
    if expressions.key_condition is not None or expressions.condition is not None:
        raise ValidationError("Can not use KeyConditionExpression or ConditionExpression for Scan")
    total = call.integer("TotalSegments", minimum=1, maximum=1_000_000)
    segment = call.integer("Segment", minimum=0, maximum=999_999)
    if (total is None) != (segment is None):
        raise ValidationError(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
            if total is None
            else "The Segment parameter is "
            "required but was not present in the request when parameter TotalSegments is present"
        )
    part = ScanRange()
    if total is not None and segment is not None:
        if segment >= total:
            raise invalid("Segment", f"Member must be less than TotalSegments ({total})", segment)
        part = ScanRange(segment * _SPACE // total, (segment + 1) * _SPACE // total)
    start = call.mapping("ExclusiveStartKey")
    if index is not None:
        with on_index(index):
            page = await call.dynamodb.scan_index(
                table,
                index,
                part,
                None if start is None else call.item("ExclusiveStartKey"),
                limit,
                expressions.filter,
                whole,
            )
        return _answer(page, select, expressions)
    page = await call.dynamodb.scan(
        table,
        part,
        None if start is None else call.item("ExclusiveStartKey"),
        limit,
        expressions.filter,
        bool(call.boolean("ConsistentRead")),
    )
    return _answer(page, select, expressions)


QUERY_ACTIONS: Final[dict[str, Handler]] = {"Query": query, "Scan": scan}
