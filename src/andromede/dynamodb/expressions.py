"""DynamoDB's expression languages parsed (decision 0237): condition, filter and key
condition expressions, projection expressions and update expressions, by one small
recursive-descent parser over one tokenizer.

``#name`` placeholders and ``:value`` references are resolved while parsing, against the
call's ``ExpressionAttributeNames`` and ``ExpressionAttributeValues``; the parser records
which it used, so that the call can refuse those left unused as DynamoDB does. Every
refusal is a ``ValidationError`` in DynamoDB's words ("Invalid ConditionExpression: Syntax
error; token: …").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.values import Value, check_value

__all__ = [
    "Between",
    "Compare",
    "Condition",
    "Function",
    "In",
    "Logical",
    "Not",
    "Operand",
    "Path",
    "Placeholders",
    "Size",
    "TokenParser",
    "Update",
    "UpdateAction",
    "parse_condition",
    "parse_projection",
    "parse_update",
]

_TOKEN: Final = re.compile(
    r"\s*(?:(?P<name>#[A-Za-z0-9_]+)|(?P<value>:[A-Za-z0-9_]+)|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<int>\d+)|(?P<op><>|<=|>=|[=<>(),.\[\]+\-]))"
)
_RESERVED_FUNCTIONS: Final = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
COMPARATORS: Final = frozenset({"=", "<>", "<", "<=", ">", ">="})


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: a top-level name, then map keys (str) and list indexes (int)."""

    elements: tuple[str | int, ...]

    def __str__(self) -> str:
        text = ""
        for element in self.elements:
            text += f"[{element}]" if isinstance(element, int) else f".{element}"
        return text.lstrip(".")


@dataclass(frozen=True, slots=True)
class Size:
    path: Path


@dataclass(frozen=True, slots=True)
class Literal:
    value: Value


@dataclass(frozen=True, slots=True)
class IfNotExists:
    path: Path
    default: Operand


@dataclass(frozen=True, slots=True)
class ListAppend:
    first: Operand
    second: Operand


@dataclass(frozen=True, slots=True)
class Arithmetic:
    operator: str
    left: Operand
    right: Operand


Operand = Path | Size | Literal | IfNotExists | ListAppend | Arithmetic


@dataclass(frozen=True, slots=True)
class Compare:
    operator: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    subject: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    subject: Operand
    choices: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    arguments: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Logical:
    operator: str  # AND, OR
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Compare | Between | In | Function | Logical | Not


@dataclass(frozen=True, slots=True)
class UpdateAction:
    verb: str  # SET, REMOVE, ADD, DELETE
    path: Path
    value: Operand | None = None


@dataclass(frozen=True, slots=True)
class Update:
    actions: tuple[UpdateAction, ...]


@dataclass
class Placeholders:
    """The call's names and values, and which of them its expressions used."""

    names: Mapping[str, str]
    values: Mapping[str, object]
    used_names: set[str] = field(default_factory=set)
    used_values: set[str] = field(default_factory=set)

    def check_all_used(self) -> None:
        unused_names = sorted(set(self.names) - self.used_names)
        if unused_names:
            raise ValidationError(
                "Value provided in ExpressionAttributeNames unused in "
                f"expressions: keys: {{{', '.join(unused_names)}}}"
            )
        unused_values = sorted(set(self.values) - self.used_values)
        if unused_values:
            raise ValidationError(
                "Value provided in ExpressionAttributeValues unused in "
                f"expressions: keys: {{{', '.join(unused_values)}}}"
            )


