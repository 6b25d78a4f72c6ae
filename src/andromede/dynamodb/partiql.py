"""PartiQL for DynamoDB parsed (decision 0247): the statements DynamoDB's ExecuteStatement,
BatchExecuteStatement and ExecuteTransaction take, by one small recursive-descent parser,
into the expression trees of ``dynamodb.expressions`` so that ``dynamodb.evaluate`` decides
them as it decides a ConditionExpression, a FilterExpression or an UpdateExpression.

::

    SELECT * | path [, path]… FROM table[.index] [WHERE condition] [ORDER BY path [ASC|DESC]]
    INSERT INTO table VALUE {'name': value, …}
    UPDATE table (SET path = operand [, …] | REMOVE path [, …])… WHERE condition
        [RETURNING (ALL|MODIFIED) (OLD|NEW) *]
    DELETE FROM table WHERE condition [RETURNING ALL OLD *]
    EXISTS(SELECT * FROM table WHERE condition)      (a write transaction's condition check)

Names are bare words or ``"double quoted"``; strings ``'single quoted'`` (``''`` a quote);
values are numbers, strings, ``TRUE``/``FALSE``, ``NULL``, lists ``[…]``, maps ``{'k': v}``,
sets ``<<…>>`` of strings or numbers, and ``?``, the call's ``Parameters`` in order. A
condition compares (``= <> != < <= > >=``), ``BETWEEN … AND …``, ``IN (…)`` / ``IN […]``,
``IS [NOT] MISSING`` / ``NULL``, ``begins_with``, ``contains``, ``attribute_type``, ``size()``,
with ``AND``/``OR``/``NOT``. An update assigns values, ``+``/``-``, ``list_append``,
``if_not_exists``, ``set_add`` and ``set_delete`` (the ADD and DELETE of an UpdateExpression).
Every refusal is a ``ValidationError`` in DynamoDB's words ("Statement wasn't well formed,
can't be processed: …").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.expressions import (
    Arithmetic,
    Between,
    Compare,
    Condition,
    Function,
    IfNotExists,
    In,
    ListAppend,
    Literal,
    Logical,
    Not,
    Operand,
    Path,
    Size,
    TokenParser,
    Update,
    UpdateAction,
)
from andromede.dynamodb.values import Item, Value, check_value

__all__ = [
    "Exists",
    "Insert",
    "Select",
    "Statement",
    "Write",
    "key_equalities",
    "malformed",
    "parse",
]

_TOKEN: Final = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<quoted>\"(?:[^\"]|\"\")*\")"
    r"|(?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><<|>>|<>|!=|<=|>=|[=<>(),.\[\]{}:?+\-*]))"
)
_COMPARATORS: Final = {"=": "=", "<>": "<>", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_FUNCTIONS: Final = frozenset({"begins_with", "contains", "attribute_type"})
_RETURNING: Final = frozenset({"ALL OLD", "MODIFIED OLD", "ALL NEW", "MODIFIED NEW"})


@dataclass(frozen=True, slots=True)
class Select:
    table: str
    index: str | None
    projection: tuple[Path, ...] | None  # None: *
    where: Condition | None
    descending: bool | None = None  # ORDER BY's direction; None: no ORDER BY


@dataclass(frozen=True, slots=True)
class Exists:
    """``EXISTS(SELECT * FROM table WHERE …)``: a write transaction's condition check on the
    item its WHERE's key names."""

    select: Select


@dataclass(frozen=True, slots=True)
class Insert:
    table: str
    item: Item


@dataclass(frozen=True, slots=True)
class Write:
    """An UPDATE (``update`` set) or a DELETE of the item its WHERE names."""

    table: str
    where: Condition
    update: Update | None = None
    returning: str | None = None  # "ALL OLD", "MODIFIED NEW"…


Statement = Select | Insert | Write | Exists


def malformed(detail: str) -> ValidationError:
    return ValidationError(f"Statement wasn't well formed, can't be processed: {detail}")


