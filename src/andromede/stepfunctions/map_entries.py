"""A Map's items when they are a JSON object's entries, and what each iteration's
``ItemSelector`` sees of its item (decision 0365): pure functions.

AWS's "ItemsPath (Map, JSONPath only)": the path "must evaluate to a JSON array or object";
over an array the Map runs an iteration per element, over an object "an iteration for each
key-value pair in the object, passing the pair to the iteration as input". The pair is
``{"Key": k, "Value": v}``, as AWS gives a top-level JSON object read by an ``ItemReader``
(measured by Floci, its PR 1588, decision 0358), in the object's order.

The context object's ``Map.Item`` (``$$.Map.Item`` in JSONPath, ``$states.context.Map.Item``
in JSONata, read by the ``ItemSelector``): ``Index`` (from 0), ``Key`` for an entry, ``Value``
(the element, or the entry's value: the pair is what an iteration gets without a selector),
``Source`` for an item read from S3 (decision 0352).

- :func:`iterated`: the items of a value a Map iterates over, and their keys when it is an
  object; ``None`` for anything else (each caller fails in its own words);
- :func:`selected_items`: the items a Map without ``ItemReader`` iterates over — JSONPath's
  ``ItemsPath`` (``$`` where none), JSONata's ``Items`` (an array, as AWS's Map page asks),
  or the state's input where a JSONata state gives none (read as ``ItemsPath`` ``$``);
- :func:`item_context`: the context an iteration's ``ItemSelector`` reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from andromede.stepfunctions import state_data
from andromede.stepfunctions.states_error import StatesError

__all__ = ["entries", "item_context", "iterated", "selected_items"]


def entries(document: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """An object's entries as AWS passes them, ``{"Key", "Value"}`` in order, and their keys."""
    keys = [str(key) for key in document]
    return [{"Key": key, "Value": document[key]} for key in keys], keys


def iterated(value: Any) -> tuple[list[Any], list[str] | None] | None:
    """An array's elements (no keys), an object's entries and keys, else ``None``."""
    if isinstance(value, list):
        return value, None
    if isinstance(value, dict):
        return entries(value)
    return None


def selected_items(
    state: Mapping[str, Any], raw: Any, data: Any, context: dict[str, Any]
) -> tuple[list[Any], list[str] | None]:
    """The items of a Map without ``ItemReader`` (inline or distributed) and their keys."""
    selected = state_data.items_of(state, raw, data, context)
    if state_data.is_jsonata(state) and "Items" in state:
        if not isinstance(selected, list):
            raise state_data.query_failed(
                f"The Items field must evaluate to a JSON array, not {_kind(selected)}", "Items"
            )
        return selected, None
    found = iterated(selected)
    if found is None:
        where = "input" if state_data.is_jsonata(state) else "ItemsPath"
        raise StatesError("States.Runtime", f"The Map state's {where} must be a JSON array or "
                          f"object, not {_kind(selected)}")  # fmt: skip
    return found


def item_context(
    context: Mapping[str, Any], index: int, item: Any,
    keys: Sequence[str | None] | None = None, sources: Sequence[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """``context`` with ``Map.Item`` for the item at ``index``: its entry's key and value when
    it is an object's entry (``keys[index]``; ``None`` for an array's element, as a
    ``LOAD_AND_FLATTEN`` run mixes both), its ``Source`` when ``sources`` are given."""
    key = keys[index] if keys is not None else None
    found: dict[str, Any] = {"Index": index}
    if key is not None and isinstance(item, dict):
        found["Key"] = key
        found["Value"] = item.get("Value")
    else:
        found["Value"] = item
    if sources is not None:
        found["Source"] = sources[index]
    return {**context, "Map": {"Item": found}}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
