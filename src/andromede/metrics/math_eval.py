"""Metric math's evaluator (decision 0183): the value of a parsed expression over the time
series of a request's ``MetricStat`` queries.

A value is a scalar, a :class:`TimeSeries` (timestamp → value, with its period and label), a
:class:`SeriesArray` (``METRICS()``, ``[m1, m2]``) or a word (a string argument, or a keyword
such as ``REPEAT``). Operators work on the values of matching timestamps (a timestamp held by
one series only has no result), a scalar broadcasts to every point, and an array applies the
operation to each of its series. A result that is not a finite number (``1/0``, ``LOG(-1)``)
is dropped and noted as AWS's ``ArithmeticError`` message.
"""

from __future__ import annotations

import bisect
import itertools
import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from andromede.metrics.errors import InvalidParameterValue
from andromede.metrics.math_parse import (
    Array,
    Binary,
    Call,
    Keyword,
    Node,
    Number,
    Ref,
    Text,
    Unary,
)

__all__ = [
    "ARITHMETIC_ERROR",
    "MathContext",
    "SeriesArray",
    "TimeSeries",
    "Value",
    "Word",
    "as_series",
]

ARITHMETIC_ERROR: Final = (
    "One or more data-points have been dropped due to non-numeric values (NaN, -Infinite, "
    "+Infinite)"
)
# Functions AWS has that need what this platform does not keep (quotas, Lambda).
_REFUSED: Final = frozenset({"SERVICE_QUOTA", "LAMBDA"})
# The functions whose series the service reads before evaluating (``searched``): SEARCH's
# (decision 0183), ANOMALY_DETECTION_BAND's lower and upper edges (decision 0189), an
# INSIGHT_RULE_METRIC's one series (decision 0272).
_READ_BEFORE: Final = frozenset({"SEARCH", "ANOMALY_DETECTION_BAND", "INSIGHT_RULE_METRIC"})


@dataclass(slots=True)
class TimeSeries:
    label: str
    period: int
    points: dict[int, float] = field(default_factory=dict)

    def ordered(self) -> list[tuple[int, float]]:
        return sorted(self.points.items())


@dataclass(slots=True)
class SeriesArray:
    items: list[TimeSeries]


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    keyword: bool


Value = float | TimeSeries | SeriesArray | Word


@dataclass(slots=True)
class MathContext:
    """What an expression reads: the query range [low, high), the expression's period, the
    MetricStat queries' series by Id (request order), the other expressions' trees."""

    low: int
    high: int
    period: int
    metrics: Mapping[str, TimeSeries]
    expressions: Mapping[str, tuple[Node, str]]  # id -> (tree, text)
    max_series: int = 500
    max_depth: int = 50
    # SEARCH calls' series (math_search) and ANOMALY_DETECTION_BAND calls' edges (math_band),
    # read by the service before evaluating.
    searched: Mapping[Call, SeriesArray] = field(default_factory=dict)
    messages: set[str] = field(default_factory=set)
    _done: dict[str, Value] = field(default_factory=dict)
    _busy: set[str] = field(default_factory=set)

    def value_of(self, query_id: str) -> Value:
        """The value of a query: a metric's series, or an expression's (each once)."""
        if query_id in self.metrics:
            return self.metrics[query_id]
        if query_id in self._done:
            return self._done[query_id]
        if query_id not in self.expressions:
            raise InvalidParameterValue(f"The expression references an unknown Id {query_id}.")
        if query_id in self._busy:
            raise InvalidParameterValue(
                f"The expression of {query_id} references itself (a cycle of expressions)."
            )
        if len(self._busy) >= self.max_depth:
            raise InvalidParameterValue(
                f"The expressions name each other more than {self.max_depth} deep."
            )
        outermost = not self._busy
        self._busy.add(query_id)
        tree, text = self.expressions[query_id]
        try:
            value = _Evaluator(self, text).run(tree)
        except RecursionError as exc:
            # Each bound holds alone; together (deep chains of deep expressions) they could
            # still pass the interpreter's stack: refused, never a fault.
            if not outermost:
                raise
            raise InvalidParameterValue(
                f"The expression of {query_id} nests too deep to evaluate."
            ) from exc
        finally:
            self._busy.discard(query_id)
        self._done[query_id] = value
        return value

    def grid(self, period: int) -> range:
        """Every period start of the query range, the timestamps FILL and TIME_SERIES use."""
        return range(self.low, self.high, max(period, 1))


