"""S3 Batch Operations jobs (decision 0152's addendum): the job as stored, its statuses, and
its store over the metadata database (SQLite or PostgreSQL, tables of migration 0068).

A job is created ``New``; a worker prepares it (reads and checks its manifest, one task row
per line) into ``Suspended`` (awaiting confirmation) or ``Ready``; runs it (``Active``) batch
by batch, each task's result recorded with the job's counters in one transaction; and ends it
``Complete`` (the report written), ``Failed`` (its manifest refused) or ``Cancelled``.

A worker claims a job by leasing it: the due job is selected ``FOR UPDATE SKIP LOCKED`` and
its lease set in the same transaction, so two gateways never work on one job at once (SQLite
runs one write transaction at a time); a lease that runs out (its gateway died) lets another
take the job over, resuming at its first task without a result.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database

__all__ = [
    "BatchJob",
    "BatchJobStore",
    "IdempotencyConflict",
    "JobStatus",
    "ManifestLine",
    "TaskResult",
]

_J = tables.batch_jobs
_T = tables.batch_job_tasks


class JobStatus(enum.StrEnum):
    NEW = "New"
    PREPARING = "Preparing"
    SUSPENDED = "Suspended"
    READY = "Ready"
    ACTIVE = "Active"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    COMPLETING = "Completing"
    COMPLETE = "Complete"
    FAILING = "Failing"
    FAILED = "Failed"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.CANCELLED, JobStatus.COMPLETE, JobStatus.FAILED)


# The statuses a worker has something to do in.
_WORKABLE = (JobStatus.NEW, JobStatus.READY, JobStatus.ACTIVE, JobStatus.CANCELLING)


@dataclass(frozen=True)
class BatchJob:
    """A job; ``document`` is its request as parsed (manifest, operation, report, role,
    description, confirmation), kept as JSON."""

    job_id: str
    tenant_id: str
    client_token: str
    status: JobStatus
    priority: int
    document: dict[str, Any]
    created_at: datetime
    total_tasks: int | None = None
    succeeded: int = 0
    failed: int = 0
    failure_reasons: list[dict[str, str]] = field(default_factory=list)
    status_update_reason: str | None = None
    terminated_at: datetime | None = None


@dataclass(frozen=True)
class ManifestLine:
    bucket: str
    key: str
    version_id: str | None


@dataclass(frozen=True)
class TaskResult:
    """One task's outcome (``succeeded`` or ``failed``), as the report lists it."""

    seq: int
    status: str
    error_code: str | None = None
    http_status: int = 200
    message: str = ""


def _job(row: sa.Row[tuple[object, ...]]) -> BatchJob:
    m = row._mapping
    return BatchJob(
        job_id=m["job_id"],
        tenant_id=m["tenant_id"],
        client_token=m["client_token"],
        status=JobStatus(m["status"]),
        priority=int(m["priority"]),
        document=json.loads(m["document"]),
        created_at=m["created_at"],
        total_tasks=m["total_tasks"],
        succeeded=int(m["succeeded"]),
        failed=int(m["failed"]),
        failure_reasons=json.loads(m["failure_reasons"]),
        status_update_reason=m["status_update_reason"],
        terminated_at=m["terminated_at"],
    )


def _request_of(document: dict[str, Any]) -> dict[str, Any]:
    """What a repeated CreateJob is compared on: its request but the job's tags, which
    PutJobTagging changes since (a retried CreateJob still answers its job)."""
    return {k: v for k, v in document.items() if k != "tags"}


class IdempotencyConflict(Exception):
    """The client token names a job created with another request."""


class BatchJobStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, job: BatchJob) -> BatchJob:
        """Store ``job``, or answer the job its client token already made (the same request:
        CreateJob is idempotent on it); :class:`IdempotencyConflict` if the request differs."""
        existing_q = sa.select(_J).where(
            _J.c.tenant_id == job.tenant_id, _J.c.client_token == job.client_token
        )
        row = {
            "job_id": job.job_id,
            "tenant_id": job.tenant_id,
            "client_token": job.client_token,
            "status": job.status.value,
            "priority": job.priority,
            "document": json.dumps(job.document, sort_keys=True),
            "total_tasks": None,
            "succeeded": 0,
            "failed": 0,
            "failure_reasons": "[]",
            "status_update_reason": None,
            "lease_until": None,
            "created_at": job.created_at,
            "terminated_at": None,
        }

        def work(conn: Connection) -> BatchJob:
            found = conn.execute(existing_q).first()
            if found is None:
                conn.execute(_J.insert(), [row])
                return job
            return _job(found)

        try:
            stored = await self._db.write(work)
        except IntegrityError:
            # Two gateways took the same token at once: the other's row stands.
            found = await self._db.read(lambda conn: conn.execute(existing_q).first())
            if found is None:
                raise
            stored = _job(found)
        if stored.job_id != job.job_id and (
            _request_of(stored.document)
            != _request_of(json.loads(json.dumps(job.document, sort_keys=True)))
            or stored.priority != job.priority
        ):
            raise IdempotencyConflict(job.client_token)
        return stored

    async def get(self, tenant_id: str, job_id: str) -> BatchJob | None:
        query = sa.select(_J).where(_J.c.tenant_id == tenant_id, _J.c.job_id == job_id)
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else _job(row)

    async def list_jobs(
        self,
        tenant_id: str,
        statuses: Sequence[JobStatus],
        *,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[BatchJob]:
        """The account's jobs, newest first, past the ``after`` (creation time, id) marker."""
        query = sa.select(_J).where(_J.c.tenant_id == tenant_id)
        if statuses:
            query = query.where(_J.c.status.in_([s.value for s in statuses]))
        if after is not None:
            created, job_id = after
            query = query.where(
                sa.or_(
                    _J.c.created_at < created,
                    sa.and_(_J.c.created_at == created, _J.c.job_id < job_id),
                )
            )
        query = query.order_by(_J.c.created_at.desc(), _J.c.job_id.desc()).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [_job(row) for row in rows]

    async def set_priority(self, tenant_id: str, job_id: str, priority: int) -> bool:
        statement = (
            _J.update()
            .where(_J.c.tenant_id == tenant_id, _J.c.job_id == job_id)
            .values(priority=priority)
        )
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    async def set_tags(self, tenant_id: str, job_id: str, tags: list[list[str]]) -> bool:
        """Replace the job's tags (PutJobTagging, DeleteJobTagging: empty), kept in its
        document, read and written in one transaction; False for no such job."""
        where = (_J.c.tenant_id == tenant_id, _J.c.job_id == job_id)

        def work(conn: Connection) -> bool:
            row = conn.execute(sa.select(_J.c.document).where(*where).with_for_update()).first()
            if row is None:
                return False
            document = json.loads(row.document)
            document["tags"] = tags
            conn.execute(
                _J.update().where(*where).values(document=json.dumps(document, sort_keys=True))
            )
            return True

        return bool(await self._db.write(work))

    async def transition(
        self,
        job_id: str,
        allowed_from: Sequence[JobStatus],
        to: JobStatus,
        *,
        now: datetime,
        reason: str | None = None,
        failures: list[dict[str, str]] | None = None,
        total_tasks: int | None = None,
    ) -> bool:
        """Move the job to ``to`` if it is in one of ``allowed_from`` (a compare-and-set: a
        worker and a client changing it at once never both win)."""
        values: dict[str, object] = {"status": to.value}
        if reason is not None:
            values["status_update_reason"] = reason
        if failures is not None:
            values["failure_reasons"] = json.dumps(failures)
        if total_tasks is not None:
            values["total_tasks"] = total_tasks
        if to.terminal:
            values["terminated_at"] = now
            values["lease_until"] = None
        statement = (
            _J.update()
            .where(_J.c.job_id == job_id, _J.c.status.in_([s.value for s in allowed_from]))
            .values(**values)
        )
        return bool(await self._db.write(lambda conn: conn.execute(statement).rowcount))

    async def claim(self, now: datetime, lease: timedelta) -> BatchJob | None:
        """Lease the most urgent job with work to do (highest priority, then oldest) whose
        lease is free; None when there is none."""

        def work(conn: Connection) -> BatchJob | None:
            row = conn.execute(
                sa.select(_J)
                .where(
                    _J.c.status.in_([s.value for s in _WORKABLE]),
                    sa.or_(_J.c.lease_until.is_(None), _J.c.lease_until <= now),
                )
                .order_by(_J.c.priority.desc(), _J.c.created_at, _J.c.job_id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            conn.execute(
                _J.update().where(_J.c.job_id == row.job_id).values(lease_until=now + lease)
            )
            return _job(row)

        return await self._db.write(work)

    async def release(self, job_id: str) -> None:
        statement = _J.update().where(_J.c.job_id == job_id).values(lease_until=None)
        await self._db.write(lambda conn: conn.execute(statement))

    async def add_tasks(
        self, job_id: str, lines: Sequence[ManifestLine], *, first_seq: int = 0
    ) -> None:
        """The manifest's lines as the job's tasks, numbered from ``first_seq``: a page of
        a manifest read page by page; the first page (0) replaces what a preparation
        stopped by a crash left."""
        rows = [
            {
                "job_id": job_id,
                "seq": seq,
                "bucket": line.bucket,
                "key": line.key,
                "version_id": line.version_id,
                "task_status": None,
                "error_code": None,
                "http_status": None,
                "message": None,
            }
            for seq, line in enumerate(lines, start=first_seq)
        ]

        def work(conn: Connection) -> None:
            if first_seq == 0:
                conn.execute(_T.delete().where(_T.c.job_id == job_id))
            if rows:
                conn.execute(_T.insert(), rows)

        await self._db.write(work)

    async def pending_tasks(self, job_id: str, limit: int) -> list[tuple[int, ManifestLine]]:
        query = (
            sa.select(_T.c.seq, _T.c.bucket, _T.c.key, _T.c.version_id)
            .where(_T.c.job_id == job_id, _T.c.task_status.is_(None))
            .order_by(_T.c.seq)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [(int(r.seq), ManifestLine(r.bucket, r.key, r.version_id)) for r in rows]

    async def record(self, job_id: str, results: Sequence[TaskResult]) -> None:
        """The batch's results and the job's counters, in one transaction: a task is counted
        once (only a task still without a result takes one)."""

        def work(conn: Connection) -> None:
            succeeded = failed = 0
            for result in results:
                done = conn.execute(
                    _T.update()
                    .where(
                        _T.c.job_id == job_id,
                        _T.c.seq == result.seq,
                        _T.c.task_status.is_(None),
                    )
                    .values(
                        task_status=result.status,
                        error_code=result.error_code,
                        http_status=result.http_status,
                        message=result.message[:1024],
                    )
                ).rowcount
                if done and result.status == "succeeded":
                    succeeded += 1
                elif done:
                    failed += 1
            conn.execute(
                _J.update()
                .where(_J.c.job_id == job_id)
                .values(succeeded=_J.c.succeeded + succeeded, failed=_J.c.failed + failed)
            )

        await self._db.write(work)

    async def results(
        self, job_id: str, *, failed_only: bool, after: int, limit: int
    ) -> list[tuple[ManifestLine, TaskResult]]:
        query = sa.select(_T).where(
            _T.c.job_id == job_id, _T.c.task_status.is_not(None), _T.c.seq > after
        )
        if failed_only:
            query = query.where(_T.c.task_status == "failed")
        query = query.order_by(_T.c.seq).limit(limit)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [
            (
                ManifestLine(r.bucket, r.key, r.version_id),
                TaskResult(
                    int(r.seq),
                    r.task_status,
                    r.error_code,
                    int(r.http_status or 0),
                    r.message or "",
                ),
            )
            for r in rows
        ]
