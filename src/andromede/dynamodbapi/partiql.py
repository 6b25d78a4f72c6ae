"""DynamoDB's PartiQL calls (decision 0247): ExecuteStatement, BatchExecuteStatement (25
statements, each answered or failed on its own in ``Responses``) and ExecuteTransaction (100
statements, all or nothing), their statements parsed by ``dynamodb.partiql`` and run as the
service's own calls, so that items stay sealed, the bill counts them and conditions hold as
for the JSON calls.

A SELECT whose WHERE sets the partition key equal to a value is a Query (the sort key's
condition, if one, bounding it; ``ORDER BY … DESC`` reading backwards), any other a Scan;
the whole WHERE filters what was read, as AWS's. INSERT puts the item unless its key is
taken (``DuplicateItemException``); UPDATE and DELETE act on the one item their WHERE's key
equalities name, the whole WHERE its condition (``ConditionalCheckFailedException`` when it
fails; an UPDATE of no item fails, a DELETE of none succeeds, as AWS's). A write transaction
may check items with ``EXISTS(SELECT …)``, as TransactWriteItems' ConditionCheck. Each
statement is authorised as AWS authorises PartiQL: ``dynamodb:PartiQLSelect`` /
``PartiQLInsert`` / ``PartiQLUpdate`` / ``PartiQLDelete`` on the table's ARN, or the index's
for a SELECT of an index (an ``EXISTS`` as a SELECT).
``NextToken`` carries the last key read, bound to the statement and its parameters.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

from andromede.dynamodb.backfill import check_readable
from andromede.dynamodb.capacity import on_index, transactional
from andromede.dynamodb.errors import (
    ConditionFailed,
    DynamoError,
    TransactionCanceled,
    ValidationError,
)
from andromede.dynamodb.evaluate import matches, project
from andromede.dynamodb.expressions import (
    Between,
    Compare,
    Condition,
    Function,
    Literal,
    Logical,
    Path,
)
from andromede.dynamodb.keys import key_range
from andromede.dynamodb.model import SecondaryIndex, Table
from andromede.dynamodb.partiql import (
    Exists,
    Insert,
    Select,
    Statement,
    Write,
    key_equalities,
    parse,
)
from andromede.dynamodb.service import Page
from andromede.dynamodb.store import ScanRange
from andromede.dynamodb.throttling import ThroughputExceeded
from andromede.dynamodb.transactions import MAX_ACTIONS, TransactOp, transact_write
from andromede.dynamodb.values import Item, type_of
from andromede.dynamodbapi.errors import DynamoWireError, to_dynamodb_error
from andromede.dynamodbapi.idempotency import once
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["PARTIQL_ACTIONS"]

_BATCH: Final = 25
_DUPLICATE: Final = "Duplicate primary key exists in table"
_VERBS: Final = {Select: "Select", Exists: "Select", Insert: "Insert"}


@dataclass(frozen=True, slots=True)
class _Bound:
    """One statement of a call: parsed, with its table (authorised) and, for a SELECT, its
    index."""

    statement: Statement
    table: Table
    index: SecondaryIndex | None
    digest: str


def _verb(statement: Statement) -> str:
    if isinstance(statement, Write):
        return "Update" if statement.update is not None else "Delete"
    return _VERBS[type(statement)]


async def _bind(call: DynamoCall, source: dict[str, Any]) -> _Bound:
    text = call.string("Statement", required=True, min_length=1, max_length=8192, source=source)
    assert text is not None  # noqa: S101 (required)
    parameters = call.listing("Parameters", source) or []
    if len(parameters) > 100:
        raise invalid("Parameters", "Member must have length less than or equal to 100")
    statement = parse(text, parameters)
    named = statement.select.table if isinstance(statement, Exists) else statement.table
    name, arn = call.table_name(named, "Statement")
    index_name = statement.index if isinstance(statement, Select) else None
    call.resources.append(arn)
    resource = arn if index_name is None else f"{arn}/index/{index_name}"
    _, policy = await call.held_policy(call.tenant_id, name, arn)  # the table's (0291)
    await call.authorise(f"dynamodb:PartiQL{_verb(statement)}", resource, policy, call.tenant_id)
    table = await call.dynamodb.table(call.tenant_id, name)
    index = None
    if index_name is not None:
        index = table.index(index_name)
        if index is None:
            raise ValidationError(f"The table does not have the specified index: {index_name}")
        check_readable(index)  # CREATING (decision 0254)
    digest = hashlib.sha256(json.dumps([text, parameters], sort_keys=True).encode()).hexdigest()
    return _Bound(statement, table, index, digest[:32])


def _full_key(table: Table, where: Condition | None) -> Item:
    given = key_equalities(where)
    key = {n: given[n] for n in table.key_names if n in given}
    if len(key) != len(table.key_names):
        raise ValidationError(
            "Where clause does not contain a mandatory equality on all key attributes"
        )
    return key


def _parts(condition: Condition) -> list[Condition]:
    if isinstance(condition, Logical) and condition.operator == "AND":
        return _parts(condition.left) + _parts(condition.right)
    return [condition]


def _key_condition(schema: Table | SecondaryIndex, where: Condition | None) -> Condition | None:
    """The key condition a SELECT's WHERE holds (its partition key equal to a value of the
    key's type, and the first sort key condition a query can bound), None: a scan."""
    hash_value = key_equalities(where).get(schema.hash_key.name)
    if where is None or hash_value is None or type_of(hash_value) != schema.hash_key.type:
        return None
    condition: Condition = Compare("=", Path((schema.hash_key.name,)), Literal(hash_value))
    sort = schema.sort_key
    if sort is None:
        return condition
    for part in _parts(where):
        if isinstance(part, Compare) and part.operator != "<>":
            subject = part.left
        elif isinstance(part, Between):
            subject = part.subject
        elif isinstance(part, Function) and part.name == "begins_with":
            subject = part.arguments[0]
        else:
            continue
        if subject != Path((sort.name,)):
            continue
        bounded = Logical("AND", condition, part)
        try:
            key_range(schema, bounded)
        except ValidationError:
            continue  # not a bound a query can use (a value of another type): filtered only
        return bounded
    return condition


