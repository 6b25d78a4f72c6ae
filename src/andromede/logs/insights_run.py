"""Running a parsed Logs Insights query (:mod:`andromede.logs.insights_query`) over events fed
one at a time: pure, no I/O, memory bounded. The commands before the first ``stats``,
``sort``, ``dedup``, ``pattern`` or ``diff`` run per event as it comes (``unnest`` making
a row of each item); that command gathers — ``stats`` into at most ``max_groups`` groups,
``sort``/``dedup`` into at most ``max_rows`` rows (a ``sort`` followed only by ``limit``,
``fields`` and ``display`` keeps just the rows it will answer), ``pattern``/``diff`` into at
most ``max_patterns`` patterns (:mod:`andromede.logs.insights_patterns`, which answers the
``diff`` and ``anomaly`` right after it) — and the commands after it run on what was
gathered. ``limit any N`` ends the scan once N rows have passed. A query that would hold
more fails (:class:`QueryTooLarge`) rather than grow.

Each event is a record of ``@timestamp``, ``@message``, ``@logStream``, ``@log``,
``@ingestionTime`` and ``@ptr``, and, when its message is a JSON object, its fields
flattened as AWS discovers them (``a.b.c``, a list's items ``a.0``)."""

from __future__ import annotations

import base64
import calendar
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.logs.insights_eval import evaluate, holds, lookup
from andromede.logs.insights_functions import (
    Json,
    Record,
    Stamp,
    Value,
    format_value,
    json_value,
    order_key,
)
from andromede.logs.insights_patterns import (
    ANOMALY_FIELDS,
    DIFF_FIELDS,
    PATTERN_FIELDS,
    PatternMiner,
)
from andromede.logs.insights_query import (
    Anomaly,
    Command,
    Dedup,
    Diff,
    Display,
    Field,
    Fields,
    Filter,
    Limit,
    Parse,
    Pattern,
    Query,
    Sort,
    Stats,
    Unmask,
    Unnest,
)
from andromede.logs.insights_stats import Aggregator, QueryTooLarge
from andromede.logs.insights_syntax import UNMASKED

__all__ = [
    "QueryRun",
    "QueryTooLarge",
    "Stamp",
    "compared_window",
    "event_record",
    "format_value",
]

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
    account: str,
    group: str,
    stream: str,
    timestamp: int,
    ingestion: int,
    message: str,
    seq: int,
    unmasked: str | None = None,
) -> Record:
    """An event's record; ``message`` as the reader is shown it (masked), so the JSON fields
    discovered never hold a masked term; ``unmasked``, given only to a query that unmasks, is
    held apart for ``unmask(@message)`` to read."""
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
    if unmasked is not None:
        record[UNMASKED] = unmasked
    return record


# The pipeline.


def _apply(command: Command, record: Record) -> bool:
    """One per-row command on ``record``; False when the row is dropped."""
    match command:
        case Unmask():
            unmasked = record.get(UNMASKED)
            if unmasked is not None:
                record["@message"] = unmasked
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


def _unnested(command: Unnest, record: Record) -> list[Record]:
    """A row per item of the field's parsed list, the item under ``into``; any other value
    is a list of one item, as AWS's; a missing field or an empty list leaves no row."""
    value = lookup(record, command.source)
    if value is None:
        return []
    items: list[Value] = []
    if isinstance(value, Json) and isinstance(value.data, list):
        for item in value.data:
            parsed = json_value(item)
            if parsed is not None:
                items.append(parsed)
    else:
        items.append(value)
    rows: list[Record] = []
    for item in items:
        row = dict(record)
        row[command.into] = item
        rows.append(row)
    return rows


def _flowed(command: Command, rows: list[Record]) -> list[Record]:
    """A per-row command over rows: each kept, dropped or (``unnest``) made several."""
    if isinstance(command, Unnest):
        return [made for row in rows for made in _unnested(command, row)]
    return [row for row in rows if _apply(command, row)]


def _visible(commands: list[Command]) -> list[str] | None:
    """The columns the answer shows: the last ``display``'s fields, else every ``fields``
    command's (a ``fields`` after a ``display`` computes but does not show, as AWS's),
    reset by what a gathering command makes; None: every field of each row."""
    visible: list[str] | None = None
    displayed = False
    for command in commands:
        match command:
            case Fields(items) if not displayed:
                names = list(visible or [])
                names += [n for n, _ in items if n not in names]
                visible = names
            case Display(names):
                visible, displayed = list(names), True
            case Stats(items, groups):
                visible, displayed = [n for n, _ in groups] + [n for n, _ in items], False
            case Pattern():
                visible, displayed = list(PATTERN_FIELDS), False
            case Diff() | Anomaly():
                made = visible if visible and visible[0] == PATTERN_FIELDS[0] else []
                extra = DIFF_FIELDS if isinstance(command, Diff) else ANOMALY_FIELDS
                visible = [*(made or PATTERN_FIELDS), *extra]
                displayed = False
    return visible


