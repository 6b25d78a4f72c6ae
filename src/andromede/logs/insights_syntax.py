"""The Logs Insights query language's syntax tree and tokens (decision 0186): the typed
expressions and commands :mod:`andromede.logs.insights_query` parses a query into, the
tokenizer, and :class:`MalformedQuery`, worded as AWS's (``unexpected symbol found … at
line L and position P``) with its character offsets. No evaluation here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from andromede.logs.errors import LogsError

__all__ = [
    "DIFF_SHIFTS",
    "REFUSED_COMMANDS",
    "Aggregate",
    "Anomaly",
    "Arith",
    "Call",
    "Command",
    "Compare",
    "Dedup",
    "Diff",
    "Display",
    "Expr",
    "Field",
    "Fields",
    "Filter",
    "InList",
    "Like",
    "Limit",
    "Literal",
    "Logical",
    "MalformedQuery",
    "Not",
    "Parse",
    "Pattern",
    "Period",
    "Query",
    "Sort",
    "Stats",
    "Token",
    "Unnest",
    "field_path",
    "period",
    "refused",
    "tokens",
    "unexpected",
    "unquote",
]


class MalformedQuery(LogsError):
    """A query outside the subset; ``start``/``end`` the offending characters."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.start = start
        self.end = end


# Expressions.


@dataclass(frozen=True, slots=True)
class Field:
    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | float | int


# A period's units, as ``bin`` takes them; each longer name may take an ``s`` (AWS's list).
PERIOD_UNITS: Final = {
    "ms": "ms",
    "msec": "ms",
    "s": "s",
    "sec": "s",
    "m": "m",
    "min": "m",
    "h": "h",
    "hr": "h",
    "d": "d",
    "w": "w",
    "mo": "mo",
    "mon": "mo",
    "q": "q",
    "qtr": "q",
    "y": "y",
    "yr": "y",
}
FIXED_UNITS_MS: Final = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
CALENDAR_MONTHS: Final = {"mo": 1, "q": 3, "y": 12}


@dataclass(frozen=True, slots=True)
class Period:
    """``5m``, ``1mo``: an amount of a unit (months, quarters and years by the calendar)."""

    amount: int
    unit: str  # a value of PERIOD_UNITS

    @property
    def approximate_ms(self) -> int:
        """Its length, a month counted 30 days (for an answer as a number only)."""
        if self.unit in CALENDAR_MONTHS:
            return self.amount * CALENDAR_MONTHS[self.unit] * 30 * 86_400_000
        return self.amount * FIXED_UNITS_MS[self.unit]


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """An aggregation inside a ``stats`` item; ``slot`` its place among the command's."""

    function: str
    argument: Expr | None  # None: count(*)
    percentile: float = 0.0
    slot: int = 0


@dataclass(frozen=True, slots=True)
class Arith:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Like:
    subject: Expr
    pattern: re.Pattern[str] | str  # a regex, or a substring
    negated: bool = False


