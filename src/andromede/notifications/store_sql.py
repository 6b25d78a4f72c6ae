"""Topics and the event queue over the metadata database (SQLite or PostgreSQL), tables of
migration 0054 (decision 0132).

A claim selects due, unleased events ``FOR UPDATE SKIP LOCKED`` and leases them in the same
transaction: on PostgreSQL two gateways claiming at once take disjoint events and neither
waits; SQLite runs one write transaction at a time. Settling acts on the event's row only
while it is there, so an event settled after its lease ran out is not settled twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.types import utc_from_stored
from andromede.notifications.errors import TopicLimitExceeded
from andromede.notifications.model import FORMAT_VERSION, Topic
from andromede.notifications.store import QueuedEvent
from andromede.notifications.testevent import MESSAGE_FORMAT_VERSION

__all__ = ["SqlEventQueue", "SqlTopicStore"]

_T = tables.notification_topics
_E = tables.notification_events


def _topic(row: sa.Row[tuple[object, ...]]) -> Topic:
    m = row._mapping
    return Topic(
        tenant_id=m["tenant_id"],
        name=m["name"],
        region=m["region"],
        attributes=Topic.attributes_of(m["document"]),
        created_at=utc_from_stored(m["created_at"]),
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
                return Topic(
                    kept.tenant_id, kept.name, kept.region, topic.attributes, kept.created_at
                )
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
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)


def _event(row: sa.Row[tuple[object, ...]]) -> QueuedEvent:
    m = row._mapping
    return QueuedEvent(
        event_id=int(m["id"]),
        tenant_id=m["tenant_id"],
        topic_arn=m["topic_arn"],
        message=m["message"],
        attempts=int(m["attempts"]) + 1,
    )


class SqlEventQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedEvent]:
        due = (
            _E.c.not_before <= now,
            sa.or_(_E.c.lease_until.is_(None), _E.c.lease_until <= now),
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

        def work(conn: Connection) -> list[QueuedEvent]:
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(
                _E.update()
                .where(_E.c.id.in_([row.id for row in rows]))
                .values(lease_until=now + lease, attempts=_E.c.attempts + 1)
            )
            return [_event(row) for row in rows]

        return await self._db.write(work)

    async def complete(self, event: QueuedEvent) -> None:
        statement = _E.delete().where(_E.c.id == event.event_id)
        await self._db.write(lambda conn: conn.execute(statement))

    async def retry(self, event: QueuedEvent, not_before: datetime, error: str) -> None:
        statement = (
            _E.update()
            .where(_E.c.id == event.event_id)
            .values(not_before=not_before, lease_until=None, last_error=error[:1024])
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def drop(self, event: QueuedEvent) -> None:
        await self.complete(event)

    async def waiting(self, tenant_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(_E).where(_E.c.tenant_id == tenant_id)
        return await self._db.read(lambda conn: int(conn.scalar(query) or 0))

    async def add(
        self, tenant_id: str, topic_arn: str, message: str, now: datetime, *, bound: int
    ) -> bool:
        count = sa.select(sa.func.count()).select_from(_E).where(_E.c.tenant_id == tenant_id)
        row = {
            "tenant_id": tenant_id,
            "topic_arn": topic_arn,
            "message": message,
            "format_version": MESSAGE_FORMAT_VERSION,
            "attempts": 0,
            "not_before": now,
            "lease_until": None,
            "created_at": now,
            "last_error": None,
        }

        def work(conn: Connection) -> bool:
            # Counted in the insert's transaction, as the writes' events are.
            if int(conn.scalar(count) or 0) >= bound:
                return False
            conn.execute(_E.insert().values(**row))
            return True

        return await self._db.write(work)
