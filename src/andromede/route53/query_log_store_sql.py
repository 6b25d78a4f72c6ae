"""Route 53's query logging configurations over the metadata database (SQLite or PostgreSQL),
the table of migration 0141 (decision 0305). The zone's id is unique in the table: of two
creations racing for one zone, one is kept and the other is
``QueryLoggingConfigAlreadyExists``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.errors import QueryLoggingConfigAlreadyExists
from andromede.route53.query_logging import QueryLoggingConfig

__all__ = ["SqlQueryLogStore"]

_Q = tables.route53_query_logging_configs


def _config(row: Any) -> QueryLoggingConfig:
    return QueryLoggingConfig(
        config_id=str(row["config_id"]),
        tenant_id=str(row["tenant_id"]),
        zone_id=str(row["zone_id"]),
        group_arn=str(row["group_arn"]),
        created=int(row["created"]),
    )


class SqlQueryLogStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, config: QueryLoggingConfig) -> None:
        insert = sa.insert(_Q).values(
            config_id=config.config_id,
            tenant_id=config.tenant_id,
            zone_id=config.zone_id,
            group_arn=config.group_arn,
            created=config.created,
        )
        try:
            await self._db.write_statement(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise QueryLoggingConfigAlreadyExists(
                "A query logging configuration already exists for the hosted zone"
                f" {config.zone_id[:64]}."
            ) from exc

    async def _select(self, where: Any) -> list[QueryLoggingConfig]:
        query = sa.select(_Q).where(where).order_by(_Q.c.config_id)

        def work(conn: Connection) -> list[QueryLoggingConfig]:
            return [_config(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, config_id: str) -> QueryLoggingConfig | None:
        mine = sa.and_(_Q.c.tenant_id == tenant_id, _Q.c.config_id == config_id)
        found = await self._select(mine)
        return found[0] if found else None

    async def _delete(self, where: Any) -> int:
        delete = sa.delete(_Q).where(where)

        def work(conn: Connection) -> int:
            return int(conn.execute(delete).rowcount)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, config_id: str) -> bool:
        mine = sa.and_(_Q.c.tenant_id == tenant_id, _Q.c.config_id == config_id)
        return await self._delete(mine) > 0

    async def delete_for_zone(self, tenant_id: str, zone_id: str) -> int:
        return await self._delete(sa.and_(_Q.c.tenant_id == tenant_id, _Q.c.zone_id == zone_id))

    async def configs(self, tenant_id: str) -> list[QueryLoggingConfig]:
        return await self._select(_Q.c.tenant_id == tenant_id)

    async def every(self) -> list[QueryLoggingConfig]:
        return await self._select(sa.true())

    async def forget_tenant(self, tenant_id: str) -> int:
        return await self._delete(_Q.c.tenant_id == tenant_id)
