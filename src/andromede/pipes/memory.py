"""The in-memory twin of :class:`~andromede.pipes.store.PipeStore` (tests, and the contract
suite's reference)."""

from __future__ import annotations

from andromede.pipes.errors import PipeConflict, QuotaExceeded
from andromede.pipes.model import TRANSITIONAL, Pipe, PipeState

__all__ = ["MemoryPipeStore"]


class MemoryPipeStore:
    def __init__(self) -> None:
        self._pipes: dict[tuple[str, str], Pipe] = {}
        self._leases: dict[tuple[str, str], tuple[str, int, int]] = {}  # owner, until, since
        self._checkpoints: dict[tuple[str, str], dict[str, str]] = {}

    async def create(self, pipe: Pipe, max_pipes: int) -> None:
        key = (pipe.tenant_id, pipe.name)
        if key in self._pipes:
            raise PipeConflict(f"Pipe {pipe.name} already exists.", pipe.name)
        held = [p for (t, _), p in self._pipes.items() if t == pipe.tenant_id]
        if sum(1 for p in held if p.region == pipe.region) >= max_pipes:
            raise QuotaExceeded(f"You have reached the quota of {max_pipes} pipes.", pipe.name)
        self._pipes[key] = pipe

    async def get(self, tenant_id: str, name: str) -> Pipe | None:
        return self._pipes.get((tenant_id, name))

    async def pipes(self, tenant_id: str) -> list[Pipe]:
        return [p for (t, _), p in sorted(self._pipes.items()) if t == tenant_id]

    async def replace(self, pipe: Pipe) -> bool:
        key = (pipe.tenant_id, pipe.name)
        found = self._pipes.get(key)
        if found is None or found.revision != pipe.revision - 1:
            return False
        self._pipes[key] = pipe
        return True

    async def delete(self, tenant_id: str, name: str) -> bool:
        key = (tenant_id, name)
        self._leases.pop(key, None)
        self._checkpoints.pop(key, None)
        return self._pipes.pop(key, None) is not None

    async def transitional(self, region: str, limit: int) -> list[Pipe]:
        found = [
            p
            for p in self._pipes.values()
            if p.region == region and p.current_state in TRANSITIONAL
        ]
        return found[:limit]

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[Pipe]:
        def since(key: tuple[str, str]) -> int:
            return self._leases.get(key, ("", 0, 0))[2]

        free = [
            key
            for key, pipe in self._pipes.items()
            if pipe.region == region
            and pipe.current_state is PipeState.RUNNING
            and (
                key not in self._leases
                or self._leases[key][0] == owner
                or self._leases[key][1] <= now
            )
        ]
        claimed = sorted(free, key=since)[:limit]
        for key in claimed:
            self._leases[key] = (owner, lease_until, now)
        return [self._pipes[key] for key in claimed]

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, str]:
        return dict(self._checkpoints.get((tenant_id, name), {}))

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard: str, sequence: str
    ) -> bool:
        key = (tenant_id, name)
        lease = self._leases.get(key)
        if key not in self._pipes or lease is None or lease[0] != owner:
            return False
        self._checkpoints.setdefault(key, {})[shard] = sequence
        return True

    async def forget_tenant(self, tenant_id: str) -> int:
        keys = [key for key in self._pipes if key[0] == tenant_id]
        for tenant, name in keys:
            await self.delete(tenant, name)
        return len(keys)
