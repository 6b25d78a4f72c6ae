"""Lambda's code signing configurations over the metadata database (SQLite or PostgreSQL):
``lambda_code_signing_configs`` and ``lambda_function_code_signing`` of migration 0156
(decision 0386). Nothing here is customer data: nothing is sealed."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.code_signing import CodeSigningConfig

__all__ = ["SqlCodeSigningStore"]

_C = tables.lambda_code_signing_configs
_F = tables.lambda_function_code_signing
FORMAT_VERSION: Final = 1


def _config(row: Any) -> CodeSigningConfig:
    fields = json.loads(row["definition"])
    return CodeSigningConfig(
        tenant_id=row["tenant_id"],
        config_id=row["config_id"],
        publishers=tuple(fields["publishers"]),
        policy=str(fields["policy"]),
        description=str(fields["description"]),
        last_modified=int(fields["last_modified"]),
    )


class SqlCodeSigningStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, config: CodeSigningConfig) -> None:
        definition = json.dumps(
            {
                "publishers": list(config.publishers),
                "policy": config.policy,
                "description": config.description,
                "last_modified": config.last_modified,
            },
            sort_keys=True,
        )
        key = (_C.c.tenant_id == config.tenant_id) & (_C.c.config_id == config.config_id)

        def work(conn: Connection) -> None:
            done = conn.execute(
                sa.update(_C)
                .where(key)
                .values(definition=definition, format_version=FORMAT_VERSION)
            )
            if done.rowcount == 0:
                conn.execute(
                    sa.insert(_C).values(
                        tenant_id=config.tenant_id,
                        config_id=config.config_id,
                        definition=definition,
                        format_version=FORMAT_VERSION,
                    )
                )

        await self._db.write(work)

    async def get(self, tenant_id: str, config_id: str) -> CodeSigningConfig | None:
        query = sa.select(_C).where(_C.c.tenant_id == tenant_id, _C.c.config_id == config_id)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _config(row)

    async def configs(self, tenant_id: str) -> list[CodeSigningConfig]:
        query = sa.select(_C).where(_C.c.tenant_id == tenant_id).order_by(_C.c.config_id)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_config(r) for r in rows]

    async def delete(self, tenant_id: str, config_id: str) -> None:
        delete = sa.delete(_C).where(_C.c.tenant_id == tenant_id, _C.c.config_id == config_id)
        await self._db.write(lambda conn: conn.execute(delete))

    async def attach(self, tenant_id: str, name: str, config_id: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(sa.delete(_F).where(_F.c.tenant_id == tenant_id, _F.c.name == name))
            conn.execute(
                sa.insert(_F).values(
                    tenant_id=tenant_id,
                    name=name,
                    config_id=config_id,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def attached(self, tenant_id: str, name: str) -> str | None:
        query = sa.select(_F.c.config_id).where(_F.c.tenant_id == tenant_id, _F.c.name == name)
        found = await self._db.read(lambda conn: conn.execute(query).scalar())
        return None if found is None else str(found)

    async def detach(self, tenant_id: str, name: str) -> None:
        delete = sa.delete(_F).where(_F.c.tenant_id == tenant_id, _F.c.name == name)
        await self._db.write(lambda conn: conn.execute(delete))

    async def functions(self, tenant_id: str, config_id: str) -> list[str]:
        query = (
            sa.select(_F.c.name)
            .where(_F.c.tenant_id == tenant_id, _F.c.config_id == config_id)
            .order_by(_F.c.name)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).scalars().all())
        return [str(r) for r in rows]

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            attached = conn.execute(sa.delete(_F).where(_F.c.tenant_id == tenant_id)).rowcount
            configs = conn.execute(sa.delete(_C).where(_C.c.tenant_id == tenant_id)).rowcount
            return int(attached) + int(configs)

        return await self._db.write(work)
