"""DynamoDB's attribute values (decision 0237): their wire form checked (S, N, B, BOOL, NULL,
M, L, SS, NS, BS), numbers by AWS's rules (38 significant digits, magnitude 1E-130 to
9.99…E+125, kept normalised), an item's size as AWS counts it, values compared and ordered as
DynamoDB orders them (N numerically, S by UTF-8 bytes, B bytewise), and the byte encodings a
key is stored under: a sortable one for the sort key, a canonical one the hash key is MACed
over.

A value is kept in its wire form, a one-entry ``dict`` (``{"N": "1.5"}``); a binary is its
base64 text there, decoded only to compare, encode or size it.
"""

from __future__ import annotations

import base64
import binascii
import decimal
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError

__all__ = [
    "Item",
    "Value",
    "binary",
    "canonical_key",
    "check_item",
    "check_value",
    "compare",
    "item_size",
    "normalise_number",
    "number",
    "sort_encoding",
    "type_of",
    "values_equal",
]

Value = dict[str, Any]
Item = dict[str, Value]
TYPES: Final = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})
_CONTEXT: Final = decimal.Context(prec=38, rounding=decimal.ROUND_HALF_EVEN, Emax=125, Emin=-130)
_MAX_DEPTH: Final = 32


def number(text: object) -> Decimal:
    """A number's value by AWS's rules, or ValidationException in its words."""
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("The parameter cannot be converted to a numeric value")
    try:
        value = Decimal(text.strip())
    except decimal.InvalidOperation:
        raise ValidationError(
            f"The parameter cannot be converted to a numeric value: {text[:64]}"
        ) from None
    if not value.is_finite():
        raise ValidationError(f"The parameter cannot be converted to a numeric value: {text[:64]}")
    return check_number(value)


def check_number(value: Decimal) -> Decimal:
    if value.is_zero():
        return Decimal(0)
    digits = value.normalize(decimal.Context(prec=100))
    if len(digits.as_tuple().digits) > 38:
        raise ValidationError("Attempting to store more than 38 significant digits in a Number")
    exponent = digits.adjusted()
    if exponent > 125:
        raise ValidationError(
            "Number overflow. Attempting to store a number with magnitude "
            "larger than supported range"
        )
    if exponent < -130:
        raise ValidationError(
            "Number underflow. Attempting to store a number with magnitude "
            "smaller than supported range"
        )
    return digits


