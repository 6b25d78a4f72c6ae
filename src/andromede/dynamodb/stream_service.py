"""DynamoDB Streams' service (decision 0246): a table's stream enabled and disabled, streams
listed and described, shard iterators issued, records read and opened, and the upkeep that
removes what is past the retention.

A stream is split into AWS's shards (decision 0275, :mod:`~andromede.dynamodb.stream_shards`):
partitions of the items' partition keys, rolled into child shards every shard lifetime. An
iterator reads one shard; its position 0 is TRIM_HORIZON's, the shard's oldest record kept.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, Final

from andromede.dynamodb.errors import TableInUse, TableNotFound, TrimmedDataAccess, ValidationError
from andromede.dynamodb.model import StoredItem, Table
from andromede.dynamodb.service import DynamoService
from andromede.dynamodb.stream_iterators import (
    StreamPosition,
    iterator_stream,
    open_iterator,
    seal_iterator,
)
from andromede.dynamodb.stream_shards import Shard, ShardScan, generation_of, listed_shards
from andromede.dynamodb.streams import (
    SEQUENCE_BASE,
    Stream,
    StreamLimits,
    StreamRecord,
    StreamViewType,
    event_id,
    format_sequence,
    parse_stream_arn,
    stream_label,
)
from andromede.dynamodb.values import Item, item_size

__all__ = ["ITERATOR_TYPES", "DynamoStreams", "disable_stream", "enable_stream"]

ITERATOR_TYPES: Final = (
    "TRIM_HORIZON",
    "LATEST",
    "AT_SEQUENCE_NUMBER",
    "AFTER_SEQUENCE_NUMBER",
    "AT_TIMESTAMP",
)
_TRIM_HORIZON: Final = 0


def _now() -> int:
    return int(time.time() * 1000)


def _not_found(what: str) -> TableNotFound:
    return TableNotFound(f"Requested resource not found: {what}")


async def enable_stream(dynamodb: DynamoService, table: Table, view: StreamViewType) -> Table:
    """A new stream of ``table``, enabled, its label its creation time."""
    if table.stream_view is not None:
        raise ValidationError(f"Table already has an enabled stream: TableName: {table.name}")
    now = _now()
    label = stream_label(now)
    while table.stream_label is not None and label <= table.stream_label:
        now += 1  # a new stream's label must differ from the last one's
        label = stream_label(now)
    layout = dynamodb.stream_shards
    stream = Stream(
        tenant_id=table.tenant_id,
        table_name=table.name,
        label=label,
        region=table.region,
        created=now,
        view_type=view,
        hash_key=table.hash_key,
        sort_key=table.sort_key,
        table_created=table.created,
        wrapped_key=table.wrapped_key,
        iterator_key=os.urandom(32),
        next_sequence=now * SEQUENCE_BASE + 1,
        trimmed_to=now * SEQUENCE_BASE + 1,
        partitions=layout.partitions_for(table),
        shard_lifetime_ms=layout.lifetime_ms,
    )
    store = dynamodb.store
    await store.create_stream(stream)
    try:
        return await dynamodb.change_table(table, stream_view=view.value, stream_label=label)
    except TableInUse:
        await store.end_stream(table.tenant_id, table.name, now)
        raise


async def disable_stream(dynamodb: DynamoService, table: Table) -> Table:
    """The table's stream disabled: readable for the retention, its shard closed."""
    if table.stream_view is None:
        raise ValidationError(f"Table has no stream to disable: TableName: {table.name}")
    changed = await dynamodb.change_table(table, stream_view=None)
    await dynamodb.store.end_stream(table.tenant_id, table.name, _now())
    return changed


