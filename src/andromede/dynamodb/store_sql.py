"""Tables and their items over the metadata database (SQLite or PostgreSQL), the tables of
migration 0115 (decision 0237).

Keys are ``LargeBinary`` columns, compared bytewise by both databases (SQLite's BLOB
``memcmp``, PostgreSQL's ``bytea``), so the sort token's order is DynamoDB's whatever the
database's collation. A conditional write is one statement guarded by the revision the
service read (an insert that the primary key refuses when the item appeared meanwhile). The
account's table count is checked before the insert: two gateways creating at the same
instant may pass it by one, a quota not a guarantee (as decision 0228's streams).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.dynamodb.idempotency import SqlTokenStore
from andromede.dynamodb.kinesis_destinations import KinesisDestination
from andromede.dynamodb.kinesis_forward_queue_sql import (
    SqlForwardQueue,
    drop_forwards,
    forget_forwards,
)
from andromede.dynamodb.memory import expired, in_use, too_many_tables
from andromede.dynamodb.model import (
    BillingMode,
    IndexKey,
    KeyElement,
    SecondaryIndex,
    StoredItem,
    Table,
)
from andromede.dynamodb.store import ABSENT, Bound, IndexPosition, ScanRange, TransactWrite
from andromede.dynamodb.store_sql_streams import SqlStreamStore, append_changes, forget_streams
from andromede.dynamodb.streams import ChangeRecord

__all__ = ["SqlDynamoStore"]

_T = tables.dynamodb_tables
_I = tables.dynamodb_items
_X = tables.dynamodb_index_entries
_K = tables.dynamodb_transaction_tokens
FORMAT_VERSION: Final = 1


def _element(pair: list[str] | None) -> KeyElement | None:
    return None if pair is None else KeyElement(pair[0], pair[1])


def _definition(table: Table) -> str:
    return json.dumps(
        {
            "hash": [table.hash_key.name, table.hash_key.type],
            "sort": None if table.sort_key is None else [table.sort_key.name, table.sort_key.type],
            "attributes": [[a.name, a.type] for a in table.attributes],
            "billing": table.billing_mode.value,
            "read": table.read_capacity,
            "write": table.write_capacity,
            "tags": [list(t) for t in table.tags],
            "ttl": table.ttl_attribute,
            "sse_kms": table.sse_kms,
            "billing_changed": table.billing_changed,
            "throughput_changed": table.throughput_changed,
            "stream_view": table.stream_view,
            "stream_label": table.stream_label,
            "deletion_protection": table.deletion_protection,  # decision 0253
            "restored_from": None if table.restored_from is None else list(table.restored_from),
            "pitr": None if table.pitr is None else list(table.pitr),
            "kms_key": table.kms_key_arn,  # decision 0254
            "kinesis": [d.stored() for d in table.kinesis],  # decision 0262
            "replicas": [list(r) for r in table.replicas],  # decision 0265
            "replica_progress": [list(r) for r in table.replica_progress],  # decision 0291
            "table_key": base64.b64encode(table.table_key).decode(),
            "on_demand": [table.max_read_requests, table.max_write_requests],  # decision 0267
            "decreases": [table.decreases_today, table.last_decrease],
            "indexes": [
                {
                    "name": i.name,
                    "local": i.local,
                    "hash": [i.hash_key.name, i.hash_key.type],
                    "sort": None if i.sort_key is None else [i.sort_key.name, i.sort_key.type],
                    "projection": i.projection,
                    "non_key": list(i.non_key),
                    "read": i.read_capacity,
                    "write": i.write_capacity,
                    "backfilling": i.backfilling,
                    "on_demand": [i.max_read_requests, i.max_write_requests],  # 0267
                }
                for i in table.indexes
            ],
        }
    )


def _index(d: dict[str, Any]) -> SecondaryIndex:
    hash_key = _element(d["hash"])
    assert hash_key is not None  # noqa: S101 (every index has one)
    return SecondaryIndex(
        name=d["name"],
        local=bool(d["local"]),
        hash_key=hash_key,
        sort_key=_element(d["sort"]),
        projection=d["projection"],
        non_key=tuple(d["non_key"]),
        read_capacity=int(d["read"]),
        write_capacity=int(d["write"]),
        backfilling=bool(d.get("backfilling", False)),
        max_read_requests=int(d.get("on_demand", (-1, -1))[0]),
        max_write_requests=int(d.get("on_demand", (-1, -1))[1]),
    )


def _table(m: Any) -> Table:
    d = json.loads(m["definition"])
    hash_key = _element(d["hash"])
    assert hash_key is not None  # noqa: S101 (every table has one)
    return Table(
        tenant_id=m["tenant_id"],
        name=m["table_name"],
        region=m["region"],
        created=int(m["created"]),
        hash_key=hash_key,
        sort_key=_element(d["sort"]),
        attributes=tuple(KeyElement(n, t) for n, t in d["attributes"]),
        billing_mode=BillingMode(d["billing"]),
        read_capacity=int(d["read"]),
        write_capacity=int(d["write"]),
        wrapped_key=bytes(m["wrapped_key"]),
        tags=tuple((str(k), str(v)) for k, v in d["tags"]),
        ttl_attribute=d["ttl"],
        sse_kms=bool(d["sse_kms"]),
        revision=int(m["revision"]),
        billing_changed=int(d["billing_changed"]),
        throughput_changed=int(d["throughput_changed"]),
        indexes=tuple(_index(i) for i in d.get("indexes", [])),
        stream_view=d.get("stream_view"),
        stream_label=d.get("stream_label"),
        deletion_protection=bool(d.get("deletion_protection", False)),
        restored_from=None if d.get("restored_from") is None else tuple(d["restored_from"]),
        pitr=None if d.get("pitr") is None else (int(d["pitr"][0]), int(d["pitr"][1])),
        kms_key_arn=d.get("kms_key"),
        table_key=base64.b64decode(d.get("table_key", "")),
        kinesis=tuple(KinesisDestination.from_stored(k) for k in d.get("kinesis", ())),
        max_read_requests=int(d.get("on_demand", (-1, -1))[0]),
        max_write_requests=int(d.get("on_demand", (-1, -1))[1]),
        decreases_today=int(d.get("decreases", (0, 0))[0]),
        last_decrease=int(d.get("decreases", (0, 0))[1]),
        replicas=tuple((str(r), str(s)) for r, s in d.get("replicas", ())),
        replica_progress=tuple((str(r), int(p)) for r, p in d.get("replica_progress", ())),
    )


def _item(m: Any) -> StoredItem:
    return StoredItem(
        hash_token=bytes(m["hash_token"]),
        sort_token=bytes(m["sort_token"]),
        sealed=bytes(m["sealed"]),
        size=int(m["size"]),
        revision=int(m["revision"]),
        expires=None if m["expires"] is None else int(m["expires"]),
    )


def _one(tenant_id: str, name: str) -> Any:
    return sa.and_(_T.c.tenant_id == tenant_id, _T.c.table_name == name)


def _items_of(tenant_id: str, name: str) -> Any:
    return sa.and_(_I.c.tenant_id == tenant_id, _I.c.table_name == name)


def _key(tenant_id: str, name: str, hash_token: bytes, sort_token: bytes) -> Any:
    return sa.and_(
        _items_of(tenant_id, name), _I.c.hash_token == hash_token, _I.c.sort_token == sort_token
    )


def _reindex(
    conn: Connection,
    tenant_id: str,
    name: str,
    hash_token: bytes,
    sort_token: bytes,
    keys: Sequence[IndexKey],
) -> None:
    """The item's index entries replaced by ``keys`` (none: removed), in the item's own
    database transaction (decision 0243)."""
    conn.execute(
        sa.delete(_X).where(
            _X.c.tenant_id == tenant_id,
            _X.c.table_name == name,
            _X.c.item_hash_token == hash_token,
            _X.c.item_sort_token == sort_token,
        )
    )
    if keys:
        conn.execute(
            sa.insert(_X),
            [
                {
                    "tenant_id": tenant_id,
                    "table_name": name,
                    "index_name": k.index,
                    "hash_token": k.hash_token,
                    "sort_token": k.sort_token,
                    "item_hash_token": hash_token,
                    "item_sort_token": sort_token,
                    "segment_point": int.from_bytes(k.hash_token[:4], "big"),
                }
                for k in keys
            ],
        )


def _entries_of(tenant_id: str, name: str, index: str) -> Any:
    """An index's entries joined to the items they point to."""
    joined = _X.join(
        _I,
        sa.and_(
            _I.c.tenant_id == _X.c.tenant_id,
            _I.c.table_name == _X.c.table_name,
            _I.c.hash_token == _X.c.item_hash_token,
            _I.c.sort_token == _X.c.item_sort_token,
        ),
    )
    return (
        sa.select(
            _I,
            _X.c.hash_token.label("index_hash_token"),
            _X.c.sort_token.label("index_sort_token"),
        )
        .select_from(joined)
        .where(_X.c.tenant_id == tenant_id, _X.c.table_name == name, _X.c.index_name == index)
    )


