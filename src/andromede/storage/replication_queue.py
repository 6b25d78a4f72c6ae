"""The replication work queue and the versions' replication status (decision 0112): its
interface, its values and its in-memory twin. The SQL store is ``replication_queue_sql.py``.

A task is one object version (or delete marker) of a source bucket to copy to one destination
bucket. It is written with the source version's status PENDING, and lives until a worker
(``storage/replicator.py``) settles it:
- ``claim``: the due tasks whose source and destination regions the claimer serves, each for
  a lease (a claimer that dies leaves its tasks to be claimed again once the lease ends); on
  PostgreSQL the rows are taken with ``FOR UPDATE SKIP LOCKED``, so two gateways never claim
  one task; SQLite has one writer, hence one claimer at a time;
- ``complete``: the task goes, the source version is COMPLETED and the replica REPLICA;
- ``retry``: the task is due again at ``not_before`` (the worker's backoff);
- ``fail``: the task goes and the source version is FAILED.

A task whose source version is a replica (decision 0127: a change made on it, going back to
the version it came from) settles the replica alone: REPLICA again when complete,
REPLICA-FAILED (shown FAILED) when failed; the version it came from keeps its status. The
queue tells the two kinds apart by the source's stored status, in the settling transaction,
so a task needs no column of its own for it. A source's copy completing leaves a replica whose
own change is still on its way (REPLICA-PENDING) as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from andromede.storage.replication import ReplicationStatus, ReplicationTarget

__all__ = [
    "MemoryReplicationQueue",
    "ReplicationQueue",
    "ReplicationTask",
]


@dataclass(frozen=True, slots=True)
class ReplicationTask:
    source_bucket: str
    key: str
    version_id: str
    destination_bucket: str
    rule_id: str
    source_region: str
    destination_region: str
    delete_marker: bool = False
    # Set by the queue: the task's id, and how many times it has been claimed.
    task_id: int = 0
    attempts: int = 0
    last_error: str | None = None

    @classmethod
    def of_version(
        cls,
        target: ReplicationTarget,
        source_bucket: str,
        key: str,
        version_id: str,
        destination_region: str | None,
    ) -> ReplicationTask:
        """The task of a version just written; ``destination_region`` None: the destination
        is gone (the source's gateways then settle it: FAILED)."""
        return cls(
            source_bucket=source_bucket,
            key=key,
            version_id=version_id,
            destination_bucket=target.destination_bucket,
            rule_id=target.rule_id,
            source_region=target.source_region,
            destination_region=destination_region or target.source_region,
            delete_marker=target.delete_marker,
        )


class ReplicationQueue(Protocol):
    async def enqueue(self, tasks: Sequence[ReplicationTask], now: datetime) -> None:
        """Queue ``tasks``, due at once; their source versions become PENDING."""

    async def claim(
        self,
        now: datetime,
        *,
        lease: timedelta,
        limit: int,
        regions: Collection[str] | None = None,
    ) -> list[ReplicationTask]:
        """Up to ``limit`` due tasks, oldest first, whose source and destination regions are
        both in ``regions`` (None: any), leased until ``now + lease``; their attempts count
        this claim."""

    async def complete(self, task: ReplicationTask) -> None:
        """The copy is made: the task goes, the source COMPLETED, the replica REPLICA (a
        replica's change brought back: the replica REPLICA, decision 0127)."""

    async def retry(self, task: ReplicationTask, not_before: datetime, error: str) -> None:
        """The copy failed this time: due again at ``not_before``."""

    async def fail(self, task: ReplicationTask, error: str) -> None:
        """The copy failed for good: the task goes, the source version FAILED (a replica's
        change: REPLICA-FAILED, decision 0127)."""

    async def status(self, bucket: str, key: str, version_id: str) -> str | None:
        """The version's stored status (``ReplicationStatus.shown`` gives its
        ``x-amz-replication-status``), None when it has none."""

    async def pending(self) -> int:
        """How many tasks are queued (what a metric or a test watches)."""


class MemoryReplicationQueue:
    """The queue in one process's memory: the twin the unit tests and embedded apps use."""

    def __init__(self) -> None:
        self._tasks: dict[int, tuple[ReplicationTask, datetime, datetime | None]] = {}
        self._statuses: dict[tuple[str, str, str], str] = {}
        self._next_id = 1

    async def enqueue(self, tasks: Sequence[ReplicationTask], now: datetime) -> None:
        for task in tasks:
            self.add(task, now)

    def add(
        self, task: ReplicationTask, now: datetime, status: str = ReplicationStatus.PENDING
    ) -> None:
        """Queue ``task`` with no await: the memory store calls it in the step that commits
        the version, as the SQL store inserts the row in the version's transaction.
        ``status``: the source version's meanwhile (``ReplicationTarget.queued_status``)."""
        stored = dataclasses.replace(task, task_id=self._next_id, attempts=0)
        self._tasks[self._next_id] = (stored, now, None)
        self._next_id += 1
        self._statuses[(task.source_bucket, task.key, task.version_id)] = status

    async def claim(
        self,
        now: datetime,
        *,
        lease: timedelta,
        limit: int,
        regions: Collection[str] | None = None,
    ) -> list[ReplicationTask]:
        claimed: list[ReplicationTask] = []
        for task_id in sorted(self._tasks):
            if len(claimed) >= limit:
                break
            task, not_before, lease_until = self._tasks[task_id]
            if not_before > now or (lease_until is not None and lease_until > now):
                continue
            if regions is not None and (
                task.source_region not in regions or task.destination_region not in regions
            ):
                continue
            task = dataclasses.replace(task, attempts=task.attempts + 1)
            self._tasks[task_id] = (task, not_before, now + lease)
            claimed.append(task)
        return claimed

    async def complete(self, task: ReplicationTask) -> None:
        if self._tasks.pop(task.task_id, None) is None:
            return
        source = (task.source_bucket, task.key, task.version_id)
        if ReplicationStatus.is_replica(self._statuses.get(source)):
            self._statuses[source] = ReplicationStatus.REPLICA
            return
        self._statuses[source] = ReplicationStatus.COMPLETED
        replica = (task.destination_bucket, task.key, task.version_id)
        if (
            not task.delete_marker
            and self._statuses.get(replica) != ReplicationStatus.REPLICA_SYNC_PENDING
        ):
            self._statuses[replica] = ReplicationStatus.REPLICA

    async def retry(self, task: ReplicationTask, not_before: datetime, error: str) -> None:
        held = self._tasks.get(task.task_id)
        if held is not None:
            self._tasks[task.task_id] = (
                dataclasses.replace(held[0], last_error=error),
                not_before,
                None,
            )

    async def fail(self, task: ReplicationTask, error: str) -> None:
        if self._tasks.pop(task.task_id, None) is None:
            return
        source = (task.source_bucket, task.key, task.version_id)
        self._statuses[source] = (
            ReplicationStatus.REPLICA_SYNC_FAILED
            if ReplicationStatus.is_replica(self._statuses.get(source))
            else ReplicationStatus.FAILED
        )

    async def status(self, bucket: str, key: str, version_id: str) -> str | None:
        return self.status_now(bucket, key, version_id)

    def status_now(self, bucket: str, key: str, version_id: str) -> str | None:
        """The status with no await: what the memory store reads with a version."""
        return self._statuses.get((bucket, key, version_id))

    async def pending(self) -> int:
        return len(self._tasks)
