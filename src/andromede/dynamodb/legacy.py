"""DynamoDB's legacy (non-expression) parameters (decision 0259) read into the expression
trees of ``dynamodb.expressions``, so that one evaluator (``dynamodb.evaluate``) and one key
reader (``dynamodb.keys``) decide both styles: ``Expected`` (``Exists``/``Value`` or a
``ComparisonOperator``) and ``QueryFilter``/``ScanFilter`` joined by ``ConditionalOperator``,
``KeyConditions``, ``AttributeUpdates`` (PUT, DELETE, ADD) and ``AttributesToGet``.

An attribute a legacy parameter names is a top-level name taken literally (``a.b`` is the
attribute called ``a.b``, as AWS reads it). Every refusal is AWS's own wording
("One or more parameter values were invalid: …").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.expressions import (
    Between,
    Compare,
    Condition,
    Function,
    In,
    Literal,
    Logical,
    Not,
    Path,
    Update,
    UpdateAction,
)
from andromede.dynamodb.values import Value, check_value, compare, type_of

__all__ = [
    "NON_EXPRESSION",
    "attribute_updates",
    "attributes_to_get",
    "expected_condition",
    "filter_condition",
    "key_conditions",
]

NON_EXPRESSION: Final = (
    "AttributesToGet",
    "QueryFilter",
    "ScanFilter",
    "KeyConditions",
    "Expected",
    "AttributeUpdates",
    "ConditionalOperator",
)
"""The legacy parameters, in the order AWS names them when refusing a mix with expressions."""

_INVALID: Final = "One or more parameter values were invalid: "
_COMPARE: Final = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
_ARGUMENTS: Final = {
    "EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "CONTAINS": 1, "NOT_CONTAINS": 1,
    "BEGINS_WITH": 1, "NOT_NULL": 0, "NULL": 0, "BETWEEN": 2,
}  # fmt: skip
_SCALAR: Final = ("S", "N", "B")
_TYPES: Final = {
    "EQ": (*_SCALAR, "SS", "NS", "BS", "L", "M", "BOOL", "NULL"),
    "NE": (*_SCALAR, "SS", "NS", "BS", "L", "M", "BOOL", "NULL"),
    "CONTAINS": (*_SCALAR, "BOOL", "NULL"),
    "NOT_CONTAINS": (*_SCALAR, "BOOL", "NULL"),
    "BEGINS_WITH": ("S", "B"),
}
_KEY_OPERATORS: Final = ("EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN")


def _invalid(detail: str) -> ValidationError:
    return ValidationError(_INVALID + detail)


def _structure(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{name} must be a structure")
    return value


def _path(name: str) -> Path:
    return Path((name,))


def _join(parts: list[Condition], operator: str) -> Condition:
    joined = parts[0]
    for part in parts[1:]:
        joined = Logical(operator, joined, part)
    return joined


def _operator(given: object) -> str:
    if given is None:
        return "AND"
    if given not in ("AND", "OR"):
        raise ValidationError(
            f"1 validation error detected: Value '{given}' at 'conditionalOperator' failed to "
            "satisfy constraint: Member must satisfy enum value set: [AND, OR]"
        )
    return str(given)


def _values(listed: object) -> list[Value]:
    if listed is None:
        return []
    if not isinstance(listed, list):
        raise ValidationError("AttributeValueList must be a list")
    return [check_value(v) for v in listed]


def _comparison(name: str, operator: str, values: list[Value]) -> Condition:
    """One attribute's ``ComparisonOperator`` with its values, checked as AWS checks them."""
    wanted = _ARGUMENTS.get(operator)
    if operator == "IN":
        if not values:
            raise _invalid("Invalid number of argument(s) for the IN ComparisonOperator")
    elif wanted is None:
        raise ValidationError(
            f"1 validation error detected: Value '{operator}' at 'comparisonOperator' failed "
            "to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, "
            "NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"
        )
    elif len(values) != wanted:
        raise _invalid(f"Invalid number of argument(s) for the {operator} ComparisonOperator")
    if values and any(type_of(v) != type_of(values[0]) for v in values):
        raise _invalid("AttributeValues inside AttributeValueList must be of same type")
    allowed = _TYPES.get(operator, _SCALAR)
    for value in values:
        if type_of(value) not in allowed:
            raise _invalid(
                f"ComparisonOperator {operator} is not valid for {type_of(value)} "
                "AttributeValue type"
            )
    path = _path(name)
    literals = [Literal(v) for v in values]
    if operator in _COMPARE:
        return Compare(_COMPARE[operator], path, literals[0])
    if operator == "NOT_NULL":
        return Function("attribute_exists", (path,))
    if operator == "NULL":
        return Function("attribute_not_exists", (path,))
    if operator == "CONTAINS":
        return Function("contains", (path, literals[0]))
    if operator == "NOT_CONTAINS":  # a missing attribute does not "not contain", as AWS's
        return Logical(
            "AND",
            Function("attribute_exists", (path,)),
            Not(Function("contains", (path, literals[0]))),
        )
    if operator == "BEGINS_WITH":
        return Function("begins_with", (path, literals[0]))
    if operator == "IN":
        return In(path, tuple(literals))
    order = compare(values[0], values[1])
    if order is not None and order > 0:
        raise ValidationError(
            "The BETWEEN condition was provided a range where the lower bound is greater than "
            "the upper bound"
        )
    return Between(path, literals[0], literals[1])


