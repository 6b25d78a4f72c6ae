"""Auto Scaling's store over the metadata database (SQLite or PostgreSQL), tables of
migration 0069: a group's JSON document with its revision (conditional updates), and the
activities by account, group and start."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.autoscaling.model import FORMAT_VERSION, Activity, Group
from andromede.db import tables
from andromede.db.database import Database

__all__ = ["SqlGroupStore"]

_G = tables.autoscaling_groups
_A = tables.autoscaling_activities


def _group(row: sa.Row[tuple[object, ...]]) -> Group:
    m = row._mapping
    return Group.from_document(m["document"], int(m["revision"]))


class SqlGroupStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, group: Group) -> bool:
        statement = _G.insert().values(
            tenant_id=group.tenant_id,
            name=group.name,
            document=group.document(),
            format_version=FORMAT_VERSION,
            revision=0,
        )

        def work(conn: Connection) -> bool:
            try:
                with conn.begin_nested():
                    conn.execute(statement)
            except IntegrityError:
                return False
            return True

        return await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> Group | None:
        query = sa.select(_G).where(_G.c.tenant_id == tenant_id, _G.c.name == name)

        def work(conn: Connection) -> Group | None:
            row = conn.execute(query).first()
            return None if row is None else _group(row)

        return await self._db.read(work)

    async def groups(self, tenant_id: str | None) -> list[Group]:
        query = sa.select(_G).order_by(_G.c.tenant_id, _G.c.name)
        if tenant_id is not None:
            query = query.where(_G.c.tenant_id == tenant_id)
        return await self._db.read(lambda conn: [_group(r) for r in conn.execute(query).all()])

    async def change(self, group: Group) -> bool:
        statement = (
            _G.update()
            .where(
                _G.c.tenant_id == group.tenant_id,
                _G.c.name == group.name,
                _G.c.revision == group.revision,
            )
            .values(
                document=group.document(),
                format_version=FORMAT_VERSION,
                revision=group.revision + 1,
            )
        )
        return await self._db.write(lambda conn: conn.execute(statement).rowcount == 1)

    async def delete(self, group: Group) -> bool:
        statement = _G.delete().where(
            _G.c.tenant_id == group.tenant_id,
            _G.c.name == group.name,
            _G.c.revision == group.revision,
        )
        activities = _A.delete().where(
            _A.c.tenant_id == group.tenant_id, _A.c.group_name == group.name
        )

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount != 1:
                return False
            conn.execute(activities)
            return True

        return await self._db.write(work)

    async def add_activity(self, activity: Activity) -> None:
        statement = _A.insert().values(
            activity_id=activity.activity_id,
            tenant_id=activity.tenant_id,
            group_name=activity.group_name,
            start_time=activity.start_time,
            document=activity.document(),
        )
        await self._db.write(lambda conn: conn.execute(statement))

    async def activities(self, tenant_id: str, group_name: str | None) -> list[Activity]:
        query = (
            sa.select(_A.c.document)
            .where(_A.c.tenant_id == tenant_id)
            .order_by(_A.c.start_time.desc(), _A.c.activity_id.desc())
        )
        if group_name is not None:
            query = query.where(_A.c.group_name == group_name)
        return await self._db.read(
            lambda conn: [Activity.from_document(r[0]) for r in conn.execute(query).all()]
        )
