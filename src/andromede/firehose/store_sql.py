"""Delivery streams and their buffered records over the metadata database (SQLite or
PostgreSQL), the tables of migration 0105 (decision 0223).

A stream's buffer totals are kept on its row, updated in the transaction that inserts or
removes its records, so the deliverer's claim is one ``UPDATE`` guarded by the totals, the
hints and the lease (the candidates read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL): two
gateways never deliver one stream at once. Every later write of the deliverer names its lease
owner, so a takeover after the lease ran out is never overwritten. The account's bound of
streams is counted before the insert: two gateways creating at the same instant may pass it
by one, a quota not a guarantee (as decision 0186's export tasks).

A Kinesis source's reader (decision 0235) is leased by the same guarded ``UPDATE`` on its own
columns (``reader_owner``, ``reader_until``), renewed by its holder at each pass; a shard's
checkpoint is written only in a transaction that still finds the lease the writer's, so a
gateway that stalled past its lease never moves a checkpoint another took over.

A Lambda processor's staged records (0344) and a source backup's copies (0376) are rows of
``firehose_records`` too, ids behind ``STAGED``, ``BACKUP``: the row keeps the intake's totals
and hints; its oldest arrival folds theirs in (``staged_wake``, ``backup_wake``).

A stream's row to and from its columns is ``firehose.stream_rows_sql``'s."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.firehose.backup_buffer import (
    BACKUP,
    backup_wake,
    fitting,
    is_backup,
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
from andromede.firehose.staging import STAGED, intake_hints, is_staged, staged_wake
from andromede.firehose.store import BufferTotals, SealedRecord, SourceCheckpoint, Waiting
from andromede.firehose.stream_rows_sql import described, stream_of

__all__ = ["SqlFirehoseStore"]

_S = tables.firehose_streams
_R = tables.firehose_records
_C = tables.firehose_source_checkpoints
FORMAT_VERSION: Final = 1
_ACTIVE = StreamStatus.ACTIVE.value


def _one(tenant_id: str, name: str) -> Any:
    return sa.and_(_S.c.tenant_id == tenant_id, _S.c.stream_name == name)


def _staged() -> Any:
    """A Lambda processor's staged records (decision 0344)."""
    return _R.c.record_id.startswith(STAGED, autoescape=True)


def _copies() -> Any:  # a source record backup's copies (decision 0376)
    return _R.c.record_id.startswith(BACKUP, autoescape=True)


def _intake() -> Any:
    return sa.not_(sa.or_(_staged(), _copies()))


def _kind(record_id: str) -> Any:  # the rows of the buffer ``record_id`` is in
    return _staged() if is_staged(record_id) else _copies() if is_backup(record_id) else _intake()


def _has_endpoint(destination: str) -> bool:
    """Whether a stream row's destination JSON is an HTTP endpoint's (decision 0250)."""
    return json.loads(destination).get("http_endpoint") is not None


def _row(tenant_id: str, name: str, record: SealedRecord) -> dict[str, Any]:
    """A record that keeps its own arrival (a staged record, a backup's copy)."""
    return {
        "tenant_id": tenant_id,
        "stream_name": name,
        "record_id": record.record_id,
        "arrived": 0 if record.arrived is None else record.arrived,
        "size": record.size,
        "sealed": record.sealed,
    }


def _recount(conn: Connection, tenant_id: str, name: str, stream: DeliveryStream) -> dict[str, Any]:
    """The row's totals after a change of its records: the intake's count and bytes, the
    oldest arrival the claim reads (the staged records' shifted, decision 0344)."""
    mine = sa.and_(_R.c.tenant_id == tenant_id, _R.c.stream_name == name)
    count, size, oldest = conn.execute(
        sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(_R.c.size), 0),
            sa.func.min(_R.c.arrived),
        ).where(mine, _intake())
    ).one()  # fmt: skip
    arrivals = [] if oldest is None else [int(oldest)]
    for kind, wake in ((_staged(), staged_wake), (_copies(), backup_wake)):  # 0344, 0376
        first, size_of = conn.execute(
            sa.select(sa.func.min(_R.c.arrived), sa.func.coalesce(sa.func.sum(_R.c.size), 0))
            .where(mine, kind)
        ).one()  # fmt: skip
        if first is not None:
            arrivals.append(wake(stream, int(first), int(size_of)))
    size_hint, interval_hint = intake_hints(stream)  # rows written before 0344 set right
    return {
        "size_bytes": size_hint,
        "interval_ms": interval_hint,
        "buffered_records": int(count),
        "buffered_bytes": int(size),
        "oldest_arrival": min(arrivals) if arrivals else None,
    }


class SqlFirehoseStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, stream: DeliveryStream, max_streams: int) -> None:
        count = sa.select(sa.func.count()).select_from(_S).where(_S.c.tenant_id == stream.tenant_id)
        exists = sa.select(_S.c.revision).where(_one(stream.tenant_id, stream.name))

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is not None:
                raise StreamInUse(
                    f"Firehose {stream.name} under accountId {stream.tenant_id} already exists"
                )
            if int(conn.execute(count).scalar_one()) >= max_streams:
                raise LimitExceeded(
                    f"You have already consumed your quota of {max_streams} delivery streams."
                )
            conn.execute(
                sa.insert(_S).values(
                    tenant_id=stream.tenant_id,
                    stream_name=stream.name,
                    **described(stream),
                    buffered_records=0,
                    buffered_bytes=0,
                    oldest_arrival=None,
                    failing_since=None,
                    next_attempt=0,
                    lease_owner=None,
                    lease_until=0,
                    reader_owner=None,
                    reader_until=0,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> DeliveryStream | None:
        query = sa.select(_S).where(_one(tenant_id, name))

        def work(conn: Connection) -> DeliveryStream | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else stream_of(row)

        return await self._db.read(work)

    async def names(self, tenant_id: str, after: str | None, limit: int) -> list[str]:
        query = sa.select(_S.c.stream_name).where(_S.c.tenant_id == tenant_id)
        if after is not None:
            query = query.where(_S.c.stream_name > after)
        query = query.order_by(_S.c.stream_name).limit(limit)

        def work(conn: Connection) -> list[str]:
            return [str(n) for n in conn.execute(query).scalars()]

        return await self._db.read(work)

    async def replace(self, stream: DeliveryStream) -> bool:
        statement = (
            sa.update(_S)
            .where(_one(stream.tenant_id, stream.name), _S.c.revision == stream.revision - 1)
            .values(**described(stream))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, name: str) -> bool:
        records = sa.delete(_R).where(_R.c.tenant_id == tenant_id, _R.c.stream_name == name)
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id, _C.c.stream_name == name)
        stream = sa.delete(_S).where(_one(tenant_id, name))

        def work(conn: Connection) -> bool:
            conn.execute(records)
            conn.execute(points)
            return bool(conn.execute(stream).rowcount == 1)

        return await self._db.write(work)

    async def append(
        self, tenant_id: str, name: str, records: Sequence[SealedRecord], now: int, max_bytes: int
    ) -> int:
        held = (
            sa.select(_S.c.buffered_bytes, _S.c.oldest_arrival, _S.c.destination)
            .where(_one(tenant_id, name))
            .with_for_update()
        )
        copies = sa.select(sa.func.coalesce(sa.func.sum(_R.c.size), 0)).where(
            _R.c.tenant_id == tenant_id, _R.c.stream_name == name, _copies()
        )

        def work(conn: Connection) -> int:
            row = conn.execute(held).first()
            if row is None:
                return 0
            size = int(row[0])
            copied = 0  # the copies held count in the bound too (decision 0379)
            # An HTTP endpoint's copies come at its deliveries, not with the records put
            # (decision 0398): its puts count them as well.
            if any(is_backup(record.record_id) for record in records) or _has_endpoint(row[2]):
                copied = int(conn.execute(copies).scalar_one())
            taken = records[: fitting(records, size + copied, max_bytes)]
            fresh = [record for record in taken if not is_backup(record.record_id)]
            size += sum(record.size for record in fresh)
            count = len(fresh)
            if not taken:
                return 0
            conn.execute(
                sa.insert(_R),
                [
                    {
                        "tenant_id": tenant_id,
                        "stream_name": name,
                        "record_id": r.record_id,
                        "arrived": now,
                        "size": r.size,
                        "sealed": r.sealed,
                    }
                    for r in taken
                ],
            )
            conn.execute(
                sa.update(_S)
                .where(_one(tenant_id, name))
                .values(
                    buffered_records=_S.c.buffered_records + count,
                    buffered_bytes=size,
                    # A staged records' shifted arrival may be later than now (0344).
                    oldest_arrival=sa.case(
                        (_S.c.oldest_arrival.is_(None), now),
                        (_S.c.oldest_arrival > now, now),
                        else_=_S.c.oldest_arrival,
                    ),
                )
            )
            return count

        return await self._db.write(work)

    async def totals(self, tenant_id: str, name: str) -> BufferTotals:
        query = sa.select(_S.c.buffered_records, _S.c.buffered_bytes, _S.c.oldest_arrival).where(
            _one(tenant_id, name)
        )

        def work(conn: Connection) -> BufferTotals:
            row = conn.execute(query).first()
            if row is None or row[2] is None:  # empty (staged records set it alone: 0344)
                return BufferTotals()
            return BufferTotals(int(row[0]), int(row[1]), None if row[2] is None else int(row[2]))

        return await self._db.read(work)

    async def activate(self) -> int:
        statement = (
            sa.update(_S)
            .where(_S.c.status == StreamStatus.CREATING.value)
            .values(status=_ACTIVE, revision=_S.c.revision + 1)
        )

        creating = sa.select(_S.c.tenant_id).where(_S.c.status == StreamStatus.CREATING.value)

        def any_creating(conn: Connection) -> bool:
            return conn.execute(creating.limit(1)).first() is not None

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        # Every gateway asks at every pass: a read, so that an idle deployment takes no write
        # lock for it.
        if not await self._db.read(any_creating):
            return 0
        return await self._db.write(work)

    async def settling(self, region: str, limit: int) -> list[DeliveryStream]:
        query = (
            sa.select(_S)
            .where(_S.c.region == region, _S.c.sse_status.in_((SSE_ENABLING, SSE_DISABLING)))
            .order_by(_S.c.tenant_id, _S.c.stream_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[DeliveryStream]:
            return [stream_of(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        due = sa.and_(
            _S.c.status == _ACTIVE,
            _S.c.region == region,
            _S.c.oldest_arrival.is_not(None),
            _S.c.next_attempt <= now,
            _S.c.lease_until < now,
            sa.or_(
                _S.c.buffered_bytes >= _S.c.size_bytes,
                _S.c.oldest_arrival + _S.c.interval_ms <= now,
            ),
        )
        candidates = (
            sa.select(_S.c.tenant_id, _S.c.stream_name)
            .where(due)
            .order_by(_S.c.oldest_arrival)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def any_due(conn: Connection) -> bool:
            return conn.execute(sa.select(_S.c.tenant_id).where(due).limit(1)).first() is not None

        def work(conn: Connection) -> list[DeliveryStream]:
            claimed = []
            for tenant_id, name in conn.execute(candidates).all():
                taken = conn.execute(
                    sa.update(_S)
                    .where(_one(tenant_id, name), due)
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if taken.rowcount != 1:
                    continue  # taken by another gateway between the read and the write
                row = conn.execute(sa.select(_S).where(_one(tenant_id, name))).mappings()
                claimed.append(stream_of(row.one()))
            return claimed

        if not await self._db.read(any_due):  # most passes: a read, no write lock
            return []
        return await self._db.write(work)

    async def batch(
        self, tenant_id: str, name: str, max_bytes: int, staged: bool = False, backup: bool = False
    ) -> list[BufferedRecord]:
        page = 256
        stage = _staged() if staged else _copies() if backup else _intake()

        def query(after: int) -> Any:
            return (
                sa.select(_R.c.seq, _R.c.record_id, _R.c.arrived, _R.c.size, _R.c.sealed)
                .where(
                    _R.c.tenant_id == tenant_id, _R.c.stream_name == name, _R.c.seq > after, stage
                )
                .order_by(_R.c.seq)
                .limit(page)
            )

        def work(conn: Connection) -> list[BufferedRecord]:
            # Read by pages, as far as the size reaches: a stream may buffer far more than one
            # object's worth.
            found: list[BufferedRecord] = []
            size, after = 0, 0
            while True:
                rows = conn.execute(query(after)).all()
                for seq, record_id, arrived, record_size, sealed in rows:
                    if found and size + int(record_size) > max_bytes:
                        return found
                    found.append(
                        BufferedRecord(int(seq), record_id, int(arrived), int(record_size), sealed)
                    )
                    size += int(record_size)
                if len(rows) < page:
                    return found
                after = found[-1].seq

        return await self._db.read(work)

    def _held(self, tenant_id: str, name: str, owner: str) -> Any:
        return sa.and_(_one(tenant_id, name), _S.c.lease_owner == owner)

    async def waiting(
        self, region: str, after: tuple[str, str] | None, limit: int
    ) -> list[Waiting]:
        holding = sa.and_(
            _S.c.status == _ACTIVE, _S.c.region == region, _S.c.oldest_arrival.is_not(None)
        )
        if after is not None:
            holding = sa.and_(
                holding, sa.tuple_(_S.c.tenant_id, _S.c.stream_name) > sa.tuple_(*after)
            )
        page = sa.select(_S).where(holding).order_by(_S.c.tenant_id, _S.c.stream_name)

        def work(conn: Connection) -> list[Waiting]:
            found = []
            for row in conn.execute(page.limit(limit)).mappings().all():
                mine = sa.and_(
                    _R.c.tenant_id == row["tenant_id"], _R.c.stream_name == row["stream_name"]
                )
                pending, copies = conn.execute(
                    sa.select(
                        sa.func.min(sa.case((_copies(), None), else_=_R.c.arrived)),
                        sa.func.min(sa.case((_copies(), _R.c.arrived), else_=None)),
                    ).where(mine)
                ).one()
                if pending is None and copies is None:
                    continue  # delivered since the page was read
                found.append(
                    Waiting(
                        stream_of(row),
                        None if pending is None else int(pending),
                        None if copies is None else int(copies),
                    )
                )
            return found

        return await self._db.read(work)

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
        held = sa.select(_S).where(self._held(tenant_id, name, owner)).with_for_update()
        mine = sa.and_(_R.c.tenant_id == tenant_id, _R.c.stream_name == name)
        last = sa.select(_R.c.record_id).where(mine, _R.c.seq == upto)

        def bounded(conn: Connection, kind: Any) -> int:
            """How many of ``copies`` fit once the batch is gone: the intake's bytes left and
            the copies held count, as ``append`` counts them (decision 0398)."""
            if max_bytes is None:
                return len(copies)
            size = sa.func.coalesce(sa.func.sum(_R.c.size), 0)
            counted = sa.not_(_staged())
            total = int(conn.execute(sa.select(size).where(mine, counted)).scalar_one())
            leaving = conn.execute(
                sa.select(size).where(mine, counted, _R.c.seq <= upto, kind)
            ).scalar_one()
            return kept_within(copies, total - int(leaving), max_bytes)

        def work(conn: Connection) -> int | None:
            row = conn.execute(held).mappings().first()
            if row is None:
                return None
            record_id = conn.execute(last).scalar()
            kind = _kind("" if record_id is None else str(record_id))
            kept = bounded(conn, kind)
            if whole and kept < len(copies):
                return 0  # all or none: nothing changes, the lease kept
            conn.execute(sa.delete(_R).where(mine, _R.c.seq <= upto, kind))
            if kept:  # a backup's, in the same transaction (decision 0388)
                conn.execute(sa.insert(_R), [_row(tenant_id, name, copy) for copy in copies[:kept]])
            conn.execute(
                sa.update(_S)
                .where(_one(tenant_id, name))
                .values(
                    **_recount(conn, tenant_id, name, stream_of(row)),
                    failing_since=None,
                    next_attempt=0,
                    lease_owner=None,
                    lease_until=0,
                )
            )
            return kept

        return await self._db.write(work)

    async def staged(self, tenant_id: str, name: str) -> BufferTotals:
        return await self._totals_of(tenant_id, name, _staged())

    async def copies(self, tenant_id: str, name: str) -> BufferTotals:
        return await self._totals_of(tenant_id, name, _copies())

    async def _totals_of(self, tenant_id: str, name: str, kind: Any) -> BufferTotals:
        query = sa.select(
            sa.func.count(), sa.func.coalesce(sa.func.sum(_R.c.size), 0), sa.func.min(_R.c.arrived)
        ).where(_R.c.tenant_id == tenant_id, _R.c.stream_name == name, kind)

        def work(conn: Connection) -> BufferTotals:
            count, size, oldest = conn.execute(query).one()
            if not count:
                return BufferTotals()
            return BufferTotals(int(count), int(size), int(oldest))

        return await self._db.read(work)

    async def copied(self, tenant_id: str, name: str, owner: str, upto: int) -> bool:
        return await self._replace(tenant_id, name, owner, upto, _copies(), ())

    async def stage(
        self, tenant_id: str, name: str, owner: str, upto: int, records: Sequence[SealedRecord]
    ) -> bool:
        return await self._replace(tenant_id, name, owner, upto, _intake(), records)

    async def _replace(
        self, tenant_id: str, name: str, owner: str, upto: int, kind: Any,
        records: Sequence[SealedRecord],
    ) -> bool:  # fmt: skip
        """The ``kind`` rows up to ``upto`` replaced by ``records``, the lease kept."""
        held = sa.select(_S).where(self._held(tenant_id, name, owner)).with_for_update()
        mine = sa.and_(_R.c.tenant_id == tenant_id, _R.c.stream_name == name)

        def work(conn: Connection) -> bool:
            row = conn.execute(held).mappings().first()
            if row is None:
                return False
            conn.execute(sa.delete(_R).where(mine, _R.c.seq <= upto, kind))
            if records:
                conn.execute(sa.insert(_R), [_row(tenant_id, name, r) for r in records])
            conn.execute(
                sa.update(_S)
                .where(_one(tenant_id, name))
                .values(**_recount(conn, tenant_id, name, stream_of(row)))
            )
            return True

        return await self._db.write(work)

    async def failed(
        self, tenant_id: str, name: str, owner: str, since: int, next_attempt: int
    ) -> bool:
        statement = (
            sa.update(_S)
            .where(self._held(tenant_id, name, owner))
            .values(failing_since=since, next_attempt=next_attempt, lease_owner=None, lease_until=0)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def claim_sources(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[DeliveryStream]:
        free = sa.and_(
            _S.c.source.is_not(None),
            _S.c.status == _ACTIVE,
            _S.c.region == region,
            sa.or_(_S.c.reader_until < now, _S.c.reader_owner == owner),
        )
        candidates = (
            sa.select(_S.c.tenant_id, _S.c.stream_name)
            .where(free)
            # The least recently read first: past ``limit`` streams, each pass moves on.
            .order_by(_S.c.reader_until, _S.c.tenant_id, _S.c.stream_name)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def any_free(conn: Connection) -> bool:
            return conn.execute(sa.select(_S.c.tenant_id).where(free).limit(1)).first() is not None

        def work(conn: Connection) -> list[DeliveryStream]:
            claimed = []
            for tenant_id, name in conn.execute(candidates).all():
                taken = conn.execute(
                    sa.update(_S)
                    .where(_one(tenant_id, name), free)
                    .values(reader_owner=owner, reader_until=lease_until)
                )
                if taken.rowcount != 1:
                    continue  # taken by another gateway between the read and the write
                row = conn.execute(sa.select(_S).where(_one(tenant_id, name))).mappings()
                claimed.append(stream_of(row.one()))
            return claimed

        if not await self._db.read(any_free):  # no source stream to read: no write lock
            return []
        return await self._db.write(work)

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, SourceCheckpoint]:
        query = sa.select(_C.c.shard_id, _C.c.sequence, _C.c.finished).where(
            _C.c.tenant_id == tenant_id, _C.c.stream_name == name
        )

        def work(conn: Connection) -> dict[str, SourceCheckpoint]:
            return {
                str(shard): SourceCheckpoint(sequence, bool(finished))
                for shard, sequence, finished in conn.execute(query).all()
            }

        return await self._db.read(work)

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard_id: str, point: SourceCheckpoint,
        now: int,
    ) -> bool:  # fmt: skip
        held = (
            sa.select(_S.c.revision)
            .where(_one(tenant_id, name), _S.c.reader_owner == owner)
            .with_for_update()
        )
        mine = sa.and_(
            _C.c.tenant_id == tenant_id, _C.c.stream_name == name, _C.c.shard_id == shard_id
        )
        values = {"sequence": point.sequence, "finished": point.finished, "updated": now}

        def work(conn: Connection) -> bool:
            if conn.execute(held).first() is None:
                return False
            if conn.execute(sa.update(_C).where(mine).values(**values)).rowcount == 0:
                conn.execute(
                    sa.insert(_C).values(
                        tenant_id=tenant_id, stream_name=name, shard_id=shard_id, **values
                    )
                )
            return True

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        records = sa.delete(_R).where(_R.c.tenant_id == tenant_id)
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id)
        streams = sa.delete(_S).where(_S.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(records)
            conn.execute(points)
            return int(conn.execute(streams).rowcount)

        return await self._db.write(work)
