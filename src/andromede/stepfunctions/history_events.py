"""The history events a state leaves (decision 0271): the value :class:`Event` and the
events every state kind shares — entered, exited, and aborted (decision 0407: the state in
flight when its execution was stopped or timed out, as AWS's ``WaitStateAborted``,
``TaskStateAborted``, ``ParallelStateAborted`` and ``MapStateAborted``, none with details)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from andromede.stepfunctions import variables

__all__ = ["Event", "aborted_event", "entered_event", "exited_event", "iteration_event"]

# The state kinds that can be in flight at a stop: the others end within their entry.
_ABORTABLE: Final = frozenset({"Task", "Wait", "Parallel", "Map"})


@dataclass(frozen=True, slots=True)
class Event:
    """One history event: its type and its details (``details_name`` the API's member)."""

    type: str
    details_name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def entered_event(state: dict[str, Any], name: str, data: Any) -> Event:
    return Event(f"{state['Type']}StateEntered", "stateEnteredEventDetails",
                 {"name": name, "input": _dumps(data)})  # fmt: skip


def exited_event(state: dict[str, Any], name: str, data: Any) -> Event:
    details: dict[str, Any] = {"name": name, "output": _dumps(data)}
    assigned = variables.take_assigned()
    if assigned is not None:
        details["assignedVariables"] = assigned
        details["assignedVariablesDetails"] = {"truncated": False}
    return Event(f"{state['Type']}StateExited", "stateExitedEventDetails", details)


def aborted_event(state: dict[str, Any]) -> Event | None:
    """The event of a state left in flight by its execution's stop or timeout; None for a
    kind that cannot be (a Pass, a Choice… end as they are entered)."""
    kind = str(state.get("Type"))
    return Event(f"{kind}StateAborted") if kind in _ABORTABLE else None


def iteration_event(outcome: str, name: str, index: int) -> Event:
    """A Map iteration's ``MapIteration<outcome>`` event (Started, Succeeded, Failed,
    Aborted), its details naming the Map state and the iteration's index."""
    return Event(f"MapIteration{outcome}", f"mapIteration{outcome}EventDetails",
                 {"name": name, "index": index})  # fmt: skip
