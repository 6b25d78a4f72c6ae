"""SNS subscription filter policies (decision 0163): AWS's language, checked when set and
matched at each Publish. Pure: no I/O.

A policy is a JSON object; every key must match (AND), and a key matches when any of its
array's conditions does (OR). Conditions: an exact string or number, ``{"prefix": s}``,
``{"suffix": s}``, ``{"equals-ignore-case": s}``, ``{"anything-but": v | [v…] |
{"prefix": s}}``, ``{"numeric": [op, n (, op, n)]}`` and ``{"exists": bool}``. With scope
``MessageAttributes`` the keys are message attributes (a ``String.Array`` matching when any
element does; a ``Number`` only numeric conditions and exact numbers); with ``MessageBody``
the message is a JSON object and a key may hold a nested policy.

As on SNS, a key absent from the message matches only ``{"exists": false}``;
``anything-but`` needs the key present.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Final

from andromede.notifications.errors import InvalidTopic

__all__ = ["MAX_POLICY_LENGTH", "check_filter_policy", "matches"]

MAX_POLICY_LENGTH: Final = 256 * 1024  # SNS's bound for MessageBody scope
_MAX_KEYS: Final = 5  # SNS: at most five attribute names per policy
_MAX_COMBINATIONS: Final = 150  # SNS: the product of the values' counts
_NUMERIC_OPS: Final = frozenset({"=", "<", "<=", ">", ">="})
_OPERATORS: Final = frozenset(
    {"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"}
)

# A message attribute as matched: its DataType's family and its value (a list for arrays).
Attribute = tuple[str, object]


def _bad(reason: str) -> InvalidTopic:
    return InvalidTopic(f"Invalid parameter: FilterPolicy: {reason}")


def check_filter_policy(text: str, scope: str) -> dict[str, object]:
    """The policy parsed; InvalidTopic (AWS's InvalidParameter) when it cannot be taken."""
    if len(text.encode()) > MAX_POLICY_LENGTH:
        raise _bad("the policy is too long")
    try:
        policy = json.loads(text)
    except ValueError as exc:
        raise _bad("the policy is not JSON") from exc
    if not isinstance(policy, dict):
        raise _bad("the policy must be a JSON object")
    leaves = _check_object(policy, nested=scope == "MessageBody")
    if scope == "MessageAttributes" and len(policy) > _MAX_KEYS:
        raise _bad(f"at most {_MAX_KEYS} keys")
    if leaves > _MAX_COMBINATIONS:
        raise _bad(f"Filter policy is too complex (more than {_MAX_COMBINATIONS} combinations)")
    return policy


def _check_object(policy: Mapping[str, object], *, nested: bool) -> int:
    combinations = 1
    for key, value in policy.items():
        if isinstance(value, dict) and nested:
            combinations *= _check_object(value, nested=True)
            continue
        if not isinstance(value, list) or not value:
            raise _bad(f"the value of {key[:64]} must be a non-empty array")
        for condition in value:
            _check_condition(condition)
        combinations *= len(value)
    return combinations


def _check_condition(condition: object) -> None:
    if condition is None or isinstance(condition, str | bool):
        return
    if isinstance(condition, int | float):
        if not math.isfinite(condition):
            raise _bad("numbers must be finite")
        return
    if not isinstance(condition, dict) or len(condition) != 1:
        raise _bad("a condition is a value or an object of one operator")
    ((operator, operand),) = condition.items()
    if operator not in _OPERATORS:
        raise _bad(f"unrecognized match type {str(operator)[:32]}")
    if operator in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise _bad(f"{operator} match pattern must be a string")
    elif operator == "exists":
        if not isinstance(operand, bool):
            raise _bad("exists match pattern must be either true or false")
    elif operator == "numeric":
        _check_numeric(operand)
    elif isinstance(operand, dict):  # anything-but
        if set(operand) != {"prefix"} or not isinstance(operand["prefix"], str):
            raise _bad("anything-but takes a value, an array of values or a prefix")
    elif isinstance(operand, list):
        if not operand or not all(isinstance(v, str | int | float) for v in operand):
            raise _bad("anything-but's array holds strings or numbers")
    elif not isinstance(operand, str | int | float):
        raise _bad("anything-but takes a value, an array of values or a prefix")


def _check_numeric(operand: object) -> None:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise _bad("numeric takes [op, number] or [op, number, op, number]")
    for index in range(0, len(operand), 2):
        op, number = operand[index], operand[index + 1]
        if op not in _NUMERIC_OPS or isinstance(number, bool):
            raise _bad("unrecognized numeric range operator")
        if not isinstance(number, int | float) or not math.isfinite(number):
            raise _bad("numeric value must be a number")
    if len(operand) == 4 and (operand[0] not in (">", ">=") or operand[2] not in ("<", "<=")):
        raise _bad("a numeric range is [>|>=, low, <|<=, high]")


def matches(
    policy: Mapping[str, object],
    *,
    attributes: Mapping[str, Attribute] | None = None,
    body: object = None,
) -> bool:
    """Whether a message matches: by its ``attributes`` (scope MessageAttributes) or, when
    ``attributes`` is None, by its ``body`` (scope MessageBody; a body that is no JSON object
    matches no policy with keys)."""
    if attributes is not None:
        return all(_key_matches(conds, attributes.get(key)) for key, conds in policy.items())
    return _body_matches(policy, body)


def _body_matches(policy: Mapping[str, object], body: object) -> bool:
    if not isinstance(body, dict):
        return not policy
    for key, conditions in policy.items():
        value = body.get(key)
        if isinstance(conditions, dict):
            if not _body_matches(conditions, value):
                return False
            continue
        present: Attribute | None = None
        if key in body:
            present = ("Array", value) if isinstance(value, list) else ("Value", value)
        if not _key_matches(conditions, present):
            return False
    return True


def _key_matches(conditions: object, attribute: Attribute | None) -> bool:
    if not isinstance(conditions, list):
        return False
    if attribute is None:
        return any(c == {"exists": False} for c in conditions)
    family, value = attribute
    values = value if family == "Array" and isinstance(value, list) else [value]
    return any(_one(condition, v, family) for condition in conditions for v in values)


def _number(value: object, family: str) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if family == "Number" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _one(condition: object, value: object, family: str) -> bool:
    if isinstance(condition, dict):
        ((operator, operand),) = condition.items()
        if operator == "exists":
            return operand is True
        if operator == "numeric":
            number = _number(value, family)
            return number is not None and _in_range(operand, number)
        if operator == "anything-but":
            return not _anything_but_hits(operand, value, family)
        if not isinstance(value, str) or family == "Number":
            return False
        if operator == "prefix":
            return value.startswith(operand)
        if operator == "suffix":
            return value.endswith(operand)
        return value.lower() == str(operand).lower()  # equals-ignore-case
    if isinstance(condition, bool) or condition is None:
        return value is condition
    if isinstance(condition, int | float):
        number = _number(value, family)
        return number is not None and number == float(condition)
    return isinstance(value, str) and family != "Number" and value == condition


def _anything_but_hits(operand: object, value: object, family: str) -> bool:
    if isinstance(operand, dict):
        return isinstance(value, str) and value.startswith(operand["prefix"])
    listed = operand if isinstance(operand, list) else [operand]
    return any(_one(item, value, family) for item in listed)


def _in_range(operand: object, number: float) -> bool:
    if not isinstance(operand, list):
        return False
    for index in range(0, len(operand), 2):
        op, bound = operand[index], float(operand[index + 1])
        ok = {
            "=": number == bound,
            "<": number < bound,
            "<=": number <= bound,
            ">": number > bound,
            ">=": number >= bound,
        }[op]
        if not ok:
            return False
    return True
