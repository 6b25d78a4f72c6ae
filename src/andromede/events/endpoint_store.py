"""Where EventBridge's global endpoints are kept (decision 0355): the interface, and its
in-memory twin for tests. An endpoint is keyed by (account, home Region, name); its
``EndpointId`` is unique across the deployment, as PutEvents finds it by that alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from andromede.events.endpoint_model import Endpoint
from andromede.events.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound

__all__ = [
    "EndpointStore",
    "MemoryEndpointStore",
    "endpoint_missing",
    "endpoint_taken",
    "endpoints_limit",
]


def endpoint_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Endpoint {name} already exists.")


def endpoint_missing(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Endpoint {name} does not exist.")


def endpoints_limit(limit: int) -> LimitExceeded:
    return LimitExceeded(f"The requested resource exceeds the maximum number allowed: {limit}.")


class EndpointStore(Protocol):
    async def create(self, endpoint: Endpoint, *, limit: int) -> None:
        """ResourceAlreadyExists for a name taken in the Region; LimitExceeded past ``limit``
        endpoints of the account in the Region."""
        ...

    async def get(self, tenant_id: str, region: str, name: str) -> Endpoint | None: ...

    async def by_id(self, tenant_id: str, endpoint_id: str) -> Endpoint | None: ...

    async def list_page(
        self, tenant_id: str, region: str, prefix: str, after: str, limit: int
    ) -> list[Endpoint]:
        """Up to ``limit`` endpoints named after ``after``, by name."""
        ...

    async def change(
        self, tenant_id: str, region: str, name: str, change: Callable[[Endpoint], Endpoint]
    ) -> Endpoint:
        """ResourceNotFound when missing."""
        ...

    async def delete(self, tenant_id: str, region: str, name: str) -> Endpoint:
        """The endpoint deleted; ResourceNotFound when missing."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int: ...


class MemoryEndpointStore:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], Endpoint] = {}

    async def create(self, endpoint: Endpoint, *, limit: int) -> None:
        key = (endpoint.tenant_id, endpoint.region, endpoint.name)
        if key in self._rows:
            raise endpoint_taken(endpoint.name)
        held = [k for k in self._rows if k[:2] == key[:2]]
        if len(held) >= limit:
            raise endpoints_limit(limit)
        self._rows[key] = endpoint

    async def get(self, tenant_id: str, region: str, name: str) -> Endpoint | None:
        return self._rows.get((tenant_id, region, name))

    async def by_id(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        return next(
            (
                e
                for e in self._rows.values()
                if e.tenant_id == tenant_id and e.endpoint_id == endpoint_id
            ),
            None,
        )

    async def list_page(
        self, tenant_id: str, region: str, prefix: str, after: str, limit: int
    ) -> list[Endpoint]:
        names = sorted(
            name
            for t, r, name in self._rows
            if t == tenant_id and r == region and name.startswith(prefix) and name > after
        )
        return [self._rows[(tenant_id, region, n)] for n in names[:limit]]

    async def change(
        self, tenant_id: str, region: str, name: str, change: Callable[[Endpoint], Endpoint]
    ) -> Endpoint:
        held = self._rows.get((tenant_id, region, name))
        if held is None:
            raise endpoint_missing(name)
        changed = self._rows[(tenant_id, region, name)] = change(held)
        return changed

    async def delete(self, tenant_id: str, region: str, name: str) -> Endpoint:
        held = self._rows.pop((tenant_id, region, name), None)
        if held is None:
            raise endpoint_missing(name)
        return held

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._rows if k[0] == tenant_id]
        for key in gone:
            del self._rows[key]
        return len(gone)
