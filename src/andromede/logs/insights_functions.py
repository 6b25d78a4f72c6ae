"""The Logs Insights query language's values and scalar functions (decision 0186, session-49
addendum): a record's values (text, numbers, :class:`Stamp` times), how they are written in
results and ordered, and each function AWS's "Boolean, comparison, numeric, datetime, and
other functions" page lists that the platform serves — general (``ispresent``, ``isempty``,
``isblank``, ``coalesce``), string, numeric, datetime, IP and JSON (``jsonParse``,
``jsonStringify``: a parsed map or list is a :class:`Json`) — with its arity, pure.

A function of a missing value answers nothing (the field stays absent), as AWS's do, except
the general ones, which exist to look at missing values; predicates answer 1 or 0."""

from __future__ import annotations

import calendar
import ipaddress
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.logs.insights_syntax import CALENDAR_MONTHS, FIXED_UNITS_MS, Period

__all__ = [
    "FUNCTIONS",
    "Function",
    "Json",
    "Record",
    "Stamp",
    "Value",
    "format_value",
    "json_path",
    "json_value",
    "number",
    "order_key",
    "time_ceil",
    "time_floor",
]

Value = str | int | float
Record = dict[str, Value]
Argument = Value | Period | None


class Stamp(int):
    """Milliseconds since the epoch, answered as AWS writes a time."""


class Json(str):
    """A map or list ``jsonParse`` made: its text is its compact JSON (how it is written in
    results and compared), ``data`` the structure a dotted field or ``[n]`` reads into."""

    data: dict[str, object] | list[object]

    def __new__(cls, data: dict[str, object] | list[object]) -> Json:
        made = super().__new__(cls, json.dumps(data, separators=(",", ":"), ensure_ascii=False))
        made.data = data
        return made


