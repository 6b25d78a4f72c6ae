"""What the SQL stores of a function's per-qualifier configurations share (asynchronous
invocation configs, URLs, provisioned concurrency): a table keyed by tenant, function name
and qualifier, one row a qualifier; its row replaced, read, listed, deleted (one qualifier's
or the function's all) and a closed tenant's forgotten the same way on SQLite and
PostgreSQL. Each store keeps what its rows hold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db.database import Database

__all__ = ["QualifierRows"]


class QualifierRows:
    def __init__(self, db: Database, table: sa.Table) -> None:
        self._db = db
        self._table = table

    def _key(self, tenant_id: str, name: str, qualifier: str) -> Any:
        columns = self._table.c
        return (
            (columns.tenant_id == tenant_id)
            & (columns.name == name)
            & (columns.qualifier == qualifier)
        )

    async def _replace_row(self, values: dict[str, Any]) -> None:
        key = self._key(values["tenant_id"], values["name"], values["qualifier"])

        def work(conn: Connection) -> None:
            # Delete then insert in one transaction: one row a qualifier, on either database.
            conn.execute(sa.delete(self._table).where(key))
            conn.execute(sa.insert(self._table).values(**values))

        await self._db.write(work)

    async def _row(self, tenant_id: str, name: str, qualifier: str) -> Any:
        query = sa.select(self._table).where(self._key(tenant_id, name, qualifier))
        return await self._db.read(lambda conn: conn.execute(query).mappings().first())

    async def _function_rows(self, tenant_id: str, name: str) -> Sequence[Any]:
        columns = self._table.c
        query = (
            sa.select(self._table)
            .where(columns.tenant_id == tenant_id, columns.name == name)
            .order_by(columns.qualifier)
        )
        return await self._db.read(lambda conn: conn.execute(query).mappings().all())

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        columns = self._table.c
        delete = sa.delete(self._table).where(columns.tenant_id == tenant_id, columns.name == name)
        if qualifier is not None:
            delete = delete.where(columns.qualifier == qualifier)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(self._table).where(self._table.c.tenant_id == tenant_id)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))
