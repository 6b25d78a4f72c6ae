"""A distributed Map's fields read in the state's query language (decisions 0322 and 0338).

A JSONPath state gives its values as written or by their ``…Path`` over the input, and its S3
calls' ``Parameters`` as a template (``"Key.$": "$.key"``). A JSONata state gives each as a
value or a ``{% … %}`` expression over ``$states.input``, ``$states.context`` and the
variables, as AWS's field names have them: ``ItemReader.Arguments``,
``ReaderConfig.MaxItems``, ``ItemBatcher``'s ``MaxItemsPerBatch`` / ``MaxInputBytesPerBatch``
/ ``BatchInput``, ``ResultWriter.Arguments``, ``MaxConcurrency``,
``ToleratedFailurePercentage`` / ``ToleratedFailureCount``. A JSONata value of the wrong kind
is ``States.QueryEvaluationError`` located at its field (AWS's ``EvaluationFailed`` event), as
a Wait's ``Seconds`` is (decision 0329); a JSONPath one keeps 0322's ``States.Runtime``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from andromede.stepfunctions import state_data
from andromede.stepfunctions.states_error import StatesError

__all__ = [
    "batching",
    "concurrency",
    "most_items",
    "reader_arguments",
    "tolerance",
    "writer_arguments",
]

_MAX_BATCH_BYTES: Final = 262_144  # AWS: a batch's input is at most 256 KiB


def _whole(value: Any, least: int, most: float = float("inf")) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= most


def _arguments(state: Mapping[str, Any], holder: Mapping[str, Any], field: str, raw: Any,
               data: Any, context: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    if not state_data.is_jsonata(state):
        found = state_data.template(holder.get("Parameters", {}), data, context)
        return found if isinstance(found, dict) else {}
    found = state_data.resolved(holder.get("Arguments", {}), raw, context, f"{field}/Arguments")
    if not isinstance(found, dict):
        raise state_data.query_failed(f"The {field}'s Arguments must evaluate to an object",
                                      f"{field}/Arguments")  # fmt: skip
    return found


def reader_arguments(state: Mapping[str, Any], raw: Any, data: Any,
                     context: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """What the ``ItemReader`` calls S3 with (``Bucket``, ``Key`` or ``Prefix``)."""
    return _arguments(state, state["ItemReader"], "ItemReader", raw, data, context)


def writer_arguments(state: Mapping[str, Any], raw: Any, data: Any,
                     context: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """Where the ``ResultWriter`` writes (``Bucket``, ``Prefix``)."""
    return _arguments(state, state["ResultWriter"], "ResultWriter", raw, data, context)


def most_items(state: Mapping[str, Any], config: Mapping[str, Any], raw: Any, data: Any,
               context: dict[str, Any]) -> int | None:  # fmt: skip
    """``ReaderConfig.MaxItems`` (or its ``MaxItemsPath``): None, or 0, reads every item."""
    if state_data.is_jsonata(state):
        if "MaxItems" not in config:
            return None
        at = "ItemReader/ReaderConfig/MaxItems"
        most = state_data.resolved(config["MaxItems"], raw, context, at)
        if not _whole(most, 0):
            raise state_data.query_failed("The MaxItems must evaluate to a non-negative "
                                          "integer", at)  # fmt: skip
        return int(most)
    found = config.get("MaxItems")
    if "MaxItemsPath" in config:
        found = state_data.read(config["MaxItemsPath"], data, context)
    return found if _whole(found, 0) else None


def batching(state: Mapping[str, Any], raw: Any, data: Any,
             context: dict[str, Any]) -> tuple[int | None, int | None, Any]:  # fmt: skip
    """``ItemBatcher``'s most items and most bytes a batch, and its ``BatchInput``."""
    batcher = state["ItemBatcher"]
    if not state_data.is_jsonata(state):
        most = batcher.get("MaxItemsPerBatch")
        if "MaxItemsPerBatchPath" in batcher:
            most = state_data.read(batcher["MaxItemsPerBatchPath"], data, context)
        size = batcher.get("MaxInputBytesPerBatch")
        if "MaxInputBytesPerBatchPath" in batcher:
            size = state_data.read(batcher["MaxInputBytesPerBatchPath"], data, context)
        given = batcher.get("BatchInput")
        return most, size, None if given is None else state_data.template(given, data, context)
    found: dict[str, Any] = {}
    for name, least, highest in (("MaxItemsPerBatch", 1, float("inf")),
                                 ("MaxInputBytesPerBatch", 1, _MAX_BATCH_BYTES)):  # fmt: skip
        if name not in batcher:
            continue
        at = f"ItemBatcher/{name}"
        found[name] = state_data.resolved(batcher[name], raw, context, at)
        if not _whole(found[name], least, highest):
            bound = "a positive integer" if highest == float("inf") else (
                f"an integer between 1 and {_MAX_BATCH_BYTES}")  # fmt: skip
            raise state_data.query_failed(f"The {name} must evaluate to {bound}", at)
    batch_input = None
    if "BatchInput" in batcher:
        at = "ItemBatcher/BatchInput"
        batch_input = state_data.resolved(batcher["BatchInput"], raw, context, at)
        if not isinstance(batch_input, dict):
            raise state_data.query_failed("The BatchInput must evaluate to an object", at)
    return found.get("MaxItemsPerBatch"), found.get("MaxInputBytesPerBatch"), batch_input


def concurrency(state: Mapping[str, Any], raw: Any, data: Any, context: dict[str, Any]) -> int:
    """``MaxConcurrency`` (or its ``MaxConcurrencyPath``): 0, all at once."""
    asked = state_data.number_field(state, "MaxConcurrency", raw, data, context) or 0
    if state_data.is_jsonata(state) and not _whole(asked, 0):
        raise state_data.query_failed("The MaxConcurrency must evaluate to a non-negative "
                                      "integer", "MaxConcurrency")  # fmt: skip
    return int(asked)


def tolerance(state: Mapping[str, Any], field: str, raw: Any, data: Any,
              context: dict[str, Any]) -> Any:  # fmt: skip
    """A threshold as given, computed (JSONata) or read from the input by its ``…Path``; None
    when the state gives none."""
    whole = field == "ToleratedFailureCount"
    kind = "count" if whole else "percentage"
    if state_data.is_jsonata(state):
        if field not in state:
            return None
        value = state_data.resolved(state[field], raw, context, field)
        if not _valid_threshold(value, whole):
            raise state_data.query_failed(f"The {field} must evaluate to a valid {kind}", field)
        return value
    if f"{field}Path" not in state:
        return state.get(field)
    value = state_data.read(state[f"{field}Path"], data, context)
    if not _valid_threshold(value, whole):
        raise StatesError("States.Runtime", f"The value of {field}Path is not a valid {kind}")
    return value


def _valid_threshold(value: Any, whole: bool) -> bool:
    if whole:
        return _whole(value, 0)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return number and 0 <= value <= 100
