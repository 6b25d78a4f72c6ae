"""S3 Select's SQL: a recursive-descent parser of
``SELECT * | projections FROM S3Object[…] [alias] [WHERE cond] [LIMIT n]``.

The grammar is AWS's "SQL reference for Amazon S3 Select": column references by name
(``s.name``, ``s."Name"``, case-insensitive unless double-quoted), by position (``_1``), JSON
paths (``s.a.b``, ``s.a[0]``, ``S3Object[*].path``, ``[*]`` and ``.*`` anywhere; without an
alias the row is the FROM path's last name, or ``_1``); literals (`` `2010T` `` timestamps
too), arithmetic, ``||``, comparisons,
``AND``/``OR``/``NOT``, ``LIKE … [ESCAPE …]``, ``BETWEEN``, ``IN``, ``IS [NOT] NULL|MISSING``,
``CAST``, function calls (``functions.py``), ``EXTRACT(part FROM ts)`` and the aggregates
``COUNT``, ``SUM``, ``AVG``, ``MIN``, ``MAX``. No GROUP BY, ORDER BY or joins: AWS has none.
"""

from __future__ import annotations

from decimal import Decimal

from andromede.s3select.errors import SelectError
from andromede.s3select.syntax import (
    AGGREGATES,
    CAST_TYPES,
    RESERVED,
    Aggregate,
    Between,
    Binary,
    Call,
    Cast,
    Expr,
    Field,
    In,
    Index,
    IsTest,
    Like,
    Literal,
    Path,
    Projection,
    Query,
    Step,
    Token,
    Unary,
    Wildcard,
    tokenize,
)
from andromede.s3select.values import parse_timestamp

__all__ = ["parse"]


