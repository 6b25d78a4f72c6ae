"""The ``Lambda`` processor of a ``ProcessingConfiguration`` on the wire (decision 0315): its
parameters (``LambdaArn``, ``NumberOfRetries`` 0-300, ``RoleArn``, ``BufferSizeInMBs``
0.2-3, ``BufferIntervalInSeconds`` 60-900) read into a
:class:`~andromede.firehose.model.LambdaProcessor` and described back as AWS describes it
(the defaults added), for an Extended S3 destination and an HTTP endpoint destination (with
``firehoseapi.processing``'s other processors). The
function is checked when used (of the stream's account and Region, invocable by the
role), as AWS checks it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.firehose.model import LambdaProcessor
from andromede.firehoseapi.errors import FirehoseWireError

__all__ = [
    "PARAMETERS",
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
