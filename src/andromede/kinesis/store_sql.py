"""Streams and their records over the metadata database (SQLite or PostgreSQL), the tables of
migration 0110 (decision 0228).

A put reads its stream's row ``FOR UPDATE`` (PostgreSQL; SQLite has one writer), checks the
layout it routed by, takes its numbers from the row's counter and inserts its records in that
transaction; a reshard closes and opens shards the same way, so the two never interleave.
Reads page by sequence number within the shard's key, ``limit`` and ``max_bytes`` bounding
what one call holds. The account's bounds are counted before the insert: two gateways
creating at the same instant may pass them by one, a quota not a guarantee (as decision
0223's streams)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import KINESIS_RECORDS, queued
from andromede.kinesis.accounts import BillingCommitment, CommitmentStatus
from andromede.kinesis.errors import LimitExceeded
from andromede.kinesis.model import (
    Consumer,
    Shard,
    ShardChange,
    StoredRecord,
    Stream,
    StreamMode,
    StreamStatus,
)
from andromede.kinesis.store import AccountUsage, SealedRecord
from andromede.kinesis.store_rules import apply_change, in_use, shard_limit, unexpired

__all__ = ["SqlKinesisStore"]

_S = tables.kinesis_streams
_R = tables.kinesis_records
_A = tables.kinesis_account_settings
FORMAT_VERSION: Final = 1
_PAGE: Final = 100  # records read per query while filling a GetRecords answer
_HOUR_MS: Final = 3_600_000


def _shards_text(shards: Sequence[Shard]) -> str:
    return json.dumps(
        [
            [
                s.index,
                str(s.start_hash),
                str(s.end_hash),
                s.starting,
                s.ending,
                s.parent,
                s.adjacent_parent,
                s.closed_at,
            ]
            for s in shards
        ]
    )


def _shards(text: str) -> tuple[Shard, ...]:
    return tuple(
        Shard(int(i), int(start), int(end), int(starting), ending, parent, adjacent, closed)
        for i, start, end, starting, ending, parent, adjacent, closed in json.loads(text)
    )


def _stream(m: Any) -> Stream:
    return Stream(
        tenant_id=m["tenant_id"],
        name=m["stream_name"],
        region=m["region"],
        status=StreamStatus(m["status"]),
        mode=StreamMode(m["mode"]),
        created=int(m["created"]),
        retention_hours=int(m["retention_hours"]),
        shards=_shards(m["shards"]),
        iterator_key=bytes(m["iterator_key"]),
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        encryption_type=m["encryption_type"],
        key_id=m["key_id"],
        consumers=tuple(_consumer(entry) for entry in json.loads(m["consumers"])),
        shard_level_metrics=tuple(str(n) for n in json.loads(m["shard_level_metrics"])),
        policy=m["policy"],
        max_record_kib=int(m["max_record_kib"]),
        revision=int(m["revision"]),
        layout=int(m["layout"]),
        next_sequence=int(m["next_sequence"]),
    )


def _consumer(entry: list[Any]) -> Consumer:
    """``[name, created]``, or ``[name, created, policy]`` once a policy was put (0248)."""
    return Consumer(str(entry[0]), int(entry[1]), None if len(entry) < 3 else str(entry[2]))


def _consumer_entry(consumer: Consumer) -> list[Any]:
    entry: list[Any] = [consumer.name, consumer.created]
    return entry if consumer.policy is None else [*entry, consumer.policy]


def _described(stream: Stream) -> dict[str, Any]:
    """The columns a caller's write sets (never the shards, the layout or the counter)."""
    return {
        "status": stream.status.value,
        "mode": stream.mode.value,
        "retention_hours": stream.retention_hours,
        "tags": json.dumps([list(t) for t in stream.tags]),
        "encryption_type": stream.encryption_type,
        "key_id": stream.key_id,
        "consumers": json.dumps([_consumer_entry(c) for c in stream.consumers]),
        "shard_level_metrics": json.dumps(list(stream.shard_level_metrics)),
        "policy": stream.policy,
        "max_record_kib": stream.max_record_kib,
        "revision": stream.revision,
    }