def as_series(value: Value, context: MathContext, label: str, period: int) -> list[TimeSeries]:
    """An expression's result as the series GetMetricData answers: a scalar drawn at every
    period, an array's series each labelled after the expression."""
    if isinstance(value, Word):
        raise InvalidParameterValue("An expression must give a time series, not a string.")
    if isinstance(value, float):
        if not math.isfinite(value):
            return [TimeSeries(label, period)]
        return [TimeSeries(label, period, dict.fromkeys(context.grid(period), value))]
    if isinstance(value, TimeSeries):
        return [TimeSeries(label, value.period, dict(value.points))]
    return [
        TimeSeries(f"{label} {one.label}".strip(), one.period, dict(one.points))
        for one in value.items
    ]


def _finite(context: MathContext, points: dict[int, float]) -> dict[int, float]:
    kept = {at: v for at, v in points.items() if math.isfinite(v)}
    if len(kept) != len(points):
        context.messages.add(ARITHMETIC_ERROR)
    return kept


def _apply(op: str, a: float, b: float) -> float:
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b if b != 0 else (math.nan if a == 0 else math.copysign(math.inf, a))
        if op == "^":
            result = a**b
            return result if isinstance(result, float | int) else math.nan
        if op == "==":
            return float(a == b)
        if op == "!=":
            return float(a != b)
        if op == "<":
            return float(a < b)
        if op == ">":
            return float(a > b)
        if op == "<=":
            return float(a <= b)
        if op == ">=":
            return float(a >= b)
        if op == "AND":
            return float(bool(a) and bool(b))
        return float(bool(a) or bool(b))
    except (OverflowError, ZeroDivisionError, ValueError):
        return math.nan


