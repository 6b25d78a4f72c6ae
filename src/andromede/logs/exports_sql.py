"""CloudWatch Logs export tasks over the metadata database (SQLite or PostgreSQL), the table
of migration 0096 (decision 0186, session-49 addendum). A task is claimed with a
compare-and-set ``UPDATE … WHERE status …`` (the candidate read ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), so two gateways never run one task; every later write of the runner names its
lease owner and the RUNNING status, so a CancelExportTask through another gateway — or a
takeover after the lease ran out — is never overwritten. The account's one active task is
counted before the insert: two gateways creating at the same instant may pass it by one,
which the decision accepts (AWS's bound is a quota, not a guarantee)."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.logs.errors import LimitExceeded
from andromede.logs.exports import ACTIVE, MESSAGES, ExportStatus, ExportTask

__all__ = ["SqlExportStore"]

_T = tables.log_export_tasks
FORMAT_VERSION: Final = 1
_RUNNING = ExportStatus.RUNNING.value


def _task(m: Any) -> ExportTask:
    return ExportTask(
        m["tenant_id"],
        m["task_id"],
        m["task_name"],
        m["group_name"],
        m["stream_prefix"],
        int(m["start_time"]),
        int(m["end_time"]),
        m["bucket"],
        m["prefix"],
        int(m["created"]),
        ExportStatus(m["status"]),
        m["message"],
        None if m["completed"] is None else int(m["completed"]),
        m["lease_owner"],
        int(m["lease_until"]),
    )


def _takeable(now: int) -> Any:
    return sa.or_(
        _T.c.status == ExportStatus.PENDING.value,
        sa.and_(_T.c.status == _RUNNING, _T.c.lease_until < now),
    )


class SqlExportStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, task: ExportTask) -> None:
        active = (
            sa.select(_T.c.task_id)
            .where(_T.c.tenant_id == task.tenant_id, _T.c.status.in_([s.value for s in ACTIVE]))
            .limit(1)
        )

        def work(conn: Connection) -> None:
            if conn.execute(active).first() is not None:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_T).values(
                    tenant_id=task.tenant_id,
                    task_id=task.task_id,
                    task_name=task.name,
                    group_name=task.group,
                    stream_prefix=task.stream_prefix,
                    start_time=task.start,
                    end_time=task.end,
                    bucket=task.bucket,
                    prefix=task.prefix,
                    created=task.created,
                    status=task.status.value,
                    message=task.message,
                    completed=task.completed,
                    lease_owner=task.lease_owner,
                    lease_until=task.lease_until,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, task_id: str) -> ExportTask | None:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.task_id == task_id)

        def work(conn: Connection) -> ExportTask | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _task(row)

        return await self._db.read(work)

    async def recent(
        self,
        tenant_id: str,
        status: ExportStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[ExportTask]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(_T.c.status == status.value)
        if before is not None:
            query = query.where(
                sa.or_(
                    _T.c.created < before[0],
                    sa.and_(_T.c.created == before[0], _T.c.task_id < before[1]),
                )
            )
        query = query.order_by(_T.c.created.desc(), _T.c.task_id.desc()).limit(limit)

        def work(conn: Connection) -> list[ExportTask]:
            return [_task(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def claim(self, owner: str, now: int, lease_until: int) -> ExportTask | None:
        candidate = (
            sa.select(_T.c.tenant_id, _T.c.task_id)
            .where(_takeable(now))
            .order_by(_T.c.created)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> ExportTask | None:
            found = conn.execute(candidate).first()
            if found is None:
                return None
            tenant_id, task_id = found
            taken = conn.execute(
                sa.update(_T)
                .where(_T.c.tenant_id == tenant_id, _T.c.task_id == task_id, _takeable(now))
                .values(
                    status=_RUNNING,
                    message=MESSAGES[ExportStatus.RUNNING],
                    lease_owner=owner,
                    lease_until=lease_until,
                )
            )
            if taken.rowcount != 1:
                return None  # taken by another gateway between the read and the write
            row = conn.execute(
                sa.select(_T).where(_T.c.tenant_id == tenant_id, _T.c.task_id == task_id)
            ).mappings()
            return _task(row.one())

        return await self._db.write(work)

    def _held(self, tenant_id: str, task_id: str, owner: str) -> Any:
        return sa.update(_T).where(
            _T.c.tenant_id == tenant_id,
            _T.c.task_id == task_id,
            _T.c.status == _RUNNING,
            _T.c.lease_owner == owner,
        )

    async def renew(self, tenant_id: str, task_id: str, owner: str, lease_until: int) -> bool:
        statement = self._held(tenant_id, task_id, owner).values(lease_until=lease_until)

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def finish(
        self,
        tenant_id: str,
        task_id: str,
        owner: str,
        status: ExportStatus,
        message: str,
        completed: int,
    ) -> bool:
        statement = self._held(tenant_id, task_id, owner).values(
            status=status.value, message=message, completed=completed, lease_owner=None
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def cancel(self, tenant_id: str, task_id: str, completed: int) -> bool:
        statement = (
            sa.update(_T)
            .where(
                _T.c.tenant_id == tenant_id,
                _T.c.task_id == task_id,
                _T.c.status.in_([s.value for s in ACTIVE]),
            )
            .values(
                status=ExportStatus.CANCELLED.value,
                message=MESSAGES[ExportStatus.CANCELLED],
                completed=completed,
                lease_owner=None,
            )
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_T).where(_T.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