@dataclass(frozen=True, slots=True)
class InList:
    subject: Expr
    values: tuple[str | float | int, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Logical:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Not:
    operand: Expr


Expr = Field | Literal | Period | Call | Aggregate | Arith | Compare | Like | InList | Logical | Not


# Commands.


@dataclass(frozen=True, slots=True)
class Fields:
    items: tuple[tuple[str, Expr], ...]  # (output name, expression)


@dataclass(frozen=True, slots=True)
class Display:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Filter:
    condition: Expr


@dataclass(frozen=True, slots=True)
class Parse:
    source: str
    pattern: re.Pattern[str]
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    """``items`` are expressions over the ``aggregates`` (``sum(a)/1024 as kb``)."""

    items: tuple[tuple[str, Expr], ...]
    groups: tuple[tuple[str, Expr], ...]
    aggregates: tuple[Aggregate, ...]


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[tuple[str, bool], ...]  # (field, descending)


@dataclass(frozen=True, slots=True)
class Limit:
    """``limit N``, or ``limit any N``: the scan stops once N events have passed."""

    count: int
    any: bool = False


@dataclass(frozen=True, slots=True)
class Unnest:
    """``unnest <field> into <name>``: one row per item of a parsed list."""

    source: str
    into: str


@dataclass(frozen=True, slots=True)
class Pattern:
    """``pattern <expr>``: the rows clustered into patterns of their text."""

    source: Expr


# ``diff``'s modifiers: how far back the compared window starts (a month by the calendar).
DIFF_SHIFTS: Final = {"previousday": "day", "previousweek": "week", "previousmonth": "month"}


@dataclass(frozen=True, slots=True)
class Diff:
    """``diff [previousDay|previousWeek|previousMonth]``: the patterns of the query's window
    compared with those of an earlier window of the same length (``period`` the window
    just before when empty)."""

    period: str = ""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """``anomaly``: the patterns before it, kept when unusual."""


@dataclass(frozen=True, slots=True)
class Dedup:
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unmask:
    """``unmask(@message)`` as a command: ``@message`` unmasked for the commands after it
    (decision 0211; the caller holds ``logs:Unmask`` on every queried group)."""


Command = (
    Fields | Display | Filter | Parse | Stats | Sort | Limit | Dedup | Unnest | Pattern | Diff
    | Anomaly | Unmask
)  # fmt: skip

# Where an event's record holds its message unmasked, only when the query unmasks (so a
# query without ``unmask`` never has it to read): no field's name holds a NUL.
UNMASKED: Final = "\x00unmasked"


@dataclass(frozen=True, slots=True)
class Query:
    commands: tuple[Command, ...]
    unmasks: bool = False  # ``unmask(@message)`` somewhere: StartQuery needs logs:Unmask


# Tokens.

_UNIT_PATTERN: Final = "|".join(
    sorted((u + ("s?" if len(u) > 1 else "") for u in PERIOD_UNITS), key=len, reverse=True)
)
_TOKEN: Final = re.compile(
    rf"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<period>\d+(?:{_UNIT_PATTERN})\b)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<quoted>`[^`]+`)
  | (?P<name>(?i:in)(?=\[)|@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+|\[\d+\])*)
  | (?P<op>==|!=|<=|>=|=~|[=<>|,()\[\]*+\-%^])
    """,
    re.VERBOSE,
)
_SLASH_DIVIDES: Final = frozenset({"number", "name", "quoted"})
_KEYWORDS: Final = frozenset({"like", "and", "or", "not", "in", "filter", "by", "as"})


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # string regex period number quoted name op end
    text: str
    at: int
    where: str = ""  # "line L and position P", as AWS's messages place it


def _where(source: str, at: int) -> str:
    line = source.count("\n", 0, at) + 1
    column = at - (source.rfind("\n", 0, at) + 1) + 1
    return f"line {line} and position {column}"


def unexpected(token: Token) -> MalformedQuery:
    shown = token.text if token.kind != "end" else "<EOF>"
    return MalformedQuery(
        f"unexpected symbol found {shown} at {token.where}",
        token.at,
        token.at + max(len(token.text), 1) - 1,
    )


def tokens(source: str) -> list[Token]:
    found: list[Token] = []
    at = 0
    while at < len(source):
        # A slash after an operand divides; elsewhere it opens a regex.
        if (
            source[at] == "/"
            and found
            and (found[-1].kind in _SLASH_DIVIDES or found[-1].text == ")")
            and found[-1].text.lower() not in _KEYWORDS
            # ``parse <field> /regex/``: the field is no operand of a division.
            and not (len(found) >= 2 and found[-2].text.lower() == "parse")
        ):
            found.append(Token("op", "/", at, _where(source, at)))
            at += 1
            continue
        match = _TOKEN.match(source, at)
        if match is None or match.lastgroup is None:
            raise unexpected(Token("op", source[at], at, _where(source, at)))
        if match.lastgroup != "ws":
            found.append(Token(match.lastgroup, match.group(), at, _where(source, at)))
        at = match.end()
    found.append(Token("end", "", len(source), _where(source, len(source))))
    return found


def period(token: Token) -> Period:
    """A period token's value; a zero amount is refused where it stands."""
    amount, unit = re.fullmatch(r"(\d+)([a-z]+)", token.text).groups()  # type: ignore[union-attr]
    name = unit if unit in PERIOD_UNITS else unit[:-1]  # a plural's ``s``
    if int(amount) == 0:
        raise unexpected(token)
    return Period(int(amount), PERIOD_UNITS[name])


def field_path(text: str) -> str:
    """A name token as a field's name: a list index ``a[0].b`` read as ``a.0.b``, the name
    AWS discovers a JSON list's items by."""
    return re.sub(r"\[(\d+)\]", r".\1", text)


# AWS commands the platform does not serve, refused by name rather than as any unknown
# word: why each cannot run here.
REFUSED_COMMANDS: Final = {
    "filterindex": "field indexes are not served; use filter",
    "source": "name the log groups in StartQuery's logGroupNames or logGroupIdentifiers",
    "lookup": "lookup tables (CreateLookupTable) are not served yet",
}


def refused(token: Token) -> MalformedQuery:
    """A command AWS has and the platform does not serve, refused where it stands."""
    return MalformedQuery(
        f"{token.text} is not supported: {REFUSED_COMMANDS[token.text.lower()]} at {token.where}",
        token.at,
        token.at + len(token.text) - 1,
    )


def unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)
