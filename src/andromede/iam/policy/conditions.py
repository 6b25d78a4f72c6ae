"""The ``Condition`` element: operators compiled at parse time, tested per request.

One :class:`ConditionClause` is one ``operator: {key: values}`` pair of a statement; the
statement's clauses are ANDed. Semantics, from AWS's "IAM JSON policy elements: Condition
operators" and "Condition element with multiple context keys or values":

* the values of one key are ORed; for a negated operator (``StringNotEquals``, ``NotIpAddress``,
  ``ArnNotLike``, ...) the clause holds when the context value matches *none* of them (NOR);
* a key absent from the request makes the clause false, except for negated operators (true),
  ``...IfExists`` (true), ``ForAllValues:`` (true, vacuously) and ``ForAnyValue:`` (false);
* ``ForAnyValue:`` holds when some context value passes the operator, ``ForAllValues:`` when
  every one does; a single-valued operator on a multivalued key behaves like ``ForAnyValue:``
  (and its negation holds when no context value matches);
* ``Null`` tests presence only: ``"true"`` means absent;
* key names are case-insensitive, values case-sensitive except for ``...IgnoreCase``;
* policy variables are substituted in the String, Arn operators (Version 2012-10-17 only).
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Protocol

from andromede.iam.policy.context import RequestContext, Scalar, value_as_string
from andromede.iam.policy.errors import MalformedPolicy
from andromede.iam.policy.wildcard import (
    ArnGlob,
    Glob,
    Template,
    compile_arn_pattern,
    compile_wildcard,
    parse_template,
    plain_text,
)

__all__ = ["BASE_OPERATORS", "ConditionClause", "SetMode", "parse_condition_block", "parse_date"]


class SetMode(enum.Enum):
    SINGLE = ""
    FOR_ANY_VALUE = "ForAnyValue"
    FOR_ALL_VALUES = "ForAllValues"


class Comparator(Protocol):
    def matches(self, value: Scalar, context: RequestContext) -> bool:
        """Whether one context value matches at least one of the policy's values."""


def _split_templates(values: Sequence[str], variables: bool) -> tuple[list[str], list[Template]]:
    static: list[str] = []
    templates: list[Template] = []
    for value in values:
        parsed = parse_template(value) if variables else value
        if isinstance(parsed, Template):
            templates.append(parsed)
        else:
            static.append(parsed)
    return static, templates


class _StringEquals:
    __slots__ = ("_fold", "_static", "_templates")

    def __init__(self, values: Sequence[str], variables: bool, *, fold: bool) -> None:
        static, self._templates = _split_templates(values, variables)
        self._fold = fold
        self._static = frozenset(
            plain_text(value).lower() if fold else plain_text(value) for value in static
        )

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        text = value_as_string(value)
        if self._fold:
            text = text.lower()
        if text in self._static:
            return True
        for template in self._templates:
            rendered = template.render(context.get_string, as_pattern=False)
            if rendered is not None and (rendered.lower() if self._fold else rendered) == text:
                return True
        return False


class _PatternLike:
    """StringLike (plain wildcard) or ArnLike (per-component wildcard)."""

    __slots__ = ("_compile", "_static", "_templates")

    def __init__(self, values: Sequence[str], variables: bool, *, arn: bool) -> None:
        static, self._templates = _split_templates(values, variables)
        self._compile: Callable[[str], Glob | ArnGlob] = (
            compile_arn_pattern if arn else compile_wildcard
        )
        self._static = tuple(self._compile(value) for value in static)

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        text = value_as_string(value)
        for pattern in self._static:
            if pattern.fullmatch(text):
                return True
        for template in self._templates:
            rendered = template.render(context.get_string, as_pattern=True)
            if rendered is not None and self._compile(rendered).fullmatch(text):
                return True
        return False


def _number(value: Scalar) -> float | None:
    if isinstance(value, bool) or isinstance(value, datetime | bytes):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


