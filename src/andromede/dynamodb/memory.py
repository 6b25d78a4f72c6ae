"""The in-memory twin of :class:`~andromede.dynamodb.store.DynamoStore` (tests, and the
contract suite's reference)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from andromede.dynamodb.errors import LimitExceeded, TableInUse
from andromede.dynamodb.model import IndexKey, StoredItem, Table
from andromede.dynamodb.store import ABSENT, Bound, IndexPosition, ScanRange, TransactWrite

__all__ = ["MemoryDynamoStore", "in_use", "too_many_tables"]


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


class MemoryDynamoStore:
    def __init__(self) -> None:
        self._tables: dict[tuple[str, str], Table] = {}
        self._items: dict[tuple[str, str], dict[tuple[bytes, bytes], StoredItem]] = {}

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

    async def replace_table(self, table: Table) -> bool:
        key = (table.tenant_id, table.name)
        held = self._tables.get(key)
        if held is None or held.revision != table.revision - 1:
            return False
        self._tables[key] = table
        return True

    async def delete_table(self, tenant_id: str, name: str) -> bool:
        self._items.pop((tenant_id, name), None)
        return self._tables.pop((tenant_id, name), None) is not None

    async def usage(self, tenant_id: str, name: str) -> tuple[int, int]:
        items = self._items.get((tenant_id, name)) or {}
        return len(items), sum(i.size for i in items.values())

    async def get_item(
        self, tenant_id: str, name: str, hash_token: bytes, sort_token: bytes
    ) -> StoredItem | None:
        return (self._items.get((tenant_id, name)) or {}).get((hash_token, sort_token))

    async def put_item(
        self, tenant_id: str, name: str, item: StoredItem, expected: int | None
    ) -> bool:
        items = self._items.get((tenant_id, name))
        if items is None:
            return False
        held = items.get((item.hash_token, item.sort_token))
        revision = ABSENT if held is None else held.revision
        if expected is not None and revision != expected:
            return False
        items[(item.hash_token, item.sort_token)] = item
        return True

    async def delete_item(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        sort_token: bytes,
        expected: int | None,
    ) -> bool:
        items = self._items.get((tenant_id, name)) or {}
        held = items.get((hash_token, sort_token))
        if held is None or (expected is not None and held.revision != expected):
            return False
        del items[(hash_token, sort_token)]
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

    async def expire(self, now: int, limit: int) -> int:
        removed = 0
        for items in self._items.values():
            for key, item in list(items.items()):
                if removed < limit and item.expires is not None and item.expires <= now:
                    del items[key]
                    removed += 1
        return removed

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [k for k in self._tables if k[0] == tenant_id]
        for key in keys:
            await self.delete_table(*key)
        return len(keys)
