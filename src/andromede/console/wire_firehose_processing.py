"""A Firehose destination's record processors as the console reads and sends them (decision
0359): ``ProcessingConfiguration`` read into a :class:`ProcessorsRow` (the Lambda processor and
its own buffer, decision 0344; record de-aggregation; a delimiter appended; CloudWatch Logs
decompression and message extraction, decisions 0334 and 0342; dynamic partitioning's JQ
query), and a form's :class:`ProcessorsForm` written back as the whole configuration, which
Firehose replaces whole on UpdateDestination. Values travel as typed: Firehose checks them and
answers in its words. Delimiters are shown and typed with ``\\n``, ``\\r``, ``\\t`` and
``\\\\`` escapes (a text field holds no newline) and sent base64-encoded, as Firehose takes
them.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "DEAGGREGATIONS",
    "ProcessorsForm",
    "ProcessorsRow",
    "processing_configuration",
    "processors_row",
    "shown_delimiter",
    "typed_delimiter",
]

DEAGGREGATIONS: Final = ("JSON", "DELIMITED")  # RecordDeAggregation's SubRecordType values
_SHOWN_ESCAPES: Final = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_TYPED_ESCAPES: Final = {"\\": "\\", "n": "\n", "r": "\r", "t": "\t"}
_ESCAPE: Final = re.compile(r"\\(.)", re.DOTALL)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def shown_delimiter(encoded: str) -> str:
    """A base64 delimiter as the form shows it, escaped (as described if not base64)."""
    try:
        text = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return encoded
    return "".join(_SHOWN_ESCAPES.get(c, c) for c in text)


def typed_delimiter(typed: str) -> str:
    """A delimiter typed with escapes, base64-encoded ("" stays "")."""
    text = _ESCAPE.sub(lambda m: _TYPED_ESCAPES.get(m.group(1), m.group(0)), typed)
    return base64.b64encode(text.encode()).decode() if text else ""


@dataclass(frozen=True, slots=True)
class ProcessorsRow:
    """A destination's processors as DescribeDeliveryStream tells them; strings as the form
    shows them ("" : not configured)."""

    enabled: bool = False
    kinds: tuple[str, ...] = ()  # in Firehose's described order
    lambda_arn: str = ""
    lambda_retries: str = ""
    lambda_role: str = ""  # only when it is not the destination's role
    lambda_size_mb: str = ""
    lambda_interval_seconds: str = ""
    deaggregation: str = ""  # JSON or DELIMITED
    deaggregation_delimiter: str = ""  # shown escaped
    append_delimiter: bool = False
    append_delimiter_text: str = ""  # shown escaped ("" : Firehose's newline)
    decompression: str = ""  # GZIP
    message_extraction: str = ""  # "true" or "false" (CloudWatchLogProcessing's)
    query: str = ""  # MetadataExtraction's JQ query (dynamic partitioning)


def processors_row(destination: dict[str, Any], destination_role: str) -> ProcessorsRow:
    """The processors of a described destination (Extended S3 or HTTP endpoint)."""
    config = _mapping(destination.get("ProcessingConfiguration"))
    listed = config.get("Processors")
    values: dict[str, Any] = {"enabled": config.get("Enabled") is True}
    kinds: list[str] = []
    for processor in listed if isinstance(listed, list) else []:
        kind = str(_mapping(processor).get("Type", ""))
        kinds.append(kind)
        parameters = {
            str(_mapping(p).get("ParameterName", "")): str(_mapping(p).get("ParameterValue", ""))
            for p in _mapping(processor).get("Parameters") or []
        }
        if kind == "Lambda":
            role = parameters.get("RoleArn", "")
            values |= {
                "lambda_arn": parameters.get("LambdaArn", ""),
                "lambda_retries": parameters.get("NumberOfRetries", ""),
                "lambda_role": "" if role == destination_role else role,
                "lambda_size_mb": parameters.get("BufferSizeInMBs", ""),
                "lambda_interval_seconds": parameters.get("BufferIntervalInSeconds", ""),
            }
        elif kind == "RecordDeAggregation":
            values["deaggregation"] = parameters.get("SubRecordType", "JSON")
            values["deaggregation_delimiter"] = shown_delimiter(parameters.get("Delimiter", ""))
        elif kind == "AppendDelimiterToRecord":
            values["append_delimiter"] = True
            values["append_delimiter_text"] = shown_delimiter(parameters.get("Delimiter", ""))
        elif kind == "Decompression":
            values["decompression"] = parameters.get("CompressionFormat", "GZIP")
        elif kind == "CloudWatchLogProcessing":
            values["message_extraction"] = parameters.get("DataMessageExtraction", "")
        elif kind == "MetadataExtraction":
            values["query"] = parameters.get("MetadataExtractionQuery", "")
    return ProcessorsRow(kinds=tuple(kinds), **values)


@dataclass(frozen=True, slots=True)
class ProcessorsForm:
    """The processors a form asks for, as typed ("" or False: that processor not wanted)."""

    lambda_arn: str = ""
    lambda_retries: str = ""
    lambda_role: str = ""
    lambda_size_mb: str = ""
    lambda_interval_seconds: str = ""
    deaggregation: str = ""
    deaggregation_delimiter: str = ""
    append_delimiter: bool = False
    append_delimiter_text: str = ""
    decompression: bool = False
    message_extraction: bool = False
    query: str = ""  # dynamic partitioning's JQ query, kept (MetadataExtraction)

    @property
    def wanted(self) -> bool:
        return bool(
            self.lambda_arn or self.deaggregation or self.append_delimiter
            or self.decompression or self.message_extraction or self.query
        )  # fmt: skip


def _processor(kind: str, parameters: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "Type": kind,
        "Parameters": [{"ParameterName": n, "ParameterValue": v} for n, v in parameters if v],
    }


def processing_configuration(form: ProcessorsForm) -> dict[str, Any]:
    """The ``ProcessingConfiguration`` a form asks for, its processors in the order Firehose
    runs them (decompression, de-aggregation, partitioning, the function, the delimiter);
    none wanted: disabled and empty, which removes them. ``CloudWatchLogProcessing`` without
    decompression is sent as asked: Firehose refuses it in its words."""
    processors: list[dict[str, Any]] = []
    if form.decompression:
        processors.append(_processor("Decompression", [("CompressionFormat", "GZIP")]))
    if form.message_extraction:
        processors.append(_processor("CloudWatchLogProcessing",
                                     [("DataMessageExtraction", "true")]))  # fmt: skip
    if form.deaggregation:
        parameters = [("SubRecordType", form.deaggregation)]
        if form.deaggregation == "DELIMITED":
            parameters.append(("Delimiter", typed_delimiter(form.deaggregation_delimiter)))
        processors.append(_processor("RecordDeAggregation", parameters))
    if form.query:
        processors.append(_processor("MetadataExtraction", [
            ("MetadataExtractionQuery", form.query), ("JsonParsingEngine", "JQ-1.6")]))  # fmt: skip
    if form.lambda_arn:
        processors.append(_processor("Lambda", [
            ("LambdaArn", form.lambda_arn),
            ("NumberOfRetries", form.lambda_retries.strip()),
            ("RoleArn", form.lambda_role.strip()),
            ("BufferSizeInMBs", form.lambda_size_mb.strip()),
            ("BufferIntervalInSeconds", form.lambda_interval_seconds.strip()),
        ]))  # fmt: skip
    if form.append_delimiter:
        delimiter = typed_delimiter(form.append_delimiter_text)
        processors.append(_processor("AppendDelimiterToRecord", [("Delimiter", delimiter)]))
    return {"Enabled": bool(processors), "Processors": processors}