def _token(bound: _Bound, last: Item) -> str:
    data = json.dumps({"d": bound.digest, "k": last}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode()


def _start(bound: _Bound, token: str | None) -> Item | None:
    if token is None:
        return None
    try:
        opened = json.loads(base64.urlsafe_b64decode(token.encode()))
        if opened["d"] == bound.digest and isinstance(opened["k"], dict):
            return dict(opened["k"])
    except (ValueError, KeyError, TypeError):
        pass
    raise ValidationError("Given NextToken is not valid for this statement")


async def _select(call: DynamoCall, bound: _Bound, consistent: bool) -> dict[str, Any]:
    statement = bound.statement
    assert isinstance(statement, Select)  # noqa: S101 (the caller's choice)
    table, index = bound.table, bound.index
    if index is not None and not index.local and consistent:
        raise ValidationError("Consistent reads are not supported on global secondary indexes")
    limit = call.integer("Limit", minimum=1, maximum=2**31 - 1)
    start = _start(bound, call.string("NextToken", min_length=1, max_length=32768))
    schema: Table | SecondaryIndex = table if index is None else index
    key_condition = _key_condition(schema, statement.where)
    if statement.descending is not None and key_condition is None:
        raise ValidationError("Must have WHERE clause in the statement when using ORDER BY clause.")
    forward = not statement.descending
    where = statement.where
    page: Page
    if index is not None:
        whole = index.local or index.projects(table.key_names) is None
        with on_index(index):
            if key_condition is not None:
                page = await call.dynamodb.query_index(
                    table, index, key_range(index, key_condition), forward, start, limit,
                    where, whole,
                )  # fmt: skip
            else:
                page = await call.dynamodb.scan_index(
                    table, index, ScanRange(), start, limit, where, whole
                )
    elif key_condition is not None:
        page = await call.dynamodb.query(
            table, key_range(table, key_condition), forward, start, limit, where, consistent
        )
    else:
        page = await call.dynamodb.scan(table, ScanRange(), start, limit, where, consistent)
    items = page.items
    if statement.projection is not None:
        items = [project(item, statement.projection) for item in items]
    answer: dict[str, Any] = {"Items": items}
    if page.last_key is not None:
        answer["NextToken"] = _token(bound, page.last_key)
    return answer


def _failure_wanted(call: DynamoCall, source: dict[str, Any]) -> bool:
    wanted = source.get("ReturnValuesOnConditionCheckFailure")
    if wanted not in (None, "ALL_OLD", "NONE"):
        raise invalid(
            "ReturnValuesOnConditionCheckFailure",
            "Member must satisfy enum value set: [ALL_OLD, NONE]",
            wanted,
        )
    return wanted == "ALL_OLD"


async def _write(call: DynamoCall, bound: _Bound, old_on_failure: bool) -> list[Item]:
    """An INSERT, UPDATE or DELETE run: the items its RETURNING asks for."""
    statement, table = bound.statement, bound.table
    try:
        if isinstance(statement, Insert):
            absent = Function("attribute_not_exists", (Path((table.hash_key.name,)),))
            try:
                await call.dynamodb.put_item(table, statement.item, absent)
            except ConditionFailed:
                raise DynamoWireError("DuplicateItemException", _DUPLICATE) from None
            return []
        assert isinstance(statement, Write)  # noqa: S101 (not a SELECT)
        key = _full_key(table, statement.where)
        if statement.update is None:
            old = await call.dynamodb.delete_item(table, key, _deleting(table, statement.where))
            return [old] if old and statement.returning == "ALL OLD" else []
        old, new = await call.dynamodb.update_item(table, key, statement.update, statement.where)
    except ConditionFailed as exc:
        item = exc.item if old_on_failure else None
        raise DynamoWireError("ConditionalCheckFailedException", item=item) from None
    paths = tuple(a.path for a in statement.update.actions)
    chosen = {
        "ALL OLD": old,
        "ALL NEW": new,
        "MODIFIED OLD": None if old is None else project(old, paths),
        "MODIFIED NEW": project(new, paths),
    }.get(statement.returning or "")
    return [chosen] if chosen else []


def _deleting(table: Table, where: Condition) -> Condition:
    """A DELETE's condition: its WHERE over the item, none when there is no item (AWS answers
    success, nothing deleted)."""
    absent = Function("attribute_not_exists", (Path((table.hash_key.name,)),))
    return Logical("OR", absent, where)


def _no_exists(statement: Statement) -> None:
    if isinstance(statement, Exists):
        raise ValidationError("EXISTS can only be used in a write transaction (ExecuteTransaction)")


async def execute_statement(call: DynamoCall) -> dict[str, Any]:
    bound = await _bind(call, dict(call.params))
    _no_exists(bound.statement)
    if isinstance(bound.statement, Select):
        return await _select(call, bound, bool(call.boolean("ConsistentRead")))
    return {"Items": await _write(call, bound, _failure_wanted(call, dict(call.params)))}


async def _get(call: DynamoCall, bound: _Bound, consistent: bool) -> Item | None:
    """A SELECT of one item (its full key in its WHERE, a table's), as a batch or transaction
    reads; None when absent or when the rest of its WHERE does not hold."""
    statement = bound.statement
    assert isinstance(statement, Select)  # noqa: S101 (the caller's choice)
    if bound.index is not None:
        raise ValidationError("Batch and transaction reads can not read an index")
    item = await call.dynamodb.get_item(bound.table, _full_key(bound.table, statement.where),
                                        consistent)  # fmt: skip
    if item is None or (statement.where is not None and not matches(item, statement.where)):
        return None
    return item if statement.projection is None else project(item, statement.projection)


def _statements(call: DynamoCall, name: str, most: int) -> list[dict[str, Any]]:
    listed = call.listing(name)
    if not listed or len(listed) > most:
        raise invalid(
            name,
            f"Member must have length less than or equal to {most}, "
            "Member must have length greater than or equal to 1",
        )
    if not all(isinstance(s, dict) for s in listed):
        raise invalid(name, "Member must be a structure")
    return listed


def _all_reads_or_writes(statements: list[Statement]) -> bool:
    reads = [isinstance(s, Select) for s in statements]
    if any(reads) and not all(reads):
        raise ValidationError("Supplied statements must be either all reads or all writes")
    return bool(reads and reads[0])


_BATCH_CODES: Final = {
    "ConditionalCheckFailedException": "ConditionalCheckFailed",
    "DuplicateItemException": "DuplicateItem",
    "AccessDeniedException": "AccessDenied",
    "ValidationException": "ValidationError",
    "ResourceNotFoundException": "ResourceNotFound",
    "ThrottlingException": "ThrottlingError",
    "ProvisionedThroughputExceededException": "ProvisionedThroughputExceeded",  # 0267
    "RequestLimitExceeded": "RequestLimitExceeded",
    "TransactionConflictException": "TransactionConflict",
}


async def batch_execute_statement(call: DynamoCall) -> dict[str, Any]:
    listed = _statements(call, "Statements", _BATCH)
    kinds = []
    for source in listed:  # the kinds, read first: a batch is all reads or all writes
        try:
            parameters = source.get("Parameters")
            listed_parameters = parameters if isinstance(parameters, list) else []
            kinds.append(parse(str(source.get("Statement") or ""), listed_parameters))
        except ValidationError:
            continue
    _all_reads_or_writes(kinds)
    responses: list[dict[str, Any]] = []
    for source in listed:
        answer: dict[str, Any] = {}
        try:
            bound = await _bind(call, source)
            answer["TableName"] = bound.table.name
            _no_exists(bound.statement)
            if isinstance(bound.statement, Select):
                consistent = bool(call.boolean("ConsistentRead", source))
                item = await _get(call, bound, consistent)
                if item is not None:
                    answer["Item"] = item
            else:
                await _write(call, bound, _failure_wanted(call, source))
        except (DynamoError, DynamoWireError) as exc:
            answer["Error"] = _batch_error(exc)
        responses.append(answer)
    return {"Responses": responses}


def _batch_error(exc: Exception) -> dict[str, Any]:
    wire = to_dynamodb_error(exc) if isinstance(exc, DynamoError | DynamoWireError) else None
    if wire is None:  # pragma: no cover (both kinds map)
        return {"Code": "InternalServerError", "Message": "Internal server error"}
    error: dict[str, Any] = {
        "Code": _BATCH_CODES.get(wire.error_type, "ValidationError"),
        "Message": wire.message,
    }
    if isinstance(wire, DynamoWireError) and wire.item is not None:
        error["Item"] = wire.item
    return error


async def execute_transaction(call: DynamoCall) -> dict[str, Any]:
    listed = _statements(call, "TransactStatements", MAX_ACTIONS)
    token = call.string("ClientRequestToken", min_length=1, max_length=36)
    bound = [await _bind(call, source) for source in listed]
    if _all_reads_or_writes([b.statement for b in bound]):
        responses: list[dict[str, Any]] = []
        with transactional():  # a transaction's reads cost double, as AWS's
            for position, one in enumerate(bound):
                try:
                    item = await _get(call, one, consistent=True)
                except ThroughputExceeded as exc:  # decision 0267: cancelled, as AWS's
                    reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in bound]
                    reasons[position] = {"Code": "ThrottlingError", "Message": str(exc)}
                    raise TransactionCanceled(reasons) from None
                responses.append({} if item is None else {"Item": item})
        return {"Responses": responses}
    ops: list[TransactOp] = []
    for one, source in zip(bound, listed, strict=True):
        statement, table = one.statement, one.table
        wanted = _failure_wanted(call, source)
        if isinstance(statement, Insert):
            absent = Function("attribute_not_exists", (Path((table.hash_key.name,)),))
            ops.append(TransactOp("Put", table, statement.item, absent, statement.item,
                                  None, wanted))  # fmt: skip
            continue
        if isinstance(statement, Exists):
            where = statement.select.where
            assert where is not None  # noqa: S101 (the parser's rule)
            ops.append(TransactOp("ConditionCheck", table, _full_key(table, where), where,
                                  None, None, wanted))  # fmt: skip
            continue
        assert isinstance(statement, Write)  # noqa: S101 (writes only)
        key = _full_key(table, statement.where)
        if statement.update is None:
            deleting = _deleting(table, statement.where)
            ops.append(TransactOp("Delete", table, key, deleting, None, None, wanted))
            continue
        ops.append(
            TransactOp("Update", table, key, statement.where, None, statement.update, wanted)
        )
    try:
        await once(call, token, ops[0].table, lambda: transact_write(call.dynamodb, ops))
    except TransactionCanceled as exc:
        reasons = [
            {"Code": "DuplicateItem", "Message": _DUPLICATE}
            if op.kind == "Put" and reason["Code"] == "ConditionalCheckFailed"
            else reason
            for op, reason in zip(ops, exc.reasons, strict=True)
        ]
        raise TransactionCanceled(reasons) from None
    return {}


PARTIQL_ACTIONS: Final[dict[str, Handler]] = {
    "BatchExecuteStatement": batch_execute_statement,
    "ExecuteStatement": execute_statement,
    "ExecuteTransaction": execute_transaction,
}
