"""How a state's data flows (decisions 0271 and 0329), in either query language.

JSONPath states: ``InputPath``, ``Parameters`` (``.$`` keys a path, a ``$$`` context path,
an intrinsic function or a ``$variable``), ``ResultSelector``, ``ResultPath`` and
``OutputPath``. JSONata states (``QueryLanguage: "JSONata"``, the machine's or the state's
own): ``Arguments`` and ``Output``, whose ``{% … %}`` expressions read ``$states.input``,
``$states.result``, ``$states.errorOutput``, ``$states.context`` and the variables; a
state's output is its result by default (a Task's, a Map's, a Parallel's; a Catch's: the
error output), its input where it has no result. Both languages ``Assign`` variables
(``variables``) when the state ends, before its output is handed on."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from andromede.stepfunctions import variables
from andromede.stepfunctions.intrinsics import IntrinsicFailure, evaluate_intrinsic, is_intrinsic
from andromede.stepfunctions.jsonata_query import QueryFailure, expression_of, resolve
from andromede.stepfunctions.jsonpath import PathMissing, read_path, write_path
from andromede.stepfunctions.states_error import StatesError

__all__ = [
    "arguments",
    "caught",
    "condition",
    "fail_field",
    "finish",
    "input_of",
    "is_jsonata",
    "items_of",
    "number_field",
    "output_of",
    "placed",
    "query_failed",
    "read",
    "resolved",
    "result_of",
    "selected_item",
    "template",
    "wait_value",
    "with_query_language",
]

QUERY_FAILED: Final = "States.QueryEvaluationError"


def with_query_language(definition: dict[str, Any]) -> dict[str, Any]:
    """``definition`` (a copy) with each state's ``QueryLanguage`` written where the machine's
    applies to it, so a state (a branch's too) tells its own language."""
    if definition.get("QueryLanguage") != "JSONata":
        return definition
    marked = copy.deepcopy(definition)
    _mark(marked)
    return marked


def _mark(machine: dict[str, Any]) -> None:
    for state in (machine.get("States") or {}).values():
        if not isinstance(state, dict):
            continue
        state.setdefault("QueryLanguage", "JSONata")
        for inner in state.get("Branches") or []:
            if isinstance(inner, dict):
                _mark(inner)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            _mark(processor)


def is_jsonata(state: Mapping[str, Any]) -> bool:
    return state.get("QueryLanguage") == "JSONata"


# JSONPath ---------------------------------------------------------------------------------


def read(path: str, data: Any, context: dict[str, Any]) -> Any:
    """What a reference path selects: of the context (``$$…``), of a variable (``$name…``)
    or of the data (``$``, ``$.…``)."""
    try:
        if path.startswith("$$"):
            return read_path(context, path[1:])
        if variables.is_reference(path):
            return variables.read_reference(path)
        return read_path(data, path)
    except PathMissing as exc:
        raise StatesError("States.Runtime", str(exc)) from exc


def template(value: Any, data: Any, context: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, inner in value.items():
            if key.endswith(".$") and isinstance(inner, str):
                if is_intrinsic(inner):
                    try:
                        out[key[:-2]] = evaluate_intrinsic(inner, data, context)
                    except IntrinsicFailure as exc:
                        raise StatesError("States.IntrinsicFailure", str(exc)) from exc
                else:
                    out[key[:-2]] = read(inner, data, context)
            else:
                out[key] = template(inner, data, context)
        return out
    if isinstance(value, list):
        return [template(v, data, context) for v in value]
    return value


def input_of(state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> Any:
    if "InputPath" not in state:
        return data
    path = state["InputPath"]
    return {} if path is None else read(path, data, context)


def output_of(state: Mapping[str, Any], data: Any, context: dict[str, Any]) -> Any:
    if "OutputPath" not in state:
        return data
    path = state["OutputPath"]
    return {} if path is None else read(path, data, context)


def result_of(state: Mapping[str, Any], raw: Any, result: Any, context: dict[str, Any]) -> Any:
    if "ResultSelector" in state:
        result = template(state["ResultSelector"], result, context)
    return placed(state.get("ResultPath", "$"), raw, result)


def placed(path: str | None, raw: Any, result: Any) -> Any:
    if path is None:
        return raw
    try:
        return write_path(raw, path, result)
    except PathMissing as exc:
        raise StatesError("States.Runtime", str(exc)) from exc


# Both languages ---------------------------------------------------------------------------


def arguments(state: Mapping[str, Any], raw: Any, data: Any, context: dict[str, Any]) -> Any:
    """What a Task is called with, a Parallel's branches or a Pass's result begin from:
    JSONata's ``Arguments`` (the input where none), JSONPath's ``Parameters`` over ``data``."""
    if is_jsonata(state):
        if "Arguments" not in state:
            return raw
        return _resolved(state["Arguments"], _bindings(raw, context), "Arguments")
    if "Parameters" in state:
        return template(state["Parameters"], data, context)
    return data


def finish(state: Mapping[str, Any], raw: Any, result: Any, context: dict[str, Any]) -> Any:
    """The state's output once it has its ``result`` (a state without one: its input after
    ``InputPath``), its ``Assign`` made."""
    if is_jsonata(state):
        bindings = _bindings(raw, context, result=result)
        output = _resolved(state["Output"], bindings, "Output") if "Output" in state else result
        if "Assign" in state:
            variables.assign(_resolved(state["Assign"], bindings, "Assign"))
        return output
    if "ResultSelector" in state:
        result = template(state["ResultSelector"], result, context)
    # The output first: a state whose output fails assigns nothing.
    output = output_of(state, placed(state.get("ResultPath", "$"), raw, result), context)
    if "Assign" in state:
        variables.assign(template(state["Assign"], result, context))
    return output


def caught(catcher: Mapping[str, Any], state: Mapping[str, Any], raw: Any,
           error_output: dict[str, Any], context: dict[str, Any]) -> Any:  # fmt: skip
    """The output a ``Catch`` rule hands its ``Next``, its ``Assign`` made."""
    if is_jsonata(state):
        bindings = _bindings(raw, context, errorOutput=error_output)
        output = (
            _resolved(catcher["Output"], bindings, "Output")
            if "Output" in catcher
            else error_output
        )
        if "Assign" in catcher:
            variables.assign(_resolved(catcher["Assign"], bindings, "Assign"))
        return output
    output = placed(catcher.get("ResultPath", "$"), raw, error_output)
    if "Assign" in catcher:
        variables.assign(template(catcher["Assign"], error_output, context))
    return output


def chosen(rule: Mapping[str, Any] | None, state: Mapping[str, Any], raw: Any,
           context: dict[str, Any]) -> Any:  # fmt: skip
    """A Choice's output once ``rule`` matched (None: its Default), the rule's ``Assign``
    (the state's, for the Default) made."""
    holder = rule if rule is not None else state
    if is_jsonata(state):
        bindings = _bindings(raw, context)
        output = _resolved(holder["Output"], bindings, "Output") if "Output" in holder else raw
        if "Assign" in holder:
            variables.assign(_resolved(holder["Assign"], bindings, "Assign"))
        return output
    data = input_of(state, raw, context)
    output = output_of(state, data, context)
    if "Assign" in holder:
        variables.assign(template(holder["Assign"], data, context))
    return output


def condition(rule: Mapping[str, Any], raw: Any, context: dict[str, Any]) -> bool:
    """A JSONata Choice rule's ``Condition``: it must be a boolean."""
    value = _resolved(rule["Condition"], _bindings(raw, context), "Condition")
    if not isinstance(value, bool):
        raise _query_failed("The Condition must evaluate to a boolean", "Condition")
    return value


def fail_field(state: Mapping[str, Any], name: str, raw: Any, context: dict[str, Any]) -> str:
    """A JSONata Fail state's ``Error`` or ``Cause``."""
    value = _resolved(state.get(name, ""), _bindings(raw, context), name)
    if not isinstance(value, str):
        raise _query_failed(f"The {name} must evaluate to a string", name)
    return value


def wait_value(state: Mapping[str, Any], name: str, raw: Any, context: dict[str, Any]) -> Any:
    """A JSONata Wait's ``Seconds`` or ``Timestamp`` (a Task's ``TimeoutSeconds``…)."""
    return _resolved(state[name], _bindings(raw, context), name)


def number_field(state: Mapping[str, Any], name: str, raw: Any, data: Any,
                 context: dict[str, Any]) -> Any:  # fmt: skip
    """A Task's ``TimeoutSeconds``/``HeartbeatSeconds``, a Map's ``MaxConcurrency``: a JSONata
    state's value or expression, a JSONPath state's value or its ``…Path`` over ``data``
    (None when the state gives neither)."""
    if is_jsonata(state):
        return _resolved(state[name], _bindings(raw, context), name) if name in state else None
    if f"{name}Path" in state:
        return read(state[f"{name}Path"], data, context)
    return state.get(name)


def items_of(state: Mapping[str, Any], raw: Any, data: Any, context: dict[str, Any]) -> Any:
    """The items a Map iterates over: JSONata's ``Items`` (the input where none), JSONPath's
    ``ItemsPath``."""
    if is_jsonata(state):
        if "Items" not in state:
            return raw
        return _resolved(state["Items"], _bindings(raw, context), "Items")
    return read(state.get("ItemsPath", "$"), data, context)


def selected_item(state: Mapping[str, Any], selector: Any, raw: Any, data: Any,
                  context: dict[str, Any]) -> Any:  # fmt: skip
    """An iteration's input from the ``ItemSelector`` (``context`` holding ``Map.Item``)."""
    if is_jsonata(state):
        return _resolved(selector, _bindings(raw, context), "ItemSelector")
    return template(selector, data, context)


def resolved(value: Any, raw: Any, context: dict[str, Any], field: str) -> Any:
    """A JSONata state's field (an expression, or a template holding some) evaluated over the
    state's input, its failure located at ``field`` (a distributed Map's nested fields)."""
    return _resolved(value, _bindings(raw, context), field)


def query_failed(cause: str, field: str) -> StatesError:
    """A JSONata field's value of the wrong kind: ``States.QueryEvaluationError`` at it."""
    return _query_failed(cause, field)


def _bindings(raw: Any, context: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**variables.visible(), "states": {"input": raw, "context": context, **extra}}


def _resolved(value: Any, bindings: dict[str, Any], field: str) -> Any:
    if expression_of(value) is None and not isinstance(value, dict | list):
        return value
    try:
        return resolve(value, bindings, field)
    except QueryFailure as exc:
        raise _query_failed(str(exc), field) from exc


def _query_failed(cause: str, field: str) -> StatesError:
    """``States.QueryEvaluationError``, located at the field whose expression failed (the
    state's ``EvaluationFailed`` event tells it)."""
    failed = StatesError(QUERY_FAILED, cause)
    failed.location = field
    return failed