class _Evaluator:
    def __init__(self, context: MathContext, text: str) -> None:
        self._context = context
        self._text = text

    def _fail(self, why: str) -> InvalidParameterValue:
        return InvalidParameterValue(f"Error in expression '{self._text[:256]}': {why}")

    def run(self, node: Node) -> Value:
        if isinstance(node, Number):
            return node.value
        if isinstance(node, Text):
            return Word(node.value, keyword=False)
        if isinstance(node, Keyword):
            return Word(node.name, keyword=True)
        if isinstance(node, Ref):
            return self._context.value_of(node.id)
        if isinstance(node, Unary):
            operand = self.run(node.operand)
            if node.op == "-":
                return self._binary("*", -1.0, operand)
            return self._binary("==", operand, 0.0)
        if isinstance(node, Binary):
            return self._binary(node.op, self.run(node.left), self.run(node.right))
        if isinstance(node, Array):
            items: list[TimeSeries] = []
            for child in node.items:
                value = self.run(child)
                if isinstance(value, TimeSeries):
                    items.append(value)
                elif isinstance(value, SeriesArray):
                    items.extend(value.items)
                else:
                    raise self._fail("An array holds time series only.")
            return self._array(items)
        return self._call(node)

    def _array(self, items: list[TimeSeries]) -> SeriesArray:
        if len(items) > self._context.max_series:
            raise self._fail(f"An array holds at most {self._context.max_series} time series.")
        return SeriesArray(items)

    # --- operators ----------------------------------------------------------------------------

    def _binary(self, op: str, left: Value, right: Value) -> Value:
        if isinstance(left, Word) or isinstance(right, Word):
            raise self._fail(f"The operator {op} takes numbers and time series, not strings.")
        if isinstance(left, SeriesArray):
            if isinstance(right, SeriesArray):
                raise self._fail(f"The operator {op} cannot combine two arrays of time series.")
            scalar_or_series = right
            return SeriesArray([self._series_of(op, one, scalar_or_series) for one in left.items])
        if isinstance(right, SeriesArray):
            return SeriesArray([self._series_of(op, left, one) for one in right.items])
        return self._pair(op, left, right)

    def _series_of(
        self, op: str, left: float | TimeSeries, right: float | TimeSeries
    ) -> TimeSeries:
        result = self._pair(op, left, right)
        if isinstance(result, float):  # never: one side is an array's series
            raise self._fail(f"The operator {op} gave no time series.")
        return result

    def _pair(
        self, op: str, left: float | TimeSeries, right: float | TimeSeries
    ) -> float | TimeSeries:
        if isinstance(left, float):
            if isinstance(right, float):
                return _apply(op, left, right)
            scalar = left
            points = {at: _apply(op, scalar, v) for at, v in right.points.items()}
            return TimeSeries(right.label, right.period, _finite(self._context, points))
        if isinstance(right, float):
            scalar = right
            points = {at: _apply(op, v, scalar) for at, v in left.points.items()}
            return TimeSeries(left.label, left.period, _finite(self._context, points))
        points = {
            at: _apply(op, v, right.points[at])
            for at, v in left.points.items()
            if at in right.points
        }
        return TimeSeries(left.label, left.period, _finite(self._context, points))

    # --- functions ----------------------------------------------------------------------------

    def _call(self, node: Call) -> Value:
        if node.name in _REFUSED:
            raise self._fail(f"The function {node.name} is not supported here (decision 0183).")
        if node.name in _READ_BEFORE:
            found = self._context.searched.get(node)
            if found is None:
                if node.name == "SEARCH":
                    raise self._fail("SEARCH is not supported in an alarm (decision 0183).")
                raise self._fail(f"{node.name} is not served here (decision 0189).")
            if node.name == "INSIGHT_RULE_METRIC":
                return found.items[0]  # one series, not an array
            return found
        handler = _FUNCTIONS.get(node.name)
        if handler is None:
            raise self._fail(f"Unknown function {node.name[:64]} at position {node.at}.")
        low, high, run = handler
        if not low <= len(node.args) <= high:
            wanted = str(low) if low == high else f"{low} to {high}"
            raise self._fail(f"The function {node.name} takes {wanted} arguments.")
        return run(self, node.name, [self.run(arg) for arg in node.args])

    def series(self, name: str, value: Value) -> TimeSeries:
        if not isinstance(value, TimeSeries):
            raise self._fail(f"The function {name} takes a time series.")
        return value

    def scalar(self, name: str, value: Value) -> float:
        if not isinstance(value, float):
            raise self._fail(f"The function {name} takes a number here.")
        return value

    def array(self, name: str, value: Value) -> SeriesArray:
        if isinstance(value, TimeSeries):
            return SeriesArray([value])
        if not isinstance(value, SeriesArray):
            raise self._fail(f"The function {name} takes an array of time series.")
        return value

    def integer(self, name: str, value: Value) -> int:
        number = self.scalar(name, value)
        if not math.isfinite(number):
            raise self._fail(f"The function {name} takes a finite number here.")
        return int(number)

    def keyword(self, name: str, value: Value, allowed: Sequence[str]) -> str:
        if not isinstance(value, Word) or not value.keyword or value.text not in allowed:
            raise self._fail(f"The function {name} takes one of {', '.join(allowed)}.")
        return value.text

    def each(self, name: str, value: Value, one: Callable[[TimeSeries], Value]) -> Value:
        """A function of one series, applied to each series of an array."""
        if isinstance(value, SeriesArray):
            results = [one(item) for item in value.items]
            if all(isinstance(r, TimeSeries) for r in results):
                return SeriesArray([r for r in results if isinstance(r, TimeSeries)])
            # A scalar per series (DATAPOINT_COUNT of an array): each drawn as a line.
            return SeriesArray(
                [
                    r
                    if isinstance(r, TimeSeries)
                    else TimeSeries(
                        item.label,
                        item.period,
                        dict.fromkeys(self._context.grid(item.period), self.scalar(name, r)),
                    )
                    for item, r in zip(value.items, results, strict=True)
                ]
            )
        return one(self.series(name, value))

    def pointwise(self, name: str, value: Value, f: Callable[[float], float]) -> Value:
        def safe(v: float) -> float:
            try:
                return f(v)
            except (ValueError, OverflowError):
                return math.nan

        if isinstance(value, float):
            return safe(value)
        return self.each(
            name,
            value,
            lambda s: TimeSeries(
                s.label,
                s.period,
                _finite(self._context, {at: safe(v) for at, v in s.points.items()}),
            ),
        )

    def context(self) -> MathContext:
        return self._context


_Handler = Callable[[_Evaluator, str, list[Value]], Value]


