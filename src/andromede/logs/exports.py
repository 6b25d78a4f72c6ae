"""CloudWatch Logs export tasks as kept (decision 0186, session-49 addendum): each task's
record — its group, stream prefix, time range, destination bucket and prefix, status and the
lease of the gateway running it — in a store every gateway reads, so any gateway answers
DescribeExportTasks and CancelExportTask and any gateway may run a pending task (or take
over one whose lease ran out). The pure rules live here too: the statuses and their AWS
messages, the transitions, and the layout of the objects written. :class:`ExportStore` is
the interface, :class:`MemoryExportStore` its in-memory twin; ``logs.exports_sql`` the
database's; the contract suite (``tests/contract/test_log_export_stores.py``) runs over all."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from andromede.logs.errors import LimitExceeded

__all__ = [
    "ACTIVE",
    "DEFAULT_PREFIX",
    "WRITE_TEST_BODY",
    "ExportStatus",
    "ExportStore",
    "ExportTask",
    "MemoryExportStore",
    "export_line",
    "object_key",
    "write_test_key",
]


class ExportStatus(enum.Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


ACTIVE: Final = frozenset({ExportStatus.PENDING, ExportStatus.RUNNING})

# The messages AWS's DescribeExportTasks answers with each status (FAILED carries the cause).
MESSAGES: Final = {
    ExportStatus.PENDING: "Pending",
    ExportStatus.RUNNING: "Started successfully",
    ExportStatus.COMPLETED: "Completed successfully",
    ExportStatus.CANCELLED: "Cancelled by user",
}

DEFAULT_PREFIX: Final = "exportedlogs"  # AWS's destinationPrefix when none is given
WRITE_TEST_BODY: Final = b"Permission Check Successful"


@dataclass(frozen=True, slots=True)
class ExportTask:
    tenant_id: str
    task_id: str
    name: str
    group: str
    stream_prefix: str
    start: int  # ms, inclusive, as CreateExportTask's ``from``
    end: int  # ms, inclusive, as ``to``
    bucket: str
    prefix: str
    created: int  # ms
    status: ExportStatus = ExportStatus.PENDING
    message: str = MESSAGES[ExportStatus.PENDING]
    completed: int | None = None
    lease_owner: str | None = None
    lease_until: int = 0


def write_test_key(prefix: str) -> str:
    """The object AWS writes first, to learn whether it may write into the bucket."""
    return f"{prefix}/aws-logs-write-test"


def object_key(task: ExportTask, stream: str, index: int) -> str:
    """``<prefix>/<taskId>/<logStreamName>/000000.gz``, numbered from 0 as AWS's."""
    return f"{task.prefix}/{task.task_id}/{stream}/{index:06d}.gz"


def export_line(timestamp: int, message: str) -> str:
    """One exported event: its time in ISO 8601 with milliseconds, UTC, then its message."""
    at = datetime.fromtimestamp(timestamp / 1000, UTC)
    return f"{at:%Y-%m-%dT%H:%M:%S}.{timestamp % 1000:03d}Z {message}\n"


class ExportStore(Protocol):
    async def create(self, task: ExportTask) -> None:
        """Keep a new task; LimitExceeded when its account has one PENDING or RUNNING (AWS
        runs one active export task per account at a time)."""
        ...

    async def get(self, tenant_id: str, task_id: str) -> ExportTask | None: ...

    async def recent(
        self,
        tenant_id: str,
        status: ExportStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[ExportTask]:
        """The newest first, by (created, task id) strictly before ``before``."""
        ...

    async def claim(self, owner: str, now: int, lease_until: int) -> ExportTask | None:
        """One PENDING task, or a RUNNING one whose lease ended before ``now`` (its gateway
        stopped), made RUNNING under ``owner``'s lease; None when there is none. Two
        gateways never claim the same task."""
        ...

    async def renew(self, tenant_id: str, task_id: str, owner: str, lease_until: int) -> bool:
        """Extend ``owner``'s lease; False when the task is no longer RUNNING under it
        (cancelled, or taken over after the lease ran out)."""
        ...

    async def finish(
        self,
        tenant_id: str,
        task_id: str,
        owner: str,
        status: ExportStatus,
        message: str,
        completed: int,
    ) -> bool:
        """End a task RUNNING under ``owner``; whether it did (a cancel is never
        overwritten)."""
        ...

    async def cancel(self, tenant_id: str, task_id: str, completed: int) -> bool:
        """CANCELLED from PENDING or RUNNING; whether it did."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete the account's tasks; how many."""
        ...


class MemoryExportStore:
    def __init__(self) -> None:
        self._tasks: dict[tuple[str, str], ExportTask] = {}

    async def create(self, task: ExportTask) -> None:
        if any(t.tenant_id == task.tenant_id and t.status in ACTIVE for t in self._tasks.values()):
            raise LimitExceeded("Resource limit exceeded.")
        self._tasks[(task.tenant_id, task.task_id)] = task

    async def get(self, tenant_id: str, task_id: str) -> ExportTask | None:
        return self._tasks.get((tenant_id, task_id))

    async def recent(
        self,
        tenant_id: str,
        status: ExportStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[ExportTask]:
        found = [
            t
            for t in self._tasks.values()
            if t.tenant_id == tenant_id
            and (status is None or t.status == status)
            and (before is None or (t.created, t.task_id) < before)
        ]
        found.sort(key=lambda t: (t.created, t.task_id), reverse=True)
        return found[:limit]

    async def claim(self, owner: str, now: int, lease_until: int) -> ExportTask | None:
        for key, task in sorted(self._tasks.items(), key=lambda kv: kv[1].created):
            if task.status == ExportStatus.PENDING or (
                task.status == ExportStatus.RUNNING and task.lease_until < now
            ):
                taken = dataclasses.replace(
                    task,
                    status=ExportStatus.RUNNING,
                    message=MESSAGES[ExportStatus.RUNNING],
                    lease_owner=owner,
                    lease_until=lease_until,
                )
                self._tasks[key] = taken
                return taken
        return None

    def _held(self, tenant_id: str, task_id: str, owner: str) -> ExportTask | None:
        task = self._tasks.get((tenant_id, task_id))
        if task is None or task.status != ExportStatus.RUNNING or task.lease_owner != owner:
            return None
        return task

    async def renew(self, tenant_id: str, task_id: str, owner: str, lease_until: int) -> bool:
        task = self._held(tenant_id, task_id, owner)
        if task is None:
            return False
        self._tasks[(tenant_id, task_id)] = dataclasses.replace(task, lease_until=lease_until)
        return True

    async def finish(
        self,
        tenant_id: str,
        task_id: str,
        owner: str,
        status: ExportStatus,
        message: str,
        completed: int,
    ) -> bool:
        task = self._held(tenant_id, task_id, owner)
        if task is None:
            return False
        self._tasks[(tenant_id, task_id)] = dataclasses.replace(
            task, status=status, message=message, completed=completed, lease_owner=None
        )
        return True

    async def cancel(self, tenant_id: str, task_id: str, completed: int) -> bool:
        task = self._tasks.get((tenant_id, task_id))
        if task is None or task.status not in ACTIVE:
            return False
        self._tasks[(tenant_id, task_id)] = dataclasses.replace(
            task,
            status=ExportStatus.CANCELLED,
            message=MESSAGES[ExportStatus.CANCELLED],
            completed=completed,
            lease_owner=None,
        )
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._tasks if k[0] == tenant_id]
        for key in gone:
            del self._tasks[key]
        return len(gone)