_EPOCH = re.compile(r"-?\d+(?:\.\d+)?")


def parse_date(text: str) -> float | None:
    """Seconds since the epoch for an ISO 8601 date/time or an epoch number; None if neither."""
    text = text.strip()
    if _EPOCH.fullmatch(text):
        return float(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _date(value: Scalar) -> float | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, bool) or isinstance(value, bytes):
        return None
    if isinstance(value, int | float):
        return float(value)
    return parse_date(value)


class _Ordered:
    """Numeric* and Date* operators: the policy values, pre-converted, and a comparison."""

    __slots__ = ("_compare", "_convert", "_values")

    def __init__(
        self,
        values: Sequence[float],
        compare: Callable[[float, float], bool],
        convert: Callable[[Scalar], float | None],
    ) -> None:
        self._values = tuple(values)
        self._compare = compare
        self._convert = convert

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        converted = self._convert(value)
        if converted is None:
            return False
        return any(self._compare(converted, expected) for expected in self._values)


class _Bool:
    __slots__ = ("_values",)

    def __init__(self, values: Sequence[str]) -> None:
        self._values = frozenset(value.lower() for value in values)

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        return value_as_string(value).lower() in self._values


class _Binary:
    __slots__ = ("_values",)

    def __init__(self, values: Sequence[bytes]) -> None:
        self._values = frozenset(values)

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        if isinstance(value, bytes):
            return value in self._values
        if not isinstance(value, str):
            return False
        try:
            return base64.b64decode(value, validate=True) in self._values
        except (binascii.Error, ValueError):
            return False


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddr = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def _ip(text: str) -> IpAddr | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # a dual-stack socket reports IPv4 clients this way
    return address


# Addresses remembered per IpAddress/NotIpAddress clause: a client asks again and again, and
# testing it against the networks is a few Python-level calls per network (ipaddress).
_IP_MEMO_SIZE = 1024


class _Ip:
    __slots__ = ("_memo", "_networks")

    def __init__(self, networks: Sequence[IpNetwork]) -> None:
        self._networks = tuple(networks)
        self._memo: dict[str, bool] = {}

    def matches(self, value: Scalar, context: RequestContext) -> bool:
        if not isinstance(value, str):
            return False
        found = self._memo.get(value)
        if found is None:
            address = _ip(value)
            found = address is not None and any(address in network for network in self._networks)
            if len(self._memo) >= _IP_MEMO_SIZE:
                self._memo.clear()
            self._memo[value] = found
        return found


# --- building comparators from the policy's values --------------------------------------------

Builder = Callable[[str, Sequence[str], bool], Comparator]


def _fail(operator_name: str, key: str, problem: str) -> MalformedPolicy:
    return MalformedPolicy(f"Invalid Condition: {operator_name} on {key}: {problem}")


def _numeric(compare: Callable[[float, float], bool]) -> Builder:
    def build(name: str, values: Sequence[str], variables: bool) -> Comparator:
        numbers = []
        for value in values:
            number = _number(value)
            if number is None:
                raise MalformedPolicy(
                    f"Invalid Condition value for {name}: {value!r} is not a number"
                )
            numbers.append(number)
        return _Ordered(numbers, compare, _number)

    return build


def _dates(compare: Callable[[float, float], bool]) -> Builder:
    def build(name: str, values: Sequence[str], variables: bool) -> Comparator:
        moments = []
        for value in values:
            moment = parse_date(value)
            if moment is None:
                raise MalformedPolicy(
                    f"Invalid Condition value for {name}: {value!r} is not an ISO 8601 date"
                    " or an epoch time"
                )
            moments.append(moment)
        return _Ordered(moments, compare, _date)

    return build


def _bool(name: str, values: Sequence[str], variables: bool) -> Comparator:
    for value in values:
        if value.lower() not in ("true", "false"):
            raise MalformedPolicy(f"Invalid Condition value for {name}: {value!r} is not a boolean")
    return _Bool(values)


