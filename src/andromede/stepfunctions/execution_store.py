"""Where executions and their histories are kept (decision 0271): the
:class:`ExecutionStore` interface, implemented in memory (``stepfunctions.execution_memory``)
and over the metadata database (``stepfunctions.execution_store_sql``, sealed under the
account's key ring), one contract suite for both.

An execution's row carries the lease of the gateway driving it, so that one gateway at a
time steps an execution, and one whose gateway stopped is taken over once the lease ran out
(its position was written after its last transition: it resumes there)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from andromede.stepfunctions.executions import Execution, ExecutionStatus, HistoryEvent

__all__ = ["ExecutionStore", "PurgeHook"]

# What goes with an execution purged (its Map runs and their children, decision 0372), given
# the execution's account and ARN; awaited before the execution is deleted, outside any
# transaction, so that a gateway stopping in between leaves the execution to the next pass.
PurgeHook = Callable[[str, str], Awaitable[None]]


class ExecutionStore(Protocol):
    async def create(self, execution: Execution, events: list[HistoryEvent]) -> Execution | None:
        """Insert ``execution`` with its first events; the machine's execution of that name
        when there is one already (nothing written)."""
        ...

    async def get(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> Execution | None: ...

    async def executions(
        self,
        tenant_id: str,
        region: str,
        machine: str,
        status: ExecutionStatus | None,
        after: tuple[int, str] | None,
        limit: int,
        version: int | None = None,
        alias: str | None = None,
        redriven: bool | None = None,
    ) -> list[Execution]:
        """Up to ``limit`` of the machine's executions, the newest first (by start, then
        name), after the ``(started, name)`` given; those started by ``version`` or through
        ``alias`` only when given, redriven or not (``redriven``) when given."""
        ...

    async def advance(
        self,
        execution: Execution,
        events: list[HistoryEvent],
        owner: str | None,
        lease_until: int,
    ) -> bool:
        """Write ``execution`` over its row, with its new events, if the row's revision is
        ``execution.revision - 1`` (and, ``owner`` given, its lease is ``owner``'s: renewed
        until ``lease_until``); False otherwise, nothing written."""
        ...

    async def history(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> list[HistoryEvent]: ...

    async def claim(
        self, region: str, owner: str, now: int, lease_until: int, limit: int
    ) -> list[Execution]:
        """Up to ``limit`` RUNNING executions of ``region`` due (``wake_at`` past) whose lease
        ran out or is ``owner``'s, leased to ``owner`` until ``lease_until``."""
        ...

    async def take(self, tenant_id: str, region: str, activity: str) -> Execution | None:
        """The oldest running execution parked on ``activity``'s task not given yet, marked
        given (its revision moved on); None when there is none."""
        ...

    async def purge(
        self, region: str, stopped_before: int, limit: int, before: PurgeHook | None = None
    ) -> int:
        """Up to ``limit`` executions of ``region`` that ended before ``stopped_before``
        deleted with their histories, ``before`` awaited for each first; how many."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's executions and histories deleted; how many executions."""
        ...
