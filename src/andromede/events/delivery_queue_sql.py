"""EventBridge's durable deliveries over the metadata database (SQLite or PostgreSQL), the
``events_deliveries`` table of migration 0091 (decision 0192, session 48 addendum).

Sealed as the notification events are (decision 0163's addendum, ``db.notification_events``):
each message is sealed under a fresh data key of its tenant before its insert, its AAD binding
the tenant, the rule's ARN and the target's id, and opened after the claim's transaction; a
message whose tenant's key was destroyed never opens (``shredded``: dropped by the worker).
Claims take rows ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite has one writer) and lease
them, so the gateways' workers share the queue without taking a row twice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import EVENT_DELIVERIES, queued
from andromede.db.notification_events import (
    SEALED_FORMAT,
    EventSealer,
    Unreadable,
    open_message,
    seal_message,
)
from andromede.events.delivery_queue import HeldDelivery, NewDelivery, QueuedDelivery

__all__ = ["SqlDeliveryQueue"]

_D = tables.events_deliveries
# Format 1: the message in clear (a queue built without a sealer: tests of the queue alone).
CLEAR_FORMAT: Final = 1


def _destination(rule_arn: str, target_id: str) -> str:
    return f"{rule_arn}#target/{target_id}"


class SqlDeliveryQueue:
    def __init__(self, db: Database, sealer: EventSealer | None = None) -> None:
        self._db = db
        self._sealer = sealer

    async def add(self, tenant_id: str, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        if not deliveries:
            return
        rows = []
        for new in deliveries:
            message = new.message
            if self._sealer is not None:  # before the transaction: no key call inside it
                destination = _destination(new.rule_arn, new.target_id)
                message = await seal_message(self._sealer, tenant_id, destination, message)
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "rule_arn": new.rule_arn,
                    "target_id": new.target_id,
                    "message": message,
                    "format_version": CLEAR_FORMAT if self._sealer is None else SEALED_FORMAT,
                    "attempts": 0,
                    "not_before": now,
                    "lease_until": None,
                    "created_at": now,
                    "last_error": None,
                }
            )

        def work(conn: Connection) -> None:
            conn.execute(_D.insert(), rows)
            queued(conn, EVENT_DELIVERIES)

        await self._db.write(work)

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[QueuedDelivery]:
        due = (
            _D.c.not_before <= now,
            sa.or_(_D.c.lease_until.is_(None), _D.c.lease_until <= now),
        )
        # An idle gateway looks every second: a read, so that an empty queue takes no write
        # transaction (on SQLite, the one writer's turn) from the requests.
        probe = sa.select(_D.c.id).where(*due).limit(1)
        if await self._db.read(lambda conn: conn.execute(probe).first()) is None:
            return []
        query = (
            sa.select(_D)
            .where(*due)
            .order_by(_D.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> list[tuple[QueuedDelivery, int]]:
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(
                _D.update()
                .where(_D.c.id.in_([row.id for row in rows]))
                .values(lease_until=now + lease, attempts=_D.c.attempts + 1)
            )
            return [_claimed(row) for row in rows]

        claimed = await self._db.write(work)
        return [await self._opened(delivery, version) for delivery, version in claimed]

    async def _opened(self, delivery: QueuedDelivery, version: int) -> QueuedDelivery:
        if version == CLEAR_FORMAT:
            return delivery
        if self._sealer is None:
            return dataclasses.replace(delivery, message="", unopened="no sealer")
        destination = _destination(delivery.rule_arn, delivery.target_id)
        try:
            message = await open_message(
                self._sealer, delivery.tenant_id, destination, delivery.message, version
            )
        except Unreadable as exc:
            return dataclasses.replace(delivery, message="", unopened=str(exc), shredded=True)
        except Exception as exc:  # the key provider out of reach: tried again later
            return dataclasses.replace(delivery, message="", unopened=type(exc).__name__)
        return dataclasses.replace(delivery, message=message)

    async def complete(self, delivery: QueuedDelivery) -> None:
        statement = _D.delete().where(_D.c.id == delivery.delivery_id)
        await self._db.write(lambda conn: conn.execute(statement))

    async def retry(self, delivery: QueuedDelivery, not_before: datetime, error: str) -> None:
        statement = (
            _D.update()
            .where(_D.c.id == delivery.delivery_id)
            .values(not_before=not_before, lease_until=None, last_error=error[:1024])
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def waiting(self) -> int:
        query = sa.select(sa.func.count()).select_from(_D)
        return await self._db.read(lambda conn: int(conn.scalar(query) or 0))

    async def held(self, tenant_id: str, after: int, limit: int) -> list[HeldDelivery]:
        query = (
            sa.select(_D.c.id, _D.c.rule_arn, _D.c.target_id, _D.c.message, _D.c.format_version)
            .where(_D.c.tenant_id == tenant_id, _D.c.id > after)
            .order_by(_D.c.id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        found = []
        for row in rows:
            message = str(row.message)
            if int(row.format_version) != CLEAR_FORMAT:
                if self._sealer is None:
                    continue
                destination = _destination(str(row.rule_arn), str(row.target_id))
                try:
                    message = await open_message(
                        self._sealer, tenant_id, destination, message, int(row.format_version)
                    )
                except Unreadable:
                    continue
            found.append(
                HeldDelivery(
                    int(row.id), str(row.rule_arn), str(row.target_id), message, str(row.message)
                )
            )
        return found

    async def rewrite(self, tenant_id: str, held: HeldDelivery, message: str) -> bool:
        stored = message
        if self._sealer is not None:
            destination = _destination(held.rule_arn, held.target_id)
            stored = await seal_message(self._sealer, tenant_id, destination, message)
        statement = (
            _D.update()
            .where(
                _D.c.id == held.delivery_id,
                _D.c.tenant_id == tenant_id,
                _D.c.message == held.stored,
            )
            .values(
                message=stored,
                format_version=CLEAR_FORMAT if self._sealer is None else SEALED_FORMAT,
            )
        )
        return await self._db.write(lambda conn: bool(conn.execute(statement).rowcount))

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = _D.delete().where(_D.c.tenant_id == tenant_id)
        return await self._db.write(lambda conn: int(conn.execute(statement).rowcount or 0))


def _claimed(row: sa.Row[tuple[object, ...]]) -> tuple[QueuedDelivery, int]:
    m = row._mapping
    delivery = QueuedDelivery(
        delivery_id=int(m["id"]),
        tenant_id=str(m["tenant_id"]),
        rule_arn=str(m["rule_arn"]),
        target_id=str(m["target_id"]),
        message=str(m["message"]),
        attempts=int(m["attempts"]) + 1,
        created=m["created_at"],
    )
    return delivery, int(m["format_version"])
