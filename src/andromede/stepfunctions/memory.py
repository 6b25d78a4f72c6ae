"""The in-memory twin of :class:`~andromede.stepfunctions.store.StateMachineStore` (tests,
and the contract suite's reference)."""

from __future__ import annotations

from andromede.stepfunctions.errors import StateMachineLimitExceeded
from andromede.stepfunctions.model import StateMachine

__all__ = ["MemoryStateMachineStore"]


class MemoryStateMachineStore:
    def __init__(self) -> None:
        self._machines: dict[tuple[str, str, str], StateMachine] = {}

    async def create(self, machine: StateMachine, max_machines: int) -> StateMachine | None:
        key = (machine.tenant_id, machine.region, machine.name)
        if key in self._machines:
            return self._machines[key]
        held = sum(1 for t, r, _ in self._machines if (t, r) == key[:2])
        if held >= max_machines:
            raise StateMachineLimitExceeded(
                f"State Machine Limit Exceeded: '{max_machines} state machines'"
            )
        self._machines[key] = machine
        return None

    async def get(self, tenant_id: str, region: str, name: str) -> StateMachine | None:
        return self._machines.get((tenant_id, region, name))

    async def machines(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[StateMachine]:
        found = [
            m
            for (t, r, name), m in sorted(self._machines.items())
            if (t, r) == (tenant_id, region) and (after is None or name > after)
        ]
        return found[:limit]

    async def replace(self, machine: StateMachine) -> bool:
        key = (machine.tenant_id, machine.region, machine.name)
        found = self._machines.get(key)
        if found is None or found.revision != machine.revision - 1:
            return False
        self._machines[key] = machine
        return True

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        return self._machines.pop((tenant_id, region, name), None) is not None

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [key for key in self._machines if key[0] == tenant_id]
        for key in keys:
            del self._machines[key]
        return len(keys)
