"""The Amazon States Language validated as AWS's ValidateStateMachineDefinition validates it
(decision 0271): pure functions from a definition's text to its diagnostics.

Each problem is a :class:`Diagnostic` of AWS's codes and words, located where AWS locates it
(``/States/<name>/<field>``, a branch's or an item processor's states under their own path):

- ``INVALID_JSON_DESCRIPTION`` (not JSON, or not an object), ``MISSING_DESCRIPTION`` (empty);
- ``SCHEMA_VALIDATION_FAILED``: a field missing (``These fields are required: [...]``), one
  the state's type does not take (``Field '<name>' is not supported``), a value of the wrong
  kind, both or neither of ``Next``/``End``, a Choice rule with no or two comparisons, a
  ``.$`` parameter that is no path nor intrinsic function;
- ``INVALID_RESOURCE``: a Task's resource not served here (the integrations not served are
  refused by name; Lambda's ``lambda:invoke`` and a function's ARN are served, decision
  0294);
- ``MISSING_TRANSITION_TARGET``: a ``Next``/``Default``/``StartAt`` naming no state of its
  scope (AWS says ``Missing 'Next' target: <name>`` for each), or a state nothing reaches
  (``State "<name>" is not reachable.``);
- ``MISSING_END_STATE``: a scope with no terminal state (then AWS skips the reachability
  walk, and so does this).

JSONata (``QueryLanguage``) and variables (``Assign``) are checked as AWS's
(``definition_jsonata``, decision 0329), and so are the variables' scopes (``variable_scopes``,
decision 0338: an inner scope does not assign an outer scope's name). The distributed Map's
fields (``ItemReader``, ``ItemBatcher``, ``ResultWriter``, ``ToleratedFailure…``, ``Label``)
are checked as AWS's (decision 0322, ``map_checks``), in either query language (0338).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.definition_jsonata import (
    JSONATA_ONLY,
    assign_problems,
    jsonata_problems,
    language_problems,
)
from andromede.stepfunctions.jsonata_query import expression_of
from andromede.stepfunctions.map_checks import distributed_map_problems
from andromede.stepfunctions.state_data import is_jsonata, with_query_language
from andromede.stepfunctions.variable_scopes import scope_problems
from andromede.stepfunctions.variables import is_reference

__all__ = [
    "COMPARISONS",
    "Diagnostic",
    "check_definition",
    "definition_error",
    "parse_definition",
]

_TYPES: Final = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
_IO: Final = frozenset({"InputPath", "OutputPath"})
_RESULT: Final = frozenset({"ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"})
_FLOW: Final = frozenset({"Next", "End", "QueryLanguage", "Assign"})
_FIELDS: Final[dict[str, frozenset[str]]] = {
    "Pass": _IO | _FLOW | {"ResultPath", "Parameters", "Result", "Output"},
    "Task": _IO | _FLOW | _RESULT | {
        "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds",
        "HeartbeatSecondsPath", "Arguments", "Output",
    },
    "Choice": _IO | {"Choices", "Default", "QueryLanguage", "Assign", "Output"},
    "Wait": _IO | _FLOW | {"Seconds", "Timestamp", "SecondsPath", "TimestampPath", "Output"},
    "Succeed": _IO | {"QueryLanguage", "Output"},
    "Fail": frozenset({"Error", "Cause", "ErrorPath", "CausePath", "QueryLanguage"}),
    "Parallel": _IO | _FLOW | _RESULT | {"Branches", "Arguments", "Output"},
    "Map": _IO | _FLOW | _RESULT | {"Items", "Output",
        "ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "MaxConcurrency",
        "MaxConcurrencyPath", "ItemReader", "ItemBatcher", "ResultWriter",
        "ToleratedFailurePercentage", "ToleratedFailureCount", "ToleratedFailurePercentagePath",
        "ToleratedFailureCountPath", "Label",
    },
}  # fmt: skip
_NOT_SERVED: Final = frozenset({"Credentials"})
_TOP: Final = frozenset(
    {"Comment", "StartAt", "States", "Version", "TimeoutSeconds", "QueryLanguage"}
)
_COMPARED: Final = (
    "StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals",
    "StringGreaterThanEquals", "NumericEquals", "NumericLessThan", "NumericGreaterThan",
    "NumericLessThanEquals", "NumericGreaterThanEquals", "BooleanEquals", "TimestampEquals",
    "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
)  # fmt: skip
_TESTS: Final = ("IsNull", "IsPresent", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp")
# Every comparison a Choice rule may make: each operator, its ``…Path`` twin, the type tests
# and StringMatches.
COMPARISONS: Final = frozenset(
    [*_COMPARED, *(f"{name}Path" for name in _COMPARED), *_TESTS, "StringMatches"]
)
# The Task resources the interpreter calls (decision 0271): activities, and these
# integrations (with their ``.waitForTaskToken`` / ``.sync`` patterns).
_INTEGRATIONS: Final = frozenset(
    {"sqs:sendMessage", "sqs:sendMessage.waitForTaskToken", "sns:publish",
     "sns:publish.waitForTaskToken", "dynamodb:putItem", "dynamodb:getItem",
     "dynamodb:updateItem", "dynamodb:deleteItem", "events:putEvents",
     "events:putEvents.waitForTaskToken", "states:startExecution",
     "states:startExecution.sync", "states:startExecution.sync:2",
     "states:startExecution.waitForTaskToken", "lambda:invoke",
     "lambda:invoke.waitForTaskToken"}
)  # fmt: skip
# A function's ARN as a Task's resource: the legacy Lambda form (decision 0294).
_FUNCTION: Final = re.compile(
    r"arn:aws[a-zA-Z-]*:lambda:[a-z0-9-]+:\d{12}:function:[a-zA-Z0-9_-]{1,64}"
    r"(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)
_ACTIVITY: Final = re.compile(r"arn:aws:states:[a-z0-9-]+:\d{12}:activity:[^\s:]{1,80}")
_TIMESTAMP: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_MAX_STATE_NAME: Final = 80
_MAX_DEPTH: Final = 10


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem of a definition, as ValidateStateMachineDefinition lists it."""

    code: str
    message: str
    location: str | None = None
    severity: str = "ERROR"

    def said(self) -> str:
        where = "" if self.location is None else f" at {self.location}"
        return f"{self.code}: {self.message}{where}"


