"""Lambda's function URLs over the metadata database (SQLite or PostgreSQL), the
``lambda_function_urls`` table of migration 0142 (decision 0312): one row per function and
qualifier, its url-id unique (the database refuses a second row for either), its members one
JSON ``definition``. Nothing here is customer data: nothing is sealed."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.qualifier_rows_sql import QualifierRows
from andromede.functions.url_configs import FunctionUrlConfig, UrlCors

__all__ = ["SqlUrlConfigStore"]

_T = tables.lambda_function_urls
FORMAT_VERSION: Final = 1


def _definition(config: FunctionUrlConfig) -> str:
    return json.dumps(
        {
            "auth_type": config.auth_type,
            "cors": None if config.cors is None else config.cors.shape(),
            "invoke_mode": config.invoke_mode,
            "created": config.created,
            "last_modified": config.last_modified,
        },
        sort_keys=True,
    )


def _config(row: Any) -> FunctionUrlConfig:
    fields = json.loads(row["definition"])
    return FunctionUrlConfig(
        tenant_id=row["tenant_id"],
        name=row["name"],
        qualifier=row["qualifier"],
        url_id=row["url_id"],
        auth_type=str(fields["auth_type"]),
        cors=UrlCors.of(fields["cors"]),
        invoke_mode=str(fields["invoke_mode"]),
        created=int(fields["created"]),
        last_modified=int(fields["last_modified"]),
    )


def _row(config: FunctionUrlConfig) -> dict[str, Any]:
    return {
        "tenant_id": config.tenant_id,
        "name": config.name,
        "qualifier": config.qualifier,
        "url_id": config.url_id,
        "definition": _definition(config),
        "format_version": FORMAT_VERSION,
    }


class SqlUrlConfigStore(QualifierRows):
    def __init__(self, db: Database) -> None:
        super().__init__(db, _T)

    async def create(self, config: FunctionUrlConfig) -> bool:
        def work(conn: Connection) -> None:
            conn.execute(sa.insert(_T).values(**_row(config)))

        try:
            await self._db.write(work)
        except IntegrityError:  # the qualifier's row, or the url-id, is taken
            return False
        return True

    async def replace(self, config: FunctionUrlConfig) -> None:
        update = (
            sa.update(_T)
            .where(self._key(config.tenant_id, config.name, config.qualifier))
            .values(definition=_definition(config), format_version=FORMAT_VERSION)
        )
        await self._db.write(lambda conn: conn.execute(update))

    async def get(self, tenant_id: str, name: str, qualifier: str) -> FunctionUrlConfig | None:
        row = await self._row(tenant_id, name, qualifier)
        return None if row is None else _config(row)

    async def by_url_id(self, url_id: str) -> FunctionUrlConfig | None:
        query = sa.select(_T).where(_T.c.url_id == url_id)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _config(row)

    async def configs(self, tenant_id: str, name: str) -> list[FunctionUrlConfig]:
        return [_config(r) for r in await self._function_rows(tenant_id, name)]
