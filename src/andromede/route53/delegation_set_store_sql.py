"""Route 53's reusable delegation sets over the metadata database (SQLite or PostgreSQL), the
table of migration 0150 (decision 0346). The caller reference is unique per account in the
table: of two creations racing with one reference, one is kept and the other is
``DelegationSetAlreadyCreated``."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.delegation_sets import DelegationSet, already_created

__all__ = ["SqlDelegationSetStore"]

_D = tables.route53_delegation_sets
FORMAT_VERSION: Final = 1


def _set(row: Any) -> DelegationSet:
    return DelegationSet(
        set_id=str(row["set_id"]),
        tenant_id=str(row["tenant_id"]),
        caller_reference=str(row["caller_reference"]),
        name_servers=tuple(str(s) for s in json.loads(row["name_servers"])),
        created=int(row["created"]),
    )


class SqlDelegationSetStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, delegation_set: DelegationSet) -> None:
        insert = sa.insert(_D).values(
            set_id=delegation_set.set_id,
            tenant_id=delegation_set.tenant_id,
            caller_reference=delegation_set.caller_reference,
            name_servers=json.dumps(list(delegation_set.name_servers)),
            created=delegation_set.created,
            format_version=FORMAT_VERSION,
        )
        try:
            await self._db.write_statement(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise already_created() from exc

    async def _select(self, where: Any) -> list[DelegationSet]:
        query = sa.select(_D).where(where).order_by(_D.c.set_id)

        def work(conn: Connection) -> list[DelegationSet]:
            return [_set(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, set_id: str) -> DelegationSet | None:
        found = await self._select(sa.and_(_D.c.tenant_id == tenant_id, _D.c.set_id == set_id))
        return found[0] if found else None

    async def sets(self, tenant_id: str) -> list[DelegationSet]:
        return await self._select(_D.c.tenant_id == tenant_id)

    async def _delete(self, where: Any) -> int:
        delete = sa.delete(_D).where(where)

        def work(conn: Connection) -> int:
            return int(conn.execute(delete).rowcount)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, set_id: str) -> bool:
        return await self._delete(sa.and_(_D.c.tenant_id == tenant_id, _D.c.set_id == set_id)) > 0

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self._delete(_D.c.tenant_id == tenant_id)
