"""The checks a definition's JSONata states and variables get (decision 0329), as AWS's
ValidateStateMachineDefinition makes them: pure functions of a state to its problems
(``(message, location)``, ``definition`` makes them SCHEMA_VALIDATION_FAILED diagnostics).

- ``QueryLanguage`` is ``JSONata`` or ``JSONPath``; a machine in JSONata has no state in
  JSONPath (the other way round is allowed, state by state);
- a JSONata state has none of JSONPath's fields (``InputPath``, ``Parameters``,
  ``ResultSelector``, ``ResultPath``, ``OutputPath``, ``ItemsPath``, the ``…Path`` fields of
  a Wait, a Task, a Fail, a Map), a JSONPath state none of JSONata's (``Arguments``,
  ``Output``, ``Items``, a rule's ``Condition``);
- each ``{% … %}`` expression parses; a JSONata Choice rule has a ``Condition`` (a boolean
  or an expression), a Wait's ``Seconds``/``Timestamp`` is a value or an expression;
- an ``Assign`` is an object whose names are variables' (a letter or ``_`` first, then
  letters, digits or ``_``, 80 at most, ``states`` reserved; ``.$`` after a JSONPath one's).

A distributed Map's nested expressions are parsed too (decision 0338: its S3 calls'
``Arguments``, ``MaxItems``, ``ItemBatcher``'s fields, the failure thresholds)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from andromede.stepfunctions.jsonata_query import expression_of, problem_of

__all__ = ["JSONATA_ONLY", "JSONPATH_ONLY", "assign_problems", "jsonata_problems",
           "language_problems"]  # fmt: skip

Problem = tuple[str, str]

JSONPATH_ONLY: Final = frozenset(
    {"InputPath", "Parameters", "ResultSelector", "ResultPath", "OutputPath", "ItemsPath",
     "SecondsPath", "TimestampPath", "TimeoutSecondsPath", "HeartbeatSecondsPath",
     "ErrorPath", "CausePath", "MaxConcurrencyPath", "ToleratedFailurePercentagePath",
     "ToleratedFailureCountPath"}
)  # fmt: skip
JSONATA_ONLY: Final = frozenset({"Arguments", "Output", "Items"})
_LANGUAGES: Final = ("JSONata", "JSONPath")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,79}")
_RULE_FIELDS: Final = frozenset({"Condition", "Next", "Comment", "Assign", "Output"})


def language_problems(definition: Mapping[str, Any]) -> list[Problem]:
    """The machine's ``QueryLanguage`` and, under a JSONata machine, its states' own."""
    language = definition.get("QueryLanguage", "JSONPath")
    if language not in _LANGUAGES:
        return [(_one_of("QueryLanguage"), "/QueryLanguage")]
    found: list[Problem] = []
    for where, state in _states(definition, ""):
        own = state.get("QueryLanguage")
        if "QueryLanguage" in state and own not in _LANGUAGES:
            found.append((_one_of("QueryLanguage"), f"{where}/QueryLanguage"))
        elif language == "JSONata" and own == "JSONPath":
            found.append(("A state may not use JSONPath when the state machine's QueryLanguage "
                          "is JSONata", f"{where}/QueryLanguage"))  # fmt: skip
    return found


def jsonata_problems(state: Mapping[str, Any], where: str) -> list[Problem]:
    """A JSONata state's problems: JSONPath's fields, expressions that do not parse, its
    Choice rules and Wait values."""
    found = [
        (f"Field '{name}' is not supported in a JSONata state: use Arguments and Output",
         f"{where}/{name}")
        for name in state if name in JSONPATH_ONLY
    ]  # fmt: skip
    for name in ("Arguments", "Output", "Items", "ItemSelector", "Error", "Cause", "Seconds",
                 "Timestamp", "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency"):  # fmt: skip
        if name in state:
            found += _expressions(state[name], f"{where}/{name}")
    for field_name in ("Catch", "Choices"):
        for index, rule in enumerate(_dicts(state.get(field_name))):
            at = f"{where}/{field_name}[{index}]"
            for name in ("Output", "Condition"):
                if name in rule:
                    found += _expressions(rule[name], f"{at}/{name}")
            if "Assign" in rule:
                found += assign_problems(rule["Assign"], f"{at}/Assign", jsonata=True)
    if "Assign" in state:
        found += assign_problems(state["Assign"], f"{where}/Assign", jsonata=True)
    if state.get("Type") == "Choice":
        found += _choice_rules(state, where)
    if state.get("Type") == "Wait":
        found += _wait(state, where)
    found += _distributed_expressions(state, where)
    return found


def _distributed_expressions(state: Mapping[str, Any], where: str) -> list[Problem]:
    """A distributed Map's nested fields that JSONata computes (decision 0338): the S3 calls'
    ``Arguments``, ``ReaderConfig.MaxItems``, ``ItemBatcher``'s, the thresholds."""
    found: list[Problem] = []
    for name in ("ToleratedFailurePercentage", "ToleratedFailureCount"):
        if name in state:
            found += _expressions(state[name], f"{where}/{name}")
    for holder, names in (("ItemReader", ("Arguments",)), ("ResultWriter", ("Arguments",)),
                          ("ItemBatcher", ("MaxItemsPerBatch", "MaxInputBytesPerBatch",
                                           "BatchInput"))):  # fmt: skip
        fields = state.get(holder)
        if not isinstance(fields, dict):
            continue
        for name in names:
            if name in fields:
                found += _expressions(fields[name], f"{where}/{holder}/{name}")
        config = fields.get("ReaderConfig")
        if holder == "ItemReader" and isinstance(config, dict) and "MaxItems" in config:
            found += _expressions(config["MaxItems"], f"{where}/ItemReader/ReaderConfig/MaxItems")
    return found


