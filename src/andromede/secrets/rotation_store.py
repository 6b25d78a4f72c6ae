"""What rotation needs of a store (decision 0303), implemented in memory
(:class:`MemoryRotationStore`, here) and over the metadata database
(``secrets.rotation_sql``); ``tests/contract`` runs one suite over each.

A rotation runs under a lease: :meth:`RotationStore.claim` takes a secret's rotation only if
no live lease holds it (a conditional write), so two gateways never run one rotation at
once; :meth:`RotationStore.settle` records its outcome only while the lease is still the
claimant's."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Protocol

from andromede.secrets.rotation_model import RotationState

__all__ = ["MemoryRotationStore", "RotationStore"]


class RotationStore(Protocol):
    async def get(self, secret_arn: str) -> RotationState | None: ...

    async def save(self, state: RotationState) -> None:
        """Insert or replace the secret's rotation (its configuration; the lease kept)."""
        ...

    async def claim(
        self, secret_arn: str, owner: str, now_ms: int, until_ms: int
    ) -> RotationState | None:
        """The rotation, leased to ``owner`` until ``until_ms``, if no lease is live at
        ``now_ms``; None when another holds it (or there is none)."""
        ...

    async def settle(self, state: RotationState, owner: str) -> bool:
        """Record ``state`` (its lease released) if ``owner`` still holds the lease."""
        ...

    async def due(self, now: datetime, now_ms: int, limit: int) -> list[RotationState]:
        """Up to ``limit`` enabled rotations that no live lease holds whose next rotation is
        due by ``now``, or that a gateway left mid-way (its lease run out), the most overdue
        first."""
        ...

    async def delete(self, secret_arn: str) -> None: ...


class MemoryRotationStore:
    """The in-memory twin (tests, and the one-process configurations)."""

    def __init__(self) -> None:
        self._states: dict[str, RotationState] = {}

    async def get(self, secret_arn: str) -> RotationState | None:
        return self._states.get(secret_arn)

    async def save(self, state: RotationState) -> None:
        held = self._states.get(state.secret_arn)
        lease = ("", 0) if held is None else (held.lease_owner, held.lease_until)
        self._states[state.secret_arn] = replace(state, lease_owner=lease[0], lease_until=lease[1])

    async def claim(
        self, secret_arn: str, owner: str, now_ms: int, until_ms: int
    ) -> RotationState | None:
        held = self._states.get(secret_arn)
        if held is None or held.lease_until > now_ms:
            return None
        claimed = replace(held, lease_owner=owner, lease_until=until_ms)
        self._states[secret_arn] = claimed
        return claimed

    async def settle(self, state: RotationState, owner: str) -> bool:
        held = self._states.get(state.secret_arn)
        if held is None or held.lease_owner != owner:
            return False
        self._states[state.secret_arn] = replace(state, lease_owner="", lease_until=0)
        return True

    async def due(self, now: datetime, now_ms: int, limit: int) -> list[RotationState]:
        found = [
            s
            for s in self._states.values()
            if s.enabled
            and s.lease_until <= now_ms
            and (
                (s.next_rotation is not None and s.next_rotation <= now)
                or (s.token is not None and s.lease_until > 0)
            )
        ]
        found.sort(key=lambda s: (s.next_rotation or now, s.secret_arn))
        return found[:limit]

    async def delete(self, secret_arn: str) -> None:
        self._states.pop(secret_arn, None)
