"""On-demand backups over the metadata database (decision 0253, migration 0121): a backup's
rows copied from ``dynamodb_items`` by one INSERT … SELECT in the same transaction that
checks the table's revision and writes the backup's record, so a backup is one consistent
snapshot; the sealed bytes are copied as they are, never opened."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.dynamodb.backups import Backup
from andromede.dynamodb.history_sql import copy_base, drop_history, items_at, prune_history
from andromede.dynamodb.model import StoredItem, Table
from andromede.dynamodb.store_sql import _definition, _table

__all__ = ["SqlBackupStore"]

_T = tables.dynamodb_tables
_I = tables.dynamodb_items
_B = tables.dynamodb_backups
_BI = tables.dynamodb_backup_items
_V = tables.dynamodb_item_versions
FORMAT_VERSION: Final = 1


def _backup(m: Any) -> Backup:
    table = _table(
        {
            "tenant_id": m["tenant_id"],
            "table_name": m["table_name"],
            "region": m["region"],
            "created": m["table_created"],
            "definition": m["definition"],
            "wrapped_key": m["wrapped_key"],
            "revision": m["table_revision"],
        }
    )
    return Backup(
        tenant_id=m["tenant_id"],
        backup_id=m["backup_id"],
        name=m["backup_name"],
        table=table,
        created=int(m["created"]),
        size=int(m["size"]),
        item_count=int(m["item_count"]),
    )


def _one(tenant_id: str, backup_id: str) -> Any:
    return sa.and_(_B.c.tenant_id == tenant_id, _B.c.backup_id == backup_id)


class SqlBackupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_backup(self, backup: Backup) -> Backup | None:
        table = backup.table
        current = sa.select(_T.c.revision).where(
            _T.c.tenant_id == table.tenant_id, _T.c.table_name == table.name
        )
        source = _I.c.tenant_id == table.tenant_id, _I.c.table_name == table.name
        copy = sa.insert(_BI).from_select(
            ["tenant_id", "backup_id", "hash_token", "sort_token", "sealed", "size"],
            sa.select(
                _I.c.tenant_id,
                sa.literal(backup.backup_id),
                _I.c.hash_token,
                _I.c.sort_token,
                _I.c.sealed,
                _I.c.size,
            ).where(*source),
        )
        usage = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_I.c.size), 0)).where(
            *source
        )

        def work(conn: Connection) -> Backup | None:
            held = conn.execute(current).first()
            if held is None or int(held[0]) != table.revision:
                return None
            conn.execute(copy)
            count, size = conn.execute(usage).one()
            made = Backup(
                backup.tenant_id,
                backup.backup_id,
                backup.name,
                table,
                backup.created,
                size=int(size),
                item_count=int(count),
            )
            conn.execute(
                sa.insert(_B).values(
                    tenant_id=backup.tenant_id,
                    backup_id=backup.backup_id,
                    backup_name=backup.name,
                    table_name=table.name,
                    region=table.region,
                    table_created=table.created,
                    definition=_definition(table),
                    wrapped_key=table.wrapped_key,
                    table_revision=table.revision,
                    created=backup.created,
                    size=made.size,
                    item_count=made.item_count,
                    format_version=FORMAT_VERSION,
                )
            )
            return made

        return await self._db.write(work)

    async def get_backup(self, tenant_id: str, backup_id: str) -> Backup | None:
        query = sa.select(_B).where(_one(tenant_id, backup_id))

        def work(conn: Connection) -> Backup | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _backup(row)

        return await self._db.read(work)

    async def list_backups(
        self,
        tenant_id: str,
        table_name: str | None,
        low: int | None,
        high: int | None,
        after: str | None,
        limit: int,
    ) -> list[Backup]:
        query = sa.select(_B).where(_B.c.tenant_id == tenant_id)
        if table_name is not None:
            query = query.where(_B.c.table_name == table_name)
        if low is not None:
            query = query.where(_B.c.created >= low)
        if high is not None:
            query = query.where(_B.c.created < high)
        if after is not None:
            query = query.where(_B.c.backup_id > after)
        query = query.order_by(_B.c.backup_id).limit(limit)
        return await self._db.read(
            lambda conn: [_backup(r) for r in conn.execute(query).mappings()]
        )

    async def delete_backup(self, tenant_id: str, backup_id: str) -> bool:
        rows = sa.delete(_BI).where(_BI.c.tenant_id == tenant_id, _BI.c.backup_id == backup_id)
        record = sa.delete(_B).where(_one(tenant_id, backup_id))

        def work(conn: Connection) -> bool:
            conn.execute(rows)
            return int(conn.execute(record).rowcount) == 1

        return await self._db.write(work)

    async def backup_items(
        self, tenant_id: str, backup_id: str, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[StoredItem]:
        query = sa.select(_BI).where(_BI.c.tenant_id == tenant_id, _BI.c.backup_id == backup_id)
        if after is not None:
            query = query.where(
                sa.or_(
                    _BI.c.hash_token > after[0],
                    sa.and_(_BI.c.hash_token == after[0], _BI.c.sort_token > after[1]),
                )
            )
        query = query.order_by(_BI.c.hash_token, _BI.c.sort_token).limit(limit)

        def work(conn: Connection) -> list[StoredItem]:
            rows = conn.execute(query).mappings()
            return [
                StoredItem(
                    bytes(m["hash_token"]),
                    bytes(m["sort_token"]),
                    bytes(m["sealed"]),
                    int(m["size"]),
                )
                for m in rows
            ]

        return await self._db.read(work)

    async def backup_bytes(self) -> dict[str, int]:
        query = sa.select(_B.c.tenant_id, sa.func.sum(_B.c.size)).group_by(_B.c.tenant_id)
        return await self._db.read(
            lambda conn: {str(t): int(s or 0) for t, s in conn.execute(query)}
        )

    # --- point-in-time recovery's history (``dynamodb.history_sql``) ---------------------------

    async def start_history(self, table: Table) -> bool:
        current = sa.select(_T.c.revision).where(
            _T.c.tenant_id == table.tenant_id, _T.c.table_name == table.name
        )

        def work(conn: Connection) -> bool:
            held = conn.execute(current).first()
            if held is None or int(held[0]) != table.revision or table.pitr is None:
                return False
            copy_base(conn, table.tenant_id, table.name, table.created, table.pitr[1])
            return True

        return await self._db.write(work)

    async def stop_history(self, tenant_id: str, name: str, created: int) -> None:
        await self._db.write(lambda conn: drop_history(conn, tenant_id, name, created))

    async def items_at(
        self,
        tenant_id: str,
        name: str,
        created: int,
        at: int,
        after: tuple[bytes, bytes] | None,
        limit: int,
    ) -> list[StoredItem]:
        return await self._db.read(
            lambda conn: items_at(conn, tenant_id, name, created, at, after, limit)
        )

    async def prune_history(self, now: int) -> int:
        return await self._db.write(lambda conn: prune_history(conn, now))

    async def forget_tenant(self, tenant_id: str) -> int:
        rows = sa.delete(_BI).where(_BI.c.tenant_id == tenant_id)
        records = sa.delete(_B).where(_B.c.tenant_id == tenant_id)
        versions = sa.delete(_V).where(_V.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(versions)
            conn.execute(rows)
            return int(conn.execute(records).rowcount)

        return await self._db.write(work)