def _reduce(f: Callable[[list[float]], float]) -> _Handler:
    """AVG, MAX, MIN, SUM, STDDEV: a series to a scalar, an array to the series of each
    timestamp's reduction across the array's series."""

    def run(ev: _Evaluator, name: str, args: list[Value]) -> Value:
        value = args[0]
        if isinstance(value, float):
            return value
        if isinstance(value, TimeSeries):
            values = list(value.points.values())
            return f(values) if values else math.nan
        items = ev.array(name, value).items
        by_time: dict[int, list[float]] = {}
        for item in items:
            for at, v in item.points.items():
                by_time.setdefault(at, []).append(v)
        period = items[0].period if items else ev.context().period
        return TimeSeries(name, period, {at: f(vs) for at, vs in sorted(by_time.items())})

    return run


def _stddev(values: list[float]) -> float:
    return statistics.pstdev(values) if len(values) > 1 else 0.0


def _pairs(f: Callable[[int, float, int, float], float]) -> Callable[[TimeSeries], Value]:
    """DIFF, DIFF_TIME, RATE: a value from each point and the one before it."""

    def one(s: TimeSeries) -> Value:
        ordered = s.ordered()
        return TimeSeries(
            s.label,
            s.period,
            {t: f(t0, v0, t, v) for (t0, v0), (t, v) in itertools.pairwise(ordered)},
        )

    return one


def _per_series(one: Callable[[TimeSeries], Value]) -> _Handler:
    return lambda ev, name, args: ev.each(name, args[0], one)


def _running_sum(s: TimeSeries) -> Value:
    total = 0.0
    points: dict[int, float] = {}
    for at, v in s.ordered():
        total += v
        points[at] = total
    return TimeSeries(s.label, s.period, points)


def _clock(part: Callable[[datetime], int]) -> _Handler:
    def one(s: TimeSeries) -> Value:
        return TimeSeries(
            s.label,
            s.period,
            {at: float(part(datetime.fromtimestamp(at, UTC))) for at in s.points},
        )

    return _per_series(one)