def definition_error(diagnostics: list[Diagnostic]) -> str:
    """The message of AWS's ``InvalidDefinition`` for these diagnostics."""
    return "Invalid State Machine Definition: '" + ", ".join(d.said() for d in diagnostics) + "'"


def parse_definition(text: Any) -> tuple[dict[str, Any] | None, list[Diagnostic]]:
    """The definition's JSON object and its diagnostics (none when it is valid)."""
    if not isinstance(text, str) or not text.strip():
        return None, [Diagnostic("MISSING_DESCRIPTION", "Received a null or empty definition")]
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        return None, [Diagnostic("INVALID_JSON_DESCRIPTION", str(exc)[:256])]
    if not isinstance(parsed, dict):
        return None, [
            Diagnostic("INVALID_JSON_DESCRIPTION", "The definition must be a JSON object")
        ]
    return parsed, check_definition(parsed)


def check_definition(definition: Mapping[str, Any]) -> list[Diagnostic]:
    found = [_schema(message, at) for message, at in language_problems(definition)]
    # Each state tells its own language, the machine's where it names none.
    definition = with_query_language(dict(definition))
    for name in definition:
        if name not in _TOP:
            found.append(_unsupported(name, ""))
    timeout = definition.get("TimeoutSeconds")
    if timeout is not None and not _positive_int(timeout):
        found.append(_schema("The field 'TimeoutSeconds' must be a positive integer", "/"))
    found += _scope(definition, "", 0)
    found += [_schema(message, at) for message, at in scope_problems(definition)]
    return found


