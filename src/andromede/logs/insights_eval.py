"""Evaluating a Logs Insights expression over one record (decision 0186): arithmetic,
comparisons (numbers when both sides read as numbers, text otherwise), ``like``/``=~``,
``in``, ``and``/``or``/``not`` and the functions of :mod:`andromede.logs.insights_functions`;
a dotted field reads into a map or list ``jsonParse`` made (:func:`lookup`). Pure. A
``stats`` item's aggregations are read from the row's slots (:func:`slot_name`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Final

from andromede.logs.insights_functions import (
    FUNCTIONS,
    Json,
    Value,
    format_value,
    json_path,
    number,
)
from andromede.logs.insights_syntax import (
    UNMASKED,
    Aggregate,
    Arith,
    Call,
    Compare,
    Expr,
    Field,
    InList,
    Like,
    Literal,
    Logical,
    Not,
    Period,
)

__all__ = ["evaluate", "holds", "lookup", "slot_name"]

_MAX_POWER: Final = 1e308  # beyond, a power is no finite number: answered as nothing


def slot_name(slot: int) -> str:
    """The key under which a stats row holds its ``slot``-th aggregation: no field's name
    holds a NUL, so none is shadowed."""
    return f"\x00{slot}"


def lookup(record: Mapping[str, Value], name: str) -> Value | None:
    """A field's value: the record's own, else — ``j.a.0`` after ``jsonParse(…) as j`` — the
    path read into the longest leading name that holds a parsed map or list."""
    value = record.get(name)
    if value is not None or "." not in name:
        return value
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = record.get(".".join(parts[:cut]))
        if isinstance(head, Json):
            return json_path(head, parts[cut:])
    return None


def _compare(op: str, left: Value | None, right: Value | None) -> bool:
    if left is None or right is None:
        return False
    a, b = number(left), number(right)
    pair: tuple[float, float] | tuple[str, str]
    pair = (a, b) if a is not None and b is not None else (str(left), str(right))
    x, y = pair
    match op:
        case "=":
            return x == y
        case "!=":
            return x != y
        case "<":
            return x < y  # type: ignore[operator]
        case "<=":
            return x <= y  # type: ignore[operator]
        case ">":
            return x > y  # type: ignore[operator]
        case _:
            return x >= y  # type: ignore[operator]


def _arith(op: str, a: float, b: float) -> float | None:
    match op:
        case "+":
            return a + b
        case "-":
            return a - b
        case "*":
            return a * b
        case "/":
            return a / b if b != 0 else None
        case "%":
            return math.fmod(a, b) if b != 0 else None
        case _:
            try:
                result: float | complex = a**b
            except (OverflowError, ZeroDivisionError):
                return None
            # A negative number to a fractional power is complex: no answer.
            if isinstance(result, complex) or abs(result) > _MAX_POWER:
                return None
            return result


def evaluate(expr: Expr, record: Mapping[str, Value]) -> Value | None:
    match expr:
        case Field(name):
            return lookup(record, name)
        case Literal(value):
            return value
        case Period():
            return expr.approximate_ms
        case Aggregate(slot=slot):
            return record.get(slot_name(slot))
        case Arith(op, left, right):
            a, b = number(evaluate(left, record)), number(evaluate(right, record))
            if a is None or b is None:
                return None
            result = _arith(op, a, b)
            return result if result is None or math.isfinite(result) else None
        case Call("unmask"):
            # The message as ingested, held only when the query unmasks (decision 0211).
            unmasked = record.get(UNMASKED)
            return unmasked if unmasked is not None else record.get("@message")
        case Call(name, args):
            function = FUNCTIONS[name]
            values = [a if isinstance(a, Period) else evaluate(a, record) for a in args]
            if name == "bin":
                values.insert(0, record.get("@timestamp"))
            elif not function.general and any(v is None for v in values):
                return None
            return function.run(values)
        case _:
            return 1 if holds(expr, record) else 0


def holds(expr: Expr, record: Mapping[str, Value]) -> bool:
    match expr:
        case Logical("and", left, right):
            return holds(left, record) and holds(right, record)
        case Logical(_, left, right):
            return holds(left, record) or holds(right, record)
        case Not(operand):
            return not holds(operand, record)
        case Compare(op, left, right):
            return _compare(op, evaluate(left, record), evaluate(right, record))
        case Like(subject, pattern, negated):
            value = evaluate(subject, record)
            if value is None:
                return False
            text = format_value(value)
            found = pattern in text if isinstance(pattern, str) else bool(pattern.search(text))
            return found != negated
        case InList(subject, values, negated):
            value = evaluate(subject, record)
            if value is None:
                return False
            return any(_compare("=", value, v) for v in values) != negated
        case _:
            value = evaluate(expr, record)
            if value is None:
                return False
            amount = number(value)
            return amount != 0 if amount is not None else value != ""
