"""Lambda's provisioned concurrency configurations over the metadata database (SQLite or
PostgreSQL), the ``lambda_provisioned_concurrency`` table of migration 0143 (decision 0314):
one row per function and qualifier; a gateway's status write is conditional on the row's
``last_modified``, so it never overwrites a newer Put."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.provisioned import ProvisionedConfig, ProvisionedStatus
from andromede.functions.qualifier_rows_sql import QualifierRows

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


class SqlProvisionedStore(QualifierRows):
    def __init__(self, db: Database) -> None:
        super().__init__(db, _T)

    async def put(self, config: ProvisionedConfig) -> None:
        await self._replace_row(
            {
                "tenant_id": config.tenant_id,
                "name": config.name,
                "qualifier": config.qualifier,
                "requested": config.requested,
                "last_modified": config.last_modified,
                "status": config.status.value,
                "status_reason": config.status_reason,
                "allocated": config.allocated,
                "format_version": FORMAT_VERSION,
            }
        )

    async def get(self, tenant_id: str, name: str, qualifier: str) -> ProvisionedConfig | None:
        row = await self._row(tenant_id, name, qualifier)
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
                self._key(config.tenant_id, config.name, config.qualifier),
                _T.c.last_modified == config.last_modified,
            )
            .values(status=status.value, status_reason=reason, allocated=allocated)
        )
        return bool(await self._db.write(lambda conn: conn.execute(update).rowcount))
