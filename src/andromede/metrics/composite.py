"""The pure core of CloudWatch composite alarms (decision 0184): a recursive descent parser
of AWS's ``AlarmRule`` language and its evaluation over the states of the alarms it names.

The grammar (AWS's functions and operators; NOT binds tighter than AND, AND than OR, as
the usual reading of AWS's examples has it)::

    rule    := or
    or      := and ("OR" and)*
    and     := not ("AND" not)*
    not     := "NOT" not | primary
    primary := "(" rule ")" | "TRUE" | "FALSE" | STATE "(" alarm ")"
    STATE   := "ALARM" | "OK" | "INSUFFICIENT_DATA"
    alarm   := a name in double quotes, or bare up to ")", or the alarm's ARN

A rule is kept as the text the caller gave (DescribeAlarms answers it back unchanged) and
parsed again where it is evaluated: the tree is small and parsing is linear.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from andromede.metrics.errors import InvalidParameterValue

__all__ = [
    "MAX_RULE_LENGTH",
    "Node",
    "children",
    "evaluate_rule",
    "parse_rule",
]

MAX_RULE_LENGTH: Final = 10240
_STATES: Final = ("ALARM", "OK", "INSUFFICIENT_DATA")


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a parsed rule: ``const`` (value), ``state`` (state, alarm), ``not``,
    ``and``, ``or`` (operands)."""

    kind: str
    value: bool = False
    state: str = ""
    alarm: str = ""
    operands: tuple[Node, ...] = ()


class _Parser:
    def __init__(self, text: str, region: str, tenant_id: str) -> None:
        self.text = text
        self.at = 0
        self.arn = f"arn:aws:cloudwatch:{region}:{tenant_id}:alarm:"

    def fail(self, why: str) -> InvalidParameterValue:
        return InvalidParameterValue(f"Error in alarm rule at position {self.at}: {why}.")

    def skip(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def peek_word(self) -> str:
        self.skip()
        end = self.at
        while end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
            end += 1
        return self.text[self.at : end]

    def take(self, token: str) -> bool:
        self.skip()
        if not self.text.startswith(token, self.at):
            return False
        end = self.at + len(token)
        # A keyword is a whole word: ``ORDERS`` is not ``OR``.
        if (
            token.isalpha()
            and end < len(self.text)
            and (self.text[end].isalnum() or self.text[end] == "_")
        ):
            return False
        self.at = end
        return True

    def rule(self) -> Node:
        node = self.disjunction()
        self.skip()
        if self.at != len(self.text):
            raise self.fail(f"unexpected {self.text[self.at : self.at + 20]!r}")
        return node

    def disjunction(self) -> Node:
        operands = [self.conjunction()]
        while self.take("OR"):
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else Node("or", operands=tuple(operands))

    def conjunction(self) -> Node:
        operands = [self.negation()]
        while self.take("AND"):
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Node("and", operands=tuple(operands))

    def negation(self) -> Node:
        if self.take("NOT"):
            return Node("not", operands=(self.negation(),))
        return self.primary()

    def primary(self) -> Node:
        if self.take("("):
            node = self.disjunction()
            if not self.take(")"):
                raise self.fail("a closing parenthesis is missing")
            return node
        word = self.peek_word()
        if word in ("TRUE", "FALSE"):
            self.take(word)
            return Node("const", value=word == "TRUE")
        if word in _STATES:
            self.take(word)
            if not self.take("("):
                raise self.fail(f"{word} takes an alarm in parentheses")
            name = self.alarm_name()
            if not self.take(")"):
                raise self.fail("a closing parenthesis is missing")
            return Node("state", state=word, alarm=name)
        if self.at >= len(self.text):
            raise self.fail("the rule ends too early")
        raise self.fail(f"expected ALARM, OK, INSUFFICIENT_DATA, TRUE, FALSE, NOT or '(' "
                        f"at {self.text[self.at : self.at + 20]!r}")  # fmt: skip

    def alarm_name(self) -> str:
        self.skip()
        if self.take('"'):
            end = self.text.find('"', self.at)
            if end < 0:
                raise self.fail("a closing quote is missing")
            name = self.text[self.at : end]
            self.at = end + 1
        else:
            end = self.text.find(")", self.at)
            if end < 0:
                raise self.fail("a closing parenthesis is missing")
            name = self.text[self.at : end].strip()
            self.at = end
        if name.startswith("arn:"):
            if not name.startswith(self.arn) or len(name) == len(self.arn):
                raise self.fail(f"{name[:256]} is not an alarm of this account and region")
            name = name[len(self.arn) :]
        if not 1 <= len(name) <= 255:
            raise self.fail("an alarm name is 1 to 255 characters")
        return name


def parse_rule(text: str, region: str, tenant_id: str) -> Node:
    """The tree of ``text``; InvalidParameterValue (AWS's ValidationError text) if it is not
    a rule, longer than 10,240 characters, or names more than 100 alarms."""
    if not 1 <= len(text) <= MAX_RULE_LENGTH:
        raise InvalidParameterValue(f"AlarmRule must be 1 to {MAX_RULE_LENGTH} characters long.")
    node = _Parser(text, region, tenant_id).rule()
    if len(children(node)) > 100:
        raise InvalidParameterValue("An AlarmRule may name 100 alarms at most.")
    return node


def children(node: Node) -> list[str]:
    """The alarms a rule names, each once, in the rule's order."""
    found: dict[str, None] = {}

    def walk(n: Node) -> None:
        if n.kind == "state":
            found[n.alarm] = None
        for operand in n.operands:
            walk(operand)

    walk(node)
    return list(found)


def evaluate_rule(node: Node, states: Mapping[str, str]) -> bool:
    """Whether the rule holds given the named alarms' states (an alarm absent from
    ``states`` is in no state: each of its functions is FALSE)."""
    if node.kind == "const":
        return node.value
    if node.kind == "state":
        return states.get(node.alarm) == node.state
    if node.kind == "not":
        return not evaluate_rule(node.operands[0], states)
    if node.kind == "and":
        return all(evaluate_rule(o, states) for o in node.operands)
    return any(evaluate_rule(o, states) for o in node.operands)
