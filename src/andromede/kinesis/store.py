"""Where streams and their records are kept (decision 0228): the :class:`KinesisStore`
interface, implemented in memory (``kinesis.memory``) and over the metadata database
(``kinesis.store_sql``), one contract suite for both.

A stream's row carries its shards (their ranges and sequence numbers), the counter its next
record takes and its layout number; records are rows of their own, keyed by (account,
stream, shard, sequence number). A put takes its numbers and a reshard closes its shards in
one transaction each, both guarded by the layout, so no record is numbered into a shard
after its ``EndingSequenceNumber``. Reads are bounded by count and bytes: a shard is never
read whole. An account's own settings (its billing commitment, decision 0260) are a row of
their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.kinesis.accounts import BillingCommitment
from andromede.kinesis.model import ShardChange, StoredRecord, Stream

__all__ = ["AccountUsage", "KinesisStore", "SealedRecord"]


@dataclass(frozen=True, slots=True)
class SealedRecord:
    shard: int
    partition_key: str
    size: int
    sealed: bytes


@dataclass(frozen=True, slots=True)
class AccountUsage:
    open_shards: int = 0
    on_demand_streams: int = 0


class KinesisStore(Protocol):
    async def create(self, stream: Stream, max_shards: int, max_on_demand: int) -> None:
        """StreamInUse when the name is the account's already; LimitExceeded past the
        account's open shards or on-demand streams."""
        ...

    async def get(self, tenant_id: str, name: str) -> Stream | None: ...

    async def streams(self, tenant_id: str, after: str | None, limit: int) -> list[Stream]:
        """The account's streams by name, after ``after``, at most ``limit``."""
        ...

    async def usage(self, tenant_id: str) -> AccountUsage: ...

    async def every_stream(self, after: tuple[str, str] | None, limit: int) -> list[Stream]:
        """Every account's streams by (account, name), after ``after``, at most ``limit``
        (billing's sampler and the on-demand scaler read them a page at a time)."""
        ...

    async def stored_bytes(self, before: int) -> dict[tuple[str, str], int]:
        """The bytes of each (account, stream)'s records that arrived before ``before`` (ms);
        streams holding none are left out (retention billed by age, decision 0255)."""
        ...

    async def replace(self, stream: Stream) -> bool:
        """Write ``stream``'s status, mode, tags, retention, encryption, consumers (their
        policies with them), shard-level metrics and resource policy over its row if the row's
        revision is ``stream.revision - 1`` (never its shards, layout or counter); False when
        another write came first (or the stream is gone)."""
        ...

    async def reshard(
        self, tenant_id: str, name: str, layout: int, change: ShardChange, now: int,
        max_shards: int,
    ) -> Stream | None:  # fmt: skip
        """``change`` applied if the stream's layout is still ``layout``: the closing shards'
        ending number the last one given, the opening shards' starting number the next one;
        None when another reshard came first (or the stream is gone); LimitExceeded when the
        account's open shards would pass ``max_shards``."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool:
        """The stream and its records removed; False when there was none."""
        ...

    async def append(
        self, tenant_id: str, name: str, layout: int, records: Sequence[SealedRecord], now: int
    ) -> list[int] | None:
        """Each record stored under the next number of the stream's counter, in order; None
        when the stream's layout is no longer ``layout`` (or the stream is gone)."""
        ...

    async def read(
        self, tenant_id: str, name: str, shard: int, start: int, limit: int, max_bytes: int
    ) -> list[StoredRecord]:
        """The shard's records numbered ``start`` or above, in order, at most ``limit`` and
        ``max_bytes`` of plaintext (one at least)."""
        ...

    async def first_since(self, tenant_id: str, name: str, shard: int, since: int) -> int | None:
        """The number of the shard's first record that arrived at ``since`` (ms) or after."""
        ...

    async def trim(self, now: int) -> int:
        """Every stream's records older than its retention period removed; how many."""
        ...

    async def expire_shards(self, now: int) -> int:
        """Every stream's shards closed longer ago than its retention period dropped from its
        row (routing is unchanged: only closed shards go); how many."""
        ...

    async def commitment(self, tenant_id: str) -> BillingCommitment:
        """The account's minimum throughput billing commitment as stored (decision 0260); a
        DISABLED one of revision 0 when it never set one."""
        ...

    async def put_commitment(self, commitment: BillingCommitment) -> bool:
        """Stored if the account's held revision is ``commitment.revision - 1``; False when
        another write came first."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's streams, their records and its settings removed; how many streams."""
        ...