def _binary(name: str, values: Sequence[str], variables: bool) -> Comparator:
    decoded = []
    for value in values:
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            raise MalformedPolicy(
                f"Invalid Condition value for {name}: {value!r} is not base64"
            ) from None
    return _Binary(decoded)


def _ip_networks(name: str, values: Sequence[str], variables: bool) -> Comparator:
    networks: list[IpNetwork] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise MalformedPolicy(
                f"Invalid Condition value for {name}: {value!r} is not an IP address or CIDR"
            ) from None
    return _Ip(networks)


def _not_null(name: str, values: Sequence[str], variables: bool) -> Comparator:
    return _bool(name, values, variables)  # validated like Bool; evaluated by the clause itself


@dataclass(frozen=True, slots=True)
class BaseOperator:
    name: str
    build: Builder
    negated: bool = False


def _string_equals(fold: bool) -> Builder:
    return lambda name, values, variables: _StringEquals(values, variables, fold=fold)


def _like(arn: bool) -> Builder:
    return lambda name, values, variables: _PatternLike(values, variables, arn=arn)


_OPERATORS = (
    BaseOperator("StringEquals", _string_equals(False)),
    BaseOperator("StringNotEquals", _string_equals(False), negated=True),
    BaseOperator("StringEqualsIgnoreCase", _string_equals(True)),
    BaseOperator("StringNotEqualsIgnoreCase", _string_equals(True), negated=True),
    BaseOperator("StringLike", _like(False)),
    BaseOperator("StringNotLike", _like(False), negated=True),
    BaseOperator("NumericEquals", _numeric(operator.eq)),
    BaseOperator("NumericNotEquals", _numeric(operator.eq), negated=True),
    BaseOperator("NumericLessThan", _numeric(operator.lt)),
    BaseOperator("NumericLessThanEquals", _numeric(operator.le)),
    BaseOperator("NumericGreaterThan", _numeric(operator.gt)),
    BaseOperator("NumericGreaterThanEquals", _numeric(operator.ge)),
    BaseOperator("DateEquals", _dates(operator.eq)),
    BaseOperator("DateNotEquals", _dates(operator.eq), negated=True),
    BaseOperator("DateLessThan", _dates(operator.lt)),
    BaseOperator("DateLessThanEquals", _dates(operator.le)),
    BaseOperator("DateGreaterThan", _dates(operator.gt)),
    BaseOperator("DateGreaterThanEquals", _dates(operator.ge)),
    BaseOperator("Bool", _bool),
    BaseOperator("BinaryEquals", _binary),
    BaseOperator("IpAddress", _ip_networks),
    BaseOperator("NotIpAddress", _ip_networks, negated=True),
    # ArnEquals and ArnLike behave the same in AWS: both accept wildcards per ARN component.
    BaseOperator("ArnEquals", _like(True)),
    BaseOperator("ArnLike", _like(True)),
    BaseOperator("ArnNotEquals", _like(True), negated=True),
    BaseOperator("ArnNotLike", _like(True), negated=True),
    BaseOperator("Null", _not_null),
)

BASE_OPERATORS: dict[str, BaseOperator] = {op.name.lower(): op for op in _OPERATORS}
_SET_MODES = {mode.value.lower(): mode for mode in SetMode if mode is not SetMode.SINGLE}
_IF_EXISTS = "ifexists"


# A named tuple of types rather than ``list | tuple``, which builds a union object per call.
_LISTS = (list, tuple)


