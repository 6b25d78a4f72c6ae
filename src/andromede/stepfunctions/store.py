"""Where state machines are kept (decision 0271): the :class:`StateMachineStore` interface,
implemented in memory (``stepfunctions.memory``) and over the metadata database
(``stepfunctions.store_sql``, the definitions sealed under their account's key ring through a
:class:`DocumentSealer`), one contract suite for both."""

from __future__ import annotations

from typing import Protocol

from andromede.stepfunctions.model import StateMachine

__all__ = ["DocumentSealer", "StateMachineStore"]


class DocumentSealer(Protocol):
    """Seals customer data under its account's keys; ``context`` is bound to the ciphertext
    (the resource's ARN and creation), so a sealed value cannot be moved to another."""

    async def seal(self, tenant_id: str, plaintext: bytes, context: bytes) -> bytes: ...

    async def open(self, tenant_id: str, sealed: bytes, context: bytes) -> bytes: ...


class StateMachineStore(Protocol):
    async def create(self, machine: StateMachine, max_machines: int) -> StateMachine | None:
        """Insert ``machine``; the account's machine of that name when there is one already
        (nothing written); StateMachineLimitExceeded at ``max_machines`` in the Region."""
        ...

    async def get(self, tenant_id: str, region: str, name: str) -> StateMachine | None: ...

    async def machines(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[StateMachine]:
        """Up to ``limit`` of the account's machines in ``region``, by name after ``after``."""
        ...

    async def replace(self, machine: StateMachine) -> bool:
        """Write ``machine`` over its row if the row's revision is ``machine.revision - 1``;
        False when another write came first (or the machine is gone)."""
        ...

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        """False when there was none."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """The account's machines deleted, in every Region; how many."""
        ...