class TokenParser:
    """The token cursor and the boolean grammar (``OR`` over ``AND`` over ``NOT``) shared by
    the expression parser here and PartiQL's (``partiql.py``); each says what a predicate is
    and how a syntax error reads in its own language."""

    tokens: list[tuple[str, str]]
    index: int

    def unexpected(self) -> ValidationError:
        raise NotImplementedError

    def predicate(self) -> Condition:
        raise NotImplementedError

    def peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.index + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "")

    def take(self) -> tuple[str, str]:
        token = self.peek()
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        if self.peek()[1] != text:
            raise self.unexpected()
        self.index += 1

    def keyword(self, *words: str) -> bool:
        """Whether the next tokens are ``words`` (case-insensitive), taken if they are."""
        for offset, word in enumerate(words):
            kind, text = self.peek(offset)
            if kind != "word" or text.upper() != word:
                return False
        self.index += len(words)
        return True

    def done(self) -> None:
        if self.peek()[0] != "end":
            raise self.unexpected()

    def condition(self) -> Condition:
        left = self.conjunction()
        while self.keyword("OR"):
            left = Logical("OR", left, self.conjunction())
        return left

    def conjunction(self) -> Condition:
        left = self.negation()
        while self.keyword("AND"):
            left = Logical("AND", left, self.negation())
        return left

    def negation(self) -> Condition:
        if self.keyword("NOT"):
            return Not(self.negation())
        return self.predicate()


