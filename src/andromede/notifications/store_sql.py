"""Topics and the event queue over the metadata database (SQLite or PostgreSQL), tables of
migration 0054 (decision 0132).

A claim selects due, unleased events ``FOR UPDATE SKIP LOCKED`` and leases them in the same
transaction: on PostgreSQL two gateways claiming at once take disjoint events and neither
waits; SQLite runs one write transaction at a time. Settling acts on the event's row only
while it is there, so an event settled after its lease ran out is not settled twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import NOTIFICATIONS, queued
from andromede.db.notification_events import (
    LEGACY_FORMAT,
    SEALED_FORMAT,
    EventSealer,
    Unreadable,
    open_message,
    seal_message,
)
from andromede.db.types import utc_from_stored
from andromede.notifications.errors import TopicLimitExceeded
from andromede.notifications.model import FORMAT_VERSION, Topic
from andromede.notifications.store import FIFO_DESTINATION, QueuedEvent
from andromede.notifications.testevent import MESSAGE_FORMAT_VERSION

__all__ = ["SqlEventQueue", "SqlTopicStore"]

log = logging.getLogger(__name__)

_T = tables.notification_topics
_E = tables.notification_events
_D = tables.topic_deduplications


def _topic(row: sa.Row[tuple[object, ...]]) -> Topic:
    m = row._mapping
    return Topic(
        tenant_id=m["tenant_id"],
        name=m["name"],
        region=m["region"],
        attributes=Topic.attributes_of(m["document"]),
        created_at=utc_from_stored(m["created_at"]),
        tags=Topic.tags_of(m["document"]),
    )


class SqlTopicStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_topic(self, topic: Topic, *, limit: int) -> Topic:
        def work(conn: Connection) -> Topic:
            held = conn.execute(
                sa.select(_T)
                .where(_T.c.tenant_id == topic.tenant_id, _T.c.name == topic.name)
                .with_for_update()
            ).first()
            if held is not None:
                conn.execute(
                    _T.update()
                    .where(_T.c.tenant_id == topic.tenant_id, _T.c.name == topic.name)
                    .values(document=topic.document(), format_version=FORMAT_VERSION)
                )
                kept = _topic(held)
                return dataclasses.replace(kept, attributes=topic.attributes, tags=dict(topic.tags))
            count = conn.scalar(
                sa.select(sa.func.count()).select_from(_T).where(_T.c.tenant_id == topic.tenant_id)
            )
            if int(count or 0) >= limit:
                raise TopicLimitExceeded("Exceeded topic limit.")
            conn.execute(
                _T.insert().values(
                    tenant_id=topic.tenant_id,
                    name=topic.name,
                    region=topic.region,
                    document=topic.document(),
                    format_version=FORMAT_VERSION,
                    created_at=topic.created_at,
                )
            )
            return topic

        return await self._db.write(work)

    async def get_topic(self, tenant_id: str, name: str) -> Topic | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)

        def work(conn: Connection) -> Topic | None:
            row = conn.execute(query).first()
            return None if row is None else _topic(row)

        return await self._db.read(work)

    async def list_topics(self, tenant_id: str) -> list[Topic]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id).order_by(_T.c.name)
        return await self._db.read(lambda conn: [_topic(r) for r in conn.execute(query).all()])

    async def delete_topic(self, tenant_id: str, name: str) -> bool:
        statement = _T.delete().where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        keys = _D.delete().where(_D.c.tenant_id == tenant_id, _D.c.topic_name == name)

        def work(conn: Connection) -> bool:
            conn.execute(keys)
            return conn.execute(statement).rowcount > 0

        return await self._db.write(work)

    async def deduplicate(
        self, topic: Topic, dedup_key: str, message_id: str, now: datetime, until: datetime
    ) -> tuple[str, int, bool]:
        of_topic = (_D.c.tenant_id == topic.tenant_id, _D.c.topic_name == topic.name)

        def work(conn: Connection) -> tuple[str, int, bool]:
            # The topic's row locked: two publishes of one key on two gateways (PostgreSQL)
            # take turns, so the second finds the first's key.
            conn.execute(
                sa.select(_T.c.name)
                .where(_T.c.tenant_id == topic.tenant_id, _T.c.name == topic.name)
                .with_for_update()
            ).first()
            conn.execute(_D.delete().where(*of_topic, _D.c.expires_at <= now))
            held = conn.execute(
                sa.select(_D.c.message_id, _D.c.id).where(*of_topic, _D.c.dedup_key == dedup_key)
            ).first()
            if held is not None:
                return str(held[0]), int(held[1]), False
            inserted = conn.execute(
                _D.insert().values(
                    tenant_id=topic.tenant_id,
                    topic_name=topic.name,
                    dedup_key=dedup_key,
                    message_id=message_id,
                    expires_at=until,
                )
            )
            primary_key = inserted.inserted_primary_key
            if primary_key is None:  # never for an INSERT of one row; kept for the type checker
                raise RuntimeError("the deduplication key's INSERT returned no id")
            return message_id, int(primary_key[0]), True

        return await self._db.write(work)


_Claimed = tuple[QueuedEvent, int]  # the event as stored, and its format version


def _in_turn(
    conn: Connection, rows: Sequence[sa.Row[tuple[object, ...]]]
) -> list[sa.Row[tuple[object, ...]]]:
    """The rows selected, less a FIFO topic's subscription's whose earlier event is not
    among them (decision 0171): another gateway skipped-locked it, in a claim not committed
    yet, whose lease this claim's filter could not see. Those are left for later."""
    first: dict[str, int] = {}
    for row in rows:
        arn, event_id = str(row._mapping["topic_arn"]), int(row._mapping["id"])
        if FIFO_DESTINATION in arn:
            first.setdefault(arn, event_id)
    held = {
        arn
        for arn, event_id in first.items()
        if conn.execute(
            sa.select(_E.c.id).where(_E.c.topic_arn == arn, _E.c.id < event_id).limit(1)
        ).first()
        is not None
    }
    return [row for row in rows if str(row._mapping["topic_arn"]) not in held]


