"""S3 Select's scalar functions: the string ones (``LOWER``, ``UPPER``, ``TRIM``,
``CHAR_LENGTH``/``CHARACTER_LENGTH``, ``SUBSTRING``), the conditional ones (``COALESCE``,
``NULLIF``) and the date ones (``UTCNOW``, ``EXTRACT``, ``DATE_ADD``, ``DATE_DIFF``,
``TO_STRING``, ``TO_TIMESTAMP``), with AWS's semantics: NULL in, NULL out.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from andromede.s3select.errors import SelectError
from andromede.s3select.values import MISSING, as_number, cast, parse_timestamp, show

__all__ = ["call"]

_DATE_PARTS: Final = ("YEAR", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND")
_PATTERN_TOKEN: Final = re.compile(r"'[^']*'|([A-Za-z])\1*|.", re.DOTALL)


def call(name: str, args: list[object]) -> object:
    """``name(args)``: UnsupportedFunction for a name AWS does not have."""
    function = _FUNCTIONS.get(name)
    if function is None:
        raise SelectError("UnsupportedFunction", f"Function {name[:64]}.")
    arity, run, null_in_null_out = function
    if len(args) not in arity:
        raise SelectError("EvaluatorInvalidArguments", f"Function {name}.")
    if null_in_null_out and any(arg is None or arg is MISSING for arg in args):
        return None
    try:
        return run(args)
    except (ArithmeticError, ValueError) as exc:  # a date out of range, an overflow
        raise SelectError("IllegalSqlFunctionArgument", f"Function {name}.") from exc


def _text(value: object, name: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return show(value)
    raise SelectError("IncorrectSqlFunctionArgumentType", f"{name} takes text.")


def _whole(value: object, name: str) -> int:
    number = as_number(value)
    if number is None:
        raise SelectError("IncorrectSqlFunctionArgumentType", f"{name} takes a number.")
    return int(number)


def _timestamp(value: object) -> datetime:
    made = cast(value, "TIMESTAMP")
    if not isinstance(made, datetime):
        raise SelectError("IncorrectSqlFunctionArgumentType", "A timestamp is expected.")
    return made


def _trim(args: list[object]) -> object:
    side, chars, value = args
    text, strip = _text(value, "TRIM"), _text(chars, "TRIM")
    if side == "LEADING":
        return text.lstrip(strip)
    if side == "TRAILING":
        return text.rstrip(strip)
    return text.strip(strip)


def _substring(args: list[object]) -> object:
    text = _text(args[0], "SUBSTRING")
    start = _whole(args[1], "SUBSTRING")
    if len(args) == 2:
        return text[max(start, 1) - 1 :]
    length = _whole(args[2], "SUBSTRING")
    if length < 0:
        raise SelectError("IllegalSqlFunctionArgument", "SUBSTRING's length is negative.")
    end = start + length - 1  # the last position taken, 1-based
    first = max(start, 1)
    return text[first - 1 : end] if end >= first else ""


def _coalesce(args: list[object]) -> object:
    for value in args:
        if value is not None and value is not MISSING:
            return value
    return None


def _nullif(args: list[object]) -> object:
    first, second = args
    if first is MISSING or first is None:
        return None
    return None if second is not MISSING and first == second else first


def _extract(args: list[object]) -> object:
    part, value = args
    moment = _timestamp(value)
    if part == "TIMEZONE_HOUR" or part == "TIMEZONE_MINUTE":
        offset = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
        hours, minutes = divmod(abs(offset), 60)
        sign = -1 if offset < 0 else 1
        return sign * (hours if part == "TIMEZONE_HOUR" else minutes)
    if part not in _DATE_PARTS:
        raise SelectError("IllegalSqlFunctionArgument", f"EXTRACT of {str(part)[:16]}.")
    return getattr(moment, str(part).lower())


def _date_add(args: list[object]) -> object:
    part, quantity, value = args
    moment, amount = _timestamp(value), _whole(quantity, "DATE_ADD")
    if part in ("YEAR", "MONTH"):
        months = moment.month - 1 + amount * (12 if part == "YEAR" else 1)
        year, month = moment.year + months // 12, months % 12 + 1
        day = min(moment.day, calendar.monthrange(year, month)[1])
        return moment.replace(year=year, month=month, day=day)
    if part not in _DATE_PARTS:
        raise SelectError("IllegalSqlFunctionArgument", f"DATE_ADD of {str(part)[:16]}.")
    return moment + timedelta(**{f"{str(part).lower()}s": amount})


def _date_diff(args: list[object]) -> object:
    part, first, second = args
    start, end = _timestamp(first), _timestamp(second)
    if part in ("YEAR", "MONTH"):
        months = (end.year - start.year) * 12 + end.month - start.month
        if (end.day, end.time()) < (start.day, start.time()) and months > 0:
            months -= 1
        return months // 12 if part == "YEAR" else months
    seconds = {"DAY": 86400, "HOUR": 3600, "MINUTE": 60, "SECOND": 1}.get(str(part))
    if seconds is None:
        raise SelectError("IllegalSqlFunctionArgument", f"DATE_DIFF of {str(part)[:16]}.")
    return int((end - start).total_seconds() // seconds)


def _to_string(args: list[object]) -> object:
    moment, pattern = _timestamp(args[0]), _text(args[1], "TO_STRING")
    made: list[str] = []
    for match in _PATTERN_TOKEN.finditer(pattern):
        token = match.group()
        if token.startswith("'"):
            made.append(token[1:-1] or "'")
            continue
        made.append(_pattern_field(moment, token))
    return "".join(made)


def _pattern_field(moment: datetime, token: str) -> str:
    letter, width = token[0], len(token)
    offset = int((moment.utcoffset() or timedelta(0)).total_seconds() // 60)
    if letter == "y":
        return f"{moment.year % 100:02d}" if width == 2 else f"{moment.year:0{width}d}"
    if letter == "M":
        if width >= 3:
            name = calendar.month_name[moment.month]
            return name if width == 4 else name[:3] if width == 3 else name[0]
        return f"{moment.month:0{width}d}"
    numbers = {
        "d": moment.day,
        "H": moment.hour,
        "h": (moment.hour % 12) or 12,
        "m": moment.minute,
        "s": moment.second,
    }
    if letter in numbers:
        return f"{numbers[letter]:0{width}d}"
    if letter == "S":
        return f"{moment.microsecond:06d}{'0' * 3}"[:width]
    if letter == "n":
        return str(moment.microsecond * 1000)
    if letter == "a":
        return "AM" if moment.hour < 12 else "PM"
    if letter in "Xx":
        if letter == "X" and offset == 0:
            return "Z"
        hours, minutes = divmod(abs(offset), 60)
        sign = "-" if offset < 0 else "+"
        if width == 1:
            return f"{sign}{hours:02d}" + (f"{minutes:02d}" if minutes else "")
        # AWS: XX and XXXX +0700, XXX and XXXXX +07:00 (x the same without Z).
        return f"{sign}{hours:02d}{':' if width in (3, 5) else ''}{minutes:02d}"
    if letter.isalpha():
        raise SelectError("EvaluatorInvalidTimestampFormatPatternSymbol", f"Symbol {letter}.")
    return token


def _to_timestamp(args: list[object]) -> object:
    return parse_timestamp(_text(args[0], "TO_TIMESTAMP"))


def _utcnow(args: list[object]) -> object:
    return datetime.now(UTC)


def _char_length(args: list[object]) -> object:
    return len(_text(args[0], "CHAR_LENGTH"))


_Function = tuple[range, Callable[[list[object]], object], bool]
_FUNCTIONS: Final[dict[str, _Function]] = {
    "LOWER": (range(1, 2), lambda args: _text(args[0], "LOWER").lower(), True),
    "UPPER": (range(1, 2), lambda args: _text(args[0], "UPPER").upper(), True),
    "TRIM": (range(3, 4), _trim, True),
    "CHAR_LENGTH": (range(1, 2), _char_length, True),
    "CHARACTER_LENGTH": (range(1, 2), _char_length, True),
    "SUBSTRING": (range(2, 4), _substring, True),
    "COALESCE": (range(1, 64), _coalesce, False),
    "NULLIF": (range(2, 3), _nullif, False),
    "UTCNOW": (range(0, 1), _utcnow, False),
    "EXTRACT": (range(2, 3), _extract, True),
    "DATE_ADD": (range(3, 4), _date_add, True),
    "DATE_DIFF": (range(3, 4), _date_diff, True),
    "TO_STRING": (range(2, 3), _to_string, True),
    "TO_TIMESTAMP": (range(1, 2), _to_timestamp, True),
}
