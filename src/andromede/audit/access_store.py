"""The operator access requests' store interface and its in-memory twin (SQL: ``access_store_sql``).

A request changes state by compare-and-set on its stored state (``replace``): two gateways
approving and revoking the same request at once cannot both win, and the loser is told.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from andromede.audit.access import AccessRequest, AccessState

__all__ = ["AccessRequestStore", "MemoryAccessRequestStore"]


class AccessRequestStore(Protocol):
    async def create(self, request: AccessRequest) -> None: ...

    async def get(self, request_id: str) -> AccessRequest | None: ...

    async def pending_before(self, created_before: datetime) -> list[AccessRequest]:
        """Every tenant's requests still pending that were opened before ``created_before``
        (the ones that have lapsed, for the sweeper), in the order opened."""

    async def list(
        self, *, tenant_id: str | None = None, operator_id: str | None = None
    ) -> list[AccessRequest]:
        """Requests in the order opened, of one tenant, of one operator, or all (None)."""

    async def replace(self, request: AccessRequest, expected: AccessState) -> bool:
        """Store ``request`` if its stored state is still ``expected``; whether it was."""


class MemoryAccessRequestStore:
    def __init__(self) -> None:
        self._requests: dict[str, AccessRequest] = {}

    async def create(self, request: AccessRequest) -> None:
        self._requests[request.id] = request

    async def get(self, request_id: str) -> AccessRequest | None:
        return self._requests.get(request_id)

    async def pending_before(self, created_before: datetime) -> list[AccessRequest]:
        return [
            r
            for r in sorted(self._requests.values(), key=lambda r: (r.created_at, r.id))
            if r.status is AccessState.PENDING and r.created_at < created_before
        ]

    async def list(
        self, *, tenant_id: str | None = None, operator_id: str | None = None
    ) -> list[AccessRequest]:
        return [
            r
            for r in sorted(self._requests.values(), key=lambda r: (r.created_at, r.id))
            if (tenant_id is None or r.tenant_id == tenant_id)
            and (operator_id is None or r.operator_id == operator_id)
        ]

    async def replace(self, request: AccessRequest, expected: AccessState) -> bool:
        stored = self._requests.get(request.id)
        if stored is None or stored.status is not expected:
            return False
        self._requests[request.id] = request
        return True
