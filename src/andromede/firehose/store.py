"""Where delivery streams and the records they buffer are kept (decision 0223): the
:class:`FirehoseStore` interface, implemented in memory (``firehose.memory``) and over the
metadata database (``firehose.store_sql``), one contract suite for both.

A stream's row carries its buffer's totals (records, bytes, oldest arrival) and the lease of
the gateway delivering it, so that one gateway at a time writes a stream's objects, and a
stream whose gateway stopped is taken over once its lease ran out. A stream's buffered bytes
are bounded (``append``'s ``max_bytes``): what does not fit is refused, never dropped.

A ``KinesisStreamAsSource`` stream (decision 0235) also carries the lease of the gateway
reading its source, apart from the delivery's (one gateway reads a stream at a time, and
keeps it while it renews the lease), and where the reading of each source shard stands, which
goes with the stream.

A stream with a Lambda processor buffers in two stages (decision 0344,
``firehose.staging``): the records put wait for the processor's hints (the intake), the
function's ``Ok`` records for the destination's (staged, their ids behind ``STAGED``). The
row's totals are the intake's, its hints the processor's, its oldest arrival the earlier of
the intake's and the staged records' shifted by the two intervals' difference; ``batch``
reads one stage, ``delivered`` removes records of the stage its ``upto`` record is of.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.firehose.model import BufferedRecord, DeliveryStream

__all__ = ["BufferTotals", "FirehoseStore", "SealedRecord", "SourceCheckpoint", "Waiting"]


@dataclass(frozen=True, slots=True)
class SealedRecord:
    record_id: str
    size: int
    sealed: bytes
    arrived: int | None = None  # ms; None: when buffered (a staged record keeps its own)


@dataclass(frozen=True, slots=True)
class BufferTotals:
    records: int = 0
    bytes: int = 0
    oldest: int | None = None  # ms


@dataclass(frozen=True, slots=True)
class Waiting:
    """A stream with data not yet delivered (decision 0388): the oldest arrival among the
    records its destination has not taken (intake and staged), and among its backup's
    copies (ms; None: none waits)."""

    stream: DeliveryStream
    oldest: int | None
    oldest_copy: int | None


@dataclass(frozen=True, slots=True)
class SourceCheckpoint:
    """Where a source shard's reading stands: the last record buffered (its sequence number;
    None: none yet), and whether the shard, closed, was read to its end."""

    sequence: str | None = None
    finished: bool = False


class FirehoseStore(Protocol):
    async def create(self, stream: DeliveryStream, max_streams: int) -> None:
        """StreamInUse when the name is the account's already; LimitExceeded at
        ``max_streams`` streams."""
        ...

    async def get(self, tenant_id: str, name: str) -> DeliveryStream | None: ...

    async def names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        """The account's stream names in order, after ``after``, at most ``limit``."""
        ...

    async def replace(self, stream: DeliveryStream) -> bool:
        """Write ``stream`` over its row if the row's revision is ``stream.revision - 1``;
        False when another write came first (or the stream is gone)."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool:
        """The stream, its buffered records and its source's checkpoints removed; False when
        there was none."""
        ...

    async def append(
        self, tenant_id: str, name: str, records: Sequence[SealedRecord], now: int, max_bytes: int
    ) -> int:
        """Buffer the first records of ``records`` that fit within ``max_bytes`` buffered;
        how many were taken (0 for a stream gone). A backup's copy (decision 0376) follows
        its record and is taken with it or not at all; the copies' bytes count in
        ``max_bytes`` (decision 0379), a copy not in the number taken."""
        ...

    async def totals(self, tenant_id: str, name: str) -> BufferTotals:
        """The buffer's totals: its intake's records and bytes (a stream with a Lambda
        processor's staged records are not counted), the oldest arrival as the claim reads
        it (decision 0344)."""
        ...

    async def staged(self, tenant_id: str, name: str) -> BufferTotals:
        """The staged records' totals (decision 0344): how many, their bytes, the oldest
        arrival among them."""
        ...

    async def copies(self, tenant_id: str, name: str) -> BufferTotals:
        """The source record backup's copies' totals (decision 0376)."""
        ...

    async def copied(self, tenant_id: str, name: str, owner: str, upto: int) -> bool:
        """The backup's copies up to seq ``upto`` removed, the lease kept, if ``owner``
        holds it (False otherwise: nothing changed)."""
        ...

    async def stage(
        self, tenant_id: str, name: str, owner: str, upto: int, records: Sequence[SealedRecord]
    ) -> bool:
        """The intake's records up to seq ``upto`` replaced by ``records`` (their ids behind
        ``STAGED``, their ``arrived`` given), in one transaction, if ``owner`` still holds
        the lease (kept: the pass goes on to the staged records); False otherwise."""
        ...

    async def activate(self) -> int:
        """Every CREATING stream made ACTIVE; how many."""
        ...

    async def settling(self, region: str, limit: int) -> list[DeliveryStream]:
        """Up to ``limit`` streams of ``region`` whose encryption is changing (``sse_status``
        ENABLING or DISABLING), for the deliverer to settle."""
        ...

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        """Up to ``limit`` ACTIVE streams due for a delivery — buffered records reaching the
        size hint or older than the interval hint, no failed attempt waiting, and no lease of
        another gateway running — of ``region`` (the gateway's: its buckets are there), leased
        to ``owner`` until ``lease_until``."""
        ...

    async def batch(
        self, tenant_id: str, name: str, max_bytes: int, staged: bool = False, backup: bool = False
    ) -> list[BufferedRecord]:
        """The oldest buffered records up to ``max_bytes`` (one at least): the intake's, the
        staged ones (decision 0344), or the backup's copies (decision 0376)."""
        ...

    async def waiting(
        self, region: str, after: tuple[str, str] | None, limit: int
    ) -> list[Waiting]:
        """Up to ``limit`` ACTIVE streams of ``region`` holding records, in (account, name)
        order after ``after``, with their oldest arrivals (decision 0388: the freshness
        gauges, a bounded page a tick)."""
        ...

    async def delivered(
        self, tenant_id: str, name: str, owner: str, upto: int,
        copies: Sequence[SealedRecord] = (),
    ) -> bool:  # fmt: skip
        """Records up to seq ``upto`` removed — staged ones if the record ``upto`` is staged,
        else the intake's —, ``copies`` (a backup's, each with its arrival: decision 0388)
        buffered in their place in the same transaction, the failing streak ended and the
        lease let go, if ``owner`` still holds it (False otherwise: nothing changed)."""
        ...

    async def delivered_copies(
        self, tenant_id: str, name: str, owner: str, upto: int,
        copies: Sequence[SealedRecord], max_bytes: int, whole: bool = False,
    ) -> int | None:  # fmt: skip
        """:meth:`delivered` with the copies bounded (decision 0398): those that fit within
        ``max_bytes`` once the batch is gone — the intake's bytes and the copies held
        counted, as ``append`` counts them —, in order, take its place; how many did.
        ``whole``: all or none — when they do not all fit, nothing changes (the lease kept)
        and 0 is returned. None when ``owner`` no longer holds the lease."""
        ...

    async def failed(
        self, tenant_id: str, name: str, owner: str, since: int, next_attempt: int
    ) -> bool:
        """A failed attempt: the streak's start and the next attempt kept, the lease let go."""
        ...

    async def claim_sources(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        """Up to ``limit`` ACTIVE streams of ``region`` with a Kinesis source whose reader's
        lease ran out or is ``owner``'s, leased (again) to ``owner`` until ``lease_until``; the
        least recently leased first, so that past ``limit`` streams every one is read in turn."""
        ...

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, SourceCheckpoint]:
        """The stream's source shards' checkpoints, by shard id."""
        ...

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard_id: str, point: SourceCheckpoint,
        now: int,
    ) -> bool:  # fmt: skip
        """A shard's checkpoint written if ``owner`` still holds the reader's lease (False
        otherwise, or for a stream gone: nothing changed)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's streams, their buffered records and their checkpoints deleted."""
        ...
