"""The in-memory twin of :class:`~andromede.dynamodb.store.DynamoStore` (tests, and the
contract suite's reference)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from andromede.dynamodb.errors import LimitExceeded, TableInUse
from andromede.dynamodb.idempotency import MemoryTokenStore
from andromede.dynamodb.kinesis_forward_queue import MemoryForwardQueue
from andromede.dynamodb.model import IndexKey, StoredItem, Table
from andromede.dynamodb.store import ABSENT, Bound, IndexPosition, ScanRange, TransactWrite
from andromede.dynamodb.stream_shards import ShardScan
from andromede.dynamodb.streams import ChangeRecord, Stream, StreamRecord, next_sequence

__all__ = ["MemoryDynamoStore", "Version", "expired", "in_use", "too_many_tables"]

Version = tuple[int, bytes, bytes, bytes | None, int]


def in_use(name: str) -> TableInUse:
    return TableInUse(f"Table already exists: {name}")


def too_many_tables(max_tables: int) -> LimitExceeded:
    return LimitExceeded(
        f"Subscriber limit exceeded: You have reached the maximum number of tables ({max_tables})"
    )


def _within(token: bytes, low: Bound | None, high: Bound | None) -> bool:
    if low is not None and (token < low.token or (token == low.token and not low.inclusive)):
        return False
    return not (
        high is not None and (token > high.token or (token == high.token and not high.inclusive))
    )


class MemoryDynamoStore(MemoryTokenStore, MemoryForwardQueue):
    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], Table] = {}
        self._items: dict[tuple[str, str], dict[tuple[bytes, bytes], StoredItem]] = {}
        self._streams: dict[tuple[str, str, str], Stream] = {}
        self._changes: dict[tuple[str, str, str], list[StreamRecord]] = {}
        # Point-in-time recovery's versions (decision 0253), in the order written, per (tenant,
        # table, its creation): (at ms, hash token, sort token, sealed or None, size).
        self.versions: dict[tuple[str, str, int], list[Version]] = {}

    async def create_table(self, table: Table, max_tables: int) -> None:
        key = (table.tenant_id, table.name)
        if key in self._tables:
            raise in_use(table.name)
        if sum(1 for t, _ in self._tables if t == table.tenant_id) >= max_tables:
            raise too_many_tables(max_tables)
        self._tables[key] = table
        self._items[key] = {}

    async def get_table(self, tenant_id: str, name: str) -> Table | None:
        return self._tables.get((tenant_id, name))

    async def table_names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        names = sorted(n for t, n in self._tables if t == tenant_id)
        return [n for n in names if after is None or n > after][:limit]

    async def backfilling_tables(self) -> list[tuple[str, str]]:
        return sorted(k for k, t in self._tables.items() if any(i.backfilling for i in t.indexes))

    async def replace_table(self, table: Table) -> bool:
        key = (table.tenant_id, table.name)
        held = self._tables.get(key)
        if held is None or held.revision != table.revision - 1:
            return False
        self._tables[key] = table
        return True

    async def delete_table(self, tenant_id: str, name: str) -> bool:
        self._items.pop((tenant_id, name), None)
        await self.drop_queue(tenant_id, name)  # decision 0262
        return self._tables.pop((tenant_id, name), None) is not None

    async def usage(self, tenant_id: str, name: str) -> tuple[int, int]:
        items = self._items.get((tenant_id, name)) or {}
        return len(items), sum(i.size for i in items.values())

    async def get_item(
        self, tenant_id: str, name: str, hash_token: bytes, sort_token: bytes
    ) -> StoredItem | None:
        return (self._items.get((tenant_id, name)) or {}).get((hash_token, sort_token))

    async def put_item(
        self,
        tenant_id: str,
        name: str,
        item: StoredItem,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        items = self._items.get((tenant_id, name))
        if items is None:
            return False
        held = items.get((item.hash_token, item.sort_token))
        revision = ABSENT if held is None else held.revision
        if expected is not None and revision != expected:
            return False
        items[(item.hash_token, item.sort_token)] = item
        self._append(tenant_id, name, record)
        return True

    async def delete_item(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        sort_token: bytes,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        items = self._items.get((tenant_id, name)) or {}
        held = items.get((hash_token, sort_token))
        if held is None or (expected is not None and held.revision != expected):
            return False
        del items[(hash_token, sort_token)]
        self._append(tenant_id, name, record)
        return True

    async def transact(self, tenant_id: str, writes: Sequence[TransactWrite]) -> bool:
        for write in writes:
            items = self._items.get((tenant_id, write.table))
            if items is None:
                return False
            held = items.get((write.hash_token, write.sort_token))
            if (ABSENT if held is None else held.revision) != write.expected:
                return False
        for write in writes:
            items = self._items[(tenant_id, write.table)]
            if write.row is not None:
                items[(write.hash_token, write.sort_token)] = write.row
            elif write.delete:
                items.pop((write.hash_token, write.sort_token), None)
            self._append(tenant_id, write.table, write.record)
        return True

    async def query(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        low: Bound | None,
        high: Bound | None,
        forward: bool,
        after: bytes | None,
        limit: int,
    ) -> list[StoredItem]:
        items = self._items.get((tenant_id, name)) or {}
        found = sorted(
            (i for (h, s), i in items.items() if h == hash_token and _within(s, low, high)),
            key=lambda i: i.sort_token,
            reverse=not forward,
        )
        if after is not None:
            found = [
                i for i in found if (i.sort_token > after) == forward and i.sort_token != after
            ]
        return found[:limit]

    async def scan(
        self,
        tenant_id: str,
        name: str,
        segment: ScanRange,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        items = self._items.get((tenant_id, name)) or {}
        found = sorted(
            (
                i
                for k, i in items.items()
                if segment.low <= i.segment_point < segment.high and (after is None or k > after)
            ),
            key=lambda i: (i.hash_token, i.sort_token),
        )
        return found[:limit]

    def _entries(
        self, tenant_id: str, name: str, index: str
    ) -> list[tuple[IndexPosition, IndexKey, StoredItem]]:
        items = self._items.get((tenant_id, name)) or {}
        return [
            ((k.hash_token, k.sort_token, i.hash_token, i.sort_token), k, i)
            for i in items.values()
            for k in i.index_keys
            if k.index == index
        ]

    async def query_index(
        self,
        tenant_id: str,
        name: str,
        index: str,
        hash_token: bytes,
        low: Bound | None,
        high: Bound | None,
        forward: bool,
        after: IndexPosition | None,
        limit: int,
    ) -> list[tuple[IndexKey, StoredItem]]:
        found = sorted(
            (
                e
                for e in self._entries(tenant_id, name, index)
                if e[1].hash_token == hash_token and _within(e[1].sort_token, low, high)
            ),
            key=lambda e: e[0],
            reverse=not forward,
        )
        if after is not None:
            found = [e for e in found if (e[0] > after) == forward and e[0] != after]
        return [(k, i) for _, k, i in found[:limit]]

    async def scan_index(
        self,
        tenant_id: str,
        name: str,
        index: str,
        segment: ScanRange,
        after: IndexPosition | None,
        limit: int,
    ) -> list[tuple[IndexKey, StoredItem]]:
        found = sorted(
            (
                e
                for e in self._entries(tenant_id, name, index)
                if segment.low <= int.from_bytes(e[1].hash_token[:4], "big") < segment.high
                and (after is None or e[0] > after)
            ),
            key=lambda e: e[0],
        )
        return [(k, i) for _, k, i in found[:limit]]

    async def index_usage(self, tenant_id: str, name: str) -> dict[str, tuple[int, int]]:
        usage: dict[str, tuple[int, int]] = {}
        for item in (self._items.get((tenant_id, name)) or {}).values():
            for key in item.index_keys:
                count, size = usage.get(key.index, (0, 0))
                usage[key.index] = (count + 1, size + item.size)
        return usage

    async def drop_index(self, tenant_id: str, name: str, index: str) -> None:
        items = self._items.get((tenant_id, name)) or {}
        for key, item in items.items():
            kept = tuple(k for k in item.index_keys if k.index != index)
            items[key] = dataclasses.replace(item, index_keys=kept)

    async def expire(self, now: int, limit: int) -> dict[tuple[str, str], int]:
        removed: dict[tuple[str, str], int] = {}
        count = 0
        for table, items in self._items.items():
            for key, item in list(items.items()):
                if count < limit and item.expires is not None and item.expires <= now:
                    del items[key]
                    count += 1
                    removed[table] = removed.get(table, 0) + 1
                    self._append(*table, expired(item, now))
        return removed

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._tables if k[0] == tenant_id]
        for key in keys:
            await self.delete_table(*key)
        for held in [k for k in self._streams if k[0] == tenant_id]:
            del self._streams[held]
            self._changes.pop(held, None)
        await self.forget_tokens(tenant_id)
        self._forget_forwards(tenant_id)  # decision 0262
        return len(keys)

    # --- streams (decision 0246) ------------------------------------------------------------

    def _enabled(self, tenant_id: str, name: str) -> Stream | None:
        return next(
            (
                s
                for (t, n, _), s in self._streams.items()
                if (t, n) == (tenant_id, name) and not s.disabled
            ),
            None,
        )

    def _append(self, tenant_id: str, name: str, record: ChangeRecord | None) -> None:
        table = self._tables.get((tenant_id, name))
        if record is not None and table is not None and table.pitr is not None:
            # Decision 0253: the item's history, kept for point-in-time recovery.
            self.versions.setdefault((tenant_id, name, table.created), []).append(
                (record.created, record.hash_token, record.sort_token, record.version,
                 record.version_size)
            )  # fmt: skip
        if record is not None and table is not None and table.forwarding:
            self._queue_forward(tenant_id, name, record)  # decision 0262
        stream = None if record is None else self._enabled(tenant_id, name)
        if record is None or stream is None:
            return
        key = (tenant_id, name, stream.label)
        sequence = next_sequence(stream.next_sequence, record.created)  # decision 0275
        self._changes[key].append(StreamRecord(sequence, record))
        self._streams[key] = dataclasses.replace(stream, next_sequence=sequence + 1)

    async def create_stream(self, stream: Stream) -> None:
        await self.end_stream(stream.tenant_id, stream.table_name, stream.created)
        key = (stream.tenant_id, stream.table_name, stream.label)
        self._streams[key] = stream
        self._changes[key] = []

    async def end_stream(self, tenant_id: str, table_name: str, at: int) -> None:
        stream = self._enabled(tenant_id, table_name)
        if stream is not None:
            key = (tenant_id, table_name, stream.label)
            self._streams[key] = dataclasses.replace(stream, disabled=at)

    async def get_stream(self, tenant_id: str, table_name: str, label: str) -> Stream | None:
        return self._streams.get((tenant_id, table_name, label))

    async def list_streams(
        self, tenant_id: str, table_name: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Stream]:
        found = sorted(
            (k[1:], s)
            for k, s in self._streams.items()
            if k[0] == tenant_id
            and (table_name is None or k[1] == table_name)
            and (after is None or k[1:] > after)
        )
        return [s for _, s in found[:limit]]

    async def read_changes(
        self,
        tenant_id: str,
        table_name: str,
        label: str,
        start: int,
        limit: int,
        max_bytes: int,
    ) -> list[StreamRecord]:
        found: list[StreamRecord] = []
        size = 0
        for record in self._changes.get((tenant_id, table_name, label), []):
            if record.sequence < start:
                continue
            if len(found) >= limit or (found and size + record.change.size > max_bytes):
                break
            found.append(record)
            size += record.change.size
        return found

    async def read_shard(
        self, tenant_id: str, table_name: str, label: str, start: int, scan: ShardScan
    ) -> None:
        for record in self._changes.get((tenant_id, table_name, label), []):
            if record.sequence >= start and not scan.offer(record):
                return
        scan.exhausted = True

    async def first_change_since(
        self, tenant_id: str, table_name: str, label: str, since: int
    ) -> int | None:
        records = self._changes.get((tenant_id, table_name, label), [])
        return next((r.sequence for r in records if r.change.created >= since), None)

    async def prune_streams(self, before: int) -> int:
        removed = 0
        for key, stream in list(self._streams.items()):
            if stream.disabled and stream.disabled < before:
                removed += len(self._changes.pop(key, []))
                del self._streams[key]
                continue
            records = self._changes[key]
            old = [r for r in records if r.change.created < before]
            if old:
                self._changes[key] = [r for r in records if r.change.created >= before]
                trimmed = max(stream.trimmed_to, old[-1].sequence + 1)
                self._streams[key] = dataclasses.replace(stream, trimmed_to=trimmed)
                removed += len(old)
        return removed


def expired(item: StoredItem, now: int) -> ChangeRecord:
    """The REMOVE record of a time-to-live deletion: made by DynamoDB itself."""
    return ChangeRecord(
        "REMOVE",
        item.hash_token,
        item.sort_token,
        item.sealed,
        None,
        item.size,
        now * 1000,
        by_service=True,
    )
