"""The Logs Insights query language, the subset decision 0186's session-48 addendum serves,
parsed by a small recursive-descent parser into a typed pipeline (no I/O, no evaluation:
:mod:`andromede.logs.insights_run` runs it).

Grammar (commands joined by ``|``)::

    query     := command ('|' command)*
    command   := 'fields' item (',' item)*          item := expr ['as' name]
               | 'display' field (',' field)*
               | 'filter' expr
               | 'parse' field STRING 'as' name (',' name)*      (glob: each ``*`` a capture)
               | 'stats' agg ['as' name] (',' agg ['as' name])* ['by' group (',' group)*]
               | 'sort' field ['asc'|'desc'] (',' …)*
               | 'limit' NUMBER
               | 'dedup' field (',' field)*
    expr      := and ('or' and)*
    and       := not ('and' not)*
    not       := 'not' not | compare
    compare   := sum [('='|'=='|'!='|'<'|'<='|'>'|'>=') sum
                      | ['not'] 'like' (REGEX|STRING) | '=~' REGEX | ['not'] 'in' '[' … ']']
    sum       := term (('+'|'-') term)*             term := unary (('*'|'/'|'%') unary)*
    primary   := NUMBER | STRING | field | call | '(' expr ')'
    group     := field | 'bin' '(' PERIOD ')'      agg := count(*) | count(f) | sum(f) | avg(f)
                                                        | min(f) | max(f) | pct(f, n)

Fields are names (``a.b.c`` for a JSON message's nested fields), ``@``-names, or
back-quoted; ``#`` comments out the rest of a line, as AWS's. Functions: ``ispresent``,
``isempty``, ``tolower``, ``toupper``, ``strlen``.
Anything else is a :class:`MalformedQuery` worded as AWS's (``unexpected symbol found …
at line L and position P``) with its character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from andromede.logs.errors import LogsError

__all__ = [
    "Aggregate",
    "Arith",
    "Bin",
    "Call",
    "Command",
    "Compare",
    "Dedup",
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
    "Query",
    "Sort",
    "Stats",
    "parse_query",
]

FUNCTIONS: Final = frozenset({"ispresent", "isempty", "tolower", "toupper", "strlen"})
AGGREGATES: Final = frozenset({"count", "sum", "avg", "min", "max", "pct"})
_UNITS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MAX_QUERY_LENGTH: Final = 10_000  # AWS's bound on queryString


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


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Expr, ...]


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


Expr = Field | Literal | Call | Arith | Compare | Like | InList | Logical | Not


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
class Bin:
    period_ms: int


@dataclass(frozen=True, slots=True)
class Aggregate:
    function: str
    field: str | None  # None: count(*)
    percentile: float = 0.0


@dataclass(frozen=True, slots=True)
class Stats:
    aggregates: tuple[tuple[str, Aggregate], ...]
    groups: tuple[tuple[str, Field | Bin], ...]


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[tuple[str, bool], ...]  # (field, descending)


@dataclass(frozen=True, slots=True)
class Limit:
    count: int


@dataclass(frozen=True, slots=True)
class Dedup:
    names: tuple[str, ...]


Command = Fields | Display | Filter | Parse | Stats | Sort | Limit | Dedup


@dataclass(frozen=True, slots=True)
class Query:
    commands: tuple[Command, ...]


# Tokens.

_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<period>\d+(?:ms|s|m|h|d)\b)
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<quoted>`[^`]+`)
  | (?P<name>@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
  | (?P<op>==|!=|<=|>=|=~|[=<>|,()\[\]*+\-%])
    """,
    re.VERBOSE,
)
_SLASH_DIVIDES: Final = frozenset({"number", "name", "quoted"})
_KEYWORDS: Final = frozenset({"like", "and", "or", "not", "in", "filter", "by", "as"})


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # string regex period number quoted name op end
    text: str
    at: int
    where: str = ""  # "line L and position P", as AWS's messages place it


def _where(source: str, at: int) -> str:
    line = source.count("\n", 0, at) + 1
    column = at - (source.rfind("\n", 0, at) + 1) + 1
    return f"line {line} and position {column}"


def _unexpected(token: _Token) -> MalformedQuery:
    shown = token.text if token.kind != "end" else "<EOF>"
    return MalformedQuery(
        f"unexpected symbol found {shown} at {token.where}",
        token.at,
        token.at + max(len(token.text), 1) - 1,
    )


