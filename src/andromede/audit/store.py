"""The audit store interface and its implementations (SQL table, in-memory twin)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.audit.model import AuditEvent, Outcome
from andromede.db import tables
from andromede.db.database import Database

__all__ = ["AuditStore", "MemoryAuditStore", "SqlAuditStore"]


class AuditStore(Protocol):
    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Append in order, in one transaction."""

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]: ...


class MemoryAuditStore:
    def __init__(self) -> None:
        self._events: list[AuditEvent] = []

    async def append(self, events: Sequence[AuditEvent]) -> None:
        self._events.extend(events)

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        numbered = list(enumerate(self._events, start=1))
        return [
            (i, e)
            for i, e in numbered
            if i > after_id and (tenant_id is None or e.tenant_id == tenant_id)
        ][:limit]


class SqlAuditStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        rows = [
            {
                "occurred_at": e.occurred_at,
                "request_id": e.request_id,
                "tenant_id": e.tenant_id,
                "principal": e.principal,
                "action": e.action,
                "resource": e.resource,
                "outcome": e.outcome.value,
                "details": json.dumps(dict(e.details), sort_keys=True),
            }
            for e in events
        ]
        await self._db.write(lambda conn: conn.execute(tables.audit_events.insert(), rows))

    async def list_events(
        self, tenant_id: str | None, *, after_id: int, limit: int
    ) -> list[tuple[int, AuditEvent]]:
        t = tables.audit_events
        query = sa.select(t).where(t.c.id > after_id).order_by(t.c.id).limit(limit)
        if tenant_id is not None:
            query = query.where(t.c.tenant_id == tenant_id)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        rows = await self._db.read(work)
        return [
            (
                int(r.id),
                AuditEvent(
                    occurred_at=r.occurred_at,
                    request_id=r.request_id,
                    tenant_id=r.tenant_id,
                    principal=r.principal,
                    action=r.action,
                    resource=r.resource,
                    outcome=Outcome(r.outcome),
                    details=json.loads(r.details),
                ),
            )
            for r in rows
        ]