def _event(row: sa.Row[tuple[object, ...]]) -> _Claimed:
    m = row._mapping
    event = QueuedEvent(
        event_id=int(m["id"]),
        tenant_id=m["tenant_id"],
        topic_arn=m["topic_arn"],
        message=m["message"],
        attempts=int(m["attempts"]) + 1,
        trace=m["trace"],
    )
    return event, int(m["format_version"])


def _rows_of(
    query: sa.Select[tuple[int, str, str, str]],
) -> Callable[[Connection], Sequence[sa.Row[tuple[int, str, str, str]]]]:
    return lambda conn: conn.execute(query).all()


class SqlEventQueue:
    """``sealer`` (decision 0163's addendum): messages added are sealed under their tenant's
    key before their insert, claimed ones opened after the claim's transaction; a legacy row
    (format 1, queued in clear before the addendum) is sealed in place when claimed. None:
    kept in clear (tests of the queue alone)."""

    def __init__(self, db: Database, sealer: EventSealer | None = None) -> None:
        self._db = db
        self._sealer = sealer

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedEvent]:
        earlier = _E.alias("earlier")
        # A FIFO topic's subscription's event waits behind an earlier one of its subscription
        # that is leased or waiting for its retry (decision 0171; index of migration 0079).
        blocked = sa.exists().where(
            earlier.c.topic_arn == _E.c.topic_arn,
            earlier.c.id < _E.c.id,
            sa.or_(earlier.c.not_before > now, earlier.c.lease_until > now),
        )
        due = (
            _E.c.not_before <= now,
            sa.or_(_E.c.lease_until.is_(None), _E.c.lease_until <= now),
            sa.or_(~_E.c.topic_arn.contains(FIFO_DESTINATION, autoescape=True), ~blocked),
        )
        # An idle gateway looks every second: a read, so that an empty queue takes no write
        # transaction (on SQLite, the one writer's turn) from the requests.
        probe = sa.select(_E.c.id).where(*due).limit(1)
        if await self._db.read(lambda conn: conn.execute(probe).first()) is None:
            return []
        query = (
            sa.select(_E)
            .where(*due)
            .order_by(_E.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> list[_Claimed]:
            rows = _in_turn(conn, conn.execute(query).all())
            if not rows:
                return []
            conn.execute(
                _E.update()
                .where(_E.c.id.in_([row.id for row in rows]))
                .values(lease_until=now + lease, attempts=_E.c.attempts + 1)
            )
            return [_event(row) for row in rows]

        claimed = await self._db.write(work)
        if self._sealer is None:
            return [event for event, _ in claimed]
        return [await self._opened(event, self._sealer) for event in claimed]

    async def _opened(self, event: _Claimed, sealer: EventSealer) -> QueuedEvent:
        stored, format_version = event
        try:
            message = await open_message(
                sealer, stored.tenant_id, stored.topic_arn, stored.message, format_version
            )
        except Unreadable as exc:
            return dataclasses.replace(stored, message="", unopened=str(exc), shredded=True)
        except Exception as exc:  # the key provider out of reach: tried again later
            return dataclasses.replace(stored, message="", unopened=type(exc).__name__)
        if format_version == LEGACY_FORMAT:
            await self._reseal(stored, sealer)
        return dataclasses.replace(stored, message=message)

    async def seal_legacy(self, *, batch: int = 100) -> int:
        """Seal in place every row queued in clear before the addendum (the start-up step:
        migration 0076 cannot reach the tenants' keys); how many. A row that does not seal
        (its tenant's key gone) is left to the worker, which delivers or drops it."""
        if self._sealer is None:
            return 0
        sealed, after = 0, 0
        while True:
            query = (
                sa.select(_E.c.id, _E.c.tenant_id, _E.c.topic_arn, _E.c.message)
                .where(_E.c.format_version == LEGACY_FORMAT, _E.c.id > after)
                .order_by(_E.c.id)
                .limit(batch)
            )
            rows = await self._db.read(_rows_of(query))
            if not rows:
                return sealed
            for row in rows:
                after = int(row.id)
                event = QueuedEvent(after, row.tenant_id, row.topic_arn, row.message, 0)
                try:
                    await self._reseal(event, self._sealer)
                except Exception:
                    log.exception("pending notification event %d not sealed", after)
                    continue
                sealed += 1

    async def _reseal(self, event: QueuedEvent, sealer: EventSealer) -> None:
        """A row queued in clear before the addendum, sealed in place (migration 0076 cannot
        reach the tenants' keys): only while it is still that clear row."""
        text = await seal_message(sealer, event.tenant_id, event.topic_arn, event.message)
        statement = (
            _E.update()
            .where(_E.c.id == event.event_id, _E.c.format_version == LEGACY_FORMAT)
            .values(message=text, format_version=SEALED_FORMAT)
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def complete(self, event: QueuedEvent) -> None:
        statement = _E.delete().where(_E.c.id == event.event_id)
        await self._db.write(lambda conn: conn.execute(statement))

    async def retry(
        self, event: QueuedEvent, not_before: datetime, error: str, *, spent: bool = True
    ) -> None:
        statement = (
            _E.update()
            .where(_E.c.id == event.event_id)
            .values(not_before=not_before, lease_until=None, last_error=error[:1024])
        )
        if not spent:
            statement = statement.values(attempts=_E.c.attempts - 1)
        await self._db.write(lambda conn: conn.execute(statement))

    async def drop(self, event: QueuedEvent) -> None:
        await self.complete(event)

    async def waiting(self, tenant_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(_E).where(_E.c.tenant_id == tenant_id)
        return await self._db.read(lambda conn: int(conn.scalar(query) or 0))

    async def add(
        self,
        tenant_id: str,
        topic_arn: str,
        message: str,
        now: datetime,
        *,
        bound: int,
        trace: str | None = None,
    ) -> bool:
        count = sa.select(sa.func.count()).select_from(_E).where(_E.c.tenant_id == tenant_id)
        if self._sealer is not None:  # before the transaction: no key provider call inside
            message = await seal_message(self._sealer, tenant_id, topic_arn, message)
        row = {
            "tenant_id": tenant_id,
            "topic_arn": topic_arn,
            "message": message,
            "format_version": MESSAGE_FORMAT_VERSION if self._sealer is None else SEALED_FORMAT,
            "attempts": 0,
            "not_before": now,
            "lease_until": None,
            "created_at": now,
            "last_error": None,
            "trace": trace,
        }

        def work(conn: Connection) -> bool:
            # Counted in the insert's transaction, as the writes' events are.
            if int(conn.scalar(count) or 0) >= bound:
                return False
            conn.execute(_E.insert().values(**row))
            queued(conn, NOTIFICATIONS)
            return True

        return await self._db.write(work)
