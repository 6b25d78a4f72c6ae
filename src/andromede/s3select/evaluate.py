"""Evaluating S3 Select's AST over one row: SQL's three-valued logic (NULL and MISSING make
a comparison NULL, and WHERE keeps only TRUE), numbers across int, float and DECIMAL, LIKE,
CAST, and the aggregates' accumulators, folded row by row so that memory stays constant.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from andromede.s3select.errors import SelectError
from andromede.s3select.functions import call
from andromede.s3select.syntax import (
    Aggregate,
    Between,
    Binary,
    Call,
    Cast,
    Expr,
    Field,
    In,
    IsTest,
    Like,
    Literal,
    Path,
    Query,
    Unary,
)
from andromede.s3select.values import (
    MISSING,
    CsvRow,
    as_number,
    cast,
    checked_int,
    follow,
    positional,
    show,
)

__all__ = ["Accumulators", "compile_expr", "evaluate", "is_true"]

_COMPARE: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def is_true(value: object) -> bool:
    return value is True


Compiled = Callable[[object, "list[object] | None"], object]


def evaluate(expr: Expr, row: object, totals: list[object] | None = None) -> object:
    """The value of ``expr`` for ``row``; ``totals``: the aggregates' results, once folded."""
    return compile_expr(expr)(row, totals)


def compile_expr(expr: Expr) -> Compiled:
    """``expr`` made a closure once per query, not walked again for each row. (Not cached
    by value: ``Literal(1)`` equals ``Literal(True)``.)"""
    if isinstance(expr, Literal):
        constant = expr.value
        return lambda row, totals: constant
    if isinstance(expr, Path):
        return _compile_path(expr)
    if isinstance(expr, Binary):
        return _compile_binary(expr)
    if isinstance(expr, Unary):
        return _compile_unary(expr)
    if isinstance(expr, IsTest):
        inner, negated = compile_expr(expr.value), expr.negated
        if expr.kind == "MISSING":
            return lambda row, totals: (inner(row, totals) is MISSING) != negated

        def is_null(row: object, totals: list[object] | None) -> object:
            value = inner(row, totals)
            return (value is None or value is MISSING) != negated

        return is_null
    if isinstance(expr, Like):
        return _compile_like(expr)
    if isinstance(expr, Between):
        return _compile_between(expr)
    if isinstance(expr, In):
        return _compile_in(expr)
    if isinstance(expr, Cast):
        inner, target = compile_expr(expr.value), expr.type
        return lambda row, totals: cast(inner(row, totals), target)
    if isinstance(expr, Call):
        args, name = [compile_expr(arg) for arg in expr.args], expr.name
        return lambda row, totals: call(name, [arg(row, totals) for arg in args])
    if isinstance(expr, Aggregate):
        slot = expr.slot

        def total(row: object, totals: list[object] | None) -> object:
            if totals is None:
                raise SelectError("UnsupportedSqlOperation", "Aggregates are in SELECT only.")
            return totals[slot]

        return total
    raise SelectError("UnsupportedSyntax")


def _compile_path(expr: Path) -> Compiled:
    steps = expr.steps
    if not steps:
        return lambda row, totals: row  # the row itself, by the FROM path's last name
    first = steps[0]
    if len(steps) == 1 and isinstance(first, Field):
        position = positional(first)

        def field(row: object, totals: list[object] | None) -> object:
            if type(row) is CsvRow and position is not None:
                values = row.values
                return values[position - 1] if position <= len(values) else MISSING
            return follow(row, steps)

        return field
    return lambda row, totals: follow(row, steps)


def _compile_unary(expr: Unary) -> Compiled:
    inner, op = compile_expr(expr.operand), expr.op
    if op == "NOT":

        def negation(row: object, totals: list[object] | None) -> object:
            value = _logical(inner(row, totals))
            return None if value is None else not value

        return negation

    def sign(row: object, totals: list[object] | None) -> object:
        number = as_number(inner(row, totals))
        if number is None:
            return None
        return -number if op == "-" else number

    return sign


