"""Running a parsed Logs Insights query (:mod:`andromede.logs.insights_query`) over events fed
one at a time: pure, no I/O, memory bounded. The commands before the first ``stats``,
``sort`` or ``dedup`` run per event as it comes; that command gathers — ``stats`` into at
most ``max_groups`` groups, ``sort``/``dedup`` into at most ``max_rows`` rows (a ``sort``
followed only by ``limit``, ``fields`` and ``display`` keeps just the rows it will answer) —
and the commands after it run on what was gathered. A query that would hold more fails
(:class:`QueryTooLarge`) rather than grow.

Each event is a record of ``@timestamp``, ``@message``, ``@logStream``, ``@log``,
``@ingestionTime`` and ``@ptr``, and, when its message is a JSON object, its fields
flattened as AWS discovers them (``a.b.c``, a list's items ``a.0``)."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from andromede.logs.errors import LogsError
from andromede.logs.insights_query import (
    Aggregate,
    Arith,
    Bin,
    Call,
    Command,
    Compare,
    Dedup,
    Display,
    Expr,
    Field,
    Fields,
    Filter,
    InList,
    Like,
    Limit,
    Literal,
    Logical,
    Not,
    Parse,
    Query,
    Sort,
    Stats,
)

__all__ = ["QueryRun", "QueryTooLarge", "Stamp", "event_record", "format_value"]

Value = str | int | float
Record = dict[str, Value]
_MAX_DISCOVERED: Final = 1000  # JSON fields discovered per event at most (AWS: 1000)
_STANDARD: Final = ("@timestamp", "@message", "@logStream", "@log")


class QueryTooLarge(LogsError):
    """The query would hold more groups or rows than its bounds."""


class Stamp(int):
    """Milliseconds since the epoch, answered as AWS writes a time."""


def format_value(value: Value) -> str:
    if isinstance(value, Stamp):
        moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(value) % 1000:03d}"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def _flatten(prefix: str, value: object, into: Record) -> None:
    if len(into) >= _MAX_DISCOVERED:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, into)
    elif isinstance(value, bool):
        into[prefix] = "true" if value else "false"
    elif isinstance(value, int | float):
        into[prefix] = value
    elif isinstance(value, str):
        into[prefix] = value
    # JSON null: the field is absent, as for AWS


def event_record(
    account: str, group: str, stream: str, timestamp: int, ingestion: int, message: str, seq: int
) -> Record:
    pointer = base64.urlsafe_b64encode(
        json.dumps([group, stream, timestamp, seq]).encode()
    ).decode()
    record: Record = {}
    text = message.lstrip()
    if text.startswith("{"):
        try:
            parsed = json.loads(message)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            _flatten("", parsed, record)
    record.update(
        {
            "@timestamp": Stamp(timestamp),
            "@message": message,
            "@logStream": stream,
            "@log": f"{account}:{group}",
            "@ingestionTime": Stamp(ingestion),
            "@ptr": pointer,
        }
    )
    return record


# Expressions.


def _number(value: Value | None) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _compare(op: str, left: Value | None, right: Value | None) -> bool:
    if left is None or right is None:
        return False
    a, b = _number(left), _number(right)
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


def evaluate(expr: Expr, record: Mapping[str, Value]) -> Value | None:
    match expr:
        case Field(name):
            return record.get(name)
        case Literal(value):
            return value
        case Arith(op, left, right):
            a, b = _number(evaluate(left, record)), _number(evaluate(right, record))
            if a is None or b is None:
                return None
            if op in ("/", "%") and b == 0:
                return None
            result = {"+": a + b, "-": a - b, "*": a * b}.get(op)
            if result is None:
                result = a / b if op == "/" else math.fmod(a, b)
            return result
        case Call(name, (argument,)):
            found = evaluate(argument, record)
            if name == "ispresent":
                return 1 if found is not None else 0
            if name == "isempty":
                return 1 if found is None or found == "" else 0
            if found is None:
                return None
            if name == "strlen":
                return len(str(found))
            return str(found).lower() if name == "tolower" else str(found).upper()
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
            number = _number(value)
            return number != 0 if number is not None else value != ""


# Aggregation.


@dataclass(slots=True)
class _Tally:
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None
    values: list[float] = field(default_factory=list)


def _aggregate_value(aggregate: Aggregate, tally: _Tally) -> Value | None:
    match aggregate.function:
        case "count":
            return tally.count
        case "sum":
            return tally.total if tally.count else None
        case "avg":
            return tally.total / tally.count if tally.count else None
        case "min":
            return tally.low
        case "max":
            return tally.high
        case _:
            if not tally.values:
                return None
            ordered = sorted(tally.values)
            # Nearest rank, as a percentile of the values seen.
            rank = max(1, math.ceil(aggregate.percentile / 100 * len(ordered)))
            return ordered[rank - 1]


class _Aggregator:
    def __init__(self, stats: Stats, max_groups: int, max_values: int) -> None:
        self.stats = stats
        self.groups: dict[tuple[Value | None, ...], list[_Tally]] = {}
        self.max_groups = max_groups
        self.max_values = max_values
        self.values = 0

    def add(self, record: Record) -> None:
        key: list[Value | None] = []
        for _, group in self.stats.groups:
            if isinstance(group, Bin):
                at = record.get("@timestamp")
                key.append(
                    None if at is None else Stamp(int(at) // group.period_ms * group.period_ms)
                )
            else:
                key.append(record.get(group.name))
        tallies = self.groups.get(tuple(key))
        if tallies is None:
            if len(self.groups) >= self.max_groups:
                raise QueryTooLarge(f"The query's stats make more than {self.max_groups} groups.")
            tallies = [_Tally() for _ in self.stats.aggregates]
            self.groups[tuple(key)] = tallies
        for (_, aggregate), tally in zip(self.stats.aggregates, tallies, strict=True):
            if aggregate.field is None:
                tally.count += 1
                continue
            value = record.get(aggregate.field)
            if value is None:
                continue
            if aggregate.function == "count":
                tally.count += 1
                continue
            number = _number(value)
            if number is None:
                continue
            tally.count += 1
            tally.total += number
            tally.low = number if tally.low is None else min(tally.low, number)
            tally.high = number if tally.high is None else max(tally.high, number)
            if aggregate.function == "pct":
                if self.values >= self.max_values:
                    raise QueryTooLarge(
                        f"The query's pct holds more than {self.max_values} values."
                    )
                tally.values.append(number)
                self.values += 1

    def rows(self) -> list[Record]:
        rows: list[Record] = []
        for key in sorted(self.groups, key=lambda k: tuple(_order_key(v) for v in k)):
            row: Record = {}
            for (name, _), value in zip(self.stats.groups, key, strict=True):
                if value is not None:
                    row[name] = value
            for (name, aggregate), tally in zip(
                self.stats.aggregates, self.groups[key], strict=True
            ):
                result = _aggregate_value(aggregate, tally)
                if result is not None:
                    row[name] = result
            rows.append(row)
        return rows


def _order_key(value: Value | None) -> tuple[int, float, str]:
    """Absent first, then numbers by value, then text."""
    if value is None:
        return (0, 0.0, "")
    number = _number(value)
    return (1, number, "") if number is not None else (2, 0.0, str(value))


# The pipeline.


def _apply(command: Command, record: Record, visible: list[str]) -> bool:
    """One per-row command on ``record``; False when the row is dropped."""
    match command:
        case Filter(condition):
            return holds(condition, record)
        case Fields(items):
            for name, expr in items:
                value = evaluate(expr, record)
                if value is not None:
                    record[name] = value
        case Parse(source, pattern, names):
            text = record.get(source)
            match = pattern.search(str(text)) if text is not None else None
            if match is not None:
                for name, value in zip(names, match.groups(), strict=True):
                    record[name] = value
    return True


def _visible_after(command: Command, visible: list[str] | None) -> list[str] | None:
    match command:
        case Fields(items):
            names = list(visible or [])
            names += [n for n, _ in items if n not in names]
            return names
        case Display(names):
            return list(names)
        case Stats(aggregates, groups):
            return [n for n, _ in groups] + [n for n, _ in aggregates]
    return visible


@dataclass(slots=True)
class Statistics:
    records_matched: int = 0
    records_scanned: int = 0
    bytes_scanned: int = 0


class QueryRun:
    """One query's evaluation: :meth:`feed` each event's record, then :meth:`rows`."""

    def __init__(self, query: Query, limit: int, max_groups: int, max_rows: int) -> None:
        commands = list(query.commands)
        cut = next(
            (i for i, c in enumerate(commands) if isinstance(c, Stats | Sort | Dedup)),
            len(commands),
        )
        self.stream_commands = commands[:cut]
        self.gather = commands[cut] if cut < len(commands) else None
        self.after = commands[cut + 1 :]
        limits = [c.count for c in commands if isinstance(c, Limit)]
        self.limit = min([limit, *limits])
        self.stream_limit = min(
            [c.count for c in self.stream_commands if isinstance(c, Limit)], default=None
        )
        self.max_rows = max_rows
        self.stats = Statistics()
        self.aggregator = (
            _Aggregator(self.gather, max_groups, max_rows)
            if isinstance(self.gather, Stats)
            else None
        )
        # A sort that only limit, fields and display follow keeps the rows it answers.
        self.top = (
            self.limit
            if isinstance(self.gather, Sort)
            and all(isinstance(c, Limit | Fields | Display) for c in self.after)
            else None
        )
        self.rows_held: list[Record] = []
        self.passed = 0
        self.has_stats = any(isinstance(c, Stats) for c in commands)
        visible: list[str] | None = None
        for command in commands:
            visible = _visible_after(command, visible)
        self.visible = visible

    @property
    def done(self) -> bool:
        """No more event can change the answer: the rows are in."""
        if self.stream_limit is not None and self.passed >= self.stream_limit:
            return True
        return self.gather is None and len(self.rows_held) >= self.limit

    def feed(self, record: Record, size: int) -> None:
        self.stats.records_scanned += 1
        self.stats.bytes_scanned += size
        if self.done:
            return
        for command in self.stream_commands:
            if isinstance(command, Limit):
                continue
            if not _apply(command, record, []):
                return
        self.passed += 1
        self.stats.records_matched += 1
        if self.aggregator is not None:
            self.aggregator.add(record)
            return
        self.rows_held.append(record)
        if (
            self.top is not None
            and isinstance(self.gather, Sort)
            and len(self.rows_held) >= 2 * self.top
        ):
            self.rows_held = _sorted(self.rows_held, self.gather)[: self.top]
        elif len(self.rows_held) > self.max_rows:
            raise QueryTooLarge(
                f"The query holds more than {self.max_rows} rows to sort or deduplicate; "
                "narrow it with filter or the time range."
            )

    def rows(self) -> list[list[tuple[str, str]]]:
        """The answer: each row its (field, value) pairs, as GetQueryResults lists them."""
        rows = self.aggregator.rows() if self.aggregator is not None else self.rows_held
        if self.gather is not None and not isinstance(self.gather, Stats):
            rows = _gathered(self.gather, rows)
        for command in self.after:
            rows = _gathered(command, rows)
        rows = rows[: self.limit]
        return [self._shape(row) for row in rows]

    def _shape(self, row: Record) -> list[tuple[str, str]]:
        names: list[str]
        if self.visible is None:
            names = [n for n in _STANDARD if n in row]
            names += [n for n in row if n not in names and not n.startswith("@")]
        else:
            names = self.visible
        shaped: list[tuple[str, str]] = [(n, format_value(row[n])) for n in names if n in row]
        if not self.has_stats and "@ptr" in row and all(n != "@ptr" for n, _ in shaped):
            shaped.append(("@ptr", str(row["@ptr"])))
        return shaped


def _sorted(rows: list[Record], sort: Sort) -> list[Record]:
    ordered = list(rows)
    # Stable sorts from the last key to the first; absent values last either way.
    for name, descending in reversed(sort.keys):
        present = [r for r in ordered if name in r]
        absent = [r for r in ordered if name not in r]
        present.sort(key=lambda r: _order_key(r[name]), reverse=descending)
        ordered = present + absent
    return ordered


def _gathered(command: Command, rows: list[Record]) -> list[Record]:
    match command:
        case Sort():
            return _sorted(rows, command)
        case Dedup(names):
            seen: set[tuple[str | None, ...]] = set()
            kept: list[Record] = []
            for row in rows:
                key = tuple(format_value(row[n]) if n in row else None for n in names)
                if key not in seen:
                    seen.add(key)
                    kept.append(row)
            return kept
        case Limit(count):
            return rows[:count]
        case Stats():
            aggregator = _Aggregator(command, len(rows) + 1, len(rows) + 1)
            for row in rows:
                aggregator.add(row)
            return aggregator.rows()
        case _:
            return [row for row in rows if _apply(command, row, [])]
