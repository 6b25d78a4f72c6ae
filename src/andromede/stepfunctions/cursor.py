"""Where a running execution stands between its steps (decision 0271), and what one step
did: the values the interpreter steps from and to, kept in the execution's row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from andromede.stepfunctions.history_events import Event
from andromede.stepfunctions.states_error import StatesError

__all__ = ["Cursor", "Step"]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a running execution stands: the state it is in and that state's input; a Wait's
    end (ms) once it began, or when a task waiting for its token times out; that task
    (``task``: its token, deadlines, activity, input, and the answer once given) and its
    retries so far; after a redrive, the branches or iterations of its Parallel or Map that
    had succeeded (``done``: their outputs by index, not run again); the variables its
    scope assigned so far (``variables``, decision 0329: kept as the cursor is)."""

    state: str
    data: Any
    wait_until: int | None = None
    task: dict[str, Any] | None = None
    retries: dict[str, int] | None = None
    done: dict[str, Any] | None = None
    variables: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"state": self.state, "data": self.data, "wait_until": self.wait_until,
                "task": self.task, "retries": self.retries, "done": self.done,
                "variables": self.variables}  # fmt: skip

    @classmethod
    def of_json(cls, value: dict[str, Any]) -> Cursor:
        return cls(str(value["state"]), value["data"], value.get("wait_until"),
                   value.get("task"), value.get("retries"), value.get("done"),
                   value.get("variables"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Step:
    """What one step did: the cursor to go on from (None once the execution ended), its
    output or error when it ended, its history events, and whether it only waits."""

    cursor: Cursor | None
    events: list[Event]
    output: Any = None
    error: StatesError | None = None
    waiting: bool = False
