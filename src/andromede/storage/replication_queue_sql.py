"""The replication queue over the metadata database (SQLite or PostgreSQL), tables of
migration 0043 (decision 0112).

A claim selects the due, unleased tasks of the claimer's regions ``FOR UPDATE SKIP LOCKED``
and leases them in the same transaction: on PostgreSQL two gateways claiming at once take
disjoint tasks and neither waits; SQLite runs one write transaction at a time, so its one
claimer needs no lock. Settling a task (complete, retry, fail) acts only while the task is
still there, so a task settled by another claimer after its lease ran out is not settled twice.
Settling reads the source version's status in its transaction: a replica's change brought
back to its source (decision 0127) settles the replica alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import REPLICATION, queued
from andromede.db.statements import Upsert
from andromede.storage.replication import ReplicationStatus, ReplicationTarget
from andromede.storage.replication_queue import ReplicationTask

__all__ = ["SqlReplicationQueue", "queue_in_transaction"]

_T = tables.replication_tasks
_S = tables.replication_statuses
_SET_STATUS = Upsert(_S, ["bucket", "key", "version_id"])


def _task(row: sa.Row[tuple[object, ...]]) -> ReplicationTask:
    m = row._mapping
    return ReplicationTask(
        source_bucket=m["source_bucket"],
        key=m["key"],
        version_id=m["version_id"],
        destination_bucket=m["destination_bucket"],
        rule_id=m["rule_id"],
        source_region=m["source_region"],
        destination_region=m["destination_region"],
        delete_marker=bool(m["delete_marker"]),
        task_id=int(m["id"]),
        attempts=int(m["attempts"]),
        last_error=m["last_error"],
    )


def _set_status(conn: Connection, bucket: str, key: str, version_id: str, status: str) -> None:
    _SET_STATUS(conn, {"bucket": bucket, "key": key, "version_id": version_id, "status": status})


_STATUS = sa.select(_S.c.status).where(
    _S.c.bucket == sa.bindparam("bucket"),
    _S.c.key == sa.bindparam("key"),
    _S.c.version_id == sa.bindparam("version_id"),
)


def _status_in(conn: Connection, bucket: str, key: str, version_id: str) -> str | None:
    found = conn.scalar(_STATUS, {"bucket": bucket, "key": key, "version_id": version_id})
    return None if found is None else str(found)


def _task_row(t: ReplicationTask, now: datetime) -> dict[str, object]:
    return {
        "source_bucket": t.source_bucket,
        "key": t.key,
        "version_id": t.version_id,
        "destination_bucket": t.destination_bucket,
        "rule_id": t.rule_id,
        "source_region": t.source_region,
        "destination_region": t.destination_region,
        "delete_marker": t.delete_marker,
        "attempts": 0,
        "not_before": now,
        "lease_until": None,
        "created_at": now,
        "last_error": None,
    }


_DESTINATION_REGION = sa.select(tables.buckets.c.region).where(
    tables.buckets.c.name == sa.bindparam("name")
)


def queue_in_transaction(
    conn: Connection,
    target: ReplicationTarget,
    source_bucket: str,
    key: str,
    version_id: str,
    now: datetime,
) -> None:
    """Queue the copy of a version (or delete marker) in the transaction that commits it, so
    that no crash can leave the version committed without its task (decision 0112, increment
    2); the version is PENDING from the moment it exists (a replica whose change goes back
    to its source: REPLICA-PENDING, decision 0127)."""
    region = conn.scalar(_DESTINATION_REGION, {"name": target.destination_bucket})
    task = ReplicationTask.of_version(target, source_bucket, key, version_id, region)
    conn.execute(_T.insert(), [_task_row(task, now)])
    queued(conn, REPLICATION)
    _set_status(conn, source_bucket, key, version_id, target.queued_status)


class SqlReplicationQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def enqueue(self, tasks: Sequence[ReplicationTask], now: datetime) -> None:
        if not tasks:
            return
        rows = [_task_row(t, now) for t in tasks]

        def work(conn: Connection) -> None:
            conn.execute(_T.insert(), rows)
            queued(conn, REPLICATION)
            for t in tasks:
                _set_status(conn, t.source_bucket, t.key, t.version_id, ReplicationStatus.PENDING)

        await self._db.write(work)

    async def claim(
        self,
        now: datetime,
        *,
        lease: timedelta,
        limit: int,
        regions: Collection[str] | None = None,
    ) -> list[ReplicationTask]:
        conditions = [
            _T.c.not_before <= now,
            sa.or_(_T.c.lease_until.is_(None), _T.c.lease_until <= now),
        ]
        if regions is not None:
            served = sorted(regions)
            conditions.append(_T.c.source_region.in_(served))
            conditions.append(_T.c.destination_region.in_(served))

        def work(conn: Connection) -> list[ReplicationTask]:
            rows = conn.execute(
                sa.select(_T)
                .where(*conditions)
                .order_by(_T.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            conn.execute(
                _T.update()
                .where(_T.c.id.in_(ids))
                .values(lease_until=now + lease, attempts=_T.c.attempts + 1)
            )
            return [dataclasses.replace(_task(row), attempts=row.attempts + 1) for row in rows]

        return await self._db.write(work)

    async def complete(self, task: ReplicationTask) -> None:
        def work(conn: Connection) -> None:
            if conn.execute(_T.delete().where(_T.c.id == task.task_id)).rowcount == 0:
                return
            source = (task.source_bucket, task.key, task.version_id)
            if ReplicationStatus.is_replica(_status_in(conn, *source)):
                _set_status(conn, *source, ReplicationStatus.REPLICA)
                return
            _set_status(conn, *source, ReplicationStatus.COMPLETED)
            replica = (task.destination_bucket, task.key, task.version_id)
            if (
                not task.delete_marker
                and _status_in(conn, *replica) != ReplicationStatus.REPLICA_SYNC_PENDING
            ):
                _set_status(conn, *replica, ReplicationStatus.REPLICA)

        await self._db.write(work)

    async def retry(self, task: ReplicationTask, not_before: datetime, error: str) -> None:
        await self._db.write(
            lambda conn: conn.execute(
                _T.update()
                .where(_T.c.id == task.task_id)
                .values(not_before=not_before, lease_until=None, last_error=error[:1024])
            )
        )

    async def fail(self, task: ReplicationTask, error: str) -> None:
        def work(conn: Connection) -> None:
            if conn.execute(_T.delete().where(_T.c.id == task.task_id)).rowcount == 0:
                return
            source = (task.source_bucket, task.key, task.version_id)
            replica = ReplicationStatus.is_replica(_status_in(conn, *source))
            failed = ReplicationStatus.REPLICA_SYNC_FAILED if replica else ReplicationStatus.FAILED
            _set_status(conn, *source, failed)

        await self._db.write(work)

    async def status(self, bucket: str, key: str, version_id: str) -> str | None:
        query = sa.select(_S.c.status).where(
            _S.c.bucket == bucket, _S.c.key == key, _S.c.version_id == version_id
        )
        return await self._db.read(lambda conn: conn.scalar(query))

    async def pending(self) -> int:
        query = sa.select(sa.func.count()).select_from(_T)

        def work(conn: Connection) -> int:
            return int(conn.scalar(query) or 0)

        return await self._db.read(work)
