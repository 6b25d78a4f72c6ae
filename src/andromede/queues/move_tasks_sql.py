"""Message move tasks over the metadata database (SQLite or PostgreSQL), the table of
migration 0078 (decision 0165). One running task per source queue is the unique index's
(``active`` is 1 while a task runs): two gateways starting one at once cannot both succeed.
A pass over a task is taken by updating it from the ``updated_at`` it was read with, so two
gateways never pass over one task at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import MESSAGE_MOVES, queued
from andromede.db.types import utc_from_stored
from andromede.queues.move_tasks import CANCELLED, RUNNING, MoveTask

__all__ = ["SqlMoveTaskStore"]

_T = tables.queue_move_tasks


def _task(row: sa.Row[tuple[object, ...]]) -> MoveTask:
    m = row._mapping
    return MoveTask(
        task_id=m["task_id"],
        tenant_id=m["tenant_id"],
        source_arn=m["source_arn"],
        destination_arn=m["destination_arn"],
        rate=m["rate"],
        status=m["status"],
        moved=int(m["moved"]),
        to_move=int(m["to_move"]),
        started_at=utc_from_stored(m["started_at"]),
        updated_at=utc_from_stored(m["updated_at"]),
        failure=m["failure"],
    )


def _values(task: MoveTask) -> dict[str, Any]:
    return {
        "tenant_id": task.tenant_id,
        "source_arn": task.source_arn,
        "destination_arn": task.destination_arn,
        "rate": task.rate,
        "status": task.status,
        "active": 1 if task.status == RUNNING else None,
        "moved": task.moved,
        "to_move": task.to_move,
        "failure": task.failure,
        "started_at": task.started_at,
        "updated_at": task.updated_at,
    }


class SqlMoveTaskStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def start(self, task: MoveTask) -> bool:
        def work(conn: Connection) -> bool:
            held = conn.execute(
                sa.select(_T.c.task_id).where(
                    _T.c.tenant_id == task.tenant_id,
                    _T.c.source_arn == task.source_arn,
                    _T.c.active == 1,
                )
            ).first()
            if held is not None:
                return False
            conn.execute(_T.insert().values(task_id=task.task_id, **_values(task)))
            queued(conn, MESSAGE_MOVES)
            return True

        try:
            return await self._db.write(work)
        except sa.exc.IntegrityError:
            return False  # another gateway started one for this source at the same moment

    async def get(self, tenant_id: str, task_id: str) -> MoveTask | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.task_id == task_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _task(row)

    async def list_tasks(self, tenant_id: str, source_arn: str, limit: int) -> list[MoveTask]:
        query = (
            sa.select(_T)
            .where(_T.c.tenant_id == tenant_id, _T.c.source_arn == source_arn)
            .order_by(_T.c.started_at.desc(), _T.c.task_id)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_task(row) for row in rows]

    async def running(self, limit: int) -> list[MoveTask]:
        query = sa.select(_T).where(_T.c.status == RUNNING).order_by(_T.c.updated_at).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_task(row) for row in rows]

    async def update(self, task: MoveTask, expected: datetime) -> bool:
        statement = (
            _T.update()
            .where(
                _T.c.task_id == task.task_id,
                _T.c.status == RUNNING,
                _T.c.updated_at == expected,
            )
            .values(**_values(task))
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount > 0)

    async def cancel(self, tenant_id: str, task_id: str, now: datetime) -> MoveTask | None:
        def work(conn: Connection) -> MoveTask | None:
            done = conn.execute(
                _T.update()
                .where(_T.c.tenant_id == tenant_id, _T.c.task_id == task_id, _T.c.status == RUNNING)
                .values(status=CANCELLED, active=None, updated_at=now)
            ).rowcount
            if not done:
                return None
            row = conn.execute(sa.select(_T).where(_T.c.task_id == task_id)).first()
            return None if row is None else _task(row)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> None:
        statement = _T.delete().where(_T.c.tenant_id == tenant_id)
        await self._db.write(lambda conn: conn.execute(statement))
