"""The in-memory twin of :class:`~andromede.kinesis.store.KinesisStore` (tests, and the
contract suite's reference)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from andromede.kinesis.accounts import BillingCommitment
from andromede.kinesis.errors import LimitExceeded
from andromede.kinesis.model import ShardChange, StoredRecord, Stream, StreamMode
from andromede.kinesis.store import AccountUsage, SealedRecord
from andromede.kinesis.store_rules import apply_change, in_use, shard_limit, unexpired

__all__ = ["MemoryKinesisStore"]

_HOUR_MS = 3_600_000


class MemoryKinesisStore:
    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], Stream] = {}
        self._records: dict[tuple[str, str], list[StoredRecord]] = {}
        self._commitments: dict[str, BillingCommitment] = {}

    async def create(self, stream: Stream, max_shards: int, max_on_demand: int) -> None:
        key = (stream.tenant_id, stream.name)
        if key in self._streams:
            raise in_use(stream)
        usage = await self.usage(stream.tenant_id)
        if usage.open_shards + len(stream.open_shards) > max_shards:
            raise shard_limit(usage.open_shards, len(stream.open_shards), max_shards)
        if stream.mode is StreamMode.ON_DEMAND and usage.on_demand_streams >= max_on_demand:
            raise LimitExceeded(
                f"This request would exceed the limit of {max_on_demand} on-demand streams."
            )
        self._streams[key] = stream
        self._records[key] = []

    async def get(self, tenant_id: str, name: str) -> Stream | None:
        return self._streams.get((tenant_id, name))

    async def streams(self, tenant_id: str, after: str | None, limit: int) -> list[Stream]:
        found = sorted((n, s) for (t, n), s in self._streams.items() if t == tenant_id)
        return [s for n, s in found if after is None or n > after][:limit]

    async def usage(self, tenant_id: str) -> AccountUsage:
        mine = [s for (t, _), s in self._streams.items() if t == tenant_id]
        return AccountUsage(
            sum(len(s.open_shards) for s in mine),
            sum(1 for s in mine if s.mode is StreamMode.ON_DEMAND),
        )

    async def every_stream(self, after: tuple[str, str] | None, limit: int) -> list[Stream]:
        found = sorted(self._streams.items())
        return [s for k, s in found if after is None or k > after][:limit]

    async def stored_bytes(self, before: int) -> dict[tuple[str, str], int]:
        held = {
            key: sum(r.size for r in records if r.arrived < before)
            for key, records in self._records.items()
        }
        return {key: size for key, size in held.items() if size}

    async def replace(self, stream: Stream) -> bool:
        key = (stream.tenant_id, stream.name)
        held = self._streams.get(key)
        if held is None or held.revision != stream.revision - 1:
            return False
        self._streams[key] = dataclasses.replace(
            stream, shards=held.shards, layout=held.layout, next_sequence=held.next_sequence,
            iterator_key=held.iterator_key,
        )  # fmt: skip
        return True

    async def reshard(
        self, tenant_id: str, name: str, layout: int, change: ShardChange, now: int,
        max_shards: int,
    ) -> Stream | None:  # fmt: skip
        held = self._streams.get((tenant_id, name))
        if held is None or held.layout != layout:
            return None
        usage = await self.usage(tenant_id)
        growth = len(change.opening) - len(change.closing)
        if usage.open_shards + growth > max_shards:
            raise shard_limit(usage.open_shards, growth, max_shards)
        changed = apply_change(held, change, now)
        self._streams[(tenant_id, name)] = changed
        return changed

    async def delete(self, tenant_id: str, name: str) -> bool:
        self._records.pop((tenant_id, name), None)
        return self._streams.pop((tenant_id, name), None) is not None

    async def append(
        self, tenant_id: str, name: str, layout: int, records: Sequence[SealedRecord], now: int
    ) -> list[int] | None:
        key = (tenant_id, name)
        held = self._streams.get(key)
        if held is None or held.layout != layout:
            return None
        first = held.next_sequence
        numbers = list(range(first, first + len(records)))
        self._records[key].extend(
            StoredRecord(r.shard, n, r.partition_key, now, r.size, r.sealed)
            for r, n in zip(records, numbers, strict=True)
        )
        self._streams[key] = dataclasses.replace(held, next_sequence=first + len(records))
        return numbers

    async def read(
        self, tenant_id: str, name: str, shard: int, start: int, limit: int, max_bytes: int
    ) -> list[StoredRecord]:
        found: list[StoredRecord] = []
        size = 0
        for record in self._records.get((tenant_id, name)) or []:
            if record.shard != shard or record.sequence < start:
                continue
            if len(found) >= limit or (found and size + record.size > max_bytes):
                break
            found.append(record)
            size += record.size
        return found

    async def first_since(self, tenant_id: str, name: str, shard: int, since: int) -> int | None:
        for record in self._records.get((tenant_id, name)) or []:
            if record.shard == shard and record.arrived >= since:
                return record.sequence
        return None

    async def trim(self, now: int) -> int:
        removed = 0
        for key, stream in self._streams.items():
            cutoff = now - stream.retention_hours * _HOUR_MS
            held = self._records[key]
            kept = [r for r in held if r.arrived >= cutoff]
            removed += len(held) - len(kept)
            self._records[key] = kept
        return removed

    async def expire_shards(self, now: int) -> int:
        dropped = 0
        for key, stream in list(self._streams.items()):
            kept = unexpired(stream, now)
            if kept is not None:
                dropped += len(stream.shards) - len(kept)
                self._streams[key] = dataclasses.replace(stream, shards=kept)
        return dropped

    async def commitment(self, tenant_id: str) -> BillingCommitment:
        return self._commitments.get(tenant_id) or BillingCommitment(tenant_id)

    async def put_commitment(self, commitment: BillingCommitment) -> bool:
        held = await self.commitment(commitment.tenant_id)
        if held.revision != commitment.revision - 1:
            return False
        self._commitments[commitment.tenant_id] = commitment
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        self._commitments.pop(tenant_id, None)
        keys = [k for k in self._streams if k[0] == tenant_id]
        for key in keys:
            await self.delete(*key)
        return len(keys)
