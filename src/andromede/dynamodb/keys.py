"""A table's primary keys (decision 0237): a key given by a call checked against the table's
schema, the key attributes of an item, and a query's ``KeyConditionExpression`` read into the
one hash key it names and the range of sort keys it allows, in DynamoDB's words when refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.expressions import (
    Between,
    Compare,
    Condition,
    Function,
    Literal,
    Logical,
    Path,
)
from andromede.dynamodb.model import KeyElement, SecondaryIndex, Table
from andromede.dynamodb.store import Bound
from andromede.dynamodb.values import Item, Value, sort_encoding, type_of

__all__ = ["KeyRange", "check_key", "key_of", "key_range"]

_MISMATCH = "The provided key element does not match the schema"


def _check_element(element: KeyElement, value: Value | None, where: str, limit: int) -> Value:
    if value is None:
        raise ValidationError(
            f"One or more parameter values were invalid: Missing the key {element.name} in the item"
            if where == "item"
            else _MISMATCH
        )
    if type_of(value) != element.type:
        raise ValidationError(
            f"One or more parameter values were invalid: Type mismatch for key {element.name} "
            f"expected: {element.type} actual: {type_of(value)}"
            if where == "item"
            else _MISMATCH
        )
    inner = value[element.type]
    if inner == "":
        raise ValidationError(
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            f"cannot contain an empty string value. Key: {element.name}"
        )
    if len(sort_encoding(value)) > limit:
        kind = "hashkey" if limit == 2048 else "rangekey"
        raise ValidationError(
            f"One or more parameter values were invalid: Size of {kind} has exceeded the maximum "
            f"size limit of {limit} bytes"
        )
    return value


def check_key(table: Table, key: Item) -> Item:
    """A key given by a call (GetItem's ``Key``…): exactly the table's key attributes."""
    if set(key) != set(table.key_names):
        raise ValidationError(_MISMATCH)
    return key_of(table, key, "key")


def key_of(table: Table, item: Item, where: str = "item") -> Item:
    """The key attributes of ``item``, checked against the table's schema."""
    hash_key, sort_key = table.hash_key, table.sort_key
    key = {hash_key.name: _check_element(hash_key, item.get(hash_key.name), where, 2048)}
    if sort_key is not None:
        key[sort_key.name] = _check_element(sort_key, item.get(sort_key.name), where, 1024)
    return key


@dataclass(frozen=True, slots=True)
class KeyRange:
    """What a key condition names: the hash key's value and the sort tokens' bounds."""

    hash_value: Value
    low: Bound | None = None
    high: Bound | None = None


def _invalid(reason: str) -> ValidationError:
    return ValidationError(f"Invalid KeyConditionExpression: {reason}")


def _parts(condition: Condition) -> list[Condition]:
    if isinstance(condition, Logical):
        if condition.operator != "AND":
            raise _invalid("Invalid operator used in KeyConditionExpression: OR")
        return _parts(condition.left) + _parts(condition.right)
    return [condition]


def _attribute(path: object) -> str:
    if not isinstance(path, Path) or len(path.elements) != 1:
        raise _invalid("The key conditions must name top-level key attributes")
    return str(path.elements[0])


def _literal(operand: object, element: KeyElement) -> Value:
    if not isinstance(operand, Literal):
        raise _invalid("The key conditions must compare key attributes with values")
    if type_of(operand.value) != element.type:
        raise ValidationError(
            "One or more parameter values were invalid: Condition parameter "
            "type does not match schema type"
        )
    return operand.value


def key_range(table: Table | SecondaryIndex, condition: Condition) -> KeyRange:
    """The key condition read against ``table``'s key schema (or an index's, decision 0243)."""
    parts = _parts(condition)
    if len(parts) > 2:
        raise _invalid("Conditions can be of length 1 or 2 only")
    hash_value: Value | None = None
    low: Bound | None = None
    high: Bound | None = None
    for part in parts:
        if isinstance(part, Compare):
            name = _attribute(part.left)
            if name == table.hash_key.name:
                if part.operator != "=" or hash_value is not None:
                    raise _invalid("Query key condition not supported")
                hash_value = _literal(part.right, table.hash_key)
                continue
            sort = table.sort_key
            if sort is None or name != sort.name or part.operator == "<>":
                raise _invalid("Query key condition not supported")
            token = sort_encoding(_literal(part.right, sort))
            if part.operator in ("=", ">", ">="):
                low = Bound(token, part.operator != ">")
            if part.operator in ("=", "<", "<="):
                high = Bound(token, part.operator != "<")
        elif isinstance(part, Between):
            sort = table.sort_key
            if sort is None or _attribute(part.subject) != sort.name:
                raise _invalid("Query key condition not supported")
            low = Bound(sort_encoding(_literal(part.low, sort)), True)
            high = Bound(sort_encoding(_literal(part.high, sort)), True)
            if low.token > high.token:
                raise _invalid(
                    "The BETWEEN operator requires upper bound to be greater than or "
                    "equal to lower bound"
                )
        elif isinstance(part, Function) and part.name == "begins_with":
            sort = table.sort_key
            if sort is None or _attribute(part.arguments[0]) != sort.name or sort.type == "N":
                raise _invalid("Query key condition not supported")
            prefix = sort_encoding(_literal(part.arguments[1], sort))
            low = Bound(prefix, True)
            high = _prefix_end(prefix)
        else:
            raise _invalid("Query key condition not supported")
    if hash_value is None:
        raise ValidationError(f"Query condition missed key schema element: {table.hash_key.name}")
    return KeyRange(hash_value, low, high)


def _prefix_end(prefix: bytes) -> Bound | None:
    """The first token above every token that starts with ``prefix`` (None: no such bound)."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return Bound(trimmed[:-1] + bytes([trimmed[-1] + 1]), False)
