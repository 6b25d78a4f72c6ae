"""One region's view of DynamoDB's store (decision 0265): DynamoDB tables are regional, a
table of one name may live in several regions of a deployment (a global table's replicas),
and the store keys tables by (account, name). The deployment's home region keeps its tables
under their own names, any other region's under ``~<region>~<name>``
(:mod:`andromede.regional_names`, which EventBridge's buses share): a region's names are one
contiguous run of the store's order (ListTables pages within it).

Everything a region's service is given back carries the table's own name; what it hands in
is renamed on the way. What works on every table at once (time to live, pruning, a closed
account) is the underlying store's, called once by the home region.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from andromede.dynamodb.idempotency import Claim
from andromede.dynamodb.kinesis_forward_queue import QueuedChange
from andromede.dynamodb.model import IndexKey, StoredItem, Table
from andromede.dynamodb.store import Bound, DynamoStore, IndexPosition, ScanRange, TransactWrite
from andromede.dynamodb.stream_shards import ShardScan
from andromede.dynamodb.streams import ChangeRecord, Stream, StreamRecord
from andromede.regional_names import RegionalView, stored_name

__all__ = ["RegionalStore", "stored_name"]


class RegionalStore(RegionalView[DynamoStore]):
    """``store`` as ``region`` sees it (a :class:`DynamoStore`)."""

    def _table_in(self, table: Table) -> Table:
        return dataclasses.replace(table, name=self._in(table.name))

    # --- tables -----------------------------------------------------------------------------

    async def create_table(self, table: Table, max_tables: int) -> None:
        await self.inner.create_table(self._table_in(table), max_tables)

    async def get_table(self, tenant_id: str, name: str) -> Table | None:
        table = await self.inner.get_table(tenant_id, self._in(name))
        return None if table is None else dataclasses.replace(table, name=name)

    async def table_names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        start = None if after is None and not self._prefix else self._in(after or "")
        names = await self.inner.table_names(tenant_id, start, limit)
        return [self._out(n) for n in names if self._mine(n)]

    async def backfilling_tables(self) -> list[tuple[str, str]]:
        return [
            (t, self._out(n)) for t, n in await self.inner.backfilling_tables() if self._mine(n)
        ]

    async def replace_table(self, table: Table) -> bool:
        return await self.inner.replace_table(self._table_in(table))

    async def delete_table(self, tenant_id: str, name: str) -> bool:
        return await self.inner.delete_table(tenant_id, self._in(name))

    async def usage(self, tenant_id: str, name: str) -> tuple[int, int]:
        return await self.inner.usage(tenant_id, self._in(name))

    # --- items ------------------------------------------------------------------------------

    async def get_item(
        self, tenant_id: str, name: str, hash_token: bytes, sort_token: bytes
    ) -> StoredItem | None:
        return await self.inner.get_item(tenant_id, self._in(name), hash_token, sort_token)

    async def put_item(
        self,
        tenant_id: str,
        name: str,
        item: StoredItem,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        return await self.inner.put_item(tenant_id, self._in(name), item, expected, record)

    async def delete_item(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        sort_token: bytes,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        return await self.inner.delete_item(
            tenant_id, self._in(name), hash_token, sort_token, expected, record
        )

    async def transact(self, tenant_id: str, writes: Sequence[TransactWrite]) -> bool:
        renamed = [dataclasses.replace(w, table=self._in(w.table)) for w in writes]
        return await self.inner.transact(tenant_id, renamed)

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
        return await self.inner.query(
            tenant_id, self._in(name), hash_token, low, high, forward, after, limit
        )

    async def scan(
        self,
        tenant_id: str,
        name: str,
        segment: ScanRange,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        return await self.inner.scan(tenant_id, self._in(name), segment, after, limit)

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
        return await self.inner.query_index(
            tenant_id, self._in(name), index, hash_token, low, high, forward, after, limit
        )

    async def scan_index(
        self,
        tenant_id: str,
        name: str,
        index: str,
        segment: ScanRange,
        after: IndexPosition | None,
        limit: int,
    ) -> list[tuple[IndexKey, StoredItem]]:
        return await self.inner.scan_index(tenant_id, self._in(name), index, segment, after, limit)

    async def index_usage(self, tenant_id: str, name: str) -> dict[str, tuple[int, int]]:
        return await self.inner.index_usage(tenant_id, self._in(name))

    async def drop_index(self, tenant_id: str, name: str, index: str) -> None:
        await self.inner.drop_index(tenant_id, self._in(name), index)

    async def expire(self, now: int, limit: int) -> dict[tuple[str, str], int]:
        return await self.inner.expire(now, limit)

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self.inner.forget_tenant(tenant_id)

    # --- streams (decision 0246) ------------------------------------------------------------

    def _stream_out(self, stream: Stream) -> Stream:
        return dataclasses.replace(stream, table_name=self._out(stream.table_name))

    async def create_stream(self, stream: Stream) -> None:
        await self.inner.create_stream(
            dataclasses.replace(stream, table_name=self._in(stream.table_name))
        )

    async def end_stream(self, tenant_id: str, table_name: str, at: int) -> None:
        await self.inner.end_stream(tenant_id, self._in(table_name), at)

    async def get_stream(self, tenant_id: str, table_name: str, label: str) -> Stream | None:
        stream = await self.inner.get_stream(tenant_id, self._in(table_name), label)
        return None if stream is None else self._stream_out(stream)

    async def list_streams(
        self, tenant_id: str, table_name: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Stream]:
        named = None if table_name is None else self._in(table_name)
        start = None if after is None else (self._in(after[0]), after[1])
        if start is None and named is None and self._prefix:
            start = (self._prefix, "")
        streams = await self.inner.list_streams(tenant_id, named, start, limit)
        return [self._stream_out(s) for s in streams if self._mine(s.table_name)]

    async def read_changes(
        self, tenant_id: str, table_name: str, label: str, start: int, limit: int, max_bytes: int
    ) -> list[StreamRecord]:
        return await self.inner.read_changes(
            tenant_id, self._in(table_name), label, start, limit, max_bytes
        )

    async def read_shard(
        self, tenant_id: str, table_name: str, label: str, start: int, scan: ShardScan
    ) -> None:  # decision 0275
        await self.inner.read_shard(tenant_id, self._in(table_name), label, start, scan)

    async def first_change_since(
        self, tenant_id: str, table_name: str, label: str, since: int
    ) -> int | None:
        return await self.inner.first_change_since(tenant_id, self._in(table_name), label, since)

    async def prune_streams(self, before: int) -> int:
        return await self.inner.prune_streams(before)

    # --- transactions' tokens (decision 0259): the account's, whatever the region -----------

    async def claim_token(
        self, tenant_id: str, token: str, digest: bytes, now: int
    ) -> Claim | None:
        return await self.inner.claim_token(tenant_id, token, digest, now)

    async def settle_token(self, tenant_id: str, token: str, until: int) -> None:
        await self.inner.settle_token(tenant_id, token, until)

    async def release_token(self, tenant_id: str, token: str) -> None:
        await self.inner.release_token(tenant_id, token)

    async def prune_tokens(self, now: int) -> int:
        return await self.inner.prune_tokens(now)

    async def forget_tokens(self, tenant_id: str) -> None:
        await self.inner.forget_tokens(tenant_id)

    # --- Kinesis destinations' queue (decision 0262) ----------------------------------------

    async def queued_tables(self, limit: int) -> list[tuple[str, str]]:
        return [
            (t, self._out(n)) for t, n in await self.inner.queued_tables(limit) if self._mine(n)
        ]

    async def take_lease(
        self, tenant_id: str, table_name: str, owner: str, now: int, until: int
    ) -> bool:
        return await self.inner.take_lease(tenant_id, self._in(table_name), owner, now, until)

    async def queued(self, tenant_id: str, table_name: str, limit: int) -> list[QueuedChange]:
        return await self.inner.queued(tenant_id, self._in(table_name), limit)

    async def dequeue(self, tenant_id: str, table_name: str, numbers: Sequence[int]) -> None:
        await self.inner.dequeue(tenant_id, self._in(table_name), numbers)

    async def drop_queue(self, tenant_id: str, table_name: str) -> None:
        await self.inner.drop_queue(tenant_id, self._in(table_name))
