"""The Amazon Kinesis Data Streams calls (decision 0228) the console's stream pages make, in
process as the signed-in principal through Kinesis' JSON protocol (``kinesisapi.app``): its
authorisation (``kinesis:<Action>`` on the stream's ARN, the KMS key's own for sealed
records), checks, audit, metering and errors answer them. Each answer is read into the small
rows the pages show; nothing here decides what Kinesis allows.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from andromede.console.wire import JsonWire
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = ["KinesisWire", "RecordRow", "RecordsRead", "ShardRow", "StreamSummary"]


def _when(value: Any) -> str:
    """An epoch-seconds timestamp as the pages show it ("" when absent)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """A stream as DescribeStreamSummary tells it."""

    name: str
    arn: str
    status: str
    mode: str  # PROVISIONED or ON_DEMAND
    open_shards: int
    retention_hours: int
    encryption: str  # NONE or KMS
    key_id: str  # the KMS key when encryption is KMS
    created: str
    consumers: int


@dataclass(frozen=True, slots=True)
class ShardRow:
    """A shard as ListShards tells it: its hash key range and whether it is still open (a
    closed shard has an ending sequence number: it was split or merged)."""

    shard_id: str
    starting_hash: str
    ending_hash: str
    starting_sequence: str
    ending_sequence: str
    parent: str

    @property
    def is_open(self) -> bool:
        return not self.ending_sequence


@dataclass(frozen=True, slots=True)
class RecordRow:
    """A record as GetRecords gives it, its data as text when it is UTF-8, else base64."""

    sequence: str
    partition_key: str
    arrived: str
    data: str
    is_text: bool
    size: int


@dataclass(frozen=True, slots=True)
class RecordsRead:
    records: list[RecordRow]
    next_iterator: str  # "" when the shard is closed and read to its end
    millis_behind: int


def _summary(answer: dict[str, Any]) -> StreamSummary:
    return StreamSummary(
        name=str(answer.get("StreamName", "")),
        arn=str(answer.get("StreamARN", "")),
        status=str(answer.get("StreamStatus", "")),
        mode=str(_mapping(answer.get("StreamModeDetails")).get("StreamMode", "")),
        open_shards=_number(answer.get("OpenShardCount")),
        retention_hours=_number(answer.get("RetentionPeriodHours")),
        encryption=str(answer.get("EncryptionType") or "NONE"),
        key_id=str(answer.get("KeyId") or ""),
        created=_when(answer.get("StreamCreationTimestamp")),
        consumers=_number(answer.get("ConsumerCount")),
    )


def _shard(item: dict[str, Any]) -> ShardRow:
    hashes = _mapping(item.get("HashKeyRange"))
    sequences = _mapping(item.get("SequenceNumberRange"))
    return ShardRow(
        shard_id=str(item.get("ShardId", "")),
        starting_hash=str(hashes.get("StartingHashKey", "")),
        ending_hash=str(hashes.get("EndingHashKey", "")),
        starting_sequence=str(sequences.get("StartingSequenceNumber", "")),
        ending_sequence=str(sequences.get("EndingSequenceNumber", "")),
        parent=str(item.get("ParentShardId", "")),
    )


def _record(item: dict[str, Any]) -> RecordRow:
    try:
        data = base64.b64decode(str(item.get("Data", "")), validate=True)
    except (binascii.Error, ValueError):
        data = b""
    try:
        text, is_text = data.decode("utf-8"), True
    except UnicodeDecodeError:
        text, is_text = base64.b64encode(data).decode("ascii"), False
    return RecordRow(
        sequence=str(item.get("SequenceNumber", "")),
        partition_key=str(item.get("PartitionKey", "")),
        arrived=_when(item.get("ApproximateArrivalTimestamp")),
        data=text,
        is_text=is_text,
        size=len(data),
    )


