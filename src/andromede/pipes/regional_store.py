"""One Region's view of the pipes' store (decision 0408), as EventBridge's buses (decision
0349) and its connections (decision 0400) are seen a Region at a time.

Pipes are regional on AWS: ``p`` of one Region and ``p`` of another are two pipes, each ARN
of its Region, and a ListPipes in one never shows the other's. The store keys pipes by
(account, name): another Region's are kept under ``~<region>~<name>`` (their checkpoints
too), the row's ``region`` column holding their own Region, so the runner's passes
(``transitional``, ``claim``) already keep to one Region and the account's limit of pipes is
counted a Region (``pipes_max_pipes``, as AWS's quota). What the Region's service is given
back carries the pipe's own name, so its ARN, its execution logs and its role's
``aws:SourceArn`` are of that Region. No migration: the prefix lives in the existing key.

The default Region's view alone forgets a closed account, which reaches every Region's rows.
"""

from __future__ import annotations

import dataclasses

from andromede.pipes.model import Pipe
from andromede.pipes.store import PipeStore
from andromede.regional_names import RegionalView

__all__ = ["RegionalPipeStore"]


class RegionalPipeStore(RegionalView[PipeStore]):
    """``store`` as ``region`` sees it (a :class:`~.store.PipeStore`)."""

    def _pipe_in(self, pipe: Pipe) -> Pipe:
        return dataclasses.replace(pipe, name=self._in(pipe.name), region=self.region)

    def _pipe_out(self, pipe: Pipe) -> Pipe:
        return dataclasses.replace(pipe, name=self._out(pipe.name), region=self.region)

    async def create(self, pipe: Pipe, max_pipes: int) -> None:
        await self.inner.create(self._pipe_in(pipe), max_pipes)

    async def get(self, tenant_id: str, name: str) -> Pipe | None:
        found = await self.inner.get(tenant_id, self._in(name))
        return None if found is None else self._pipe_out(found)

    async def pipes(self, tenant_id: str) -> list[Pipe]:
        return [
            self._pipe_out(p)
            for p in await self.inner.pipes(tenant_id)
            if self._mine(p.name) and p.region == self.region
        ]

    async def replace(self, pipe: Pipe) -> bool:
        return await self.inner.replace(self._pipe_in(pipe))

    async def delete(self, tenant_id: str, name: str) -> bool:
        return await self.inner.delete(tenant_id, self._in(name))

    async def transitional(self, region: str, limit: int) -> list[Pipe]:
        found = await self.inner.transitional(self.region, limit)
        return [self._pipe_out(p) for p in found if self._mine(p.name)]

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[Pipe]:
        found = await self.inner.claim(owner, now, lease_until, limit, self.region)
        return [self._pipe_out(p) for p in found if self._mine(p.name)]

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, str]:
        return await self.inner.checkpoints(tenant_id, self._in(name))

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard: str, sequence: str
    ) -> bool:
        return await self.inner.save_checkpoint(tenant_id, self._in(name), owner, shard, sequence)

    async def forget_tenant(self, tenant_id: str) -> int:
        # The default Region's view forgets every Region's rows once; the others none.
        return await self.inner.forget_tenant(tenant_id) if not self._prefix else 0
