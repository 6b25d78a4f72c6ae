"""Message move tasks as SQS defines them (decision 0165), and where they are kept. The model
is pure; :class:`MoveTaskStore` is the protocol, :class:`MemoryMoveTaskStore` its in-memory
twin (the SQL one is ``move_tasks_sql``).

A task moves the messages of a dead-letter queue (its source) back to the queues that use it
as their dead-letter queue, or to one destination queue, at most
``MaxNumberOfMessagesPerSecond`` a second. One task at most runs per source queue. A task is
``RUNNING`` until it has moved as many messages as the source held when it started
(``ApproximateNumberOfMessagesToMove``) or found the source empty (``COMPLETED``), is
cancelled (``CANCELLED``) or meets a queue gone (``FAILED``, with its reason). Tasks are rows
of the database, so that a restarted gateway, or another one, carries on with them.

Its handle, as SQS's, is an opaque token naming the task and its source: base64 of JSON.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from andromede.queues.errors import ResourceNotFoundException

__all__ = [
    "CANCELLED",
    "COMPLETED",
    "FAILED",
    "RUNNING",
    "MemoryMoveTaskStore",
    "MoveTask",
    "MoveTaskStore",
    "parse_task_handle",
]

RUNNING: Final = "RUNNING"
COMPLETED: Final = "COMPLETED"
CANCELLED: Final = "CANCELLED"
FAILED: Final = "FAILED"


@dataclass(frozen=True, slots=True)
class MoveTask:
    task_id: str
    tenant_id: str
    source_arn: str
    destination_arn: str | None  # None: back to the source's source queue
    rate: int | None  # MaxNumberOfMessagesPerSecond; None: the platform's ceiling
    status: str
    moved: int
    to_move: int
    started_at: datetime
    updated_at: datetime  # the last pass over it: the rate's budget runs from here
    failure: str | None = None

    @property
    def handle(self) -> str:
        token = json.dumps({"taskId": self.task_id, "sourceArn": self.source_arn})
        return base64.urlsafe_b64encode(token.encode()).decode()


def parse_task_handle(handle: str) -> tuple[str, str]:
    """(task id, source ARN) of a handle; ResourceNotFoundException for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(handle.encode()))
        task_id, source = data["taskId"], data["sourceArn"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise ResourceNotFoundException("The task handle is not valid.") from exc
    if not isinstance(task_id, str) or not isinstance(source, str):
        raise ResourceNotFoundException("The task handle is not valid.")
    return task_id, source


class MoveTaskStore(Protocol):
    async def start(self, task: MoveTask) -> bool:
        """Keep the new task; False when a task of its source is running already."""

    async def get(self, tenant_id: str, task_id: str) -> MoveTask | None: ...

    async def list_tasks(self, tenant_id: str, source_arn: str, limit: int) -> list[MoveTask]:
        """The source's tasks, the latest started first."""

    async def running(self, limit: int) -> list[MoveTask]:
        """Running tasks of every tenant, the least recently passed over first."""

    async def update(self, task: MoveTask, expected: datetime) -> bool:
        """Replace the task if it still runs and was last passed over at ``expected`` (no
        other gateway took this pass, nobody cancelled it); whether it was."""

    async def cancel(self, tenant_id: str, task_id: str, now: datetime) -> MoveTask | None:
        """Cancel the running task; the task as cancelled, None if it was not running."""

    async def forget_tenant(self, tenant_id: str) -> None: ...


class MemoryMoveTaskStore:
    def __init__(self) -> None:
        self._tasks: dict[str, MoveTask] = {}

    async def start(self, task: MoveTask) -> bool:
        if any(
            t.tenant_id == task.tenant_id
            and t.source_arn == task.source_arn
            and t.status == RUNNING
            for t in self._tasks.values()
        ):
            return False
        self._tasks[task.task_id] = task
        return True

    async def get(self, tenant_id: str, task_id: str) -> MoveTask | None:
        task = self._tasks.get(task_id)
        return task if task is not None and task.tenant_id == tenant_id else None

    async def list_tasks(self, tenant_id: str, source_arn: str, limit: int) -> list[MoveTask]:
        found = [
            t
            for t in self._tasks.values()
            if t.tenant_id == tenant_id and t.source_arn == source_arn
        ]
        return sorted(found, key=lambda t: t.started_at, reverse=True)[:limit]

    async def running(self, limit: int) -> list[MoveTask]:
        found = [t for t in self._tasks.values() if t.status == RUNNING]
        return sorted(found, key=lambda t: t.updated_at)[:limit]

    async def update(self, task: MoveTask, expected: datetime) -> bool:
        held = self._tasks.get(task.task_id)
        if held is None or held.status != RUNNING or held.updated_at != expected:
            return False
        self._tasks[task.task_id] = task
        return True

    async def cancel(self, tenant_id: str, task_id: str, now: datetime) -> MoveTask | None:
        held = await self.get(tenant_id, task_id)
        if held is None or held.status != RUNNING:
            return None
        cancelled = dataclasses.replace(held, status=CANCELLED, updated_at=now)
        self._tasks[task_id] = cancelled
        return cancelled

    async def forget_tenant(self, tenant_id: str) -> None:
        for task_id in [i for i, t in self._tasks.items() if t.tenant_id == tenant_id]:
            del self._tasks[task_id]
