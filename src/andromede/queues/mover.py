"""Message move tasks (decision 0165): StartMessageMoveTask, ListMessageMoveTasks,
CancelMessageMoveTask over a :class:`MoveTaskStore`, and the background passes that move the
messages.

A pass (every ``interval`` seconds, on every gateway) takes each running task whose last pass
is older than the interval, moves up to its rate times the seconds since that pass (at most
ten intervals' worth, so a long pause does not make a burst) and records the count. The
messages are moved as they are stored, sealed under the key they were sent under (their AAD
binds the account and the message id, not the queue), into a queue of the same account: a
move asks no key of anyone. Without a destination each message goes back to the queue it was
dead-lettered from, which the store recorded at the redrive. Tasks are rows, so a restarted
gateway resumes them at its first pass.

Decision 0414: a task is of its source queue's Region, worked through that Region's view of
the store (``stores``), its destination a queue of the same Region.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from andromede.queues.errors import (
    InvalidParameterValue,
    QueueDoesNotExist,
    QueueError,
    ResourceNotFoundException,
)
from andromede.queues.model import Queue, parse_queue_arn
from andromede.queues.move_tasks import (
    COMPLETED,
    FAILED,
    RUNNING,
    MoveTask,
    MoveTaskStore,
    parse_task_handle,
)
from andromede.queues.store import QueueStore
from andromede.wakeup import Doorbell, Pacer

__all__ = ["MessageMover"]

_log = logging.getLogger(__name__)
_BURST_INTERVALS = 10
_PASS_TASKS = 100
_LIST_MAX = 10


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MessageMover:
    def __init__(
        self,
        store: QueueStore,
        tasks: MoveTaskStore,
        *,
        region: str,
        max_rate: int = 500,
        interval: float = 1.0,
        clock: Callable[[], datetime] = _utcnow,
        idle_poll_max: float | None = None,
        doorbell: Doorbell | None = None,
        stores: Mapping[str, QueueStore] | None = None,
    ) -> None:
        """``doorbell``: rung when this process started a task; with no task running the
        passes back off from ``interval`` to ``idle_poll_max`` (decision 0206). ``stores``:
        the other declared Regions' views of the store by Region (decision 0414)."""
        self._stores = {**(stores or {}), region: store}
        self._tasks = tasks
        self._region = region
        self._max_rate = max_rate
        self._interval = interval
        self._pacer = Pacer(interval, idle_poll_max, doorbell)
        self._clock = clock

    async def queue(self, tenant_id: str, arn: str, name: str = "SourceArn") -> Queue:
        """The caller's queue of ``arn``: another account's is QueueDoesNotExist (move tasks
        are the owner's alone), a missing one ResourceNotFoundException, as SQS answers."""
        try:
            region, account, queue_name = parse_queue_arn(arn)
        except QueueDoesNotExist as exc:
            raise InvalidParameterValue(
                f"Value {arn[:256]} for parameter {name} is invalid."
            ) from exc
        if account != tenant_id:
            raise QueueDoesNotExist()
        store = self._stores.get(region)
        found = None if store is None else await store.get_queue(tenant_id, queue_name)
        if found is None:
            raise ResourceNotFoundException(f"The resource {arn[:256]} does not exist.")
        return found

    async def start(
        self, tenant_id: str, source_arn: str, destination_arn: str | None, rate: int | None
    ) -> MoveTask:
        source = await self.queue(tenant_id, source_arn)
        if rate is not None and not 1 <= rate <= self._max_rate:
            raise InvalidParameterValue(
                f"Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: "
                f"must be between 1 and {self._max_rate}."
            )
        store = self._stores[source.region]
        sources = await store.dead_letter_sources(tenant_id, source.arn)
        if not sources:
            raise InvalidParameterValue("Source queue must be configured as a Dead Letter Queue.")
        if destination_arn is not None:
            destination = await self.queue(tenant_id, destination_arn, "DestinationArn")
            if destination.arn == source.arn:
                raise InvalidParameterValue("The destination must not be the source queue.")
            if destination.region != source.region:
                raise InvalidParameterValue(
                    "The destination must be a queue of the source queue's Region."
                )
        now = self._clock()
        counts = await store.counts(tenant_id, source.name, now)
        task = MoveTask(
            task_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            source_arn=source.arn,
            destination_arn=destination_arn,
            rate=rate,
            status=RUNNING,
            moved=0,
            to_move=counts.visible,
            started_at=now,
            updated_at=now,
        )
        if not await self._tasks.start(task):
            raise InvalidParameterValue(
                "There is already a task running. Only one active task is allowed for a source "
                "queue arn at a given time."
            )
        return task

    async def list_tasks(
        self, tenant_id: str, source_arn: str, max_results: int | None
    ) -> list[MoveTask]:
        source = await self.queue(tenant_id, source_arn)
        if max_results is not None and not 1 <= max_results <= _LIST_MAX:
            raise InvalidParameterValue(
                f"Value {max_results} for parameter MaxResults is invalid. Reason: must be "
                f"between 1 and {_LIST_MAX}."
            )
        return await self._tasks.list_tasks(tenant_id, source.arn, max_results or 1)

    async def task_source(self, tenant_id: str, handle: str) -> str:
        """The source queue ARN a handle names, for the caller's authorisation first."""
        _, source = parse_task_handle(handle)
        await self.queue(tenant_id, source)
        return source

    async def cancel(self, tenant_id: str, handle: str) -> MoveTask:
        task_id, _ = parse_task_handle(handle)
        cancelled = await self._tasks.cancel(tenant_id, task_id, self._clock())
        if cancelled is None:
            raise ResourceNotFoundException("No running task of that handle.")
        return cancelled

    async def forget_tenant(self, tenant_id: str) -> None:
        """Forget every task of a tenant being closed (its queues go with it)."""
        await self._tasks.forget_tenant(tenant_id)

    # --- the background passes ---------------------------------------------------------------

    async def run_forever(self) -> None:
        while True:
            running = False
            try:
                running = await self._running_pass() is not None
            except Exception:  # one failed pass must not end the loop: logged, tried again
                _log.exception("message move pass failed")
            # A running task is work even when its rate let it move nothing this pass.
            await self._pacer.pause(worked=running)

    async def run_pass(self) -> int:
        """One pass over the running tasks; how many messages it moved."""
        return await self._running_pass() or 0

    async def _running_pass(self) -> int | None:
        """:meth:`run_pass`; None when no task was running."""
        tasks = await self._tasks.running(_PASS_TASKS)
        if not tasks:
            return None
        moved = 0
        for task in tasks:
            moved += await self._step(task)
        return moved

    async def _step(self, task: MoveTask) -> int:
        now = self._clock()
        elapsed = min((now - task.updated_at).total_seconds(), _BURST_INTERVALS * self._interval)
        budget = int((task.rate or self._max_rate) * elapsed)
        if budget < 1:
            return 0
        try:
            source = await self.queue(task.tenant_id, task.source_arn)
            target, fallback = await self._target(task, source)
        except QueueError as exc:
            failed = dataclasses.replace(
                task, status=FAILED, failure=type(exc).__name__, updated_at=now
            )
            await self._tasks.update(failed, task.updated_at)
            return 0
        # Taken for this pass first: another gateway's pass over it now fails its update.
        taken = dataclasses.replace(task, updated_at=now)
        if not await self._tasks.update(taken, task.updated_at):
            return 0
        left = max(task.to_move - task.moved, 0)
        moved = 0
        if left:
            moved = await self._stores[source.region].move_messages(
                task.tenant_id, source.name, target, min(budget, left), now, fallback=fallback
            )
        total = task.moved + moved
        done = total >= task.to_move or moved < min(budget, left)
        status = COMPLETED if done else RUNNING
        await self._tasks.update(dataclasses.replace(taken, moved=total, status=status), now)
        return moved

    async def _target(self, task: MoveTask, source: Queue) -> tuple[str | None, str | None]:
        """Where the task moves to: its destination's name; or, back to the sources, None and
        the queue for messages whose source is not recorded (dead-lettered before decision
        0165): the dead-letter queue's source queue when it has one only."""
        if task.destination_arn is not None:
            found = await self.queue(task.tenant_id, task.destination_arn, "DestinationArn")
            if found.region != source.region:
                raise QueueDoesNotExist()
            return found.name, None
        names = await self._stores[source.region].dead_letter_sources(task.tenant_id, source.arn)
        return None, names[0] if len(names) == 1 else None
