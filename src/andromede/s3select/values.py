"""S3 Select's values: ``MISSING`` beside ``None`` (NULL), the rows a query reads (a CSV
record, a JSON value), path look-ups into them, and the conversions the operators and CAST
make (a CSV field is text: compared with a number, it is read as one, as AWS does).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Final

from andromede.s3select.errors import SelectError
from andromede.s3select.syntax import Field, Index, Step, Wildcard

__all__ = [
    "MISSING",
    "CsvRow",
    "Missing",
    "as_number",
    "cast",
    "checked_int",
    "follow",
    "parse_timestamp",
    "positional",
    "show_timestamp",
]


class Missing:
    """A path that leads nowhere: ``IS MISSING``; left out of JSON output."""

    _instance: Missing | None = None

    def __new__(cls) -> Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = Missing()


class CsvRow:
    """One CSV record: its fields, and the header's names when ``FileHeaderInfo`` is USE."""

    __slots__ = ("header", "values")

    def __init__(self, values: list[str], header: Header | None) -> None:
        self.values = values
        self.header = header

    def get(self, step: Field) -> object:
        position = positional(step)
        if position is not None:
            return self.values[position - 1] if position <= len(self.values) else MISSING
        name = step.name
        if self.header is None:
            return MISSING
        index = self.header.find(name, exact=step.exact)
        if index is None or index >= len(self.values):
            return MISSING
        return self.values[index]

    def as_mapping(self) -> dict[str, object]:
        names = (
            self.header.names
            if self.header is not None
            else [f"_{n + 1}" for n in range(len(self.values))]
        )
        made: dict[str, object] = {}
        for position, value in enumerate(self.values):
            made[names[position] if position < len(names) else f"_{position + 1}"] = value
        return made


def positional(step: Field) -> int | None:
    """The column a ``_N`` reference names (from 1); None for a name."""
    name = step.name
    if step.exact or name[:1] != "_" or not name[1:].isdigit():
        return None
    position = int(name[1:])
    if position < 1:
        raise SelectError("InvalidColumnIndex", f"Column {name}.")
    return position


class Header:
    """A CSV file's first line, its names found exactly or case-insensitively."""

    __slots__ = ("exact", "folded", "names")

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.exact: dict[str, int] = {}
        self.folded: dict[str, int | None] = {}
        for position, name in enumerate(names):
            self.exact.setdefault(name, position)
            folded = name.lower()
            # A name that two columns share whatever the case is ambiguous unless quoted.
            self.folded[folded] = None if folded in self.folded else position

    def find(self, name: str, *, exact: bool) -> int | None:
        if exact:
            return self.exact.get(name)
        folded = name.lower()
        if folded in self.folded and self.folded[folded] is None:
            raise SelectError("AmbiguousFieldName", f"Field {name[:64]}.")
        return self.folded.get(folded)


def follow(value: object, steps: tuple[Step, ...]) -> object:
    """Where ``steps`` lead from ``value`` (a row, or a JSON value): MISSING off the path."""
    for at, step in enumerate(steps):
        if value is MISSING:
            return MISSING
        if isinstance(step, Field):
            if isinstance(value, CsvRow):
                value = value.get(step)
            elif isinstance(value, dict):
                value = _key(value, step)
            else:
                return MISSING
        elif isinstance(step, Index):
            if isinstance(value, list) and step.position < len(value):
                value = value[step.position]
            else:
                return MISSING
        else:
            return _spread(value, step, steps[at + 1 :])
    return value


def _spread(value: object, step: Wildcard, rest: tuple[Step, ...]) -> object:
    """A wildcard in a SELECT or WHERE path: the list of what ``rest`` leads to from each
    element (each member's value for ``.*``), the elements it leads nowhere from left out;
    MISSING when ``value`` is no array (no object for ``.*``)."""
    if step.members:
        if not isinstance(value, dict):
            return MISSING
        items: list[object] = list(value.values())
    elif isinstance(value, list):
        items = value
    else:
        return MISSING
    found = [follow(item, rest) for item in items]
    return [item for item in found if item is not MISSING]


