"""DynamoDB's service (decision 0237), the context's one public entry: tables made, described,
changed and deleted; items read, written, conditionally written and updated; queries and
scans page by page. Items enter and leave in their wire form (``values.Item``); they are
stored sealed by the :class:`ItemSealer`, their hash key MACed under the table's key.

A write reads the item, decides (its condition, its update) and writes it only if its
revision is still the one read, trying again a few times when another write came between:
conditional writes are atomic per item, as DynamoDB's.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from andromede.dynamodb import capacity
from andromede.dynamodb.contributor_insights import key_text
from andromede.dynamodb.errors import (
    ConditionFailed,
    TableInUse,
    TableNotFound,
    ValidationError,
    WriteContention,
)
from andromede.dynamodb.evaluate import apply_update, matches
from andromede.dynamodb.expressions import Condition, Update
from andromede.dynamodb.indexes import (
    index_hash_input,
    index_keys,
    index_writes,
    projected,
)
from andromede.dynamodb.keys import KeyRange, check_key, key_of
from andromede.dynamodb.model import (
    BillingMode,
    KeyElement,
    SecondaryIndex,
    StoredItem,
    Table,
    TableLimits,
)
from andromede.dynamodb.store import ABSENT, DynamoStore, IndexPosition, ScanRange
from andromede.dynamodb.streams import ShardLayout, change_record
from andromede.dynamodb.throttling import ThroughputExceeded, ThroughputGate
from andromede.dynamodb.values import Item, canonical_key, item_size, sort_encoding

__all__ = [
    "DynamoObserver",
    "DynamoService",
    "ItemSealer",
    "Page",
    "partition_text",
    "read_units",
    "updated",
    "write_units",
]

_ATTEMPTS = 8
_READ_UNIT = 4096
_WRITE_UNIT = 1024
_BATCH = 100  # rows read from the store at a time while filling a page


class ItemSealer(Protocol):
    async def new_table_key(self, tenant_id: str) -> bytes:
        """A data key for a new table, wrapped under the account's key ring."""
        ...

    async def hash_token(self, table: Table, canonical: bytes) -> bytes:
        """The MAC of a hash key's canonical bytes under the table's key."""
        ...

    async def seal(
        self, table: Table, hash_token: bytes, sort_token: bytes, data: bytes
    ) -> bytes: ...

    async def open(self, table: Table, item: StoredItem) -> bytes: ...


class KeyWatch(Protocol):
    """Told the keys of the client's item calls (Contributor Insights, decision 0278)."""

    async def accessed(
        self, table: Table, index: str | None, keys: Sequence[str], throttled: bool
    ) -> None: ...

    async def forget(self, table: Table, index: str | None = None) -> None:
        """A table (or one of its indexes) deleted: what watched it goes."""
        ...


class DynamoObserver(Protocol):
    def consumed(self, table: Table, read_units: float, write_units: float) -> None: ...


@dataclass(frozen=True, slots=True)
class Page:
    """A query's or scan's page: the items kept, how many were read, where to go on."""

    items: list[Item]
    scanned: int
    last_key: Item | None
    read_units: float


def _now() -> int:
    return int(time.time() * 1000)


