"""A Logs Insights ``stats`` command's aggregation (decision 0186, session-49 addendum): rows
added one at a time into at most ``max_groups`` groups by the ``by`` expressions, each
aggregation tallied in constant memory but ``pct`` and ``count_distinct``, which hold their
values (at most ``max_values`` over the command), then each group's row: its ``by`` values
and its items evaluated over the aggregations. Pure.

The aggregations AWS's ``stats`` page lists: ``avg``, ``count``, ``count_distinct`` (exact
here, within the bound; AWS's is approximate), ``max``, ``min``, ``pct`` (nearest rank over
the exact values), ``stddev`` (the sample's, n - 1), ``sum``, ``earliest``/``latest`` (the
value at the earliest/latest ``@timestamp``) and ``sortsFirst``/``sortsLast`` (the value
that sorts first/last)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from andromede.logs.errors import LogsError
from andromede.logs.insights_eval import evaluate, slot_name
from andromede.logs.insights_functions import Record, Value, format_value, number, order_key
from andromede.logs.insights_syntax import Aggregate, Stats

__all__ = ["Aggregator", "QueryTooLarge"]


class QueryTooLarge(LogsError):
    """The query would hold more groups or rows than its bounds."""


@dataclass(slots=True)
class _Tally:
    count: int = 0
    total: float = 0.0
    mean: float = 0.0
    squares: float = 0.0  # Welford's sum of squared differences from the mean
    low: float | None = None
    high: float | None = None
    values: list[float] = field(default_factory=list)
    distinct: set[str] = field(default_factory=set)
    chosen: Value | None = None  # earliest, latest, sortsFirst, sortsLast
    chosen_key: tuple[int, float, str] | int | None = None


_NUMERIC = frozenset({"sum", "avg", "min", "max", "pct", "stddev"})


def _result(aggregate: Aggregate, tally: _Tally) -> Value | None:
    match aggregate.function:
        case "count":
            return tally.count
        case "count_distinct":
            return len(tally.distinct)
        case "sum":
            return tally.total if tally.count else None
        case "avg":
            return tally.total / tally.count if tally.count else None
        case "min":
            return tally.low
        case "max":
            return tally.high
        case "stddev":
            if not tally.count:
                return None
            return math.sqrt(tally.squares / (tally.count - 1)) if tally.count > 1 else 0.0
        case "pct":
            if not tally.values:
                return None
            ordered = sorted(tally.values)
            # Nearest rank, as a percentile of the values seen.
            rank = max(1, math.ceil(aggregate.percentile / 100 * len(ordered)))
            return ordered[rank - 1]
        case _:
            return tally.chosen


class Aggregator:
    def __init__(self, stats: Stats, max_groups: int, max_values: int) -> None:
        self.stats = stats
        self.groups: dict[tuple[Value | None, ...], list[_Tally]] = {}
        self.max_groups = max_groups
        self.max_values = max_values
        self.values = 0

    def add(self, record: Record) -> None:
        key = tuple(evaluate(group, record) for _, group in self.stats.groups)
        tallies = self.groups.get(key)
        if tallies is None:
            if len(self.groups) >= self.max_groups:
                raise QueryTooLarge(f"The query's stats make more than {self.max_groups} groups.")
            tallies = [_Tally() for _ in self.stats.aggregates]
            self.groups[key] = tallies
        for aggregate, tally in zip(self.stats.aggregates, tallies, strict=True):
            self._add(aggregate, tally, record)

    def _hold(self) -> None:
        if self.values >= self.max_values:
            raise QueryTooLarge(f"The query's stats hold more than {self.max_values} values.")
        self.values += 1

    def _add(self, aggregate: Aggregate, tally: _Tally, record: Record) -> None:
        if aggregate.argument is None:
            tally.count += 1
            return
        value = evaluate(aggregate.argument, record)
        if value is None:
            return
        function = aggregate.function
        if function == "count":
            tally.count += 1
        elif function == "count_distinct":
            text = format_value(value)
            if text not in tally.distinct:
                self._hold()
                tally.distinct.add(text)
        elif function in _NUMERIC:
            found = number(value)
            if found is None:
                return
            tally.count += 1
            tally.total += found
            delta = found - tally.mean
            tally.mean += delta / tally.count
            tally.squares += delta * (found - tally.mean)
            tally.low = found if tally.low is None else min(tally.low, found)
            tally.high = found if tally.high is None else max(tally.high, found)
            if function == "pct":
                self._hold()
                tally.values.append(found)
        else:
            self._choose(function, tally, value, record)

    @staticmethod
    def _choose(function: str, tally: _Tally, value: Value, record: Record) -> None:
        key: tuple[int, float, str] | int
        if function in ("earliest", "latest"):
            at = number(record.get("@timestamp"))
            if at is None:
                return
            key = int(at)
        else:
            key = order_key(value)
        if tally.chosen_key is None:
            better = True
        elif function in ("earliest", "sortsfirst"):
            better = key < tally.chosen_key  # type: ignore[operator]
        else:
            better = key > tally.chosen_key  # type: ignore[operator]
        if better:
            tally.chosen, tally.chosen_key = value, key

    def rows(self) -> list[Record]:
        rows: list[Record] = []
        for key in sorted(self.groups, key=lambda k: tuple(order_key(v) for v in k)):
            row: Record = {}
            for (name, _), value in zip(self.stats.groups, key, strict=True):
                if value is not None:
                    row[name] = value
            slots: Record = {}
            for aggregate, tally in zip(self.stats.aggregates, self.groups[key], strict=True):
                result = _result(aggregate, tally)
                if result is not None:
                    slots[slot_name(aggregate.slot)] = result
            for name, item in self.stats.items:
                result = evaluate(item, slots)
                if result is not None:
                    row[name] = result
            rows.append(row)
        return rows
