"""EventBridge's archives and replays over the metadata database (SQLite or PostgreSQL), the
tables of migration 0095 (decision 0196).

Each archived event is sealed before its insert as the bus's deliveries are (decision 0192's
session 48 addendum: ``db.notification_events``' format, a fresh data key of the tenant), its
AAD binding the tenant and ``events-archive:<archive ARN>``, and opened after the read's
transaction: the key provider is never called inside one. An event that will never open (its
tenant's key destroyed) is handed back empty, and the replay skips it. A limit is counted in
the transaction that would pass it. Replays are claimed ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL (SQLite has one writer) under a lease, so one gateway at a time works each.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import EVENT_REPLAYS, queued
from andromede.db.notification_events import (
    SEALED_FORMAT,
    EventSealer,
    Unreadable,
    open_message,
    seal_message,
)
from andromede.events.archive_model import (
    Archive,
    ArchivedEvent,
    Replay,
    ReplayState,
    archive_arn,
    from_micros,
    micros,
)
from andromede.events.archive_store import (
    archive_missing,
    limit_error,
    not_cancellable,
    replay_missing,
)
from andromede.events.errors import ResourceAlreadyExists
from andromede.events.held_sql import held_rows

__all__ = ["SqlArchiveStore"]

log = logging.getLogger(__name__)

_A = tables.events_archives
_E = tables.events_archive_events
_R = tables.events_replays
FORMAT_VERSION: Final = 1
# An event kept in clear: only by a store built without a sealer (tests of the store alone).
CLEAR_FORMAT: Final = 1
_DAY: Final = 86_400 * 1_000_000


def _context(region: str, tenant_id: str, name: str) -> str:
    return f"events-archive:{archive_arn(region, tenant_id, name)}"


def _prefixed(column: Any, prefix: str) -> Any:
    # Not LIKE: SQLite's is case-insensitive, and AWS's prefix is not.
    return sa.func.substr(column, 1, len(prefix)) == prefix


class SqlArchiveStore:
    def __init__(self, db: Database, region: str, sealer: EventSealer | None = None) -> None:
        self._db = db
        self._region = region
        self._sealer = sealer

    # -- archives

    def _archives_query(self) -> sa.Select[Any]:
        # Correlated per archive, so each count reads only its archive's rows through
        # ``ix_events_archive_events_time`` (a grouped subquery would read every archive's).
        mine = (_E.c.tenant_id == _A.c.tenant_id, _E.c.archive_name == _A.c.archive_name)
        count = sa.select(sa.func.count()).where(*mine).scalar_subquery()
        size = sa.select(sa.func.sum(_E.c.size)).where(*mine).scalar_subquery()
        return sa.select(_A, count.label("event_count"), size.label("size_bytes"))

    def _archive(self, m: Any) -> Archive:
        archive = Archive.from_row(self._region, m)
        count, size = m.get("event_count"), m.get("size_bytes")
        if count is None:
            return archive
        return replace(archive, event_count=int(count), size_bytes=int(size or 0))

    async def create_archive(
        self, archive: Archive, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        names = sa.select(_A.c.archive_name).where(_A.c.tenant_id == archive.tenant_id)
        row = {
            "tenant_id": archive.tenant_id,
            "archive_name": archive.name,
            "bus_name": archive.bus_name,
            "source_arn": archive.source_arn,
            "retention_days": archive.retention_days,
            "created": micros(archive.created),
            "document": archive.document(),
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            taken = sa.select(_A.c.archive_name).where(
                _A.c.tenant_id == archive.tenant_id, _A.c.archive_name == archive.name
            )
            if conn.execute(taken).first() is not None:
                raise ResourceAlreadyExists(f"Archive {archive.name} already exists.")
            if held_rows(conn, names, counted) >= limit:
                raise limit_error(limit)
            conn.execute(_A.insert().values(row))

        try:
            await self._db.write(work)
        except IntegrityError as exc:  # another gateway took the name meanwhile
            raise ResourceAlreadyExists(f"Archive {archive.name} already exists.") from exc

    async def get_archive(self, tenant_id: str, name: str) -> Archive | None:
        query = self._archives_query().where(_A.c.tenant_id == tenant_id, _A.c.archive_name == name)

        def work(conn: Connection) -> Archive | None:
            row = conn.execute(query).first()
            return None if row is None else self._archive(row._mapping)

        return await self._db.read(work)

    async def list_archives(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Archive]:
        query = (
            self._archives_query()
            .where(_A.c.tenant_id == tenant_id, _A.c.archive_name > after)
            .order_by(_A.c.archive_name)
        )
        if prefix:
            query = query.where(_prefixed(_A.c.archive_name, prefix))
        if source_arn is not None:
            query = query.where(_A.c.source_arn == source_arn)
        found = await self._db.read(
            lambda conn: [self._archive(row._mapping) for row in conn.execute(query).all()]
        )
        # The state lives in the document (one value here, ENABLED): filtered after the read.
        return [a for a in found if state is None or a.state == state][:limit]

    async def change_archive(
        self, tenant_id: str, name: str, change: Callable[[Archive], Archive]
    ) -> Archive:
        where = (_A.c.tenant_id == tenant_id, _A.c.archive_name == name)

        def work(conn: Connection) -> None:
            row = conn.execute(sa.select(_A).where(*where).with_for_update()).first()
            if row is None:
                raise archive_missing(name)
            changed = change(Archive.from_row(self._region, row._mapping))
            conn.execute(
                _A.update()
                .where(*where)
                .values(document=changed.document(), retention_days=changed.retention_days)
            )

        await self._db.write(work)
        found = await self.get_archive(tenant_id, name)
        if found is None:
            raise archive_missing(name)
        return found

    async def delete_archive(self, tenant_id: str, name: str) -> None:
        def work(conn: Connection) -> None:
            gone = conn.execute(
                _A.delete().where(_A.c.tenant_id == tenant_id, _A.c.archive_name == name)
            ).rowcount
            if not gone:
                raise archive_missing(name)
            conn.execute(_E.delete().where(_E.c.tenant_id == tenant_id, _E.c.archive_name == name))

        await self._db.write(work)

    async def bus_archives(self, tenant_id: str, bus: str) -> list[Archive]:
        query = (
            sa.select(_A)
            .where(_A.c.tenant_id == tenant_id, _A.c.bus_name == bus)
            .order_by(_A.c.archive_name)
        )
        return await self._db.read(
            lambda conn: [Archive.from_row(self._region, r._mapping) for r in conn.execute(query)]
        )

    # -- archived events

    async def add_events(
        self, tenant_id: str, name: str, events: Sequence[tuple[datetime, str]], now: datetime
    ) -> None:
        if not events:
            return
        rows = []
        for moment, event in events:
            stored, version = event, CLEAR_FORMAT
            if self._sealer is not None:  # before the transaction: no key call inside it
                context = _context(self._region, tenant_id, name)
                stored = await seal_message(self._sealer, tenant_id, context, event)
                version = SEALED_FORMAT
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "archive_name": name,
                    "event_time": micros(moment),
                    "archived_at": micros(now),
                    "size": len(event.encode()),
                    "message": stored,
                    "format_version": version,
                }
            )
        exists = sa.select(_A.c.archive_name).where(
            _A.c.tenant_id == tenant_id, _A.c.archive_name == name
        )

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is not None:  # not into a deleted archive
                conn.execute(_E.insert(), rows)

        await self._db.write(work)

    async def events(
        self,
        tenant_id: str,
        name: str,
        *,
        start: datetime,
        end: datetime,
        after: tuple[int, int],
        limit: int,
    ) -> list[ArchivedEvent]:
        at, last = after
        query = (
            sa.select(_E.c.id, _E.c.event_time, _E.c.message, _E.c.format_version)
            .where(
                _E.c.tenant_id == tenant_id,
                _E.c.archive_name == name,
                _E.c.event_time >= micros(start),
                _E.c.event_time < micros(end),
                sa.or_(_E.c.event_time > at, sa.and_(_E.c.event_time == at, _E.c.id > last)),
            )
            .order_by(_E.c.event_time, _E.c.id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        found = []
        for row in rows:
            event = str(row.message)
            if int(row.format_version) != CLEAR_FORMAT:
                event = await self._opened(tenant_id, name, event)
            found.append(ArchivedEvent(int(row.id), from_micros(int(row.event_time)), event))
        return found

    async def _opened(self, tenant_id: str, name: str, stored: str) -> str:
        if self._sealer is None:
            return ""
        try:
            return await open_message(
                self._sealer, tenant_id, _context(self._region, tenant_id, name), stored, 2
            )
        except Unreadable:
            log.warning("an archived event of %s/%s does not open: skipped", tenant_id, name)
            return ""

    async def expire(self, now: datetime, *, limit: int) -> int:
        # Archive by archive (few: events_max_archives an account), each through the
        # (tenant, archive, archived_at) index; a read first, so that an idle sweep takes no
        # write transaction (SQLite's one writer is the requests' too). Two gateways deleting
        # the same rows is harmless.
        kept = sa.select(_A.c.tenant_id, _A.c.archive_name, _A.c.retention_days).where(
            _A.c.retention_days > 0
        )
        archives = await self._db.read(lambda conn: conn.execute(kept).all())
        gone = 0
        for tenant_id, name, days in archives:
            horizon = micros(now) - int(days) * _DAY
            if horizon <= 0:  # a retention longer than the epoch's age keeps everything
                continue
            expired = (
                sa.select(_E.c.id)
                .where(
                    _E.c.tenant_id == tenant_id,
                    _E.c.archive_name == name,
                    _E.c.archived_at < sa.literal(horizon, sa.BigInteger),
                )
                .order_by(_E.c.archived_at)
                .limit(limit - gone)
            )
            gone += await self._expire(expired)
            if gone >= limit:
                break
        return gone

    async def _expire(self, expired: sa.Select[Any]) -> int:
        ids = await self._db.read(lambda conn: [int(r.id) for r in conn.execute(expired)])
        if not ids:
            return 0
        statement = _E.delete().where(_E.c.id.in_(ids))
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount or 0))

    # -- replays

    async def create_replay(
        self, replay: Replay, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        active = sa.select(_R.c.replay_name).where(
            _R.c.tenant_id == replay.tenant_id, _R.c.state.in_(sorted(ReplayState.ACTIVE))
        )
        taken = sa.select(_R.c.replay_name).where(
            _R.c.tenant_id == replay.tenant_id, _R.c.replay_name == replay.name
        )
        row = {
            "tenant_id": replay.tenant_id,
            "replay_name": replay.name,
            "archive_name": replay.archive_name,
            "source_arn": replay.source_arn,
            "state": replay.state,
            "state_reason": replay.state_reason,
            "document": replay.document(),
            "cursor_time": replay.cursor[0],
            "cursor_id": replay.cursor[1],
            "last_replayed": None,
            "ended": None,
            "holder": None,
            "lease_until": None,
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            if conn.execute(taken).first() is not None:
                raise ResourceAlreadyExists(f"Replay {replay.name} already exists.")
            if held_rows(conn, active, counted) >= limit:
                raise limit_error(limit)
            conn.execute(_R.insert().values(row))
            queued(conn, EVENT_REPLAYS)

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise ResourceAlreadyExists(f"Replay {replay.name} already exists.") from exc

    async def get_replay(self, tenant_id: str, name: str) -> Replay | None:
        query = sa.select(_R).where(_R.c.tenant_id == tenant_id, _R.c.replay_name == name)

        def work(conn: Connection) -> Replay | None:
            row = conn.execute(query).first()
            return None if row is None else Replay.from_row(self._region, row._mapping)

        return await self._db.read(work)

    async def list_replays(
        self,
        tenant_id: str,
        *,
        prefix: str,
        source_arn: str | None,
        state: str | None,
        after: str,
        limit: int,
    ) -> list[Replay]:
        query = (
            sa.select(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.replay_name > after)
            .order_by(_R.c.replay_name)
            .limit(limit)
        )
        if prefix:
            query = query.where(_prefixed(_R.c.replay_name, prefix))
        if source_arn is not None:
            query = query.where(_R.c.source_arn == source_arn)
        if state is not None:
            query = query.where(_R.c.state == state)
        return await self._db.read(
            lambda conn: [Replay.from_row(self._region, r._mapping) for r in conn.execute(query)]
        )

    async def cancel_replay(self, tenant_id: str, name: str, now: datetime) -> Replay:
        where = (_R.c.tenant_id == tenant_id, _R.c.replay_name == name)

        def work(conn: Connection) -> Replay:
            row = conn.execute(sa.select(_R).where(*where).with_for_update()).first()
            if row is None:
                raise replay_missing(name)
            held = Replay.from_row(self._region, row._mapping)
            if held.state not in (ReplayState.STARTING, ReplayState.RUNNING):
                raise not_cancellable(held)
            cancelling = held.moved(ReplayState.CANCELLING, now)
            conn.execute(_R.update().where(*where).values(state=cancelling.state))
            return cancelling

        return await self._db.write(work)

    async def claim_replays(
        self, now: datetime, *, holder: str, lease: timedelta, limit: int
    ) -> list[Replay]:
        due = (
            _R.c.state.in_(sorted(ReplayState.ACTIVE)),
            sa.or_(_R.c.lease_until.is_(None), _R.c.lease_until <= now, _R.c.holder == holder),
        )
        probe = sa.select(_R.c.replay_name).where(*due).limit(1)
        if await self._db.read(lambda conn: conn.execute(probe).first()) is None:
            return []  # an idle gateway's look takes no write transaction
        query = (
            sa.select(_R)
            .where(*due)
            .order_by(_R.c.tenant_id, _R.c.replay_name)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> list[Replay]:
            rows = conn.execute(query).all()
            for row in rows:
                conn.execute(
                    _R.update()
                    .where(_R.c.tenant_id == row.tenant_id, _R.c.replay_name == row.replay_name)
                    .values(holder=holder, lease_until=now + lease)
                )
            return [Replay.from_row(self._region, row._mapping) for row in rows]

        return await self._db.write(work)

    async def advance_replay(self, held: Replay, new: Replay, *, holder: str) -> bool:
        finished = new.state not in ReplayState.ACTIVE
        values: dict[str, Any] = {
            "state": new.state,
            "state_reason": new.state_reason,
            "ended": None if new.ended is None else micros(new.ended),
            "last_replayed": None if new.last_replayed is None else micros(new.last_replayed),
            "cursor_time": new.cursor[0],
            "cursor_id": new.cursor[1],
        }
        if finished:
            values.update(holder=None, lease_until=None)
        statement = (
            _R.update()
            .where(
                _R.c.tenant_id == held.tenant_id,
                _R.c.replay_name == held.name,
                _R.c.state == held.state,
                _R.c.holder == holder,
            )
            .values(values)
        )
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount) == 1)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(_E.delete().where(_E.c.tenant_id == tenant_id))
            conn.execute(_R.delete().where(_R.c.tenant_id == tenant_id))
            return int(conn.execute(_A.delete().where(_A.c.tenant_id == tenant_id)).rowcount or 0)

        return await self._db.write(work)