def json_value(value: object) -> Value | None:
    """A JSON value as a query's value: maps and lists stay :class:`Json`, booleans are
    written ``true``/``false`` as discovered fields are, ``null`` is absent."""
    if isinstance(value, dict | list):
        return Json(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return value
    return None


def json_path(value: Json, path: Sequence[str]) -> Value | None:
    """What ``path`` (map keys, list indexes as digits) reads in a parsed value."""
    found: object = value.data
    for step in path:
        if isinstance(found, dict):
            found = found.get(step)
        elif isinstance(found, list) and step.isdigit() and int(step) < len(found):
            found = found[int(step)]
        else:
            return None
    return json_value(found)


def format_value(value: Value) -> str:
    if isinstance(value, Stamp):
        try:
            moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            return str(int(value))  # a time past year 9999 (fromMillis of any number)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(value) % 1000:03d}"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    return str(value)


def number(value: Value | Period | None) -> float | None:
    if value is None or isinstance(value, Period):
        return None
    if isinstance(value, int | float):
        result = float(value)
    else:
        try:
            result = float(value)
        except ValueError:
            return None
    return result if math.isfinite(result) else None


def order_key(value: Value | None) -> tuple[int, float, str]:
    """Absent first, then numbers by value, then text."""
    if value is None:
        return (0, 0.0, "")
    found = number(value)
    return (1, found, "") if found is not None else (2, 0.0, str(value))


# Times.

_WEEK_ORIGIN: Final = 4 * 86_400_000  # 1970-01-05, a Monday: weeks start on Mondays


def time_floor(at: int, period: Period) -> int:
    if period.unit in CALENDAR_MONTHS:
        moment = datetime.fromtimestamp(at / 1000, UTC)
        months = moment.year * 12 + moment.month - 1
        step = period.amount * CALENDAR_MONTHS[period.unit]
        months -= months % step
        return calendar.timegm((months // 12, months % 12 + 1, 1, 0, 0, 0)) * 1000
    step = period.amount * FIXED_UNITS_MS[period.unit]
    origin = _WEEK_ORIGIN if period.unit == "w" else 0
    return (at - origin) // step * step + origin


def time_ceil(at: int, period: Period) -> int:
    floor = time_floor(at, period)
    if floor == at:
        return at
    if period.unit in CALENDAR_MONTHS:
        moment = datetime.fromtimestamp(floor / 1000, UTC)
        months = moment.year * 12 + moment.month - 1 + period.amount * CALENDAR_MONTHS[period.unit]
        return calendar.timegm((months // 12, months % 12 + 1, 1, 0, 0, 0)) * 1000
    return floor + period.amount * FIXED_UNITS_MS[period.unit]


def _millis(value: Argument) -> int | None:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace(" ", "T"))
        except ValueError:
            moment = None
        if moment is not None:  # a time as text, as AWS writes one
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return int(moment.timestamp() * 1000)
    found = number(value)
    return None if found is None else int(found)


# Functions.

Implementation = Callable[[Sequence[Argument]], Value | None]


@dataclass(frozen=True, slots=True)
class Function:
    least: int
    most: int | None  # None: any number
    run: Implementation
    periods: frozenset[int] = frozenset()  # the argument positions that must be periods
    general: bool = False  # called with missing values too


def _flag(found: bool) -> int:
    return 1 if found else 0


def _text(run: Callable[..., Value | None]) -> Implementation:
    """A function of text: each argument written as text; any missing, nothing."""

    def call(args: Sequence[Argument]) -> Value | None:
        texts = [format_value(a) for a in args if a is not None and not isinstance(a, Period)]
        return None if len(texts) != len(args) else run(*texts)

    return call


def _numeric(run: Callable[..., float | None]) -> Implementation:
    def call(args: Sequence[Argument]) -> Value | None:
        numbers = [number(a) for a in args]
        if any(n is None for n in numbers):
            return None
        try:
            return run(*numbers)
        except (ValueError, OverflowError):
            return None

    return call


def _substr(text: str, start: str, length: str | None = None) -> str | None:
    first = number(start)
    size = number(length) if length is not None else None
    if first is None or (length is not None and size is None):
        return None
    begin = max(0, int(first))
    return text[begin:] if size is None else text[begin : begin + max(0, int(size))]


def _log(a: float) -> float | None:
    return math.log(a) if a > 0 else None


def _sqrt(a: float) -> float | None:
    return math.sqrt(a) if a >= 0 else None


def _address(
    text: str, version: int | None
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address if version is None or address.version == version else None


def _in_subnet(version: int | None) -> Implementation:
    def run(text: str, subnet: str) -> int:
        address = _address(text, version)
        try:
            network = ipaddress.ip_network(subnet, strict=False)
        except ValueError:
            return 0
        return _flag(
            address is not None and address.version == network.version and address in network
        )

    return _text(run)


def _valid(version: int | None) -> Implementation:
    return _text(lambda text: _flag(_address(text, version) is not None))


def _time(run: Callable[[int, Period], int]) -> Implementation:
    def call(args: Sequence[Argument]) -> Value | None:
        at, period = _millis(args[0]), args[1]
        if at is None or not isinstance(period, Period):
            return None
        try:
            return Stamp(run(at, period))
        except (ValueError, OverflowError, OSError):
            return None  # beyond the calendar's years

    return call


def _bin(args: Sequence[Argument]) -> Value | None:
    # bin(period) bins the event's time: the evaluator passes @timestamp first.
    return _time(time_floor)(args)


def _coalesce(args: Sequence[Argument]) -> Value | None:
    return next((a for a in args if a is not None and not isinstance(a, Period)), None)


def _concat(args: Sequence[Argument]) -> Value | None:
    # A missing argument adds nothing, as an empty text would.
    return "".join(format_value(a) for a in args if a is not None and not isinstance(a, Period))


def _isblank(args: Sequence[Argument]) -> Value | None:
    value = args[0]
    return _flag(value is None or (isinstance(value, str) and not value.strip()))


def _extreme(pick: Callable[[list[float]], float]) -> Implementation:
    def call(args: Sequence[Argument]) -> Value | None:
        numbers = [n for n in (number(a) for a in args) if n is not None]
        return pick(numbers) if numbers else None

    return call


def _json_parse(text: str) -> Value | None:
    """A map or list from its text; anything else (a scalar, invalid JSON) answers nothing."""
    if isinstance(text, Json):
        return text
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return None
    return Json(parsed) if isinstance(parsed, dict | list) else None


def _json_stringify(args: Sequence[Argument]) -> Value | None:
    # AWS's takes a parsed map or list: other values answer nothing.
    value = args[0]
    return str(value) if isinstance(value, Json) else None


FUNCTIONS: Final[dict[str, Function]] = {
    # General.
    "ispresent": Function(1, 1, lambda a: _flag(a[0] is not None), general=True),
    "isempty": Function(1, 1, lambda a: _flag(a[0] is None or a[0] == ""), general=True),
    "isblank": Function(1, 1, _isblank, general=True),
    "coalesce": Function(1, None, _coalesce, general=True),
    # Strings.
    "concat": Function(1, None, _concat, general=True),
    "ltrim": Function(1, 2, _text(lambda s, chars=None: s.lstrip(chars))),
    "rtrim": Function(1, 2, _text(lambda s, chars=None: s.rstrip(chars))),
    "trim": Function(1, 2, _text(lambda s, chars=None: s.strip(chars))),
    "strlen": Function(1, 1, _text(len)),
    "toupper": Function(1, 1, _text(str.upper)),
    "tolower": Function(1, 1, _text(str.lower)),
    "substr": Function(2, 3, _text(_substr)),
    "replace": Function(3, 3, _text(lambda s, old, new: s.replace(old, new) if old else s)),
    "strcontains": Function(2, 2, _text(lambda s, part: _flag(part in s))),
    # Numbers.
    "abs": Function(1, 1, _numeric(abs)),
    "ceil": Function(1, 1, _numeric(lambda a: float(math.ceil(a)))),
    "floor": Function(1, 1, _numeric(lambda a: float(math.floor(a)))),
    "greatest": Function(1, None, _extreme(max), general=True),  # missing ones skipped
    "least": Function(1, None, _extreme(min), general=True),
    "log": Function(1, 1, _numeric(_log)),
    "sqrt": Function(1, 1, _numeric(_sqrt)),
    # Times.
    "bin": Function(1, 1, _bin, periods=frozenset({0})),
    "datefloor": Function(2, 2, _time(time_floor), periods=frozenset({1})),
    "dateceil": Function(2, 2, _time(time_ceil), periods=frozenset({1})),
    "frommillis": Function(1, 1, _numeric(lambda a: Stamp(int(a)))),
    "tomillis": Function(1, 1, lambda a: _millis(a[0])),
    # IP addresses.
    "isvalidip": Function(1, 1, _valid(None)),
    "isvalidipv4": Function(1, 1, _valid(4)),
    "isvalidipv6": Function(1, 1, _valid(6)),
    "isipinsubnet": Function(2, 2, _in_subnet(None)),
    "isipv4insubnet": Function(2, 2, _in_subnet(4)),
    "isipv6insubnet": Function(2, 2, _in_subnet(6)),
    # JSON.
    "jsonparse": Function(1, 1, lambda a: _json_parse(a[0]) if isinstance(a[0], str) else None),
    "jsonstringify": Function(1, 1, _json_stringify),
}
