"""Whether an execution may be redriven (decision 0283), as AWS judges it: a STANDARD
execution that ended FAILED, ABORTED or TIMED_OUT within the last 14 days (the
``redrive_window_ms``), whose history has room for the redrive, is REDRIVABLE; anything else
is NOT_REDRIVABLE with AWS's reason. Pure: no I/O."""

from __future__ import annotations

from typing import Final

from andromede.stepfunctions.executions import Execution, ExecutionStatus

__all__ = ["REDRIVE_WINDOW_MS", "not_redrivable"]

REDRIVE_WINDOW_MS: Final = 14 * 86_400_000
MAX_EXECUTION_MS: Final = 365 * 86_400_000  # AWS's longest execution: one year


def not_redrivable(
    execution: Execution, now: int, max_history_events: int, window_ms: int = REDRIVE_WINDOW_MS
) -> str | None:
    """AWS's reason the execution cannot be redriven now; None when it can."""
    if execution.status in (ExecutionStatus.RUNNING, ExecutionStatus.SUCCEEDED):
        return f"Execution is {execution.status.value} and cannot be redriven."
    if execution.resume is None:
        return "Execution was started before the launch of RedriveExecution."
    if execution.events + 2 >= max_history_events:
        return "Execution history event limit exceeded."
    if now - execution.started >= MAX_EXECUTION_MS:
        return "Execution has exceeded the max execution time."
    if execution.stopped is None or now - execution.stopped > window_ms:
        return "Execution redrivable period exceeded."
    return None
