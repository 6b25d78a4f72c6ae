"""AWS's check of a definition's variable scopes (decision 0338), as
ValidateStateMachineDefinition, CreateStateMachine and UpdateStateMachine make it: a pure
function of a definition (each state's ``QueryLanguage`` written, ``with_query_language``) to
its problems (``(message, location)``, which ``definition`` makes SCHEMA_VALIDATION_FAILED).

A Parallel's branch and an inline Map's iteration run in a scope of their own over the outer
one (decision 0329): they read the outer scope's variables, and what they assign ends with
them. AWS therefore refuses a definition whose inner scope assigns a name that an outer scope
assigns (the ``Assign`` of any of its states, of a Choice rule or of a Catch): the assignment
could never reach the outer variable, only hide it. Sibling branches may each assign the
same name (neither is the other's outer scope). A distributed Map's item processor is a child
execution's machine that sees none of the outer variables, so its states may use any name.

What AWS does not refuse at validation, and neither does this: a variable read before any
state assigned it, or never assigned at all. Its definition is accepted and the read fails
when it runs (``States.QueryEvaluationError`` in JSONata, ``States.Runtime`` for a JSONPath
reference path), as AWS's executions of such definitions fail."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from andromede.stepfunctions.map_checks import is_distributed

__all__ = ["scope_problems"]

Problem = tuple[str, str]
# Deeper scopes are refused by ``definition`` (TOO_DEEPLY_NESTED): not walked again here.
_MAX_DEPTH: Final = 10


def scope_problems(definition: Mapping[str, Any]) -> list[Problem]:
    """Each assignment, in a Parallel's branch or a Map's iteration, of a name an outer scope
    assigns; located at the ``Assign`` field that makes it."""
    return _scope(definition, "", frozenset(), 0)


def _scope(
    machine: Mapping[str, Any], path: str, outer: frozenset[str], depth: int
) -> list[Problem]:
    states = machine.get("States")
    if not isinstance(states, dict) or depth > _MAX_DEPTH:
        return []
    found: list[Problem] = []
    own: set[str] = set()
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for variable, at in _assignments(state, f"{path}/States/{name}"):
            own.add(variable)
            if variable in outer and (_refused(variable), at) not in found:
                found.append((_refused(variable), at))
    enclosing = outer | own
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        where = f"{path}/States/{name}"
        for index, branch in enumerate(_dicts(state.get("Branches"))):
            found += _scope(branch, f"{where}/Branches[{index}]", enclosing, depth + 1)
        for field in ("ItemProcessor", "Iterator"):
            processor = state.get(field)
            if isinstance(processor, dict):
                seen = frozenset() if is_distributed(state) else enclosing
                found += _scope(processor, f"{where}/{field}", seen, depth + 1)
    return found


def _assignments(state: Mapping[str, Any], where: str) -> Iterator[tuple[str, str]]:
    """Each variable a state assigns (its own ``Assign``, a Choice rule's, a Catch's) and the
    field that assigns it."""
    holders: list[tuple[Any, str]] = [(state.get("Assign"), f"{where}/Assign")]
    for field in ("Choices", "Catch"):
        holders += [(rule.get("Assign"), f"{where}/{field}[{index}]/Assign")
                    for index, rule in enumerate(_dicts(state.get(field)))]  # fmt: skip
    jsonata = state.get("QueryLanguage") == "JSONata"
    for assign, at in holders:
        if isinstance(assign, dict):
            for key in assign:
                yield (key if jsonata else key.removesuffix(".$")), at


def _refused(variable: str) -> str:
    return (f"The variable '{variable[:80]}' is assigned in an outer scope: a state in a "
            "Parallel branch or a Map iteration cannot assign it")  # fmt: skip


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
