"""Activities over the metadata database (SQLite or PostgreSQL), a table of migration 0131
(decision 0271). The account's bound is counted before the insert (a quota, not a
guarantee, as the state machines')."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.activities import Activity
from andromede.stepfunctions.errors import ActivityLimitExceeded

__all__ = ["SqlActivityStore"]

_A = tables.stepfunctions_activities


def _activity(row: Any) -> Activity:
    return Activity(
        row["tenant_id"],
        row["region"],
        row["activity_name"],
        int(row["created"]),
        tuple((str(k), str(v)) for k, v in json.loads(row["tags"])),
    )


def _one(tenant_id: str, region: str, name: str) -> Any:
    return sa.and_(_A.c.tenant_id == tenant_id, _A.c.region == region, _A.c.activity_name == name)


class SqlActivityStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, activity: Activity, max_activities: int) -> Activity | None:
        where = _one(activity.tenant_id, activity.region, activity.name)
        count = (
            sa.select(sa.func.count())
            .select_from(_A)
            .where(_A.c.tenant_id == activity.tenant_id, _A.c.region == activity.region)
        )

        def work(conn: Connection) -> Any:
            found = conn.execute(sa.select(_A).where(where)).mappings().first()
            if found is not None:
                return found
            if int(conn.execute(count).scalar_one()) >= max_activities:
                raise ActivityLimitExceeded(
                    f"Activity Limit Exceeded: '{max_activities} activities'"
                )
            conn.execute(
                sa.insert(_A).values(
                    tenant_id=activity.tenant_id,
                    region=activity.region,
                    activity_name=activity.name,
                    created=activity.created,
                    tags=json.dumps([list(t) for t in activity.tags]),
                )
            )
            return None

        try:
            found = await self._db.write(work)
        except IntegrityError:
            return await self.get(activity.tenant_id, activity.region, activity.name)
        return None if found is None else _activity(found)

    async def get(self, tenant_id: str, region: str, name: str) -> Activity | None:
        query = sa.select(_A).where(_one(tenant_id, region, name))

        def work(conn: Connection) -> Activity | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _activity(row)

        return await self._db.read(work)

    async def activities(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[Activity]:
        query = sa.select(_A).where(_A.c.tenant_id == tenant_id, _A.c.region == region)
        if after is not None:
            query = query.where(_A.c.activity_name > after)
        query = query.order_by(_A.c.activity_name).limit(limit)

        def work(conn: Connection) -> list[Activity]:
            return [_activity(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        statement = sa.delete(_A).where(_one(tenant_id, region, name))

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def set_tags(
        self, tenant_id: str, region: str, name: str, tags: tuple[tuple[str, str], ...]
    ) -> bool:
        statement = (
            sa.update(_A)
            .where(_one(tenant_id, region, name))
            .values(tags=json.dumps([list(t) for t in tags]))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_A).where(_A.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
