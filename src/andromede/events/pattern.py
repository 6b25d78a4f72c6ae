"""EventBridge's event pattern language (decision 0192): a pattern parsed and checked once
(:func:`compile_pattern`), then matched against events (:meth:`EventPattern.matches`).

The language is AWS's documented one ("Content filtering in Amazon EventBridge event
patterns", "Comparison operators"): a pattern is a JSON object whose leaves are arrays of
conditions, any of which may match (OR), the fields of an object all having to match (AND),
``$or`` listing alternative sub-patterns at any level. A condition is an exact value (string,
number, ``true``, ``false``, ``null``) or an object of one operator: ``prefix`` and ``suffix``
(of a string, or ``{"equals-ignore-case": …}`` of one), ``equals-ignore-case``,
``anything-but`` (a value, a list of strings or of numbers, or ``prefix``, ``suffix``,
``equals-ignore-case``, ``wildcard`` of one string or a list), ``numeric`` (one comparison
``=``, or a lower bound then an upper one), ``exists``, ``cidr`` (IPv4 or IPv6) and
``wildcard`` (``*`` for any run of characters, ``\\*`` for a star).

How an event is read, as EventBridge reads it: a field is matched on its leaf values, an
array standing for each of its elements (so ``"a": ["x"]`` matches ``"a": ["x", "y"]``); a field
whose value is an object has no leaf value (operators apply to leaves only), so ``exists``
is false there; an array of objects matches a nested pattern when one of its elements
matches it whole, so that fields of one element are not paired with another's. Numbers
compare as numbers (``300`` matches ``300.0``), never as strings, and a string never matches a
number.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.events.errors import InvalidEventPattern

__all__ = ["EventPattern", "compile_pattern"]

_MISSING: Final = object()
_COMPARISONS: Final[dict[str, Callable[[float, float], bool]]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_LOWER: Final = frozenset({">", ">="})
_UPPER: Final = frozenset({"<", "<="})
# Pattern nesting is bounded so that checking a pattern cannot exhaust the stack.
_MAX_DEPTH: Final = 32

Test = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class _Leaf:
    """One field's conditions, any of which may match; ``exists`` is kept apart because it
    reads whether the field has leaf values, not what they are."""

    tests: tuple[Test, ...]
    exists: tuple[bool, ...] = ()

    def matches(self, values: list[Any]) -> bool:
        if any(wanted == bool(values) for wanted in self.exists):
            return True
        return any(test(value) for test in self.tests for value in values)


@dataclass(frozen=True, slots=True)
class _Object:
    fields: dict[str, _Object | _Leaf] = field(default_factory=dict)
    alternatives: tuple[tuple[_Object, ...], ...] = ()

    def matches(self, value: Any) -> bool:
        members = value if isinstance(value, dict) else {}
        for name, child in self.fields.items():
            found = members.get(name, _MISSING)
            if isinstance(child, _Leaf):
                if not child.matches(_leaf_values(found)):
                    return False
            elif isinstance(found, list):
                objects: list[Any] = [one for one in _flatten(found) if isinstance(one, dict)]
                if not any(child.matches(one) for one in objects or [_MISSING]):
                    return False
            elif not child.matches(found):
                return False
        return all(any(one.matches(value) for one in group) for group in self.alternatives)


@dataclass(frozen=True, slots=True)
class EventPattern:
    """A checked event pattern; ``text`` is the client's, as given."""

    text: str
    root: _Object

    def matches(self, event: dict[str, Any]) -> bool:
        return self.root.matches(event)


