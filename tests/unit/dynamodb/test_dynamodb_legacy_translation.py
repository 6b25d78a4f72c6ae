"""Decision 0259's translations: the legacy parameters read into the expression trees, then
decided by the expressions' own evaluator and key reader (``evaluate.matches``,
``apply_update``, ``keys.key_range``), so that one rule serves both styles."""

from __future__ import annotations

import pytest

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.evaluate import apply_update, matches, project
from andromede.dynamodb.expressions import Function, Logical, Not, Path
from andromede.dynamodb.keys import key_range
from andromede.dynamodb.legacy import (
    attribute_updates,
    attributes_to_get,
    expected_condition,
    filter_condition,
    key_conditions,
)
from andromede.dynamodb.model import BillingMode, KeyElement, Table

ITEM = {"pk": {"S": "p"}, "a.b": {"N": "5"}, "tags": {"SS": ["x", "y"]}, "name": {"S": "Ada"}}


def test_a_legacy_name_is_taken_literally_not_as_a_path() -> None:
    condition = expected_condition({"a.b": {"Value": {"N": "5"}}}, None)
    assert condition is not None and matches(ITEM, condition)
    assert project(ITEM, attributes_to_get(["a.b", "none"])) == {"a.b": {"N": "5"}}


def test_not_contains_requires_the_attribute() -> None:
    condition = filter_condition(
        {"missing": {"ComparisonOperator": "NOT_CONTAINS", "AttributeValueList": [{"S": "x"}]}},
        None,
        "ScanFilter",
    )
    assert isinstance(condition, Logical) and isinstance(condition.right, Not)
    assert condition.left == Function("attribute_exists", (Path(("missing",)),))
    assert not matches(ITEM, condition)


def test_conditions_join_with_and_unless_or() -> None:
    given = {
        "name": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "A"}]},
        "tags": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "z"}]},
    }
    both = filter_condition(given, None, "QueryFilter")
    either = filter_condition(given, "OR", "QueryFilter")
    assert both is not None and not matches(ITEM, both)
    assert either is not None and matches(ITEM, either)
    with pytest.raises(ValidationError, match=r"enum value set: \[AND, OR\]"):
        filter_condition(given, "NAND", "QueryFilter")


def test_attribute_updates_as_set_remove_add_delete() -> None:
    update = attribute_updates({
        "name": {"Value": {"S": "Grace"}},
        "a.b": {"Action": "ADD", "Value": {"N": "-2"}},
        "tags": {"Action": "DELETE", "Value": {"SS": ["x"]}},
        "pk2": {"Action": "DELETE"},
    })  # fmt: skip
    assert [a.verb for a in update.actions] == ["SET", "ADD", "DELETE", "REMOVE"]
    after = apply_update(ITEM, update)
    assert after["name"] == {"S": "Grace"} and after["a.b"] == {"N": "3"}
    assert after["tags"] == {"SS": ["y"]}


def test_key_conditions_read_as_a_key_condition_expression() -> None:
    table = Table(
        tenant_id="t", name="reply", region="eu-fr-1", created=0,
        hash_key=KeyElement("pk", "S"), sort_key=KeyElement("day", "S"),
        attributes=(KeyElement("pk", "S"), KeyElement("day", "S")),
        billing_mode=BillingMode.PAY_PER_REQUEST, read_capacity=0, write_capacity=0,
        wrapped_key=b"k", tags=(),
    )  # fmt: skip
    condition = key_conditions({
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "day": {"ComparisonOperator": "BETWEEN",
                "AttributeValueList": [{"S": "2015-09-01"}, {"S": "2015-09-30"}]},
    })  # fmt: skip
    assert condition is not None
    keys = key_range(table, condition)
    assert keys.hash_value == {"S": "p"} and keys.low is not None and keys.high is not None
    assert key_conditions({}) is None
    with pytest.raises(ValidationError, match="Unsupported operator on KeyCondition: CONTAINS"):
        key_conditions(
            {"pk": {"ComparisonOperator": "CONTAINS", "AttributeValueList": [{"S": "p"}]}}
        )
