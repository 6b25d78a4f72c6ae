"""A destination's error logging and record processing on the wire (decision 0270):
``CloudWatchLoggingOptions``, Extended S3's ``DynamicPartitioningConfiguration`` and
``ProcessingConfiguration`` (the processors ``MetadataExtraction``, ``RecordDeAggregation``,
``AppendDelimiterToRecord``, ``Lambda`` since decision 0315 (``firehoseapi.lambda_processor``),
``Decompression`` and ``CloudWatchLogProcessing`` since decision 0334), and an HTTP endpoint
destination's ``ProcessingConfiguration`` (``Lambda``, decision 0315; ``Decompression`` and
``CloudWatchLogProcessing``, decision 0342), read into the model and described back in AWS's
shapes."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from andromede.firehose.model import HttpEndpoint, LoggingOptions, Partitioning
from andromede.firehoseapi.errors import FirehoseWireError
from andromede.firehoseapi.lambda_processor import PARAMETERS, lambda_parameters, lambda_processor

__all__ = [
    "endpoint_processing_description",
    "endpoint_processing_input",
    "logging_description",
    "logging_input",
    "partitioning_description",
    "partitioning_input",
]

_ENGINE: Final = "JQ-1.6"
_SUB_RECORD_TYPES: Final = ("JSON", "DELIMITED")
# An HTTP endpoint's processors (decision 0342): AWS offers it no partitioning nor delimiter.
_ENDPOINT_PROCESSORS: Final = ("Lambda", "Decompression", "CloudWatchLogProcessing")
_LOGS_ALONE: Final = (
    "The CloudWatchLogProcessing processor needs the Decompression processor: it reads the "
    "CloudWatch Logs records Decompression unpacks."
)
# Not a processor type: AWS's ``DataMessageExtraction`` is a parameter of
# ``CloudWatchLogProcessing`` (decision 0334), named so that a caller is told where it goes.
_REFUSED_PROCESSORS: Final = {
    "DataMessageExtraction": "DataMessageExtraction is a parameter of the "
    "CloudWatchLogProcessing processor, not a processor type",
}
_COMPRESSION_FORMATS: Final = ("GZIP",)
_PARAMETERS: Final = {
    "MetadataExtraction": ("MetadataExtractionQuery", "JsonParsingEngine"),
    "RecordDeAggregation": ("SubRecordType", "Delimiter"),
    "AppendDelimiterToRecord": ("Delimiter",),
    "Lambda": PARAMETERS,
    "Decompression": ("CompressionFormat",),
    "CloudWatchLogProcessing": ("DataMessageExtraction",),
}


def _refused(message: str) -> FirehoseWireError:
    return FirehoseWireError("InvalidArgumentException", message)


def _structure(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FirehoseWireError("SerializationException", f"{name} must be a structure")
    return value


def logging_input(raw: object, base: LoggingOptions) -> LoggingOptions:
    """``CloudWatchLoggingOptions`` (None: ``base`` kept)."""
    if raw is None:
        return base
    options = _structure(raw, "CloudWatchLoggingOptions")
    enabled = options.get("Enabled", False)
    group = options.get("LogGroupName")
    stream = options.get("LogStreamName")
    if not isinstance(enabled, bool):
        raise FirehoseWireError("SerializationException", "Enabled must be a boolean")
    for name, value in (("LogGroupName", group), ("LogStreamName", stream)):
        if value is not None and (not isinstance(value, str) or len(value) > 512):
            raise FirehoseWireError(
                "ValidationException",
                "1 validation error detected: Value at 'cloudWatchLoggingOptions."
                f"{name[:1].lower()}{name[1:]}' failed to satisfy constraint: Member must "
                "have length less than or equal to 512",
            )
        if enabled and not value:
            raise _refused(f"CloudWatchLoggingOptions: {name} is required when logging is "
                           "enabled.")  # fmt: skip
    return LoggingOptions(enabled=enabled, group=group or None, stream=stream or None)


def logging_description(options: LoggingOptions) -> dict[str, Any]:
    described: dict[str, Any] = {"Enabled": options.enabled}
    if options.group:
        described["LogGroupName"] = options.group
    if options.stream:
        described["LogStreamName"] = options.stream
    return described


def _delimiter(value: str, processor: str) -> bytes:
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise _refused(f"{processor}: Delimiter must be a base64-encoded, non-empty string.")
    return decoded


def _processor_parameters(processor: Mapping[str, Any], kind: str) -> dict[str, str]:
    raw = processor.get("Parameters") or []
    if not isinstance(raw, list):
        raise FirehoseWireError("SerializationException", "Parameters must be a list")
    found: dict[str, str] = {}
    for each in raw:
        parameter = _structure(each, "ProcessorParameter")
        name, value = parameter.get("ParameterName"), parameter.get("ParameterValue")
        if not isinstance(name, str) or not isinstance(value, str) or not value:
            raise FirehoseWireError("ValidationException", "1 validation error detected: "
                                    "ProcessorParameter needs a ParameterName and a "
                                    "ParameterValue")  # fmt: skip
        if name not in _PARAMETERS[kind]:
            raise _refused(f"Parameter {name[:64]} is not supported by the {kind} processor.")
        if name in found:
            raise _refused(f"Parameter {name} is given twice to the {kind} processor.")
        found[name] = value
    return found


def _logs_processor(kind: str, parameters: Mapping[str, str]) -> dict[str, Any]:
    """``Decompression`` (``CompressionFormat`` GZIP, the default) and
    ``CloudWatchLogProcessing`` (``DataMessageExtraction`` true or false, required)."""
    if kind == "Decompression":
        compression = parameters.get("CompressionFormat", "GZIP")
        if compression not in _COMPRESSION_FORMATS:
            raise _refused(f"CompressionFormat {compression[:32]} is not supported by the "
                           "Decompression processor (GZIP).")  # fmt: skip
        return {"decompression": compression}
    extraction = parameters.get("DataMessageExtraction")
    if extraction is None:
        raise _refused("CloudWatchLogProcessing needs a DataMessageExtraction parameter.")
    if extraction.lower() not in ("true", "false"):
        raise _refused(f"DataMessageExtraction must be true or false, not {extraction[:32]!r}.")
    return {"message_extraction": extraction.lower() == "true"}


def partitioning_input(
    dynamic_raw: object, processing_raw: object, base: Partitioning | None
) -> Partitioning | None:
    """The destination's partitioning and processing (None given: ``base`` kept)."""
    if dynamic_raw is None and processing_raw is None:
        return base
    start = base or Partitioning()
    enabled, retry, configured = start.enabled, start.retry_seconds, start.configured
    if dynamic_raw is not None:
        dynamic = _structure(dynamic_raw, "DynamicPartitioningConfiguration")
        enabled, configured = dynamic.get("Enabled", False) is True, True
        retry_options = dynamic.get("RetryOptions")
        if retry_options is not None:
            seconds = _structure(retry_options, "RetryOptions").get("DurationInSeconds", 300)
            if (
                isinstance(seconds, bool)
                or not isinstance(seconds, int)
                or not 0 <= seconds <= 7200
            ):
                raise FirehoseWireError("ValidationException", "1 validation error detected: "
                                        "Value at 'retryOptions.durationInSeconds' failed to "
                                        "satisfy constraint: Member must have value between 0 "
                                        "and 7200")  # fmt: skip
            retry = seconds
    if processing_raw is None:
        return dataclasses.replace(
            start, enabled=enabled, retry_seconds=retry, configured=configured
        )
    made = _processing(_structure(processing_raw, "ProcessingConfiguration"), enabled, retry)
    return dataclasses.replace(made, configured=configured)