def compared_window(start: int, end: int, period: str) -> tuple[int, int]:
    """``diff``'s compared window, in milliseconds with both ends included, for a query over
    ``start`` to ``end`` (seconds, both included): the window just before, or the same times a
    day, a week or a calendar month (the day clamped to the month's last) earlier."""
    length = end - start + 1
    if period == "day":
        shift = 86_400
    elif period == "week":
        shift = 7 * 86_400
    elif period == "month":
        moment = datetime.fromtimestamp(start, UTC)
        year, month = (moment.year, moment.month - 1) if moment.month > 1 else (moment.year - 1, 12)
        day = min(moment.day, calendar.monthrange(year, month)[1])
        shift = start - int(moment.replace(year=year, month=month, day=day).timestamp())
    else:
        shift = length
    return (start - shift) * 1000, (start - shift + length) * 1000 - 1


@dataclass(slots=True)
class Statistics:
    records_matched: int = 0
    records_scanned: int = 0
    bytes_scanned: int = 0


class QueryRun:
    """One query's evaluation: :meth:`feed` each event's record (and, for ``diff``,
    :meth:`feed_previous` each of the compared window's), then :meth:`rows`. ``window`` is
    the query's range in milliseconds (both ends included), which ``pattern`` slices."""

    def __init__(
        self,
        query: Query,
        limit: int,
        max_groups: int,
        max_rows: int,
        max_patterns: int = 1000,
        window: tuple[int, int] | None = None,
    ) -> None:
        commands = list(query.commands)
        gathering = Stats | Sort | Dedup | Pattern | Diff
        cut = next((i for i, c in enumerate(commands) if isinstance(c, gathering)), len(commands))
        self.stream_commands = commands[:cut]
        self.gather = commands[cut] if cut < len(commands) else None
        self.after = commands[cut + 1 :]
        # ``pattern`` (or ``diff`` alone, over @message) mines; the diff and anomaly right
        # after it are answered by the miner.
        self.pattern: Pattern | None = None
        self.diff: Diff | None = None
        self.anomaly = False
        self.miner: PatternMiner | None = None
        if isinstance(self.gather, Pattern | Diff):
            self.pattern = self.gather if isinstance(self.gather, Pattern) else None
            self.diff = self.gather if isinstance(self.gather, Diff) else None
            if self.after and isinstance(self.after[0], Diff):
                self.diff, self.after = self.after[0], self.after[1:]
            if self.after and isinstance(self.after[0], Anomaly):
                self.anomaly, self.after = True, self.after[1:]
            self.miner = PatternMiner(max_patterns, window)
        limits = [c.count for c in commands if isinstance(c, Limit)]
        self.limit = min([limit, *limits])
        self.stream_limit = min(
            [c.count for c in self.stream_commands if isinstance(c, Limit)], default=None
        )
        # ``limit any N`` stops the scan at N events wherever it stands, as AWS's.
        self.any_limit = min(
            [c.count for c in commands if isinstance(c, Limit) and c.any], default=None
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
        self.has_stats = any(isinstance(c, Stats | Pattern | Diff) for c in commands)
        self.visible = _visible(commands)

    @property
    def done(self) -> bool:
        """No more event can change the answer: the rows are in."""
        if self.stream_limit is not None and self.passed >= self.stream_limit:
            return True
        if self.any_limit is not None and self.passed >= self.any_limit:
            return True
        return self.gather is None and len(self.rows_held) >= self.limit

    def _streamed(self, record: Record) -> list[Record]:
        rows = [record]
        for command in self.stream_commands:
            if not isinstance(command, Limit):
                rows = _flowed(command, rows)
                if not rows:
                    break
        return rows

    def _text(self, row: Record) -> str | None:
        source = self.pattern.source if self.pattern is not None else Field("@message")
        value = evaluate(source, row)
        return None if value is None else format_value(value)

    def feed(self, record: Record, size: int) -> None:
        self.stats.records_scanned += 1
        self.stats.bytes_scanned += size
        if self.done:
            return
        rows = self._streamed(record)
        if not rows:
            return
        self.stats.records_matched += 1
        for row in rows:
            self.passed += 1
            self._take(row)

    def feed_previous(self, record: Record, size: int) -> None:
        """An event of ``diff``'s compared window: scanned, counted in the patterns."""
        self.stats.records_scanned += 1
        self.stats.bytes_scanned += size
        if self.miner is None:
            return
        for row in self._streamed(record):
            text = self._text(row)
            if text is not None:
                self.miner.add_previous(text)

    def _take(self, row: Record) -> None:
        if self.miner is not None:
            text = self._text(row)
            if text is not None:
                stamp = row.get("@timestamp")
                self.miner.add(text, stamp if isinstance(stamp, int) else 0)
            return
        if self.aggregator is not None:
            self.aggregator.add(row)
            return
        self.rows_held.append(row)
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
        if self.miner is not None:
            rows = self.miner.rows(diff=self.diff is not None, anomaly=self.anomaly)
        else:
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
            names += [n for n in row if n not in names and not n.startswith(("@", "\x00"))]
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
            return _flowed(command, rows)
