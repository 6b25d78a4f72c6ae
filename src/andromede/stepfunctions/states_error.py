"""The error a state fails with, of AWS's names (``States.Runtime``, ``States.TaskFailed``,
``States.QueryEvaluationError``…): raised by the interpreter and by the modules it reads a
state's data with (``state_data``, ``variables``), caught by ``Retry`` and ``Catch``."""

from __future__ import annotations

from typing import Any

__all__ = ["StatesError"]


class StatesError(Exception):
    """``done``: the outputs of the branches (Parallel) or iterations (Map) of the state it
    failed that had succeeded, by index — what a redrive does not run again. ``location``: the
    field whose JSONata expression failed (``States.QueryEvaluationError``), ``reported`` once
    its ``EvaluationFailed`` event was written."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.done: dict[str, Any] | None = None
        self.location: str | None = None
        self.reported = False
