"""The stream sources of Lambda's event source mappings (decision 0301): which ARNs name a
Kinesis data stream or a DynamoDB stream, and the checks CreateEventSourceMapping and
UpdateEventSourceMapping make of the stream-only parameters, as AWS makes them
(``StartingPosition`` required and fixed once made, AT_TIMESTAMP for Kinesis only,
``ParallelizationFactor`` 1 to 10, ``MaximumRetryAttempts`` -1 to 10,000,
``MaximumRecordAgeInSeconds`` -1 or 60 to 604,800, ``BisectBatchOnFunctionError``,
``DestinationConfig`` ``OnFailure`` an SQS queue or SNS topic of the account and Region, or
an S3 bucket — decision 0311, ``TumblingWindowInSeconds`` 0 (none) to 900 — decision 0319).

Every stream mapping keeps each of these parameters, their defaults included, so that
GetEventSourceMapping answers them as AWS does."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from andromede.functions.errors import InvalidParameterValue
from andromede.functions.invoke_configs import BUCKET_ARN

__all__ = [
    "STREAM_DEFAULTS",
    "check_stream_parameters",
    "on_failure_destination",
    "stream_source_kind",
]

_KINESIS_ARN: Final = re.compile(
    r"arn:aws:kinesis:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):stream/[a-zA-Z0-9_.-]{1,128}"
)
_DYNAMODB_ARN: Final = re.compile(
    r"arn:aws:dynamodb:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"table/[a-zA-Z0-9_.-]{3,255}/stream/[0-9A-Za-z:.\-]{1,64}"
)
_DESTINATION_ARN: Final = re.compile(
    r"arn:aws:(?P<service>sqs|sns|s3):(?P<region>[a-z0-9-]*):(?P<account>\d{0,12}):.+"
)
_POSITIONS: Final = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
_MAX_AGE: Final = 604_800
_MAX_RETRIES: Final = 10_000
_MAX_TUMBLING: Final = 900
STREAM_DEFAULTS: Final[dict[str, Any]] = {
    "ParallelizationFactor": 1,
    "MaximumRetryAttempts": -1,
    "MaximumRecordAgeInSeconds": -1,
    "BisectBatchOnFunctionError": False,
    "TumblingWindowInSeconds": 0,
    "DestinationConfig": {"OnFailure": {}},
}


def stream_source_kind(arn: str, region: str, tenant_id: str) -> str | None:
    """ "kinesis" or "dynamodb" when ``arn`` names a stream of the account and Region; None
    when it names no stream; InvalidParameterValue for another account's or Region's, or an
    enhanced fan-out consumer."""
    for kind, pattern in (("kinesis", _KINESIS_ARN), ("dynamodb", _DYNAMODB_ARN)):
        found = pattern.fullmatch(arn)
        if found is None:
            continue
        if found["region"] != region or found["account"] != tenant_id:
            raise InvalidParameterValue(
                "The event source must be a stream of the function's account and Region"
            )
        return kind
    if arn.startswith("arn:aws:kinesis:") and "/consumer/" in arn:
        raise InvalidParameterValue(
            "Kinesis enhanced fan-out consumers are not supported by this Lambda yet"
        )
    return None


def _whole(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidParameterValue(
            f"1 validation error detected: Value '{str(value)[:32]}' at '{name}' failed to "
            f"satisfy constraint: Member must have value between {low} and {high}"
        )
    return value


def _destination(given: object, region: str, tenant_id: str) -> dict[str, Any]:
    if not isinstance(given, Mapping):
        raise InvalidParameterValue("DestinationConfig must be an object")
    success = given.get("OnSuccess")
    if isinstance(success, Mapping) and success.get("Destination"):
        raise InvalidParameterValue(
            "Unsupported OnSuccess destination for given event source: only OnFailure is "
            "supported for stream event sources"
        )
    failure = given.get("OnFailure") or {}
    if not isinstance(failure, Mapping):
        raise InvalidParameterValue("DestinationConfig.OnFailure must be an object")
    arn = failure.get("Destination")
    if arn in (None, ""):
        return {"OnFailure": {}}
    if not isinstance(arn, str) or len(arn) > 350:
        raise InvalidParameterValue("The destination ARN is not valid")
    found = _DESTINATION_ARN.fullmatch(arn)
    if found is None:
        raise InvalidParameterValue(
            f"The provided destination config DestinationConfig(onSuccess=null, "
            f"onFailure=OnFailure(destination={arn[:256]})) is invalid."
        )
    if found["service"] == "s3":  # its own account and Region checked with the role's rights
        if BUCKET_ARN.fullmatch(arn) is None:
            raise InvalidParameterValue(f"The destination ARN {arn[:256]} is invalid.")
        return {"OnFailure": {"Destination": arn}}
    if found["region"] != region or found["account"] != tenant_id:
        raise InvalidParameterValue(
            "The on-failure destination must be of the function's account and Region"
        )
    return {"OnFailure": {"Destination": arn}}


def check_stream_parameters(
    given: Mapping[str, Any],
    kind: str,
    kept: dict[str, Any],
    *,
    creating: bool,
    region: str,
    tenant_id: str,
) -> dict[str, Any]:
    """``kept`` (the mapping's parameters being made) with the stream-only ones of ``given``
    checked and set, their defaults for a new mapping."""
    scaling = given.get("ScalingConfig")
    if isinstance(scaling, Mapping) and scaling.get("MaximumConcurrency") is not None:
        # An empty one (what a client may send when unset) sets nothing: accepted.
        raise InvalidParameterValue("Unsupported ScalingConfig parameter for given event source")
    position = given.get("StartingPosition")
    stamp = given.get("StartingPositionTimestamp")
    if creating:
        if position is None:
            raise InvalidParameterValue(
                "1 validation error detected: Value null at 'startingPosition' failed to "
                "satisfy constraint: Member must not be null"
            )
        if position not in _POSITIONS:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{str(position)[:32]}' at "
                "'startingPosition' failed to satisfy constraint: Member must satisfy enum "
                "value set: [AT_TIMESTAMP, TRIM_HORIZON, LATEST]"
            )
        if position == "AT_TIMESTAMP" and kind != "kinesis":
            raise InvalidParameterValue(
                "Unsupported starting position AT_TIMESTAMP for given event source"
            )
        if position == "AT_TIMESTAMP" and stamp is None:
            raise InvalidParameterValue("Need to specify a timestamp")
        if stamp is not None and position != "AT_TIMESTAMP":
            raise InvalidParameterValue(
                "StartingPositionTimestamp is only valid with the AT_TIMESTAMP starting position"
            )
        kept["StartingPosition"] = position
        if stamp is not None:
            if isinstance(stamp, bool) or not isinstance(stamp, int | float):
                raise InvalidParameterValue("StartingPositionTimestamp must be a timestamp")
            kept["StartingPositionTimestamp"] = float(stamp)
        for name, value in STREAM_DEFAULTS.items():
            kept.setdefault(name, value)
    elif position is not None or stamp is not None:
        raise InvalidParameterValue(
            "The starting position of an event source mapping cannot be changed"
        )
    if given.get("ParallelizationFactor") is not None:
        kept["ParallelizationFactor"] = _whole(
            "parallelizationFactor", given["ParallelizationFactor"], 1, 10
        )
    if given.get("MaximumRetryAttempts") is not None:
        kept["MaximumRetryAttempts"] = _whole(
            "maximumRetryAttempts", given["MaximumRetryAttempts"], -1, _MAX_RETRIES
        )
    if given.get("MaximumRecordAgeInSeconds") is not None:
        age = _whole("maximumRecordAgeInSeconds", given["MaximumRecordAgeInSeconds"], -1, _MAX_AGE)
        if 0 <= age < 60:
            raise InvalidParameterValue(
                f"1 validation error detected: Value '{age}' at 'maximumRecordAgeInSeconds' "
                "failed to satisfy constraint: Member must be -1, or between 60 and 604800"
            )
        kept["MaximumRecordAgeInSeconds"] = age
    if given.get("BisectBatchOnFunctionError") is not None:
        bisect = given["BisectBatchOnFunctionError"]
        if not isinstance(bisect, bool):
            raise InvalidParameterValue("BisectBatchOnFunctionError must be true or false")
        kept["BisectBatchOnFunctionError"] = bisect
    if given.get("TumblingWindowInSeconds") is not None:
        kept["TumblingWindowInSeconds"] = _whole(
            "tumblingWindowInSeconds", given["TumblingWindowInSeconds"], 0, _MAX_TUMBLING
        )
    if given.get("DestinationConfig") is not None:
        kept["DestinationConfig"] = _destination(given["DestinationConfig"], region, tenant_id)
    return kept


def on_failure_destination(parameters: Mapping[str, Any]) -> str | None:
    """The ARN of a stream mapping's OnFailure destination, if it has one."""
    found = (parameters.get("DestinationConfig") or {}).get("OnFailure", {}).get("Destination")
    return found if isinstance(found, str) and found else None
