"""Lambda's queued Event invocations over the metadata database (SQLite or PostgreSQL), the
``lambda_event_invocations`` table of migration 0135 (decision 0286). A claim reads the due
rows not under a lease and takes each by a conditional ``UPDATE … WHERE lease_until =
<read>``, so of two gateways claiming at once each row goes to one."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import LAMBDA_EVENTS, queued
from andromede.functions.event_queue import EventInvocation

__all__ = ["SqlEventQueue"]

_E = tables.lambda_event_invocations
FORMAT_VERSION: Final = 1


def _invocation(row: Any) -> EventInvocation:
    return EventInvocation(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        version=row["version"],
        arn=row["arn"],
        sealed_payload=bytes(row["sealed_payload"]),
        created=int(row["created"]),
        due=int(row["due"]),
        attempts=int(row["attempts"]),
        lease_owner=row["lease_owner"],
        lease_until=int(row["lease_until"]),
        trace=row["trace"],
    )


class SqlEventQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, invocation: EventInvocation) -> None:
        insert = sa.insert(_E).values(
            id=invocation.id,
            tenant_id=invocation.tenant_id,
            name=invocation.name,
            version=invocation.version,
            arn=invocation.arn,
            sealed_payload=invocation.sealed_payload,
            created=invocation.created,
            due=invocation.due,
            attempts=invocation.attempts,
            lease_owner=invocation.lease_owner,
            lease_until=invocation.lease_until,
            trace=invocation.trace,
            format_version=FORMAT_VERSION,
        )

        def add(conn: Connection) -> None:
            conn.execute(insert)
            queued(conn, LAMBDA_EVENTS)  # the worker's bell rings once committed (0326)

        await self._db.write(add)

    async def claim(self, owner: str, now: int, lease_ms: int, limit: int) -> list[EventInvocation]:
        due = (
            sa.select(_E)
            .where(_E.c.due <= now, _E.c.lease_until <= now)
            .order_by(_E.c.due, _E.c.id)
            .limit(limit)
        )

        def work(conn: Connection) -> list[EventInvocation]:
            claimed = []
            for row in conn.execute(due).mappings().all():
                found = _invocation(row)
                update = (
                    sa.update(_E)
                    .where(_E.c.id == found.id, _E.c.lease_until == found.lease_until)
                    .values(lease_owner=owner, lease_until=now + lease_ms)
                )
                if conn.execute(update).rowcount == 1:
                    claimed.append(replace(found, lease_owner=owner, lease_until=now + lease_ms))
            return claimed

        return await self._db.write(work)

    async def retry(self, invocation: EventInvocation, due: int, *, counted: bool = True) -> None:
        attempts = invocation.attempts + (1 if counted else 0)
        update = (
            sa.update(_E)
            .where(_E.c.id == invocation.id)
            .values(attempts=attempts, due=due, lease_owner="", lease_until=0)
        )
        await self._db.write_statement(lambda conn: conn.execute(update))

    async def done(self, invocation_id: str) -> None:
        delete = sa.delete(_E).where(_E.c.id == invocation_id)
        await self._db.write_statement(lambda conn: conn.execute(delete))

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(_E).where(_E.c.tenant_id == tenant_id)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))
