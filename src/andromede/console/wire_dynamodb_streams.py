"""The DynamoDB Streams calls (decision 0246) a table's console page makes (decision 0252), in
process as the signed-in principal through the Streams API DynamoDB's app serves beside its
own (``DynamoDBStreams_20120810``, told apart by its target): its authorisation
(``dynamodb:DescribeStream``, ``GetShardIterator``, ``GetRecords`` on the stream's ARN), checks,
metering and errors answer them. Records are read into the rows the page shows, their keys
and images left in DynamoDB JSON; nothing here decides what DynamoDB allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["ChangeRecord", "ChangesRead", "DynamoStreamsWire", "StreamShard"]

# DescribeStream pages of 100 shards the page reads at most: a stream lists a day of
# generations (six or seven) times its partitions.
_SHARD_PAGES: Final = 10


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True, slots=True)
class StreamShard:
    """A stream's shard as DescribeStream tells it: its id and sequence number range (an
    ending number once the shard is closed)."""

    shard_id: str
    starting: str
    ending: str


@dataclass(frozen=True, slots=True)
class ChangeRecord:
    """A change record as GetRecords gives it; keys and images in DynamoDB JSON (None: the
    view type shows no such image)."""

    event_name: str  # INSERT, MODIFY or REMOVE
    sequence_number: str
    keys: dict[str, Any]
    new_image: dict[str, Any] | None
    old_image: dict[str, Any] | None
    by_service: bool  # a time-to-live deletion: DynamoDB's own


@dataclass(frozen=True, slots=True)
class ChangesRead:
    """One GetRecords: its records and the iterator to read on ("" : a closed shard read to
    its end)."""

    records: list[ChangeRecord]
    next_iterator: str


def _record(item: dict[str, Any]) -> ChangeRecord:
    change = _mapping(item.get("dynamodb"))
    new, old = change.get("NewImage"), change.get("OldImage")
    return ChangeRecord(
        event_name=str(item.get("eventName", "")),
        sequence_number=str(change.get("SequenceNumber", "")),
        keys=_mapping(change.get("Keys")),
        new_image=new if isinstance(new, dict) else None,
        old_image=old if isinstance(old, dict) else None,
        by_service=_mapping(item.get("userIdentity")).get("Type") == "Service",
    )


class DynamoStreamsWire(JsonWire):
    """The stream calls the console makes (``DynamoDBStreams_20120810`` JSON 1.0), as
    ``principal``."""

    target_prefix = "DynamoDBStreams_20120810."
    content_type = "application/x-amz-json-1.0"
    internal_error = "InternalServerError"

    async def shards(self, origin: Scope, principal: Principal, arn: str) -> list[StreamShard]:
        """DescribeStream's shards, every page (decision 0275: several a stream, rolled)."""
        shards: list[StreamShard] = []
        payload: dict[str, Any] = {"StreamArn": arn}
        for _ in range(_SHARD_PAGES):
            answer = await self._json(origin, principal, "DescribeStream", payload)
            described = _mapping(answer.get("StreamDescription"))
            for shard in _list(described.get("Shards")):
                numbers = _mapping(_mapping(shard).get("SequenceNumberRange"))
                shards.append(
                    StreamShard(
                        shard_id=str(_mapping(shard).get("ShardId", "")),
                        starting=str(numbers.get("StartingSequenceNumber", "")),
                        ending=str(numbers.get("EndingSequenceNumber", "")),
                    )
                )
            last = described.get("LastEvaluatedShardId")
            if not isinstance(last, str) or not last:
                break
            payload = {"StreamArn": arn, "ExclusiveStartShardId": last}
        return shards

    async def iterator(
        self, origin: Scope, principal: Principal, arn: str, shard: str, position: str
    ) -> str:
        """GetShardIterator at ``position`` (TRIM_HORIZON or LATEST)."""
        payload = {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": position}
        answer = await self._json(origin, principal, "GetShardIterator", payload)
        return str(answer.get("ShardIterator", ""))

    async def records(
        self, origin: Scope, principal: Principal, iterator: str, limit: int
    ) -> ChangesRead:
        """GetRecords of at most ``limit`` records from ``iterator``."""
        payload = {"ShardIterator": iterator, "Limit": limit}
        answer = await self._json(origin, principal, "GetRecords", payload)
        return ChangesRead(
            records=[_record(r) for r in _list(answer.get("Records")) if isinstance(r, dict)],
            next_iterator=str(answer.get("NextShardIterator") or ""),
        )
