"""A call's legacy (non-expression) parameters (decision 0259): refused beside expression
parameters in AWS's words, else read by ``dynamodb.legacy`` into the trees the expressions
would have given, so that every handler serves both styles unchanged.

AWS lets ``KeyConditions`` stand beside a ``FilterExpression`` or a ``ProjectionExpression``
(only ``KeyConditionExpression`` excludes it); every other legacy parameter excludes every
expression parameter."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.expressions import Condition, Path, Update
from andromede.dynamodb.legacy import (
    NON_EXPRESSION,
    attribute_updates,
    attributes_to_get,
    expected_condition,
    filter_condition,
    key_conditions,
)

__all__ = ["LegacyParts", "read_legacy"]

_EXPRESSION: Final = (
    "ProjectionExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ConditionExpression",
    "UpdateExpression",
)


@dataclass(frozen=True, slots=True)
class LegacyParts:
    condition: Condition | None = None
    projection: tuple[Path, ...] | None = None
    update: Update | None = None
    filter: Condition | None = None
    key_condition: Condition | None = None


def _refuse_mixing(given: Mapping[str, Any]) -> None:
    expressions = [n for n in _EXPRESSION if given.get(n) is not None]
    if not expressions:
        return
    legacy = [n for n in NON_EXPRESSION if given.get(n) is not None]
    if given.get("KeyConditionExpression") is None and "KeyConditions" in legacy:
        legacy.remove("KeyConditions")
    if legacy:
        raise ValidationError(
            "Can not use both expression and non-expression parameters in the same request: "
            f"Non-expression parameters: {{{', '.join(legacy)}}} "
            f"Expression parameters: {{{', '.join(expressions)}}}"
        )


def read_legacy(given: Mapping[str, Any]) -> LegacyParts | None:
    """The legacy parameters of ``given`` (a call's or a batch request's) read, or None when
    it has none."""
    _refuse_mixing(given)
    if all(given.get(n) is None for n in NON_EXPRESSION):
        return None
    operator = given.get("ConditionalOperator")
    expected = given.get("Expected")
    filters = [n for n in ("QueryFilter", "ScanFilter") if given.get(n) is not None]
    updates = given.get("AttributeUpdates")
    names = given.get("AttributesToGet")
    keys = given.get("KeyConditions")
    return LegacyParts(
        condition=None if expected is None else expected_condition(expected, operator),
        projection=None if names is None else attributes_to_get(names),
        update=None if updates is None else attribute_updates(updates),
        filter=None if not filters else filter_condition(given[filters[0]], operator, filters[0]),
        key_condition=None if keys is None else key_conditions(keys),
    )