class DynamoStreams:
    def __init__(
        self,
        dynamodb: DynamoService,
        limits: StreamLimits,
        on_read: Callable[[str], None] | None = None,
    ) -> None:
        self._dynamodb = dynamodb
        self.limits = limits
        # Told of each GetRecords answered, by account: a streams read request unit.
        self._on_read = on_read

    @property
    def region(self) -> str:
        return self._dynamodb.region

    # --- streams ----------------------------------------------------------------------------

    async def stream(self, tenant_id: str, arn: str) -> Stream:
        """The account's stream of that ARN; another account's or Region's is not found."""
        parsed = parse_stream_arn(arn)
        if parsed is None:
            raise ValidationError(f"Invalid StreamArn: {arn[:1024]}")
        region, account, table_name, label = parsed
        found = None
        if account == tenant_id and region == self.region:
            found = await self._dynamodb.store.get_stream(tenant_id, table_name, label)
        if found is None:
            raise _not_found(f"Stream: {arn[:1024]} not found")
        return found

    async def streams(
        self, tenant_id: str, table_name: str | None, after_arn: str | None, limit: int
    ) -> tuple[list[Stream], str | None]:
        after = None
        if after_arn is not None:
            parsed = parse_stream_arn(after_arn)
            if parsed is None:
                raise ValidationError(f"Invalid ExclusiveStartStreamArn: {after_arn[:1024]}")
            after = (parsed[2], parsed[3])
        found = await self._dynamodb.store.list_streams(tenant_id, table_name, after, limit + 1)
        last = found[limit - 1].arn if len(found) > limit else None
        return found[:limit], last

    def shards(self, stream: Stream) -> list[Shard]:
        """The stream's shards a reader sees now, in ``ShardId`` order (decision 0275)."""
        return listed_shards(stream, _now(), self.limits.retention_ms)

    def shard(self, stream: Stream, shard_id: str) -> Shard:
        found = next((s for s in self.shards(stream) if s.shard_id == shard_id), None)
        if found is None:
            raise _not_found(f"Shard: {shard_id[:65]} in Stream: {stream.arn} not found")
        return found

    def describe(
        self, stream: Stream, after_shard: str | None, limit: int, children_of: str | None = None
    ) -> dict[str, Any]:
        """DescribeStream's description: the shards after ``after_shard`` (at most ``limit``,
        ``LastEvaluatedShardId`` when more follow), or the children of ``children_of``."""
        now = _now()
        shards = self.shards(stream)
        if children_of is not None:
            shards = [s for s in shards if s.generation and s.parent_id == children_of]
        if after_shard is not None:
            shards = [s for s in shards if s.shard_id > after_shard]
        description: dict[str, Any] = {
            "StreamArn": stream.arn,
            "StreamLabel": stream.label,
            "StreamStatus": "DISABLED" if stream.disabled else "ENABLED",
            "StreamViewType": stream.view_type.value,
            "CreationRequestDateTime": stream.created / 1000,
            "TableName": stream.table_name,
            "KeySchema": stream.key_schema,
            "Shards": [s.describe(now) for s in shards[:limit]],
        }
        if len(shards) > limit:
            description["LastEvaluatedShardId"] = shards[limit - 1].shard_id
        return description

    # --- iterators and records --------------------------------------------------------------

    async def iterator(
        self,
        stream: Stream,
        shard_id: str,
        kind: str,
        sequence: str | None,
        timestamp: float | None = None,
    ) -> str:
        """An iterator of the shard at the position ``kind`` says; AT_TIMESTAMP's is the
        first record made at ``timestamp`` (s) or later, the shard's tip when none is."""
        shard = self.shard(stream, shard_id)
        tip = min(max(stream.next_sequence, shard.first_sequence), shard.bound)
        if kind == "AT_TIMESTAMP":
            if timestamp is None or sequence is not None:
                raise ValidationError(
                    "A Timestamp, and no SequenceNumber, must be given for iterator type "
                    "AT_TIMESTAMP"
                )
            found = await self._dynamodb.store.first_change_since(
                stream.tenant_id, stream.table_name, stream.label, int(timestamp * 1000)
            )
            position = tip if found is None else min(max(found, shard.first_sequence), tip)
        elif kind in ("TRIM_HORIZON", "LATEST"):
            if timestamp is not None:
                raise ValidationError(f"Timestamp must not be specified for iterator type {kind}")
            if sequence is not None:
                raise ValidationError(
                    f"Sequence number must not be specified for iterator type {kind}"
                )
            position = _TRIM_HORIZON if kind == "TRIM_HORIZON" else tip
        else:
            if sequence is None or not sequence.isdigit() or not 21 <= len(sequence) <= 40:
                raise ValidationError(
                    f"Invalid SequenceNumber for iterator type {kind}: {str(sequence)[:40]}"
                )
            number = int(sequence)
            if not shard.first_sequence <= number < tip:
                raise ValidationError(
                    f"Invalid SequenceNumber {sequence}: not a sequence number of shard "
                    f"{shard.shard_id}"
                )
            if number < stream.trimmed_to:
                raise TrimmedDataAccess(
                    "The operation attempted to read past the oldest stream record in a shard."
                )
            position = number if kind == "AT_SEQUENCE_NUMBER" else number + 1
        where = StreamPosition(
            stream.table_name,
            stream.label,
            position,
            _now(),
            generation=shard.generation,
            partition=shard.partition,
        )
        return seal_iterator(stream.iterator_key, stream.tenant_id, where)

    def iterator_arn(self, tenant_id: str, token: str) -> str:
        """The ARN of the stream an iterator names (unverified: for authorising first)."""
        table_name, label = iterator_stream(token)
        return f"arn:aws:dynamodb:{self.region}:{tenant_id}:table/{table_name}/stream/{label}"

    async def records(
        self, tenant_id: str, token: str, limit: int
    ) -> tuple[Stream, list[dict[str, Any]], str | None]:
        """The records of its shard an iterator reads (at most ``limit``, and one page of
        bytes) and the iterator that goes on (None once a closed shard is read to its end)."""
        table_name, label = iterator_stream(token)
        stream = await self._dynamodb.store.get_stream(tenant_id, table_name, label)
        if stream is None:
            raise _not_found(f"Stream: {table_name}/stream/{label} not found")
        now = _now()
        where = open_iterator(
            stream.iterator_key, tenant_id, token, now, self.limits.iterator_lifetime_ms
        )
        generation = where.generation
        if generation is None:  # formats 1 and 2: the stream's one shard of decision 0246
            generation = (
                0 if where.position == _TRIM_HORIZON else (generation_of(stream, where.position))
            )
        if where.partition >= stream.partitions:
            raise ValidationError("Invalid ShardIterator")
        shard = Shard(stream, generation, where.partition)
        start = max(shard.first_sequence, stream.trimmed_to)
        if where.position != _TRIM_HORIZON:
            if where.position < stream.trimmed_to:
                raise TrimmedDataAccess(
                    "The operation attempted to read past the oldest stream record in a shard."
                )
            start = where.position
        count = min(limit, self.limits.max_records)
        scan = ShardScan(
            partition=shard.partition,
            partitions=stream.partitions,
            end=shard.bound,
            limit=count,
            max_bytes=self.limits.page_bytes,
            # Other partitions' records are passed over: a call examines at most a full page
            # of each partition's, so an empty answer short of the tip stays rare.
            budget=self.limits.max_records * stream.partitions,
            following=start,
        )
        await self._dynamodb.store.read_shard(tenant_id, table_name, label, start, scan)
        # The images open under the table's key as it is now (its KMS key, re-wrapped since:
        # decision 0254); the stream's own copy once the table is deleted.
        live = await self._dynamodb.store.get_table(tenant_id, table_name)
        sealing = (
            live
            if live is not None and live.created == stream.table_created
            else stream.sealing_table()
        )
        answered = [await self._wire(stream, sealing, r) for r in scan.records]
        if self._on_read is not None:
            self._on_read(tenant_id)
        following = scan.following
        if scan.exhausted:  # every number below the counter read then is committed
            following = max(following, min(shard.bound, stream.next_sequence))
        if shard.closed(now) and following >= shard.end:
            return stream, answered, None
        onward = StreamPosition(
            table_name, label, following, now, where.owner, shard.generation, shard.partition
        )
        return stream, answered, seal_iterator(stream.iterator_key, tenant_id, onward)

    async def _open(
        self, sealing: Table, record: StreamRecord, sealed: bytes | None
    ) -> Item | None:
        if sealed is None:
            return None
        change = record.change
        row = StoredItem(change.hash_token, change.sort_token, sealed, change.size)
        return await self._dynamodb.open_item(sealing, row)

    async def _wire(self, stream: Stream, sealing: Table, record: StreamRecord) -> dict[str, Any]:
        """A record as GetRecords answers it, its images as the view type says."""
        change, view = record.change, stream.view_type
        old = await self._open(sealing, record, change.old_sealed)
        new = await self._open(sealing, record, change.new_sealed)
        whole = new if new is not None else old
        assert whole is not None  # noqa: S101 (a change has one image at least)
        keys = {n: whole[n] for n in stream.key_names}
        body: dict[str, Any] = {
            "ApproximateCreationDateTime": change.created // 1000,
            "Keys": keys,
            "SequenceNumber": format_sequence(record.sequence),
            "StreamViewType": view.value,
        }
        size = item_size(keys)
        if view.new and new is not None:
            body["NewImage"] = new
            size += item_size(new)
        if view.old and old is not None:
            body["OldImage"] = old
            size += item_size(old)
        body["SizeBytes"] = size
        wire: dict[str, Any] = {
            "eventID": event_id(stream, record.sequence),
            "eventName": change.event,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": stream.region,
            "dynamodb": body,
        }
        if change.by_service:
            wire["userIdentity"] = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
        return wire

    async def prune(self) -> int:
        """Records past the retention, and streams disabled longer ago, removed."""
        return await self._dynamodb.store.prune_streams(_now() - self.limits.retention_ms)
