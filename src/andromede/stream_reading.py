"""Reading the platform's Kinesis data streams and DynamoDB streams the way AWS's stream
pollers do, shared by EventBridge Pipes (decision 0258) and Lambda's event source mappings
(decision 0301): a batch of each shard from its checkpoint, each record in the shape both
give it, and the batch information AWS's failure records carry.

- **Kinesis.** Each shard is read from its checkpoint (after the last sequence number done
  with), else from the reader's ``StartingPosition``: TRIM_HORIZON, AT_TIMESTAMP, or LATEST —
  the records that arrived since the reader was made (a pass must not skip what arrived
  between two reads of a shard not read yet); parents first across a reshard (a child waits
  while a parent still listed has records left), so one partition key's records stay in
  order.
- **DynamoDB.** Shards parents first (decision 0275), each from its checkpoint, else
  TRIM_HORIZON or LATEST (the changes since the reader was made); a checkpoint past the
  retention reads from the oldest record kept.

Who may read is the caller's business (each judges its own role); a stream gone or not
served is ``EndpointRefused`` ``NO_RESOURCE``.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from andromede.dynamodb.errors import DynamoError, TrimmedDataAccess
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodb.streams import Stream
from andromede.kinesis.errors import KinesisError
from andromede.kinesis.model import sequence_text
from andromede.kinesis.service import KinesisService
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.runner import SourceBatch, SourceEvent

__all__ = ["StreamCursor", "StreamReader", "batch_info", "stream_kind"]


@dataclass(frozen=True, slots=True)
class StreamCursor:
    """What a reader reads: the account's stream ``arn`` (``kind`` "kinesis" or "dynamodb")
    from ``starting_position`` (``timestamp`` in seconds for AT_TIMESTAMP; LATEST: since
    ``since``, ms), its Kinesis records naming ``identity_arn`` as ``invokeIdentityArn``."""

    tenant_id: str
    arn: str
    kind: str
    starting_position: str
    since: int
    identity_arn: str
    timestamp: float | None = None


def stream_kind(arn: str) -> str | None:
    """ "kinesis" or "dynamodb" for a stream ARN of those services, else None."""
    if arn.startswith("arn:aws:kinesis:") and ":stream/" in arn:
        return "kinesis"
    if arn.startswith("arn:aws:dynamodb:") and "/stream/" in arn:
        return "dynamodb"
    return None


def batch_info(kind: str, batch: SourceBatch, stream_arn: str) -> dict[str, Any]:
    """AWS's description of a stream batch given up (no data): ``KinesisBatchInfo`` or a
    DynamoDB stream's ``DDBStreamBatchInfo``, keyed by its member name."""
    first, last = batch.events[0], batch.events[-1]
    info = "DDBStreamBatchInfo" if kind == "dynamodb" else "KinesisBatchInfo"
    return {
        info: {
            "shardId": batch.shard,
            "startSequenceNumber": first.sequence,
            "endSequenceNumber": last.sequence,
            "approximateArrivalOfFirstRecord": first.arrived / 1000,
            "approximateArrivalOfLastRecord": last.arrived / 1000,
            "batchSize": len(batch.events),
            "streamArn": stream_arn,
        }
    }


