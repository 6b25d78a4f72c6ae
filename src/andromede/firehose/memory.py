"""The in-memory twin of :class:`~andromede.firehose.store.FirehoseStore` (tests, and the
contract suite's reference)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from andromede.firehose.backup_buffer import (
    backup_wake,
    fitting,
    is_backup,
    is_intake,
    kept_within,
)
from andromede.firehose.errors import LimitExceeded, StreamInUse
from andromede.firehose.model import (
    SSE_DISABLING,
    SSE_ENABLING,
    BufferedRecord,
    DeliveryStream,
    StreamStatus,
)
from andromede.firehose.staging import intake_hints, is_staged, staged_wake
from andromede.firehose.store import BufferTotals, SealedRecord, SourceCheckpoint, Waiting

__all__ = ["MemoryFirehoseStore"]


class MemoryFirehoseStore:
    def __init__(self) -> None:
        self._streams: dict[tuple[str, str], DeliveryStream] = {}
        self._records: dict[tuple[str, str], list[BufferedRecord]] = {}
        self._leases: dict[tuple[str, str], tuple[str, int]] = {}
        self._readers: dict[tuple[str, str], tuple[str, int]] = {}
        self._checkpoints: dict[tuple[str, str], dict[str, SourceCheckpoint]] = {}
        self._seq = 0

    async def create(self, stream: DeliveryStream, max_streams: int) -> None:
        key = (stream.tenant_id, stream.name)
        if key in self._streams:
            raise StreamInUse(f"Firehose {stream.name} under accountId {stream.tenant_id} "
                              "already exists")  # fmt: skip
        if sum(1 for t, _ in self._streams if t == stream.tenant_id) >= max_streams:
            raise LimitExceeded(f"You have already consumed your quota of {max_streams} "
                                "delivery streams.")  # fmt: skip
        self._streams[key] = stream
        self._records[key] = []

    async def get(self, tenant_id: str, name: str) -> DeliveryStream | None:
        return self._streams.get((tenant_id, name))

    async def names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        found = sorted(n for t, n in self._streams if t == tenant_id)
        return [n for n in found if after is None or n > after][:limit]

    async def replace(self, stream: DeliveryStream) -> bool:
        key = (stream.tenant_id, stream.name)
        held = self._streams.get(key)
        if held is None or held.revision != stream.revision - 1:
            return False
        # The delivery's own state is the deliverer's, never a caller's copy of it.
        self._streams[key] = dataclasses.replace(
            stream, failing_since=held.failing_since, next_attempt=held.next_attempt
        )
        return True

    async def delete(self, tenant_id: str, name: str) -> bool:
        self._records.pop((tenant_id, name), None)
        self._leases.pop((tenant_id, name), None)
        self._readers.pop((tenant_id, name), None)
        self._checkpoints.pop((tenant_id, name), None)
        return self._streams.pop((tenant_id, name), None) is not None

    async def append(
        self, tenant_id: str, name: str, records: Sequence[SealedRecord], now: int, max_bytes: int
    ) -> int:
        held = self._records.get((tenant_id, name))
        if held is None:
            return 0
        size = sum(r.size for r in held if not is_staged(r.record_id))  # copies count (0379)
        taken = 0
        for record in records[: fitting(records, size, max_bytes)]:
            self._seq += 1
            held.append(
                BufferedRecord(self._seq, record.record_id, now, record.size, record.sealed)
            )
            if not is_backup(record.record_id):  # a copy is not one of the records taken
                taken += 1
        return taken

    async def totals(self, tenant_id: str, name: str) -> BufferTotals:
        held = self._records.get((tenant_id, name)) or []
        stream = self._streams.get((tenant_id, name))
        intake = [r for r in held if is_intake(r.record_id)]
        arrivals = [r.arrived for r in intake]
        staged = await self.staged(tenant_id, name)
        if stream is not None and staged.oldest is not None:
            arrivals.append(staged_wake(stream, staged.oldest, staged.bytes))
        copies = await self.copies(tenant_id, name)
        if stream is not None and copies.oldest is not None:
            arrivals.append(backup_wake(stream, copies.oldest, copies.bytes))
        if not arrivals:
            return BufferTotals()
        return BufferTotals(len(intake), sum(r.size for r in intake), min(arrivals))

    async def staged(self, tenant_id: str, name: str) -> BufferTotals:
        held = [r for r in self._records.get((tenant_id, name)) or [] if is_staged(r.record_id)]
        if not held:
            return BufferTotals()
        return BufferTotals(len(held), sum(r.size for r in held), min(r.arrived for r in held))

    async def copies(self, tenant_id: str, name: str) -> BufferTotals:
        held = [r for r in self._records.get((tenant_id, name)) or [] if is_backup(r.record_id)]
        if not held:
            return BufferTotals()
        return BufferTotals(len(held), sum(r.size for r in held), min(r.arrived for r in held))

    async def copied(self, tenant_id: str, name: str, owner: str, upto: int) -> bool:
        if not self._held(tenant_id, name, owner):
            return False
        key = (tenant_id, name)
        self._records[key] = [
            r for r in self._records[key] if r.seq > upto or not is_backup(r.record_id)
        ]
        return True

    async def stage(
        self, tenant_id: str, name: str, owner: str, upto: int, records: Sequence[SealedRecord]
    ) -> bool:
        if not self._held(tenant_id, name, owner):
            return False
        key = (tenant_id, name)
        kept = [r for r in self._records[key] if not is_intake(r.record_id) or r.seq > upto]
        for record in records:
            self._seq += 1
            arrived = 0 if record.arrived is None else record.arrived
            kept.append(
                BufferedRecord(self._seq, record.record_id, arrived, record.size, record.sealed)
            )
        self._records[key] = kept
        return True

    async def activate(self) -> int:
        made = 0
        for key, stream in list(self._streams.items()):
            if stream.status == StreamStatus.CREATING:
                self._streams[key] = dataclasses.replace(
                    stream, status=StreamStatus.ACTIVE, revision=stream.revision + 1
                )
                made += 1
        return made

    async def settling(self, region: str, limit: int) -> list[DeliveryStream]:
        return [
            stream
            for _, stream in sorted(self._streams.items())
            if stream.region == region and stream.sse_status in (SSE_ENABLING, SSE_DISABLING)
        ][:limit]

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        claimed: list[DeliveryStream] = []
        for key, stream in sorted(self._streams.items()):
            if len(claimed) >= limit:
                break
            totals = await self.totals(*key)
            lease = self._leases.get(key)
            if (
                stream.status != StreamStatus.ACTIVE
                or stream.region != region
                or totals.oldest is None
                or stream.next_attempt > now
                or (lease is not None and lease[1] >= now)
            ):
                continue
            size_hint, interval_hint = intake_hints(stream)  # decision 0344
            if totals.bytes < size_hint and totals.oldest + interval_hint > now:
                continue
            self._leases[key] = (owner, lease_until)
            claimed.append(stream)
        return claimed

    async def batch(
        self, tenant_id: str, name: str, max_bytes: int, staged: bool = False, backup: bool = False
    ) -> list[BufferedRecord]:
        found: list[BufferedRecord] = []
        size = 0
        for record in self._records.get((tenant_id, name)) or []:
            if _kind(record.record_id) != (staged, backup):
                continue
            if found and size + record.size > max_bytes:
                break
            found.append(record)
            size += record.size
        return found

    def _held(self, tenant_id: str, name: str, owner: str) -> bool:
        lease = self._leases.get((tenant_id, name))
        return lease is not None and lease[0] == owner and (tenant_id, name) in self._streams

    async def waiting(
        self, region: str, after: tuple[str, str] | None, limit: int
    ) -> list[Waiting]:
        found: list[Waiting] = []
        for key, stream in sorted(self._streams.items()):
            held = self._records.get(key) or []
            if len(found) >= limit:
                break
            if (after is not None and key <= after) or stream.status != StreamStatus.ACTIVE:
                continue
            if stream.region != region or not held:
                continue
            pending = [r.arrived for r in held if not is_backup(r.record_id)]
            copies = [r.arrived for r in held if is_backup(r.record_id)]
            found.append(Waiting(stream, min(pending, default=None), min(copies, default=None)))
        return found

    async def delivered(
        self, tenant_id: str, name: str, owner: str, upto: int,
        copies: Sequence[SealedRecord] = (),
    ) -> bool:  # fmt: skip
        return await self._delivered(tenant_id, name, owner, upto, copies, None, False) is not None

    async def delivered_copies(
        self, tenant_id: str, name: str, owner: str, upto: int,
        copies: Sequence[SealedRecord], max_bytes: int, whole: bool = False,
    ) -> int | None:  # fmt: skip
        return await self._delivered(tenant_id, name, owner, upto, copies, max_bytes, whole)

    async def _delivered(
        self, tenant_id: str, name: str, owner: str, upto: int,
        copies: Sequence[SealedRecord], max_bytes: int | None, whole: bool,
    ) -> int | None:  # fmt: skip
        if not self._held(tenant_id, name, owner):
            return None
        key = (tenant_id, name)
        last = next((r for r in self._records[key] if r.seq == upto), None)
        kind = (False, False) if last is None else _kind(last.record_id)
        left = [r for r in self._records[key] if r.seq > upto or _kind(r.record_id) != kind]
        kept = len(copies)
        if max_bytes is not None:  # decision 0398: the copies bounded as appended ones
            held = sum(r.size for r in left if not is_staged(r.record_id))
            kept = kept_within(copies, held, max_bytes)
        if whole and kept < len(copies):
            return 0  # all or none: nothing changes, the lease kept
        self._records[key] = left
        for copy in copies[:kept]:  # a backup's, in the same step (decision 0388)
            self._seq += 1
            arrived = 0 if copy.arrived is None else copy.arrived
            self._records[key].append(
                BufferedRecord(self._seq, copy.record_id, arrived, copy.size, copy.sealed)
            )
        stream = self._streams[key]
        self._streams[key] = dataclasses.replace(stream, failing_since=None, next_attempt=0)
        del self._leases[key]
        return kept

    async def failed(
        self, tenant_id: str, name: str, owner: str, since: int, next_attempt: int
    ) -> bool:
        if not self._held(tenant_id, name, owner):
            return False
        key = (tenant_id, name)
        stream = self._streams[key]
        self._streams[key] = dataclasses.replace(
            stream, failing_since=since, next_attempt=next_attempt
        )
        del self._leases[key]
        return True

    async def claim_sources(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        claimed: list[DeliveryStream] = []
        by_last_read = sorted(
            self._streams.items(),
            key=lambda item: (self._readers.get(item[0], ("", 0))[1], item[0]),
        )
        for key, stream in by_last_read:
            if len(claimed) >= limit:
                break
            lease = self._readers.get(key)
            if (
                stream.source is None
                or stream.status != StreamStatus.ACTIVE
                or stream.region != region
                or (lease is not None and lease[0] != owner and lease[1] >= now)
            ):
                continue
            self._readers[key] = (owner, lease_until)
            claimed.append(stream)
        return claimed

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, SourceCheckpoint]:
        return dict(self._checkpoints.get((tenant_id, name), {}))

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard_id: str, point: SourceCheckpoint,
        now: int,
    ) -> bool:  # fmt: skip
        lease = self._readers.get((tenant_id, name))
        if lease is None or lease[0] != owner or (tenant_id, name) not in self._streams:
            return False
        self._checkpoints.setdefault((tenant_id, name), {})[shard_id] = point
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._streams if k[0] == tenant_id]
        for key in keys:
            await self.delete(*key)
        return len(keys)


def _kind(record_id: str) -> tuple[bool, bool]:
    """(staged, a backup's copy): which of a stream's buffers a record is in."""
    return is_staged(record_id), is_backup(record_id)
