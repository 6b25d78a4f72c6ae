"""Queues and their messages over the metadata database (SQLite or PostgreSQL), tables of
migration 0071 (decision 0158).

A receive selects visible messages ``FOR UPDATE SKIP LOCKED`` and hides them in the same
transaction: on PostgreSQL two gateways receiving at once take disjoint messages and neither
waits; SQLite runs one write transaction at a time. A delete or a visibility change acts only
on the row whose receipt is still the one given, so a receipt of an earlier receive changes
nothing. A FIFO queue's sends and receives are ``store_sql_fifo``'s transactions (decision
0164, migration 0077).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import SQS_MESSAGES, queued
from andromede.db.types import utc_from_stored
from andromede.queues.errors import OverLimit
from andromede.queues.model import FORMAT_VERSION, Queue, RedrivePolicy
from andromede.queues.store import (
    QueueCounts,
    ReceivedMessage,
    Redrive,
    StoredMessage,
)
from andromede.queues.store_sql_fifo import forget_fifo_state, receive_fifo, send_fifo
from andromede.queues.store_sql_rows import dead_letter, hand_out, redrive_exists, room

__all__ = ["SqlQueueStore"]

_Q = tables.queues
_M = tables.queue_messages


def _queue(row: sa.Row[tuple[object, ...]]) -> Queue:
    m = row._mapping
    attributes, tags = Queue.parts_of(m["document"])
    return Queue(
        tenant_id=m["tenant_id"],
        name=m["name"],
        region=m["region"],
        attributes=attributes,
        created_at=utc_from_stored(m["created_at"]),
        modified_at=utc_from_stored(m["modified_at"]),
        tags=tags,
    )


def _of(tenant_id: str, name: str) -> tuple[sa.ColumnElement[bool], ...]:
    return (_M.c.tenant_id == tenant_id, _M.c.queue_name == name)


class SqlQueueStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_queue(self, queue: Queue, *, limit: int) -> Queue:
        def work(conn: Connection) -> Queue:
            held = conn.execute(
                sa.select(_Q).where(_Q.c.tenant_id == queue.tenant_id, _Q.c.name == queue.name)
            ).first()
            if held is not None:
                return _queue(held)
            count = conn.scalar(
                # A Region's queues (decision 0414: AWS's quota is a Region's).
                sa.select(sa.func.count())
                .select_from(_Q)
                .where(_Q.c.tenant_id == queue.tenant_id, _Q.c.region == queue.region)
            )
            if int(count or 0) >= limit:
                raise OverLimit(f"You can create at most {limit} queues.")
            conn.execute(
                _Q.insert().values(
                    tenant_id=queue.tenant_id,
                    name=queue.name,
                    region=queue.region,
                    document=queue.document(),
                    format_version=FORMAT_VERSION,
                    created_at=queue.created_at,
                    modified_at=queue.modified_at,
                )
            )
            return queue

        return await self._db.write(work)

    async def get_queue(self, tenant_id: str, name: str) -> Queue | None:
        query = sa.select(_Q).where(_Q.c.tenant_id == tenant_id, _Q.c.name == name)

        def work(conn: Connection) -> Queue | None:
            row = conn.execute(query).first()
            return None if row is None else _queue(row)

        return await self._db.read(work)

    async def list_queues(
        self, tenant_id: str, prefix: str, after: str | None, limit: int
    ) -> list[Queue]:
        query = sa.select(_Q).where(_Q.c.tenant_id == tenant_id)
        if prefix:
            # A range, not LIKE: a name may hold "_", which LIKE reads as a wildcard.
            query = query.where(_Q.c.name >= prefix, _Q.c.name < prefix + "\U0010ffff")
        if after is not None:
            query = query.where(_Q.c.name > after)
        query = query.order_by(_Q.c.name).limit(limit)
        return await self._db.read(lambda conn: [_queue(r) for r in conn.execute(query).all()])

    async def update_queue(self, queue: Queue) -> bool:
        statement = (
            _Q.update()
            .where(_Q.c.tenant_id == queue.tenant_id, _Q.c.name == queue.name)
            .values(document=queue.document(), modified_at=queue.modified_at)
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def delete_queue(self, tenant_id: str, name: str) -> bool:
        def work(conn: Connection) -> bool:
            conn.execute(_M.delete().where(*_of(tenant_id, name)))
            forget_fifo_state(conn, tenant_id, name)
            return (
                conn.execute(
                    _Q.delete().where(_Q.c.tenant_id == tenant_id, _Q.c.name == name)
                ).rowcount
                > 0
            )

        return await self._db.write(work)

    async def send(self, tenant_id: str, name: str, messages: Sequence[StoredMessage]) -> None:
        rows = [
            {
                "message_id": m.message_id,
                "tenant_id": tenant_id,
                "queue_name": name,
                "sealed": m.sealed,
                "format_version": FORMAT_VERSION,
                "sent_at": m.sent_at,
                "visible_at": m.visible_at,
                "expires_at": m.expires_at,
                "receive_count": 0,
                "first_received_at": None,
                "receipt": None,
            }
            for m in messages
        ]
        if rows:

            def work(conn: Connection) -> None:
                conn.execute(_M.insert(), rows)
                if any(m.visible_at <= m.sent_at for m in messages):
                    queued(conn, SQS_MESSAGES)  # readers' bells ring once committed (0331)

            await self._db.write(work)

    async def receive(
        self,
        tenant_id: str,
        name: str,
        now: datetime,
        *,
        limit: int,
        visible_until: datetime,
        receipts: Sequence[str],
        redrive: Redrive | None,
        in_flight_limit: int,
    ) -> list[ReceivedMessage]:
        mine = _of(tenant_id, name)
        due = sa.and_(*mine, _M.c.visible_at <= now)
        # An empty queue (every long poll's usual answer) costs a read, no write transaction.
        probe = sa.select(_M.c.id).where(due).limit(1)
        if await self._db.read(lambda conn: conn.execute(probe).first()) is None:
            return []

        def work(conn: Connection) -> list[ReceivedMessage]:
            take = room(conn, mine, now, limit, in_flight_limit, len(receipts))
            rows = conn.execute(
                sa.select(_M)
                .where(due)
                .order_by(_M.c.id)
                .limit(take)
                .with_for_update(skip_locked=True)
            ).all()
            target_exists = redrive_exists(conn, redrive)
            received: list[ReceivedMessage] = []
            for row in rows:
                m = row._mapping
                if (
                    redrive is not None
                    and target_exists
                    and int(m["receive_count"]) >= redrive.max_receive_count
                ):
                    dead_letter(conn, m, redrive, name, now)
                    continue
                received.append(hand_out(conn, m, receipts[len(received)], now, visible_until))
            return received

        return await self._db.write(work)

    async def send_fifo(
        self,
        tenant_id: str,
        name: str,
        messages: Sequence[StoredMessage],
        now: datetime,
        dedup_until: datetime,
        *,
        per_group: bool = False,
    ) -> list[tuple[str, int]]:
        def work(conn: Connection) -> list[tuple[str, int]]:
            kept = send_fifo(conn, tenant_id, name, messages, now, dedup_until, per_group=per_group)
            queued(conn, SQS_MESSAGES)  # readers' bells ring once committed (decision 0331)
            return kept

        return await self._db.write(work)

    async def receive_fifo(
        self,
        tenant_id: str,
        name: str,
        now: datetime,
        *,
        limit: int,
        visible_until: datetime,
        receipts: Sequence[str],
        redrive: Redrive | None,
        in_flight_limit: int,
        attempt: str | None = None,
        attempt_until: datetime | None = None,
    ) -> list[ReceivedMessage]:
        if attempt is None:
            # As a standard queue's: an empty queue costs a read, no write transaction. Not
            # with an attempt id, whose retry is answered with messages no longer visible.
            probe = sa.select(_M.c.id).where(*_of(tenant_id, name), _M.c.visible_at <= now)
            if await self._db.read(lambda conn: conn.execute(probe.limit(1)).first()) is None:
                return []
        return await self._db.write(
            lambda conn: receive_fifo(
                conn,
                tenant_id,
                name,
                now,
                limit=limit,
                visible_until=visible_until,
                receipts=receipts,
                redrive=redrive,
                in_flight_limit=in_flight_limit,
                attempt=attempt,
                attempt_until=attempt_until,
            )
        )

    async def delete_message(
        self, tenant_id: str, name: str, message_id: str, receipt: str
    ) -> bool:
        statement = _M.delete().where(
            *_of(tenant_id, name), _M.c.message_id == message_id, _M.c.receipt == receipt
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def change_visibility(
        self,
        tenant_id: str,
        name: str,
        message_id: str,
        receipt: str,
        visible_at: datetime,
        now: datetime,
    ) -> bool:
        statement = (
            _M.update()
            .where(
                *_of(tenant_id, name),
                _M.c.message_id == message_id,
                _M.c.receipt == receipt,
                _M.c.visible_at > now,
            )
            .values(visible_at=visible_at)
        )

        def work(conn: Connection) -> bool:
            changed = conn.execute(statement).rowcount > 0
            if changed and visible_at <= now:
                queued(conn, SQS_MESSAGES)  # visible again at once: readers' bells (0331)
            return changed

        return await self._db.write(work)

    async def purge(self, tenant_id: str, name: str) -> int:
        statement = _M.delete().where(*_of(tenant_id, name))
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def counts(self, tenant_id: str, name: str, now: datetime) -> QueueCounts:
        visible = sa.case((_M.c.visible_at <= now, 1), else_=0)
        in_flight = sa.case((sa.and_(_M.c.visible_at > now, _M.c.receipt.is_not(None)), 1), else_=0)
        delayed = sa.case((sa.and_(_M.c.visible_at > now, _M.c.receipt.is_(None)), 1), else_=0)
        query = sa.select(
            sa.func.coalesce(sa.func.sum(visible), 0),
            sa.func.coalesce(sa.func.sum(in_flight), 0),
            sa.func.coalesce(sa.func.sum(delayed), 0),
            # In the same pass over the queue's rows: the age of its oldest (decision 0181).
            sa.func.min(_M.c.sent_at),
        ).where(*_of(tenant_id, name), _M.c.expires_at > now)

        def work(conn: Connection) -> QueueCounts:
            row = conn.execute(query).one()
            return QueueCounts(int(row[0]), int(row[1]), int(row[2]), row[3])

        return await self._db.read(work)

    async def dead_letter_sources(self, tenant_id: str, target_arn: str) -> list[str]:
        query = sa.select(_Q).where(_Q.c.tenant_id == tenant_id).order_by(_Q.c.name)

        def work(conn: Connection) -> list[str]:
            found = []
            for row in conn.execute(query).all():
                queue = _queue(row)
                text = queue.attributes.get("RedrivePolicy")
                if text and RedrivePolicy.parse(text).dead_letter_arn == target_arn:
                    found.append(queue.name)
            return found

        return await self._db.read(work)

    async def in_flight_since(
        self, tenant_id: str, name: str, message_id: str, receipt: str, now: datetime
    ) -> datetime | None:
        query = sa.select(_M.c.first_received_at).where(
            *_of(tenant_id, name),
            _M.c.message_id == message_id,
            _M.c.receipt == receipt,
            _M.c.visible_at > now,
        )
        found = await self._db.read(lambda conn: conn.execute(query).first())
        if found is None or found[0] is None:
            return None
        return utc_from_stored(found[0])

    async def move_messages(
        self,
        tenant_id: str,
        source: str,
        destination: str | None,
        limit: int,
        now: datetime,
        *,
        fallback: str | None = None,
    ) -> int:
        def work(conn: Connection) -> int:
            rows = conn.execute(
                sa.select(_M.c.id, _M.c.dead_letter_source)
                .where(*_of(tenant_id, source), _M.c.visible_at <= now, _M.c.expires_at > now)
                .order_by(_M.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            targets: dict[str, list[int]] = {}
            for row_id, came_from in rows:
                target = destination or came_from or fallback
                if target is not None:
                    targets.setdefault(target, []).append(row_id)
            moved = 0
            for target, ids in targets.items():
                exists = conn.execute(
                    sa.select(_Q.c.name).where(_Q.c.tenant_id == tenant_id, _Q.c.name == target)
                ).first()
                if exists is None:
                    continue
                conn.execute(
                    _M.update()
                    .where(_M.c.id.in_(ids))
                    .values(
                        queue_name=target,
                        visible_at=now,
                        receive_count=0,
                        first_received_at=None,
                        receipt=None,
                        dead_letter_source=None,
                    )
                )
                moved += len(ids)
            if moved:
                queued(conn, SQS_MESSAGES)  # readers' bells ring once committed (0331)
            return moved

        return await self._db.write(work)
