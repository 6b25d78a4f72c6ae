"""The 5-field cron expressions of scheduled actions' ``Recurrence`` (minute, hour, day of
month, month, day of week), as AWS reads them: numbers, ``*``, ranges ``a-b``, steps ``*/n``
and ``a-b/n``, lists, month and day names (``jan``, ``mon``), day of week 0-7 (0 and 7 are
Sunday); when both day fields are restricted a day matching either fires (Vixie cron). The
next firing is computed in the action's time zone and given in UTC.

Written here rather than taken from a library: none is installed, and the grammar is small."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronError", "Schedule", "parse", "zone"]

_MONTHS: Final = tuple("jan feb mar apr may jun jul aug sep oct nov dec".split())
_DAYS: Final = tuple("sun mon tue wed thu fri sat".split())
# How far ahead the next firing is looked for: a 29 February on a Monday can be 28 years off.
_HORIZON_DAYS: Final = 366 * 29


class CronError(ValueError):
    """An expression or a time zone that cannot be read."""


@dataclass(frozen=True, slots=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 is Sunday
    any_day: bool  # day of month was "*"
    any_weekday: bool  # day of week was "*"

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        by_month = day.day in self.days
        by_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day and self.any_weekday:
            return True
        if self.any_day:
            return by_week
        if self.any_weekday:
            return by_month
        return by_month or by_week

    def next_after(self, moment: datetime, tz: ZoneInfo | None = None) -> datetime | None:
        """The first firing strictly after ``moment``, in UTC; None if none comes within
        the horizon (a 30 February)."""
        where = tz or ZoneInfo("UTC")
        local = moment.astimezone(where)
        start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for offset in range(_HORIZON_DAYS):
            current = day + timedelta(days=offset)
            if not self._day_matches(current):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = datetime.combine(current, time(hour, minute), tzinfo=where)
                    if candidate >= start:
                        return candidate.astimezone(UTC)
        return None


def _value(text: str, low: int, high: int, names: tuple[str, ...] | None) -> int:
    lowered = text.lower()
    if names is not None and lowered in names:
        return names.index(lowered) + (1 if names == _MONTHS else 0)
    if not text.isdigit():
        raise CronError(f"{text[:16]!r} is not a number")
    number = int(text)
    if not low <= number <= high:
        raise CronError(f"{number} is outside {low}-{high}")
    return number


def _field(text: str, low: int, high: int, names: tuple[str, ...] | None = None) -> set[int]:
    found: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"step {step_text[:16]!r} is not a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, low, high, names), _value(b, low, high, names)
            if first > last:
                raise CronError(f"range {base[:16]!r} runs backwards")
        else:
            first = _value(base, low, high, names)
            last = high if step_text else first
        found.update(range(first, last + 1, step))
    return found


def parse(expression: str) -> Schedule:
    fields = expression.split()
    if len(fields) != 5:
        raise CronError("a recurrence has five fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    weekdays = {d % 7 for d in _field(weekday, 0, 7, _DAYS)}
    return Schedule(
        minutes=frozenset(_field(minute, 0, 59)),
        hours=frozenset(_field(hour, 0, 23)),
        days=frozenset(_field(day, 1, 31)),
        months=frozenset(_field(month, 1, 12, _MONTHS)),
        weekdays=frozenset(weekdays),
        any_day=day == "*",
        any_weekday=weekday == "*",
    )


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA zone named (None for UTC); CronError for a name not known."""
    if name is None or name in ("UTC", "Etc/UTC"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CronError(f"time zone {name[:64]!r} is not known") from exc
