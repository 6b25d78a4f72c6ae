"""S3 Select's SQL as data: its tokens and the AST the parser (``sql.py``) makes and the
evaluator (``evaluate.py``) compiles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from andromede.s3select.errors import SelectError

__all__ = [
    "AGGREGATES",
    "CAST_TYPES",
    "RESERVED",
    "Aggregate",
    "Between",
    "Binary",
    "Call",
    "Cast",
    "Expr",
    "Field",
    "In",
    "Index",
    "IsTest",
    "Like",
    "Literal",
    "Path",
    "Projection",
    "Query",
    "Step",
    "Token",
    "Unary",
    "Wildcard",
    "tokenize",
]

AGGREGATES: Final = frozenset({"COUNT", "SUM", "AVG", "MIN", "MAX"})
CAST_TYPES: Final = {
    "INT": "INT",
    "INTEGER": "INT",
    "FLOAT": "FLOAT",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "STRING": "STRING",
    "BOOL": "BOOL",
    "BOOLEAN": "BOOL",
    "TIMESTAMP": "TIMESTAMP",
}
# Words that end an expression or a path: never taken for an alias.
RESERVED: Final = frozenset(
    {
        "SELECT", "FROM", "WHERE", "LIMIT", "AND", "OR", "NOT", "LIKE", "ESCAPE", "BETWEEN",
        "IN", "IS", "NULL", "MISSING", "TRUE", "FALSE", "AS", "CAST", "GROUP", "ORDER", "BY",
        "HAVING", "JOIN", "UNION",
    }
)  # fmt: skip
_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
    |(?P<string>'(?:[^']|'')*')
    |(?P<quoted>"(?:[^"]|"")*")
    |(?P<ion>`[^`]*`)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op><>|!=|<=|>=|\|\||[-+*/%=<>(),.\[\];])
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, quoted, ion (a `timestamp` literal), name, op, end
    text: str
    position: int

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "name" else ""


def tokenize(expression: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise SelectError("ParseUnknownOperator", f"At character {position + 1}.")
        kind = match.lastgroup or "space"
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    tokens.append(Token("end", "", position))
    return tokens


# -- the AST ---------------------------------------------------------------------------------
class Expr:
    """Any expression node."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: object  # None (NULL), bool, int, float, Decimal, str


@dataclass(frozen=True, slots=True)
class Field:
    """A path step by name: ``.name`` (case-insensitive) or ``."Name"`` (exact)."""

    name: str
    exact: bool


@dataclass(frozen=True, slots=True)
class Index:
    """A path step into an array: ``[0]``."""

    position: int


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``[*]``: every element of an array; ``.*`` (``members``): every value of an object."""

    members: bool = False


Step = Field | Index | Wildcard


@dataclass(frozen=True, slots=True)
class Path(Expr):
    """A reference into the record: its steps after the alias (``s.a[0]`` → a, 0)."""

    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # NOT, -, +
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # OR AND = != < <= > >= + - * / % ||
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Like(Expr):
    value: Expr
    pattern: Expr
    escape: Expr | None
    negated: bool


@dataclass(frozen=True, slots=True)
class Between(Expr):
    value: Expr
    low: Expr
    high: Expr
    negated: bool


@dataclass(frozen=True, slots=True)
class In(Expr):
    value: Expr
    items: tuple[Expr, ...]
    negated: bool


@dataclass(frozen=True, slots=True)
class IsTest(Expr):
    value: Expr
    kind: str  # NULL or MISSING
    negated: bool


@dataclass(frozen=True, slots=True)
class Cast(Expr):
    value: Expr
    type: str  # a value of CAST_TYPES


@dataclass(frozen=True, slots=True)
class Call(Expr):
    name: str  # upper case
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregate(Expr):
    name: str  # one of AGGREGATES
    arg: Expr | None  # None: COUNT(*)
    slot: int  # its accumulator's place in the query


@dataclass(frozen=True, slots=True)
class Projection:
    expr: Expr
    alias: str | None


@dataclass(frozen=True, slots=True)
class Query:
    projections: tuple[Projection, ...] | None  # None: SELECT *
    source: tuple[Step, ...]  # the steps after S3Object in FROM (``S3Object[*].a``)
    alias: str | None
    where: Expr | None
    limit: int | None
    aggregates: tuple[Aggregate, ...]
    wildcards: bool = False  # a ``[*]`` or ``.*`` in SELECT or WHERE (JSON only, as AWS)