def _fill(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    how = args[1]
    grid_of = ev.context().grid

    def one(s: TimeSeries) -> Value:
        points = dict(s.points)
        grid = [at for at in grid_of(s.period) if at not in points]
        if isinstance(how, Word):
            mode = ev.keyword(name, how, ("REPEAT", "LINEAR"))
            ordered = s.ordered()
            times = [t for t, _ in ordered]
            for at in grid:
                # The held points on each side of the gap, found by bisection.
                place = bisect.bisect_left(times, at)
                if mode == "REPEAT" and place > 0:
                    points[at] = ordered[place - 1][1]
                elif mode == "LINEAR" and 0 < place < len(ordered):
                    (t0, v0), (t1, v1) = ordered[place - 1], ordered[place]
                    points[at] = v0 + (v1 - v0) * (at - t0) / (t1 - t0)
        elif isinstance(how, TimeSeries):
            for at in grid:
                if at in how.points:
                    points[at] = how.points[at]
        else:
            filler = ev.scalar(name, how)
            for at in grid:
                points[at] = filler
        return TimeSeries(s.label, s.period, dict(sorted(points.items())))

    return ev.each(name, args[0], one)


def _if(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    condition, yes = args[0], args[1]
    no = args[2] if len(args) > 2 else None

    def pick(at: int, branch: Value | None) -> float | None:
        if branch is None:
            return None
        if isinstance(branch, float):
            return branch
        return ev.series(name, branch).points.get(at)

    def one(s: TimeSeries) -> Value:
        points: dict[int, float] = {}
        for at, v in s.points.items():
            chosen = pick(at, yes if v != 0 else no)
            if chosen is not None:
                points[at] = chosen
        return TimeSeries(s.label, s.period, points)

    if isinstance(condition, float):
        chosen = yes if condition != 0 else no
        return math.nan if chosen is None else chosen
    return ev.each(name, condition, one)


def _metrics(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    wanted = ""
    if args:
        word = args[0]
        if not isinstance(word, Word) or word.keyword:
            raise ev._fail("The function METRICS takes a string.")
        wanted = word.text
    context = ev.context()
    return ev._array([s for key, s in context.metrics.items() if wanted in key])


def _first_last(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    items = ev.array(name, args[0]).items
    if not items:
        return SeriesArray([])
    return items[0] if name == "FIRST" else items[-1]


def _slice(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    items = ev.array(name, args[0]).items
    start = ev.integer(name, args[1])
    end = ev.integer(name, args[2]) if len(args) > 2 else len(items)
    return SeriesArray(items[start:end])


def _sort(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    items = ev.array(name, args[0]).items
    by = ev.keyword(name, args[1], ("AVG", "MIN", "MAX", "SUM"))
    order = ev.keyword(name, args[2], ("ASC", "DESC"))
    reducers: dict[str, Callable[[list[float]], float]] = {
        "AVG": statistics.fmean,
        "MIN": min,
        "MAX": max,
        "SUM": math.fsum,
    }

    def key(s: TimeSeries) -> float:
        values = list(s.points.values())
        if not values:
            return -math.inf if order == "DESC" else math.inf
        return reducers[by](values)

    ordered = sorted(items, key=key, reverse=order == "DESC")
    if len(args) > 3:
        ordered = ordered[: max(0, ev.integer(name, args[3]))]
    return SeriesArray(ordered)


def _time_series(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    value = ev.scalar(name, args[0])
    context = ev.context()
    return TimeSeries(name, context.period, dict.fromkeys(context.grid(context.period), value))


def _period(ev: _Evaluator, name: str, args: list[Value]) -> Value:
    value = args[0]
    if isinstance(value, SeriesArray) and value.items:
        return float(value.items[0].period)
    return float(ev.series(name, value).period)


def _count(s: TimeSeries) -> Value:
    return float(len(s.points))


def _log(base: float | None) -> Callable[[float], float]:
    def run(v: float) -> float:
        if v <= 0:
            return math.nan
        return math.log(v) if base is None else math.log(v, base)

    return run


_FUNCTIONS: Final[dict[str, tuple[int, int, _Handler]]] = {
    "ABS": (1, 1, lambda ev, n, a: ev.pointwise(n, a[0], abs)),
    "CEIL": (1, 1, lambda ev, n, a: ev.pointwise(n, a[0], lambda v: float(math.ceil(v)))),
    "FLOOR": (1, 1, lambda ev, n, a: ev.pointwise(n, a[0], lambda v: float(math.floor(v)))),
    "LOG": (1, 1, lambda ev, n, a: ev.pointwise(n, a[0], _log(None))),
    "LOG10": (1, 1, lambda ev, n, a: ev.pointwise(n, a[0], _log(10))),
    "AVG": (1, 1, _reduce(statistics.fmean)),
    "MAX": (1, 1, _reduce(max)),
    "MIN": (1, 1, _reduce(min)),
    "SUM": (1, 1, _reduce(math.fsum)),
    "STDDEV": (1, 1, _reduce(_stddev)),
    "DATAPOINT_COUNT": (1, 1, _per_series(_count)),
    "DIFF": (1, 1, _per_series(_pairs(lambda t0, v0, t, v: v - v0))),
    "DIFF_TIME": (1, 1, _per_series(_pairs(lambda t0, v0, t, v: float(t - t0)))),
    "RATE": (1, 1, _per_series(_pairs(lambda t0, v0, t, v: (v - v0) / (t - t0)))),
    "RUNNING_SUM": (1, 1, _per_series(_running_sum)),
    "FILL": (2, 2, _fill),
    "IF": (2, 3, _if),
    "METRICS": (0, 1, _metrics),
    "FIRST": (1, 1, _first_last),
    "LAST": (1, 1, _first_last),
    "SLICE": (2, 3, _slice),
    "SORT": (3, 4, _sort),
    "REMOVE_EMPTY": (
        1,
        1,
        lambda ev, n, a: SeriesArray([s for s in ev.array(n, a[0]).items if s.points]),
    ),
    "TIME_SERIES": (1, 1, _time_series),
    "PERIOD": (1, 1, _period),
    "MINUTE": (1, 1, _clock(lambda d: d.minute)),
    "HOUR": (1, 1, _clock(lambda d: d.hour)),
    "DAY": (1, 1, _clock(lambda d: d.isoweekday())),
    "DATE": (1, 1, _clock(lambda d: d.day)),
    "MONTH": (1, 1, _clock(lambda d: d.month)),
    "YEAR": (1, 1, _clock(lambda d: d.year)),
    "EPOCH": (1, 1, _clock(lambda d: int(d.timestamp()))),
}