def _compile_between(expr: Between) -> Compiled:
    value, low, high = (compile_expr(e) for e in (expr.value, expr.low, expr.high))
    negated = expr.negated

    def between(row: object, totals: list[object] | None) -> object:
        seen = value(row, totals)
        both = _and(_compare(">=", seen, low(row, totals)), _compare("<=", seen, high(row, totals)))
        return both if both is None else both != negated

    return between


def _compile_in(expr: In) -> Compiled:
    value, items, negated = (
        compile_expr(expr.value),
        [compile_expr(e) for e in expr.items],
        expr.negated,
    )

    def within(row: object, totals: list[object] | None) -> object:
        seen = value(row, totals)
        unknown = False
        for item in items:
            equal = _compare("=", seen, item(row, totals))
            if equal is True:
                return not negated
            unknown = unknown or equal is None
        return None if unknown else negated

    return within


def _and(left: object, right: object) -> object:
    if left is False or right is False:
        return False
    if left is True and right is True:
        return True
    return None


def _compile_binary(expr: Binary) -> Compiled:
    op, left, right = expr.op, compile_expr(expr.left), compile_expr(expr.right)
    if op == "AND":

        def conjunction(row: object, totals: list[object] | None) -> object:
            first = _logical(left(row, totals))
            if first is False:
                return False
            return _and(first, _logical(right(row, totals)))

        return conjunction
    if op == "OR":

        def disjunction(row: object, totals: list[object] | None) -> object:
            first = _logical(left(row, totals))
            if first is True:
                return True
            second = _logical(right(row, totals))
            if second is True:
                return True
            return False if first is False and second is False else None

        return disjunction
    if op in _COMPARE:
        return lambda row, totals: _compare(op, left(row, totals), right(row, totals))

    def operation(row: object, totals: list[object] | None) -> object:
        a, b = left(row, totals), right(row, totals)
        if a is None or a is MISSING or b is None or b is MISSING:
            return None
        if op == "||":
            return show(a) + show(b)
        return arithmetic(op, a, b)

    return operation


def _logical(value: object) -> object:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def arithmetic(op: str, left: object, right: object) -> object:
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        raise SelectError("IncorrectSqlFunctionArgumentType", f"Operator {op} takes numbers.")
    if isinstance(a, Decimal) != isinstance(b, Decimal):
        if isinstance(a, float) or isinstance(b, float):
            a, b = float(a), float(b)
        else:
            a, b = Decimal(a), Decimal(b)
    if isinstance(a, int) and isinstance(b, int) and op in "+-*":
        return checked_int(a + b if op == "+" else a - b if op == "-" else a * b)
    try:
        if op == "+":
            return a + b  # type: ignore[operator]
        if op == "-":
            return a - b  # type: ignore[operator]
        if op == "*":
            return a * b  # type: ignore[operator]
        if op == "/":
            if isinstance(a, int) and isinstance(b, int):
                return int(a / b) if b != 0 else _division_by_zero()
            return a / b  # type: ignore[operator]
        if op == "%":
            return a % b  # type: ignore[operator]
    except ZeroDivisionError:
        return _division_by_zero()
    except ArithmeticError as exc:  # a float overflow, a decimal out of its range
        raise SelectError("IntegerOverflow") from exc
    raise SelectError("ParseUnknownOperator")


def _division_by_zero() -> object:
    raise SelectError("EvaluatorInvalidArguments", "Division by zero.")


def _compare(op: str, left: object, right: object) -> bool | None:
    if left is None or left is MISSING or right is None or right is MISSING:
        return None
    kind = type(left)
    if kind is type(right) and kind in (str, int, float):
        return _COMPARE[op](left, right)
    if isinstance(left, str) and isinstance(right, str):
        return _COMPARE[op](left, right)
    if isinstance(left, list | dict) or isinstance(right, list | dict):
        # A wildcard path's list, a JSON object: equal or not, never ordered.
        if op not in ("=", "!="):
            return None
        return (left == right) == (op == "=")
    if isinstance(left, bool) or isinstance(right, bool):
        left, right = _logical(left), _logical(right)
        if not isinstance(left, bool) or not isinstance(right, bool):
            return None
        return _COMPARE[op](left, right)
    if type(left).__name__ == "datetime" or type(right).__name__ == "datetime":
        try:
            left = cast(left, "TIMESTAMP")
            right = cast(right, "TIMESTAMP")
            return _COMPARE[op](left, right)
        except (SelectError, TypeError):
            return None
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        return None  # a text that is no number against a number: no match
    return _COMPARE[op](a, b)


