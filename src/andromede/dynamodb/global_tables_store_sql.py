"""DynamoDB global tables' replication state over the metadata database, the tables of
migration 0127 (decision 0265): the :class:`~andromede.dynamodb.global_tables_store.
ReplicationStore` of ``serve``. Upserts are an update, then an insert when it touched no row
(a concurrent insert of the same key: the lease is another gateway's; a clock or a mark
written twice is written once)."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.dynamodb.global_tables_store import ItemClock

__all__ = ["SqlReplicationStore"]

_M = tables.dynamodb_global_members
_L = tables.dynamodb_global_leases
_C = tables.dynamodb_global_clocks
_A = tables.dynamodb_global_applied
FORMAT_VERSION: Final = 1  # of a member's position and of an item clock


def _of(table: sa.Table, tenant_id: str, name: str) -> Any:
    return sa.and_(table.c.tenant_id == tenant_id, table.c.table_name == name)


def _upsert(
    conn: Connection, table: sa.Table, where: Any, key: dict[str, Any], **values: Any
) -> None:
    if conn.execute(sa.update(table).where(where).values(**values)).rowcount:
        return
    conn.execute(sa.insert(table).values(**key, **values))


class SqlReplicationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def join(self, tenant_id: str, name: str, region: str, label: str, at: int) -> None:
        key = {"tenant_id": tenant_id, "table_name": name, "region": region}
        where = sa.and_(_of(_M, tenant_id, name), _M.c.region == region)
        values = {"label": label, "sequence": at, "format_version": FORMAT_VERSION}
        await self._db.write(lambda conn: _upsert(conn, _M, where, key, **values))

    async def leave(self, tenant_id: str, name: str, region: str) -> None:
        def work(conn: Connection) -> None:
            for table in (_M, _C, _A):
                conn.execute(
                    sa.delete(table).where(_of(table, tenant_id, name), table.c.region == region)
                )
            left = conn.execute(sa.select(_M.c.region).where(_of(_M, tenant_id, name))).first()
            if left is None:
                conn.execute(sa.delete(_L).where(_of(_L, tenant_id, name)))

        await self._db.write(work)

    async def members(self, tenant_id: str, name: str) -> dict[str, tuple[str, int]]:
        query = sa.select(_M.c.region, _M.c.label, _M.c.sequence).where(_of(_M, tenant_id, name))
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return {r: (label, int(seq)) for r, label, seq in rows}

    async def global_tables(self, limit: int) -> list[tuple[str, str]]:
        query = (
            sa.select(_M.c.tenant_id, _M.c.table_name)
            .distinct()
            .order_by(_M.c.tenant_id, _M.c.table_name)
            .limit(limit)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return [(t, n) for t, n in rows]

    async def set_position(
        self, tenant_id: str, name: str, region: str, label: str, sequence: int
    ) -> None:
        statement = (
            sa.update(_M)
            .where(_of(_M, tenant_id, name), _M.c.region == region)
            .values(label=label, sequence=sequence)
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def take_lease(self, tenant_id: str, name: str, owner: str, now: int, until: int) -> bool:
        def work(conn: Connection) -> bool:
            taken = conn.execute(
                sa.update(_L)
                .where(
                    _of(_L, tenant_id, name), sa.or_(_L.c.owner == owner, _L.c.lease_until <= now)
                )
                .values(owner=owner, lease_until=until)
            ).rowcount
            if taken:
                return True
            if conn.execute(sa.select(_L.c.owner).where(_of(_L, tenant_id, name))).first():
                return False
            conn.execute(
                sa.insert(_L).values(
                    tenant_id=tenant_id, table_name=name, owner=owner, lease_until=until
                )
            )
            return True

        try:
            return await self._db.write(work)
        except sa.exc.IntegrityError:  # another gateway inserted the lease first
            return False

    def _item(self, tenant_id: str, name: str, region: str, hash_: bytes, sort: bytes) -> Any:
        return sa.and_(
            _of(_C, tenant_id, name),
            _C.c.region == region,
            _C.c.hash_token == hash_,
            _C.c.sort_token == sort,
        )

    async def clock(
        self, tenant_id: str, name: str, region: str, hash_token: bytes, sort_token: bytes
    ) -> ItemClock | None:
        query = sa.select(_C.c.time, _C.c.origin, _C.c.row_digest).where(
            self._item(tenant_id, name, region, hash_token, sort_token)
        )
        row = await self._db.read(lambda conn: conn.execute(query).first())
        return None if row is None else ItemClock(int(row[0]), row[1], bytes(row[2]))

    async def set_clock(
        self,
        tenant_id: str,
        name: str,
        region: str,
        hash_token: bytes,
        sort_token: bytes,
        clock: ItemClock,
    ) -> None:
        key = {
            "tenant_id": tenant_id,
            "table_name": name,
            "region": region,
            "hash_token": hash_token,
            "sort_token": sort_token,
        }
        where = self._item(tenant_id, name, region, hash_token, sort_token)
        values = {
            "time": clock.time,
            "origin": clock.origin,
            "row_digest": clock.row,
            "format_version": FORMAT_VERSION,
        }
        await self._db.write(lambda conn: _upsert(conn, _C, where, key, **values))

    async def mark_applied(
        self, tenant_id: str, name: str, region: str, digest: bytes, at: int
    ) -> None:
        key = {"tenant_id": tenant_id, "table_name": name, "region": region, "digest": digest}
        where = sa.and_(_of(_A, tenant_id, name), _A.c.region == region, _A.c.digest == digest)
        await self._db.write(lambda conn: _upsert(conn, _A, where, key, created=at))

    async def is_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        query = sa.select(_A.c.created).where(
            _of(_A, tenant_id, name), _A.c.region == region, _A.c.digest == digest
        )
        return await self._db.read(lambda conn: conn.execute(query).first()) is not None

    async def take_applied(self, tenant_id: str, name: str, region: str, digest: bytes) -> bool:
        statement = sa.delete(_A).where(
            _of(_A, tenant_id, name), _A.c.region == region, _A.c.digest == digest
        )
        taken: int = await self._db.write(lambda conn: conn.execute(statement).rowcount)
        return taken > 0

    async def prune_applied(self, before: int) -> int:
        statement = sa.delete(_A).where(_A.c.created < before)
        pruned: int = await self._db.write(lambda conn: conn.execute(statement).rowcount)
        return pruned

    async def forget_tenant(self, tenant_id: str) -> None:
        def work(conn: Connection) -> None:
            for table in (_M, _L, _C, _A):
                conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))

        await self._db.write(work)
