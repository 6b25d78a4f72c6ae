"""Lambda's asynchronous invocation configurations over the metadata database (SQLite or
PostgreSQL), the ``lambda_event_invoke_configs`` table of migration 0137 (decision 0300): one
row per function and qualifier, its members one JSON ``definition``. Destinations are ARNs,
not customer data: nothing here is sealed."""

from __future__ import annotations

import json
from typing import Any, Final

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.invoke_configs import EventInvokeConfig
from andromede.functions.qualifier_rows_sql import QualifierRows

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


class SqlInvokeConfigStore(QualifierRows):
    def __init__(self, db: Database) -> None:
        super().__init__(db, _T)

    async def put(self, config: EventInvokeConfig) -> None:
        await self._replace_row(
            {
                "tenant_id": config.tenant_id,
                "name": config.name,
                "qualifier": config.qualifier,
                "definition": _definition(config),
                "format_version": FORMAT_VERSION,
            }
        )

    async def get(self, tenant_id: str, name: str, qualifier: str) -> EventInvokeConfig | None:
        row = await self._row(tenant_id, name, qualifier)
        return None if row is None else _config(row)

    async def configs(self, tenant_id: str, name: str) -> list[EventInvokeConfig]:
        return [_config(r) for r in await self._function_rows(tenant_id, name)]
