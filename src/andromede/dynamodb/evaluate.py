"""DynamoDB's parsed expressions evaluated over an item (decision 0237): conditions and filters
(a comparison of values of different types is false, never an error, as DynamoDB's), the
projection of an item to some paths, and an update expression applied to a copy of an item
(SET with ``if_not_exists``, ``list_append`` and ``+``/``-``; REMOVE; ADD to a number or a
set; DELETE from a set), refusing in DynamoDB's words what DynamoDB refuses.
"""

from __future__ import annotations

import copy
from decimal import Decimal

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
    Update,
)
from andromede.dynamodb.values import (
    Item,
    Value,
    binary,
    check_number,
    compare,
    normalise_number,
    type_of,
    values_equal,
)

__all__ = ["apply_update", "matches", "project", "resolve"]

_SETS = ("SS", "NS", "BS")


def resolve(item: Item, path: Path) -> Value | None:
    """The value at ``path`` in ``item``, or None when there is none."""
    first, *rest = path.elements
    current: Value | None = item.get(str(first))
    for element in rest:
        if current is None:
            return None
        if isinstance(element, int):
            listed = current.get("L")
            current = listed[element] if listed is not None and element < len(listed) else None
        else:
            mapped = current.get("M")
            current = None if mapped is None else mapped.get(element)
    return current


def _operand(item: Item, operand: Operand) -> Value | None:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Path):
        return resolve(item, operand)
    if isinstance(operand, Size):
        value = resolve(item, operand.path)
        if value is None:
            return None
        kind, inner = next(iter(value.items()))
        if kind == "S":
            return {"N": str(len(inner.encode()))}
        if kind == "B":
            return {"N": str(len(binary(inner)))}
        if kind in ("SS", "NS", "BS", "L", "M"):
            return {"N": str(len(inner))}
        return None
    return _update_operand(item, operand)


def matches(item: Item, condition: Condition) -> bool:
    """Whether ``condition`` holds over ``item`` (an empty dict for no item)."""
    if isinstance(condition, Logical):
        holds = matches(item, condition.left)
        if condition.operator == "AND":
            return holds and matches(item, condition.right)
        return holds or matches(item, condition.right)
    if isinstance(condition, Not):
        return not matches(item, condition.operand)
    if isinstance(condition, Compare):
        left = _operand(item, condition.left)
        right = _operand(item, condition.right)
        if left is None or right is None:
            return condition.operator == "<>" and (left is None) != (right is None)
        if condition.operator == "=":
            return values_equal(left, right)
        if condition.operator == "<>":
            return not values_equal(left, right)
        order = compare(left, right)
        if order is None:
            return False
        return {"<": order < 0, "<=": order <= 0, ">": order > 0, ">=": order >= 0}[
            condition.operator
        ]
    if isinstance(condition, Between):
        subject = _operand(item, condition.subject)
        low = _operand(item, condition.low)
        high = _operand(item, condition.high)
        if subject is None or low is None or high is None:
            return False
        above, below = compare(subject, low), compare(subject, high)
        return above is not None and below is not None and above >= 0 and below <= 0
    if isinstance(condition, In):
        subject = _operand(item, condition.subject)
        if subject is None:
            return False
        return any(
            (choice := _operand(item, c)) is not None and values_equal(subject, choice)
            for c in condition.choices
        )
    return _function(item, condition)


def _function(item: Item, function: Function) -> bool:
    path = function.arguments[0]
    assert isinstance(path, Path)  # noqa: S101 (the parser's rule)
    value = resolve(item, path)
    if function.name == "attribute_exists":
        return value is not None
    if function.name == "attribute_not_exists":
        return value is None
    argument = _operand(item, function.arguments[1])
    if function.name == "attribute_type":
        if argument is None or type_of(argument) != "S":
            raise ValidationError(
                "Invalid ConditionExpression: Incorrect operand type for "
                "operator or function; operator or function: "
                "attribute_type, operand type: not S"
            )
        return value is not None and type_of(value) == argument["S"]
    if value is None or argument is None:
        return False
    kind, inner = next(iter(value.items()))
    if function.name == "begins_with":
        if kind != type_of(argument) or kind not in ("S", "B"):
            return False
        if kind == "S":
            return bool(inner.startswith(argument["S"]))
        return binary(inner).startswith(binary(argument["B"]))
    # contains: a substring of a string, a member of a set or a list.
    if kind == "S" and type_of(argument) == "S":
        return argument["S"] in inner
    if kind == "B" and type_of(argument) == "B":
        return binary(argument["B"]) in binary(inner)
    if kind in _SETS and type_of(argument) == kind[0]:
        return any(values_equal({kind[0]: m}, argument) for m in inner)
    if kind == "L":
        return any(values_equal(member, argument) for member in inner)
    return False


def project(item: Item, paths: tuple[Path, ...]) -> Item:
    """The parts of ``item`` at ``paths``, nested as they were (list members compacted)."""
    projected: Item = {}
    for path in paths:
        value = resolve(item, path)
        if value is None:
            continue
        _put(projected, path, copy.deepcopy(value), creating=True)
    return projected


def _number(value: Value | None, what: str) -> Decimal:
    if value is None or type_of(value) != "N":
        raise ValidationError("An operand in the update expression has an incorrect data type")
    return Decimal(value["N"])