def _key(mapping: dict[str, object], step: Field) -> object:
    if step.name in mapping:
        return mapping[step.name]
    if step.exact:
        return MISSING
    folded = step.name.lower()
    found = [key for key in mapping if key.lower() == folded]
    if len(found) > 1:
        raise SelectError("AmbiguousFieldName", f"Field {step.name[:64]}.")
    return mapping[found[0]] if found else MISSING


def as_number(value: object) -> int | float | Decimal | None:
    """A number for arithmetic and comparison: numbers as they are, text read as a number;
    None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


INT_MIN: Final = -(2**63)
INT_MAX: Final = 2**63 - 1  # AWS's INT: an 8-byte signed integer


def checked_int(value: int) -> int:
    """``value`` as S3 Select's INT holds it, else IntegerOverflow (Python's are unbounded)."""
    if not INT_MIN <= value <= INT_MAX:
        raise SelectError("IntegerOverflow")
    return value


def cast(value: object, target: str) -> object:
    """``CAST(value AS target)``: CastFailed when it cannot be, as on AWS."""
    if value is None or value is MISSING:
        return value
    try:
        if target == "STRING":
            return show(value)
        if target == "BOOL":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            if isinstance(value, int | float | Decimal):
                return value != 0
        elif target == "INT":
            if isinstance(value, bool):
                return int(value)
            made: int | None = None
            if isinstance(value, int):
                made = value
            elif isinstance(value, float | Decimal):
                made = int(value)
            elif isinstance(value, str):
                text = value.strip()
                made = int(text) if text.lstrip("+-").isdigit() else int(Decimal(text))
            if made is not None:
                return checked_int(made)
        elif target == "FLOAT":
            if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                return float(value.strip())
        elif target == "DECIMAL":
            if isinstance(value, int | Decimal) and not isinstance(value, bool):
                return Decimal(value)
            if isinstance(value, float):
                return Decimal(repr(value))
            if isinstance(value, str):
                return Decimal(value.strip())
        elif target == "TIMESTAMP":
            if isinstance(value, datetime):
                return value
            if isinstance(value, str):
                return parse_timestamp(value)
    except (ValueError, InvalidOperation, OverflowError):
        pass
    raise SelectError("CastFailed", f"Cannot cast to {target}.")


def show(value: object) -> str:
    """The text of a value, as CSV output and ``CAST(… AS STRING)`` write it."""
    if isinstance(value, str):
        return value
    if value is None or value is MISSING:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return show_timestamp(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return str(value)


def parse_timestamp(text: str) -> datetime:
    """AWS's timestamp literals (ISO 8601 at year, month, day, minute, second or fraction
    precision: ``2007T``, ``2007-02T``, ``2007-02-23T12:14Z``, ``…:33.079-08:00``)."""
    text = text.strip()
    try:
        if text.endswith("T") and len(text) in (5, 8):
            parts = [int(p) for p in text[:-1].split("-")]
            return datetime(parts[0], parts[1] if len(parts) > 1 else 1, 1, tzinfo=UTC)
        if len(text) == 10 or (len(text) == 11 and text.endswith("T")):
            return datetime.fromisoformat(text[:10]).replace(tzinfo=UTC)
        made = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise SelectError("ValueParseFailure", "Timestamp not in ISO 8601 form.") from exc
    return made if made.tzinfo is not None else made.replace(tzinfo=UTC)


def show_timestamp(value: datetime) -> str:
    """ISO 8601, ``Z`` for UTC, the fraction only when there is one."""
    offset = value.utcoffset() or timedelta(0)
    text = value.replace(tzinfo=None).isoformat(
        timespec="milliseconds" if value.microsecond else "seconds"
    )
    if offset == timedelta(0):
        return f"{text}Z"
    return f"{text}{value.strftime('%z')[:3]}:{value.strftime('%z')[3:]}"


def fixed_offset(minutes: int) -> timezone:
    return timezone(timedelta(minutes=minutes))
