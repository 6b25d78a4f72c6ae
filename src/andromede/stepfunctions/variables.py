"""Workflow variables (``Assign``, decision 0329): the scope a state reads and assigns them
in, and AWS's limits on their size.

An execution's top level has its own scope, kept in its cursor (so a variable survives a
restart of the gateway); a Parallel's branch and a Map's iteration run in a scope of their
own over the outer one, whose variables they read and do not change (AWS's rule: the inner
scope's assignments end with it). The scope in force is a context variable: each branch and
iteration runs in an asyncio task of its own, which copies the context, so concurrent
branches never see each other's assignments. ``Assign`` is evaluated with the variables as
they were when the state began (as its ``Output`` is), then applied at once; the names it
assigned are kept for the state's ``…StateExited`` event (``assignedVariables``)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

from andromede.stepfunctions.jsonpath import PathMissing, read_path
from andromede.stepfunctions.states_error import StatesError

__all__ = [
    "Scope",
    "VariableLimits",
    "assign",
    "is_reference",
    "read_reference",
    "scoped",
    "take_assigned",
    "visible",
]

KIB: Final = 1024
# A JSONPath state's reference to a variable: ``$name``, ``$name.field``, ``$name[0]``.
_REFERENCE: Final = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)([.\[].*)?", re.DOTALL)


@dataclass(frozen=True, slots=True)
class VariableLimits:
    """AWS's: one variable's JSON at most 256 KiB, one ``Assign``'s as much, and an
    execution's variables 10 MiB in all (settings ``stepfunctions_max_variable_size``,
    ``stepfunctions_max_assign_size``, ``stepfunctions_max_variables_size``)."""

    variable_size: int = 256 * KIB
    assign_size: int = 256 * KIB
    total_size: int = 10 * KIB * KIB


@dataclass(slots=True)
class Scope:
    own: dict[str, Any]
    outer: Mapping[str, Any]
    limits: VariableLimits
    assigned: dict[str, Any] | None = None


_SCOPE: ContextVar[Scope | None] = ContextVar("andromede_sfn_variables", default=None)


def visible() -> dict[str, Any]:
    """The variables a state reads: its scope's own over the outer ones."""
    scope = _SCOPE.get()
    return {} if scope is None else {**scope.outer, **scope.own}


@contextlib.contextmanager
def scoped(own: dict[str, Any] | None = None, limits: VariableLimits | None = None,
           inherit: bool = True) -> Iterator[Scope]:  # fmt: skip
    """A scope over the one in force (its variables visible, read only; none when not
    ``inherit``: a distributed Map's child execution, as AWS's) for the ``with``."""
    current = _SCOPE.get()
    if limits is None:
        limits = VariableLimits() if current is None else current.limits
    scope = Scope(dict(own or {}), visible() if inherit else {}, limits)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def is_reference(path: str) -> bool:
    """Whether a JSONPath state's path names a variable (``$name…``) rather than the data."""
    return _REFERENCE.fullmatch(path) is not None


def read_reference(path: str) -> Any:
    """What ``$name…`` selects of the variable; PathMissing when it is not set or the rest of
    the path selects nothing."""
    named = _REFERENCE.fullmatch(path)
    if named is None:
        raise PathMissing(f"{path[:80]} names no variable")
    found = visible()
    if named.group(1) not in found:
        raise PathMissing(f"The variable ${named.group(1)} is not set")
    return read_path(found[named.group(1)], "$" + (named.group(2) or ""))


def assign(values: Any) -> None:
    """Assign ``values`` (an ``Assign`` field evaluated) in the scope in force."""
    if not isinstance(values, dict):
        raise StatesError("States.QueryEvaluationError", "Assign must evaluate to an object")
    scope = _SCOPE.get()
    if scope is None:  # a state run outside any execution's scope (a unit's own run)
        return
    limits = scope.limits
    sizes = {name: len(_dumps(value)) for name, value in values.items()}
    for name, size in sizes.items():
        if size > limits.variable_size:
            raise StatesError("States.DataLimitExceeded", f"The variable '{name[:80]}' is "
                              f"{size} bytes, over {limits.variable_size}")  # fmt: skip
    if sum(sizes.values()) > limits.assign_size:
        cause = f"The Assign's variables are over {limits.assign_size} bytes"
        raise StatesError("States.DataLimitExceeded", cause)
    merged = {**scope.outer, **scope.own, **values}
    if sum(len(_dumps(v)) for v in merged.values()) > limits.total_size:
        cause = f"The execution's variables are over {limits.total_size} bytes"
        raise StatesError("States.DataLimitExceeded", cause)
    scope.own.update(values)
    scope.assigned = {**(scope.assigned or {}), **values}


def take_assigned() -> dict[str, str] | None:
    """The variables assigned since the last call (name → JSON), for a StateExited event."""
    scope = _SCOPE.get()
    if scope is None or scope.assigned is None:
        return None
    assigned, scope.assigned = scope.assigned, None
    return {name: _dumps(value) for name, value in assigned.items()}


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
