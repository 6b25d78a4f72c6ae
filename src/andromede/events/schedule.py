"""Schedule expressions of rules (decision 0192): ``rate(value unit)`` and the six-field
``cron(minutes hours day-of-month month day-of-week year)``, as EventBridge writes them,
parsed once and asked for the period ("slot") a moment falls in.

A rate fires once a period counted from the rule's creation (the first a period after it);
its slot is the number of whole periods since. A cron fires in the minutes it matches, in
UTC; its slot is the minute's number since the epoch. One of day-of-month and day-of-week
must be ``?``. Beside ``*``, lists, ranges and ``/`` steps, day-of-month takes ``L`` (the
month's last day), ``nW`` (the weekday nearest the n-th) and ``LW``, day-of-week ``nL``
(the month's last such day) and ``n#k`` (its k-th); months and week days take their
three-letter names, the week running from 1 (SUN) to 7 (SAT).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from andromede.events.errors import ValidationError

__all__ = ["Cron", "Rate", "Schedule", "parse_schedule"]

_RATE: Final = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNITS: Final = {"minute": 60, "hour": 3600, "day": 86_400}
_MONTHS: Final = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS: Final = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _invalid() -> ValidationError:
    return ValidationError("Parameter ScheduleExpression is not valid.")


@dataclass(frozen=True, slots=True)
class Rate:
    seconds: int

    def slot(self, created: datetime, now: datetime) -> int | None:
        """The period ``now`` is in, counted from ``created``; None before the first one."""
        elapsed = int((now - created).total_seconds())
        number = elapsed // self.seconds
        return number if number >= 1 else None


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    days: str  # day-of-month, as written ("?" when day-of-week rules)
    weekdays: str  # day-of-week, as written ("?" when day-of-month rules)

    def matches(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        if (
            moment.minute not in self.minutes
            or moment.hour not in self.hours
            or moment.month not in self.months
            or moment.year not in self.years
        ):
            return False
        if self.days != "?":
            return _day_of_month_matches(self.days, moment)
        return _day_of_week_matches(self.weekdays, moment)

    def slot(self, created: datetime, now: datetime) -> int | None:
        return int(now.timestamp()) // 60 if self.matches(now) else None


Schedule = Rate | Cron


def parse_schedule(text: str) -> Schedule:
    """The schedule ``text`` says, or ValidationError as EventBridge words it."""
    found = _RATE.fullmatch(text)
    if found is not None:
        value, unit = int(found[1]), found[2]
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise _invalid()  # rate(1 minute), rate(5 minutes): AWS refuses the others
        return Rate(value * _UNITS[unit.rstrip("s")])
    if not (text.startswith("cron(") and text.endswith(")")):
        raise _invalid()
    fields = text[5:-1].split()
    if len(fields) != 6:
        raise _invalid()
    minutes, hours, days, months, weekdays, years = fields
    if (days == "?") == (weekdays == "?"):
        raise _invalid()  # one of the two, and only one, is "?"
    cron = Cron(
        _values(minutes, 0, 59),
        _values(hours, 0, 23),
        _values(months, 1, 12, _MONTHS),
        _values(years, 1970, 2199),
        days.upper(),
        weekdays.upper(),
    )
    if days != "?":
        _check_days(cron.days)
    else:
        _check_weekdays(cron.weekdays)
    return cron


def _number(text: str, low: int, high: int, names: dict[str, int] | None = None) -> int:
    if names is not None and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise _invalid()
    value = int(text)
    if not low <= value <= high:
        raise _invalid()
    return value


def _values(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    found: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, 1, high - low + 1) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, low, high, names), _number(last, low, high, names)
            if start > end:
                raise _invalid()
        else:
            start = _number(base, low, high, names)
            end = high if step_text else start
        found.update(range(start, end + 1, step))
    if not found:
        raise _invalid()
    return frozenset(found)


def _check_days(text: str) -> None:
    for item in text.split(","):
        if item in ("L", "LW"):
            continue
        if item.endswith("W"):
            _number(item[:-1], 1, 31)
            continue
        _values(item, 1, 31)


def _check_weekdays(text: str) -> None:
    for item in text.split(","):
        if item.endswith("L") and len(item) > 1:
            _number(item[:-1], 1, 7, _DAYS)
        elif "#" in item:
            day, _, nth = item.partition("#")
            _number(day, 1, 7, _DAYS)
            _number(nth, 1, 5)
        else:
            _values(item, 1, 7, _DAYS)


def _weekday(moment: datetime) -> int:
    """1 (Sunday) to 7 (Saturday), cron's numbering."""
    return (moment.weekday() + 1) % 7 + 1


def _day_of_month_matches(text: str, moment: datetime) -> bool:
    last = calendar.monthrange(moment.year, moment.month)[1]
    for item in text.split(","):
        if item == "L":
            if moment.day == last:
                return True
        elif item.endswith("W"):
            target = last if item == "LW" else min(int(item[:-1]), last)
            if moment.day == _nearest_weekday(moment.year, moment.month, target, last):
                return True
        elif moment.day in _values(item, 1, 31):
            return True
    return False


def _nearest_weekday(year: int, month: int, day: int, last: int) -> int:
    """The weekday (Monday-Friday) nearest ``day`` within its month, as cron's ``W``."""
    weekday = calendar.weekday(year, month, day)  # 0 Monday … 6 Sunday
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before on the last day
        return day + 1 if day < last else day - 2
    return day


def _day_of_week_matches(text: str, moment: datetime) -> bool:
    weekday = _weekday(moment)
    last = calendar.monthrange(moment.year, moment.month)[1]
    for item in text.split(","):
        if item.endswith("L") and len(item) > 1:
            if weekday == _number(item[:-1], 1, 7, _DAYS) and moment.day + 7 > last:
                return True
        elif "#" in item:
            day, _, nth = item.partition("#")
            if weekday == _number(day, 1, 7, _DAYS) and (moment.day - 1) // 7 + 1 == int(nth):
                return True
        elif weekday in _values(item, 1, 7, _DAYS):
            return True
    return False