def read_units(size: int, consistent: bool) -> float:
    units = max(1, -(-size // _READ_UNIT))
    return float(units) if consistent else units / 2


def write_units(size: int) -> float:
    return float(max(1, -(-size // _WRITE_UNIT)))


class DynamoService:
    def __init__(
        self,
        store: DynamoStore,
        sealer: ItemSealer,
        region: str,
        limits: TableLimits,
        observer: DynamoObserver | None = None,
    ) -> None:
        self.store = store
        self.region = region
        self.limits = limits
        self._sealer = sealer
        self._observer = observer
        self.index_added: Callable[[], None] | None = None  # wakes the backfill (0254)
        self.throttle: ThroughputGate | None = None  # capacity enforced (decision 0267)
        self.stream_shards = ShardLayout()  # how its new streams are split (decision 0275)
        self.insights: KeyWatch | None = None  # Contributor Insights (decision 0278)

    # --- tables -----------------------------------------------------------------------------

    async def create_table(
        self,
        tenant_id: str,
        name: str,
        hash_key: KeyElement,
        sort_key: KeyElement | None,
        attributes: Sequence[KeyElement],
        billing_mode: BillingMode,
        read_capacity: int,
        write_capacity: int,
        tags: Sequence[tuple[str, str]],
        sse_kms: bool,
        indexes: Sequence[SecondaryIndex] = (),
    ) -> Table:
        now = _now()
        table = Table(
            tenant_id=tenant_id,
            name=name,
            region=self.region,
            created=now,
            hash_key=hash_key,
            sort_key=sort_key,
            attributes=tuple(attributes),
            billing_mode=billing_mode,
            read_capacity=read_capacity,
            write_capacity=write_capacity,
            wrapped_key=await self._sealer.new_table_key(tenant_id),
            tags=tuple(tags),
            sse_kms=sse_kms,
            billing_changed=now,
            indexes=tuple(indexes),
        )
        await self.store.create_table(table, self.limits.max_tables)
        return table

    async def table(self, tenant_id: str, name: str) -> Table:
        table = await self.store.get_table(tenant_id, name)
        if table is None:
            raise TableNotFound(f"Requested resource not found: Table: {name} not found")
        return table

    async def usage(self, table: Table) -> tuple[int, int]:
        return await self.store.usage(table.tenant_id, table.name)

    async def index_usage(self, table: Table) -> dict[str, tuple[int, int]]:
        if not table.indexes:
            return {}
        return await self.store.index_usage(table.tenant_id, table.name)

    async def table_names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        return await self.store.table_names(tenant_id, after, limit)

    async def delete_table(self, tenant_id: str, name: str) -> Table:
        table = await self.table(tenant_id, name)
        if not await self.store.delete_table(tenant_id, name):
            raise TableNotFound(f"Requested resource not found: Table: {name} not found")
        await self.store.end_stream(tenant_id, name, _now())  # readable 24 h on (decision 0246)
        if self.insights is not None:  # its Contributor Insights rules go with it (0278)
            await self.insights.forget(table)
        return table

    async def change_table(self, table: Table, **changes: object) -> Table:
        """``table`` with ``changes`` written if no other change came first (else retried by
        the caller's next call: DynamoDB answers ResourceInUseException)."""
        changed = dataclasses.replace(table, revision=table.revision + 1, **changes)  # type: ignore[arg-type]
        if not await self.store.replace_table(changed):
            raise TableInUse(f"Attempt to change a resource which is still in use: {table.name}")
        return changed

    async def enable_ttl(self, table: Table, attribute: str | None) -> Table:
        """The table's time to live set (or disabled), and every item's expiry recomputed."""
        changed = await self.change_table(table, ttl_attribute=attribute)
        await self._rewrite(changed)
        return changed

    async def add_index(self, table: Table, index: SecondaryIndex) -> Table:
        """``index`` added to the table CREATING, written by every write from now on; its
        backfill from the items already held is ``dynamodb.backfill``'s (decision 0254)."""
        added = dataclasses.replace(index, backfilling=True)
        changed = await self.change_table(table, indexes=(*table.indexes, added))
        if self.index_added is not None:
            self.index_added()
        return changed

    async def refill(self, table: Table) -> None:
        """Every item's index entries and expiry recomputed under ``table``'s definition."""
        await self._rewrite(table)

    async def remove_index(self, table: Table, name: str) -> Table:
        kept = tuple(i for i in table.indexes if i.name != name)
        changed = await self.change_table(table, indexes=kept)
        await self.store.drop_index(table.tenant_id, table.name, name)
        if self.insights is not None:
            await self.insights.forget(table, name)
        return changed

    async def _rewrite(self, table: Table) -> None:
        """Every item's expiry and index entries recomputed under ``table``'s definition, 100
        items a read; an item written meanwhile was written under it already."""
        after: tuple[bytes, bytes] | None = None
        while True:
            rows = await self.store.scan(table.tenant_id, table.name, ScanRange(), after, _BATCH)
            for row in rows:
                await self._recompute(table, row)
            if len(rows) < _BATCH:
                return
            after = (rows[-1].hash_token, rows[-1].sort_token)

    async def _recompute(self, table: Table, row: StoredItem) -> None:
        """One item's expiry and index entries rewritten; read again when another write came
        between (that write may have read the table's definition before it changed)."""
        held: StoredItem | None = row
        for _ in range(_ATTEMPTS):
            if held is None:
                return  # deleted meanwhile
            item = await self.open_item(table, held)
            moved = dataclasses.replace(
                held,
                revision=held.revision + 1,
                expires=_expiry(table, item),
                index_keys=await index_keys(table, item, self._sealer.hash_token),
            )
            if await self.store.put_item(table.tenant_id, table.name, moved, held.revision):
                return
            held = await self.store.get_item(
                table.tenant_id, table.name, row.hash_token, row.sort_token
            )
        raise _contended(table)

    # --- items ------------------------------------------------------------------------------

    async def _tokens(self, table: Table, key: Item) -> tuple[bytes, bytes]:
        hash_token = await self._sealer.hash_token(table, canonical_key(key[table.hash_key.name]))
        sort = table.sort_key
        return hash_token, b"" if sort is None else sort_encoding(key[sort.name])

    async def request_digest(self, table: Table, canonical: bytes) -> bytes:
        """The MAC of a transaction's request under ``table``'s key (decision 0259), apart
        from every hash-key MAC by its prefix."""
        return await self._sealer.hash_token(table, b"transaction-request\0" + canonical)

    async def open_item(self, table: Table, stored: StoredItem) -> Item:
        opened: Item = json.loads(await self._sealer.open(table, stored))
        return opened

    async def held(self, table: Table, key: Item) -> tuple[bytes, bytes, StoredItem | None]:
        hash_token, sort_token = await self._tokens(table, key)
        stored = await self.store.get_item(table.tenant_id, table.name, hash_token, sort_token)
        return hash_token, sort_token, stored

    async def get_item(self, table: Table, key: Item, consistent: bool) -> Item | None:
        key = check_key(table, key)
        await self._enter(table, False, _key_values(table, key))
        _, _, stored = await self.held(table, key)
        self.consumed(table, read_units(0 if stored is None else stored.size, consistent), 0)
        return None if stored is None else await self.open_item(table, stored)

    async def put_item(self, table: Table, item: Item, condition: Condition | None) -> Item | None:
        """``item`` written (its condition holding over the item it replaces); the item it
        replaced, if any."""
        key = key_of(table, item)
        size = self.check_size(item)
        await self._enter(table, True, _key_values(table, key))
        for _ in range(_ATTEMPTS):
            hash_token, sort_token, stored = await self.held(table, key)
            old = None if stored is None else await self.open_item(table, stored)
            if condition is not None and not matches(old or {}, condition):
                raise ConditionFailed(old)
            if await self._write(table, hash_token, sort_token, item, size, stored, old):
                units = write_units(max(size, stored.size if stored else 0))
                self.consumed(table, 0, units, index_writes(table, old, item))
                return old
        raise _contended(table)

    async def update_item(
        self, table: Table, key: Item, update: Update | None, condition: Condition | None
    ) -> tuple[Item | None, Item]:
        """The item at ``key`` updated (made if absent), its condition holding: (old, new)."""
        key = check_key(table, key)
        await self._enter(table, True, _key_values(table, key))
        for _ in range(_ATTEMPTS):
            hash_token, sort_token, stored = await self.held(table, key)
            old = None if stored is None else await self.open_item(table, stored)
            if condition is not None and not matches(old or {}, condition):
                raise ConditionFailed(old)
            new = updated(table, key, old, update)
            size = self.check_size(new)
            if await self._write(table, hash_token, sort_token, new, size, stored, old):
                units = write_units(max(size, stored.size if stored else 0))
                self.consumed(table, 0, units, index_writes(table, old, new))
                return old, new
        raise _contended(table)

    async def delete_item(
        self, table: Table, key: Item, condition: Condition | None
    ) -> Item | None:
        key = check_key(table, key)
        await self._enter(table, True, _key_values(table, key))
        for _ in range(_ATTEMPTS):
            hash_token, sort_token, stored = await self.held(table, key)
            old = None if stored is None else await self.open_item(table, stored)
            if condition is not None and not matches(old or {}, condition):
                raise ConditionFailed(old)
            if stored is None:
                self.consumed(table, 0, 1)
                return None
            record = change_record(table, stored, None, old, None, _now())
            if await self.store.delete_item(
                table.tenant_id, table.name, hash_token, sort_token, stored.revision, record
            ):
                self.consumed(table, 0, write_units(stored.size), index_writes(table, old, None))
                return old
        raise _contended(table)

    def check_size(self, item: Item) -> int:
        size = item_size(item)
        if size > self.limits.max_item_size:
            raise ValidationError("Item size has exceeded the maximum allowed size")
        return size

    async def row(
        self,
        table: Table,
        hash_token: bytes,
        sort_token: bytes,
        item: Item,
        size: int,
        stored: StoredItem | None,
    ) -> StoredItem:
        """``item`` sealed as the row that follows ``stored`` (None: the first)."""
        placed = await index_keys(table, item, self._sealer.hash_token)
        data = json.dumps(item, separators=(",", ":"), sort_keys=True).encode()
        sealed = await self._sealer.seal(table, hash_token, sort_token, data)
        return StoredItem(
            hash_token,
            sort_token,
            sealed,
            size,
            revision=1 if stored is None else stored.revision + 1,
            expires=_expiry(table, item),
            index_keys=placed,
        )

    async def _write(
        self,
        table: Table,
        hash_token: bytes,
        sort_token: bytes,
        item: Item,
        size: int,
        stored: StoredItem | None,
        old: Item | None,
    ) -> bool:
        row = await self.row(table, hash_token, sort_token, item, size, stored)
        expected = ABSENT if stored is None else stored.revision
        record = change_record(table, stored, row, old, item, _now())
        return await self.store.put_item(table.tenant_id, table.name, row, expected, record)

    # --- queries and scans ------------------------------------------------------------------

    async def query(
        self,
        table: Table,
        keys: KeyRange,
        forward: bool,
        start: Item | None,
        limit: int | None,
        filter_: Condition | None,
        consistent: bool,
    ) -> Page:
        await self._enter(table, False, (keys.hash_value,))
        hash_token = await self._sealer.hash_token(table, canonical_key(keys.hash_value))
        after: bytes | None = None
        if start is not None:
            start_hash, after = await self._tokens(table, check_key(table, start))
            if start_hash != hash_token:
                raise ValidationError(
                    "The provided starting key is invalid: The provided key "
                    "element does not match the schema"
                )

        async def rows(position: bytes | None, count: int) -> list[tuple[object, StoredItem]]:
            found = await self.store.query(
                table.tenant_id,
                table.name,
                hash_token,
                keys.low,
                keys.high,
                forward,
                position,
                count,
            )
            return [(r.sort_token, r) for r in found]

        return await self._page(table, rows, after, limit, filter_, consistent, table.key_names)

    async def scan(
        self,
        table: Table,
        segment: ScanRange,
        start: Item | None,
        limit: int | None,
        filter_: Condition | None,
        consistent: bool,
    ) -> Page:
        after: tuple[bytes, bytes] | None = None
        if start is not None:
            after = await self._tokens(table, check_key(table, start))

        async def rows(
            position: tuple[bytes, bytes] | None, count: int
        ) -> list[tuple[object, StoredItem]]:
            found = await self.store.scan(table.tenant_id, table.name, segment, position, count)
            return [((r.hash_token, r.sort_token), r) for r in found]

        return await self._page(table, rows, after, limit, filter_, consistent, table.key_names)

    async def _index_start(self, table: Table, index: SecondaryIndex, start: Item) -> IndexPosition:
        names = set(table.key_names) | set(index.key_names)
        if set(start) != names:
            raise ValidationError(
                "The provided starting key is invalid: The provided key element does not "
                "match the schema"
            )
        table_key = check_key(table, {n: start[n] for n in table.key_names})
        item_hash, item_sort = await self._tokens(table, table_key)
        placed = await index_keys(table, start, self._sealer.hash_token)
        mine = [k for k in placed if k.index == index.name]
        if not mine:
            raise ValidationError("The provided starting key is invalid")
        return (mine[0].hash_token, mine[0].sort_token, item_hash, item_sort)

    async def query_index(
        self,
        table: Table,
        index: SecondaryIndex,
        keys: KeyRange,
        forward: bool,
        start: Item | None,
        limit: int | None,
        filter_: Condition | None,
        whole: bool,
    ) -> Page:
        """A query on ``index``: its items in index sort key order (then table key), each as
        the index projects it unless ``whole`` (a local index reads the table's item)."""
        await self._enter(table, False, (keys.hash_value,), index.name)
        hash_token = await self._sealer.hash_token(
            table, index_hash_input(index.name, keys.hash_value)
        )
        after: IndexPosition | None = None
        if start is not None:
            after = await self._index_start(table, index, start)
            if after[0] != hash_token:
                raise ValidationError(
                    "The provided starting key is invalid: The provided key "
                    "element does not match the schema"
                )

        async def rows(
            position: IndexPosition | None, count: int
        ) -> list[tuple[object, StoredItem]]:
            found = await self.store.query_index(
                table.tenant_id,
                table.name,
                index.name,
                hash_token,
                keys.low,
                keys.high,
                forward,
                position,
                count,
            )
            return [((k.hash_token, k.sort_token, r.hash_token, r.sort_token), r) for k, r in found]

        names = table.key_names + tuple(n for n in index.key_names if n not in table.key_names)
        shape = None if whole else index
        return await self._page(table, rows, after, limit, filter_, False, names, shape)

    async def scan_index(
        self,
        table: Table,
        index: SecondaryIndex,
        segment: ScanRange,
        start: Item | None,
        limit: int | None,
        filter_: Condition | None,
        whole: bool,
    ) -> Page:
        after = None if start is None else await self._index_start(table, index, start)

        async def rows(
            position: IndexPosition | None, count: int
        ) -> list[tuple[object, StoredItem]]:
            found = await self.store.scan_index(
                table.tenant_id, table.name, index.name, segment, position, count
            )
            return [((k.hash_token, k.sort_token, r.hash_token, r.sort_token), r) for k, r in found]

        names = table.key_names + tuple(n for n in index.key_names if n not in table.key_names)
        shape = None if whole else index
        return await self._page(table, rows, after, limit, filter_, False, names, shape)

    async def _page(
        self,
        table: Table,
        rows: object,
        after: object,
        limit: int | None,
        filter_: Condition | None,
        consistent: bool,
        key_names: tuple[str, ...],
        shape: SecondaryIndex | None = None,
    ) -> Page:
        """Items read in order until ``limit`` were read or a page's bytes (1 MB) were; the
        filter applies to what was read, as DynamoDB's does."""
        self._admit(table, write=False)
        kept: list[Item] = []
        scanned = 0
        size = 0
        last: Item | None = None
        position = after
        while True:
            want = _BATCH if limit is None else min(_BATCH, limit - scanned)
            batch = await rows(position, want)  # type: ignore[operator]
            for at, row in batch:
                position = at
                item = await self.open_item(table, row)
                if shape is not None:  # what the index holds, before the filter (decision 0243)
                    item = projected(table, shape, item)
                scanned += 1
                size += row.size
                if filter_ is None or matches(item, filter_):
                    kept.append(item)
                if (limit is not None and scanned >= limit) or size >= self.limits.page_size:
                    last = {n: item[n] for n in key_names}
                    break
            else:
                if len(batch) < want or not batch:
                    break
                continue
            break
        units = read_units(size, consistent)
        self.consumed(table, units, 0)
        return Page(kept, scanned, last, units)

    def consumed(
        self, table: Table, read: float, write: float, by_index: Mapping[str, float] | None = None
    ) -> None:
        """Units billed (``write`` the table's own, ``by_index`` each index's writes) and told
        to the call's capacity tally (decision 0247)."""
        own = write
        read, write = capacity.record(table, read, write, by_index or {})
        if self.throttle is not None and capacity.measured():  # reads scaled by the tally
            self.throttle.spend(table, read, own, by_index or {}, capacity.reading())
            partition = capacity.paid()  # its hot-partition share (decision 0291)
            if partition is not None:
                self.throttle.spend_key(table, partition[0], partition[1], read, own)
        if self._observer is not None:
            self._observer.consumed(table, read, write)

    async def _enter(
        self,
        table: Table,
        write: bool,
        keys: Sequence[Mapping[str, Any]],
        index: str | None = None,
    ) -> None:
        """:meth:`_admit`, the call's key told to Contributor Insights whether it is let in
        or throttled (decision 0278; a client's call only, as capacity is)."""
        watch = self.insights if capacity.measured() else None
        try:
            self._admit(table, write)
            if keys and self.throttle is not None:
                self._admit_key(table, write, key_text(keys[0]), index)
        except ThroughputExceeded:
            if watch is not None:
                await watch.accessed(table, index, [key_text(k) for k in keys], True)
            raise
        if watch is not None:
            await watch.accessed(table, index, [key_text(k) for k in keys], False)

    async def tell_insights(self, table: Table, key: Item, throttled: bool) -> None:
        """An item of a write transaction told to Contributor Insights as a single write's
        (decision 0278): the transaction is admitted as a whole, not by :meth:`_enter`."""
        if self.insights is not None and capacity.measured():
            values = [key_text(k) for k in _key_values(table, key)]
            await self.insights.accessed(table, None, values, throttled)

    def _admit(self, table: Table, write: bool) -> None:
        """Refused (``ThroughputExceeded``) while the capacity it draws on is spent (a
        client's call: an import's writes are not, as AWS's do not consume capacity)."""
        if self.throttle is not None and capacity.measured():
            self.throttle.admit(table, write, capacity.reading())

    def _admit_key(self, table: Table, write: bool, key: str, index: str | None) -> None:
        """Refused while the partition key value's own throughput is spent (decision 0291)."""
        if self.throttle is not None and capacity.measured():
            self.throttle.admit_key(table, write, index, key)
            capacity.entered(index, key)

    async def expire(self, limit: int = 1000) -> dict[tuple[str, str], int]:
        """Items past their time to live deleted, at most ``limit``: how many of each
        (account, table)."""
        return await self.store.expire(int(time.time()), limit)


def updated(table: Table, key: Item, old: Item | None, update: Update | None) -> Item:
    """The item at ``key`` (``old``, or the key alone) with ``update`` applied."""
    new = dict(old or key)
    if update is None:
        return new
    for action in update.actions:
        if action.path.elements[0] in table.key_names:
            raise ValidationError(
                "One or more parameter values were invalid: Cannot update attribute "
                f"{action.path.elements[0]}. This attribute is part of the key"
            )
    return apply_update(new, update)


def _expiry(table: Table, item: Item) -> int | None:
    if table.ttl_attribute is None:
        return None
    value = item.get(table.ttl_attribute)
    if value is None or "N" not in value:
        return None
    try:
        return int(float(value["N"]))
    except (ValueError, OverflowError):
        return None


def _key_values(table: Table, key: Item) -> tuple[Mapping[str, Any], ...]:
    """The key's partition value, then its sort value if the table has a sort key."""
    sort = table.sort_key
    return (
        (key[table.hash_key.name],) if sort is None else (key[table.hash_key.name], key[sort.name])
    )


def partition_text(table: Table, key: Item) -> str:
    """The partition key value of ``key`` as the hot-partition buckets know it (0291)."""
    return key_text(key[table.hash_key.name])


def _contended(table: Table) -> WriteContention:
    return WriteContention(f"Too many concurrent writes to one item of table {table.name}")
