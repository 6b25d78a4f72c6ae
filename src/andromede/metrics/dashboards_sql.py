"""The dashboard store over the metadata database (SQLite or PostgreSQL), the table of
migration 0084 (decision 0185). A put replaces the row under its lock; a DeleteDashboards
deletes every name in one transaction or none, so a missing name leaves the others."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.metrics.dashboards import Dashboard

__all__ = ["SqlDashboardStore"]

_D = tables.metric_dashboards
FORMAT_VERSION: Final = 1


def _dashboard(m: Any) -> Dashboard:
    return Dashboard(
        m["tenant_id"],
        m["dashboard_name"],
        m["body"],
        datetime.fromtimestamp(int(m["last_modified"]) / 1_000_000, UTC),
    )


class SqlDashboardStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, dashboard: Dashboard) -> None:
        key = (_D.c.tenant_id == dashboard.tenant_id, _D.c.dashboard_name == dashboard.name)
        values = {
            "body": dashboard.body,
            "size": dashboard.size,
            "last_modified": int(dashboard.last_modified.timestamp() * 1_000_000),
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            held = conn.execute(sa.select(_D.c.size).where(*key).with_for_update()).first()
            if held is None:
                conn.execute(
                    sa.insert(_D).values(
                        tenant_id=dashboard.tenant_id, dashboard_name=dashboard.name, **values
                    )
                )
            else:
                conn.execute(sa.update(_D).where(*key).values(**values))

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> Dashboard | None:
        query = sa.select(_D).where(_D.c.tenant_id == tenant_id, _D.c.dashboard_name == name)

        def work(conn: Connection) -> Dashboard | None:
            row = conn.execute(query).first()
            return None if row is None else _dashboard(row._mapping)

        return await self._db.read(work)

    async def count(self, tenant_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(_D).where(_D.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(query).scalar_one())

        return await self._db.read(work)

    async def page(self, tenant_id: str, prefix: str, after: str, limit: int) -> list[Dashboard]:
        query = sa.select(_D).where(_D.c.tenant_id == tenant_id, _D.c.dashboard_name > after)
        if prefix:
            # Not LIKE: SQLite's is case-insensitive, and AWS's prefix is not.
            query = query.where(sa.func.substr(_D.c.dashboard_name, 1, len(prefix)) == prefix)
        query = query.order_by(_D.c.dashboard_name).limit(limit)

        def work(conn: Connection) -> list[Dashboard]:
            return [_dashboard(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(names))
        where = (_D.c.tenant_id == tenant_id, _D.c.dashboard_name.in_(wanted))

        def work(conn: Connection) -> list[str]:
            held = {r[0] for r in conn.execute(sa.select(_D.c.dashboard_name).where(*where))}
            missing = [n for n in wanted if n not in held]
            if not missing:
                conn.execute(sa.delete(_D).where(*where))
            return missing

        return await self._db.write(work)
