"""DynamoDB's Kinesis streaming destination calls (decision 0262):
EnableKinesisStreamingDestination, UpdateKinesisStreamingDestination,
DisableKinesisStreamingDestination and DescribeKinesisStreamingDestination, in AWS's shapes
(``EnableKinesisStreamingConfiguration`` / ``UpdateKinesisStreamingConfiguration``:
``ApproximateCreationDateTimePrecision`` ``MILLISECOND`` or ``MICROSECOND``).

IAM as AWS's: each call on the table (``dynamodb:<action>``); enabling also needs the caller
to be allowed ``kinesis:PutRecord``, ``kinesis:PutRecords`` and ``kinesis:DescribeStream`` on
the stream, since DynamoDB then writes into it on the owner's behalf."""

from __future__ import annotations

from typing import Any, Final

from andromede.dynamodb.kinesis_destination_service import KinesisDestinations
from andromede.dynamodb.kinesis_destinations import KinesisDestination, Precision
from andromede.dynamodb.model import Table
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, Handler, invalid

__all__ = ["KINESIS_DESTINATION_ACTIONS"]

_STREAM_RIGHTS: Final = ("kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream")


def _service(call: DynamoCall) -> KinesisDestinations:
    if call.kinesis_destinations is None:  # an app made without them (some unit tests)
        raise DynamoWireError(
            "UnknownOperationException", "Kinesis streaming destinations are not offered here"
        )
    return call.kinesis_destinations


def _stream_arn(call: DynamoCall) -> str:
    arn = call.string("StreamArn", required=True, min_length=37, max_length=1024)
    assert arn is not None  # noqa: S101 (required)
    return arn


def _precision(call: DynamoCall, field: str, required: bool) -> Precision | None:
    config = call.mapping(field)
    if config is None:
        if required:
            raise invalid(field, "Member must not be null")
        return None
    named = call.string("ApproximateCreationDateTimePrecision", source=config)
    if named is None:
        if required:
            raise invalid(f"{field}.approximateCreationDateTimePrecision",
                          "Member must not be null")  # fmt: skip
        return None
    try:
        return Precision(named)
    except ValueError:
        raise invalid(
            f"{field}.approximateCreationDateTimePrecision",
            "Member must satisfy enum value set: [MICROSECOND, MILLISECOND]",
        ) from None


def _answer(
    table: Table, destination: KinesisDestination, field: str, echoed: Precision | None
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "TableName": table.name,
        "StreamArn": destination.stream_arn,
        "DestinationStatus": destination.status.value,
    }
    if echoed is not None:
        answer[field] = {"ApproximateCreationDateTimePrecision": echoed.value}
    return answer


async def enable_kinesis_streaming_destination(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("EnableKinesisStreamingDestination")
    arn = _stream_arn(call)
    field = "EnableKinesisStreamingConfiguration"
    precision = _precision(call, field, required=False)
    service = _service(call)
    service.stream_name(table, arn)
    for right in _STREAM_RIGHTS:
        await call.authorise(right, arn)
    added = await service.enable(table, arn, precision or Precision.MILLISECOND)
    return _answer(table, added, field, precision)


async def update_kinesis_streaming_destination(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("UpdateKinesisStreamingDestination")
    arn = _stream_arn(call)
    field = "UpdateKinesisStreamingConfiguration"
    precision = _precision(call, field, required=True)
    assert precision is not None  # noqa: S101 (required)
    changed = await _service(call).update(table, arn, precision)
    return _answer(table, changed, field, precision)


async def disable_kinesis_streaming_destination(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DisableKinesisStreamingDestination")
    arn = _stream_arn(call)
    field = "EnableKinesisStreamingConfiguration"
    disabled = await _service(call).disable(table, arn)
    return _answer(table, disabled, field, _precision(call, field, required=False))


async def describe_kinesis_streaming_destination(call: DynamoCall) -> dict[str, Any]:
    table = await call.table("DescribeKinesisStreamingDestination")
    if call.kinesis_destinations is not None:  # an app without them has none to settle
        table = await call.kinesis_destinations.settle(table)
    return {
        "TableName": table.name,
        "KinesisDataStreamDestinations": [d.describe() for d in table.kinesis],
    }


KINESIS_DESTINATION_ACTIONS: Final[dict[str, Handler]] = {
    "DescribeKinesisStreamingDestination": describe_kinesis_streaming_destination,
    "DisableKinesisStreamingDestination": disable_kinesis_streaming_destination,
    "EnableKinesisStreamingDestination": enable_kinesis_streaming_destination,
    "UpdateKinesisStreamingDestination": update_kinesis_streaming_destination,
}
