"""Metric math's language (decision 0183): the tokenizer and the parser of a CloudWatch
``Expression`` into a small tree, with no evaluation and no ``eval``.

The grammar, loosest first (AWS's precedence: logical, comparison, additive,
multiplicative, power, unary)::

    expr    := or
    or      := and (("OR" | "||") and)*
    and     := cmp (("AND" | "&&") cmp)*
    cmp     := add (("==" | "!=" | "<=" | ">=" | "<" | ">") add)?
    add     := mul (("+" | "-") mul)*
    mul     := unary (("*" | "/") unary)*
    unary   := "-" unary | "+" unary | "NOT" unary | "!" unary | power
    power   := atom ("^" unary)?              (right-associative: 2^3^2 is 2^9)
    atom    := number | string | id | NAME "(" args ")" | NAME | "(" expr ")" | "[" args "]"

``id`` is a query's Id (it starts with a lowercase letter); ``NAME`` is upper case: a
function when followed by parentheses, else a keyword argument (``REPEAT``, ``ASC``, ``AVG``).
A syntax error names its position (1-based) as AWS's ``Error in expression`` messages do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from andromede.metrics.errors import InvalidParameterValue

__all__ = [
    "Array",
    "Binary",
    "Call",
    "Keyword",
    "Node",
    "Number",
    "Ref",
    "Text",
    "Unary",
    "parse",
    "references",
]

_TOKEN: Final = re.compile(
    r"""
    (?P<space>\s+)
    |(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<string>"[^"]*"|'[^']*')
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/^<>!(),\[\]])
    """,
    re.VERBOSE,
)
_COMPARISONS: Final = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    at: int  # 1-based position in the expression


@dataclass(frozen=True, slots=True)
class Number:
    value: float


@dataclass(frozen=True, slots=True)
class Text:
    value: str


@dataclass(frozen=True, slots=True)
class Ref:
    id: str
    at: int


@dataclass(frozen=True, slots=True)
class Keyword:
    name: str
    at: int


@dataclass(frozen=True, slots=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Node, ...]
    at: int


@dataclass(frozen=True, slots=True)
class Array:
    items: tuple[Node, ...]


Node = Number | Text | Ref | Keyword | Unary | Binary | Call | Array


def _fail(text: str, at: int, why: str) -> InvalidParameterValue:
    return InvalidParameterValue(f"Error in expression '{text[:256]}': {why} at position {at}.")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            raise _fail(text, at + 1, f"Unrecognized character {text[at]!r}")
        kind = found.lastgroup or "op"
        if kind != "space":
            value = found.group()
            if kind == "string":
                value = value[1:-1]
            tokens.append(Token(kind, value, at + 1))
        at = found.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


class _Parser:
    def __init__(self, text: str, max_depth: int) -> None:
        self._text = text
        self._tokens = tokenize(text)
        self._at = 0
        self._depth = 0
        self._max_depth = max_depth

    @property
    def _next(self) -> Token:
        return self._tokens[self._at]

    def _take(self) -> Token:
        token = self._tokens[self._at]
        self._at += 1
        return token

    def _is(self, *texts: str) -> bool:
        token = self._next
        if token.kind == "op":
            return token.text in texts
        return token.kind == "name" and token.text.upper() in texts

    def _expect(self, text: str) -> None:
        if not self._is(text):
            raise self._error(f"Expected '{text}'")
        self._take()

    def _error(self, why: str) -> InvalidParameterValue:
        token = self._next
        shown = "end of expression" if token.kind == "end" else f"'{token.text}'"
        return _fail(self._text, token.at, f"{why}, found {shown}")

    def parse(self) -> Node:
        node = self._or()
        if self._next.kind != "end":
            raise self._error("Unexpected token")
        return node

    def _nested(self) -> None:
        self._depth += 1
        if self._depth > self._max_depth:
            raise _fail(
                self._text,
                self._next.at,
                f"The expression nests deeper than {self._max_depth} levels",
            )

    def _or(self) -> Node:
        node = self._and()
        while self._is("OR", "||"):
            self._take()
            node = Binary("OR", node, self._and())
        return node

    def _and(self) -> Node:
        node = self._cmp()
        while self._is("AND", "&&"):
            self._take()
            node = Binary("AND", node, self._cmp())
        return node

    def _cmp(self) -> Node:
        node = self._add()
        if self._next.kind == "op" and self._next.text in _COMPARISONS:
            op = self._take().text
            node = Binary(op, node, self._add())
        return node

    def _add(self) -> Node:
        node = self._mul()
        while self._is("+", "-"):
            op = self._take().text
            node = Binary(op, node, self._mul())
        return node

    def _mul(self) -> Node:
        node = self._unary()
        while self._is("*", "/"):
            op = self._take().text
            node = Binary(op, node, self._unary())
        return node

    def _unary(self) -> Node:
        if self._is("-", "+", "!", "NOT"):
            op = self._take().text.upper()
            self._nested()
            operand = self._unary()
            self._depth -= 1
            if op == "+":
                return operand
            return Unary("-" if op == "-" else "NOT", operand)
        return self._power()

    def _power(self) -> Node:
        node = self._atom()
        if self._is("^"):
            self._take()
            self._nested()
            node = Binary("^", node, self._unary())
            self._depth -= 1
        return node

    def _atom(self) -> Node:
        token = self._next
        if token.kind == "number":
            self._take()
            return Number(float(token.text))
        if token.kind == "string":
            self._take()
            return Text(token.text)
        if token.kind == "name":
            self._take()
            if token.text[0].islower():
                return Ref(token.text, token.at)
            name = token.text.upper()
            if name in ("AND", "OR", "NOT"):
                raise _fail(self._text, token.at, f"Unexpected operator '{token.text}'")
            if self._is("("):
                self._take()
                args = self._items(")")
                return Call(name, args, token.at)
            return Keyword(name, token.at)
        if self._is("("):
            self._take()
            self._nested()
            node = self._or()
            self._depth -= 1
            self._expect(")")
            return node
        if self._is("["):
            self._take()
            return Array(self._items("]"))
        raise self._error("Expected a number, a metric id or a function")

    def _items(self, closing: str) -> tuple[Node, ...]:
        self._nested()
        items: list[Node] = []
        if not self._is(closing):
            items.append(self._or())
            while self._is(","):
                self._take()
                items.append(self._or())
        self._expect(closing)
        self._depth -= 1
        return tuple(items)


def parse(text: str, *, max_length: int = 2048, max_depth: int = 50) -> Node:
    """The tree of an expression; ``InvalidParameterValue`` (with the position) when it is
    empty, too long, nests too deep or is not metric math."""
    if not text.strip():
        raise InvalidParameterValue("The parameter Expression must not be empty.")
    if len(text) > max_length:
        raise InvalidParameterValue(
            f"The parameter Expression must be at most {max_length} characters long."
        )
    try:
        return _Parser(text, max_depth).parse()
    except RecursionError as exc:  # a depth setting above what the interpreter's stack holds
        raise InvalidParameterValue("The expression nests too deep to parse.") from exc


def references(node: Node) -> set[str]:
    """The query ids an expression names directly."""
    if isinstance(node, Ref):
        return {node.id}
    if isinstance(node, Unary):
        return references(node.operand)
    if isinstance(node, Binary):
        return references(node.left) | references(node.right)
    if isinstance(node, Call | Array):
        children = node.args if isinstance(node, Call) else node.items
        found: set[str] = set()
        for child in children:
            found |= references(child)
        return found
    return set()
