"""EventBridge's global endpoints over the metadata database (SQLite or PostgreSQL), the
table of migration 0152 (decision 0355). An endpoint holds no secret: its settings are
kept as a JSON document, changed by compare-and-set on that document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DbConnection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.events.endpoint_model import Endpoint
from andromede.events.endpoint_store import endpoint_missing, endpoint_taken, endpoints_limit
from andromede.events.errors import ConcurrentModification

__all__ = ["SqlEndpointStore"]

_E: Final = tables.events_endpoints
_FORMAT: Final = 1


def _endpoint(m: Any) -> Endpoint:
    return Endpoint.from_document(
        m["tenant_id"],
        m["region"],
        m["endpoint_name"],
        m["endpoint_id"],
        int(m["created"]) / 1000,
        m["document"],
    )


def _row(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "tenant_id": endpoint.tenant_id,
        "region": endpoint.region,
        "endpoint_name": endpoint.name,
        "endpoint_id": endpoint.endpoint_id,
        "created": round(endpoint.created * 1000),
        "document": endpoint.document(),
        "format_version": _FORMAT,
    }


class SqlEndpointStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def _mine(self, tenant_id: str, region: str, name: str) -> tuple[Any, ...]:
        return (_E.c.tenant_id == tenant_id, _E.c.region == region, _E.c.endpoint_name == name)

    async def create(self, endpoint: Endpoint, *, limit: int) -> None:
        row = _row(endpoint)
        mine = self._mine(endpoint.tenant_id, endpoint.region, endpoint.name)
        count = sa.select(sa.func.count()).where(
            _E.c.tenant_id == endpoint.tenant_id, _E.c.region == endpoint.region
        )

        def work(conn: DbConnection) -> None:
            if conn.execute(sa.select(_E.c.endpoint_id).where(*mine)).first() is not None:
                raise endpoint_taken(endpoint.name)
            if int(conn.scalar(count) or 0) >= limit:
                raise endpoints_limit(limit)
            conn.execute(_E.insert().values(row))

        try:
            await self._db.write(work)
        except IntegrityError as exc:  # another gateway took the name meanwhile
            raise endpoint_taken(endpoint.name) from exc

    async def _one(self, *where: Any) -> Endpoint | None:
        query = sa.select(_E).where(*where)

        def work(conn: DbConnection) -> Endpoint | None:
            row = conn.execute(query).first()
            return None if row is None else _endpoint(row._mapping)

        return await self._db.read(work)

    async def get(self, tenant_id: str, region: str, name: str) -> Endpoint | None:
        return await self._one(*self._mine(tenant_id, region, name))

    async def by_id(self, tenant_id: str, endpoint_id: str) -> Endpoint | None:
        return await self._one(_E.c.tenant_id == tenant_id, _E.c.endpoint_id == endpoint_id)

    async def list_page(
        self, tenant_id: str, region: str, prefix: str, after: str, limit: int
    ) -> list[Endpoint]:
        query = (
            sa.select(_E)
            .where(_E.c.tenant_id == tenant_id, _E.c.region == region, _E.c.endpoint_name > after)
            .order_by(_E.c.endpoint_name)
        )

        def work(conn: DbConnection) -> list[Endpoint]:
            found: list[Endpoint] = []
            # Names are few an account (events_max_endpoints): the prefix is matched here
            # rather than with LIKE and its escapes.
            for row in conn.execute(query):
                if row._mapping["endpoint_name"].startswith(prefix):
                    found.append(_endpoint(row._mapping))
                    if len(found) >= limit:
                        break
            return found

        return await self._db.read(work)

    async def change(
        self, tenant_id: str, region: str, name: str, change: Callable[[Endpoint], Endpoint]
    ) -> Endpoint:
        held = await self.get(tenant_id, region, name)
        if held is None:
            raise endpoint_missing(name)
        changed = change(held)
        same = (*self._mine(tenant_id, region, name), _E.c.document == held.document())
        values = {"document": changed.document()}

        def work(conn: DbConnection) -> int:
            return int(conn.execute(_E.update().where(*same).values(values)).rowcount or 0)

        if not await self._db.write(work):
            if await self.get(tenant_id, region, name) is None:
                raise endpoint_missing(name)
            raise ConcurrentModification(f"Endpoint {name} changed meanwhile; try again.")
        return changed

    async def delete(self, tenant_id: str, region: str, name: str) -> Endpoint:
        held = await self.get(tenant_id, region, name)
        if held is None:
            raise endpoint_missing(name)
        mine = self._mine(tenant_id, region, name)

        def work(conn: DbConnection) -> int:
            return int(conn.execute(sa.delete(_E).where(*mine)).rowcount or 0)

        if not await self._db.write(work):
            raise endpoint_missing(name)
        return held

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: DbConnection) -> int:
            gone = conn.execute(sa.delete(_E).where(_E.c.tenant_id == tenant_id)).rowcount
            return int(gone or 0)

        return await self._db.write(work)
