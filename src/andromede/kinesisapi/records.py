"""Kinesis' record and shard actions (decision 0228): PutRecord, PutRecords, ListShards,
GetShardIterator, GetRecords, SplitShard, MergeShards and UpdateShardCount; each authorises
``kinesis:<Action>`` on the stream's ARN before it calls the service."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any, Final

from andromede.kinesis.iterators import iterator_stream
from andromede.kinesis.model import (
    Shard,
    Stream,
    parse_sequence,
    sequence_text,
    shard_index,
    stream_arn,
)
from andromede.kinesis.service import Entry, PutOutcome
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.params import Handler, KinesisCall, invalid
from andromede.kinesisapi.streams import described_shard, named_stream

__all__ = ["RECORD_ACTIONS"]

_MAX_PUT_RECORDS: Final = 500
# Data and partition keys of one PutRecords: AWS's 10 MiB since large records (decision 0260).
_MAX_PUT_BYTES: Final = 10 * 1024 * 1024
_HASH_KEY: Final = 38  # digits of 2**128 - 1
_FILTERS: Final = ("AFTER_SHARD_ID", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_LATEST",
                   "AT_TIMESTAMP", "FROM_TIMESTAMP")  # fmt: skip
_ITERATOR_TYPES: Final = ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON",
                          "LATEST", "AT_TIMESTAMP")  # fmt: skip


def _entry(call: KinesisCall, raw: object, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise KinesisWireError("SerializationException", f"{where} must be a structure")
    key = call.string("PartitionKey", required=True, min_length=1, max_length=256, source=raw)
    explicit = call.string("ExplicitHashKey", max_length=_HASH_KEY + 2, source=raw)
    assert key is not None  # noqa: S101 (required)
    return Entry(key, call.data(raw, f"{where}.data" if where else "Data"), explicit)


async def put_record(call: KinesisCall) -> dict[str, Any]:
    entry = _entry(call, dict(call.params), "")
    ordering = call.string("SequenceNumberForOrdering", max_length=128)
    if ordering is not None:
        # Numbers grow within a shard whatever is asked: the ordering asked holds already.
        parse_sequence(ordering)
    call.boolean("DryRun")
    stream = await named_stream(call, "PutRecord")
    if call.params.get("DryRun") is True:
        raise KinesisWireError("InvalidArgumentException", "DryRun is not offered by this "
                               "platform (decision 0228).")  # fmt: skip
    _, (outcome,) = await call.kinesis.put(call.account, stream.name, [entry], call.kms_caller)
    if outcome.sequence is None:
        code, message = outcome.error or ("InternalFailure", "Internal failure")
        raise KinesisWireError(code, message)
    return {
        "ShardId": outcome.shard.id,
        "SequenceNumber": sequence_text(outcome.sequence),
        "EncryptionType": stream.encryption_type,
    }


async def put_records(call: KinesisCall) -> dict[str, Any]:
    raw = call.params.get("Records")
    if not isinstance(raw, list) or not 1 <= len(raw) <= _MAX_PUT_RECORDS:
        raise invalid("Records", f"Member must have length between 1 and {_MAX_PUT_RECORDS}")
    entries = [_entry(call, r, f"Records.{i + 1}.member") for i, r in enumerate(raw)]
    size = sum(len(e.data) + len(e.partition_key.encode()) for e in entries)
    if size > _MAX_PUT_BYTES:
        raise KinesisWireError(
            "InvalidArgumentException",
            f"Records size {size} exceeds the limit of {_MAX_PUT_BYTES} bytes of a PutRecords "
            "request.",
        )
    stream = await named_stream(call, "PutRecords")
    _, outcomes = await call.kinesis.put(call.account, stream.name, entries, call.kms_caller)
    return {
        "FailedRecordCount": sum(1 for o in outcomes if o.sequence is None),
        "Records": [_outcome(o) for o in outcomes],
        "EncryptionType": stream.encryption_type,
    }


def _outcome(outcome: PutOutcome) -> dict[str, str]:
    if outcome.sequence is not None:
        return {"ShardId": outcome.shard.id, "SequenceNumber": sequence_text(outcome.sequence)}
    code, message = outcome.error or ("InternalFailure", "Internal failure")
    return {"ErrorCode": code, "ErrorMessage": message}


def _shards_token(stream: Stream, after: int) -> str:
    """The stream's account too: another account's stream pages on as its ARN (0248)."""
    named = [stream.name, after, stream.created, stream.tenant_id]
    return base64.urlsafe_b64encode(json.dumps(named).encode()).decode()


def _from_token(token: str) -> tuple[str, int, int, str | None]:
    try:
        name, after, created, *owner = json.loads(base64.urlsafe_b64decode(token.encode()))
        return str(name), int(after), int(created), str(owner[0]) if owner else None
    except (binascii.Error, ValueError, TypeError, UnicodeError, IndexError):
        raise KinesisWireError("InvalidArgumentException", "Invalid NextToken.") from None


def _filtered(call: KinesisCall, shards: list[Shard], asked: Mapping[str, Any]) -> list[Shard]:
    kind = call.string("Type", required=True, source=asked)
    if kind not in _FILTERS:
        raise invalid("ShardFilter.type", "Member must satisfy enum value set: ["
                      + ", ".join(_FILTERS) + "]")  # fmt: skip
    if kind == "AFTER_SHARD_ID":
        ref = call.string("ShardId", required=True, max_length=128, source=asked)
        after = shard_index(str(ref))
        return [s for s in shards if s.index > after]
    if kind == "AT_LATEST":
        return [s for s in shards if s.is_open]
    if kind in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
        at = call.timestamp("Timestamp", source=asked)
        if at is None:
            raise KinesisWireError("InvalidArgumentException",
                                   f"Timestamp is required for {kind}.")  # fmt: skip
        return [s for s in shards if s.closed_at is None or s.closed_at >= at]
    return shards  # every shard is kept within the retention period here


async def list_shards(call: KinesisCall) -> dict[str, Any]:
    limit = call.integer("MaxResults", minimum=1, maximum=10000) or 1000
    token = call.string("NextToken", min_length=1, max_length=1048576)
    start = call.string("ExclusiveStartShardId", min_length=1, max_length=128)
    asked = call.mapping("ShardFilter")
    after = -1 if start is None else shard_index(start)
    if token is not None:
        if call.params.get("StreamName") is not None or start is not None:
            raise KinesisWireError(
                "InvalidArgumentException",
                "NextToken and StreamName or ExclusiveStartShardId cannot be provided together.",
            )
        name, after, created, owner = _from_token(token)
        if owner is not None and owner != call.tenant_id:
            call.arn_name(stream_arn(call.region, owner, name))
        stream = await named_stream(call, "ListShards", None, name)
        if stream.created != created:
            raise KinesisWireError("ExpiredNextTokenException", "The NextToken has expired.")
    else:
        stream = await named_stream(call, "ListShards")
    shards = [s for s in stream.shards if s.index > after]
    if asked is not None:
        shards = _filtered(call, shards, asked)
    answer: dict[str, Any] = {"Shards": [described_shard(s) for s in shards[:limit]]}
    if len(shards) > limit:
        answer["NextToken"] = _shards_token(stream, shards[limit - 1].index)
    return answer


async def get_shard_iterator(call: KinesisCall) -> dict[str, Any]:
    shard = call.required("ShardId", max_length=128)
    kind = call.required("ShardIteratorType")
    if kind not in _ITERATOR_TYPES:
        raise invalid("ShardIteratorType", "Member must satisfy enum value set: ["
                      + ", ".join(_ITERATOR_TYPES) + "]")  # fmt: skip
    sequence = call.string("StartingSequenceNumber", max_length=128)
    timestamp = call.timestamp("Timestamp")
    stream = await named_stream(call, "GetShardIterator")
    token = await call.kinesis.iterator(call.account, stream.name, shard, kind, sequence, timestamp)
    return {"ShardIterator": token}


async def get_records(call: KinesisCall) -> dict[str, Any]:
    token = call.required("ShardIterator", max_length=512)
    limit = call.integer("Limit", minimum=1, maximum=10000) or 10000
    owner, name = iterator_stream(token)
    arn = call.string("StreamARN", max_length=2048)
    if arn is None and owner is not None:
        # The iterator names its stream's account: another's is read as by its ARN.
        arn = stream_arn(call.region, owner, name)
    if arn is not None and (call.arn_name(arn) != name or owner not in (None, call.account)):
        raise KinesisWireError("InvalidArgumentException", "Invalid ShardIterator.")
    await named_stream(call, "GetRecords", None, name)
    read = await call.kinesis.records(call.account, token, limit, call.kms_caller, throttled=True)
    answer: dict[str, Any] = {
        "Records": [
            {
                "SequenceNumber": sequence_text(r.sequence),
                "ApproximateArrivalTimestamp": round(r.arrived / 1000, 3),
                "Data": base64.b64encode(r.data).decode("ascii"),
                "PartitionKey": r.partition_key,
                "EncryptionType": read.stream.encryption_type,
            }
            for r in read.records
        ],
        "MillisBehindLatest": read.millis_behind,
    }
    if read.next_iterator is not None:
        answer["NextShardIterator"] = read.next_iterator
    else:
        answer["ChildShards"] = [
            {
                "ShardId": child.id,
                "ParentShards": [
                    Shard(i, 0, 0, 0).id
                    for i in (child.parent, child.adjacent_parent)
                    if i is not None
                ],
                "HashKeyRange": described_shard(child)["HashKeyRange"],
            }
            for child in read.children
        ]
    return answer


async def split_shard(call: KinesisCall) -> dict[str, Any]:
    shard = call.required("ShardToSplit", max_length=128)
    start = call.required("NewStartingHashKey", max_length=_HASH_KEY + 2)
    stream = await named_stream(call, "SplitShard")
    await call.kinesis.split(call.tenant_id, stream.name, shard, start)
    return {}


async def merge_shards(call: KinesisCall) -> dict[str, Any]:
    shard = call.required("ShardToMerge", max_length=128)
    adjacent = call.required("AdjacentShardToMerge", max_length=128)
    stream = await named_stream(call, "MergeShards")
    await call.kinesis.merge(call.tenant_id, stream.name, shard, adjacent)
    return {}


async def update_shard_count(call: KinesisCall) -> dict[str, Any]:
    target = call.integer("TargetShardCount", minimum=1, maximum=100_000)
    if target is None:
        raise invalid("TargetShardCount", "Member must not be null")
    scaling = call.required("ScalingType")
    if scaling != "UNIFORM_SCALING":
        raise invalid("ScalingType", "Member must satisfy enum value set: [UNIFORM_SCALING]")
    stream = await named_stream(call, "UpdateShardCount")
    current, target = await call.kinesis.update_shard_count(call.tenant_id, stream.name, target)
    return {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "CurrentShardCount": current,
        "TargetShardCount": target,
    }


RECORD_ACTIONS: Final[dict[str, Handler]] = {
    "GetRecords": get_records,
    "GetShardIterator": get_shard_iterator,
    "ListShards": list_shards,
    "MergeShards": merge_shards,
    "PutRecord": put_record,
    "PutRecords": put_records,
    "SplitShard": split_shard,
    "UpdateShardCount": update_shard_count,
}