class _Parser(TokenParser):
    def __init__(self, text: str, kind: str, placeholders: Placeholders) -> None:
        self.kind = kind
        self.placeholders = placeholders
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        if not text:
            raise ValidationError(f"Invalid {kind}: The expression can not be empty;")
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.end() == position:
                bad = text[position:].strip()[:1]
                raise ValidationError(
                    f'Invalid {kind}: Syntax error; token: "{bad}", near: '
                    f'"{text[max(0, position - 8) : position + 8].strip()}"'
                )
            group = match.lastgroup or ""
            self.tokens.append((group, match.group(group)))
            position = match.end()
        self.index = 0

    def unexpected(self) -> ValidationError:
        kind, text = self.peek()
        shown = "<EOF>" if kind == "end" else text
        return ValidationError(f'Invalid {self.kind}: Syntax error; token: "{shown}"')

    # --- operands ---------------------------------------------------------------------------

    def name(self) -> str:
        kind, text = self.take()
        if kind == "name":
            if text not in self.placeholders.names:
                raise ValidationError(
                    f"Invalid {self.kind}: An expression attribute name used "
                    f"in the document path is not defined; attribute name: "
                    f"{text}"
                )
            self.placeholders.used_names.add(text)
            return self.placeholders.names[text]
        if kind == "word":
            return text
        self.index -= 1
        raise self.unexpected()

    def path(self) -> Path:
        elements: list[str | int] = [self.name()]
        while True:
            if self.peek()[1] == ".":
                self.index += 1
                elements.append(self.name())
            elif self.peek()[1] == "[":
                self.index += 1
                kind, text = self.take()
                if kind != "int":
                    self.index -= 1
                    raise self.unexpected()
                elements.append(int(text))
                self.expect("]")
            else:
                return Path(tuple(elements))

    def value(self) -> Literal:
        _, text = self.take()
        if text not in self.placeholders.values:
            raise ValidationError(
                f"Invalid {self.kind}: An expression attribute value used in "
                f"expression is not defined; attribute value: {text}"
            )
        self.placeholders.used_values.add(text)
        return Literal(check_value(self.placeholders.values[text]))

    def operand(self, updating: bool = False) -> Operand:
        kind, text = self.peek()
        if kind == "value":
            return self.value()
        if kind == "word" and self.peek(1)[1] == "(":
            function = text
            self.index += 2
            operand: Operand
            if function == "size" and not updating:
                operand = Size(self.path())
            elif function == "if_not_exists" and updating:
                path = self.path()
                self.expect(",")
                operand = IfNotExists(path, self.operand(updating))
            elif function == "list_append" and updating:
                first = self.operand(updating)
                self.expect(",")
                operand = ListAppend(first, self.operand(updating))
            else:
                raise ValidationError(
                    f"Invalid {self.kind}: Invalid function name; function: {function}"
                )
            self.expect(")")
            return operand
        if kind in ("word", "name"):
            return self.path()
        raise self.unexpected()

    # --- conditions -------------------------------------------------------------------------

    def predicate(self) -> Condition:
        kind, text = self.peek()
        if text == "(":
            self.index += 1
            inner = self.condition()
            self.expect(")")
            return inner
        if kind == "word" and self.peek(1)[1] == "(" and text in _RESERVED_FUNCTIONS:
            self.index += 2
            arguments = [self.operand()]
            while self.peek()[1] == ",":
                self.index += 1
                arguments.append(self.operand())
            self.expect(")")
            return self.function(text, tuple(arguments))
        subject = self.operand()
        _, operator = self.peek()
        if operator in COMPARATORS:
            self.index += 1
            return Compare(operator, subject, self.operand())
        if self.keyword("BETWEEN"):
            low = self.operand()
            if not self.keyword("AND"):
                raise self.unexpected()
            return Between(subject, low, self.operand())
        if self.keyword("IN"):
            self.expect("(")
            choices = [self.operand()]
            while self.peek()[1] == ",":
                self.index += 1
                choices.append(self.operand())
            self.expect(")")
            if len(choices) > 100:
                raise ValidationError(
                    f"Invalid {self.kind}: The IN operator is provided with too "
                    "many operands; number of operands: "
                    f"{len(choices)}"
                )
            return In(subject, tuple(choices))
        raise self.unexpected()

    def function(self, name: str, arguments: tuple[Operand, ...]) -> Function:
        wanted = 1 if name in ("attribute_exists", "attribute_not_exists") else 2
        if len(arguments) != wanted:
            raise ValidationError(
                f"Invalid {self.kind}: Incorrect number of operands for "
                f"operator or function; operator or function: {name}, "
                f"number of operands: {len(arguments)}"
            )
        if not isinstance(arguments[0], Path):
            raise ValidationError(
                f"Invalid {self.kind}: Operator or function requires a "
                f"document path; operator or function: {name}"
            )
        return Function(name, arguments)

    # --- updates ----------------------------------------------------------------------------

    def update(self) -> Update:
        actions: list[UpdateAction] = []
        seen: set[str] = set()
        while self.peek()[0] != "end":
            kind, text = self.take()
            verb = text.upper()
            if kind != "word" or verb not in ("SET", "REMOVE", "ADD", "DELETE"):
                self.index -= 1
                raise self.unexpected()
            if verb in seen:
                raise ValidationError(
                    f'Invalid {self.kind}: The "{verb}" section can only be '
                    "used once in an update expression;"
                )
            seen.add(verb)
            while True:
                actions.append(self.action(verb))
                if self.peek()[1] != ",":
                    break
                self.index += 1
        return Update(tuple(actions))

    def action(self, verb: str) -> UpdateAction:
        path = self.path()
        if verb == "REMOVE":
            return UpdateAction(verb, path)
        if verb == "SET":
            self.expect("=")
            value = self.operand(updating=True)
            _, operator = self.peek()
            if operator in ("+", "-"):
                self.index += 1
                value = Arithmetic(operator, value, self.operand(updating=True))
            return UpdateAction(verb, path, value)
        if self.peek()[0] != "value":
            raise self.unexpected()
        return UpdateAction(verb, path, self.value())


def parse_condition(text: str, kind: str, placeholders: Placeholders) -> Condition:
    """A condition, filter or key condition expression (``kind`` names it in errors)."""
    parser = _Parser(text, kind, placeholders)
    condition = parser.condition()
    parser.done()
    return condition


def parse_projection(text: str, placeholders: Placeholders) -> tuple[Path, ...]:
    parser = _Parser(text, "ProjectionExpression", placeholders)
    paths = [parser.path()]
    while parser.peek()[1] == ",":
        parser.index += 1
        paths.append(parser.path())
    parser.done()
    return tuple(paths)


def parse_update(text: str, placeholders: Placeholders) -> Update:
    parser = _Parser(text, "UpdateExpression", placeholders)
    update = parser.update()
    seen: list[Path] = []
    for action in update.actions:
        for other in seen:
            shorter = min(len(action.path.elements), len(other.elements))
            if action.path.elements[:shorter] == other.elements[:shorter]:
                raise ValidationError(
                    "Invalid UpdateExpression: Two document paths overlap with "
                    f"each other; must remove or rewrite one of these paths; "
                    f"path one: [{other}], path two: "
                    f"[{action.path}]"
                )
        seen.append(action.path)
    return update
