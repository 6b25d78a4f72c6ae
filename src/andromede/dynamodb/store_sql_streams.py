"""DynamoDB's streams and change records over the metadata database, the tables of migration
0119 (decision 0246): the :class:`~andromede.dynamodb.stream_store.StreamStore` half of
``SqlDynamoStore``, and :func:`append_changes`, which the item writes call inside their own
database transaction.

Appending reads the table's enabled stream's row ``FOR UPDATE`` (PostgreSQL; SQLite has one
writer), takes the next numbers from its counter (never below a record's time, decision 0275)
and inserts the records: the row's lock is
held to the commit, so records are numbered in the order their writes commit, and a reader
never sees a number appear below one it has read. A transaction over several tables locks
their streams in name order, after its items, so two of them cannot wait on each other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import DYNAMODB_STREAMS, queued
from andromede.dynamodb.history_sql import append_versions
from andromede.dynamodb.kinesis_forward_queue_sql import queue_forwards
from andromede.dynamodb.model import KeyElement
from andromede.dynamodb.stream_shards import ShardScan
from andromede.dynamodb.streams import (
    SHARD_LIFETIME_MS,
    ChangeRecord,
    Stream,
    StreamRecord,
    StreamViewType,
    next_sequence,
)

__all__ = ["SqlStreamStore", "append_changes"]

_S = tables.dynamodb_streams
_R = tables.dynamodb_stream_records
FORMAT_VERSION: Final = 1
_PAGE: Final = 200


def _stream(m: Any) -> Stream:
    d = json.loads(m["definition"])
    return Stream(
        tenant_id=m["tenant_id"],
        table_name=m["table_name"],
        label=m["label"],
        region=m["region"],
        created=int(m["created"]),
        view_type=StreamViewType(d["view"]),
        hash_key=KeyElement(*d["hash"]),
        sort_key=None if d["sort"] is None else KeyElement(*d["sort"]),
        table_created=int(m["table_created"]),
        wrapped_key=bytes(m["wrapped_key"]),
        iterator_key=bytes(m["iterator_key"]),
        disabled=int(m["disabled"]),
        next_sequence=int(m["next_sequence"]),
        trimmed_to=int(m["trimmed_to"]),
        # Decision 0275: absent from the streams made before it (one shard, rolled as AWS's).
        partitions=int(d.get("partitions", 1)),
        shard_lifetime_ms=int(d.get("shard_lifetime_ms", SHARD_LIFETIME_MS)),
    )


def _of_table(tenant_id: str, table_name: str) -> Any:
    return sa.and_(_S.c.tenant_id == tenant_id, _S.c.table_name == table_name)


def _enabled(tenant_id: str, table_name: str) -> Any:
    return sa.and_(_of_table(tenant_id, table_name), _S.c.disabled == 0)


def append_changes(
    conn: Connection, tenant_id: str, changes: Sequence[tuple[str, ChangeRecord]]
) -> None:
    """Each (table, record) appended to its table's enabled stream, if it has one, to its
    history when its point-in-time recovery is on (decision 0253), and to its Kinesis
    forwarding queue when it has a destination (decision 0262)."""
    append_versions(conn, tenant_id, changes)
    queue_forwards(conn, tenant_id, changes)  # decision 0262
    by_table: dict[str, list[ChangeRecord]] = {}
    for table_name, record in changes:
        by_table.setdefault(table_name, []).append(record)
    for table_name in sorted(by_table):
        records = by_table[table_name]
        held = conn.execute(
            sa.select(_S.c.label, _S.c.next_sequence)
            .where(_enabled(tenant_id, table_name))
            .with_for_update()
        ).first()
        if held is None:
            continue
        label, counter = str(held[0]), int(held[1])
        numbers: list[int] = []
        for r in records:
            numbers.append(next_sequence(counter, r.created))  # decision 0275
            counter = numbers[-1] + 1
        conn.execute(
            sa.update(_S)
            .where(_of_table(tenant_id, table_name), _S.c.label == label)
            .values(next_sequence=counter)
        )
        conn.execute(
            sa.insert(_R),
            [
                {
                    "tenant_id": tenant_id,
                    "table_name": table_name,
                    "label": label,
                    "sequence": numbers[n],
                    "created": r.created,
                    "event": r.event,
                    "hash_token": r.hash_token,
                    "sort_token": r.sort_token,
                    "old_sealed": r.old_sealed,
                    "new_sealed": r.new_sealed,
                    "size": r.size,
                    "by_service": r.by_service,
                }
                for n, r in enumerate(records)
            ],
        )
        queued(conn, DYNAMODB_STREAMS)  # the stream readers' bells, once committed (0331)


def _change(m: Any) -> StreamRecord:
    return StreamRecord(
        int(m["sequence"]),
        ChangeRecord(
            event=str(m["event"]),
            hash_token=bytes(m["hash_token"]),
            sort_token=bytes(m["sort_token"]),
            old_sealed=None if m["old_sealed"] is None else bytes(m["old_sealed"]),
            new_sealed=None if m["new_sealed"] is None else bytes(m["new_sealed"]),
            size=int(m["size"]),
            created=int(m["created"]),
            by_service=bool(m["by_service"]),
        ),
    )


def forget_streams(conn: Connection, tenant_id: str) -> None:
    conn.execute(sa.delete(_R).where(_R.c.tenant_id == tenant_id))
    conn.execute(sa.delete(_S).where(_S.c.tenant_id == tenant_id))


class SqlStreamStore:
    _db: Database

    async def create_stream(self, stream: Stream) -> None:
        definition = json.dumps(
            {
                "view": stream.view_type.value,
                "hash": [stream.hash_key.name, stream.hash_key.type],
                "sort": None
                if stream.sort_key is None
                else [stream.sort_key.name, stream.sort_key.type],
                "partitions": stream.partitions,
                "shard_lifetime_ms": stream.shard_lifetime_ms,
            }
        )

        def work(conn: Connection) -> None:
            conn.execute(
                sa.update(_S)
                .where(_enabled(stream.tenant_id, stream.table_name))
                .values(disabled=stream.created)
            )
            conn.execute(
                sa.insert(_S).values(
                    tenant_id=stream.tenant_id,
                    table_name=stream.table_name,
                    label=stream.label,
                    region=stream.region,
                    created=stream.created,
                    definition=definition,
                    table_created=stream.table_created,
                    wrapped_key=stream.wrapped_key,
                    iterator_key=stream.iterator_key,
                    disabled=stream.disabled,
                    next_sequence=stream.next_sequence,
                    trimmed_to=stream.trimmed_to,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def end_stream(self, tenant_id: str, table_name: str, at: int) -> None:
        statement = sa.update(_S).where(_enabled(tenant_id, table_name)).values(disabled=at)
        await self._db.write(lambda conn: conn.execute(statement))

    async def get_stream(self, tenant_id: str, table_name: str, label: str) -> Stream | None:
        query = sa.select(_S).where(_of_table(tenant_id, table_name), _S.c.label == label)

        def work(conn: Connection) -> Stream | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _stream(row)

        return await self._db.read(work)

    async def list_streams(
        self, tenant_id: str, table_name: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[Stream]:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id)
        if table_name is not None:
            query = query.where(_S.c.table_name == table_name)
        if after is not None:
            query = query.where(
                sa.or_(
                    _S.c.table_name > after[0],
                    sa.and_(_S.c.table_name == after[0], _S.c.label > after[1]),
                )
            )
        query = query.order_by(_S.c.table_name, _S.c.label).limit(limit)
        return await self._db.read(
            lambda conn: [_stream(m) for m in conn.execute(query).mappings()]
        )

    async def read_changes(
        self,
        tenant_id: str,
        table_name: str,
        label: str,
        start: int,
        limit: int,
        max_bytes: int,
    ) -> list[StreamRecord]:
        def page(at: int, count: int) -> Any:
            return (
                sa.select(_R)
                .where(
                    _R.c.tenant_id == tenant_id,
                    _R.c.table_name == table_name,
                    _R.c.label == label,
                    _R.c.sequence >= at,
                )
                .order_by(_R.c.sequence)
                .limit(count)
            )

        def work(conn: Connection) -> list[StreamRecord]:
            found: list[StreamRecord] = []
            size, at = 0, start
            while len(found) < limit:
                rows = conn.execute(page(at, min(_PAGE, limit - len(found)))).mappings().all()
                for row in rows:
                    record = _change(row)
                    if found and size + record.change.size > max_bytes:
                        return found
                    found.append(record)
                    size += record.change.size
                if len(rows) < _PAGE:
                    return found
                at = found[-1].sequence + 1
            return found

        return await self._db.read(work)

    async def read_shard(
        self, tenant_id: str, table_name: str, label: str, start: int, scan: ShardScan
    ) -> None:
        def page(at: int) -> Any:
            return (
                sa.select(_R)
                .where(
                    _R.c.tenant_id == tenant_id,
                    _R.c.table_name == table_name,
                    _R.c.label == label,
                    _R.c.sequence >= at,
                    _R.c.sequence < scan.end,
                )
                .order_by(_R.c.sequence)
                .limit(_PAGE)
            )

        def work(conn: Connection) -> None:
            at = start
            while True:
                rows = conn.execute(page(at)).mappings().all()
                for row in rows:
                    record = _change(row)
                    if not scan.offer(record):
                        return
                    at = record.sequence + 1
                if len(rows) < _PAGE:
                    scan.exhausted = True
                    return

        await self._db.read(work)

    async def first_change_since(
        self, tenant_id: str, table_name: str, label: str, since: int
    ) -> int | None:
        query = sa.select(sa.func.min(_R.c.sequence)).where(
            _R.c.tenant_id == tenant_id,
            _R.c.table_name == table_name,
            _R.c.label == label,
            _R.c.created >= since,
        )

        def work(conn: Connection) -> int | None:
            found = conn.execute(query).scalar()
            return None if found is None else int(found)

        return await self._db.read(work)

    async def prune_streams(self, before: int) -> int:
        trimmed = (
            sa.select(_R.c.tenant_id, _R.c.table_name, _R.c.label, sa.func.max(_R.c.sequence))
            .where(_R.c.created < before)
            .group_by(_R.c.tenant_id, _R.c.table_name, _R.c.label)
        )
        ended = sa.select(_S.c.tenant_id, _S.c.table_name, _S.c.label).where(
            _S.c.disabled > 0, _S.c.disabled < before
        )

        def records_of(tenant_id: str, table_name: str, label: str) -> Any:
            return sa.and_(
                _R.c.tenant_id == tenant_id, _R.c.table_name == table_name, _R.c.label == label
            )

        def work(conn: Connection) -> int:
            removed = 0
            for tenant_id, table_name, label, last in conn.execute(trimmed).all():
                conn.execute(
                    sa.update(_S)
                    .where(
                        _of_table(tenant_id, table_name),
                        _S.c.label == label,
                        _S.c.trimmed_to <= int(last),
                    )
                    .values(trimmed_to=int(last) + 1)
                )
                removed += conn.execute(
                    sa.delete(_R).where(
                        records_of(tenant_id, table_name, label), _R.c.created < before
                    )
                ).rowcount
            for tenant_id, table_name, label in conn.execute(ended).all():
                removed += conn.execute(
                    sa.delete(_R).where(records_of(tenant_id, table_name, label))
                ).rowcount
                conn.execute(
                    sa.delete(_S).where(_of_table(tenant_id, table_name), _S.c.label == label)
                )
            return removed

        return await self._db.write(work)