def _processing(config: Mapping[str, Any], enabled: bool, retry: int) -> Partitioning:
    processing = config.get("Enabled", False) is True
    raw = config.get("Processors") or []
    if not isinstance(raw, list):
        raise FirehoseWireError("SerializationException", "Processors must be a list")
    made: dict[str, Any] = {}
    kinds: list[str] = []
    for each in raw:
        processor = _structure(each, "Processor")
        kind = processor.get("Type")
        if not isinstance(kind, str):
            raise FirehoseWireError("ValidationException", "1 validation error detected: "
                                    "Processor.Type must not be null")  # fmt: skip
        if kind in _REFUSED_PROCESSORS:
            if processing:
                raise _refused(f"Processor {kind}: {_REFUSED_PROCESSORS[kind]}.")
            continue  # a disabled configuration is kept as AWS keeps it: unused
        if kind not in _PARAMETERS:
            raise _refused(f"Processor type {kind[:64]} is not supported.")
        if kind in kinds:
            raise _refused(f"Processor {kind} is given twice.")
        kinds.append(kind)
        parameters = _processor_parameters(processor, kind)
        if kind == "Lambda":
            made["transform"] = lambda_processor(parameters)
        elif kind in ("Decompression", "CloudWatchLogProcessing"):
            made.update(_logs_processor(kind, parameters))
        elif kind == "MetadataExtraction":
            query = parameters.get("MetadataExtractionQuery")
            if not query:
                raise _refused("MetadataExtraction needs a MetadataExtractionQuery.")
            if parameters.get("JsonParsingEngine", _ENGINE) != _ENGINE:
                raise _refused(f"JsonParsingEngine must be {_ENGINE}.")
            made["query"] = query
        elif kind == "RecordDeAggregation":
            sub = parameters.get("SubRecordType", "JSON")
            if sub not in _SUB_RECORD_TYPES:
                # KPL aggregates need no processor: a Kinesis source's are always undone
                # before processing (decision 0342).
                raise _refused(
                    f"SubRecordType {sub[:32]} is not supported (JSON, DELIMITED); a Kinesis "
                    "source's KPL aggregates are always de-aggregated."
                )
            made["deaggregation"] = sub
            if sub == "DELIMITED":
                if "Delimiter" not in parameters:
                    raise _refused("RecordDeAggregation DELIMITED needs a Delimiter.")
                made["deaggregation_delimiter"] = _delimiter(parameters["Delimiter"], kind)
        else:
            made["append_delimiter"] = (
                _delimiter(parameters["Delimiter"], kind) if "Delimiter" in parameters else b"\n"
            )
    if processing and not kinds:
        raise _refused("ProcessingConfiguration is enabled but has no processor.")
    if processing and "CloudWatchLogProcessing" in kinds and "Decompression" not in kinds:
        raise _refused(_LOGS_ALONE)
    if not processing:
        made = {}
    return Partitioning(enabled=enabled, retry_seconds=retry, processing=processing,
                        processors=tuple(kinds) if processing else (), **made)  # fmt: skip