def _tokens(source: str) -> list[_Token]:
    found: list[_Token] = []
    at = 0
    while at < len(source):
        # A slash after an operand divides; elsewhere it opens a regex.
        if (
            source[at] == "/"
            and found
            and (found[-1].kind in _SLASH_DIVIDES or found[-1].text == ")")
            and found[-1].text.lower() not in _KEYWORDS
        ):
            found.append(_Token("op", "/", at, _where(source, at)))
            at += 1
            continue
        match = _TOKEN.match(source, at)
        if match is None or match.lastgroup is None:
            raise _unexpected(_Token("op", source[at], at, _where(source, at)))
        if match.lastgroup != "ws":
            found.append(_Token(match.lastgroup, match.group(), at, _where(source, at)))
        at = match.end()
    found.append(_Token("end", "", len(source), _where(source, len(source))))
    return found


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _glob(pattern: str, start: int) -> re.Pattern[str]:
    """A parse glob as a regex: each ``*`` a lazy capture, the rest literal."""
    parts = pattern.split("*")
    body = "(.*?)".join(re.escape(p) for p in parts)
    # The last capture takes the rest of the line, as AWS's glob does.
    if pattern.endswith("*"):
        body = body[: -len("(.*?)")] + "(.*)"
    try:
        return re.compile(body, re.DOTALL)
    except re.error as exc:  # pragma: no cover - escaped: only a bug reaches here
        raise MalformedQuery(f"invalid parse pattern: {exc}", start, start) from None


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokens(source)
        self.at = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.at]

    def next(self) -> _Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "name" and self.token.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def expect_op(self, op: str) -> _Token:
        if not self.is_op(op):
            raise _unexpected(self.token)
        return self.next()

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            raise _unexpected(self.token)
        self.next()

    def text_since(self, start: int) -> str:
        """The query's text from ``start`` to the end of the last token read."""
        last = self.tokens[self.at - 1]
        return self.source[start : last.at + len(last.text)]

    def field_name(self) -> str:
        token = self.token
        if token.kind == "name" and token.text.lower() not in ("and", "or", "not", "as", "by"):
            self.next()
            return token.text
        if token.kind == "quoted":
            self.next()
            return token.text[1:-1]
        raise _unexpected(token)

    def number(self) -> int:
        token = self.token
        if token.kind != "number" or "." in token.text:
            raise _unexpected(token)
        self.next()
        return int(token.text)

    # Commands.

    def query(self) -> Query:
        commands = [self.command()]
        while self.is_op("|"):
            self.next()
            commands.append(self.command())
        if self.token.kind != "end":
            raise _unexpected(self.token)
        return Query(tuple(commands))

    def command(self) -> Command:
        token = self.token
        word = token.text.lower() if token.kind == "name" else ""
        handlers: dict[str, Callable[[], Command]] = {
            "fields": self.fields,
            "display": self.display,
            "filter": self.filter,
            "parse": self.parse,
            "stats": self.stats,
            "sort": self.sort,
            "limit": self.limit,
            "dedup": self.dedup,
        }
        handler = handlers.get(word)
        if handler is None:
            raise _unexpected(token)
        self.next()
        return handler()

    def names(self) -> tuple[str, ...]:
        names = [self.field_name()]
        while self.is_op(","):
            self.next()
            names.append(self.field_name())
        return tuple(names)

    def fields(self) -> Fields:
        items: list[tuple[str, Expr]] = []
        while True:
            start = self.token.at
            expr = self.expr()
            # An expression's column is named by its text, as AWS names it, unless ``as``.
            name = expr.name if isinstance(expr, Field) else self.text_since(start)
            if self.is_word("as"):
                self.next()
                name = self.field_name()
            items.append((name, expr))
            if not self.is_op(","):
                return Fields(tuple(items))
            self.next()

    def display(self) -> Display:
        return Display(self.names())

    def filter(self) -> Filter:
        return Filter(self.expr())

    def parse(self) -> Parse:
        source = self.field_name()
        token = self.token
        if token.kind != "string":
            raise _unexpected(token)
        self.next()
        pattern = _glob(_unquote(token.text), token.at)
        self.expect_word("as")
        names = self.names()
        if len(names) != pattern.groups:
            raise MalformedQuery(
                f"parse: the pattern has {pattern.groups} wildcards but {len(names)} names "
                f"follow at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
        return Parse(source, pattern, names)

    def stats(self) -> Stats:
        aggregates: list[tuple[str, Aggregate]] = []
        while True:
            start = self.token.at
            aggregate = self.aggregate()
            name = self.text_since(start)
            if self.is_word("as"):
                self.next()
                name = self.field_name()
            aggregates.append((name, aggregate))
            if not self.is_op(","):
                break
            self.next()
        groups: list[tuple[str, Field | Bin]] = []
        if self.is_word("by"):
            self.next()
            while True:
                start = self.token.at
                group: Field | Bin
                if self.is_word("bin") and self.tokens[self.at + 1].text == "(":
                    self.next()
                    self.expect_op("(")
                    period = self.token
                    if period.kind != "period":
                        raise _unexpected(period)
                    self.next()
                    self.expect_op(")")
                    amount, unit = re.fullmatch(r"(\d+)(ms|s|m|h|d)", period.text).groups()  # type: ignore[union-attr]
                    if int(amount) == 0:
                        raise _unexpected(period)
                    group = Bin(int(amount) * _UNITS[unit])
                    name = self.text_since(start)
                else:
                    group = Field(self.field_name())
                    name = group.name
                if self.is_word("as"):
                    self.next()
                    name = self.field_name()
                groups.append((name, group))
                if not self.is_op(","):
                    break
                self.next()
        return Stats(tuple(aggregates), tuple(groups))

    def aggregate(self) -> Aggregate:
        token = self.token
        if token.kind != "name" or token.text.lower() not in AGGREGATES:
            raise _unexpected(token)
        function = token.text.lower()
        self.next()
        self.expect_op("(")
        if function == "count" and self.is_op("*"):
            self.next()
            self.expect_op(")")
            return Aggregate("count", None)
        field = self.field_name()
        percentile = 0.0
        if function == "pct":
            self.expect_op(",")
            at = self.token
            if at.kind != "number" or not 0 <= float(at.text) <= 100:
                raise _unexpected(at)
            percentile = float(self.next().text)
        self.expect_op(")")
        return Aggregate(function, field, percentile)

    def sort(self) -> Sort:
        keys: list[tuple[str, bool]] = []
        while True:
            name = self.field_name()
            descending = True  # AWS's default order
            if self.is_word("asc", "desc"):
                descending = self.next().text.lower() == "desc"
            keys.append((name, descending))
            if not self.is_op(","):
                return Sort(tuple(keys))
            self.next()

    def limit(self) -> Limit:
        token = self.token
        count = self.number()
        if not 1 <= count <= 10_000:
            raise MalformedQuery(
                f"limit must be between 1 and 10000 at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
        return Limit(count)

    def dedup(self) -> Dedup:
        return Dedup(self.names())

    # Expressions.

    def expr(self) -> Expr:
        left = self.conjunction()
        while self.is_word("or"):
            self.next()
            left = Logical("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.is_word("and"):
            self.next()
            left = Logical("and", left, self.negation())
        return left

    def negation(self) -> Expr:
        if self.is_word("not"):
            self.next()
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.sum()
        if self.is_op("=", "==", "!=", "<", "<=", ">", ">="):
            op = self.next().text
            return Compare("=" if op == "==" else op, left, self.sum())
        negated = False
        if self.is_word("not") and self.tokens[self.at + 1].text.lower() in ("like", "in"):
            self.next()
            negated = True
        if self.is_word("like") or (not negated and self.is_op("=~")):
            regex_only = self.next().text == "=~"
            token = self.next()
            if token.kind == "regex":
                return Like(left, self._regex(token), negated)
            if token.kind == "string" and not regex_only:
                return Like(left, _unquote(token.text), negated)
            raise _unexpected(token)
        if self.is_word("in"):
            self.next()
            self.expect_op("[")
            values = [self.constant()]
            while self.is_op(","):
                self.next()
                values.append(self.constant())
            self.expect_op("]")
            return InList(left, tuple(values), negated)
        if negated:
            raise _unexpected(self.token)
        return left

    def _regex(self, token: _Token) -> re.Pattern[str]:
        try:
            return re.compile(token.text[1:-1])
        except re.error as exc:
            raise MalformedQuery(
                f"invalid regular expression {token.text[:64]} ({exc.msg}) at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            ) from None

    def constant(self) -> str | float | int:
        token = self.next()
        if token.kind == "string":
            return _unquote(token.text)
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "op" and token.text == "-" and self.token.kind == "number":
            value = self.next().text
            return -(float(value) if "." in value else int(value))
        raise _unexpected(token)

    def sum(self) -> Expr:
        left = self.term()
        while self.is_op("+", "-"):
            op = self.next().text
            left = Arith(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.is_op("*", "/", "%"):
            op = self.next().text
            left = Arith(op, left, self.unary())
        return left

    def unary(self) -> Expr:
        if self.is_op("-"):
            self.next()
            return Arith("-", Literal(0), self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.token
        if token.kind in ("string", "number"):
            return Literal(self.constant())
        if self.is_op("("):
            self.next()
            inner = self.expr()
            self.expect_op(")")
            return inner
        if token.kind == "name" and self.tokens[self.at + 1].text == "(":
            name = token.text.lower()
            if name not in FUNCTIONS:
                raise _unexpected(token)
            self.next()
            self.next()
            args: list[Expr] = []
            if not self.is_op(")"):
                args.append(self.expr())
                while self.is_op(","):
                    self.next()
                    args.append(self.expr())
            self.expect_op(")")
            if len(args) != 1:
                raise MalformedQuery(
                    f"{name} takes one argument at {token.where}",
                    token.at,
                    token.at + len(token.text) - 1,
                )
            return Call(name, tuple(args))
        return Field(self.field_name())


def parse_query(source: str) -> Query:
    """The query's pipeline, or :class:`MalformedQuery`."""
    if not source.strip():
        raise MalformedQuery("The query string is empty.", 0, 0)
    if len(source) > MAX_QUERY_LENGTH:
        raise MalformedQuery(
            f"The query string is longer than {MAX_QUERY_LENGTH} characters.", 0, len(source)
        )
    query = _Parser(source).query()
    if sum(isinstance(c, Stats) for c in query.commands) > 1:
        raise MalformedQuery(
            "Only one stats command is served in a query (decision 0186)", 0, len(source) - 1
        )
    return query