def _after(columns: Sequence[Any], position: Sequence[bytes], forward: bool) -> Any:
    """Rows strictly after ``position`` in the lexicographic order of ``columns``."""
    first, rest = columns[0], columns[1:]
    beyond = first > position[0] if forward else first < position[0]
    if not rest:
        return beyond
    return sa.or_(beyond, sa.and_(first == position[0], _after(rest, position[1:], forward)))


def _entry(index: str, m: Any) -> tuple[IndexKey, StoredItem]:
    key = IndexKey(index, bytes(m["index_hash_token"]), bytes(m["index_sort_token"]))
    return key, _item(m)


class _Refused(Exception):
    """A transaction's write found another revision: the whole transaction is rolled back."""


def _apply(conn: Connection, tenant_id: str, key: Any, write: TransactWrite) -> bool:
    if write.expected == ABSENT:
        absent = conn.execute(sa.select(_I.c.revision).where(key)).first() is None
        table = sa.select(_T.c.revision).where(_one(tenant_id, write.table))
        if not absent or conn.execute(table).first() is None:
            return False
        if write.row is None:
            return True
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(_I).values(
                    tenant_id=tenant_id, table_name=write.table, hash_token=write.hash_token,
                    sort_token=write.sort_token, **_row_values(write.row),
                ))  # fmt: skip
        except IntegrityError:
            return False
        _reindex(conn, tenant_id, write.table, write.hash_token, write.sort_token,
                 write.row.index_keys)  # fmt: skip
        return True
    held = sa.and_(key, _I.c.revision == write.expected)
    if write.row is not None:
        statement: Any = sa.update(_I).where(held).values(**_row_values(write.row))
    elif write.delete:
        statement = sa.delete(_I).where(held)
    else:
        return conn.execute(sa.select(_I.c.revision).where(held)).first() is not None
    if conn.execute(statement).rowcount != 1:
        return False
    keys = () if write.row is None else write.row.index_keys
    _reindex(conn, tenant_id, write.table, write.hash_token, write.sort_token, keys)
    return True


