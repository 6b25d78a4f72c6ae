"""The in-memory twin of :class:`~andromede.stepfunctions.execution_store.ExecutionStore`
(tests, and the contract suite's reference)."""

from __future__ import annotations

from andromede.stepfunctions.execution_store import PurgeHook
from andromede.stepfunctions.executions import Execution, ExecutionStatus, HistoryEvent

__all__ = ["MemoryExecutionStore"]

_Key = tuple[str, str, str, str]


def _key(execution: Execution) -> _Key:
    return (execution.tenant_id, execution.region, execution.machine_name, execution.name)


class MemoryExecutionStore:
    def __init__(self) -> None:
        self._executions: dict[_Key, Execution] = {}
        self._history: dict[_Key, list[HistoryEvent]] = {}
        self._leases: dict[_Key, tuple[str, int]] = {}

    async def create(self, execution: Execution, events: list[HistoryEvent]) -> Execution | None:
        key = _key(execution)
        if key in self._executions:
            return self._executions[key]
        self._executions[key] = execution
        self._history[key] = list(events)
        return None

    async def get(self, tenant_id: str, region: str, machine: str, name: str) -> Execution | None:
        return self._executions.get((tenant_id, region, machine, name))

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
        found = [
            e
            for (t, r, m, _), e in self._executions.items()
            if (t, r, m) == (tenant_id, region, machine)
            and (status is None or e.status is status)
            and (version is None or e.version == version)
            and (alias is None or e.alias == alias)
            and (redriven is None or (e.redrive_count > 0) == redriven)
        ]
        found.sort(key=lambda e: (-e.started, e.name))
        if after is not None:
            found = [e for e in found if (-e.started, e.name) > (-after[0], after[1])]
        return found[:limit]

    async def advance(
        self, execution: Execution, events: list[HistoryEvent], owner: str | None, lease_until: int
    ) -> bool:
        key = _key(execution)
        found = self._executions.get(key)
        if found is None or found.revision != execution.revision - 1:
            return False
        if owner is not None:
            if self._leases.get(key, ("", 0))[0] != owner:
                return False
            self._leases[key] = (owner, lease_until)
        self._executions[key] = execution
        self._history[key] += events
        return True

    async def history(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> list[HistoryEvent]:
        return list(self._history.get((tenant_id, region, machine, name), []))

    async def claim(
        self, region: str, owner: str, now: int, lease_until: int, limit: int
    ) -> list[Execution]:
        claimed: list[Execution] = []
        for key, execution in sorted(self._executions.items(), key=lambda kv: kv[1].wake_at):
            lease = self._leases.get(key)
            if (
                execution.region == region
                and execution.status is ExecutionStatus.RUNNING
                and execution.wake_at <= now
                and (lease is None or lease[0] == owner or lease[1] <= now)
                and len(claimed) < limit
            ):
                self._leases[key] = (owner, lease_until)
                claimed.append(execution)
        return claimed

    async def take(self, tenant_id: str, region: str, activity: str) -> Execution | None:
        waiting = [
            e
            for (t, r, _, _), e in self._executions.items()
            if (t, r) == (tenant_id, region)
            and e.status is ExecutionStatus.RUNNING
            and e.waiting_activity == activity
            and not e.activity_taken
        ]
        if not waiting:
            return None
        oldest = min(waiting, key=lambda e: (e.started, e.name))
        taken = oldest.changed(activity_taken=True)
        self._executions[_key(taken)] = taken
        return taken

    async def purge(
        self, region: str, stopped_before: int, limit: int, before: PurgeHook | None = None
    ) -> int:
        old = [
            key
            for key, e in self._executions.items()
            if e.region == region and e.stopped is not None and e.stopped < stopped_before
        ][:limit]
        for key in old:
            if before is not None:
                await before(key[0], self._executions[key].arn)
            del self._executions[key]
            self._history.pop(key, None)
            self._leases.pop(key, None)
        return len(old)

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [key for key in self._executions if key[0] == tenant_id]
        for key in keys:
            del self._executions[key]
            self._history.pop(key, None)
            self._leases.pop(key, None)
        return len(keys)