def _schema(message: str, location: str) -> Diagnostic:
    return Diagnostic("SCHEMA_VALIDATION_FAILED", message, location or "/")


def _unsupported(name: str, location: str) -> Diagnostic:
    if name in _NOT_SERVED:
        return _schema(f"Field '{name}' is not supported by this platform", location)
    return _schema(f"Field '{name}' is not supported", location)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _expression(state: Mapping[str, Any], name: str) -> bool:
    """Whether a JSONata state gives the field as a ``{% … %}`` expression."""
    return is_jsonata(state) and expression_of(state.get(name)) is not None


def _is_path(value: Any, context: bool = True) -> bool:
    """A JSONPath of ASL's reference paths (``$``…; ``$$``… and a variable's ``$name``…
    where the context is allowed)."""
    return isinstance(value, str) and (
        value == "$"
        or value.startswith(("$.", "$["))
        or (context and (value.startswith("$$") or is_reference(value)))
    )


def _scope(machine: Mapping[str, Any], path: str, depth: int) -> list[Diagnostic]:
    """The diagnostics of one set of states (the machine's, a branch's, an item processor's)."""
    found: list[Diagnostic] = []
    if depth > _MAX_DEPTH:
        return [Diagnostic("TOO_DEEPLY_NESTED", "The states are too deeply nested", path)]
    missing = [name for name in ("StartAt", "States") if name not in machine]
    if missing:
        return [_schema(f"These fields are required: [{', '.join(missing)}]", path)]
    states = machine["States"]
    start = machine["StartAt"]
    if not isinstance(states, dict) or not states:
        return [_schema("The field 'States' must be a non-empty object", f"{path}/States")]
    if not isinstance(start, str):
        return [_schema("The field 'StartAt' must be a string", f"{path}/StartAt")]
    for name, state in states.items():
        where = f"{path}/States/{name}"
        if not 1 <= len(name) <= _MAX_STATE_NAME:
            found.append(
                Diagnostic("INVALID_STATE_NAME", f"State name '{name[:80]}' is too long", where)
            )
        if not isinstance(state, dict):
            found.append(_schema("A state must be a JSON object", where))
            continue
        found += _state(state, where, depth)
    if start not in states:
        found.append(
            Diagnostic("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {start}",
                       f"{path}/StartAt")
        )  # fmt: skip
    found += _targets(states, path)
    if any(d.code == "SCHEMA_VALIDATION_FAILED" for d in found):
        return found
    if not any(_terminal(s) for s in states.values() if isinstance(s, dict)):
        found.append(Diagnostic("MISSING_END_STATE", "Workflow has no terminal state"))
        return found
    reached = _reachable(states, start)
    for name in states:
        if name not in reached:
            found.append(
                Diagnostic("MISSING_TRANSITION_TARGET", f'State "{name}" is not reachable.',
                           f"{path}/States/{name}")
            )  # fmt: skip
    return found


def _terminal(state: Mapping[str, Any]) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True


