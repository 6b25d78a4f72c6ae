"""Where pipes are kept (decision 0258): the :class:`PipeStore` interface, implemented in
memory (``pipes.memory``) and over the metadata database (``pipes.store_sql``), one contract
suite for both.

A pipe's row carries the lease of the gateway reading its source, so that one gateway at a
time reads a pipe (and keeps it while it renews the lease), and a pipe whose gateway stopped
is taken over once its lease ran out; and where the reading of each of its stream source's
shards stands (its checkpoints), which goes with the pipe, so that a restart resumes.
"""

from __future__ import annotations

from typing import Protocol

from andromede.pipes.model import Pipe

__all__ = ["PipeStore"]


class PipeStore(Protocol):
    async def create(self, pipe: Pipe, max_pipes: int) -> None:
        """PipeConflict when the name is the account's already; QuotaExceeded at
        ``max_pipes`` pipes of the account in ``pipe.region`` (decision 0408)."""
        ...

    async def get(self, tenant_id: str, name: str) -> Pipe | None: ...

    async def pipes(self, tenant_id: str) -> list[Pipe]:
        """The account's pipes, by name."""
        ...

    async def replace(self, pipe: Pipe) -> bool:
        """Write ``pipe`` over its row if the row's revision is ``pipe.revision - 1``; False
        when another write came first (or the pipe is gone)."""
        ...

    async def delete(self, tenant_id: str, name: str) -> bool:
        """The pipe and its checkpoints removed; False when there was none."""
        ...

    async def transitional(self, region: str, limit: int) -> list[Pipe]:
        """Up to ``limit`` pipes of ``region`` in a transitional state, for the runner to
        settle."""
        ...

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[Pipe]:
        """Up to ``limit`` RUNNING pipes of ``region`` whose reader's lease ran out or is
        ``owner``'s, leased (again) to ``owner`` until ``lease_until``; the least recently
        leased first, so that past ``limit`` pipes every one is read in turn."""
        ...

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, str]:
        """The pipe's source shards' checkpoints (the last sequence number read), by shard."""
        ...

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard: str, sequence: str
    ) -> bool:
        """A shard's checkpoint written if ``owner`` still holds the reader's lease (False
        otherwise, or for a pipe gone: nothing changed)."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's pipes and their checkpoints deleted; how many pipes."""
        ...
