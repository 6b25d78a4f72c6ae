"""A Choice state's rules evaluated (decision 0271): every comparison operator of the Amazon
States Language and its ``…Path`` twin, the type tests (``IsNull``, ``IsPresent``,
``IsNumeric``, ``IsString``, ``IsBoolean``, ``IsTimestamp``), ``StringMatches`` with ``*``
wildcards, and ``And``/``Or``/``Not``. A ``Variable`` that selects nothing fails the state
(AWS's ``States.Runtime``) except under ``IsPresent``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from andromede.stepfunctions import variables
from andromede.stepfunctions.jsonpath import PathMissing, read_path

__all__ = ["ChoiceFailure", "matches", "parse_timestamp"]


class ChoiceFailure(Exception):
    pass


def parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp as ASL takes it (an upper-case ``T``, a zone), else None."""
    if not isinstance(value, str) or not re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value
    ):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _read(path: str, data: Any, context: Any) -> Any:
    if path.startswith("$$"):
        return read_path(context, path[1:])
    if variables.is_reference(path):  # a workflow variable (decision 0329)
        return variables.read_reference(path)
    return read_path(data, path)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wildcard(value: str, pattern: str) -> bool:
    parts, at = [], 0
    while at < len(pattern):
        if pattern.startswith("\\*", at) or pattern.startswith("\\\\", at):
            parts.append(re.escape(pattern[at + 1]))
            at += 2
        elif pattern[at] == "*":
            parts.append(".*")
            at += 1
        else:
            parts.append(re.escape(pattern[at]))
            at += 1
    return re.fullmatch("".join(parts), value, flags=re.DOTALL) is not None


def _compare(operator: str, value: Any, operand: Any) -> bool:
    kind = next(k for k in ("String", "Numeric", "Boolean", "Timestamp") if operator.startswith(k))
    relation = operator.removeprefix(kind)
    left: Any
    right: Any
    if kind == "String":
        if not (isinstance(value, str) and isinstance(operand, str)):
            return False
        left, right = value, operand
    elif kind == "Numeric":
        if not (_number(value) and _number(operand)):
            return False
        left, right = value, operand
    elif kind == "Boolean":
        return isinstance(value, bool) and isinstance(operand, bool) and value == operand
    else:
        left, right = parse_timestamp(value), parse_timestamp(operand)
        if left is None or right is None:
            return False
    return bool(
        {
            "Equals": left == right,
            "LessThan": left < right,
            "GreaterThan": left > right,
            "LessThanEquals": left <= right,
            "GreaterThanEquals": left >= right,
        }[relation]
    )


def matches(rule: dict[str, Any], data: Any, context: Any) -> bool:
    """Whether the state's input ``data`` (and the context object) satisfies ``rule``."""
    if "And" in rule:
        return all(matches(inner, data, context) for inner in rule["And"])
    if "Or" in rule:
        return any(matches(inner, data, context) for inner in rule["Or"])
    if "Not" in rule:
        return not matches(rule["Not"], data, context)
    variable = str(rule.get("Variable"))
    operator = next(name for name in rule if name not in ("Variable", "Next", "Comment", "Assign"))
    operand = rule[operator]
    try:
        value = _read(variable, data, context)
    except PathMissing as exc:
        if operator == "IsPresent":
            return operand is False
        raise ChoiceFailure(
            f"Invalid path '{variable}': The choice state's condition path references an "
            "invalid value."
        ) from exc
    tests = {
        "IsPresent": True,
        "IsNull": value is None,
        "IsNumeric": _number(value),
        "IsString": isinstance(value, str),
        "IsBoolean": isinstance(value, bool),
        "IsTimestamp": parse_timestamp(value) is not None,
    }
    if operator in tests:
        return tests[operator] is operand
    if operator == "StringMatches":
        return isinstance(value, str) and _wildcard(value, str(operand))
    if operator.endswith("Path"):
        try:
            operand = _read(str(operand), data, context)
        except PathMissing as exc:
            raise ChoiceFailure(
                f"Invalid path '{operand}': The choice state's condition path references an "
                "invalid value."
            ) from exc
        operator = operator.removesuffix("Path")
    return _compare(operator, value, operand)