def partitioning_description(
    partitioning: Partitioning | None, role_arn: str = ""
) -> dict[str, Any]:
    """``DynamicPartitioningConfiguration`` and ``ProcessingConfiguration`` described
    (``role_arn``: the destination's, a Lambda processor's default role)."""
    if partitioning is None:
        return {}
    described: dict[str, Any] = {}
    if partitioning.configured:  # a stream not given one describes none (as AWS)
        described["DynamicPartitioningConfiguration"] = {
            "Enabled": partitioning.enabled,
            "RetryOptions": {"DurationInSeconds": partitioning.retry_seconds},
        }
    processors = []
    for kind in partitioning.processors:
        parameters: list[tuple[str, str]] = []
        if kind == "Lambda" and partitioning.transform is not None:
            parameters = lambda_parameters(partitioning.transform, role_arn)
        elif kind == "MetadataExtraction" and partitioning.query:
            parameters = [("MetadataExtractionQuery", partitioning.query),
                          ("JsonParsingEngine", _ENGINE)]  # fmt: skip
        elif kind == "RecordDeAggregation" and partitioning.deaggregation:
            parameters = [("SubRecordType", partitioning.deaggregation)]
            if partitioning.deaggregation == "DELIMITED":
                delimiter = base64.b64encode(partitioning.deaggregation_delimiter).decode()
                parameters.append(("Delimiter", delimiter))
        elif kind == "Decompression" and partitioning.decompression:
            parameters = [("CompressionFormat", partitioning.decompression)]
        elif kind == "CloudWatchLogProcessing" and partitioning.message_extraction is not None:
            parameters = [("DataMessageExtraction", str(partitioning.message_extraction).lower())]
        elif kind == "AppendDelimiterToRecord" and partitioning.append_delimiter not in (
            None,
            b"\n",
        ):  # the default newline is not described back (it need not be given)
            assert partitioning.append_delimiter is not None  # noqa: S101 (just checked)
            parameters = [("Delimiter", base64.b64encode(partitioning.append_delimiter).decode())]
        processors.append({
            "Type": kind,
            "Parameters": [{"ParameterName": n, "ParameterValue": v} for n, v in parameters],
        })  # fmt: skip
    # A disabled configuration without processors (what Terraform's provider sends when the
    # block is absent) is described as none, as before decision 0270: its plan converges.
    if partitioning.processing or processors:
        described["ProcessingConfiguration"] = {
            "Enabled": partitioning.processing, "Processors": processors,
        }  # fmt: skip
    return described


