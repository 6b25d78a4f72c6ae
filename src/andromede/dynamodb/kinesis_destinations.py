"""Kinesis Data Streams for DynamoDB's core (decision 0262): a table's Kinesis streaming
destination (its stream's ARN, its status and the precision of its records' times), the
transitions its status may make, and what one item change becomes in the Kinesis stream —
AWS's record (``awsRegion``, ``eventID``, ``eventName``, ``userIdentity``,
``recordFormat``, ``tableName``, ``dynamodb``, ``eventSource``) and its partition key.

A destination is a part of its table's definition (as its time to live and its recovery
are), so that every write reads it with the table and knows whether its change is to be
forwarded; the changes themselves wait in the table's forwarding queue (the store's), never
shown as a DynamoDB stream."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

__all__ = [
    "KINESIS_DESTINATION_LIMIT",
    "DestinationStatus",
    "ForwardedChange",
    "KinesisDestination",
    "Precision",
    "kinesis_record",
    "parse_kinesis_arn",
    "partition_key",
]

# AWS: a table streams to at most two Kinesis data streams at once.
KINESIS_DESTINATION_LIMIT: Final = 2


class DestinationStatus(StrEnum):
    ENABLING = "ENABLING"
    ACTIVE = "ACTIVE"
    DISABLING = "DISABLING"
    DISABLED = "DISABLED"
    ENABLE_FAILED = "ENABLE_FAILED"
    UPDATING = "UPDATING"

    @property
    def capturing(self) -> bool:
        """Whether the table's changes are queued for this destination."""
        return self in _CAPTURING

    @property
    def settled(self) -> DestinationStatus:
        """Where the forwarder's next pass takes a transient status."""
        return _SETTLES.get(self, self)


_CAPTURING: Final = frozenset(
    {DestinationStatus.ENABLING, DestinationStatus.ACTIVE, DestinationStatus.UPDATING}
)
_SETTLES: Final = {
    DestinationStatus.ENABLING: DestinationStatus.ACTIVE,
    DestinationStatus.UPDATING: DestinationStatus.ACTIVE,
    DestinationStatus.DISABLING: DestinationStatus.DISABLED,
}


class Precision(StrEnum):
    MILLISECOND = "MILLISECOND"
    MICROSECOND = "MICROSECOND"


@dataclass(frozen=True, slots=True)
class KinesisDestination:
    stream_arn: str
    status: DestinationStatus
    precision: Precision = Precision.MILLISECOND
    reason: str = ""

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StreamArn": self.stream_arn,
            "DestinationStatus": self.status.value,
            "ApproximateCreationDateTimePrecision": self.precision.value,
        }
        if self.reason:
            described["DestinationStatusDescription"] = self.reason
        return described

    def stored(self) -> list[str]:
        return [self.stream_arn, self.status.value, self.precision.value, self.reason]

    @classmethod
    def from_stored(cls, held: list[str]) -> KinesisDestination:
        arn, status, precision, reason = held
        return cls(arn, DestinationStatus(status), Precision(precision), reason)


def parse_kinesis_arn(arn: str) -> tuple[str, str, str] | None:
    """(region, account, stream name) of a Kinesis stream's ARN; None when it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "kinesis":
        return None
    kind, _, name = parts[5].partition("/")
    if kind != "stream" or not name or "/" in name:
        return None
    return parts[3], parts[4], name


def partition_key(hash_token: bytes) -> str:
    """The Kinesis record's partition key: AWS derives it from the item's partition key as
    32 upper-case hex digits, so that an item's changes land on one shard, in order."""
    return hashlib.md5(hash_token, usedforsecurity=False).hexdigest().upper()


def _creation_time(created_ms: int, precision: Precision) -> int:
    """AWS's ``ApproximateCreationDateTime`` in a Kinesis record: epoch milliseconds, or
    microseconds when the destination asks for them (changes are timed to the ms here)."""
    return created_ms * 1000 if precision is Precision.MICROSECOND else created_ms


@dataclass(frozen=True, slots=True)
class ForwardedChange:
    """An item change as the forwarder opened it: ``keys``, ``old`` and ``new`` images."""

    event: str
    created_ms: int
    keys: dict[str, Any]
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    size: int
    by_service: bool
    event_id: str


def kinesis_record(
    region: str, table_name: str, change: ForwardedChange, precision: Precision
) -> bytes:
    """The change as AWS writes it into a Kinesis data stream (JSON, its fields' order)."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": _creation_time(change.created_ms, precision),
        "Keys": change.keys,
    }
    if change.new is not None:
        body["NewImage"] = change.new
    if change.old is not None:
        body["OldImage"] = change.old
    body["SizeBytes"] = change.size
    record: dict[str, Any] = {
        "awsRegion": region,
        "eventID": change.event_id,
        "eventName": change.event,
    }
    if change.by_service:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    else:
        record["userIdentity"] = None
    record.update(
        {
            "recordFormat": "application/json",
            "tableName": table_name,
            "dynamodb": body,
            "eventSource": "aws:dynamodb",
        }
    )
    return json.dumps(record, separators=(",", ":")).encode()