class _Parser(TokenParser):
    def __init__(self, text: str, parameters: Sequence[object]) -> None:
        self.parameters = parameters
        self.used = 0
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip().rstrip(";").rstrip()
        if not text:
            raise malformed("Empty statement")
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                raise malformed(f"Unexpected character: {text[position:].strip()[:1]!r}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            position = match.end()
        self.index = 0

    # --- tokens -----------------------------------------------------------------------------

    def unexpected(self) -> ValidationError:
        kind, text = self.peek()
        if kind == "end":
            return malformed("Unexpected end of statement")
        return malformed(f"Unexpected token: {text[:64]}")

    def require(self, *words: str) -> None:
        if not self.keyword(*words):
            raise self.unexpected()

    # --- names and paths --------------------------------------------------------------------

    def identifier(self) -> str:
        kind, text = self.take()
        if kind == "word":
            return text
        if kind == "quoted" and len(text) > 2:
            return text[1:-1].replace('""', '"')
        self.index -= 1
        raise self.unexpected()

    def source(self) -> tuple[str, str | None]:
        table = self.identifier()
        if self.peek()[1] == ".":
            self.index += 1
            return table, self.identifier()
        return table, None

    def path(self) -> Path:
        elements: list[str | int] = [self.identifier()]
        while True:
            if self.peek()[1] == ".":
                self.index += 1
                elements.append(self.identifier())
            elif self.peek()[1] == "[":
                self.index += 1
                kind, text = self.take()
                if kind == "number" and text.isdigit():
                    elements.append(int(text))
                elif kind == "string":
                    elements.append(_string(text))
                else:
                    self.index -= 1
                    raise self.unexpected()
                self.expect("]")
            else:
                return Path(tuple(elements))

    # --- values -----------------------------------------------------------------------------

    def value(self) -> Value:
        kind, text = self.take()
        if kind == "string":
            return {"S": _string(text)}
        if kind == "number":
            return check_value({"N": text})
        if text == "-" and self.peek()[0] == "number":
            return check_value({"N": "-" + self.take()[1]})
        if text == "?":
            if self.used >= len(self.parameters):
                raise ValidationError("Number of parameters in request and statement don't match.")
            self.used += 1
            return check_value(self.parameters[self.used - 1])
        if kind == "word" and text.upper() in ("TRUE", "FALSE"):
            return {"BOOL": text.upper() == "TRUE"}
        if kind == "word" and text.upper() == "NULL":
            return {"NULL": True}
        if text == "[":
            return {"L": self.members("]")}
        if text == "{":
            mapped: dict[str, Value] = {}
            while self.peek()[1] != "}":
                name_kind, name = self.take()
                if name_kind not in ("string", "quoted"):
                    self.index -= 1
                    raise self.unexpected()
                self.expect(":")
                mapped[_string(name)] = self.value()
                if self.peek()[1] != ",":
                    break
                self.index += 1
            self.expect("}")
            return {"M": mapped}
        if text == "<<":
            return _set(self.members(">>"))
        self.index -= 1
        raise self.unexpected()

    def members(self, closing: str) -> list[Value]:
        listed: list[Value] = []
        while self.peek()[1] != closing:
            listed.append(self.value())
            if self.peek()[1] != ",":
                break
            self.index += 1
        self.expect(closing)
        return listed

    def is_value(self) -> bool:
        kind, text = self.peek()
        return (
            kind in ("string", "number")
            or text in ("?", "[", "{", "<<")
            or (text == "-" and self.peek(1)[0] == "number")
            or (kind == "word" and text.upper() in ("TRUE", "FALSE", "NULL"))
        )

    def operand(self) -> Operand:
        if self.is_value():
            return Literal(self.value())
        kind, text = self.peek()
        if kind == "word" and text.lower() == "size" and self.peek(1)[1] == "(":
            self.index += 2
            sized = Size(self.path())
            self.expect(")")
            return sized
        return self.path()

    # --- conditions -------------------------------------------------------------------------

    def predicate(self) -> Condition:
        kind, text = self.peek()
        if text == "(":
            self.index += 1
            inner = self.condition()
            self.expect(")")
            return inner
        if kind == "word" and text.lower() in _FUNCTIONS and self.peek(1)[1] == "(":
            self.index += 2
            path = self.path()
            self.expect(",")
            argument = self.operand()
            self.expect(")")
            return Function(text.lower(), (path, argument))
        subject = self.operand()
        operator = self.peek()[1]
        if operator in _COMPARATORS:
            self.index += 1
            return Compare(_COMPARATORS[operator], subject, self.operand())
        negated = self.keyword("NOT")
        condition: Condition
        if self.keyword("BETWEEN"):
            low = self.operand()
            self.require("AND")
            condition = Between(subject, low, self.operand())
        elif self.keyword("IN"):
            closing = {"(": ")", "[": "]"}.get(self.peek()[1])
            if closing is None:
                raise self.unexpected()
            self.index += 1
            choices = [Literal(v) for v in self.members(closing)]
            if not choices or len(choices) > 100:
                raise malformed(f"IN takes between 1 and 100 values, not {len(choices)}")
            condition = In(subject, tuple(choices))
        elif not negated and self.keyword("IS"):
            condition = self.is_test(subject)
        else:
            raise self.unexpected()
        return Not(condition) if negated else condition

    def is_test(self, subject: Operand) -> Condition:
        if not isinstance(subject, Path):
            raise malformed("IS needs a document path")
        negated = self.keyword("NOT")
        if self.keyword("MISSING"):
            name = "attribute_exists" if negated else "attribute_not_exists"
            return Function(name, (subject,))
        self.require("NULL")
        test = Function("attribute_type", (subject, Literal({"S": "NULL"})))
        return Not(test) if negated else test

    # --- statements -------------------------------------------------------------------------

    def statement(self) -> Statement:
        if self.keyword("SELECT"):
            return self.select()
        if self.peek()[0] == "word" and self.peek()[1].upper() == "EXISTS":
            self.index += 1
            self.expect("(")
            self.require("SELECT")
            select = self.select()
            self.expect(")")
            if select.index is not None or select.where is None:
                raise malformed("EXISTS checks one item of a table by its key")
            return Exists(select)
        if self.keyword("INSERT"):
            self.require("INTO")
            table = self.identifier()
            self.require("VALUE")
            item = self.value()
            if "M" not in item:
                raise malformed("INSERT takes a map of the item's attributes")
            return Insert(table, item["M"])
        if self.keyword("UPDATE"):
            return self.update()
        if self.keyword("DELETE"):
            self.require("FROM")
            table = self.identifier()
            self.require("WHERE")
            where = self.condition()
            returning = self.returning()
            if returning not in (None, "ALL OLD"):
                raise malformed("DELETE can only return ALL OLD *")
            return Write(table, where, None, returning)
        raise self.unexpected()

    def select(self) -> Select:
        projection: tuple[Path, ...] | None = None
        if self.peek()[1] == "*":
            self.index += 1
        else:
            paths = [self.path()]
            while self.peek()[1] == ",":
                self.index += 1
                paths.append(self.path())
            projection = tuple(paths)
        self.require("FROM")
        table, index = self.source()
        where = self.condition() if self.keyword("WHERE") else None
        descending = None
        if self.keyword("ORDER", "BY"):
            self.path()  # the sort key: what orders a query, whichever is named
            descending = self.keyword("DESC")
            if not descending:
                self.keyword("ASC")
        return Select(table, index, projection, where, descending)

    def update(self) -> Write:
        table = self.identifier()
        actions: list[UpdateAction] = []
        while True:
            if self.keyword("SET"):
                actions.append(self.assignment())
                while self.peek()[1] == ",":
                    self.index += 1
                    actions.append(self.assignment())
            elif self.keyword("REMOVE"):
                actions.append(UpdateAction("REMOVE", self.path()))
                while self.peek()[1] == ",":
                    self.index += 1
                    actions.append(UpdateAction("REMOVE", self.path()))
            else:
                break
        if not actions:
            raise self.unexpected()
        for i, action in enumerate(actions):  # as an UpdateExpression's, no path twice
            for other in actions[:i]:
                shorter = min(len(action.path.elements), len(other.path.elements))
                if action.path.elements[:shorter] == other.path.elements[:shorter]:
                    raise ValidationError(
                        "Two document paths overlap with each other; must remove or rewrite "
                        f"one of these paths; path one: [{other.path}], path two: [{action.path}]"
                    )
        self.require("WHERE")
        where = self.condition()
        return Write(table, where, Update(tuple(actions)), self.returning())

    def assignment(self) -> UpdateAction:
        path = self.path()
        self.expect("=")
        kind, text = self.peek()
        if kind == "word" and text.lower() in ("set_add", "set_delete") and self.peek(1)[1] == "(":
            self.index += 2
            if self.path() != path:
                raise malformed(f"{text.lower()} must name the path it assigns")
            self.expect(",")
            members = self.value()
            self.expect(")")
            return UpdateAction("ADD" if text.lower() == "set_add" else "DELETE", path,
                                Literal(members))  # fmt: skip
        value = self.term()
        if self.peek()[1] in ("+", "-"):
            operator = self.take()[1]
            value = Arithmetic(operator, value, self.term())
        return UpdateAction("SET", path, value)

    def term(self) -> Operand:
        kind, text = self.peek()
        function = text.lower()
        if kind == "word" and function in ("list_append", "if_not_exists"):
            if self.peek(1)[1] == "(":
                self.index += 2
                first = self.path() if function == "if_not_exists" else self.term()
                self.expect(",")
                second = self.term()
                self.expect(")")
                if isinstance(first, Path) and function == "if_not_exists":
                    return IfNotExists(first, second)
                return ListAppend(first, second)
        if self.is_value():
            return Literal(self.value())
        return self.path()

    def returning(self) -> str | None:
        if not self.keyword("RETURNING"):
            return None
        chosen = f"{self.identifier().upper()} {self.identifier().upper()}"
        if chosen not in _RETURNING:
            raise malformed(f"Unexpected RETURNING {chosen}")
        self.expect("*")
        return chosen


def _string(token: str) -> str:
    quote = token[0]
    return token[1:-1].replace(quote * 2, quote)


def _set(members: list[Value]) -> Value:
    kinds = {next(iter(m)) for m in members}
    if len(kinds) != 1 or not kinds <= {"S", "N", "B"}:
        raise malformed("A set holds strings, numbers or binaries, all of one kind, at least one")
    kind = kinds.pop()
    return check_value({kind + "S": [m[kind] for m in members]})


def parse(text: str, parameters: Sequence[object] = ()) -> Statement:
    """``text`` parsed, its ``?`` bound to ``parameters`` (exactly as many)."""
    parser = _Parser(text, parameters)
    statement = parser.statement()
    parser.done()
    if parser.used != len(parameters):
        raise ValidationError("Number of parameters in request and statement don't match.")
    return statement


def key_equalities(condition: Condition | None) -> dict[str, Value]:
    """The top-level attributes a condition's AND-ed parts set equal to a value."""
    if condition is None:
        return {}
    if isinstance(condition, Logical):
        if condition.operator != "AND":
            return {}
        return key_equalities(condition.left) | key_equalities(condition.right)
    if isinstance(condition, Compare) and condition.operator == "=":
        for path, value in ((condition.left, condition.right), (condition.right, condition.left)):
            if isinstance(path, Path) and len(path.elements) == 1 and isinstance(value, Literal):
                return {str(path.elements[0]): value.value}
    return {}
