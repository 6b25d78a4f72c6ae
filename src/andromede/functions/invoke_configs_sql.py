"""Lambda's asynchronous invocation configurations over the metadata database (SQLite or
PostgreSQL), the ``lambda_event_invoke_configs`` table of migration 0137 (decision 0300): one
row per function and qualifier, its members one JSON ``definition``. Destinations are ARNs,
not customer data: nothing here is sealed."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.invoke_configs import EventInvokeConfig

__all__ = ["SqlInvokeConfigStore"]

_T = tables.lambda_event_invoke_configs
FORMAT_VERSION: Final = 1


def _definition(config: EventInvokeConfig) -> str:
    return json.dumps(
        {
            "retries": config.maximum_retry_attempts,
            "max_age": config.maximum_event_age,
            "on_success": config.on_success,
            "on_failure": config.on_failure,
            "last_modified": config.last_modified,
        },
        sort_keys=True,
    )


def _config(row: Any) -> EventInvokeConfig:
    fields = json.loads(row["definition"])
    return EventInvokeConfig(
        tenant_id=row["tenant_id"],
        name=row["name"],
        qualifier=row["qualifier"],
        maximum_retry_attempts=fields["retries"],
        maximum_event_age=fields["max_age"],
        on_success=str(fields["on_success"]),
        on_failure=str(fields["on_failure"]),
        last_modified=int(fields["last_modified"]),
    )


class SqlInvokeConfigStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, config: EventInvokeConfig) -> None:
        key = (
            (_T.c.tenant_id == config.tenant_id)
            & (_T.c.name == config.name)
            & (_T.c.qualifier == config.qualifier)
        )

        def work(conn: Connection) -> None:
            # Delete then insert in one transaction: one row a qualifier, on either database.
            conn.execute(sa.delete(_T).where(key))
            conn.execute(
                sa.insert(_T).values(
                    tenant_id=config.tenant_id,
                    name=config.name,
                    qualifier=config.qualifier,
                    definition=_definition(config),
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str, qualifier: str) -> EventInvokeConfig | None:
        query = sa.select(_T).where(
            _T.c.tenant_id == tenant_id, _T.c.name == name, _T.c.qualifier == qualifier
        )
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _config(row)

    async def configs(self, tenant_id: str, name: str) -> list[EventInvokeConfig]:
        query = (
            sa.select(_T)
            .where(_T.c.tenant_id == tenant_id, _T.c.name == name)
            .order_by(_T.c.qualifier)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_config(r) for r in rows]

    async def delete(self, tenant_id: str, name: str, qualifier: str | None) -> int:
        delete = sa.delete(_T).where(_T.c.tenant_id == tenant_id, _T.c.name == name)
        if qualifier is not None:
            delete = delete.where(_T.c.qualifier == qualifier)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(_T).where(_T.c.tenant_id == tenant_id)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))
