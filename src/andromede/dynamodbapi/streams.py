"""DynamoDB Streams on DynamoDB's endpoint (decision 0246): the ``DynamoDBStreams_20120810``
API (ListStreams, DescribeStream — shards paged, or a shard's children, decision 0275 —,
GetShardIterator, GetRecords), which botocore signs for
service ``dynamodb`` so that it reaches DynamoDB's app, told apart by its ``X-Amz-Target``
prefix; and CreateTable's and UpdateTable's ``StreamSpecification``.

Each call authorises ``dynamodb:<Action>`` on the stream's ARN
(``arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>``; ListStreams on
``*``) by the caller's identity policies and the stream's resource policy; another
account's stream is reached through its policy only (decision 0266), else not found.
ListStreams and DescribeStream are audited as the table calls are; GetShardIterator and
GetRecords, like the item calls, only when refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from andromede.dynamodb.errors import ValidationError
from andromede.dynamodb.model import Table
from andromede.dynamodb.stream_iterators import iterator_owner
from andromede.dynamodb.stream_service import (
    ITERATOR_TYPES,
    DynamoStreams,
    disable_stream,
    enable_stream,
)
from andromede.dynamodb.streams import ShardLayout, StreamLimits, StreamViewType
from andromede.dynamodbapi.errors import DynamoWireError
from andromede.dynamodbapi.params import DynamoCall, invalid
from andromede.dynamodbapi.resource_policies import authorise_stream
from andromede.settings import Settings

__all__ = [
    "STREAMS_PREFIX",
    "STREAM_ACTIONS",
    "STREAM_DATA_ACTIONS",
    "StreamChange",
    "apply_stream_change",
    "serve_stream_call",
    "shard_layout",
    "stream_change",
    "stream_limits",
]

STREAMS_PREFIX: Final = "DynamoDBStreams_20120810."
_VIEWS: Final = tuple(v.value for v in StreamViewType)
StreamHandler = Callable[[DynamoCall, DynamoStreams], Awaitable[dict[str, Any]]]


def shard_layout(settings: Settings) -> ShardLayout:
    """How the new streams are split into shards (decision 0275)."""
    return ShardLayout(
        partitions=settings.dynamodb_stream_shards,
        lifetime_ms=int(settings.dynamodb_stream_shard_lifetime * 1000),
    )


def stream_limits(settings: Settings) -> StreamLimits:
    return StreamLimits(
        retention_ms=int(settings.dynamodb_stream_retention * 1000),
        iterator_lifetime_ms=int(settings.dynamodb_stream_iterator_lifetime * 1000),
        page_bytes=settings.dynamodb_stream_page_bytes,
    )


@dataclass(frozen=True, slots=True)
class StreamChange:
    """What ``StreamSpecification`` asks: a stream enabled with ``view``, or disabled."""

    enabled: bool
    view: StreamViewType | None


def stream_change(call: DynamoCall, table: Table | None = None) -> StreamChange | None:
    """CreateTable's or UpdateTable's ``StreamSpecification`` read and checked against
    ``table``'s stream (None: a table being made), in AWS's words, before anything changes."""
    spec = call.mapping("StreamSpecification")
    if spec is None:
        return None
    enabled = call.boolean("StreamEnabled", source=spec)
    if enabled is None:
        raise invalid("StreamSpecification.streamEnabled", "Member must not be null")
    view = call.string("StreamViewType", source=spec)
    if view is not None and view not in _VIEWS:
        raise invalid(
            "StreamSpecification.streamViewType",
            f"Member must satisfy enum value set: [{', '.join(_VIEWS)}]",
            view,
        )
    if not enabled:
        if view is not None:
            raise ValidationError(
                "One or more parameter values were invalid: If stream is being disabled, "
                "then UpdateViewType must not be specified"
            )
        if table is not None and table.stream_view is None:
            raise ValidationError(f"Table has no stream to disable: TableName: {table.name}")
        return StreamChange(False, None)
    if view is None:
        raise ValidationError(
            "One or more parameter values were invalid: StreamViewType must be specified "
            "when StreamEnabled is true"
        )
    if table is not None and table.stream_view is not None:
        raise ValidationError(f"Table already has an enabled stream: TableName: {table.name}")
    return StreamChange(True, StreamViewType(view))


async def apply_stream_change(call: DynamoCall, table: Table, change: StreamChange | None) -> Table:
    """``change`` applied to ``table``: a new stream enabled (its label its creation time), or
    the enabled one disabled (readable for the retention)."""
    if change is None or (not change.enabled and table.stream_view is None):
        return table
    if change.view is None:
        return await disable_stream(call.dynamodb, table)
    return await enable_stream(call.dynamodb, table, change.view)


def _stream_arn(call: DynamoCall, name: str = "StreamArn") -> str:
    arn = call.string(name, required=True, min_length=37, max_length=1024)
    assert arn is not None  # noqa: S101 (required)
    return arn


async def list_streams(call: DynamoCall, streams: DynamoStreams) -> dict[str, Any]:
    await call.authorise("dynamodb:ListStreams", "*")
    table_name = None
    if call.params.get("TableName") is not None:
        table_name, _ = call.table_name()
    limit = call.integer("Limit", minimum=1, maximum=100) or 100
    after = call.string("ExclusiveStartStreamArn", min_length=37, max_length=1024)
    found, last = await streams.streams(call.tenant_id, table_name, after, limit)
    answer: dict[str, Any] = {"Streams": [s.describe_listed() for s in found]}
    if last is not None:
        answer["LastEvaluatedStreamArn"] = last
    return answer


async def describe_stream(call: DynamoCall, streams: DynamoStreams) -> dict[str, Any]:
    arn = _stream_arn(call)
    call.resources.append(arn)
    owner = await authorise_stream(call, "DescribeStream", arn)  # decision 0266
    limit = call.integer("Limit", minimum=1, maximum=100) or 100
    after = call.string("ExclusiveStartShardId", min_length=28, max_length=65)
    parent = None
    shard_filter = call.mapping("ShardFilter")
    if shard_filter is not None:
        kind = call.string("Type", required=True, source=shard_filter)
        if kind != "CHILD_SHARDS":
            raise invalid(
                "ShardFilter.type", "Member must satisfy enum value set: [CHILD_SHARDS]", kind
            )
        parent = call.string("ShardId", min_length=28, max_length=65, source=shard_filter)
        if parent is None:
            raise ValidationError("ShardFilter.ShardId must be specified for CHILD_SHARDS")
    stream = await streams.stream(owner, arn)
    return {"StreamDescription": streams.describe(stream, after, limit, parent)}


async def get_shard_iterator(call: DynamoCall, streams: DynamoStreams) -> dict[str, Any]:
    arn = _stream_arn(call)
    call.resources.append(arn)
    owner = await authorise_stream(call, "GetShardIterator", arn)
    shard = call.string("ShardId", required=True, min_length=28, max_length=65)
    kind = call.choice("ShardIteratorType", ITERATOR_TYPES)
    if kind is None:
        raise invalid("ShardIteratorType", "Member must not be null")
    sequence = call.string("SequenceNumber", min_length=21, max_length=40)
    timestamp = call.params.get("Timestamp")
    if timestamp is not None and (
        isinstance(timestamp, bool) or not isinstance(timestamp, int | float)
    ):
        raise DynamoWireError("SerializationException", "Timestamp must be a number")
    stream = await streams.stream(owner, arn)
    assert shard is not None  # noqa: S101 (required)
    at = None if timestamp is None else float(timestamp)
    return {"ShardIterator": await streams.iterator(stream, shard, kind, sequence, at)}


async def get_records(call: DynamoCall, streams: DynamoStreams) -> dict[str, Any]:
    token = call.string("ShardIterator", required=True, min_length=1, max_length=2048)
    assert token is not None  # noqa: S101 (required)
    limit = call.integer("Limit", minimum=1, maximum=streams.limits.max_records)
    arn = streams.iterator_arn(iterator_owner(token) or call.tenant_id, token)
    call.resources.append(arn)
    owner = await authorise_stream(call, "GetRecords", arn)
    _, records, onward = await streams.records(owner, token, limit or streams.limits.max_records)
    answer: dict[str, Any] = {"Records": records}
    if onward is not None:
        answer["NextShardIterator"] = onward
    return answer


STREAM_ACTIONS: Final[dict[str, StreamHandler]] = {
    "DescribeStream": describe_stream,
    "GetRecords": get_records,
    "GetShardIterator": get_shard_iterator,
    "ListStreams": list_streams,
}
STREAM_DATA_ACTIONS: Final = frozenset({"GetRecords", "GetShardIterator"})


async def serve_stream_call(
    action: str, call: DynamoCall, streams: DynamoStreams
) -> dict[str, Any]:
    handler = STREAM_ACTIONS.get(action)
    if handler is None:
        raise DynamoWireError(
            "UnknownOperationException", f"{action[:128]} is not an operation of DynamoDB Streams"
        )
    return await handler(call, streams)
