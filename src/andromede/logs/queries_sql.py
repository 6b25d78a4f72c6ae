"""Logs Insights queries over the metadata database (SQLite or PostgreSQL), the table of
migration 0092 (decision 0186, session-48 addendum), and the saved query definitions. A
query's end is written only from the statuses it may leave (an ``UPDATE … WHERE status IN
…``), so a StopQuery through one gateway is never overwritten by the gateway that ran the
query. The account's bound on running
queries is counted before the insert: two gateways starting a query at the same instant may
pass it by one each, which the decision accepts (AWS's bound is a quota, not a guarantee)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.logs.errors import LimitExceeded
from andromede.logs.queries import ACTIVE, QueryDefinition, QueryRecord, QueryStatus, Row

__all__ = ["SqlQueryStore"]

_Q = tables.log_queries
_D = tables.log_query_definitions
FORMAT_VERSION: Final = 1


def _record(m: Any) -> QueryRecord:
    results = json.loads(m["results"]) if m["results"] is not None else []
    return QueryRecord(
        m["tenant_id"],
        m["query_id"],
        tuple(json.loads(m["group_names"])),
        m["query_string"],
        int(m["start_time"]),
        int(m["end_time"]),
        int(m["query_limit"]),
        int(m["created"]),
        QueryStatus(m["status"]),
        tuple([[(str(f), str(v)) for f, v in row] for row in results]),
        dict(json.loads(m["statistics"])) if m["statistics"] is not None else {},
    )


class SqlQueryStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: QueryRecord, max_active: int) -> None:
        count = (
            sa.select(sa.func.count())
            .select_from(_Q)
            .where(
                _Q.c.tenant_id == record.tenant_id,
                _Q.c.status.in_([s.value for s in ACTIVE]),
            )
        )

        def work(conn: Connection) -> None:
            if int(conn.execute(count).scalar_one()) >= max_active:
                raise LimitExceeded(
                    f"Account maximum query concurrency limit of [{max_active}] reached."
                )
            conn.execute(
                sa.insert(_Q).values(
                    tenant_id=record.tenant_id,
                    query_id=record.query_id,
                    group_names=json.dumps(list(record.groups)),
                    query_string=record.query_string,
                    start_time=record.start,
                    end_time=record.end,
                    query_limit=record.limit,
                    created=record.created,
                    status=record.status.value,
                    results=None,
                    statistics=None,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, query_id: str) -> QueryRecord | None:
        query = sa.select(_Q).where(_Q.c.tenant_id == tenant_id, _Q.c.query_id == query_id)

        def work(conn: Connection) -> QueryRecord | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _record(row)

        return await self._db.read(work)

    async def finish(
        self,
        tenant_id: str,
        query_id: str,
        status: QueryStatus,
        results: Sequence[Row],
        statistics: dict[str, float],
        only_from: frozenset[QueryStatus],
    ) -> bool:
        statement = (
            sa.update(_Q)
            .where(
                _Q.c.tenant_id == tenant_id,
                _Q.c.query_id == query_id,
                _Q.c.status.in_([s.value for s in only_from]),
            )
            .values(
                status=status.value,
                results=json.dumps([list(map(list, row)) for row in results]),
                statistics=json.dumps(statistics),
            )
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def recent(
        self,
        tenant_id: str,
        status: QueryStatus | None,
        before: tuple[int, str] | None,
        limit: int,
    ) -> list[QueryRecord]:
        query = sa.select(_Q).where(_Q.c.tenant_id == tenant_id)
        if status is not None:
            query = query.where(_Q.c.status == status.value)
        if before is not None:
            query = query.where(
                sa.or_(
                    _Q.c.created < before[0],
                    sa.and_(_Q.c.created == before[0], _Q.c.query_id < before[1]),
                )
            )
        query = query.order_by(_Q.c.created.desc(), _Q.c.query_id.desc()).limit(limit)

        def work(conn: Connection) -> list[QueryRecord]:
            return [_record(r) for r in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def expire(self, created_before: int) -> int:
        statement = sa.delete(_Q).where(_Q.c.created < created_before)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def put_definition(
        self, definition: QueryDefinition, max_definitions: int, must_exist: bool
    ) -> bool:
        key = (
            _D.c.tenant_id == definition.tenant_id,
            _D.c.definition_id == definition.definition_id,
        )
        values = {
            "name": definition.name,
            "query_string": definition.query_string,
            "group_names": json.dumps(list(definition.groups)),
            "modified": definition.modified,
        }
        count = sa.select(sa.func.count()).select_from(_D).where(key[0])

        def work(conn: Connection) -> bool:
            if conn.execute(sa.update(_D).where(*key).values(**values)).rowcount:
                return True
            if must_exist:
                return False
            if int(conn.execute(count).scalar_one()) >= max_definitions:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_D).values(
                    tenant_id=definition.tenant_id,
                    definition_id=definition.definition_id,
                    format_version=FORMAT_VERSION,
                    **values,
                )
            )
            return True

        return await self._db.write(work)

    async def list_definitions(
        self, tenant_id: str, prefix: str, after: tuple[str, str] | None, limit: int
    ) -> list[QueryDefinition]:
        query = sa.select(_D).where(_D.c.tenant_id == tenant_id)
        if prefix:
            # Not LIKE: SQLite's is case-insensitive, and AWS's prefixes are not.
            query = query.where(sa.func.substr(_D.c.name, 1, len(prefix)) == prefix)
        if after is not None:
            query = query.where(
                sa.or_(
                    _D.c.name > after[0],
                    sa.and_(_D.c.name == after[0], _D.c.definition_id > after[1]),
                )
            )
        query = query.order_by(_D.c.name, _D.c.definition_id).limit(limit)

        def work(conn: Connection) -> list[QueryDefinition]:
            return [
                QueryDefinition(
                    r.tenant_id,
                    r.definition_id,
                    r.name,
                    r.query_string,
                    tuple(json.loads(r.group_names)),
                    int(r.modified),
                )
                for r in conn.execute(query)
            ]

        return await self._db.read(work)

    async def delete_definition(self, tenant_id: str, definition_id: str) -> bool:
        statement = sa.delete(_D).where(
            _D.c.tenant_id == tenant_id, _D.c.definition_id == definition_id
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)
