"""A pipe's execution log records (decision 0258): what its ``LogConfiguration`` asks to be
said of each batch, in AWS's record shape (``resourceArn``, ``timestamp``, ``executionId``,
``messageType``, ``logLevel``, an ``error`` when one failed, the ``payload`` when
``IncludeExecutionData`` is ``["ALL"]``), by level: ERROR says the failures
(``EnrichmentInvocationFailed``, ``TargetInvocationFailed``, ``ExecutionFailed``), INFO the
executions too (``ExecutionStarted``, ``ExecutionSucceeded``), TRACE every stage
(``EnrichmentStageEntered``, ``EnrichmentInvocationSucceeded``, ``EnrichmentStageSucceeded``
or ``EnrichmentStageFailed`` of a pipe with an enrichment; ``TargetStageEntered``,
``TargetInvocationSucceeded``, ``TargetStageSucceeded`` or ``TargetStageFailed``); OFF
nothing.

**Destinations** (decisions 0258, 0268): a CloudWatch Logs group, an S3 bucket, a Firehose
stream, any of them. Into S3 a batch's records are one object (:func:`s3_object_key`, gzip'd),
in the ``OutputFormat`` asked (:func:`s3_log_body`): ``json`` one JSON record a line;
``plain`` each record's values separated by spaces, ``-`` for one absent; ``w3c`` the W3C
extended log format (``#Version``, ``#Fields`` headers, then the values, a value with a space
or a quote quoted). Into Firehose each record is one JSON line. Pure: the wiring writes them
as the pipe's role."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Sequence
from typing import Any, Final

from andromede.pipes.model import Pipe

__all__ = [
    "execution_records",
    "firehose_log_stream",
    "has_log_destination",
    "log_group_name",
    "s3_log_body",
    "s3_log_destination",
    "s3_object_key",
]

_LEVELS: Final = {"OFF": 0, "ERROR": 1, "INFO": 2, "TRACE": 3}
_NAMES: Final = {1: "ERROR", 2: "INFO", 3: "TRACE"}


def log_group_name(pipe: Pipe) -> str | None:
    """The name of the CloudWatch Logs group the pipe logs into (None: none)."""
    config = pipe.log_configuration or {}
    arn = (config.get("CloudwatchLogsLogDestination") or {}).get("LogGroupArn")
    if not isinstance(arn, str) or ":log-group:" not in arn:
        return None
    return arn.split(":log-group:", 1)[1].removesuffix(":*")


def s3_log_destination(pipe: Pipe) -> dict[str, Any] | None:
    found = (pipe.log_configuration or {}).get("S3LogDestination")
    return dict(found) if isinstance(found, dict) else None


def firehose_log_stream(pipe: Pipe) -> str | None:
    """The ARN of the Firehose stream the pipe logs into (None: none)."""
    found = (pipe.log_configuration or {}).get("FirehoseLogDestination") or {}
    arn = found.get("DeliveryStreamArn")
    return arn if isinstance(arn, str) else None


def has_log_destination(pipe: Pipe) -> bool:
    return (
        log_group_name(pipe) is not None
        or s3_log_destination(pipe) is not None
        or firehose_log_stream(pipe) is not None
    )


def s3_object_key(pipe: Pipe, prefix: str, now_ms: int, unique: str) -> str:
    """Where one batch's records go in the bucket, by the hour as vended logs are:
    ``<prefix>/AWSLogs/<account>/EventBridgePipes/<region>/<pipe>/<yyyy>/<mm>/<dd>/<hh>/``
    then a name unique to the object."""
    at = dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC)
    head = f"{prefix.rstrip('/')}/" if prefix else ""
    return (
        f"{head}AWSLogs/{pipe.tenant_id}/EventBridgePipes/{pipe.region}/{pipe.name}/"
        f"{at:%Y/%m/%d/%H}/{pipe.tenant_id}_EventBridgePipes_{pipe.region}_{pipe.name}_"
        f"{at:%Y%m%dT%H%M%SZ}_{unique}.log.gz"
    )


_W3C_FIELDS: Final = (
    "resourceArn",
    "timestamp",
    "executionId",
    "messageType",
    "logLevel",
    "error",
    "payload",
)


def _value(record: dict[str, Any], name: str) -> str:
    value = record.get(name)
    if value is None:
        return "-"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _w3c(text: str) -> str:
    if text == "" or any(c in text for c in ' "\t\n'):
        return '"' + text.replace('"', '""').replace("\n", " ").replace("\t", " ") + '"'
    return text


def s3_log_body(records: Sequence[dict[str, Any]], output_format: str) -> bytes:
    """A batch's records as one object's body in ``output_format``, gzip'd."""
    if output_format == "plain":
        lines = [" ".join(_value(r, f) for f in _W3C_FIELDS) for r in records]
    elif output_format == "w3c":
        lines = ["#Version: 1.0", "#Fields: " + " ".join(_W3C_FIELDS)] + [
            " ".join(_w3c(_value(r, f)) for f in _W3C_FIELDS) for r in records
        ]
    else:
        lines = [json.dumps(r, separators=(",", ":")) for r in records]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def execution_records(
    pipe: Pipe,
    execution_id: str,
    now_ms: int,
    failure: str | None,
    payloads: Sequence[str],
    *,
    failed_stage: str = "target",
) -> list[dict[str, Any]]:
    """The records one batch's execution leaves at the pipe's level (``failed_stage``:
    ``enrichment`` or ``target``, the stage ``failure`` is of)."""
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
    if pipe.enrichment:
        say("EnrichmentStageEntered", 3)
        if failure is not None and failed_stage == "enrichment":
            error = {"message": failure[:1024], "resourceArn": pipe.enrichment}
            say("EnrichmentInvocationFailed", 1, error=error)
            say("EnrichmentStageFailed", 3, error=error)
            say("ExecutionFailed", 1, error=error)
            return records
        say("EnrichmentInvocationSucceeded", 3)
        say("EnrichmentStageSucceeded", 3)
    say("TargetStageEntered", 3)
    if failure is not None:
        error = {"message": failure[:1024], "resourceArn": pipe.target}
        say("TargetInvocationFailed", 1, error=error)
        say("TargetStageFailed", 3, error=error)
        say("ExecutionFailed", 1, error=error)
    else:
        say("TargetInvocationSucceeded", 3)
        say("TargetStageSucceeded", 3)
        say("ExecutionSucceeded", 2)
    return records
