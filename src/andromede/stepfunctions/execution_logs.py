"""Which history events a state machine's ``loggingConfiguration`` logs, and how (decision
0271): AWS's levels — ``ALL`` every event, ``ERROR`` the failures (``…Failed``,
``…TimedOut``, ``…Aborted``), ``FATAL`` the execution's own failure — each event one JSON
record of AWS's fields (``id``, ``type``, ``details``, ``previous_event_id``,
``event_timestamp``, ``execution_arn``), its input and output left out unless
``includeExecutionData``. Pure: the wiring writes them."""

from __future__ import annotations

import json
from typing import Any, Final

from andromede.stepfunctions.executions import Execution, HistoryEvent

__all__ = ["log_group_name", "log_records"]

_FATAL: Final = frozenset({"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"})
_DATA: Final = ("input", "output", "parameters")


def _level_keeps(level: str, kind: str) -> bool:
    if level == "ALL":
        return True
    if level == "FATAL":
        return kind in _FATAL
    if level == "ERROR":
        return kind.endswith(("Failed", "TimedOut", "Aborted"))
    return False


def log_group_name(logging: dict[str, Any]) -> str | None:
    """The group's name of the configuration's one destination (``…:log-group:<name>:*``)."""
    for destination in logging.get("destinations") or []:
        arn = str(destination.get("cloudWatchLogsLogGroup", {}).get("logGroupArn", ""))
        if ":log-group:" in arn:
            return arn.split(":log-group:", 1)[1].removesuffix(":*")
    return None


def log_records(
    execution: Execution, logging: dict[str, Any], events: list[HistoryEvent]
) -> list[tuple[int, str]]:
    """(timestamp in ms, message) of each event the level keeps."""
    level = str(logging.get("level", "OFF"))
    data = bool(logging.get("includeExecutionData"))
    records = []
    for event in events:
        if not _level_keeps(level, event.type):
            continue
        details = {k: v for k, v in event.details.items() if data or k not in _DATA}
        record = {
            "id": str(event.id),
            "type": event.type,
            "details": details,
            "previous_event_id": str(event.previous),
            "event_timestamp": str(event.timestamp),
            "execution_arn": execution.arn,
            "redrive_count": "0",
        }
        records.append((event.timestamp, json.dumps(record, separators=(",", ":"))))
    return records