def assign_problems(value: Any, where: str, jsonata: bool) -> list[Problem]:
    if not isinstance(value, dict):
        return [("The field 'Assign' must be a JSON object", where)]
    found: list[Problem] = []
    for key, inner in value.items():
        name = key if jsonata else key.removesuffix(".$")
        if not _NAME.fullmatch(name) or name == "states":
            found.append((f"The variable name '{name[:80]}' is not valid", where))
        if jsonata:
            found += _expressions(inner, where)
    return found


def _choice_rules(state: Mapping[str, Any], where: str) -> list[Problem]:
    found: list[Problem] = []
    for index, rule in enumerate(_dicts(state.get("Choices"))):
        at = f"{where}/Choices[{index}]"
        found += [(f"Field '{name}' is not supported", at) for name in rule
                  if name not in _RULE_FIELDS]  # fmt: skip
        if "Condition" not in rule:
            found.append(("These fields are required: [Condition]", at))
        elif not isinstance(rule["Condition"], bool) and expression_of(rule["Condition"]) is None:
            found.append(("The field 'Condition' must be a boolean or a JSONata expression",
                          f"{at}/Condition"))  # fmt: skip
    return found


def _wait(state: Mapping[str, Any], where: str) -> list[Problem]:
    given = [name for name in ("Seconds", "Timestamp") if name in state]
    if len(given) != 1:
        return [("Exactly one of these fields is required: [Seconds, Timestamp]", where)]
    value = state[given[0]]
    if expression_of(value) is not None:
        return []
    if given[0] == "Seconds" and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 0):  # fmt: skip
        return [("The field 'Seconds' must be a non-negative integer or a JSONata expression",
                 f"{where}/Seconds")]  # fmt: skip
    if given[0] == "Timestamp" and not isinstance(value, str):
        return [("The field 'Timestamp' must be a timestamp or a JSONata expression",
                 f"{where}/Timestamp")]  # fmt: skip
    return []


def _expressions(value: Any, where: str) -> list[Problem]:
    """Each ``{% … %}`` expression within ``value`` that does not parse."""
    if isinstance(value, dict):
        return [p for inner in value.values() for p in _expressions(inner, where)]
    if isinstance(value, list):
        return [p for inner in value for p in _expressions(inner, where)]
    expression = expression_of(value)
    if expression is None:
        if isinstance(value, str) and value.strip().startswith("{%"):
            return [("A JSONata expression must end with %}", where)]
        return []
    problem = problem_of(expression)
    if problem is None:
        return []
    return [(f"The JSONata expression is not valid: {problem[:300]}", where)]


def _states(machine: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    states = machine.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        where = f"{path}/States/{name}"
        yield where, state
        for index, branch in enumerate(_dicts(state.get("Branches"))):
            yield from _states(branch, f"{where}/Branches[{index}]")
        processor = state.get("ItemProcessor")
        if isinstance(processor, dict):
            yield from _states(processor, f"{where}/ItemProcessor")


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _one_of(name: str) -> str:
    return f"The field '{name}' should have one of these values: [JSONata, JSONPath]"
