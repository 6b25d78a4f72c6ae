"""The ``Lambda`` processor of a ``ProcessingConfiguration`` on the wire (decision 0315): its
parameters (``LambdaArn``, ``NumberOfRetries`` 0-300, ``RoleArn``, ``BufferSizeInMBs``
0.2-3, ``BufferIntervalInSeconds`` 60-900) read into a
:class:`~andromede.firehose.model.LambdaProcessor` and described back as AWS describes it
(the defaults added), for an Extended S3 destination (with ``firehoseapi.processing``'s
other processors) and for an HTTP endpoint destination (the only processor it takes). The
function is checked when used (of the stream's account and Region, invocable by the
role), as AWS checks it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.firehose.model import LambdaProcessor
from andromede.firehoseapi.errors import FirehoseWireError

__all__ = [
    "PARAMETERS",
    "http_processing_description",
    "http_processing_input",
    "lambda_parameters",
    "lambda_processor",
]

PARAMETERS: Final = (
    "LambdaArn",
    "NumberOfRetries",
    "RoleArn",
    "BufferSizeInMBs",
    "BufferIntervalInSeconds",
)
_FUNCTION: Final = re.compile(
    r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?"
)
_ROLE: Final = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


def _refused(message: str) -> FirehoseWireError:
    return FirehoseWireError("InvalidArgumentException", message)


def _number(parameters: Mapping[str, str], name: str, low: float, high: float) -> float | None:
    text = parameters.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not low <= value <= high:  # NaN fails too
        raise _refused(f"Processor parameter {name} must be a number between {low:g} and {high:g}.")
    return value


def lambda_processor(parameters: Mapping[str, str]) -> LambdaProcessor:
    """The processor from its parameters (names already checked against :data:`PARAMETERS`)."""
    arn = parameters.get("LambdaArn")
    if not arn:
        raise _refused("LambdaArn is a required parameter of the Lambda processor.")
    if len(arn) > 512 or not _FUNCTION.fullmatch(arn):
        raise _refused(f"LambdaArn {arn[:256]!r} is not a valid Lambda function ARN.")
    role = parameters.get("RoleArn")
    if role is not None and not _ROLE.fullmatch(role):
        raise _refused(f"RoleArn {role[:256]!r} is not a valid IAM role ARN.")
    retries = _number(parameters, "NumberOfRetries", 0, 300)
    if retries is not None and retries != int(retries):
        raise _refused("Processor parameter NumberOfRetries must be a whole number.")
    size = _number(parameters, "BufferSizeInMBs", 0.2, 3)
    interval = _number(parameters, "BufferIntervalInSeconds", 60, 900)
    if interval is not None and interval != int(interval):
        raise _refused("Processor parameter BufferIntervalInSeconds must be a whole number.")
    return LambdaProcessor(
        function_arn=arn,
        retries=3 if retries is None else int(retries),
        role_arn=role,
        buffer_size_mb=1.0 if size is None else size,
        buffer_interval_seconds=60 if interval is None else int(interval),
        given=tuple(parameters),  # in the order given
    )


def lambda_parameters(processor: LambdaProcessor, destination_role: str) -> list[tuple[str, str]]:
    """The processor's parameters as AWS describes them: those given, in their order, then
    the defaults not given (``RoleArn`` the destination's role), which Terraform's provider
    leaves out of its state when they are the defaults."""
    values = {
        "LambdaArn": processor.function_arn,
        "NumberOfRetries": str(processor.retries),
        "RoleArn": processor.role_arn or destination_role,
        "BufferSizeInMBs": f"{processor.buffer_size_mb:g}",
        "BufferIntervalInSeconds": str(processor.buffer_interval_seconds),
    }
    order = [name for name in processor.given if name in values]
    order += [name for name in PARAMETERS if name not in order]
    return [(name, values[name]) for name in order if values[name]]


def _structure(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FirehoseWireError("SerializationException", f"{name} must be a structure")
    return value


def _parameters(processor: Mapping[str, Any]) -> dict[str, str]:
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
        if name not in PARAMETERS:
            raise _refused(f"Parameter {name[:64]} is not supported by the Lambda processor.")
        if name in found:
            raise _refused(f"Parameter {name} is given twice to the Lambda processor.")
        found[name] = value
    return found


def http_processing_input(raw: object, base: LambdaProcessor | None) -> LambdaProcessor | None:
    """An HTTP endpoint's ``ProcessingConfiguration`` (None given: ``base`` kept): its Lambda
    processor when enabled, else none."""
    if raw is None:
        return base
    config = _structure(raw, "ProcessingConfiguration")
    processors = config.get("Processors") or []
    if not isinstance(processors, list):
        raise FirehoseWireError("SerializationException", "Processors must be a list")
    if config.get("Enabled", False) is not True:
        return None  # a disabled configuration is kept unused, as AWS keeps it
    made: LambdaProcessor | None = None
    for each in processors:
        processor = _structure(each, "Processor")
        kind = processor.get("Type")
        if kind != "Lambda":
            raise _refused(f"Processor type {str(kind)[:64]} is not supported for an HTTP "
                           "endpoint destination.")  # fmt: skip
        if made is not None:
            raise _refused("Processor Lambda is given twice.")
        made = lambda_processor(_parameters(processor))
    if made is None:
        raise _refused("ProcessingConfiguration is enabled but has no processor.")
    return made


def http_processing_description(
    processor: LambdaProcessor | None, destination_role: str
) -> dict[str, Any]:
    if processor is None:
        return {"Enabled": False}
    parameters = lambda_parameters(processor, destination_role)
    return {
        "Enabled": True,
        "Processors": [
            {
                "Type": "Lambda",
                "Parameters": [{"ParameterName": n, "ParameterValue": v} for n, v in parameters],
            }
        ],
    }