@dataclass(frozen=True, slots=True)
class ConditionClause:
    """One ``operator: {key: values}`` test, as written and compiled."""

    operator: str
    key: str
    values: tuple[str, ...]
    set_mode: SetMode
    if_exists: bool
    negated: bool
    _key: str = field(repr=False, compare=False)
    _comparator: Comparator = field(repr=False, compare=False)
    _null: frozenset[str] | None = field(repr=False, compare=False)

    @property
    def base_operator(self) -> str:
        """The operator without its set prefix and ``IfExists`` suffix, as AWS spells it."""
        return _base_name(self.operator)

    def test(self, context: RequestContext) -> bool:
        value = context.get(self._key)
        if self._null is not None:
            return ("true" if value is None else "false") in self._null
        if value is None:
            if self.if_exists or self.set_mode is SetMode.FOR_ALL_VALUES:
                return True
            if self.set_mode is SetMode.FOR_ANY_VALUE:
                return False
            return self.negated
        matches = self._comparator.matches
        if isinstance(value, _LISTS):
            if self.set_mode is SetMode.FOR_ALL_VALUES:
                return all(matches(item, context) != self.negated for item in value)
            if self.set_mode is SetMode.FOR_ANY_VALUE:
                return any(matches(item, context) != self.negated for item in value)
            hit = any(matches(item, context) for item in value)
            return hit != self.negated
        return matches(value, context) != self.negated  # type: ignore[arg-type]


def _base_name(name: str) -> str:
    base = name.rsplit(":", 1)[-1]
    if base.lower().endswith(_IF_EXISTS) and base.lower() != _IF_EXISTS:
        base = base[: -len(_IF_EXISTS)]
    found = BASE_OPERATORS.get(base.lower())
    return found.name if found else base


def _condition_values(operator_name: str, key: str, raw: object) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    values: list[str] = []
    for item in items:
        if isinstance(item, bool):
            values.append("true" if item else "false")
        elif isinstance(item, str):
            values.append(item)
        elif isinstance(item, int | float):
            values.append(str(item))
        else:
            raise _fail(operator_name, key, "values must be strings, numbers or booleans")
    return tuple(values)


def _parse_operator(name: str) -> tuple[SetMode, BaseOperator, bool]:
    set_mode = SetMode.SINGLE
    base = name
    if ":" in name:
        prefix, base = name.split(":", 1)
        found_mode = _SET_MODES.get(prefix.lower())
        if found_mode is None:
            raise MalformedPolicy(f"Invalid Condition type: {name}")
        set_mode = found_mode
    if_exists = False
    lowered = base.lower()
    if lowered.endswith(_IF_EXISTS) and lowered != _IF_EXISTS:
        if_exists = True
        lowered = lowered[: -len(_IF_EXISTS)]
    found = BASE_OPERATORS.get(lowered)
    if found is None or (if_exists and found.name == "Null"):
        raise MalformedPolicy(f"Invalid Condition type: {name}")
    return set_mode, found, if_exists


def parse_condition_block(raw: object, *, variables: bool) -> tuple[ConditionClause, ...]:
    """Compile a statement's ``Condition`` object; raises :class:`MalformedPolicy`."""
    if not isinstance(raw, dict):
        raise MalformedPolicy("Condition must be an object of operators")
    clauses: list[ConditionClause] = []
    for operator_name, block in raw.items():
        set_mode, base, if_exists = _parse_operator(operator_name)
        if not isinstance(block, dict):
            raise MalformedPolicy(f"Condition {operator_name} must be an object of keys")
        for key, raw_values in block.items():
            if ":" not in key or key.startswith(":") or key.endswith(":"):
                raise MalformedPolicy(
                    f"Invalid Condition key {key!r}: Actions/Conditions must be prefaced by a"
                    " vendor, e.g., iam, sdb, ec2, etc."
                )
            values = _condition_values(operator_name, key, raw_values)
            comparator = base.build(base.name, values, variables)
            null_expect = (
                frozenset(value.lower() for value in values) if base.name == "Null" else None
            )
            clauses.append(
                ConditionClause(
                    operator=operator_name,
                    key=key,
                    values=values,
                    set_mode=set_mode,
                    if_exists=if_exists,
                    negated=base.negated,
                    _key=key.lower(),
                    _comparator=comparator,
                    _null=null_expect,
                )
            )
    return tuple(clauses)