class StreamReader:
    """Batches of the streams ``kinesis()`` and ``dynamodb()`` serve (None: not served, or
    not yet made by ``serve``)."""

    def __init__(
        self,
        kinesis: Callable[[], KinesisService | None],
        dynamodb: Callable[[], DynamoStreams | None],
        region: str,
    ) -> None:
        self._kinesis = kinesis
        self._dynamodb = dynamodb
        self._region = region

    async def read(
        self, cursor: StreamCursor, checkpoints: dict[str, str], limit: int
    ) -> list[SourceBatch]:
        """Up to ``limit`` records of each shard ready to be read, one batch a shard."""
        if cursor.kind == "kinesis":
            return await self._read_kinesis(cursor, checkpoints, limit)
        if cursor.kind == "dynamodb":
            return await self._read_dynamodb(cursor, checkpoints, limit)
        raise EndpointRefused("NO_RESOURCE", f"the source {cursor.arn[:512]} cannot be read")

    def _kinesis_service(self) -> KinesisService:
        kinesis = self._kinesis()
        if kinesis is None:
            raise EndpointRefused("NO_RESOURCE", "Kinesis is not served by this deployment")
        return kinesis

    async def _read_kinesis(
        self, cursor: StreamCursor, checkpoints: dict[str, str], limit: int
    ) -> list[SourceBatch]:
        kinesis = self._kinesis_service()
        name = cursor.arn.split(":", 5)[5].removeprefix("stream/")
        try:
            stream = await kinesis.get(cursor.tenant_id, name)
            batches = []
            unfinished: set[int] = set()
            for shard in sorted(stream.shards, key=lambda s: s.index):
                parents = {p for p in (shard.parent, shard.adjacent_parent) if p is not None}
                if parents & unfinished:
                    unfinished.add(shard.index)
                    continue
                token = await self._iterator(
                    kinesis, cursor, name, shard.id, checkpoints.get(shard.id)
                )
                read = await kinesis.records(cursor.tenant_id, token, limit)
                if read.records or read.next_iterator is not None:
                    unfinished.add(shard.index)
                if read.records:
                    batches.append(
                        SourceBatch(
                            [self._kinesis_event(cursor, shard.id, r) for r in read.records],
                            shard=shard.id,
                        )
                    )
        except KinesisError as exc:
            raise EndpointRefused(
                "NO_RESOURCE", f"{type(exc).__name__}: {str(exc)[:256]}"
            ) from None
        return batches

    async def _iterator(
        self,
        kinesis: KinesisService,
        cursor: StreamCursor,
        name: str,
        shard: str,
        after: str | None,
    ) -> str:
        tenant = cursor.tenant_id
        if after is not None:
            return await kinesis.iterator(
                tenant, name, shard, "AFTER_SEQUENCE_NUMBER", sequence=after
            )
        if cursor.starting_position == "TRIM_HORIZON":
            return await kinesis.iterator(tenant, name, shard, "TRIM_HORIZON")
        stamp = (
            int(float(cursor.timestamp) * 1000)
            if cursor.starting_position == "AT_TIMESTAMP" and cursor.timestamp is not None
            else cursor.since
        )
        return await kinesis.iterator(tenant, name, shard, "AT_TIMESTAMP", timestamp=stamp)

    async def _read_dynamodb(
        self, cursor: StreamCursor, checkpoints: dict[str, str], limit: int
    ) -> list[SourceBatch]:
        streams = self._dynamodb()
        if streams is None:
            raise EndpointRefused("NO_RESOURCE", "DynamoDB is not served by this deployment")
        try:
            stream = await streams.stream(cursor.tenant_id, cursor.arn)
            batches = []
            unfinished: set[str] = set()
            for shard in streams.shards(stream):
                parent = shard.parent
                if parent is not None and parent.shard_id in unfinished:
                    unfinished.add(shard.shard_id)
                    continue
                token = await self._dynamodb_iterator(
                    streams, stream, shard.shard_id, cursor, checkpoints.get(shard.shard_id)
                )
                _, records, onward = await streams.records(cursor.tenant_id, token, limit)
                if records or onward is not None:
                    unfinished.add(shard.shard_id)
                events = [
                    SourceEvent(
                        record | {"eventSourceARN": cursor.arn},
                        sequence=str(record["dynamodb"]["SequenceNumber"]),
                        arrived=int(record["dynamodb"]["ApproximateCreationDateTime"]) * 1000,
                    )
                    for record in records
                ]
                if events:
                    batches.append(SourceBatch(events, shard=shard.shard_id))
        except DynamoError as exc:
            raise EndpointRefused(
                "NO_RESOURCE", f"{type(exc).__name__}: {str(exc)[:256]}"
            ) from None
        return batches

    async def _dynamodb_iterator(
        self,
        streams: DynamoStreams,
        stream: Stream,
        shard: str,
        cursor: StreamCursor,
        after: str | None,
    ) -> str:
        try:
            if after is not None:
                return await streams.iterator(stream, shard, "AFTER_SEQUENCE_NUMBER", after)
            if cursor.starting_position == "TRIM_HORIZON":
                return await streams.iterator(stream, shard, "TRIM_HORIZON", None)
            return await streams.iterator(stream, shard, "AT_TIMESTAMP", None, cursor.since / 1000)
        except TrimmedDataAccess:  # past the retention: from the oldest record kept
            return await streams.iterator(stream, shard, "TRIM_HORIZON", None)

    def _kinesis_event(self, cursor: StreamCursor, shard: str, record: Any) -> SourceEvent:
        """A Kinesis record as a pipe sees it (Lambda nests its first five members under
        ``kinesis``)."""
        sequence = sequence_text(record.sequence)
        event = {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record.partition_key,
            "sequenceNumber": sequence,
            "data": base64.b64encode(record.data).decode(),
            "approximateArrivalTimestamp": record.arrived / 1000,
            "eventSource": "aws:kinesis",
            "eventVersion": "1.0",
            "eventID": f"{shard}:{sequence}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": cursor.identity_arn,
            "awsRegion": self._region,
            "eventSourceARN": cursor.arn,
        }
        return SourceEvent(event, sequence=sequence, arrived=record.arrived)