_LIKE_CACHE: dict[tuple[str, str | None], re.Pattern[str]] = {}


def _compile_like(expr: Like) -> Compiled:
    value, pattern = compile_expr(expr.value), compile_expr(expr.pattern)
    escape = compile_expr(expr.escape) if expr.escape is not None else None
    negated = expr.negated

    def like(row: object, totals: list[object] | None) -> object:
        seen, wanted = value(row, totals), pattern(row, totals)
        escaped = escape(row, totals) if escape is not None else None
        if seen is None or seen is MISSING or wanted is None or wanted is MISSING:
            return None
        if not isinstance(wanted, str) or (escaped is not None and not isinstance(escaped, str)):
            raise SelectError("IncorrectSqlFunctionArgumentType", "LIKE takes text.")
        return (like_pattern(wanted, escaped).fullmatch(show(seen)) is not None) != negated

    return like


def like_pattern(pattern: str, escape: str | None) -> re.Pattern[str]:
    """LIKE's ``%`` (any run) and ``_`` (any one character), ``escape`` making either literal."""
    cached = _LIKE_CACHE.get((pattern, escape))
    if cached is not None:
        return cached
    if escape is not None and len(escape) != 1:
        raise SelectError("EvaluatorLikePatternInvalidEscapeSequence")
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            if char not in ("%", "_") and char != escape:
                raise SelectError("EvaluatorLikePatternInvalidEscapeSequence")
            parts.append(re.escape(char))
            escaped = False
        elif escape is not None and char == escape:
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    if escaped:
        raise SelectError("EvaluatorLikePatternInvalidEscapeSequence")
    compiled = re.compile("".join(parts), re.DOTALL)
    if len(_LIKE_CACHE) < 256:
        _LIKE_CACHE[(pattern, escape)] = compiled
    return compiled


class Accumulators:
    """The running state of a query's aggregates: counts, sums, extremes — one value each."""

    def __init__(self, query: Query) -> None:
        self._aggregates = query.aggregates
        self._args = [None if a.arg is None else compile_expr(a.arg) for a in self._aggregates]
        self._counts = [0] * len(self._aggregates)
        self._values: list[object] = [None] * len(self._aggregates)

    def add(self, row: object) -> None:
        if row is MISSING:
            return  # a wildcard's empty record: AWS's aggregates skip it
        for slot, aggregate in enumerate(self._aggregates):
            arg = self._args[slot]
            if arg is None:
                self._counts[slot] += 1
                continue
            value = arg(row, None)
            if value is None or value is MISSING:
                continue
            name = aggregate.name
            if name in ("SUM", "AVG"):
                number = as_number(value)
                if number is None:
                    raise SelectError("IncorrectSqlFunctionArgumentType", f"{name} takes numbers.")
                value = number
                held = self._values[slot]
                self._values[slot] = value if held is None else arithmetic("+", held, value)
            elif name in ("MIN", "MAX"):
                held = self._values[slot]
                read = as_number(value) if isinstance(value, str) else None
                value = read if read is not None else value
                if held is None or _compare("<" if name == "MIN" else ">", value, held):
                    self._values[slot] = value
            self._counts[slot] += 1

    def totals(self) -> list[object]:
        made: list[object] = []
        for slot, aggregate in enumerate(self._aggregates):
            count = self._counts[slot]
            if aggregate.name == "COUNT":
                made.append(count)
            elif aggregate.name == "AVG":
                total = self._values[slot]
                made.append(None if total is None else arithmetic("/", _exact(total), count))
            else:
                made.append(
                    as_number(self._values[slot]) if aggregate.name == "SUM" else self._values[slot]
                )
        return made


def _exact(total: object) -> object:
    """AVG of whole numbers is not a whole number: divide as DECIMAL."""
    return Decimal(total) if isinstance(total, int) else total
