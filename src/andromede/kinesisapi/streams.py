"""Kinesis' stream actions (decision 0228): create, describe, list, delete, tags, retention,
encryption and limits; each authorises ``kinesis:<Action>`` on the stream's ARN (the
request's tags as ``aws:RequestTag/…``, the stream's as ``aws:ResourceTag/…``) before it
calls the service, then answers in the API model's shape."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Final

from andromede.kinesis.model import (
    DEFAULT_RECORD_KIB,
    MAX_RECORD_KIB,
    MIN_RECORD_KIB,
    Shard,
    Stream,
    StreamMode,
    sequence_text,
    shard_index,
)
from andromede.kinesisapi.errors import KinesisWireError
from andromede.kinesisapi.params import Handler, KinesisCall, invalid

__all__ = ["STREAM_ACTIONS", "described_shard", "named_stream", "request_tags"]


def request_tags(tags: list[tuple[str, str]]) -> dict[str, Any]:
    keys: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags}
    keys["aws:TagKeys"] = [k for k, _ in tags]
    return keys


async def named_stream(
    call: KinesisCall, action: str, extra: dict[str, Any] | None = None, name: str | None = None
) -> Stream:
    """The named stream, once the caller may do ``action`` on it, by its identity policies
    and the stream's resource policy (decision 0248); a stream that does not exist is
    authorised on its would-be ARN first, so that no one probes names (another account's is
    then refused, no policy sharing it)."""
    name = name or call.stream_name()
    arn = call.arn(name)
    call.resources.append(arn)
    found = await call.kinesis.store.get(call.account, name)
    keys = (extra or {}) | ({} if found is None else
                            {f"aws:ResourceTag/{k}": v for k, v in found.tags})  # fmt: skip
    if found is not None and call.account != call.tenant_id:
        call.shared = call.account  # its owner's trail records the call, refused or not
    policy = None if found is None else found.policy
    await call.authorise(f"kinesis:{action}", arn, keys, policy, call.account)
    return found or await call.kinesis.get(call.account, name)


def _epoch(ms: int) -> float:
    return round(ms / 1000, 3)


def described_shard(shard: Shard) -> dict[str, Any]:
    described: dict[str, Any] = {
        "ShardId": shard.id,
        "HashKeyRange": {
            "StartingHashKey": str(shard.start_hash),
            "EndingHashKey": str(shard.end_hash),
        },
        "SequenceNumberRange": {"StartingSequenceNumber": sequence_text(shard.starting)},
    }
    if shard.ending is not None:
        described["SequenceNumberRange"]["EndingSequenceNumber"] = sequence_text(shard.ending)
    if shard.parent is not None:
        described["ParentShardId"] = Shard(shard.parent, 0, 0, 0).id
    if shard.adjacent_parent is not None:
        described["AdjacentParentShardId"] = Shard(shard.adjacent_parent, 0, 0, 0).id
    return described


def _common(stream: Stream) -> dict[str, Any]:
    common: dict[str, Any] = {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStatus": stream.status.value,
        "StreamModeDetails": {"StreamMode": stream.mode.value},
        "RetentionPeriodHours": stream.retention_hours,
        "StreamCreationTimestamp": _epoch(stream.created),
        "EnhancedMonitoring": [{"ShardLevelMetrics": list(stream.shard_level_metrics)}],
        "EncryptionType": stream.encryption_type,
    }
    if stream.key_id is not None:
        common["KeyId"] = stream.key_id
    return common


async def create_stream(call: KinesisCall) -> dict[str, Any]:
    name = call.stream_name()
    count = call.integer("ShardCount", minimum=1, maximum=100_000)
    mode = _mode(call)
    max_record_kib = call.integer("MaxRecordSizeInKiB", minimum=MIN_RECORD_KIB,
                                  maximum=MAX_RECORD_KIB) or DEFAULT_RECORD_KIB  # fmt: skip
    for unoffered in ("WarmThroughputMiBps", "RecordDistributionStrategy"):
        if call.params.get(unoffered) is not None:
            raise KinesisWireError("InvalidArgumentException", f"{unoffered} is not offered by "
                                   "this platform (decision 0228).")  # fmt: skip
    tags = call.tag_map()
    arn = call.arn(name)
    call.resources.append(arn)
    await call.authorise("kinesis:CreateStream", arn, request_tags(tags))
    if tags:
        await call.authorise("kinesis:AddTagsToStream", arn, request_tags(tags))
    await call.kinesis.create(call.tenant_id, name, count, mode, tags, max_record_kib)
    return {}


async def describe_stream(call: KinesisCall) -> dict[str, Any]:
    limit = call.integer("Limit", minimum=1, maximum=10000) or 100
    after = call.string("ExclusiveStartShardId", min_length=1, max_length=128)
    stream = await named_stream(call, "DescribeStream")
    shards = list(stream.shards)
    if after is not None:
        start = shard_index(after)
        shards = [s for s in shards if s.index > start]
    return {
        "StreamDescription": _common(stream)
        | {
            "Shards": [described_shard(s) for s in shards[:limit]],
            "HasMoreShards": len(shards) > limit,
        }
    }


async def describe_stream_summary(call: KinesisCall) -> dict[str, Any]:
    stream = await named_stream(call, "DescribeStreamSummary")
    return {
        "StreamDescriptionSummary": _common(stream)
        | {
            "OpenShardCount": len(stream.open_shards),
            "ConsumerCount": len(stream.consumers),
            "MaxRecordSizeInKiB": stream.max_record_kib,
        }
    }


def _token(name: str) -> str:
    return base64.urlsafe_b64encode(name.encode()).decode()


def _after(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, ValueError, UnicodeError):
        raise KinesisWireError("ExpiredNextTokenException", "Invalid NextToken.") from None


async def list_streams(call: KinesisCall) -> dict[str, Any]:
    limit = call.integer("Limit", minimum=1, maximum=10000) or 100
    start = call.string("ExclusiveStartStreamName", min_length=1, max_length=128)
    token = call.string("NextToken", min_length=1, max_length=1048576)
    await call.authorise("kinesis:ListStreams", "*", {})
    after = _after(token) if token is not None else start
    streams, more = await call.kinesis.streams(call.tenant_id, after, limit)
    answer: dict[str, Any] = {
        "StreamNames": [s.name for s in streams],
        "HasMoreStreams": more,
        "StreamSummaries": [
            {
                "StreamName": s.name,
                "StreamARN": s.arn,
                "StreamStatus": s.status.value,
                "StreamModeDetails": {"StreamMode": s.mode.value},
                "StreamCreationTimestamp": _epoch(s.created),
            }
            for s in streams
        ],
    }
    if more and streams:
        answer["NextToken"] = _token(streams[-1].name)
    return answer


async def delete_stream(call: KinesisCall) -> dict[str, Any]:
    enforce = call.boolean("EnforceConsumerDeletion") is True
    stream = await named_stream(call, "DeleteStream")
    await call.kinesis.delete(call.tenant_id, stream.name, enforce_consumers=enforce)
    return {}


async def add_tags_to_stream(call: KinesisCall) -> dict[str, Any]:
    tags = call.tag_map(required=True)
    stream = await named_stream(call, "AddTagsToStream", request_tags(tags))
    await call.kinesis.tag(call.tenant_id, stream.name, tags)
    return {}


async def remove_tags_from_stream(call: KinesisCall) -> dict[str, Any]:
    keys = call.tag_keys()
    stream = await named_stream(call, "RemoveTagsFromStream", {"aws:TagKeys": keys})
    await call.kinesis.untag(call.tenant_id, stream.name, keys)
    return {}


async def list_tags_for_stream(call: KinesisCall) -> dict[str, Any]:
    limit = call.integer("Limit", minimum=1, maximum=50) or 50
    after = call.string("ExclusiveStartTagKey", min_length=1, max_length=128)
    stream = await named_stream(call, "ListTagsForStream")
    pairs = sorted(stream.tags)
    if after is not None:
        pairs = [(k, v) for k, v in pairs if k > after]
    return {
        "Tags": [{"Key": k, "Value": v} for k, v in pairs[:limit]],
        "HasMoreTags": len(pairs) > limit,
    }


def _resource_name(call: KinesisCall) -> str:
    arn = call.required("ResourceARN", max_length=1011)
    if ":stream/" in arn and "/consumer/" in arn:
        raise KinesisWireError("InvalidArgumentException", "Tags on stream consumers are not "
                               "offered by this platform (decision 0228).")  # fmt: skip
    return call.arn_name(arn)


async def tag_resource(call: KinesisCall) -> dict[str, Any]:
    tags = call.tag_map(required=True)
    stream = await named_stream(call, "TagResource", request_tags(tags), _resource_name(call))
    await call.kinesis.tag(call.tenant_id, stream.name, tags)
    return {}


async def untag_resource(call: KinesisCall) -> dict[str, Any]:
    keys = call.tag_keys()
    name = _resource_name(call)
    stream = await named_stream(call, "UntagResource", {"aws:TagKeys": keys}, name)
    await call.kinesis.untag(call.tenant_id, stream.name, keys)
    return {}


async def list_tags_for_resource(call: KinesisCall) -> dict[str, Any]:
    stream = await named_stream(call, "ListTagsForResource", None, _resource_name(call))
    return {"Tags": [{"Key": k, "Value": v} for k, v in sorted(stream.tags)]}


async def _retention(call: KinesisCall, action: str, *, increase: bool) -> dict[str, Any]:
    hours = call.integer("RetentionPeriodHours", minimum=1, maximum=2**31 - 1)
    if hours is None:
        raise invalid("RetentionPeriodHours", "Member must not be null")
    stream = await named_stream(call, action)
    await call.kinesis.set_retention(call.tenant_id, stream.name, hours, increase=increase)
    return {}


async def increase_stream_retention_period(call: KinesisCall) -> dict[str, Any]:
    return await _retention(call, "IncreaseStreamRetentionPeriod", increase=True)


async def decrease_stream_retention_period(call: KinesisCall) -> dict[str, Any]:
    return await _retention(call, "DecreaseStreamRetentionPeriod", increase=False)


async def start_stream_encryption(call: KinesisCall) -> dict[str, Any]:
    kind = call.required("EncryptionType")
    key_id = call.required("KeyId", max_length=2048)
    if kind != "KMS":
        raise KinesisWireError("InvalidArgumentException",
                               f"EncryptionType {kind[:16]} is not valid: KMS only.")  # fmt: skip
    stream = await named_stream(call, "StartStreamEncryption")
    await call.kinesis.set_encryption(call.tenant_id, stream.name, key_id, call.kms_caller)
    return {}


async def stop_stream_encryption(call: KinesisCall) -> dict[str, Any]:
    kind = call.required("EncryptionType")
    call.required("KeyId", max_length=2048)
    if kind != "KMS":
        raise KinesisWireError("InvalidArgumentException",
                               f"EncryptionType {kind[:16]} is not valid: KMS only.")  # fmt: skip
    stream = await named_stream(call, "StopStreamEncryption")
    await call.kinesis.set_encryption(call.tenant_id, stream.name, None)
    return {}


def _mode(call: KinesisCall) -> StreamMode:
    details = call.mapping("StreamModeDetails")
    mode_name = "PROVISIONED" if details is None else details.get("StreamMode", "PROVISIONED")
    if mode_name not in ("PROVISIONED", "ON_DEMAND"):
        raise invalid("StreamModeDetails.streamMode",
                      "Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]")  # fmt: skip
    return StreamMode(mode_name)


async def update_stream_mode(call: KinesisCall) -> dict[str, Any]:
    arn = call.required("StreamARN", max_length=2048)
    if call.mapping("StreamModeDetails") is None:
        raise invalid("StreamModeDetails", "Member must not be null")
    mode = _mode(call)
    if call.params.get("WarmThroughputMiBps") is not None:
        raise KinesisWireError("InvalidArgumentException", "WarmThroughputMiBps is not offered "
                               "by this platform (decision 0228).")  # fmt: skip
    stream = await named_stream(call, "UpdateStreamMode", None, call.arn_name(arn))
    await call.kinesis.set_mode(call.tenant_id, stream.name, mode)
    return {}


async def describe_limits(call: KinesisCall) -> dict[str, Any]:
    await call.authorise("kinesis:DescribeLimits", "*", {})
    usage = await call.kinesis.usage(call.tenant_id)
    limits = call.kinesis.limits
    return {
        "ShardLimit": limits.max_shards,
        "OpenShardCount": usage.open_shards,
        "OnDemandStreamCount": usage.on_demand_streams,
        "OnDemandStreamCountLimit": limits.max_on_demand_streams,
    }


STREAM_ACTIONS: Final[dict[str, Handler]] = {
    "AddTagsToStream": add_tags_to_stream,
    "CreateStream": create_stream,
    "DecreaseStreamRetentionPeriod": decrease_stream_retention_period,
    "DeleteStream": delete_stream,
    "DescribeLimits": describe_limits,
    "DescribeStream": describe_stream,
    "DescribeStreamSummary": describe_stream_summary,
    "IncreaseStreamRetentionPeriod": increase_stream_retention_period,
    "ListStreams": list_streams,
    "ListTagsForResource": list_tags_for_resource,
    "ListTagsForStream": list_tags_for_stream,
    "RemoveTagsFromStream": remove_tags_from_stream,
    "StartStreamEncryption": start_stream_encryption,
    "StopStreamEncryption": stop_stream_encryption,
    "TagResource": tag_resource,
    "UntagResource": untag_resource,
    "UpdateStreamMode": update_stream_mode,
}
