"""Map runs over the metadata database (SQLite or PostgreSQL), the table of migration 0146
(decision 0322). A run's row is written by the execution's step that runs it (its counts,
status and stop) and by UpdateMapRun (its settings): neither overwrites the other's columns,
so an update made while the run goes on is what the run reads back. An ABORTED run is not
written again."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.map_runs import ABORTED, REDRIVABLE, MapRun

__all__ = ["SqlMapRunStore"]

_R = tables.stepfunctions_map_runs


def _run(row: Any) -> MapRun:
    return MapRun(
        tenant_id=row["tenant_id"],
        arn=row["map_run_arn"],
        execution_arn=row["execution_arn"],
        started=int(row["started"]),
        max_concurrency=int(row["max_concurrency"]),
        tolerated_failure_percentage=float(row["tolerated_percentage"]),
        tolerated_failure_count=int(row["tolerated_count"]),
        status=row["status"],
        stopped=None if row["stopped"] is None else int(row["stopped"]),
        item_counts={str(k): int(v) for k, v in json.loads(row["item_counts"]).items()},
        execution_counts={str(k): int(v) for k, v in json.loads(row["execution_counts"]).items()},
        redrive_count=int(row["redrive_count"]),
        redrive_date=None if row["redrive_date"] is None else int(row["redrive_date"]),
    )


def _one(tenant_id: str, arn: str) -> Any:
    return sa.and_(_R.c.tenant_id == tenant_id, _R.c.map_run_arn == arn)


class SqlMapRunStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def save(self, run: MapRun) -> MapRun:
        progress = {
            "status": run.status,
            "stopped": run.stopped,
            "item_counts": json.dumps(run.item_counts),
            "execution_counts": json.dumps(run.execution_counts),
        }
        where = _one(run.tenant_id, run.arn)

        def work(conn: Connection) -> Any:
            going = sa.and_(where, _R.c.status != ABORTED)
            if conn.execute(sa.update(_R).where(going).values(**progress)).rowcount == 0:
                stored = conn.execute(sa.select(_R).where(where)).mappings().first()
                if stored is not None:  # aborted: kept as it is
                    return stored
                conn.execute(sa.insert(_R).values(
                    tenant_id=run.tenant_id, map_run_arn=run.arn,
                    execution_arn=run.execution_arn, started=run.started,
                    max_concurrency=run.max_concurrency,
                    tolerated_percentage=run.tolerated_failure_percentage,
                    tolerated_count=run.tolerated_failure_count, **progress,
                ))  # fmt: skip
            return conn.execute(sa.select(_R).where(where)).mappings().one()

        try:
            return _run(await self._db.write(work))
        except IntegrityError:  # inserted meanwhile: its progress written over it
            return _run(await self._db.write(work))

    async def get(self, tenant_id: str, arn: str) -> MapRun | None:
        query = sa.select(_R).where(_one(tenant_id, arn))

        def work(conn: Connection) -> MapRun | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _run(row)

        return await self._db.read(work)

    async def list_for_execution(self, tenant_id: str, execution_arn: str) -> list[MapRun]:
        query = (
            sa.select(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.execution_arn == execution_arn)
            .order_by(_R.c.started, _R.c.map_run_arn)
        )

        def work(conn: Connection) -> list[MapRun]:
            return [_run(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def update(
        self, tenant_id: str, arn: str, max_concurrency: int | None,
        tolerated_failure_percentage: float | None, tolerated_failure_count: int | None,
    ) -> MapRun | None:  # fmt: skip
        values: dict[str, Any] = {}
        if max_concurrency is not None:
            values["max_concurrency"] = max_concurrency
        if tolerated_failure_percentage is not None:
            values["tolerated_percentage"] = tolerated_failure_percentage
        if tolerated_failure_count is not None:
            values["tolerated_count"] = tolerated_failure_count
        where = _one(tenant_id, arn)

        def work(conn: Connection) -> MapRun | None:
            if values:
                conn.execute(sa.update(_R).where(where).values(**values))
            row = conn.execute(sa.select(_R).where(where)).mappings().first()
            return None if row is None else _run(row)

        return await self._db.write(work)

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapRun | None:
        where = sa.and_(_one(tenant_id, arn), _R.c.status.in_(REDRIVABLE))
        moved = {"status": "RUNNING", "stopped": None, "redrive_date": now,
                 "redrive_count": _R.c.redrive_count + 1}  # fmt: skip

        def work(conn: Connection) -> MapRun | None:
            if conn.execute(sa.update(_R).where(where).values(**moved)).rowcount != 1:
                return None
            return _run(conn.execute(sa.select(_R).where(_one(tenant_id, arn))).mappings().one())

        return await self._db.write(work)

    async def forget(self, tenant_id: str, arn: str) -> bool:
        statement = sa.delete(_R).where(_one(tenant_id, arn))

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_R).where(_R.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
