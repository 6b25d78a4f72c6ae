"""One Region's view of EventBridge's connections and API destinations (decision 0400), as
:mod:`.regional_archive_store` is of its archives (decision 0397) and :mod:`.regional_store`
of its buses (decision 0349).

Connections and API destinations are regional on AWS: ``c`` of one Region and ``c`` of
another are two connections, their ARNs each of its Region, and a ListConnections in one
never shows the other's. The store keys them by (account, name): another Region's are kept
under ``~<region>~<name>``, and so is the name of the connection an API destination invokes
through. What the Region's service is given back carries their own names and the Region,
so their ARNs (and the secret's name, ``events!connection/<name>/<uuid>``) are of that
Region; the full ARNs a row holds (a destination's connection, the connection's secret) are
kept as given. No migration: the prefix lives in the existing keys.

Credentials kept in the store (a deployment without Secrets Manager) are sealed by it under
the tenant's key, the encryption context naming the stored connection, the same way in every
Region. The account's limits (``events_max_connections``, ``events_max_api_destinations``)
are a Region's, as AWS's quotas: a view counts its own rows only (decision 0402).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from andromede.events.connection_model import ApiDestination, Connection
from andromede.events.connection_store import ConnectionStore
from andromede.events.errors import ResourceNotFound
from andromede.regional_names import RegionalView

__all__ = ["RegionalConnectionStore"]


class RegionalConnectionStore(RegionalView[ConnectionStore]):
    """``store`` as ``region`` sees it (a :class:`~.connection_store.ConnectionStore`)."""

    def _connection_in(self, connection: Connection) -> Connection:
        return dataclasses.replace(connection, region=self._home, name=self._in(connection.name))

    def _connection_out(self, connection: Connection) -> Connection:
        return dataclasses.replace(connection, region=self.region, name=self._out(connection.name))

    def _destination_in(self, destination: ApiDestination) -> ApiDestination:
        return dataclasses.replace(
            destination,
            region=self._home,
            name=self._in(destination.name),
            connection_name=self._in(destination.connection_name),
        )

    def _destination_out(self, destination: ApiDestination) -> ApiDestination:
        return dataclasses.replace(
            destination,
            region=self.region,
            name=self._out(destination.name),
            connection_name=self._out(destination.connection_name),
        )

    def _renamed(self, exc: ResourceNotFound) -> ResourceNotFound:
        # The store's words name the stored name: the caller is told its own.
        return ResourceNotFound(str(exc).replace(self._prefix, "")) if self._prefix else exc

    # --- connections ----------------------------------------------------------------------

    async def create_connection(
        self, connection: Connection, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        # The limit is a Region's, as AWS's quota: only this Region's connections count.
        await self.inner.create_connection(
            self._connection_in(connection), limit=limit, counted=self._mine
        )

    async def get_connection(self, tenant_id: str, name: str) -> Connection | None:
        found = await self.inner.get_connection(tenant_id, self._in(name))
        return None if found is None else self._connection_out(found)

    async def list_connections(
        self, tenant_id: str, *, prefix: str, state: str | None, after: str, limit: int
    ) -> list[Connection]:
        found = await self.inner.list_connections(
            tenant_id,
            prefix=self._in(prefix),
            state=state,
            after=self._in(after) if after else "",
            limit=limit,
        )
        return [self._connection_out(c) for c in found if self._mine(c.name)]

    async def change_connection(
        self, tenant_id: str, name: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        def changed(held: Connection) -> Connection:
            return self._connection_in(change(self._connection_out(held)))

        try:
            done = await self.inner.change_connection(tenant_id, self._in(name), changed)
        except ResourceNotFound as exc:
            raise self._renamed(exc) from None
        return self._connection_out(done)

    async def delete_connection(self, tenant_id: str, name: str) -> Connection:
        try:
            deleted = await self.inner.delete_connection(tenant_id, self._in(name))
        except ResourceNotFound as exc:
            raise self._renamed(exc) from None
        return self._connection_out(deleted)

    # --- API destinations -----------------------------------------------------------------

    async def create_destination(
        self,
        destination: ApiDestination,
        *,
        limit: int,
        counted: Callable[[str], bool] | None = None,
    ) -> None:
        await self.inner.create_destination(
            self._destination_in(destination), limit=limit, counted=self._mine
        )

    async def get_destination(self, tenant_id: str, name: str) -> ApiDestination | None:
        found = await self.inner.get_destination(tenant_id, self._in(name))
        return None if found is None else self._destination_out(found)

    async def list_destinations(
        self,
        tenant_id: str,
        *,
        prefix: str,
        connection_arn: str | None,
        after: str,
        limit: int,
    ) -> list[ApiDestination]:
        found = await self.inner.list_destinations(
            tenant_id,
            prefix=self._in(prefix),
            connection_arn=connection_arn,
            after=self._in(after) if after else "",
            limit=limit,
        )
        return [self._destination_out(d) for d in found if self._mine(d.name)]

    async def change_destination(
        self, tenant_id: str, name: str, change: Callable[[ApiDestination], ApiDestination]
    ) -> ApiDestination:
        def changed(held: ApiDestination) -> ApiDestination:
            return self._destination_in(change(self._destination_out(held)))

        try:
            done = await self.inner.change_destination(tenant_id, self._in(name), changed)
        except ResourceNotFound as exc:
            raise self._renamed(exc) from None
        return self._destination_out(done)

    async def delete_destination(self, tenant_id: str, name: str) -> None:
        try:
            await self.inner.delete_destination(tenant_id, self._in(name))
        except ResourceNotFound as exc:
            raise self._renamed(exc) from None

    async def forget_tenant(self, tenant_id: str) -> int:
        # The default Region's view forgets every Region's rows (keyed by the account).
        return await self.inner.forget_tenant(tenant_id) if not self._prefix else 0
