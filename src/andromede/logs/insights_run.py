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
from dataclasses import dataclass
from typing import Final

from andromede.logs.insights_eval import evaluate, holds, lookup
from andromede.logs.insights_functions import Record, Stamp, format_value, order_key
from andromede.logs.insights_query import (
    Command,
    Dedup,
    Display,
    Fields,
    Filter,
    Limit,
    Parse,
    Query,
    Sort,
    Stats,
)
from andromede.logs.insights_stats import Aggregator, QueryTooLarge

__all__ = ["QueryRun", "QueryTooLarge", "Stamp", "event_record", "format_value"]

_MAX_DISCOVERED: Final = 1000  # JSON fields discovered per event at most (AWS: 1000)
# Deeper values are not discovered (still read by jsonParse): the walk recurses, and a
# 256 KB message may nest 100,000 deep.
_MAX_DEPTH: Final = 100
_STANDARD: Final = ("@timestamp", "@message", "@logStream", "@log")


def _flatten(prefix: str, value: object, into: Record, depth: int = 0) -> None:
    if len(into) >= _MAX_DISCOVERED or depth > _MAX_DEPTH:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten(f"{prefix}.{index}", item, into, depth + 1)
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
        except (ValueError, RecursionError):  # nested deeper than the parser goes
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
                # A regex's named groups, a glob's captures in order.
                found = [match.group(n) for n in names] if pattern.groupindex else match.groups()
                for name, value in zip(names, found, strict=True):
                    if value is not None:  # an optional group that took nothing
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
        case Stats(items, groups):
            return [n for n, _ in groups] + [n for n, _ in items]
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
            Aggregator(self.gather, max_groups, max_rows)
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

    def partial_rows(self) -> list[list[tuple[str, str]]]:
        """The rows found so far, for GetQueryResults while the query runs, as AWS answers
        partial results: with ``stats``, the aggregation of the events read so far (its
        rows change until the last one), through the commands after it and the limit."""
        return self.rows()

    def _shape(self, row: Record) -> list[tuple[str, str]]:
        names: list[str]
        if self.visible is None:
            names = [n for n in _STANDARD if n in row]
            names += [n for n in row if n not in names and not n.startswith("@")]
        else:
            names = self.visible
        values = [(n, lookup(row, n)) for n in names]
        shaped = [(n, format_value(v)) for n, v in values if v is not None]
        if not self.has_stats and "@ptr" in row and all(n != "@ptr" for n, _ in shaped):
            shaped.append(("@ptr", str(row["@ptr"])))
        return shaped


def _sorted(rows: list[Record], sort: Sort) -> list[Record]:
    ordered = list(rows)
    # Stable sorts from the last key to the first; absent values last either way.
    for name, descending in reversed(sort.keys):
        keyed = [(lookup(r, name), r) for r in ordered]
        present = [(v, r) for v, r in keyed if v is not None]
        absent = [r for v, r in keyed if v is None]
        present.sort(key=lambda pair: order_key(pair[0]), reverse=descending)
        ordered = [r for _, r in present] + absent
    return ordered


def _gathered(command: Command, rows: list[Record]) -> list[Record]:
    match command:
        case Sort():
            return _sorted(rows, command)
        case Dedup(names):
            seen: set[tuple[str | None, ...]] = set()
            kept: list[Record] = []
            for row in rows:
                values = [lookup(row, n) for n in names]
                key = tuple(format_value(v) if v is not None else None for v in values)
                if key not in seen:
                    seen.add(key)
                    kept.append(row)
            return kept
        case Limit(count):
            return rows[:count]
        case Stats():
            aggregator = Aggregator(command, len(rows) + 1, len(rows) + 1)
            for row in rows:
                aggregator.add(row)
            return aggregator.rows()
        case _:
            return [row for row in rows if _apply(command, row, [])]
