"""EventBridge's connections and API destinations over the metadata database (SQLite or
PostgreSQL), the tables of migration 0097 (decision 0200).

A connection's AuthParameters (its password, API key or OAuth client secret, and its secret
parameters) are sealed before the write as the bus's deliveries are (decision 0192's session
48 addendum: ``db.notification_events``' format, a fresh data key of the tenant), the AAD
binding the tenant and ``events-connection:<connection ARN>`` (its uuid: a connection made
again under the name is another), and opened after the read's transaction: the key provider
is never called inside one. So a change is read, opened, changed, sealed, then written only
if the row is still the one read (compare-and-set); ConcurrentModification otherwise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.notification_events import (
    SEALED_FORMAT,
    EventSealer,
    Unreadable,
    open_message,
    seal_message,
)
from andromede.events.connection_model import ApiDestination, Connection
from andromede.events.connection_store import (
    connection_missing,
    connection_taken,
    destination_missing,
    destination_taken,
    limit_error,
)
from andromede.events.errors import ConcurrentModification
from andromede.events.held_sql import held_rows

__all__ = ["SqlConnectionStore"]

_C = tables.events_connections
_D = tables.events_api_destinations
# Format 1: the credentials in clear (a store built without a sealer: tests of the store).
CLEAR_FORMAT: Final = 1
# An API destination's document, as :meth:`ApiDestination.document` writes it.
DESTINATION_FORMAT: Final = 1


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _prefixed(column: Any, prefix: str) -> Any:
    # Not LIKE: SQLite's is case-insensitive, and AWS's prefix is not.
    return sa.func.substr(column, 1, len(prefix)) == prefix


def _context(connection: Connection) -> str:
    return f"events-connection:{connection.arn}"


class SqlConnectionStore:
    def __init__(self, db: Database, region: str, sealer: EventSealer | None = None) -> None:
        self._db = db
        self._region = region
        self._sealer = sealer

    async def _seal(self, connection: Connection) -> tuple[str | None, int]:
        if connection.auth is None:
            return None, SEALED_FORMAT if self._sealer is not None else CLEAR_FORMAT
        text = json.dumps(connection.auth, separators=(",", ":"))
        if self._sealer is None:
            return text, CLEAR_FORMAT
        sealed = await seal_message(self._sealer, connection.tenant_id, _context(connection), text)
        return sealed, SEALED_FORMAT

    async def _open(self, m: Any) -> Connection:
        connection = Connection.from_row(self._region, m, None)
        stored = m["secret"]
        if stored is None:
            return connection
        if m["format_version"] == CLEAR_FORMAT:
            return connection.with_auth(json.loads(stored))
        if self._sealer is None:
            return connection  # a store built without a sealer opens nothing sealed
        try:
            text = await open_message(
                self._sealer, connection.tenant_id, _context(connection), stored, SEALED_FORMAT
            )
        except Unreadable:  # its tenant's key is gone: as good as deauthorized, for good
            return connection
        return connection.with_auth(json.loads(text))

    def _row(self, connection: Connection, secret: str | None, fmt: int) -> dict[str, Any]:
        return {
            "tenant_id": connection.tenant_id,
            "connection_name": connection.name,
            "uuid": connection.uuid,
            "auth_type": connection.auth_type,
            "state": connection.state,
            "created": _micros(connection.created),
            "document": connection.document(),
            "secret": secret,
            "format_version": fmt,
        }

    async def create_connection(
        self, connection: Connection, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        row = self._row(connection, *await self._seal(connection))
        names = sa.select(_C.c.connection_name).where(_C.c.tenant_id == connection.tenant_id)

        def work(conn: DbConnection) -> None:
            taken = sa.select(_C.c.uuid).where(
                _C.c.tenant_id == connection.tenant_id,
                _C.c.connection_name == connection.name,
            )
            if conn.execute(taken).first() is not None:
                raise connection_taken(connection.name)
            if held_rows(conn, names, counted) >= limit:
                raise limit_error(limit)
            conn.execute(_C.insert().values(row))

        try:
            await self._db.write(work)
        except IntegrityError as exc:  # another gateway took the name meanwhile
            raise connection_taken(connection.name) from exc

    async def _read_row(self, tenant_id: str, name: str) -> Any:
        query = sa.select(_C).where(_C.c.tenant_id == tenant_id, _C.c.connection_name == name)

        def work(conn: DbConnection) -> Any:
            row = conn.execute(query).first()
            return None if row is None else dict(row._mapping)

        return await self._db.read(work)

    async def get_connection(self, tenant_id: str, name: str) -> Connection | None:
        m = await self._read_row(tenant_id, name)
        return None if m is None else await self._open(m)

    async def list_connections(
        self, tenant_id: str, *, prefix: str, state: str | None, after: str, limit: int
    ) -> list[Connection]:
        query = (
            sa.select(_C)
            .where(_C.c.tenant_id == tenant_id, _C.c.connection_name > after)
            .order_by(_C.c.connection_name)
            .limit(limit)
        )
        if prefix:
            query = query.where(_prefixed(_C.c.connection_name, prefix))
        if state is not None:
            query = query.where(_C.c.state == state)

        def work(conn: DbConnection) -> list[Connection]:
            return [
                Connection.from_row(self._region, row._mapping, None) for row in conn.execute(query)
            ]

        return await self._db.read(work)

    async def change_connection(
        self, tenant_id: str, name: str, change: Callable[[Connection], Connection]
    ) -> Connection:
        m = await self._read_row(tenant_id, name)
        if m is None:
            raise connection_missing(name)
        changed = change(await self._open(m))
        row = self._row(changed, *await self._seal(changed))
        same = (
            _C.c.tenant_id == tenant_id,
            _C.c.connection_name == name,
            _C.c.uuid == m["uuid"],
            _C.c.document == m["document"],
            _C.c.state == m["state"],
        )

        def work(conn: DbConnection) -> int:
            return int(conn.execute(_C.update().where(*same).values(row)).rowcount or 0)

        if not await self._db.write(work):
            if await self._read_row(tenant_id, name) is None:
                raise connection_missing(name)
            raise ConcurrentModification(f"Connection {name} changed meanwhile; try again.")
        return changed

    async def delete_connection(self, tenant_id: str, name: str) -> Connection:
        m = await self._read_row(tenant_id, name)
        if m is None:
            raise connection_missing(name)
        mine = (_C.c.tenant_id == tenant_id, _C.c.connection_name == name)

        def work(conn: DbConnection) -> int:
            return int(conn.execute(sa.delete(_C).where(*mine)).rowcount or 0)

        if not await self._db.write(work):
            raise connection_missing(name)
        return Connection.from_row(self._region, m, None)

    # -- API destinations

    async def create_destination(
        self,
        destination: ApiDestination,
        *,
        limit: int,
        counted: Callable[[str], bool] | None = None,
    ) -> None:
        row = {
            "tenant_id": destination.tenant_id,
            "destination_name": destination.name,
            "uuid": destination.uuid,
            "connection_name": destination.connection_name,
            "created": _micros(destination.created),
            "document": destination.document(),
            "format_version": DESTINATION_FORMAT,
        }
        names = sa.select(_D.c.destination_name).where(_D.c.tenant_id == destination.tenant_id)

        def work(conn: DbConnection) -> None:
            taken = sa.select(_D.c.uuid).where(
                _D.c.tenant_id == destination.tenant_id,
                _D.c.destination_name == destination.name,
            )
            if conn.execute(taken).first() is not None:
                raise destination_taken(destination.name)
            if held_rows(conn, names, counted) >= limit:
                raise limit_error(limit)
            conn.execute(_D.insert().values(row))

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise destination_taken(destination.name) from exc

    async def get_destination(self, tenant_id: str, name: str) -> ApiDestination | None:
        query = sa.select(_D).where(_D.c.tenant_id == tenant_id, _D.c.destination_name == name)

        def work(conn: DbConnection) -> ApiDestination | None:
            row = conn.execute(query).first()
            return None if row is None else ApiDestination.from_row(self._region, row._mapping)

        return await self._db.read(work)

    async def list_destinations(
        self,
        tenant_id: str,
        *,
        prefix: str,
        connection_arn: str | None,
        after: str,
        limit: int,
    ) -> list[ApiDestination]:
        query = (
            sa.select(_D)
            .where(_D.c.tenant_id == tenant_id, _D.c.destination_name > after)
            .order_by(_D.c.destination_name)
        )
        if prefix:
            query = query.where(_prefixed(_D.c.destination_name, prefix))
        if connection_arn is None:
            query = query.limit(limit)

        def work(conn: DbConnection) -> list[ApiDestination]:
            found = []
            for row in conn.execute(query):
                destination = ApiDestination.from_row(self._region, row._mapping)
                if connection_arn is None or destination.connection_arn == connection_arn:
                    found.append(destination)
                    if len(found) >= limit:
                        break
            return found

        return await self._db.read(work)

    async def change_destination(
        self, tenant_id: str, name: str, change: Callable[[ApiDestination], ApiDestination]
    ) -> ApiDestination:
        mine = (_D.c.tenant_id == tenant_id, _D.c.destination_name == name)

        def work(conn: DbConnection) -> ApiDestination:
            row = conn.execute(sa.select(_D).where(*mine)).first()
            if row is None:
                raise destination_missing(name)
            changed = change(ApiDestination.from_row(self._region, row._mapping))
            conn.execute(
                _D.update()
                .where(*mine)
                .values(
                    connection_name=changed.connection_name,
                    document=changed.document(),
                )
            )
            return changed

        return await self._db.write(work)

    async def delete_destination(self, tenant_id: str, name: str) -> None:
        mine = (_D.c.tenant_id == tenant_id, _D.c.destination_name == name)

        def work(conn: DbConnection) -> int:
            return int(conn.execute(sa.delete(_D).where(*mine)).rowcount or 0)

        if not await self._db.write(work):
            raise destination_missing(name)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: DbConnection) -> int:
            conn.execute(sa.delete(_D).where(_D.c.tenant_id == tenant_id))
            gone = conn.execute(sa.delete(_C).where(_C.c.tenant_id == tenant_id)).rowcount
            return int(gone or 0)

        return await self._db.write(work)
