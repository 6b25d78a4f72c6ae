"""The load balancing store over the metadata database (SQLite or PostgreSQL): migration
0091's ``lb_resources`` (decision 0191). A name is unique by the table's constraint, so two
gateways creating one name concurrently leave one row; the limit is counted in the inserting
transaction."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.loadbalancing.store import Stored

__all__ = ["SqlLbStore"]

_R = tables.lb_resources
FORMAT_VERSION: Final = 1


def _stored(row: Row[Any]) -> Stored:
    m = row._mapping
    return Stored(
        m["tenant_id"],
        m["kind"],
        m["resource_id"],
        m["name"],
        m["parent"],
        json.loads(m["body"]),
        int(m["revision"]),
    )


class SqlLbStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(
        self,
        tenant_id: str,
        kind: str,
        resource_id: str,
        name: str,
        parent: str,
        document: dict[str, Any],
        *,
        limit: int,
    ) -> str:
        count = (
            sa.select(sa.func.count())
            .select_from(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.kind == kind, _R.c.parent == parent)
        )
        taken = sa.select(_R.c.resource_id).where(
            _R.c.tenant_id == tenant_id, _R.c.kind == kind, _R.c.name == name
        )
        statement = _R.insert().values(
            tenant_id=tenant_id,
            kind=kind,
            resource_id=resource_id,
            name=name,
            parent=parent,
            body=json.dumps(document, sort_keys=True),
            revision=0,
            format_version=FORMAT_VERSION,
        )

        def work(conn: Connection) -> str:
            if conn.execute(taken).first() is not None:
                return "duplicate"
            if int(conn.execute(count).scalar_one()) >= limit:
                return "limit"
            try:
                with conn.begin_nested():
                    conn.execute(statement)
            except IntegrityError:
                return "duplicate"
            return "ok"

        return await self._db.write(work)

    async def get(self, tenant_id: str, kind: str, resource_id: str) -> Stored | None:
        query = sa.select(_R).where(
            _R.c.tenant_id == tenant_id, _R.c.kind == kind, _R.c.resource_id == resource_id
        )

        def work(conn: Connection) -> Stored | None:
            row = conn.execute(query).first()
            return None if row is None else _stored(row)

        return await self._db.read(work)

    async def by_name(self, tenant_id: str, kind: str, name: str) -> Stored | None:
        query = sa.select(_R).where(
            _R.c.tenant_id == tenant_id, _R.c.kind == kind, _R.c.name == name
        )

        def work(conn: Connection) -> Stored | None:
            row = conn.execute(query).first()
            return None if row is None else _stored(row)

        return await self._db.read(work)

    async def list(self, tenant_id: str | None, kind: str) -> list[Stored]:
        query = sa.select(_R).where(_R.c.kind == kind).order_by(_R.c.tenant_id, _R.c.name)
        if tenant_id is not None:
            query = query.where(_R.c.tenant_id == tenant_id)
        return await self._db.read(lambda conn: [_stored(r) for r in conn.execute(query).all()])

    def _this(self, stored: Stored) -> tuple[sa.ColumnElement[bool], ...]:
        return (
            _R.c.tenant_id == stored.tenant_id,
            _R.c.kind == stored.kind,
            _R.c.resource_id == stored.resource_id,
            _R.c.revision == stored.revision,
        )

    async def replace(self, stored: Stored, document: dict[str, Any]) -> bool:
        statement = (
            _R.update()
            .where(*self._this(stored))
            .values(
                body=json.dumps(document, sort_keys=True),
                revision=stored.revision + 1,
                format_version=FORMAT_VERSION,
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def rename(self, stored: Stored, name: str, document: dict[str, Any]) -> str:
        taken = sa.select(_R.c.resource_id).where(
            _R.c.tenant_id == stored.tenant_id,
            _R.c.kind == stored.kind,
            _R.c.name == name,
            _R.c.resource_id != stored.resource_id,
        )
        statement = (
            _R.update()
            .where(*self._this(stored))
            .values(
                name=name,
                body=json.dumps(document, sort_keys=True),
                revision=stored.revision + 1,
                format_version=FORMAT_VERSION,
            )
        )

        def work(conn: Connection) -> str:
            if conn.execute(taken).first() is not None:
                return "duplicate"
            try:
                with conn.begin_nested():
                    written = conn.execute(statement).rowcount == 1
            except IntegrityError:  # the name taken meanwhile (the unique index)
                return "duplicate"
            return "ok" if written else "changed"

        return await self._db.write(work)

    async def delete(self, stored: Stored) -> bool:
        statement = _R.delete().where(*self._this(stored))
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)