def endpoint_processing_input(raw: object, base: HttpEndpoint) -> dict[str, Any]:
    """An HTTP endpoint's ``ProcessingConfiguration`` (None given: ``base``'s kept), as the
    endpoint's changed fields: ``Lambda`` (decision 0315), ``Decompression`` and
    ``CloudWatchLogProcessing`` (decision 0342), each at most once, with the same parameters
    as on Extended S3; a disabled configuration is kept unused, as AWS keeps it."""
    if raw is None:
        return {}
    config = _structure(raw, "ProcessingConfiguration")
    processors = config.get("Processors") or []
    if not isinstance(processors, list):
        raise FirehoseWireError("SerializationException", "Processors must be a list")
    none: dict[str, Any] = {
        "transform": None, "decompression": None, "message_extraction": None, "processors": (),
    }  # fmt: skip
    if config.get("Enabled", False) is not True:
        return none
    made = dict(none)
    kinds: list[str] = []
    for each in processors:
        processor = _structure(each, "Processor")
        kind = processor.get("Type")
        if kind not in _ENDPOINT_PROCESSORS:
            raise _refused(f"Processor type {str(kind)[:64]} is not supported for an HTTP "
                           "endpoint destination.")  # fmt: skip
        assert isinstance(kind, str)  # noqa: S101 (one of the names)
        if kind in kinds:
            raise _refused(f"Processor {kind} is given twice.")
        kinds.append(kind)
        parameters = _processor_parameters(processor, kind)
        if kind == "Lambda":
            made["transform"] = lambda_processor(parameters)
        else:
            made.update(_logs_processor(kind, parameters))
    if not kinds:
        raise _refused("ProcessingConfiguration is enabled but has no processor.")
    if "CloudWatchLogProcessing" in kinds and "Decompression" not in kinds:
        raise _refused(_LOGS_ALONE)
    made["processors"] = tuple(kinds)
    return made


def endpoint_processing_description(http: HttpEndpoint, role_arn: str) -> dict[str, Any]:
    """An HTTP endpoint's ``ProcessingConfiguration``, its processors in the order given
    (a stream kept before decision 0342 has its Lambda processor only)."""
    kinds = http.processors or (("Lambda",) if http.transform is not None else ())
    if not kinds:
        return {"Enabled": False}
    described = []
    for kind in kinds:
        parameters: list[tuple[str, str]] = []
        if kind == "Lambda" and http.transform is not None:
            parameters = lambda_parameters(http.transform, role_arn)
        elif kind == "Decompression" and http.decompression:
            parameters = [("CompressionFormat", http.decompression)]
        elif kind == "CloudWatchLogProcessing" and http.message_extraction is not None:
            parameters = [("DataMessageExtraction", str(http.message_extraction).lower())]
        described.append({
            "Type": kind,
            "Parameters": [{"ParameterName": n, "ParameterValue": v} for n, v in parameters],
        })  # fmt: skip
    return {"Enabled": True, "Processors": described}
