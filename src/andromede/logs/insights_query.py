"""The Logs Insights query language, the subset decision 0186 serves (its session-48 and
session-49 addenda), parsed by a small recursive-descent parser into the typed pipeline of
:mod:`andromede.logs.insights_syntax` (no I/O, no evaluation:
:mod:`andromede.logs.insights_run` runs it).

Grammar (commands joined by ``|``)::

    query     := command ('|' command)*
    command   := 'fields' item (',' item)*          item := expr ['as' name]
               | 'display' field (',' field)*
               | 'filter' expr
               | 'parse' field STRING 'as' name (',' name)*      (glob: each ``*`` a capture)
               | 'parse' field REGEX                  (each named group ``(?<name>…)`` a field)
               | 'stats' item (',' item)* ['by' item (',' item)*]   (items over aggregations)
               | 'sort' key ['asc'|'desc'] (',' …)*      key := field | a stats item's call
               | 'limit' ['any'] NUMBER               (``any``: the scan stops at N events)
               | 'dedup' field (',' field)*
               | 'unnest' field 'into' name           (one row per item of a parsed list)
               | 'pattern' expr                       (rows clustered into patterns)
               | 'diff' ['previousDay'|'previousWeek'|'previousMonth']
               | 'anomaly'                            (after pattern: the unusual patterns)
    expr      := and ('or' and)*
    and       := not ('and' not)*
    not       := 'not' not | compare
    compare   := sum [('='|'=='|'!='|'<'|'<='|'>'|'>=') sum
                      | ['not'] 'like' (REGEX|STRING) | '=~' REGEX | ['not'] 'in' '[' … ']']
    sum       := term (('+'|'-') term)*             term := power (('*'|'/'|'%') power)*
    power     := unary ['^' power]                  unary := '-' unary | primary
    primary   := NUMBER | STRING | PERIOD | field | function '(' args ')' | '(' expr ')'
               | aggregate '(' ('*' | expr [',' NUMBER]) ')'             (in stats only)

Fields are names (``a.b.c`` for a JSON message's nested fields or a ``jsonParse``'d map's,
``a[0]`` a list's item, read ``a.0``), ``@``-names, or back-quoted; ``#`` comments out the
rest of a line, as AWS's. The functions and their arities are
:data:`andromede.logs.insights_functions.FUNCTIONS`'; the aggregations :data:`AGGREGATES`.
A query holds at most two ``stats``, the second reading only the names the first (or a
``fields`` after it) made, as AWS's; at most one ``pattern``, ``diff`` and ``anomaly``, the
last after a ``pattern``. ``unmask(@message)`` (decision 0211) is a command — ``@message``
unmasked for the commands after it — and a function (``fields unmask(@message) as m``); the
query then says it :attr:`Query.unmasks`. ``filterIndex``, ``lookup`` and ``SOURCE`` are
refused by name. Anything else is a :class:`MalformedQuery` worded as AWS's (``unexpected symbol
found … at line L and position P``) with its character offsets."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Final

from andromede.logs.insights_functions import FUNCTIONS
from andromede.logs.insights_syntax import (
    DIFF_SHIFTS,
    REFUSED_COMMANDS,
    Aggregate,
    Anomaly,
    Arith,
    Call,
    Command,
    Compare,
    Dedup,
    Diff,
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
    MalformedQuery,
    Not,
    Parse,
    Pattern,
    Period,
    Query,
    Sort,
    Stats,
    Token,
    Unmask,
    Unnest,
    field_path,
    period,
    refused,
    tokens,
    unexpected,
    unquote,
)

__all__ = [
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
    "Unmask",
    "Unnest",
    "parse_query",
]

AGGREGATES: Final = frozenset(
    {"avg", "count", "count_distinct", "max", "min", "sum", "stddev", "pct", "earliest",
     "latest", "sortsfirst", "sortslast"}
)  # fmt: skip
MAX_QUERY_LENGTH: Final = 10_000  # AWS's bound on queryString
MAX_STATS: Final = 2  # AWS's: "up to two stats commands"
MAX_LIMIT: Final = 100_000  # the limit command's bound (StartQuery's own limit is 10,000)


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
        self.tokens = tokens(source)
        self.at = 0
        self.aggregating = False  # aggregations are read where a stats item is
        self.aggregates: list[Aggregate] = []
        self.unmasks = False

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def is_word(self, *words: str) -> bool:
        return self.token.kind == "name" and self.token.text.lower() in words

    def is_op(self, *ops: str) -> bool:
        return self.token.kind == "op" and self.token.text in ops

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise unexpected(self.token)
        return self.next()

    def expect_word(self, word: str) -> None:
        if not self.is_word(word):
            raise unexpected(self.token)
        self.next()

    def text_since(self, start: int) -> str:
        """The query's text from ``start`` to the end of the last token read."""
        last = self.tokens[self.at - 1]
        return self.source[start : last.at + len(last.text)]

    def field_name(self) -> str:
        token = self.token
        if token.kind == "name" and token.text.lower() not in ("and", "or", "not", "as", "by"):
            self.next()
            return field_path(token.text)
        if token.kind == "quoted":
            self.next()
            return token.text[1:-1]
        raise unexpected(token)

    def number(self) -> int:
        token = self.token
        if token.kind != "number" or "." in token.text:
            raise unexpected(token)
        self.next()
        return int(token.text)

    # Commands.

    def query(self) -> Query:
        commands = [self.command()]
        while self.is_op("|"):
            self.next()
            commands.append(self.command())
        if self.token.kind != "end":
            raise unexpected(self.token)
        return Query(tuple(commands), self.unmasks)

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
            "unnest": self.unnest,
            "pattern": self.pattern,
            "diff": self.diff,
            "anomaly": Anomaly,
            "unmask": self.unmask,
        }
        handler = handlers.get(word)
        if handler is None:
            raise refused(token) if word in REFUSED_COMMANDS else unexpected(token)
        self.next()
        return handler()

    def unmask(self) -> Unmask:
        self.expect_op("(")
        self.unmask_argument()
        return Unmask()

    def unmask_argument(self) -> None:
        """``unmask``'s argument, after its ``(``: AWS's reads ``@message`` only."""
        token = self.token
        if self.field_name() != "@message":
            raise MalformedQuery(
                f"unmask takes @message as its argument at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
        self.expect_op(")")
        self.unmasks = True

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
        if token.kind == "regex":
            # AWS's regex form: each named group (Java's ``(?<name>…)``) makes a field.
            self.next()
            regex = self._regex(token, re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", token.text))
            if not regex.groupindex:
                raise MalformedQuery(
                    f"parse: the regular expression names no group at {token.where}",
                    token.at,
                    token.at + len(token.text) - 1,
                )
            return Parse(source, regex, tuple(regex.groupindex))
        if token.kind != "string":
            raise unexpected(token)
        self.next()
        pattern = _glob(unquote(token.text), token.at)
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
        self.aggregates = []
        items = self.items(aggregating=True)
        groups: tuple[tuple[str, Expr], ...] = ()
        if self.is_word("by"):
            self.next()
            groups = self.items(aggregating=False)
        return Stats(items, groups, tuple(self.aggregates))

    def items(self, aggregating: bool) -> tuple[tuple[str, Expr], ...]:
        """``stats`` items (each over at least one aggregation) or its ``by`` groups."""
        items: list[tuple[str, Expr]] = []
        while True:
            start = self.token
            before = len(self.aggregates)
            self.aggregating = aggregating
            try:
                expr = self.expr()
            finally:
                self.aggregating = False
            if aggregating and len(self.aggregates) == before:
                raise unexpected(start)  # an item aggregates, as AWS's stats items do
            name = expr.name if isinstance(expr, Field) else self.text_since(start.at)
            if self.is_word("as"):
                self.next()
                name = self.field_name()
            items.append((name, expr))
            if not self.is_op(","):
                return tuple(items)
            self.next()

    def aggregate(self) -> Aggregate:
        token = self.next()
        function = token.text.lower()
        self.expect_op("(")
        if function == "count" and self.is_op("*", ")"):
            if self.is_op("*"):
                self.next()
            self.expect_op(")")
            return self.slot(Aggregate("count", None))
        self.aggregating = False  # no aggregation inside another
        try:
            argument = self.expr()
        finally:
            self.aggregating = True
        percentile = 0.0
        if function == "pct":
            self.expect_op(",")
            at = self.token
            if at.kind != "number" or not 0 <= float(at.text) <= 100:
                raise unexpected(at)
            percentile = float(self.next().text)
        self.expect_op(")")
        return self.slot(Aggregate(function, argument, percentile))

    def slot(self, aggregate: Aggregate) -> Aggregate:
        placed = Aggregate(
            aggregate.function, aggregate.argument, aggregate.percentile, len(self.aggregates)
        )
        self.aggregates.append(placed)
        return placed

    def sort(self) -> Sort:
        keys: list[tuple[str, bool]] = []
        while True:
            name = self.sort_key()
            descending = True  # AWS's default order
            if self.is_word("asc", "desc"):
                descending = self.next().text.lower() == "desc"
            keys.append((name, descending))
            if not self.is_op(","):
                return Sort(tuple(keys))
            self.next()

    def sort_key(self) -> str:
        """A field, or a call written as a ``stats`` item is (``sort count(*) desc``): the
        column that item made is named by its text, as AWS names it."""
        if not (self.token.kind == "name" and self.tokens[self.at + 1].text == "("):
            return self.field_name()
        start = self.token.at
        self.next()
        depth = 0
        while True:
            token = self.next()
            if token.kind == "end":
                raise unexpected(token)
            depth += {"(": 1, ")": -1}.get(token.text, 0) if token.kind == "op" else 0
            if depth == 0:
                return self.text_since(start)

    def limit(self) -> Limit:
        scan_stops = self.is_word("any") and self.tokens[self.at + 1].kind == "number"
        if scan_stops:
            self.next()
        token = self.token
        count = self.number()
        if not 1 <= count <= MAX_LIMIT:
            raise MalformedQuery(
                f"limit must be between 1 and {MAX_LIMIT} at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
        return Limit(count, scan_stops)

    def dedup(self) -> Dedup:
        return Dedup(self.names())

    def unnest(self) -> Unnest:
        source = self.field_name()
        self.expect_word("into")
        return Unnest(source, self.field_name())

    def pattern(self) -> Pattern:
        return Pattern(self.expr())

    def diff(self) -> Diff:
        if self.token.kind == "name" and self.token.text.lower() in DIFF_SHIFTS:
            return Diff(DIFF_SHIFTS[self.next().text.lower()])
        return Diff()

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
                return Like(left, unquote(token.text), negated)
            raise unexpected(token)
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
            raise unexpected(self.token)
        return left

    def _regex(self, token: Token, text: str | None = None) -> re.Pattern[str]:
        try:
            return re.compile((text or token.text)[1:-1])
        except re.error as exc:
            raise MalformedQuery(
                f"invalid regular expression {token.text[:64]} ({exc.msg}) at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            ) from None

    def constant(self) -> str | float | int:
        token = self.next()
        if token.kind == "string":
            return unquote(token.text)
        if token.kind == "number":
            return float(token.text) if "." in token.text else int(token.text)
        if token.kind == "op" and token.text == "-" and self.token.kind == "number":
            value = self.next().text
            return -(float(value) if "." in value else int(value))
        raise unexpected(token)

    def sum(self) -> Expr:
        left = self.term()
        while self.is_op("+", "-"):
            op = self.next().text
            left = Arith(op, left, self.term())
        return left

    def term(self) -> Expr:
        left = self.power()
        while self.is_op("*", "/", "%"):
            op = self.next().text
            left = Arith(op, left, self.power())
        return left

    def power(self) -> Expr:
        base = self.unary()
        if self.is_op("^"):
            self.next()
            return Arith("^", base, self.power())  # right-associative, as usual
        return base

    def unary(self) -> Expr:
        if self.is_op("-"):
            self.next()
            return Arith("-", Literal(0), self.unary())
        return self.primary()

    def primary(self) -> Expr:
        token = self.token
        if token.kind in ("string", "number"):
            return Literal(self.constant())
        if token.kind == "period":
            self.next()
            return period(token)
        if self.is_op("("):
            self.next()
            inner = self.expr()
            self.expect_op(")")
            return inner
        if token.kind == "name" and self.tokens[self.at + 1].text == "(":
            name = token.text.lower()
            if self.aggregating and name in AGGREGATES:
                return self.aggregate()
            return self.call(token)
        return Field(self.field_name())

    def call(self, token: Token) -> Call:
        name = token.text.lower()
        function = FUNCTIONS.get(name)
        if name == "unmask":
            self.next()
            self.next()
            self.unmask_argument()
            return Call(name, (Field("@message"),))
        if function is None:
            raise refused(token) if name in REFUSED_COMMANDS else unexpected(token)
        self.next()
        self.next()
        args: list[Expr] = []
        if not self.is_op(")"):
            args.append(self.expr())
            while self.is_op(","):
                self.next()
                args.append(self.expr())
        self.expect_op(")")
        if len(args) < function.least or (function.most is not None and len(args) > function.most):
            most = "any number of" if function.most is None else f"at most {function.most}"
            raise MalformedQuery(
                f"{token.text} takes at least {function.least} and {most} arguments "
                f"at {token.where}",
                token.at,
                token.at + len(token.text) - 1,
            )
        for position in function.periods:
            if position < len(args) and not isinstance(args[position], Period):
                raise MalformedQuery(
                    f"{token.text} takes a time period (5m, 1h…) as argument {position + 1} "
                    f"at {token.where}",
                    token.at,
                    token.at + len(token.text) - 1,
                )
        return Call(name, tuple(args))


def _names(expr: Expr) -> Iterator[str]:
    """The fields an expression reads."""
    match expr:
        case Field(name):
            yield name
        case Call(name, args):
            if name == "bin":
                yield "@timestamp"
            for arg in args:
                yield from _names(arg)
        case Aggregate(argument=argument) if argument is not None:
            yield from _names(argument)
        case Arith(_, left, right) | Compare(_, left, right) | Logical(_, left, right):
            yield from _names(left)
            yield from _names(right)
        case Like(subject) | InList(subject):
            yield from _names(subject)
        case Not(operand):
            yield from _names(operand)


def _check_stats(query: Query, source: str) -> None:
    """At most two ``stats``; the second reads only what the first (or a later ``fields``
    or ``parse``) made, as AWS's second ``stats`` reads the first's output."""
    stats = [i for i, c in enumerate(query.commands) if isinstance(c, Stats)]
    if len(stats) > MAX_STATS:
        raise MalformedQuery(
            f"A query may hold at most {MAX_STATS} stats commands.", 0, len(source) - 1
        )
    if len(stats) < 2:
        return
    first, second = stats
    made: set[str] = set()
    for command in query.commands[first:second]:
        match command:
            case Stats(items, groups):
                made.update(n for n, _ in (*items, *groups))
            case Fields(items):
                made.update(n for n, _ in items)
            case Parse(names=names):
                made.update(names)
    last = query.commands[second]
    checked = (*last.items, *last.groups) if isinstance(last, Stats) else ()
    for _, expr in checked:
        for name in _names(expr):
            if name not in made:
                raise MalformedQuery(
                    f"The second stats command reads {name[:64]}, which the first stats "
                    "command does not make.",
                    0,
                    len(source) - 1,
                )


def _check_patterns(query: Query, source: str) -> None:
    """``pattern`` (or a ``diff`` standing for ``pattern @message``) is the query's first
    gathering command, once; a ``diff`` follows its ``pattern`` at once, an ``anomaly`` its
    ``pattern`` or that ``diff``: both read the patterns' counts over time, which the rows
    do not hold."""
    kinds = [type(c) for c in query.commands]

    def refuse(why: str) -> MalformedQuery:
        return MalformedQuery(why, 0, len(source) - 1)

    for kind in (Pattern, Diff, Anomaly):
        if kinds.count(kind) > 1:
            raise refuse(f"A query may hold at most one {kind.__name__.lower()} command.")
    mined = [i for i, k in enumerate(kinds) if k in (Pattern, Diff)]
    if not mined:
        if Anomaly in kinds:
            raise refuse("The anomaly command reads the patterns of a pattern command before it.")
        return
    first = mined[0]
    if any(k in (Stats, Sort, Dedup) for k in kinds[:first]):
        raise refuse(
            "The pattern and diff commands read events: no stats, sort or dedup before them."
        )
    if kinds[first] is Diff and Pattern in kinds:
        raise refuse("The diff command follows its pattern command at once.")
    if len(mined) == 2 and mined[1] != first + 1:
        raise refuse("The diff command follows its pattern command at once.")
    if Anomaly in kinds:
        at = kinds.index(Anomaly)
        if kinds[first] is not Pattern or at != mined[-1] + 1:
            raise refuse(
                "The anomaly command follows its pattern (or that pattern's diff) at once."
            )


def parse_query(source: str) -> Query:
    """The query's pipeline, or :class:`MalformedQuery`."""
    if not source.strip():
        raise MalformedQuery("The query string is empty.", 0, 0)
    if len(source) > MAX_QUERY_LENGTH:
        raise MalformedQuery(
            f"The query string is longer than {MAX_QUERY_LENGTH} characters.", 0, len(source)
        )
    start = re.match(r"\s*(source)\b", source, re.IGNORECASE)
    if start is not None:  # its ``logGroups(namePrefix: […])`` holds no token of ours
        raise refused(tokens(source[: start.end(1)])[0])
    query = _Parser(source).query()
    _check_stats(query, source)
    _check_patterns(query, source)
    return query
