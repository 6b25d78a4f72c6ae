"""The delivery of a dynamically partitioned stream's batch (decision 0270), for the deliverer
(``firehose.delivery``) once it has opened the batch's records; also of a stream whose
records are only processed (``RecordDeAggregation``, ``AppendDelimiterToRecord`` without
dynamic partitioning): its batch is then one partition, one object under the prefix.

The batch is processed and grouped by ``firehose.partitioning``; each partition is written as
one object under the prefix evaluated with its keys (``!{partitionKeyFromQuery:k}``), and the
records that could not be partitioned (not JSON, a key missing, past the active partitions
limit) are written under the error output prefix, one JSON line each with AWS's fields
(``processing-failed``; ``activePartitionExceeded`` for the limit, AWS's folder for it). A
refused write is retried for the stream's ``DynamicPartitioningConfiguration.RetryOptions``
window (default 300 s), then the batch goes to the error output as an S3 destination's does.
The whole batch is retried: partitions already written are written again (as AWS, delivered
at least once).
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from andromede.firehose.model import (
    BufferedRecord,
    DeliveryFailed,
    DeliveryStream,
    error_object_key,
    failure_lines,
    object_key,
)
from andromede.firehose.partitioning import LIMIT_EXCEEDED, Piece, QueryRunner, partition_batch
from andromede.firehose.service import FirehoseService

__all__ = ["LIMIT_FOLDER", "PartitionedDeliverer"]

log = logging.getLogger(__name__)

LIMIT_FOLDER: Final = "activePartitionExceeded"
_PROCESSING_FAILED: Final = "processing-failed"
# (stream, records, bytes, ok, destination, freshness ms or None)
Observe = Callable[[DeliveryStream, int, int, bool, str, "int | None"], None]
# (stream, error code, message): a failed write said in the destination's log group
LogError = Callable[[DeliveryStream, str, str], None]
# (stream, records, why)
Dropped = Callable[[DeliveryStream, int, str], None]


class PartitionedDeliverer:
    def __init__(
        self,
        firehose: FirehoseService,
        owner: str,
        *,
        retry_interval_ms: int,
        retry_duration_ms: int,
        max_partitions: int,
        queries: QueryRunner,
        observe: Observe,
        log_error: LogError,
        dropped: Dropped,
        partitioned: Callable[[DeliveryStream, int, bool, int], None] | None = None,
    ) -> None:
        """``partitioned``: told of each batch written (its partitions, whether the limit
        was passed, the objects written), for the stream's metrics."""
        self._partitioned = partitioned
        self._firehose = firehose
        self._owner = owner
        self._interval = max(retry_interval_ms, 1)
        self._s3_retry = retry_duration_ms
        self._max_partitions = max_partitions
        self._queries = queries
        self._observe = observe
        self._log_error = log_error
        self._dropped = dropped

    async def deliver(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        now: int,
        lambda_keys: Sequence[Mapping[str, str]] | None = None,
    ) -> int:
        """One attempt at the batch; how many objects it wrote. ``lambda_keys``: each
        record's partition keys from its Lambda processor (decision 0315)."""
        partitioning = stream.destination.partitioning
        assert partitioning is not None  # noqa: S101 (the deliverer's dispatch)
        batch = await partition_batch(
            [r.arrived for r in records], opened, partitioning, self._max_partitions,
            self._queries, lambda_keys, stream.destination.prefix,
        )  # fmt: skip
        size = sum(r.size for r in records)
        written = 0
        try:
            for keys, pieces in batch.partitions.items():
                body = b"".join(p.data for p in pieces)
                if stream.destination.compression == "GZIP":
                    body = gzip.compress(body)
                key = object_key(stream, pieces[0].arrived, dict(keys))
                await self._firehose.writer.write(stream, key, body, "application/octet-stream")
                written += 1
            written += await self._write_failed(stream, batch.failed, now)
        except DeliveryFailed as exc:
            self._observe(stream, len(records), size, False, "S3", None)
            self._log_error(stream, exc.code, exc.message)
            return written + await self._retry(stream, records, opened, exc, now)
        self._observe(stream, len(records), size, True, "S3", None)
        if self._partitioned is not None and partitioning.enabled:
            exceeded = any(code == LIMIT_EXCEEDED for _, code, _ in batch.failed)
            self._partitioned(stream, len(batch.partitions), exceeded, written)
        await self._firehose.store.delivered(
            stream.tenant_id, stream.name, self._owner, records[-1].seq
        )
        return written

    async def _write_failed(
        self, stream: DeliveryStream, failed: Sequence[tuple[Piece, str, str]], now: int
    ) -> int:
        """The pieces that could not be partitioned, by error, under the error prefix."""
        written = 0
        for code in sorted({code for _, code, _ in failed}):
            pieces = [(p, message) for p, c, message in failed if c == code]
            first = pieces[0][0]
            lines = b"".join(
                failure_lines(
                    stream,
                    [BufferedRecord(0, "", piece.arrived, len(piece.data), b"")],
                    [piece.data],
                    DeliveryFailed(code, message),
                    1,
                    now,
                )
                for piece, message in pieces
            )
            folder = LIMIT_FOLDER if code == LIMIT_EXCEEDED else _PROCESSING_FAILED
            await self._firehose.writer.write(
                stream, error_object_key(stream, first.arrived, folder), lines,
                "application/json",
            )  # fmt: skip
            self._log_error(stream, code, pieces[0][1])
            written += 1
        return written

    async def _retry(
        self,
        stream: DeliveryStream,
        records: Sequence[BufferedRecord],
        opened: Sequence[bytes],
        exc: DeliveryFailed,
        now: int,
    ) -> int:
        store = self._firehose.store
        partitioning = stream.destination.partitioning
        window = self._s3_retry  # a stream processed without partitioning: an S3 delivery's
        if partitioning is not None and partitioning.enabled:
            window = partitioning.retry_seconds * 1000
        since = stream.failing_since or now
        if now - since < window:
            log.info("Firehose stream %s: %s, retried", stream.arn, exc.code)
            await store.failed(
                stream.tenant_id, stream.name, self._owner, since, now + self._interval
            )
            return 0
        attempts = 1 + (now - since) // self._interval
        lines = failure_lines(stream, records, opened, exc, attempts, now)
        written = 0
        try:
            await self._firehose.writer.write(
                stream, error_object_key(stream, records[0].arrived), lines, "application/json"
            )
            written = 1
        except DeliveryFailed as error_exc:
            self._dropped(stream, len(records), f"{exc.code}; error output: {error_exc.code}")
        await store.delivered(stream.tenant_id, stream.name, self._owner, records[-1].seq)
        return written