def normalise_number(value: Decimal) -> str:
    """A number's text as DynamoDB answers it: no exponent, no trailing zeros."""
    value = check_number(value)
    if value.is_zero():
        return "0"
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def binary(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValidationError("Binary values must be base64 strings")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("Invalid base64 in a binary value") from None


def type_of(value: Value) -> str:
    return next(iter(value))


def check_value(value: object, depth: int = 0) -> Value:
    """The value in its normalised wire form, or ValidationException."""
    if not isinstance(value, dict) or len(value) != 1:
        raise ValidationError(
            "Supplied AttributeValue has more than one datatypes set, must contain exactly one "
            "of the supported datatypes"
            if isinstance(value, dict) and value
            else "Supplied AttributeValue is empty, must contain exactly one of the supported "
            "datatypes"
        )
    if depth > _MAX_DEPTH:
        raise ValidationError("Nesting Levels have exceeded supported limits")
    kind, inner = next(iter(value.items()))
    if kind not in TYPES:
        raise ValidationError(f"Supplied AttributeValue has an unknown datatype: {kind[:16]}")
    if kind == "S":
        if not isinstance(inner, str):
            raise ValidationError("String values must be strings")
        return {"S": inner}
    if kind == "N":
        return {"N": normalise_number(number(inner))}
    if kind == "B":
        binary(inner)
        return {"B": inner}
    if kind == "BOOL":
        if not isinstance(inner, bool):
            raise ValidationError("BOOL values must be true or false")
        return {"BOOL": inner}
    if kind == "NULL":
        if inner is not True:
            raise ValidationError(
                "One or more parameter values were invalid: Null attribute "
                "value types must have the value of true"
            )
        return {"NULL": True}
    if kind == "M":
        if not isinstance(inner, dict):
            raise ValidationError("Map values must be objects")
        return {"M": {str(k): check_value(v, depth + 1) for k, v in inner.items()}}
    if kind == "L":
        if not isinstance(inner, list):
            raise ValidationError("List values must be arrays")
        return {"L": [check_value(v, depth + 1) for v in inner]}
    return {kind: _check_set(kind, inner)}


def _check_set(kind: str, inner: object) -> list[str]:
    if not isinstance(inner, list) or not all(isinstance(v, str) for v in inner):
        raise ValidationError(f"{kind} values must be arrays of strings")
    if not inner:
        raise ValidationError(
            "One or more parameter values were invalid: An number set  may not be empty"
            if kind == "NS"
            else "One or more parameter values were invalid: An string set  may not be empty"
        )
    if kind == "NS":
        members = [normalise_number(number(v)) for v in inner]
        keys: list[object] = [Decimal(v) for v in members]
    elif kind == "BS":
        members = list(inner)
        keys = [binary(v) for v in members]
    else:
        members = list(inner)
        keys = list(members)
    if len(set(keys)) != len(keys):
        raise ValidationError(
            f"One or more parameter values were invalid: Input collection {inner[:8]} contains "
            "duplicates."
        )
    return members


def check_item(item: object) -> Item:
    if not isinstance(item, dict):
        raise ValidationError("An item must be a map of attribute names to values")
    checked: Item = {}
    for name, value in item.items():
        if not name:
            raise ValidationError(
                "One or more parameter values were invalid: An AttributeValue "
                "may not contain an empty attribute name"
            )
        checked[name] = check_value(value)
    return checked


def value_size(value: Value) -> int:
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return _number_size(inner)
    if kind == "B":
        return len(binary(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(v) for v in inner)
    if kind == "BS":
        return sum(len(binary(v)) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in inner.items())
    return 3 + sum(value_size(v) + 1 for v in inner)


def _number_size(text: str) -> int:
    # AWS: about one byte per two significant digits, plus one.
    digits = len(text.lstrip("-").replace(".", "").strip("0")) or 1
    return (digits + 1) // 2 + 1


def item_size(item: Mapping[str, Value]) -> int:
    """The item's size as AWS counts it against the 400 KB limit: names' and values' bytes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def _order_key(value: Value) -> object:
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return Decimal(inner)
    if kind == "S":
        return inner.encode()
    return binary(inner)


def compare(left: Value, right: Value) -> int | None:
    """-1, 0 or 1 for two scalars of the same ordered type (S, N, B); None otherwise."""
    kind = type_of(left)
    if kind != type_of(right) or kind not in ("S", "N", "B"):
        return None
    a, b = _order_key(left), _order_key(right)
    return int((a > b) - (a < b))  # type: ignore[operator]


def values_equal(left: Value, right: Value) -> bool:
    kind = type_of(left)
    if kind != type_of(right):
        return False
    a, b = left[kind], right[kind]
    if kind == "N":
        return bool(Decimal(a) == Decimal(b))
    if kind == "B":
        return binary(a) == binary(b)
    if kind in ("SS", "NS", "BS"):
        return _set_keys(kind, a) == _set_keys(kind, b)
    if kind == "M":
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if kind == "L":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _set_keys(kind: str, members: list[str]) -> frozenset[object]:
    if kind == "NS":
        return frozenset(Decimal(v) for v in members)
    if kind == "BS":
        return frozenset(binary(v) for v in members)
    return frozenset(members)


def sort_encoding(value: Value) -> bytes:
    """Bytes whose bytewise order is DynamoDB's order of the key values of one type."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return bytes(inner.encode())
    if kind == "B":
        return binary(inner)
    return _number_encoding(Decimal(inner))


def _number_encoding(value: Decimal) -> bytes:
    # Zero between the negatives and the positives; a positive by its exponent then its
    # digits (a shorter run of digits is the smaller); a negative by both complemented, a
    # terminator above every complemented digit so that -0.5 sorts after -0.51.
    if value.is_zero():
        return b"\x01"
    sign, digits, _ = value.normalize(decimal.Context(prec=100)).as_tuple()
    exponent = value.adjusted() + 130  # 0..255 over AWS's range (1E-130 to 9.9…E+125)
    text = bytes(0x30 + d for d in digits)
    if not sign:
        return b"\x02" + bytes([exponent]) + text
    return b"\x00" + bytes([255 - exponent]) + bytes(0x69 - c for c in text) + b"\xff"


def canonical_key(value: Value) -> bytes:
    """The bytes a key value is MACed over: its type and its canonical value."""
    kind = type_of(value)
    if kind not in ("S", "N", "B"):
        raise ValidationError("Key attributes must be scalars of type S, N or B")
    return kind.encode() + b"\x00" + sort_encoding(value)
