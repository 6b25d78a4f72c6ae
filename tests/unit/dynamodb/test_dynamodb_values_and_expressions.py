"""Decision 0237's pure core: numbers by AWS's rules and their sortable encoding (bytewise
order is numeric order, over random numbers of AWS's whole range), item sizes, and the
expression parser and evaluator on the cases the API tests do not reach."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.evaluate import apply_update, matches, project
from andromede.dynamodb.expressions import (
    Placeholders,
    parse_condition,
    parse_projection,
    parse_update,
)
from andromede.dynamodb.keys import _prefix_end
from andromede.dynamodb.values import (
    check_value,
    item_size,
    normalise_number,
    number,
    sort_encoding,
)


def test_numbers_follow_aws_rules() -> None:
    assert normalise_number(number("1.50E+2")) == "150"
    assert normalise_number(number("-0.000")) == "0"
    assert normalise_number(number("1E-130")) == "0." + "0" * 129 + "1"
    for bad in ("1E+126", "1E-131", "NaN", "Infinity", "", "1" * 39, "abc"):
        with pytest.raises(ValidationError):
            number(bad)
    assert normalise_number(number("9" * 38)) == "9" * 38


def test_the_number_encoding_sorts_as_the_numbers() -> None:
    chooser = random.Random(237)
    values = [
        Decimal(0),
        Decimal("-0.5"),
        Decimal("-0.51"),
        Decimal("0.5"),
        Decimal("0.51"),
        Decimal("9E+124"),
        Decimal("1E+125"),
        Decimal("-9E+124"),
        Decimal("-1E+125"),
        Decimal("1E-130"),
        Decimal("-1E-130"),
        Decimal("2E-130"),
    ]
    for _ in range(500):
        digits = "".join(chooser.choice("0123456789") for _ in range(chooser.randint(1, 38)))
        sign = chooser.choice(["", "-"])
        values.append(Decimal(f"{sign}{digits}E{chooser.randint(-130, 125 - len(digits) + 1)}"))
    encoded = sorted(values, key=lambda v: sort_encoding({"N": normalise_number(v)}))
    assert [Decimal(normalise_number(v)) for v in encoded] == sorted(
        Decimal(normalise_number(v)) for v in values
    )


def test_item_sizes_count_names_and_values() -> None:
    item = {
        "s": {"S": "héllo"},  # 1 + 6
        "b": {"BOOL": True},  # 1 + 1
        "l": {"L": [{"N": "12345"}]},  # 1 + 3 + (4 + 1): five digits are 3 bytes + 1
        "m": {"M": {"k": {"NULL": True}}},  # 1 + 3 + (1 + 1 + 1)
    }
    assert item_size(item) == 7 + 2 + 9 + 7


def test_values_are_checked() -> None:
    assert check_value({"NS": ["1.0", "2"]}) == {"NS": ["1", "2"]}
    for bad in (
        {},
        {"S": 1},
        {"X": "1"},
        {"S": "a", "N": "1"},
        {"NULL": False},
        {"SS": []},
        {"NS": ["1", "1.0"]},
        {"B": "not base64!"},
    ):
        with pytest.raises(ValidationError):
            check_value(bad)


def _condition(text: str, values: dict[str, object] | None = None) -> object:
    return parse_condition(text, "ConditionExpression", Placeholders({"#n": "name"}, values or {}))


def test_precedence_is_not_then_and_then_or() -> None:
    item = {"a": {"N": "1"}}
    values = {":one": {"N": "1"}, ":two": {"N": "2"}}
    holds = parse_condition("a = :two AND a = :two OR a = :one", "C", Placeholders({}, values))
    assert matches(item, holds)
    negated = parse_condition("NOT a = :one OR a = :one", "C", Placeholders({}, values))
    assert matches(item, negated)
    grouped = parse_condition("a = :two AND (a = :two OR a = :one)", "C", Placeholders({}, values))
    assert not matches(item, grouped)


def test_syntax_errors_name_the_token() -> None:
    for text in ("a = ", "a == :v", "(a = :v", "a BETWEEN :v", "unknown_fn(a)", "a = :v extra"):
        with pytest.raises(ValidationError, match="Invalid ConditionExpression"):
            parse_condition(text, "ConditionExpression", Placeholders({}, {":v": {"N": "1"}}))
    with pytest.raises(ValidationError, match="attribute name"):
        parse_condition(
            "#missing = :v", "ConditionExpression", Placeholders({}, {":v": {"N": "1"}})
        )
    placeholders = Placeholders({"#n": "name"}, {})
    parse_projection("#n", placeholders)
    placeholders.check_all_used()


def test_updates_read_the_item_as_it_was() -> None:
    item = {"pk": {"S": "k"}, "a": {"N": "1"}, "l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]}}
    values = {":v": {"N": "5"}}
    update = parse_update("SET a = :v, b = a REMOVE l[0], l[2]", Placeholders({}, values))
    after = apply_update(item, update)
    assert after["a"] == {"N": "5"} and after["b"] == {"N": "1"}
    assert after["l"] == {"L": [{"N": "1"}]}
    assert item["a"] == {"N": "1"}  # the input is left alone


def test_projection_of_missing_paths_is_empty() -> None:
    paths = parse_projection("a.b, c[3]", Placeholders({}, {}))
    assert project({"a": {"S": "x"}}, paths) == {}


def test_begins_with_bounds() -> None:
    assert _prefix_end(b"ab") is not None and _prefix_end(b"ab").token == b"ac"  # type: ignore[union-attr]
    assert _prefix_end(b"a\xff").token == b"b"  # type: ignore[union-attr]
    assert _prefix_end(b"\xff\xff") is None
