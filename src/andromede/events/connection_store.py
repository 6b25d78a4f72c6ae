"""The persistence interface of EventBridge's connections and API destinations (decision
0200), and its in-memory twin :class:`MemoryConnectionStore`;
:mod:`andromede.events.connection_store_sql` keeps them in SQLite or PostgreSQL, a
connection's credentials sealed under its tenant's key. The contract suite
(``tests/contract/test_events_connections.py``) holds both to one behaviour.

Lists are in byte order of the name, paged after a name. A limit is counted in the
transaction that would pass it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Protocol

from andromede.events.connection_model import ApiDestination, Connection
from andromede.events.errors import LimitExceeded, ResourceAlreadyExists, ResourceNotFound

__all__ = [
    "ConnectionStore",
    "MemoryConnectionStore",
    "connection_missing",
    "destination_missing",
    "limit_error",
]


def limit_error(limit: int) -> LimitExceeded:
    return LimitExceeded(f"The requested resource exceeds the maximum number allowed ({limit}).")


def connection_missing(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"Connection '{name}' does not exist.")


def destination_missing(name: str) -> ResourceNotFound:
    return ResourceNotFound(f"An api-destination '{name}' does not exist.")


def connection_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"Connection {name} already exists.")


def destination_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(f"An api-destination '{name}' already exists.")


class ConnectionStore(Protocol):
    async def create_connection(
        self, connection: Connection, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        """ResourceAlreadyExists for a taken name, LimitExceeded past ``limit`` connections
        of the account (``counted``: which stored names count, a Region's view counting its
        own, decision 0402)."""
        ...

    async def get_connection(self, tenant_id: str, name: str) -> Connection | None:
        """With its credentials opened (None once deauthorized)."""
        ...

    async def list_connections(
        self, tenant_id: str, *, prefix: str, state: str | None, after: str, limit: int
    ) -> list[Connection]:
        """Without their credentials (``auth`` None): a list never opens a secret."""
        ...

    async def change_connection(
        self, tenant_id: str, name: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        """Replace it by ``change(held)`` (held with its credentials) in one transaction;
        ResourceNotFound when there is none. ``change`` may raise."""
        ...

    async def delete_connection(self, tenant_id: str, name: str) -> Connection:
        """The connection deleted (its credentials with it); ResourceNotFound."""
        ...

    async def create_destination(
        self,
        destination: ApiDestination,
        *,
        limit: int,
        counted: Callable[[str], bool] | None = None,
    ) -> None:
        """ResourceAlreadyExists for a taken name, LimitExceeded past ``limit`` API
        destinations of the account (``counted`` as :meth:`create_connection`'s)."""
        ...

    async def get_destination(self, tenant_id: str, name: str) -> ApiDestination | None: ...

    async def list_destinations(
        self,
        tenant_id: str,
        *,
        prefix: str,
        connection_arn: str | None,
        after: str,
        limit: int,
    ) -> list[ApiDestination]: ...

    async def change_destination(
        self, tenant_id: str, name: str, change: Callable[[ApiDestination], ApiDestination]
    ) -> ApiDestination: ...

    async def delete_destination(self, tenant_id: str, name: str) -> None:
        """ResourceNotFound when there is none."""
        ...

    async def forget_tenant(self, tenant_id: str) -> int:
        """Delete a closed tenant's connections and destinations; how many connections."""
        ...


def _held(
    rows: Mapping[tuple[str, str], object], tenant_id: str, counted: Callable[[str], bool] | None
) -> int:
    """How many of ``rows`` (keyed by account and stored name) count toward a limit."""
    return sum(1 for t, name in rows if t == tenant_id and (counted is None or counted(name)))


class MemoryConnectionStore:
    def __init__(self) -> None:
        self._connections: dict[tuple[str, str], Connection] = {}
        self._destinations: dict[tuple[str, str], ApiDestination] = {}

    async def create_connection(
        self, connection: Connection, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        key = (connection.tenant_id, connection.name)
        if key in self._connections:
            raise connection_taken(connection.name)
        if _held(self._connections, connection.tenant_id, counted) >= limit:
            raise limit_error(limit)
        self._connections[key] = copy.deepcopy(connection)

    async def get_connection(self, tenant_id: str, name: str) -> Connection | None:
        held = self._connections.get((tenant_id, name))
        return None if held is None else copy.deepcopy(held)

    async def list_connections(
        self, tenant_id: str, *, prefix: str, state: str | None, after: str, limit: int
    ) -> list[Connection]:
        found = [
            replace(c, auth=None)
            for (t, name), c in sorted(self._connections.items())
            if t == tenant_id
            and name.startswith(prefix)
            and name > after
            and (state is None or c.state == state)
        ]
        return copy.deepcopy(found[:limit])

    async def change_connection(
        self, tenant_id: str, name: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        held = self._connections.get((tenant_id, name))
        if held is None:
            raise connection_missing(name)
        changed = change(copy.deepcopy(held))
        self._connections[(tenant_id, name)] = copy.deepcopy(changed)
        return changed

    async def delete_connection(self, tenant_id: str, name: str) -> Connection:
        held = self._connections.pop((tenant_id, name), None)
        if held is None:
            raise connection_missing(name)
        return held

    async def create_destination(
        self,
        destination: ApiDestination,
        *,
        limit: int,
        counted: Callable[[str], bool] | None = None,
    ) -> None:
        key = (destination.tenant_id, destination.name)
        if key in self._destinations:
            raise destination_taken(destination.name)
        if _held(self._destinations, destination.tenant_id, counted) >= limit:
            raise limit_error(limit)
        self._destinations[key] = destination

    async def get_destination(self, tenant_id: str, name: str) -> ApiDestination | None:
        return self._destinations.get((tenant_id, name))

    async def list_destinations(
        self,
        tenant_id: str,
        *,
        prefix: str,
        connection_arn: str | None,
        after: str,
        limit: int,
    ) -> list[ApiDestination]:
        found = [
            d
            for (t, name), d in sorted(self._destinations.items())
            if t == tenant_id
            and name.startswith(prefix)
            and name > after
            and (connection_arn is None or d.connection_arn == connection_arn)
        ]
        return found[:limit]

    async def change_destination(
        self, tenant_id: str, name: str, change: Callable[[ApiDestination], ApiDestination]
    ) -> ApiDestination:
        held = self._destinations.get((tenant_id, name))
        if held is None:
            raise destination_missing(name)
        changed = change(held)
        self._destinations[(tenant_id, name)] = changed
        return changed

    async def delete_destination(self, tenant_id: str, name: str) -> None:
        if self._destinations.pop((tenant_id, name), None) is None:
            raise destination_missing(name)

    async def forget_tenant(self, tenant_id: str) -> int:
        gone = [k for k in self._connections if k[0] == tenant_id]
        for key in gone:
            del self._connections[key]
        for key in [k for k in self._destinations if k[0] == tenant_id]:
            del self._destinations[key]
        return len(gone)