def _next_names(state: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each (location under the state, target) a state may go on to."""
    if "Next" in state:
        yield "Next", state["Next"]
    for index, rule in enumerate(_list(state.get("Choices"))):
        if isinstance(rule, dict) and "Next" in rule:
            yield f"Choices[{index}]/Next", rule["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for index, catcher in enumerate(_list(state.get("Catch"))):
        if isinstance(catcher, dict) and "Next" in catcher:
            yield f"Catch[{index}]/Next", catcher["Next"]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _targets(states: Mapping[str, Any], path: str) -> list[Diagnostic]:
    found = []
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for where, target in _next_names(state):
            if isinstance(target, str) and target not in states:
                found.append(
                    Diagnostic("MISSING_TRANSITION_TARGET", f"Missing 'Next' target: {target}",
                               f"{path}/States/{name}/{where}")
                )  # fmt: skip
    return found


def _reachable(states: Mapping[str, Any], start: str) -> set[str]:
    reached: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        state = states.get(name)
        if name in reached or not isinstance(state, dict):
            continue
        reached.add(name)
        todo += [t for _, t in _next_names(state) if isinstance(t, str)]
    return reached


def _state(state: Mapping[str, Any], where: str, depth: int) -> list[Diagnostic]:
    kind = state.get("Type")
    if kind is None:
        return [_schema("These fields are required: [Type]", where)]
    if kind not in _TYPES:
        return [
            _schema(f"The field 'Type' should have one of these values: [{', '.join(_TYPES)}]",
                    f"{where}/Type")
        ]  # fmt: skip
    found = [
        _unsupported(name, where)
        for name in state
        if name not in _FIELDS[kind] and name not in ("Type", "Comment")
    ]
    if "Next" in _FIELDS[kind]:
        found += _flow(state, where)
    if is_jsonata(state):
        found += [_schema(message, at) for message, at in jsonata_problems(state, where)]
    else:
        found += [_schema(f"Field '{name}' is only supported in a JSONata state",
                          f"{where}/{name}") for name in state if name in JSONATA_ONLY]  # fmt: skip
        if "Assign" in state:
            problems = assign_problems(state["Assign"], f"{where}/Assign", jsonata=False)
            found += [_schema(message, at) for message, at in problems]
    for name in ("InputPath", "OutputPath", "ResultPath", "ItemsPath"):
        value = state.get(name)
        if name in state and value is not None and not _is_path(value, name != "ResultPath"):
            found.append(_schema(f"The value for the field '{name}' must be a valid JSONPath",
                                 f"{where}/{name}"))  # fmt: skip
    for name in ("Parameters", "ResultSelector", "ItemSelector"):
        if name in state:
            found += _payload(state[name], f"{where}/{name}")
    found += _errors_handled(state, where)
    checks = {
        "Task": _task, "Wait": _wait, "Fail": _fail, "Choice": _choice,
    }  # fmt: skip
    if is_jsonata(state):  # its Wait and Choice rules are checked as JSONata's
        checks = {"Task": _task, "Fail": _fail, "Choice": _jsonata_choice}
    if kind in checks:
        found += checks[kind](state, where)
    elif kind == "Parallel":
        branches = state.get("Branches")
        if not isinstance(branches, list) or not branches:
            found.append(_schema("These fields are required: [Branches]", where))
        for index, branch in enumerate(_list(branches)):
            at = f"{where}/Branches[{index}]"
            found += (
                _scope(branch, at, depth + 1)
                if isinstance(branch, dict)
                else [_schema("A branch must be a JSON object", at)]
            )
    elif kind == "Map":
        found += _map(state, where, depth)
    return found


def _flow(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    has_next, end = "Next" in state, state.get("End")
    if has_next and "End" in state:
        return [_schema("Only one of these fields may be given: [Next, End]", where)]
    if not has_next and end is not True:
        if "End" in state:
            return [_schema("The field 'End' must be true", f"{where}/End")]
        return [_schema("These fields are required: [Next or End]", where)]
    if has_next and not isinstance(state["Next"], str):
        return [_schema("The field 'Next' must be a string", f"{where}/Next")]
    return []


def _payload(value: Any, where: str) -> list[Diagnostic]:
    """A Parameters/ResultSelector/ItemSelector template: each ``.$`` key a path or an
    intrinsic function call."""
    found: list[Diagnostic] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key.endswith(".$"):
                if not (_is_path(inner) or _intrinsic(inner)):
                    found.append(
                        _schema(f"The value for the field '{key}' must be a valid JSONPath or "
                                "a valid intrinsic function call", where)
                    )  # fmt: skip
            else:
                found += _payload(inner, where)
    elif isinstance(value, list):
        for inner in value:
            found += _payload(inner, where)
    return found


def _intrinsic(value: Any) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"States\.[A-Za-z0-9]+\(.*\)", value))


def _errors_handled(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for field_name in ("Retry", "Catch"):
        if field_name not in state:
            continue
        rules = state[field_name]
        if not isinstance(rules, list):
            found.append(_schema(f"The field '{field_name}' must be a list",
                                 f"{where}/{field_name}"))  # fmt: skip
            continue
        for index, rule in enumerate(rules):
            at = f"{where}/{field_name}[{index}]"
            found += _error_rule(field_name, rule, at, last=index == len(rules) - 1)
    return found


_RETRY_FIELDS: Final = frozenset(
    {"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds",
     "JitterStrategy", "Comment"}
)  # fmt: skip
_CATCH_FIELDS: Final = frozenset({"ErrorEquals", "Next", "ResultPath", "Comment", "Assign",
                                  "Output"})  # fmt: skip


def _error_rule(kind: str, rule: Any, at: str, last: bool) -> list[Diagnostic]:
    if not isinstance(rule, dict):
        return [_schema(f"A {kind} rule must be a JSON object", at)]
    allowed = _RETRY_FIELDS if kind == "Retry" else _CATCH_FIELDS
    found = [_unsupported(name, at) for name in rule if name not in allowed]
    errors = rule.get("ErrorEquals")
    if not isinstance(errors, list) or not errors or not all(isinstance(e, str) for e in errors):
        found.append(_schema("These fields are required: [ErrorEquals]", at))
    elif "States.ALL" in errors and (len(errors) > 1 or not last):
        found.append(_schema("States.ALL must appear alone, in the last rule", f"{at}/ErrorEquals"))
    if kind == "Catch":
        if not isinstance(rule.get("Next"), str):
            found.append(_schema("These fields are required: [Next]", at))
        result = rule.get("ResultPath")
        if "ResultPath" in rule and result is not None and not _is_path(result, False):
            found.append(_schema("The value for the field 'ResultPath' must be a valid JSONPath",
                                 f"{at}/ResultPath"))  # fmt: skip
        return found
    for name, least in (("IntervalSeconds", 1), ("MaxAttempts", 0), ("MaxDelaySeconds", 1)):
        value = rule.get(name)
        if name in rule and (
            not isinstance(value, int) or isinstance(value, bool) or value < least
        ):
            found.append(_schema(f"The field '{name}' must be an integer of at least {least}",
                                 f"{at}/{name}"))  # fmt: skip
    rate = rule.get("BackoffRate")
    if "BackoffRate" in rule and (
        not isinstance(rate, int | float) or isinstance(rate, bool) or rate < 1
    ):
        found.append(_schema("The field 'BackoffRate' must be a number of at least 1.0",
                             f"{at}/BackoffRate"))  # fmt: skip
    if rule.get("JitterStrategy", "NONE") not in ("FULL", "NONE"):
        found.append(_schema("The field 'JitterStrategy' should have one of these values: "
                             "[FULL, NONE]", f"{at}/JitterStrategy"))  # fmt: skip
    return found


def _task(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    resource = state.get("Resource")
    if not isinstance(resource, str):
        return [_schema("These fields are required: [Resource]", where)]
    if not _served_resource(resource):
        found.append(
            Diagnostic("INVALID_RESOURCE", f"The resource provided {resource[:256]} is not "
                       "recognized or not served by this platform. Served: activities, "
                       "sqs:sendMessage, sns:publish, dynamodb:putItem|getItem|updateItem|"
                       "deleteItem, events:putEvents, states:startExecution, lambda:invoke "
                       "and functions' ARNs.",
                       f"{where}/Resource")
        )  # fmt: skip
    params = state.get("Parameters")
    if (
        resource.removesuffix(".waitForTaskToken") == "arn:aws:states:::lambda:invoke"
        and isinstance(params, Mapping)
        and not {"FunctionName", "FunctionName.$"} & params.keys()
    ):
        found.append(_schema('The field "FunctionName" is required but was missing',
                             f"{where}/Parameters"))  # fmt: skip
    for name in ("TimeoutSeconds", "HeartbeatSeconds"):
        if name in state and not _positive_int(state[name]) and not _expression(state, name):
            found.append(_schema(f"The field '{name}' must be a positive integer",
                                 f"{where}/{name}"))  # fmt: skip
        if name in state and f"{name}Path" in state:
            found.append(_schema(f"Only one of these fields may be given: [{name}, {name}Path]",
                                 where))  # fmt: skip
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if isinstance(timeout, int) and isinstance(heartbeat, int) and 0 < timeout <= heartbeat:
        found.append(_schema("The field 'HeartbeatSeconds' must be smaller than the field "
                             "'TimeoutSeconds'", f"{where}/HeartbeatSeconds"))  # fmt: skip
    return found


def _served_resource(resource: str) -> bool:
    if _ACTIVITY.fullmatch(resource) or _FUNCTION.fullmatch(resource):
        return True
    prefix = "arn:aws:states:::"
    if not resource.startswith(prefix):
        return False
    return resource[len(prefix) :] in _INTEGRATIONS


def _wait(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    given = [n for n in ("Seconds", "Timestamp", "SecondsPath", "TimestampPath") if n in state]
    if len(given) != 1:
        return [_schema("Exactly one of these fields is required: "
                        "[Seconds, Timestamp, SecondsPath, TimestampPath]", where)]  # fmt: skip
    name = given[0]
    value = state[name]
    if name == "Seconds" and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        return [_schema("The field 'Seconds' must be a non-negative integer", f"{where}/Seconds")]
    if name == "Timestamp" and not (isinstance(value, str) and _TIMESTAMP.fullmatch(value)):
        return [_schema("The field 'Timestamp' must be an ISO-8601 timestamp",
                        f"{where}/Timestamp")]  # fmt: skip
    if name.endswith("Path") and not _is_path(value):
        return [_schema(f"The value for the field '{name}' must be a valid JSONPath",
                        f"{where}/{name}")]  # fmt: skip
    return []


def _fail(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    found = []
    for name in ("Error", "Cause"):
        if name in state and f"{name}Path" in state:
            found.append(_schema(f"Only one of these fields may be given: [{name}, {name}Path]",
                                 where))  # fmt: skip
        if name in state and not isinstance(state[name], str):
            found.append(_schema(f"The field '{name}' must be a string", f"{where}/{name}"))
        path = state.get(f"{name}Path")
        if f"{name}Path" in state and not (_is_path(path) or _intrinsic(path)):
            found.append(
                _schema(f"The value for the field '{name}Path' must be a valid JSONPath or a "
                        "valid intrinsic function call", f"{where}/{name}Path")
            )  # fmt: skip
    return found


def _choice(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    rules = state.get("Choices")
    if not isinstance(rules, list) or not rules:
        return [_schema("These fields are required: [Choices]", where)]
    found: list[Diagnostic] = []
    if "Default" in state and not isinstance(state["Default"], str):
        found.append(_schema("The field 'Default' must be a string", f"{where}/Default"))
    for index, rule in enumerate(rules):
        found += _rule(rule, f"{where}/Choices[{index}]", top=True)
    return found


def _jsonata_choice(state: Mapping[str, Any], where: str) -> list[Diagnostic]:
    rules = state.get("Choices")
    if not isinstance(rules, list) or not rules:
        return [_schema("These fields are required: [Choices]", where)]
    return [_schema("These fields are required: [Next]", f"{where}/Choices[{index}]")
            for index, rule in enumerate(rules)
            if not isinstance(rule, dict) or not isinstance(rule.get("Next"), str)]  # fmt: skip


def _rule(rule: Any, at: str, top: bool) -> list[Diagnostic]:
    if not isinstance(rule, dict):
        return [_schema("A choice rule must be a JSON object", at)]
    found: list[Diagnostic] = []
    if top and not isinstance(rule.get("Next"), str):
        found.append(_schema("These fields are required: [Next]", at))
    if not top and "Next" in rule:
        found.append(_unsupported("Next", at))
    combinators = [n for n in ("And", "Or", "Not") if n in rule]
    comparisons = [n for n in rule if n in COMPARISONS]
    others = set(rule) - {"Next", "Comment", "Variable", *combinators, *comparisons}
    if top and "Assign" in rule:
        others.discard("Assign")
        problems = assign_problems(rule["Assign"], f"{at}/Assign", jsonata=False)
        found += [_schema(message, where) for message, where in problems]
    found += [_unsupported(name, at) for name in sorted(others)]
    if len(combinators) + len(comparisons) != 1:
        found.append(_schema("A choice rule must have exactly one comparison or one of "
                             "[And, Or, Not]", at))  # fmt: skip
        return found
    if combinators:
        if "Variable" in rule:
            found.append(_unsupported("Variable", at))
        name = combinators[0]
        inner = rule[name]
        if name == "Not":
            return found + _rule(inner, f"{at}/Not", top=False)
        if not isinstance(inner, list) or not inner:
            return [*found, _schema(f"The field '{name}' must be a non-empty list", f"{at}/{name}")]
        for index, nested in enumerate(inner):
            found += _rule(nested, f"{at}/{name}[{index}]", top=False)
        return found
    if not _is_path(rule.get("Variable")):
        found.append(_schema("The field 'Variable' must be a valid JSONPath", f"{at}/Variable"))
    found += _operand(comparisons[0], rule[comparisons[0]], f"{at}/{comparisons[0]}")
    return found


def _operand(operator: str, value: Any, at: str) -> list[Diagnostic]:
    if operator.endswith("Path"):
        ok = _is_path(value)
        kind = "a valid JSONPath"
    elif operator in _TESTS or operator == "BooleanEquals":
        ok, kind = isinstance(value, bool), "a boolean"
    elif operator.startswith("Numeric"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        kind = "a number"
    elif operator.startswith("Timestamp"):
        ok, kind = isinstance(value, str) and bool(_TIMESTAMP.fullmatch(value)), "a timestamp"
    else:
        ok, kind = isinstance(value, str), "a string"
    if ok:
        return []
    name = at.rsplit("/", 1)[-1]
    return [_schema(f"The value for the field '{name}' must be {kind}", at)]


def _map(state: Mapping[str, Any], where: str, depth: int) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if "ItemProcessor" in state and "Iterator" in state:
        found.append(_schema("Only one of these fields may be given: [ItemProcessor, Iterator]",
                             where))  # fmt: skip
    if "ItemSelector" in state and "Parameters" in state:
        found.append(_schema("Only one of these fields may be given: [ItemSelector, "
                             "Parameters]", where))  # fmt: skip
    name = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
    processor = state.get(name)
    if not isinstance(processor, dict):
        return [*found, _schema("These fields are required: [ItemProcessor]", where)]
    config = processor.get("ProcessorConfig", {})
    mode = config.get("Mode", "INLINE") if isinstance(config, dict) else None
    if mode not in ("INLINE", "DISTRIBUTED"):
        found.append(_schema("The field 'Mode' should have one of these values: [INLINE, "
                             "DISTRIBUTED]", f"{where}/{name}/ProcessorConfig"))  # fmt: skip
    distributed = mode == "DISTRIBUTED"
    problems = distributed_map_problems(state, processor, where, name, distributed,
                                        jsonata=is_jsonata(state))  # fmt: skip
    found += [_schema(message, at) for message, at in problems]
    inner = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
    found += _scope(inner, f"{where}/{name}", depth + 1)
    concurrency = state.get("MaxConcurrency")
    if (
        "MaxConcurrency" in state
        and not _expression(state, "MaxConcurrency")
        and (not isinstance(concurrency, int) or isinstance(concurrency, bool) or concurrency < 0)
    ):
        found.append(_schema("The field 'MaxConcurrency' must be a non-negative integer",
                             f"{where}/MaxConcurrency"))  # fmt: skip
    return found