class KinesisWire(JsonWire):
    """The stream calls the console makes (``Kinesis_20131202`` JSON 1.1), as ``principal``."""

    target_prefix = "Kinesis_20131202."
    content_type = "application/x-amz-json-1.1"
    internal_error = "InternalFailure"

    async def names(
        self, origin: Scope, principal: Principal, *, after: str | None, limit: int
    ) -> tuple[list[str], bool]:
        """One page of ListStreams, after the name ``after``; whether more follow."""
        payload: dict[str, Any] = {"Limit": limit}
        if after:
            payload["ExclusiveStartStreamName"] = after
        answer = await self._json(origin, principal, "ListStreams", payload)
        listed = answer.get("StreamNames")
        names = [str(n) for n in listed] if isinstance(listed, list) else []
        return names, answer.get("HasMoreStreams") is True

    async def summary(self, origin: Scope, principal: Principal, name: str) -> StreamSummary:
        answer = await self._json(origin, principal, "DescribeStreamSummary", {"StreamName": name})
        return _summary(_mapping(answer.get("StreamDescriptionSummary")))

    async def shards(
        self, origin: Scope, principal: Principal, name: str, limit: int
    ) -> tuple[list[ShardRow], bool]:
        """ListShards' first ``limit`` shards, open and closed; whether more follow."""
        answer = await self._json(
            origin, principal, "ListShards", {"StreamName": name, "MaxResults": limit}
        )
        listed = answer.get("Shards")
        rows = [
            _shard(s) for s in (listed if isinstance(listed, list) else []) if isinstance(s, dict)
        ]
        return rows, bool(answer.get("NextToken"))

    async def tags(self, origin: Scope, principal: Principal, name: str) -> list[tuple[str, str]]:
        """ListTagsForStream's first 50 tags (AWS's page bound)."""
        answer = await self._json(
            origin, principal, "ListTagsForStream", {"StreamName": name, "Limit": 50}
        )
        listed = answer.get("Tags")
        return [
            (str(t.get("Key", "")), str(t.get("Value", "")))
            for t in (listed if isinstance(listed, list) else [])
            if isinstance(t, dict)
        ]

    async def create(
        self,
        origin: Scope,
        principal: Principal,
        name: str,
        *,
        on_demand: bool,
        shard_count: str,
        tags: Sequence[tuple[str, str]] = (),
    ) -> None:
        """CreateStream: on demand (no shard count sent), or provisioned with the count as
        typed (a count that is no number is sent as typed: Kinesis refuses it)."""
        payload: dict[str, Any] = {
            "StreamName": name,
            "StreamModeDetails": {"StreamMode": "ON_DEMAND" if on_demand else "PROVISIONED"},
        }
        if not on_demand:
            typed = shard_count.strip()
            payload["ShardCount"] = int(typed) if typed.isdigit() else typed
        if tags:
            payload["Tags"] = dict(tags)
        await self._json(origin, principal, "CreateStream", payload)

    async def set_retention(
        self, origin: Scope, principal: Principal, name: str, hours: int, *, increase: bool
    ) -> None:
        action = "IncreaseStreamRetentionPeriod" if increase else "DecreaseStreamRetentionPeriod"
        payload = {"StreamName": name, "RetentionPeriodHours": hours}
        await self._json(origin, principal, action, payload)

    async def start_encryption(
        self, origin: Scope, principal: Principal, name: str, key_id: str
    ) -> None:
        payload = {"StreamName": name, "EncryptionType": "KMS", "KeyId": key_id}
        await self._json(origin, principal, "StartStreamEncryption", payload)

    async def stop_encryption(
        self, origin: Scope, principal: Principal, name: str, key_id: str
    ) -> None:
        payload = {"StreamName": name, "EncryptionType": "KMS", "KeyId": key_id}
        await self._json(origin, principal, "StopStreamEncryption", payload)

    async def tag(
        self, origin: Scope, principal: Principal, name: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        payload = {"StreamName": name, "Tags": dict(tags)}
        await self._json(origin, principal, "AddTagsToStream", payload)

    async def untag(self, origin: Scope, principal: Principal, name: str, key: str) -> None:
        payload = {"StreamName": name, "TagKeys": [key]}
        await self._json(origin, principal, "RemoveTagsFromStream", payload)

    async def put(
        self, origin: Scope, principal: Principal, name: str, partition_key: str, data: bytes
    ) -> tuple[str, str]:
        """PutRecord; the shard it went into and its sequence number."""
        payload = {
            "StreamName": name,
            "PartitionKey": partition_key,
            "Data": base64.b64encode(data).decode("ascii"),
        }
        answer = await self._json(origin, principal, "PutRecord", payload)
        return str(answer.get("ShardId", "")), str(answer.get("SequenceNumber", ""))

    async def iterator(
        self, origin: Scope, principal: Principal, name: str, shard_id: str, position: str
    ) -> str:
        """GetShardIterator at ``position`` (TRIM_HORIZON or LATEST)."""
        payload = {"StreamName": name, "ShardId": shard_id, "ShardIteratorType": position}
        answer = await self._json(origin, principal, "GetShardIterator", payload)
        return str(answer.get("ShardIterator", ""))

    async def records(
        self, origin: Scope, principal: Principal, iterator: str, limit: int
    ) -> RecordsRead:
        """GetRecords: at most ``limit`` records from ``iterator``, and where to read on."""
        payload = {"ShardIterator": iterator, "Limit": limit}
        answer = await self._json(origin, principal, "GetRecords", payload)
        listed = answer.get("Records")
        return RecordsRead(
            records=[
                _record(r)
                for r in (listed if isinstance(listed, list) else [])
                if isinstance(r, dict)
            ],
            next_iterator=str(answer.get("NextShardIterator") or ""),
            millis_behind=_number(answer.get("MillisBehindLatest")),
        )

    async def delete(self, origin: Scope, principal: Principal, name: str) -> None:
        await self._json(origin, principal, "DeleteStream", {"StreamName": name})

    async def policy(self, origin: Scope, principal: Principal, arn: str) -> str:
        """GetResourcePolicy of a stream's (or consumer's) ARN: its text, "" when it has none
        (Kinesis answers ``{}`` for ``Policy``)."""
        answer = await self._json(origin, principal, "GetResourcePolicy", {"ResourceARN": arn})
        policy = answer.get("Policy")
        return policy if isinstance(policy, str) and policy.strip() not in ("", "{}") else ""

    async def put_policy(self, origin: Scope, principal: Principal, arn: str, policy: str) -> None:
        """PutResourcePolicy of the text as typed (Kinesis checks it and answers in its words)."""
        payload = {"ResourceARN": arn, "Policy": policy}
        await self._json(origin, principal, "PutResourcePolicy", payload)

    async def delete_policy(self, origin: Scope, principal: Principal, arn: str) -> None:
        await self._json(origin, principal, "DeleteResourcePolicy", {"ResourceARN": arn})
