"""Lambda's provisioned concurrency configurations over the metadata database (SQLite or
PostgreSQL), the ``lambda_provisioned_concurrency`` table of migration 0143 (decision 0314):
one row per function and qualifier; a gateway's status write is conditional on the row's
``last_modified``, so it never overwrites a newer Put."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.provisioned import ProvisionedConfig, ProvisionedStatus

__all__ = ["SqlProvisionedStore"]

_T = tables.lambda_provisioned_concurrency
FORMAT_VERSION: Final = 1


def _config(row: Any) -> ProvisionedConfig:
    return ProvisionedConfig(
        tenant_id=row["tenant_id"],
        name=row["name"],
        qualifier=row["qualifier"],
        requested=int(row["requested"]),
        last_modified=int(row["last_modified"]),
        status=ProvisionedStatus(row["status"]),
        status_reason=str(row["status_reason"]),
        allocated=int(row["allocated"]),
    )


def _key(tenant_id: str, name: str, qualifier: str) -> Any:
    return (_T.c.tenant_id == tenant_id) & (_T.c.name == name) & (_T.c.qualifier == qualifier)


class SqlProvisionedStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, config: ProvisionedConfig) -> None:
        def work(conn: Connection) -> None:
            # Delete then insert in one transaction: one row a qualifier, on either database.
            conn.execute(sa.delete(_T).where(_key(config.tenant_id, config.name, config.qualifier)))
            conn.execute(
                sa.insert(_T).values(
                    tenant_id=config.tenant_id,
                    name=config.name,
                    qualifier=config.qualifier,
                    requested=config.requested,
                    last_modified=config.last_modified,
                    status=config.status.value,
                    status_reason=config.status_reason,
                    allocated=config.allocated,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str, qualifier: str) -> ProvisionedConfig | None:
        query = sa.select(_T).where(_key(tenant_id, name, qualifier))
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _config(row)

    async def configs(self, tenant_id: str, name: str | None = None) -> list[ProvisionedConfig]:
        query = sa.select(_T).where(_T.c.tenant_id == tenant_id)
        if name is not None:
            query = query.where(_T.c.name == name)
        query = query.order_by(_T.c.name, _T.c.qualifier)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_config(r) for r in rows]

    async def every(self) -> list[ProvisionedConfig]:
        query = sa.select(_T).order_by(_T.c.tenant_id, _T.c.name, _T.c.qualifier)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_config(r) for r in rows]

    async def mark(
        self, config: ProvisionedConfig, status: ProvisionedStatus, reason: str, allocated: int
    ) -> bool:
        update = (
            sa.update(_T)
            .where(
                _key(config.tenant_id, config.name, config.qualifier),
                _T.c.last_modified == config.last_modified,
            )
            .values(status=status.value, status_reason=reason, allocated=allocated)
        )
        return bool(await self._db.write(lambda conn: conn.execute(update).rowcount))

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        delete = sa.delete(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        if qualifier is not None:
            delete = delete.where(_T.c.qualifier == qualifier)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(_T).where(_T.c.tenant_id == tenant_id)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))
