"""Where tables and their items are kept (decision 0237): the :class:`DynamoStore` interface,
implemented in memory (``dynamodb.memory``) and over the metadata database
(``dynamodb.store_sql``), one contract suite for both.

An item is a row keyed by (account, table, hash token, sort token): the hash token a MAC of
the hash key's value, the sort token its sortable encoding, so that a query reads one hash
key's items in sort-key order and a scan pages in (hash token, sort token) order. Writes are
compare-and-set on the item's revision: a conditional write reads, decides and writes only if
no other write came between.

Secondary indexes (decision 0243): a written item carries its ``index_keys``; the store
replaces the item's index entries with them in the same database transaction as the item
(and removes them with it), so an index never disagrees with its table. An index entry is
(index, index hash token, index sort token, the item's two tokens): a query on an index reads
entries in (index sort token, item tokens) order and the items they point to.

Streams (decision 0246): a write given a :class:`ChangeRecord` appends it, in the write's own
database transaction, to the table's enabled stream (none enabled: the record is dropped),
numbered from the stream's counter; a time-to-live deletion appends its REMOVE record the
same way. The stream methods are :class:`~andromede.dynamodb.stream_store.StreamStore`'s; the
methods of transactions' remembered tokens (decision 0259)
:class:`~andromede.dynamodb.idempotency.TokenStore`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from andromede.dynamodb.idempotency import TokenStore
from andromede.dynamodb.kinesis_forward_queue import ForwardQueue
from andromede.dynamodb.model import IndexKey, StoredItem, Table
from andromede.dynamodb.stream_store import StreamStore
from andromede.dynamodb.streams import ChangeRecord

__all__ = ["ABSENT", "Bound", "DynamoStore", "IndexPosition", "ScanRange", "TransactWrite"]

# Where an index read stands: (index hash token, index sort token, item hash token, item sort
# token).
IndexPosition = tuple[bytes, bytes, bytes, bytes]

# ``expected`` of a write that must find no item.
ABSENT = 0


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a sort-key range: its token, and whether the token itself is in."""

    token: bytes
    inclusive: bool


@dataclass(frozen=True, slots=True)
class ScanRange:
    """A parallel scan's segment as a range of segment points, [low, high)."""

    low: int = 0
    high: int = 1 << 32


@dataclass(frozen=True, slots=True)
class TransactWrite:
    """One write of a transaction: ``row`` stored (a put), or the item deleted (``delete``), or
    only checked (neither); each only if the item's revision is still ``expected``."""

    table: str
    hash_token: bytes
    sort_token: bytes
    expected: int
    row: StoredItem | None = None
    delete: bool = False
    record: ChangeRecord | None = None


class DynamoStore(StreamStore, TokenStore, ForwardQueue, Protocol):
    async def create_table(self, table: Table, max_tables: int) -> None:
        """TableInUse when the name is the account's already; LimitExceeded past
        ``max_tables``."""
        ...

    async def get_table(self, tenant_id: str, name: str) -> Table | None: ...

    async def table_names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        """The account's table names in order, after ``after``, at most ``limit``."""
        ...

    async def backfilling_tables(self) -> list[tuple[str, str]]:
        """Every (account, table) with an index still to fill (decision 0254), of every
        account: what the backfill upkeep resumes after a restart."""
        ...

    async def replace_table(self, table: Table) -> bool:
        """``table`` written over its row if the row's revision is ``table.revision - 1``."""
        ...

    async def delete_table(self, tenant_id: str, name: str) -> bool:
        """The table and its items removed; False when there was none."""
        ...

    async def usage(self, tenant_id: str, name: str) -> tuple[int, int]:
        """The table's item count and their size in bytes."""
        ...

    async def get_item(
        self, tenant_id: str, name: str, hash_token: bytes, sort_token: bytes
    ) -> StoredItem | None: ...

    async def put_item(
        self,
        tenant_id: str,
        name: str,
        item: StoredItem,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        """``item`` stored under its key if the key's current revision is ``expected``
        (:data:`ABSENT` for none; None: whatever it is), ``record`` with it; False
        otherwise."""
        ...

    async def delete_item(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        sort_token: bytes,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        """The item removed if its revision is ``expected`` (None: whatever it is), ``record``
        with it; False when it was not there or another write came first."""
        ...

    async def transact(self, tenant_id: str, writes: Sequence[TransactWrite]) -> bool:
        """Every write applied, or none when one item's revision is no longer the one
        expected (or its table is gone)."""
        ...

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
        """One hash key's items within the bounds, in sort-token order (reversed unless
        ``forward``), strictly after ``after`` in that order, at most ``limit``."""
        ...

    async def scan(
        self,
        tenant_id: str,
        name: str,
        segment: ScanRange,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        """The items of the segment in (hash token, sort token) order, after ``after``."""
        ...

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
        """One index hash key's entries within the sort bounds, in (index sort token, item
        hash token, item sort token) order (reversed unless ``forward``), strictly after
        ``after``, at most ``limit``, each with the item it points to."""
        ...

    async def scan_index(
        self,
        tenant_id: str,
        name: str,
        index: str,
        segment: ScanRange,
        after: IndexPosition | None,
        limit: int,
    ) -> list[tuple[IndexKey, StoredItem]]:
        """The index's entries whose hash token falls in the segment, in position order."""
        ...

    async def index_usage(self, tenant_id: str, name: str) -> dict[str, tuple[int, int]]:
        """Per index of the table: how many items it holds and their size in bytes."""
        ...

    async def drop_index(self, tenant_id: str, name: str, index: str) -> None:
        """Every entry of the index removed."""
        ...

    async def expire(self, now: int, limit: int) -> dict[tuple[str, str], int]:
        """Items whose expiry (s) is ``now`` or earlier removed, at most ``limit``, each with
        its REMOVE record (by the service) when its table's stream is enabled; how many of
        each (account, table) (``TimeToLiveDeletedItemCount``, decision 0254)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's tables, items, streams and records removed; how many tables."""
        ...
