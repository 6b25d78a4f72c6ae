"""Route 53's CIDR collections over the metadata database (SQLite or PostgreSQL), the table of
migration 0151 (decision 0353). A collection is written whole by compare-and-set on its
version, so that of two changes racing from one version one is kept; a name is unique per
account in the table: of two creations racing with one name, one is kept and the other is
``CidrCollectionAlreadyExistsException``."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.cidr_collections import CidrCollection, already_exists

__all__ = ["SqlCidrCollectionStore"]

_C = tables.route53_cidr_collections
FORMAT_VERSION: Final = 1


def _collection(row: Any) -> CidrCollection:
    locations = json.loads(row["locations"])
    return CidrCollection(
        collection_id=str(row["collection_id"]),
        tenant_id=str(row["tenant_id"]),
        name=str(row["name"]),
        caller_reference=str(row["caller_reference"]),
        version=int(row["version"]),
        locations=tuple((str(n), tuple(str(b) for b in blocks)) for n, blocks in locations),
        created=int(row["created"]),
    )


def _locations(collection: CidrCollection) -> str:
    return json.dumps([[name, list(blocks)] for name, blocks in collection.locations])


class SqlCidrCollectionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, collection: CidrCollection) -> None:
        insert = sa.insert(_C).values(
            collection_id=collection.collection_id,
            tenant_id=collection.tenant_id,
            name=collection.name,
            caller_reference=collection.caller_reference,
            version=collection.version,
            locations=_locations(collection),
            created=collection.created,
            format_version=FORMAT_VERSION,
        )
        try:
            await self._db.write_statement(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise already_exists(collection.name) from exc

    async def _select(self, where: Any) -> list[CidrCollection]:
        query = sa.select(_C).where(where).order_by(_C.c.collection_id)

        def work(conn: Connection) -> list[CidrCollection]:
            return [_collection(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, collection_id: str) -> CidrCollection | None:
        found = await self._select(
            sa.and_(_C.c.tenant_id == tenant_id, _C.c.collection_id == collection_id)
        )
        return found[0] if found else None

    async def collections(self, tenant_id: str) -> list[CidrCollection]:
        return await self._select(_C.c.tenant_id == tenant_id)

    async def _write(self, statement: Any) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def replace(self, collection: CidrCollection, version: int) -> bool:
        update = (
            sa.update(_C)
            .where(_C.c.collection_id == collection.collection_id, _C.c.version == version)
            .values(version=collection.version, locations=_locations(collection))
        )
        return await self._write(update) > 0

    async def delete(self, tenant_id: str, collection_id: str) -> bool:
        where = sa.and_(_C.c.tenant_id == tenant_id, _C.c.collection_id == collection_id)
        return await self._write(sa.delete(_C).where(where)) > 0

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self._write(sa.delete(_C).where(_C.c.tenant_id == tenant_id))