def _row_values(item: StoredItem) -> dict[str, Any]:
    return {
        "segment_point": item.segment_point,
        "sealed": item.sealed,
        "size": item.size,
        "revision": item.revision,
        "expires": item.expires,
    }


class SqlDynamoStore(SqlStreamStore, SqlTokenStore, SqlForwardQueue):
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_table(self, table: Table, max_tables: int) -> None:
        exists = sa.select(_T.c.revision).where(_one(table.tenant_id, table.name))
        count = sa.select(sa.func.count()).where(_T.c.tenant_id == table.tenant_id)

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is not None:
                raise in_use(table.name)
            if int(conn.execute(count).scalar_one()) >= max_tables:
                raise too_many_tables(max_tables)
            conn.execute(
                sa.insert(_T).values(
                    tenant_id=table.tenant_id,
                    table_name=table.name,
                    region=table.region,
                    created=table.created,
                    definition=_definition(table),
                    wrapped_key=table.wrapped_key,
                    revision=table.revision,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get_table(self, tenant_id: str, name: str) -> Table | None:
        query = sa.select(_T).where(_one(tenant_id, name))

        def work(conn: Connection) -> Table | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _table(row)

        return await self._db.read(work)

    async def table_names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        query = sa.select(_T.c.table_name).where(_T.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_T.c.table_name > after)
        query = query.order_by(_T.c.table_name).limit(limit)
        return await self._db.read(lambda conn: [str(r[0]) for r in conn.execute(query)])

    async def backfilling_tables(self) -> list[tuple[str, str]]:
        # The definition's JSON says so (no column of its own: no migration); the match is
        # confirmed on the parsed definition.
        query = sa.select(_T).where(_T.c.definition.like('%"backfilling": true%'))
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        found = [_table(r) for r in rows]
        return sorted((t.tenant_id, t.name) for t in found if any(i.backfilling for i in t.indexes))

    async def replace_table(self, table: Table) -> bool:
        statement = (
            sa.update(_T)
            .where(_one(table.tenant_id, table.name), _T.c.revision == table.revision - 1)
            .values(
                definition=_definition(table),
                revision=table.revision,
                wrapped_key=table.wrapped_key,  # a change of KMS key re-wraps it (decision 0254)
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def delete_table(self, tenant_id: str, name: str) -> bool:
        entries = sa.delete(_X).where(_X.c.tenant_id == tenant_id, _X.c.table_name == name)
        items = sa.delete(_I).where(_items_of(tenant_id, name))
        table = sa.delete(_T).where(_one(tenant_id, name))

        def work(conn: Connection) -> bool:
            conn.execute(entries)
            conn.execute(items)
            drop_forwards(conn, tenant_id, name)  # AWS stops streaming with the table (0262)
            return bool(conn.execute(table).rowcount == 1)

        return await self._db.write(work)

    async def usage(self, tenant_id: str, name: str) -> tuple[int, int]:
        query = sa.select(sa.func.count(), sa.func.sum(_I.c.size)).where(_items_of(tenant_id, name))

        def work(conn: Connection) -> tuple[int, int]:
            row = conn.execute(query).first()
            return (0, 0) if row is None else (int(row[0] or 0), int(row[1] or 0))

        return await self._db.read(work)

    async def get_item(
        self, tenant_id: str, name: str, hash_token: bytes, sort_token: bytes
    ) -> StoredItem | None:
        query = sa.select(_I).where(_key(tenant_id, name, hash_token, sort_token))

        def work(conn: Connection) -> StoredItem | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _item(row)

        return await self._db.read(work)

    async def put_item(
        self,
        tenant_id: str,
        name: str,
        item: StoredItem,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        where = _key(tenant_id, name, item.hash_token, item.sort_token)
        values = _row_values(item)
        table_exists = sa.select(_T.c.revision).where(_one(tenant_id, name))

        def write(conn: Connection) -> bool:
            if conn.execute(table_exists).first() is None:
                return False
            if expected is not None and expected != ABSENT:
                update = sa.update(_I).where(where, _I.c.revision == expected).values(**values)
                return bool(conn.execute(update).rowcount == 1)
            if (
                expected is None
                and conn.execute(sa.update(_I).where(where).values(**values)).rowcount == 1
            ):
                return True
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(_I).values(
                            tenant_id=tenant_id,
                            table_name=name,
                            hash_token=item.hash_token,
                            sort_token=item.sort_token,
                            **values,
                        )
                    )
            except IntegrityError:
                return False
            return True

        def work(conn: Connection) -> bool:
            if not write(conn):
                return False
            _reindex(conn, tenant_id, name, item.hash_token, item.sort_token, item.index_keys)
            if record is not None:
                append_changes(conn, tenant_id, [(name, record)])
            return True

        return await self._db.write(work)

    async def delete_item(
        self,
        tenant_id: str,
        name: str,
        hash_token: bytes,
        sort_token: bytes,
        expected: int | None,
        record: ChangeRecord | None = None,
    ) -> bool:
        statement = sa.delete(_I).where(_key(tenant_id, name, hash_token, sort_token))
        if expected is not None:
            statement = statement.where(_I.c.revision == expected)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount != 1:
                return False
            _reindex(conn, tenant_id, name, hash_token, sort_token, ())
            if record is not None:
                append_changes(conn, tenant_id, [(name, record)])
            return True

        return await self._db.write(work)

    async def transact(self, tenant_id: str, writes: Sequence[TransactWrite]) -> bool:
        def work(conn: Connection) -> bool:
            for write in writes:
                key = _key(tenant_id, write.table, write.hash_token, write.sort_token)
                if not _apply(conn, tenant_id, key, write):
                    raise _Refused
            changes = [(w.table, w.record) for w in writes if w.record is not None]
            append_changes(conn, tenant_id, changes)
            return True

        try:
            return await self._db.write(work)
        except _Refused:
            return False

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
        column = _I.c.sort_token
        query = sa.select(_I).where(_items_of(tenant_id, name), _I.c.hash_token == hash_token)
        if low is not None:
            query = query.where(column >= low.token if low.inclusive else column > low.token)
        if high is not None:
            query = query.where(column <= high.token if high.inclusive else column < high.token)
        if after is not None:
            query = query.where(column > after if forward else column < after)
        query = query.order_by(column if forward else column.desc()).limit(limit)
        return await self._db.read(lambda conn: [_item(m) for m in conn.execute(query).mappings()])

    async def scan(
        self,
        tenant_id: str,
        name: str,
        segment: ScanRange,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        query = sa.select(_I).where(
            _items_of(tenant_id, name),
            _I.c.segment_point >= segment.low,
            _I.c.segment_point < segment.high,
        )
        if after is not None:
            query = query.where(
                sa.or_(
                    _I.c.hash_token > after[0],
                    sa.and_(_I.c.hash_token == after[0], _I.c.sort_token > after[1]),
                )
            )
        query = query.order_by(_I.c.hash_token, _I.c.sort_token).limit(limit)
        return await self._db.read(lambda conn: [_item(m) for m in conn.execute(query).mappings()])

    async def expire(self, now: int, limit: int) -> dict[tuple[str, str], int]:
        due = sa.select(_I).where(_I.c.expires <= now).limit(limit)

        def work(conn: Connection) -> dict[tuple[str, str], int]:
            removed: dict[str, list[tuple[str, ChangeRecord]]] = {}
            for row in conn.execute(due).mappings().all():
                where = (row["tenant_id"], row["table_name"], row["hash_token"], row["sort_token"])
                deleted = sa.delete(_I).where(
                    _key(*where), _I.c.revision == row["revision"], _I.c.expires <= now
                )
                if conn.execute(deleted).rowcount == 1:
                    _reindex(conn, *where, ())
                    removed.setdefault(where[0], []).append((where[1], expired(_item(row), now)))
            # The streams' rows locked last, in order, as every write locks them (no deadlock).
            for tenant_id in sorted(removed):
                append_changes(conn, tenant_id, removed[tenant_id])
            counted: dict[tuple[str, str], int] = {}
            for tenant_id, changes in removed.items():
                for table_name, _ in changes:
                    counted[(tenant_id, table_name)] = counted.get((tenant_id, table_name), 0) + 1
            return counted

        return await self._db.write(work)

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
        column = _X.c.sort_token
        query = _entries_of(tenant_id, name, index).where(_X.c.hash_token == hash_token)
        if low is not None:
            query = query.where(column >= low.token if low.inclusive else column > low.token)
        if high is not None:
            query = query.where(column <= high.token if high.inclusive else column < high.token)
        order = [column, _X.c.item_hash_token, _X.c.item_sort_token]
        if after is not None:
            query = query.where(_after(order, after[1:], forward))
        query = query.order_by(*(order if forward else [c.desc() for c in order])).limit(limit)
        return await self._db.read(
            lambda conn: [_entry(index, m) for m in conn.execute(query).mappings()]
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
        query = _entries_of(tenant_id, name, index).where(
            _X.c.segment_point >= segment.low, _X.c.segment_point < segment.high
        )
        order = [_X.c.hash_token, _X.c.sort_token, _X.c.item_hash_token, _X.c.item_sort_token]
        if after is not None:
            query = query.where(_after(order, after, True))
        query = query.order_by(*order).limit(limit)
        return await self._db.read(
            lambda conn: [_entry(index, m) for m in conn.execute(query).mappings()]
        )

    async def index_usage(self, tenant_id: str, name: str) -> dict[str, tuple[int, int]]:
        query = (
            sa.select(_X.c.index_name, sa.func.count(), sa.func.sum(_I.c.size))
            .select_from(
                _X.join(
                    _I,
                    sa.and_(
                        _I.c.tenant_id == _X.c.tenant_id,
                        _I.c.table_name == _X.c.table_name,
                        _I.c.hash_token == _X.c.item_hash_token,
                        _I.c.sort_token == _X.c.item_sort_token,
                    ),
                )
            )
            .where(_X.c.tenant_id == tenant_id, _X.c.table_name == name)
            .group_by(_X.c.index_name)
        )
        return await self._db.read(
            lambda conn: {str(r[0]): (int(r[1]), int(r[2] or 0)) for r in conn.execute(query)}
        )

    async def drop_index(self, tenant_id: str, name: str, index: str) -> None:
        statement = sa.delete(_X).where(
            _X.c.tenant_id == tenant_id, _X.c.table_name == name, _X.c.index_name == index
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def forget_tenant(self, tenant_id: str) -> int:
        entries = sa.delete(_X).where(_X.c.tenant_id == tenant_id)
        items = sa.delete(_I).where(_I.c.tenant_id == tenant_id)
        tables_of = sa.delete(_T).where(_T.c.tenant_id == tenant_id)
        tokens = sa.delete(_K).where(_K.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(entries)
            conn.execute(items)
            forget_streams(conn, tenant_id)
            forget_forwards(conn, tenant_id)  # decision 0262
            conn.execute(tokens)
            return int(conn.execute(tables_of).rowcount)

        return await self._db.write(work)
