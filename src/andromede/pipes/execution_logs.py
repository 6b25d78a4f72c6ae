"""A pipe's execution log records (decision 0258): what its ``LogConfiguration`` asks to be
said of each batch, in AWS's record shape (``resourceArn``, ``timestamp``, ``executionId``,
``messageType``, ``logLevel``, an ``error`` when one failed, the ``payload`` when
``IncludeExecutionData`` is ``["ALL"]``), by level: ERROR says the failures
(``TargetInvocationFailed``, ``ExecutionFailed``), INFO the executions too
(``ExecutionStarted``, ``ExecutionSucceeded``), TRACE every stage (``TargetStageEntered``,
``TargetInvocationSucceeded``, ``TargetStageSucceeded``); OFF nothing. Pure: the wiring writes
them into the pipe's CloudWatch Logs group as its role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from andromede.pipes.model import Pipe

__all__ = ["execution_records", "log_group_name"]

_LEVELS: Final = {"OFF": 0, "ERROR": 1, "INFO": 2, "TRACE": 3}
_NAMES: Final = {1: "ERROR", 2: "INFO", 3: "TRACE"}


def log_group_name(pipe: Pipe) -> str | None:
    """The name of the CloudWatch Logs group the pipe logs into (None: none)."""
    config = pipe.log_configuration or {}
    arn = (config.get("CloudwatchLogsLogDestination") or {}).get("LogGroupArn")
    if not isinstance(arn, str) or ":log-group:" not in arn:
        return None
    return arn.split(":log-group:", 1)[1].removesuffix(":*")


def execution_records(
    pipe: Pipe,
    execution_id: str,
    now_ms: int,
    failure: str | None,
    payloads: Sequence[str],
) -> list[dict[str, Any]]:
    """The records one batch's execution leaves at the pipe's level."""
    config = pipe.log_configuration or {}
    level = _LEVELS.get(str(config.get("Level", "OFF")), 0)
    with_data = config.get("IncludeExecutionData") == ["ALL"]
    records: list[dict[str, Any]] = []

    def say(kind: str, at: int, **extra: Any) -> None:
        if level >= at:
            records.append({
                "resourceArn": pipe.arn, "timestamp": now_ms, "executionId": execution_id,
                "messageType": kind, "logLevel": _NAMES[at], **extra,
            })  # fmt: skip

    data = {"payload": "[" + ",".join(payloads) + "]"} if with_data else {}
    say("ExecutionStarted", 2, **data)
    say("TargetStageEntered", 3)
    if failure is not None:
        error = {"message": failure[:1024], "resourceArn": pipe.target}
        say("TargetInvocationFailed", 1, error=error)
        say("ExecutionFailed", 1, error=error)
    else:
        say("TargetInvocationSucceeded", 3)
        say("TargetStageSucceeded", 3)
        say("ExecutionSucceeded", 2)
    return records