def _update_operand(item: Item, operand: Operand) -> Value:
    if isinstance(operand, IfNotExists):
        held = resolve(item, operand.path)
        return held if held is not None else _required(item, operand.default)
    if isinstance(operand, ListAppend):
        first = _required(item, operand.first)
        second = _required(item, operand.second)
        if type_of(first) != "L" or type_of(second) != "L":
            raise ValidationError(
                "Invalid UpdateExpression: Incorrect operand type for operator "
                "or function; operator or function: list_append, operand "
                f"type: {type_of(first) if type_of(first) != 'L' else type_of(second)}"
            )
        return {"L": first["L"] + second["L"]}
    if isinstance(operand, Arithmetic):
        left = _number(_required(item, operand.left), operand.operator)
        right = _number(_required(item, operand.right), operand.operator)
        total = left + right if operand.operator == "+" else left - right
        return {"N": normalise_number(check_number(total))}
    return _required(item, operand)


def _required(item: Item, operand: Operand) -> Value:
    value = _operand(item, operand)
    if value is None:
        raise ValidationError(
            "The provided expression refers to an attribute that does not exist in the item"
        )
    return value


def _container(item: Item, path: Path, creating: bool) -> tuple[object, str | int] | None:
    """The map (a dict of values) or list holding ``path``'s last element, and that element;
    ``creating`` (a projection) makes the maps and lists on the way."""
    holder: object = item
    elements = path.elements
    for position, element in enumerate(elements[:-1]):
        following = elements[position + 1]
        inner: Value | None = None
        if isinstance(holder, dict) and isinstance(element, str):
            inner = holder.get(element)
            if inner is None and creating:
                inner = holder[element] = {"L": []} if isinstance(following, int) else {"M": {}}
        elif isinstance(holder, list) and isinstance(element, int):
            if element < len(holder):
                inner = holder[element]
            elif creating:
                inner = {"L": []} if isinstance(following, int) else {"M": {}}
                holder.append(inner)
        if inner is None:
            return None
        holder = inner.get("L") if isinstance(following, int) else inner.get("M")
        if holder is None:
            return None
    return holder, elements[-1]


def _put(item: Item, path: Path, value: Value, creating: bool = False) -> None:
    found = _container(item, path, creating)
    if found is None:
        raise ValidationError(
            "The document path provided in the update expression is invalid for update"
        )
    holder, last = found
    if isinstance(holder, list) and isinstance(last, int):
        if last < len(holder):
            holder[last] = value
        else:
            holder.append(value)
    elif isinstance(holder, dict) and isinstance(last, str):
        holder[last] = value
    else:
        raise ValidationError(
            "The document path provided in the update expression is invalid for update"
        )


def _remove(item: Item, path: Path) -> None:
    found = _container(item, path, creating=False)
    if found is None:
        return
    holder, last = found
    if isinstance(holder, list) and isinstance(last, int) and last < len(holder):
        del holder[last]
    elif isinstance(holder, dict) and isinstance(last, str):
        holder.pop(last, None)


def apply_update(item: Item, update: Update) -> Item:
    """A copy of ``item`` with ``update`` applied: every operand is read from the item as it
    was, as DynamoDB evaluates them."""
    before = item
    after: Item = copy.deepcopy(item)
    removals: list[Path] = []
    for action in update.actions:
        if action.verb == "SET":
            assert action.value is not None  # noqa: S101 (the parser's rule)
            _put(after, action.path, copy.deepcopy(_update_operand(before, action.value)))
        elif action.verb == "REMOVE":
            removals.append(action.path)
        else:
            assert isinstance(action.value, Literal)  # noqa: S101 (the parser's rule)
            _add_or_delete(before, after, action.verb, action.path, action.value.value)
    # List indexes removed from the highest down, so that each names what it named before.
    for path in sorted(
        removals, key=lambda p: [e if isinstance(e, int) else -1 for e in p.elements], reverse=True
    ):
        _remove(after, path)
    return after


def _add_or_delete(before: Item, after: Item, verb: str, path: Path, value: Value) -> None:
    if len(path.elements) > 1 and verb == "ADD" and type_of(value) not in ("N", *_SETS):
        raise ValidationError(
            "Invalid UpdateExpression: Incorrect operand type for operator or "
            f"function; operator: {verb}, operand type: {type_of(value)}"
        )
    held = resolve(before, path)
    kind = type_of(value)
    if verb == "ADD" and kind == "N":
        base = Decimal(0) if held is None else _number(held, "ADD")
        total = check_number(base + Decimal(value["N"]))
        _put(after, path, {"N": normalise_number(total)})
        return
    if kind not in _SETS:
        raise ValidationError(
            "Invalid UpdateExpression: Incorrect operand type for operator or "
            f"function; operator: {verb}, operand type: {kind}"
        )
    if held is not None and type_of(held) != kind:
        raise ValidationError("An operand in the update expression has an incorrect data type")
    members: list[str] = [] if held is None else list(held[kind])
    if verb == "ADD":
        for member in value[kind]:
            if not any(values_equal({kind: [member]}, {kind: [m]}) for m in members):
                members.append(member)
        _put(after, path, {kind: members})
        return
    if held is None:
        return
    kept = [
        m for m in members if not any(values_equal({kind: [m]}, {kind: [d]}) for d in value[kind])
    ]
    if kept:
        _put(after, path, {kind: kept})
    else:
        _remove(after, path)