def _layout(stream: Stream) -> dict[str, Any]:
    return {
        "shards": _shards_text(stream.shards),
        "open_shards": len(stream.open_shards),
        "layout": stream.layout,
        "next_sequence": stream.next_sequence,
    }


def _one(tenant_id: str, name: str) -> Any:
    return sa.and_(_S.c.tenant_id == tenant_id, _S.c.stream_name == name)


def _records_of(tenant_id: str, name: str) -> Any:
    return sa.and_(_R.c.tenant_id == tenant_id, _R.c.stream_name == name)


def _usage(conn: Connection, tenant_id: str) -> AccountUsage:
    on_demand = sa.case((_S.c.mode == StreamMode.ON_DEMAND.value, 1), else_=0)
    row = conn.execute(
        sa.select(sa.func.sum(_S.c.open_shards), sa.func.sum(on_demand)).where(
            _S.c.tenant_id == tenant_id
        )
    ).first()
    if row is None:
        return AccountUsage()
    return AccountUsage(int(row[0] or 0), int(row[1] or 0))


class SqlKinesisStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, stream: Stream, max_shards: int, max_on_demand: int) -> None:
        exists = sa.select(_S.c.revision).where(_one(stream.tenant_id, stream.name))

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is not None:
                raise in_use(stream)
            usage = _usage(conn, stream.tenant_id)
            if usage.open_shards + len(stream.open_shards) > max_shards:
                raise shard_limit(usage.open_shards, len(stream.open_shards), max_shards)
            if stream.mode is StreamMode.ON_DEMAND and usage.on_demand_streams >= max_on_demand:
                raise LimitExceeded(
                    f"This request would exceed the limit of {max_on_demand} on-demand streams."
                )
            conn.execute(
                sa.insert(_S).values(
                    tenant_id=stream.tenant_id,
                    stream_name=stream.name,
                    region=stream.region,
                    created=stream.created,
                    iterator_key=stream.iterator_key,
                    format_version=FORMAT_VERSION,
                    **_described(stream),
                    **_layout(stream),
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> Stream | None:
        query = sa.select(_S).where(_one(tenant_id, name))

        def work(conn: Connection) -> Stream | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _stream(row)

        return await self._db.read(work)

    async def streams(self, tenant_id: str, after: str | None, limit: int) -> list[Stream]:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_S.c.stream_name > after)
        query = query.order_by(_S.c.stream_name).limit(limit)

        def work(conn: Connection) -> list[Stream]:
            return [_stream(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def every_stream(self, after: tuple[str, str] | None, limit: int) -> list[Stream]:
        query = sa.select(_S)
        if after is not None:
            query = query.where(
                sa.or_(
                    _S.c.tenant_id > after[0],
                    sa.and_(_S.c.tenant_id == after[0], _S.c.stream_name > after[1]),
                )
            )
        query = query.order_by(_S.c.tenant_id, _S.c.stream_name).limit(limit)

        def work(conn: Connection) -> list[Stream]:
            return [_stream(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def stored_bytes(self, before: int) -> dict[tuple[str, str], int]:
        # The arrival index (account, stream, arrived) serves the range.
        query = (
            sa.select(_R.c.tenant_id, _R.c.stream_name, sa.func.sum(_R.c.size))
            .where(_R.c.arrived < sa.literal(before, sa.BigInteger))
            .group_by(_R.c.tenant_id, _R.c.stream_name)
        )

        def work(conn: Connection) -> dict[tuple[str, str], int]:
            rows = conn.execute(query).all()
            return {(str(t), str(n)): int(size) for t, n, size in rows if size}

        return await self._db.read(work)

    async def usage(self, tenant_id: str) -> AccountUsage:
        return await self._db.read(lambda conn: _usage(conn, tenant_id))

    async def replace(self, stream: Stream) -> bool:
        statement = (
            sa.update(_S)
            .where(_one(stream.tenant_id, stream.name), _S.c.revision == stream.revision - 1)
            .values(**_described(stream))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def reshard(
        self, tenant_id: str, name: str, layout: int, change: ShardChange, now: int,
        max_shards: int,
    ) -> Stream | None:  # fmt: skip
        held = sa.select(_S).where(_one(tenant_id, name)).with_for_update()

        def work(conn: Connection) -> Stream | None:
            row = conn.execute(held).mappings().first()
            if row is None or int(row["layout"]) != layout:
                return None
            usage = _usage(conn, tenant_id)
            growth = len(change.opening) - len(change.closing)
            if usage.open_shards + growth > max_shards:
                raise shard_limit(usage.open_shards, growth, max_shards)
            changed = apply_change(_stream(row), change, now)
            conn.execute(sa.update(_S).where(_one(tenant_id, name)).values(**_layout(changed)))
            return changed

        return await self._db.write(work)

    async def delete(self, tenant_id: str, name: str) -> bool:
        records = sa.delete(_R).where(_records_of(tenant_id, name))
        stream = sa.delete(_S).where(_one(tenant_id, name))

        def work(conn: Connection) -> bool:
            conn.execute(records)
            return bool(conn.execute(stream).rowcount == 1)

        return await self._db.write(work)

    async def append(
        self, tenant_id: str, name: str, layout: int, records: Sequence[SealedRecord], now: int
    ) -> list[int] | None:
        held = (
            sa.select(_S.c.layout, _S.c.next_sequence)
            .where(_one(tenant_id, name))
            .with_for_update()
        )

        def work(conn: Connection) -> list[int] | None:
            row = conn.execute(held).first()
            if row is None or int(row[0]) != layout:
                return None
            first = int(row[1])
            numbers = list(range(first, first + len(records)))
            conn.execute(
                sa.update(_S)
                .where(_one(tenant_id, name))
                .values(next_sequence=first + len(records))
            )
            if records:
                conn.execute(
                    sa.insert(_R),
                    [
                        {
                            "tenant_id": tenant_id,
                            "stream_name": name,
                            "shard": r.shard,
                            "sequence": n,
                            "partition_key": r.partition_key,
                            "arrived": now,
                            "size": r.size,
                            "sealed": r.sealed,
                        }
                        for r, n in zip(records, numbers, strict=True)
                    ],
                )
                queued(conn, KINESIS_RECORDS)  # the readers' bells, once committed (0331)
            return numbers

        return await self._db.write(work)

    async def read(
        self, tenant_id: str, name: str, shard: int, start: int, limit: int, max_bytes: int
    ) -> list[StoredRecord]:
        def page(after: int, count: int) -> Any:
            return (
                sa.select(_R.c.sequence, _R.c.partition_key, _R.c.arrived, _R.c.size, _R.c.sealed)
                .where(_records_of(tenant_id, name), _R.c.shard == shard, _R.c.sequence >= after)
                .order_by(_R.c.sequence)
                .limit(count)
            )

        def work(conn: Connection) -> list[StoredRecord]:
            found: list[StoredRecord] = []
            size, at = 0, start
            while len(found) < limit:
                rows = conn.execute(page(at, min(_PAGE, limit - len(found)))).all()
                for seq, key, arrived, length, sealed in rows:
                    if found and size + int(length) > max_bytes:
                        return found
                    found.append(
                        StoredRecord(shard, int(seq), key, int(arrived), int(length), bytes(sealed))
                    )
                    size += int(length)
                if len(rows) < _PAGE:
                    return found
                at = found[-1].sequence + 1
            return found

        return await self._db.read(work)

    async def first_since(self, tenant_id: str, name: str, shard: int, since: int) -> int | None:
        query = sa.select(sa.func.min(_R.c.sequence)).where(
            _records_of(tenant_id, name), _R.c.shard == shard, _R.c.arrived >= since
        )

        def work(conn: Connection) -> int | None:
            found = conn.execute(query).scalar()
            return None if found is None else int(found)

        return await self._db.read(work)

    async def trim(self, now: int) -> int:
        expired = (
            sa.select(_S.c.tenant_id)
            .where(
                _S.c.tenant_id == _R.c.tenant_id,
                _S.c.stream_name == _R.c.stream_name,
                # BIGINT throughout: a year of hours in ms passes PostgreSQL's int32.
                _R.c.arrived
                < sa.literal(now, sa.BigInteger)
                - sa.cast(_S.c.retention_hours, sa.BigInteger)
                * sa.literal(_HOUR_MS, sa.BigInteger),
            )
            .exists()
        )
        statement = sa.delete(_R).where(expired)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount or 0)

        return await self._db.write(work)

    async def expire_shards(self, now: int) -> int:
        """The streams read a page at a time; only a stream with a shard to drop is written,
        under its row's lock, its shards read again there."""
        dropped = 0
        after: tuple[str, str] = ("", "")
        while True:
            query = (
                sa.select(_S)
                .where(
                    sa.or_(
                        _S.c.tenant_id > after[0],
                        sa.and_(_S.c.tenant_id == after[0], _S.c.stream_name > after[1]),
                    )
                )
                .order_by(_S.c.tenant_id, _S.c.stream_name)
                .limit(_PAGE)
            )

            def page(conn: Connection, query: Any = query) -> list[Stream]:
                return [_stream(m) for m in conn.execute(query).mappings()]

            streams = await self._db.read(page)
            for stream in streams:
                if unexpired(stream, now) is not None:
                    dropped += await self._expire(stream.tenant_id, stream.name, now)
            if len(streams) < _PAGE:
                return dropped
            after = (streams[-1].tenant_id, streams[-1].name)

    async def _expire(self, tenant_id: str, name: str, now: int) -> int:
        held = sa.select(_S).where(_one(tenant_id, name)).with_for_update()

        def work(conn: Connection) -> int:
            row = conn.execute(held).mappings().first()
            if row is None:
                return 0
            stream = _stream(row)
            kept = unexpired(stream, now)
            if kept is None:
                return 0
            conn.execute(
                sa.update(_S).where(_one(tenant_id, name)).values(shards=_shards_text(kept))
            )
            return len(stream.shards) - len(kept)

        return await self._db.write(work)

    async def commitment(self, tenant_id: str) -> BillingCommitment:
        query = sa.select(_A).where(_A.c.tenant_id == tenant_id)

        def work(conn: Connection) -> BillingCommitment:
            m = conn.execute(query).mappings().first()
            if m is None:
                return BillingCommitment(tenant_id)
            return BillingCommitment(
                tenant_id, CommitmentStatus(m["commitment"]), m["started_at"], m["ended_at"],
                m["earliest_end"], int(m["revision"]),
            )  # fmt: skip

        return await self._db.read(work)

    async def put_commitment(self, commitment: BillingCommitment) -> bool:
        values = {
            "commitment": commitment.status.value,
            "started_at": commitment.started_at,
            "ended_at": commitment.ended_at,
            "earliest_end": commitment.earliest_end,
            "revision": commitment.revision,
        }
        mine = _A.c.tenant_id == commitment.tenant_id

        def work(conn: Connection) -> bool:
            if commitment.revision == 1:
                if conn.execute(sa.select(_A.c.revision).where(mine)).first() is not None:
                    return False
                row = {"tenant_id": commitment.tenant_id, "format_version": FORMAT_VERSION}
                conn.execute(sa.insert(_A).values(**row, **values))
                return True
            changed = sa.update(_A).where(mine, _A.c.revision == commitment.revision - 1)
            return bool(conn.execute(changed.values(**values)).rowcount == 1)

        try:
            return await self._db.write(work)
        except sa.exc.IntegrityError:  # another first write inserted the row meanwhile
            return False

    async def forget_tenant(self, tenant_id: str) -> int:
        records = sa.delete(_R).where(_R.c.tenant_id == tenant_id)
        streams = sa.delete(_S).where(_S.c.tenant_id == tenant_id)
        settings = sa.delete(_A).where(_A.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(settings)
            conn.execute(records)
            return int(conn.execute(streams).rowcount or 0)

        return await self._db.write(work)
