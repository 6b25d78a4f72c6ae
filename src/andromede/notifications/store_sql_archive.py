"""FIFO topics' archives and their replays over the metadata database (SQLite or
PostgreSQL), tables of migration 0081 (decision 0175).

Each archived record is sealed before its insert under the topic's tenant's key, its AAD
bound to ``archive:<topic ARN>`` (so a row moved to another topic, or into the event queue,
does not open), and opened after the read's transaction: the key provider is never called
inside a transaction. A record that will never open (its tenant's key destroyed) is handed
back empty, and the replay skips it.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import SNS_REPLAYS, queued
from andromede.db.notification_events import (
    SEALED_FORMAT,
    EventSealer,
    Unreadable,
    open_message,
    seal_message,
)
from andromede.db.types import utc_from_stored
from andromede.notifications.archive import REPLAY_PENDING, REPLAY_RUNNING, Archived, Replay

__all__ = ["SqlArchiveStore"]

log = logging.getLogger(__name__)

_A = tables.topic_archive
_R = tables.topic_replays
# A record kept in clear: only by a store built without a sealer (tests of the store alone).
_CLEAR_FORMAT = 1


def _destination(topic_arn: str) -> str:
    return f"archive:{topic_arn}"


def _replay(row: sa.Row[tuple[object, ...]]) -> Replay:
    m = row._mapping
    ending = m["ending"]
    return Replay(
        subscription_arn=str(m["subscription_arn"]),
        topic_arn=str(m["topic_arn"]),
        tenant_id=str(m["tenant_id"]),
        start=utc_from_stored(m["starting"]),
        end=None if ending is None else utc_from_stored(ending),
        cursor=int(m["cursor"]),
        status=str(m["status"]),
    )


class SqlArchiveStore:
    def __init__(self, db: Database, sealer: EventSealer | None = None) -> None:
        self._db = db
        self._sealer = sealer

    async def archive(
        self, tenant_id: str, topic_arn: str, record: str, published_at: datetime, until: datetime
    ) -> None:
        size = len(record.encode())
        stored, format_version = record, _CLEAR_FORMAT
        if self._sealer is not None:  # before the transaction: no key provider call inside
            stored = await seal_message(self._sealer, tenant_id, _destination(topic_arn), record)
            format_version = SEALED_FORMAT
        statement = _A.insert().values(
            tenant_id=tenant_id,
            topic_arn=topic_arn,
            published_at=published_at,
            expires_at=until,
            size=size,
            message=stored,
            format_version=format_version,
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def archived(
        self,
        topic_arn: str,
        *,
        after: int,
        start: datetime,
        end: datetime | None,
        now: datetime,
        limit: int,
    ) -> list[Archived]:
        query = (
            sa.select(_A.c.id, _A.c.tenant_id, _A.c.published_at, _A.c.message, _A.c.format_version)
            .where(
                _A.c.topic_arn == topic_arn,
                _A.c.id > after,
                _A.c.expires_at > now,
                _A.c.published_at >= start,
            )
            .order_by(_A.c.id)
            .limit(limit)
        )
        if end is not None:
            query = query.where(_A.c.published_at <= end)

        def work(conn: Connection) -> list[tuple[int, str, datetime, str, int]]:
            return [
                (
                    int(row.id),
                    str(row.tenant_id),
                    utc_from_stored(row.published_at),
                    str(row.message),
                    int(row.format_version),
                )
                for row in conn.execute(query).all()
            ]

        found: list[Archived] = []
        for archive_id, tenant_id, published_at, stored, format_version in await self._db.read(
            work
        ):
            record = stored
            if format_version != _CLEAR_FORMAT:
                record = await self._opened(tenant_id, topic_arn, stored)
            found.append(Archived(archive_id, published_at, record))
        return found

    async def _opened(self, tenant_id: str, topic_arn: str, stored: str) -> str:
        if self._sealer is None:
            return ""
        try:
            return await open_message(
                self._sealer, tenant_id, _destination(topic_arn), stored, SEALED_FORMAT
            )
        except Unreadable:
            log.warning("an archived message of %s does not open: skipped", topic_arn)
            return ""

    async def end_archive(self, topic_arn: str, now: datetime) -> int:
        statement = (
            _A.update()
            .where(_A.c.topic_arn == topic_arn, _A.c.expires_at > now)
            .values(expires_at=now)
        )
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount))

    async def expire(self, now: datetime, *, limit: int) -> int:
        # A bounded batch: the ids first, so one pass holds the writer briefly (SQLite's
        # one writer is the requests' too).
        ids = sa.select(_A.c.id).where(_A.c.expires_at <= now).order_by(_A.c.id).limit(limit)

        def work(conn: Connection) -> int:
            gone = [int(row.id) for row in conn.execute(ids).all()]
            if not gone:
                return 0
            return int(conn.execute(_A.delete().where(_A.c.id.in_(gone))).rowcount)

        probe = sa.select(_A.c.id).where(_A.c.expires_at <= now).limit(1)
        if await self._db.read(lambda conn: conn.execute(probe).first()) is None:
            return 0
        return await self._db.write(work)

    async def archived_bytes(self) -> dict[str, int]:
        query = sa.select(_A.c.tenant_id, sa.func.sum(_A.c.size)).group_by(_A.c.tenant_id)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return {str(tenant): int(size or 0) for tenant, size in rows}

    async def put_replay(self, replay: Replay) -> None:
        values = {
            "topic_arn": replay.topic_arn,
            "tenant_id": replay.tenant_id,
            "starting": replay.start,
            "ending": replay.end,
            "cursor": replay.cursor,
            "status": replay.status,
        }

        def work(conn: Connection) -> None:
            updated = conn.execute(
                _R.update().where(_R.c.subscription_arn == replay.subscription_arn).values(values)
            )
            if updated.rowcount == 0:
                conn.execute(_R.insert().values(subscription_arn=replay.subscription_arn, **values))
            queued(conn, SNS_REPLAYS)

        await self._db.write(work)

    async def drop_replay(self, subscription_arn: str) -> None:
        statement = _R.delete().where(_R.c.subscription_arn == subscription_arn)
        await self._db.write(lambda conn: conn.execute(statement))

    async def replay(self, subscription_arn: str) -> Replay | None:
        query = sa.select(_R).where(_R.c.subscription_arn == subscription_arn)

        def work(conn: Connection) -> Replay | None:
            row = conn.execute(query).first()
            return None if row is None else _replay(row)

        return await self._db.read(work)

    async def due_replays(self, *, limit: int) -> list[Replay]:
        query = (
            sa.select(_R)
            .where(_R.c.status.in_((REPLAY_PENDING, REPLAY_RUNNING)))
            .order_by(_R.c.subscription_arn)
            .limit(limit)
        )
        return await self._db.read(lambda conn: [_replay(r) for r in conn.execute(query).all()])

    async def advance_replay(self, replay: Replay, cursor: int, status: str) -> bool:
        # Compare-and-set on what was read: two gateways advancing one replay at once, or a
        # new ReplayPolicy set meanwhile, leave one winner and never a cursor gone back.
        statement = (
            _R.update()
            .where(
                _R.c.subscription_arn == replay.subscription_arn,
                _R.c.cursor == replay.cursor,
                _R.c.status == replay.status,
                _R.c.starting == replay.start,
            )
            .values(cursor=cursor, status=status)
        )
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount) == 1)
