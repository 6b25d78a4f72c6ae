"""A ``KinesisStreamAsSource`` stream's reader (decision 0235): every gateway runs one; each
pass claims the source streams whose reader's lease ran out or is its own (one gateway reads
a stream at a time, and keeps it while it renews the lease), reads each source shard from its
checkpoint in pages of GetRecords' size, hands the records' data to the stream's buffer
(delivered into S3 by the deliverer, as Direct PUT's records are), and moves the shard's
checkpoint past what the buffer took.

**Where reading starts.** AWS reads a new stream's source from its LATEST position at the
delivery start (``DeliveryStartTimestamp``, the creation): a shard without a checkpoint is
read from the first record that arrived since then (``AT_TIMESTAMP``), the others after their
checkpoint (``AFTER_SEQUENCE_NUMBER``).

**Resharding.** Shards are read parents first: a child is read once each of its parents
still listed is finished (a closed shard read to its end), so one partition key's records
stay in order across a split or a merge; a parent the source no longer lists (past its
retention) does not hold its children back. A source stream deleted and made again under its
name is read afresh from the delivery start: each checkpoint is kept under its shard and the
source stream's creation (``SourceShard.key``).

**Back-pressure and memory.** One page (at most GetRecords' 10,000 records / 10 MiB) is in
memory at a time; a stream whose buffer is at ``max_buffered_bytes`` is not read, and what a
page's records did not fit is read again at a later pass. A pass reads at most
``pages_a_pass`` pages a stream, so one busy stream does not starve the others.

**Failures.** A source that cannot be read (the stream deleted, the role no longer trusted or
allowed ``kinesis:GetRecords``…) is :class:`SourceUnavailable`: said at INFO when the reason
changes (DEBUG while it lasts, so a stream refused for days does not flood the log), the
stream and its checkpoints kept, read again at the next pass. Records are delivered at least
once, as AWS's: a gateway that stops between the buffer's write and the checkpoint's leaves
the page to be read again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from andromede.firehose.errors import SourceUnavailable
from andromede.firehose.model import DeliveryStream, SourceRecord, SourceShard, SourceStreams
from andromede.firehose.service import FirehoseService
from andromede.firehose.store import SourceCheckpoint

__all__ = ["KinesisSourceReader", "ReaderPolicy"]

log = logging.getLogger(__name__)

_REMEMBERED_REFUSALS = 10_000


@dataclass(frozen=True, slots=True)
class ReaderPolicy:
    poll_interval: float = 1.0
    lease_ms: int = 60_000
    page_records: int = 10_000  # GetRecords' own ceiling
    pages_a_pass: int = 10
    streams_a_pass: int = 100


def _now() -> int:
    return int(time.time() * 1000)


class KinesisSourceReader:
    def __init__(
        self,
        firehose: FirehoseService,
        source: SourceStreams,
        policy: ReaderPolicy,
        owner: str,
    ) -> None:
        self._firehose = firehose
        self._source = source
        self.policy = policy
        self.owner = owner
        self._refusals: dict[str, str] = {}  # a stream's ARN → why its source was last refused

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_pass()
            except Exception:  # a failed pass must not end the loop; the next one retries
                log.exception("Firehose source reading pass failed")
            await asyncio.sleep(self.policy.poll_interval)

    async def run_pass(self, now: int | None = None) -> int:
        """One pass; how many records it buffered."""
        now = _now() if now is None else now
        claimed = await self._firehose.store.claim_sources(
            self.owner,
            now,
            now + self.policy.lease_ms,
            self.policy.streams_a_pass,
            self._firehose.region,
        )
        taken = 0
        for stream in claimed:
            try:
                taken += await self._read(stream, now)
                self._refusals.pop(stream.arn, None)
            except SourceUnavailable as exc:
                self._refused(stream, str(exc))
            except Exception:  # one stream's fault must not stop the others' reading
                log.exception("Firehose stream %s: reading its source failed", stream.arn)
        return taken

    def _refused(self, stream: DeliveryStream, why: str) -> None:
        level = logging.DEBUG if self._refusals.get(stream.arn) == why else logging.INFO
        log.log(level, "Firehose stream %s: its source cannot be read now: %s", stream.arn, why)
        if len(self._refusals) >= _REMEMBERED_REFUSALS:
            self._refusals.clear()
        self._refusals[stream.arn] = why

    async def _read(self, stream: DeliveryStream, now: int) -> int:
        store = self._firehose.store
        totals = await store.totals(stream.tenant_id, stream.name)
        if totals.bytes >= self._firehose.limits.max_buffered_bytes:
            return 0  # back-pressure: read again once the deliverer made room
        shards = await self._source.shards(stream)
        points = await store.checkpoints(stream.tenant_id, stream.name)
        listed = {s.key() for s in shards}
        budget = [self.policy.pages_a_pass]
        taken = 0
        for shard in shards:
            if points.get(shard.key(), SourceCheckpoint()).finished:
                continue
            if any(
                shard.key(p) in listed and not points.get(shard.key(p), SourceCheckpoint()).finished
                for p in shard.parents
            ):
                continue  # its parents first
            read, go_on = await self._read_shard(stream, shard, points, budget, now)
            taken += read
            if not go_on:
                break
        return taken

    async def _read_shard(
        self,
        stream: DeliveryStream,
        shard: SourceShard,
        points: dict[str, SourceCheckpoint],
        budget: list[int],
        now: int,
    ) -> tuple[int, bool]:
        """The shard's pages while the budget lasts; what was buffered, and whether the pass
        may go on with the stream's other shards (not when the buffer is full, the budget
        spent or the lease lost)."""
        point = points.get(shard.key(), SourceCheckpoint())
        taken = 0
        while budget[0] > 0:
            budget[0] -= 1
            page = await self._source.read(
                stream, shard.shard_id, point.sequence, self.policy.page_records
            )
            records: Sequence[SourceRecord] = page.records
            fitted = (
                await self._firehose.take_from_source(stream, records, shard.shard_id)
                if records
                else 0
            )
            full = fitted < len(records)
            moved = SourceCheckpoint(
                records[fitted - 1].sequence if fitted else point.sequence,
                page.ended and not full,
            )
            if moved != point:
                if not await self._firehose.store.save_checkpoint(
                    stream.tenant_id, stream.name, self.owner, shard.key(), moved, now
                ):
                    return taken, False  # another gateway holds the stream now
                point = points[shard.key()] = moved
            taken += fitted
            if full:
                return taken, False
            if not records or page.ended:
                return taken, True
        return taken, False