def parse(expression: str) -> Query:
    """The query ``expression`` says, or the Select error AWS answers for it."""
    return _Parser(tokenize(expression)).query()


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._at = 0
        self._aggregates: list[Aggregate] = []
        self._in_aggregate = False
        self._alias: str | None = None
        self._row_names: tuple[str, ...] = ()  # what names the row without an alias
        self._wildcards = False

    # -- token helpers --------------------------------------------------------------------------
    @property
    def _peek(self) -> Token:
        return self._tokens[self._at]

    def _next(self) -> Token:
        token = self._tokens[self._at]
        if token.kind != "end":
            self._at += 1
        return token

    def _is_word(self, *words: str) -> bool:
        return self._peek.word in words

    def _is_op(self, *ops: str) -> bool:
        return self._peek.kind == "op" and self._peek.text in ops

    def _accept_word(self, word: str) -> bool:
        if self._is_word(word):
            self._at += 1
            return True
        return False

    def _accept_op(self, op: str) -> bool:
        if self._is_op(op):
            self._at += 1
            return True
        return False

    def _unexpected(self) -> SelectError:
        token = self._peek
        shown = "end of expression" if token.kind == "end" else repr(token.text[:40])
        return SelectError(
            "ParseUnexpectedToken", f"Token {shown} at character {token.position + 1}."
        )

    def _expect_word(self, word: str) -> None:
        if not self._accept_word(word):
            if self._peek.kind == "end":
                raise SelectError("ParseExpectedKeyword", f"Expected {word}.")
            raise self._unexpected()

    def _expect_op(self, op: str) -> None:
        if not self._accept_op(op):
            raise self._unexpected()

    # -- the statement --------------------------------------------------------------------------
    def query(self) -> Query:
        self._expect_word("SELECT")
        # The FROM clause names the alias the projections use: read it first, then come back.
        select_at = self._at
        self._skip_to_from()
        source, alias = self._from_clause()
        self._alias = alias
        if alias is None and source:
            # AWS: without an alias, the row is named by the FROM path's last name, or
            # ``_1`` when the path ends in a wildcard.
            last = source[-1]
            self._row_names = (last.name.upper(),) if isinstance(last, Field) else ("_1",)
        where = None
        if self._accept_word("WHERE"):
            where = self._expression()
            if self._aggregates:
                raise SelectError("UnsupportedSqlOperation", "Aggregates are not allowed in WHERE.")
        limit = None
        if self._accept_word("LIMIT"):
            token = self._next()
            if token.kind == "op" and token.text == "-":
                raise SelectError("EvaluatorNegativeLimit")
            if token.kind != "number" or not token.text.isdigit():
                raise SelectError("ParseUnexpectedToken", "LIMIT takes a whole number.")
            limit = int(token.text)
        self._accept_op(";")
        if self._peek.kind != "end":
            if self._is_word("GROUP", "ORDER", "HAVING", "JOIN", "UNION"):
                raise SelectError("UnsupportedSyntax", f"{self._peek.word} is not supported.")
            raise self._unexpected()
        end_at = self._at
        self._at = select_at
        projections = self._select_list()
        self._at = end_at
        aggregates = tuple(self._aggregates)
        if aggregates and projections is not None:
            for projection in projections:
                if not _has_aggregate(projection.expr):
                    raise SelectError(
                        "UnsupportedSqlStructure",
                        "Aggregate and non-aggregate projections cannot be mixed.",
                    )
        return Query(projections, source, alias, where, limit, aggregates, self._wildcards)

    def _skip_to_from(self) -> None:
        depth = 0
        while True:
            token = self._peek
            if token.kind == "end":
                raise SelectError("ParseExpectedKeyword", "Expected FROM.")
            if token.kind == "op" and token.text in "([":
                depth += 1
            elif token.kind == "op" and token.text in ")]":
                depth -= 1
            elif depth == 0 and token.word == "FROM":
                self._at += 1
                return
            self._at += 1

    def _from_clause(self) -> tuple[tuple[Step, ...], str | None]:
        token = self._next()
        if token.word != "S3OBJECT":
            raise SelectError("ParseUnexpectedToken", "The FROM clause must name S3Object.")
        steps = self._steps(wildcards=True)
        alias = None
        if self._accept_word("AS"):
            alias = self._alias_name()
        elif self._peek.kind in ("name", "quoted") and self._peek.word not in RESERVED:
            alias = self._alias_name()
        return steps, alias

    def _alias_name(self) -> str:
        token = self._next()
        if token.kind == "quoted":
            return token.text[1:-1].replace('""', '"')
        if token.kind != "name" or token.word in RESERVED:
            raise SelectError("ParseUnexpectedToken", "Expected an alias.")
        return token.text

    def _select_list(self) -> tuple[Projection, ...] | None:
        if self._accept_op("*"):
            if not self._is_word("FROM"):
                raise SelectError(
                    "ParseAsteriskIsNotAloneInSelectList",
                    "Other expressions are not allowed in the SELECT list when * is used.",
                )
            return None
        projections = []
        while True:
            first = self._peek
            expr = self._expression()
            alias = None
            if isinstance(expr, Path) and not expr.steps:
                alias = first.text  # the row by the FROM path's last name: named after it
            if self._accept_word("AS"):
                alias = self._alias_name()
            elif self._peek.kind in ("name", "quoted") and self._peek.word not in RESERVED:
                alias = self._alias_name()
            projections.append(Projection(expr, alias))
            if not self._accept_op(","):
                break
        if not self._is_word("FROM"):
            raise self._unexpected()
        return tuple(projections)

    # -- expressions, by precedence -------------------------------------------------------------
    def _expression(self) -> Expr:
        left = self._and()
        while self._accept_word("OR"):
            left = Binary("OR", left, self._and())
        return left

    def _and(self) -> Expr:
        left = self._not()
        while self._accept_word("AND"):
            left = Binary("AND", left, self._not())
        return left

    def _not(self) -> Expr:
        if self._accept_word("NOT"):
            return Unary("NOT", self._not())
        return self._predicate()

    def _predicate(self) -> Expr:
        left = self._concat()
        while True:
            if self._is_op("=", "!=", "<>", "<", "<=", ">", ">="):
                op = self._next().text
                left = Binary("!=" if op == "<>" else op, left, self._concat())
                continue
            if self._accept_word("IS"):
                negated = self._accept_word("NOT")
                if self._accept_word("NULL"):
                    left = IsTest(left, "NULL", negated)
                elif self._accept_word("MISSING"):
                    left = IsTest(left, "MISSING", negated)
                else:
                    raise self._unexpected()
                continue
            negated = False
            if self._is_word("NOT") and self._tokens[self._at + 1].word in (
                "LIKE",
                "BETWEEN",
                "IN",
            ):
                self._at += 1
                negated = True
            if self._accept_word("LIKE"):
                pattern = self._concat()
                escape = self._concat() if self._accept_word("ESCAPE") else None
                left = Like(left, pattern, escape, negated)
            elif self._accept_word("BETWEEN"):
                low = self._concat()
                self._expect_word("AND")
                left = Between(left, low, self._concat(), negated)
            elif self._accept_word("IN"):
                self._expect_op("(")
                items = [self._expression()]
                while self._accept_op(","):
                    items.append(self._expression())
                self._expect_op(")")
                left = In(left, tuple(items), negated)
            else:
                return left

    def _concat(self) -> Expr:
        left = self._additive()
        while self._accept_op("||"):
            left = Binary("||", left, self._additive())
        return left

    def _additive(self) -> Expr:
        left = self._multiplicative()
        while self._is_op("+", "-"):
            op = self._next().text
            left = Binary(op, left, self._multiplicative())
        return left

    def _multiplicative(self) -> Expr:
        left = self._unary()
        while self._is_op("*", "/", "%"):
            op = self._next().text
            left = Binary(op, left, self._unary())
        return left

    def _unary(self) -> Expr:
        if self._is_op("-", "+"):
            op = self._next().text
            operand = self._unary()
            if (
                op == "-"
                and isinstance(operand, Literal)
                and isinstance(operand.value, int | float | Decimal)
            ):
                return Literal(-operand.value)
            return Unary(op, operand)
        return self._primary()

    def _primary(self) -> Expr:
        token = self._peek
        if token.kind == "number":
            self._at += 1
            return Literal(_number(token.text))
        if token.kind == "string":
            self._at += 1
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "ion":  # AWS's `2010-01-01T` timestamp literal
            self._at += 1
            return Literal(parse_timestamp(token.text[1:-1]))
        if self._accept_op("("):
            inner = self._expression()
            self._expect_op(")")
            return inner
        if token.kind == "quoted":
            return self._path()
        if token.kind != "name":
            if token.kind == "end":
                raise SelectError("ParseExpectedExpression")
            raise self._unexpected()
        word = token.word
        if word in ("NULL", "TRUE", "FALSE"):
            self._at += 1
            return Literal({"NULL": None, "TRUE": True, "FALSE": False}[word])
        if word == "MISSING":
            raise SelectError("UnsupportedSyntax", "MISSING is not a value.")
        if word in RESERVED and word != "CAST":
            raise self._unexpected()
        if self._tokens[self._at + 1].kind == "op" and self._tokens[self._at + 1].text == "(":
            self._at += 2
            return self._call(word)
        return self._path()

    def _call(self, name: str) -> Expr:
        if name == "CAST":
            value = self._expression()
            self._expect_word("AS")
            kind = self._next().word
            if kind not in CAST_TYPES:
                raise SelectError("UnsupportedSyntax", "Unknown CAST type.")
            self._expect_op(")")
            return Cast(value, CAST_TYPES[kind])
        if name in AGGREGATES:
            if self._in_aggregate:
                raise SelectError("UnsupportedSqlOperation", "Aggregates cannot be nested.")
            arg: Expr | None
            if name == "COUNT" and self._accept_op("*"):
                arg = None
            else:
                self._in_aggregate = True
                arg = self._expression()
                self._in_aggregate = False
            self._expect_op(")")
            made = Aggregate(name, arg, len(self._aggregates))
            self._aggregates.append(made)
            return made
        args: list[Expr] = []
        if name == "EXTRACT":
            part = self._next().word
            self._expect_word("FROM")
            args = [Literal(part), self._expression()]
        elif name in ("DATE_ADD", "DATE_DIFF") and self._peek.kind == "name":
            args = [Literal(self._next().word)]
            while self._accept_op(","):
                args.append(self._expression())
        elif name == "TRIM":
            args = self._trim_args()
        elif name == "SUBSTRING":
            args = [self._expression()]
            if self._accept_word("FROM"):
                args.append(self._expression())
                if self._accept_word("FOR"):
                    args.append(self._expression())
            while self._accept_op(","):
                args.append(self._expression())
        elif not self._is_op(")"):
            args.append(self._expression())
            while self._accept_op(","):
                args.append(self._expression())
        self._expect_op(")")
        return Call(name, tuple(args))

    def _trim_args(self) -> list[Expr]:
        """``TRIM([[LEADING|TRAILING|BOTH] [chars] FROM] s)``: args ``side, chars, s``."""
        side = "BOTH"
        if self._is_word("LEADING", "TRAILING", "BOTH"):
            side = self._next().word
        chars: Expr = Literal(" ")
        if self._accept_word("FROM"):
            return [Literal(side), chars, self._expression()]
        first = self._expression()
        if self._accept_word("FROM"):
            return [Literal(side), first, self._expression()]
        return [Literal(side), chars, first]

    def _path(self) -> Path:
        token = self._next()
        head = _step_of(token)
        steps: list[Step] = []
        alias = self._alias
        is_alias = alias is not None and (
            token.text == alias if token.kind == "quoted" else token.text.upper() == alias.upper()
        )
        if not is_alias and token.kind == "name" and token.word in self._row_names:
            is_alias = True
        if not is_alias and token.word != "S3OBJECT":
            steps.append(head)  # a bare column: ``_1``, ``name``
        steps.extend(self._steps(wildcards=False))
        if not steps and not (token.kind == "name" and token.word in self._row_names):
            raise SelectError("ParseInvalidPathComponent", "The alias alone is not a value.")
        return Path(tuple(steps))

    def _steps(self, *, wildcards: bool) -> tuple[Step, ...]:
        """A path's steps; ``wildcards``: in FROM (elsewhere a wildcard marks the query,
        which a CSV input refuses)."""
        steps: list[Step] = []
        while True:
            if self._accept_op("."):
                token = self._next()
                if token.kind == "op" and token.text == "*":
                    steps.append(Wildcard(members=True))
                    self._wildcards = self._wildcards or not wildcards
                    continue
                if token.kind not in ("name", "quoted") or token.word in RESERVED:
                    raise SelectError("ParseInvalidPathComponent")  # a keyword: quote it
                steps.append(_step_of(token))
            elif self._accept_op("["):
                token = self._next()
                if token.kind == "op" and token.text == "*":
                    steps.append(Wildcard())
                    self._wildcards = self._wildcards or not wildcards
                elif token.kind == "number" and token.text.isdigit():
                    steps.append(Index(int(token.text)))
                elif token.kind == "string":
                    steps.append(Field(token.text[1:-1].replace("''", "'"), exact=True))
                else:
                    raise SelectError("ParseInvalidPathComponent")
                self._expect_op("]")
            else:
                return tuple(steps)


def _step_of(token: Token) -> Field:
    if token.kind == "quoted":
        return Field(token.text[1:-1].replace('""', '"'), exact=True)
    if token.kind != "name":
        raise SelectError("ParseInvalidPathComponent")
    return Field(token.text, exact=False)


def _number(text: str) -> int | float | Decimal:
    if text.isdigit():
        return int(text)
    if "e" in text.lower():
        return float(text)
    return Decimal(text)


def _has_aggregate(expr: Expr) -> bool:
    if isinstance(expr, Aggregate):
        return True
    if isinstance(expr, Unary | Cast):
        inner = expr.operand if isinstance(expr, Unary) else expr.value
        return _has_aggregate(inner)
    if isinstance(expr, Binary):
        return _has_aggregate(expr.left) or _has_aggregate(expr.right)
    if isinstance(expr, Call):
        return any(_has_aggregate(arg) for arg in expr.args)
    return False