def compile_pattern(text: str, *, max_length: int = 4096) -> EventPattern:
    """The pattern ``text`` says, or InvalidEventPattern with AWS's kind of reason."""
    if len(text) > max_length:
        raise InvalidEventPattern(f"The pattern is longer than {max_length} characters.")
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidEventPattern("The pattern is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise InvalidEventPattern("Filter is not an object")
    return EventPattern(text, _object(document, 0))


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _object(document: dict[str, Any], depth: int) -> _Object:
    if depth > _MAX_DEPTH:
        raise InvalidEventPattern("The pattern nests too deeply.")
    fields: dict[str, _Object | _Leaf] = {}
    alternatives: list[tuple[_Object, ...]] = []
    for name, value in document.items():
        if name == "$or":
            alternatives.append(_alternatives(value, depth))
        elif isinstance(value, dict):
            fields[name] = _object(value, depth + 1)
        elif isinstance(value, list):
            fields[name] = _leaf(name, value)
        else:
            raise InvalidEventPattern(
                f'"{name}" must be an object or an array, not {_json_kind(value)}'
            )
    return _Object(fields, tuple(alternatives))


def _alternatives(value: Any, depth: int) -> tuple[_Object, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise InvalidEventPattern('"$or" must be an array of at least two objects')
    if not all(isinstance(one, dict) and one for one in value):
        raise InvalidEventPattern('Every "$or" alternative must be a non-empty object')
    return tuple(_object(one, depth + 1) for one in value)


def _leaf(name: str, conditions: list[Any]) -> _Leaf:
    if not conditions:
        raise InvalidEventPattern(f'Empty arrays are not allowed ("{name}")')
    tests: list[Test] = []
    exists: list[bool] = []
    for condition in conditions:
        if isinstance(condition, dict):
            if len(condition) != 1:
                raise InvalidEventPattern(
                    f'A match expression of "{name}" must have exactly one operator'
                )
            operator, argument = next(iter(condition.items()))
            if operator == "exists":
                if not isinstance(argument, bool):
                    raise InvalidEventPattern('"exists" takes true or false')
                exists.append(argument)
            else:
                tests.append(_operator(operator, argument))
        elif isinstance(condition, list):
            raise InvalidEventPattern(f'Match value of "{name}" must not be an array')
        else:
            tests.append(_exact(condition))
    return _Leaf(tuple(tests), tuple(exists))


def _operator(operator: str, argument: Any) -> Test:
    match operator:
        case "prefix":
            return _affix(operator, argument, str.startswith)
        case "suffix":
            return _affix(operator, argument, str.endswith)
        case "equals-ignore-case":
            wanted = _string(operator, argument).lower()
            return lambda value: isinstance(value, str) and value.lower() == wanted
        case "anything-but":
            return _anything_but(argument)
        case "numeric":
            return _numeric(argument)
        case "cidr":
            return _cidr(argument)
        case "wildcard":
            return _wildcard(_string(operator, argument))
        case _:
            raise InvalidEventPattern(f'Unrecognized match type "{str(operator)[:64]}"')


def _exact(wanted: Any) -> Test:
    if isinstance(wanted, bool) or wanted is None:
        return lambda value: value is wanted
    if isinstance(wanted, int | float):
        number = _finite(wanted)
        return lambda value: _is_number(value) and value == number
    return lambda value: isinstance(value, str) and value == wanted


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _finite(number: float) -> float:
    if not math.isfinite(number):
        raise InvalidEventPattern("Numbers must be finite")
    return number


def _string(operator: str, argument: Any) -> str:
    if not isinstance(argument, str):
        raise InvalidEventPattern(f'"{operator}" match pattern must be a string')
    return argument


def _affix(operator: str, argument: Any, check: Callable[[str, str], bool]) -> Test:
    if isinstance(argument, dict):
        if set(argument) != {"equals-ignore-case"}:
            raise InvalidEventPattern(
                f'"{operator}" takes a string or an "equals-ignore-case" object'
            )
        wanted = _string(operator, argument["equals-ignore-case"]).lower()
        return lambda value: isinstance(value, str) and check(value.lower(), wanted)
    text = _string(operator, argument)
    return lambda value: isinstance(value, str) and check(value, text)


def _anything_but(argument: Any) -> Test:
    """Matches a leaf value that none of the argument's values or operators match."""
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise InvalidEventPattern('"anything-but" takes one operator')
        operator, inner = next(iter(argument.items()))
        if operator not in ("prefix", "suffix", "equals-ignore-case", "wildcard"):
            raise InvalidEventPattern(f'Unsupported "anything-but" operator "{str(operator)[:64]}"')
        options = inner if isinstance(inner, list) else [inner]
        if operator in ("prefix", "suffix") and isinstance(inner, list):
            raise InvalidEventPattern(f'"anything-but" "{operator}" takes one string')
        if not options:
            raise InvalidEventPattern('Empty arrays are not allowed in "anything-but"')
        refused = [_operator(operator, one) for one in options]
        # The string operators speak of strings only: a number is neither refused nor let in.
        return lambda value: isinstance(value, str) and not any(t(value) for t in refused)
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise InvalidEventPattern('Empty arrays are not allowed in "anything-but"')
    strings = all(isinstance(one, str) for one in values)
    numbers = all(_is_number(one) for one in values)
    if not (strings or numbers):
        raise InvalidEventPattern(
            '"anything-but" takes a string, a number, or a list of only strings or only numbers'
        )
    excluded = [_exact(one) for one in values]
    return lambda value: not any(test(value) for test in excluded)


def _numeric(argument: Any) -> Test:
    if not isinstance(argument, list) or len(argument) not in (2, 4):
        raise InvalidEventPattern('"numeric" takes [op, number] or [lower op, n, upper op, m]')
    pairs: list[tuple[str, float]] = []
    for index in range(0, len(argument), 2):
        operator, number = argument[index], argument[index + 1]
        if operator not in _COMPARISONS:
            raise InvalidEventPattern(f'Unrecognized numeric range operator "{operator}"')
        if not _is_number(number):
            raise InvalidEventPattern(f'Value of "{operator}" must be a number')
        pairs.append((operator, _finite(number)))
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in _LOWER or high_op not in _UPPER:
            raise InvalidEventPattern('A numeric range is a lower bound (">", ">=") then an upper')
        if low >= high:
            raise InvalidEventPattern("Bottom must be less than top")
    comparisons = [(_COMPARISONS[op], bound) for op, bound in pairs]
    return lambda value: _is_number(value) and all(cmp(value, b) for cmp, b in comparisons)


def _cidr(argument: Any) -> Test:
    text = _string("cidr", argument)
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise InvalidEventPattern(f'Malformed CIDR "{text[:64]}"') from exc

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return False
        return address.version == network.version and address in network

    return test


def _wildcard(text: str) -> Test:
    """``*`` any run of characters, ``\\*`` a star and ``\\\\`` a backslash; two stars in a
    row, or another escape, are refused as AWS refuses them."""
    parts: list[str] = []
    index = 0
    previous_star = False
    while index < len(text):
        char = text[index]
        if char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise InvalidEventPattern("Invalid escape in a wildcard pattern")
            parts.append(re.escape(following))
            index += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise InvalidEventPattern("Consecutive wildcard characters are not allowed")
            parts.append(".*")
            previous_star = True
        else:
            parts.append(re.escape(char))
            previous_star = False
        index += 1
    compiled = re.compile("".join(parts), re.DOTALL)
    return lambda value: isinstance(value, str) and compiled.fullmatch(value) is not None


def _flatten(values: list[Any]) -> list[Any]:
    """The non-array members of nested arrays, in order; iterative, so that an event's deep
    nesting cannot exhaust the stack."""
    flat: list[Any] = []
    stack: list[Any] = [iter(values)]
    while stack:
        for one in stack[-1]:
            if isinstance(one, list):
                stack.append(iter(one))
                break
            flat.append(one)
        else:
            stack.pop()
    return flat


def _leaf_values(found: Any) -> list[Any]:
    """A field's leaf values: none when absent or an object, each scalar of an array."""
    if found is _MISSING or isinstance(found, dict):
        return []
    if isinstance(found, list):
        return [one for one in _flatten(found) if not isinstance(one, dict)]
    return [found]


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"