def _expected_one(name: str, given: Mapping[str, Any]) -> Condition:
    operator = given.get("ComparisonOperator")
    listed = given.get("AttributeValueList")
    value = given.get("Value")
    exists = given.get("Exists")
    if exists is not None and not isinstance(exists, bool):
        raise ValidationError("Exists must be a boolean")
    if operator is not None:
        if exists is not None:
            raise _invalid(
                f"Exists and ComparisonOperator cannot be used together for Attribute: {name}"
            )
        if value is not None and listed is not None:
            raise _invalid(
                f"Value and AttributeValueList cannot be used together for Attribute: {name}"
            )
        values = _values(listed) if listed is not None else _values([value] if value else [])
        if not values and operator not in ("NULL", "NOT_NULL"):
            raise _invalid(
                f"Value or AttributeValueList must be used with ComparisonOperator: {operator} "
                f"for Attribute: {name}"
            )
        return _comparison(name, str(operator), values)
    if listed is not None:
        raise _invalid(
            f"AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
        )
    if exists is False:
        if value is not None:
            raise _invalid(f"Value cannot be used when Exists is false for Attribute: {name}")
        return Function("attribute_not_exists", (_path(name),))
    if value is None:
        shown = "null" if exists is None else "true"
        raise _invalid(f"Value must be provided when Exists is {shown} for Attribute: {name}")
    return Compare("=", _path(name), Literal(check_value(value)))


def expected_condition(expected: object, operator: object) -> Condition | None:
    """``Expected`` joined by ``ConditionalOperator`` (AND unless OR); None when empty."""
    given = _structure(expected, "Expected")
    chosen = _operator(operator)
    parts = [_expected_one(n, _structure(c, "Expected")) for n, c in given.items()]
    return _join(parts, chosen) if parts else None


def filter_condition(conditions: object, operator: object, name: str) -> Condition | None:
    """A ``QueryFilter`` or ``ScanFilter`` (``name``) joined by ``ConditionalOperator``."""
    given = _structure(conditions, name)
    chosen = _operator(operator)
    parts: list[Condition] = []
    for attribute, condition in given.items():
        body = _structure(condition, name)
        comparison = body.get("ComparisonOperator")
        if comparison is None:
            raise ValidationError(
                "1 validation error detected: Value null at "
                f"'{name[:1].lower() + name[1:]}.{attribute}.member.comparisonOperator' failed "
                "to satisfy constraint: Member must not be null"
            )
        parts.append(
            _comparison(attribute, str(comparison), _values(body.get("AttributeValueList")))
        )
    return _join(parts, chosen) if parts else None


def key_conditions(conditions: object) -> Condition | None:
    """``KeyConditions``: one equality on the hash key and at most one sort key condition,
    read then by ``keys.key_range`` as a ``KeyConditionExpression`` is (None: none given)."""
    given = _structure(conditions, "KeyConditions")
    parts: list[Condition] = []
    for attribute, condition in given.items():
        body = _structure(condition, "KeyConditions")
        operator = body.get("ComparisonOperator")
        if operator is None:
            raise ValidationError(
                "1 validation error detected: Value null at "
                f"'keyConditions.{attribute}.member.comparisonOperator' failed to satisfy "
                "constraint: Member must not be null"
            )
        if operator not in _KEY_OPERATORS:
            raise _invalid(f"Unsupported operator on KeyCondition: {operator}")
        values = _values(body.get("AttributeValueList"))
        parts.append(_comparison(attribute, str(operator), values))
    if len(parts) > 2:
        raise _invalid("Conditions can be of length 1 or 2 only")
    return _join(parts, "AND") if parts else None


def attributes_to_get(names: object) -> tuple[Path, ...]:
    if not isinstance(names, list) or not names:
        raise ValidationError(
            "1 validation error detected: Value '[]' at 'attributesToGet' failed to satisfy "
            "constraint: Member must have length greater than or equal to 1"
        )
    if any(not isinstance(n, str) for n in names):
        raise ValidationError("AttributesToGet must be a list of strings")
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise _invalid(f"Duplicate value in attribute name: {duplicate}")
    return tuple(_path(n) for n in names)


def attribute_updates(updates: object) -> Update:
    """``AttributeUpdates`` as an update: PUT a value, DELETE the attribute (or, given a set,
    those members), ADD to a number or a set (created when absent). A key attribute is refused
    by the service, as for an ``UpdateExpression``."""
    given = _structure(updates, "AttributeUpdates")
    actions: list[UpdateAction] = []
    for name, update in given.items():
        body = _structure(update, "AttributeUpdates")
        action = body.get("Action", "PUT")
        if action not in ("PUT", "DELETE", "ADD"):
            raise ValidationError(
                f"1 validation error detected: Value '{action}' at "
                f"'attributeUpdates.{name}.member.action' failed to satisfy constraint: Member "
                "must satisfy enum value set: [ADD, PUT, DELETE]"
            )
        raw = body.get("Value")
        if raw is None:
            if action != "DELETE":
                raise _invalid("Only DELETE action is allowed when no attribute value is specified")
            actions.append(UpdateAction("REMOVE", _path(name)))
            continue
        value = check_value(raw)
        kind = type_of(value)
        if action == "PUT":
            actions.append(UpdateAction("SET", _path(name), Literal(value)))
        elif action == "ADD":
            if kind not in ("N", "SS", "NS", "BS"):
                raise _invalid(f"ADD action is not supported for the type {kind}")
            actions.append(UpdateAction("ADD", _path(name), Literal(value)))
        else:
            if kind not in ("SS", "NS", "BS"):
                raise _invalid(f"DELETE action with value is not supported for the type {kind}")
            actions.append(UpdateAction("DELETE", _path(name), Literal(value)))
    return Update(tuple(actions))
