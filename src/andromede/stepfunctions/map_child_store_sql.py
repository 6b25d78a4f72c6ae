"""A distributed Map's child executions over the metadata database (SQLite or PostgreSQL),
the table of migration 0153 (decision 0369). A child's input, output, error, cause, role and
history are one JSON document sealed under its account's key ring, its AAD the child's ARN,
as an execution's are (``execution_store_sql``); its run, status, dates and item count are
columns, what ListExecutions filters and orders by. An ABORTED child is not written again."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.map_children import MapChild
from andromede.stepfunctions.map_runs import ABORTED, REDRIVABLE
from andromede.stepfunctions.store import DocumentSealer

__all__ = ["SqlMapChildStore"]

_C = tables.stepfunctions_map_children
FORMAT_VERSION: Final = 1


def _context(arn: str) -> bytes:
    return f"states-map-child\n{arn}".encode()


def _shell(row: Any) -> MapChild:
    return MapChild(
        tenant_id=row["tenant_id"],
        run_arn=row["map_run_arn"],
        arn=row["execution_arn"],
        started=int(row["started"]),
        input="",
        item_count=int(row["item_count"]),
        status=row["status"],
        stopped=None if row["stopped"] is None else int(row["stopped"]),
        index=None if row["item_index"] is None else int(row["item_index"]),
        redrive_count=int(row["redrive_count"]),
        redrive_date=None if row["redrive_date"] is None else int(row["redrive_date"]),
    )


def _one(tenant_id: str, arn: str) -> Any:
    return sa.and_(_C.c.tenant_id == tenant_id, _C.c.execution_arn == arn)


class SqlMapChildStore:
    def __init__(self, db: Database, sealer: DocumentSealer) -> None:
        self._db = db
        self._sealer = sealer

    async def _child(self, row: Any) -> MapChild:
        shell = _shell(row)
        opened = await self._sealer.open(
            shell.tenant_id, bytes(row["document_sealed"]), _context(shell.arn)
        )
        return MapChild.of_document(shell, json.loads(opened))

    async def save(self, child: MapChild) -> bool:
        document = json.dumps(child.document(), separators=(",", ":")).encode()
        sealed = await self._sealer.seal(child.tenant_id, document, _context(child.arn))
        values = {
            "status": child.status,
            "stopped": child.stopped,
            "item_count": child.item_count,
            "document_sealed": sealed,
        }
        where = _one(child.tenant_id, child.arn)

        def work(conn: Connection) -> bool:
            going = sa.and_(where, _C.c.status != ABORTED)
            if conn.execute(sa.update(_C).where(going).values(**values)).rowcount == 1:
                return True
            if conn.execute(sa.select(_C.c.status).where(where)).first() is not None:
                return False  # aborted: kept as it is
            conn.execute(sa.insert(_C).values(
                tenant_id=child.tenant_id, execution_arn=child.arn, map_run_arn=child.run_arn,
                started=child.started, item_index=child.index, format_version=FORMAT_VERSION,
                **values,
            ))  # fmt: skip
            return True

        try:
            return bool(await self._db.write(work))
        except IntegrityError:  # inserted meanwhile: written over
            return bool(await self._db.write(work))

    async def get(self, tenant_id: str, arn: str) -> MapChild | None:
        query = sa.select(_C).where(_one(tenant_id, arn))

        def work(conn: Connection) -> Any:
            return conn.execute(query).mappings().first()

        row = await self._db.read(work)
        return None if row is None else await self._child(row)

    async def status(self, tenant_id: str, arn: str) -> str | None:
        query = sa.select(_C.c.status).where(_one(tenant_id, arn))

        def work(conn: Connection) -> Any:
            return conn.execute(query).scalar()

        found = await self._db.read(work)
        return None if found is None else str(found)

    async def list_for_run(
        self, tenant_id: str, run_arn: str, status: str | None,
        after: tuple[int, str] | None, limit: int, redriven: bool | None = None,
    ) -> list[MapChild]:  # fmt: skip
        query = sa.select(_C).where(_C.c.tenant_id == tenant_id, _C.c.map_run_arn == run_arn)
        if status is not None:
            query = query.where(_C.c.status == status)
        if redriven is not None:
            query = query.where(_C.c.redrive_count > 0 if redriven else _C.c.redrive_count == 0)
        if after is not None:
            started, arn = after
            query = query.where(
                sa.or_(
                    _C.c.started < started,
                    sa.and_(_C.c.started == started, _C.c.execution_arn > arn),
                )
            )
        query = query.order_by(_C.c.started.desc(), _C.c.execution_arn).limit(limit)

        def work(conn: Connection) -> list[MapChild]:
            return [_shell(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)  # the list shows no data: nothing opened

    async def redrive(self, tenant_id: str, arn: str, now: int) -> MapChild | None:
        found = await self.get(tenant_id, arn)
        if found is None or found.status not in REDRIVABLE:
            return None
        again = found.changed(status="RUNNING", stopped=None, output=None, error=None,
                              cause=None)  # fmt: skip
        document = json.dumps(again.document(), separators=(",", ":")).encode()
        sealed = await self._sealer.seal(tenant_id, document, _context(arn))
        # Only from the status read: a child changed meanwhile is not moved.
        where = sa.and_(_one(tenant_id, arn), _C.c.status == found.status)
        moved = {"status": "RUNNING", "stopped": None, "document_sealed": sealed,
                 "redrive_date": now, "redrive_count": _C.c.redrive_count + 1}  # fmt: skip

        def work(conn: Connection) -> bool:
            return bool(conn.execute(sa.update(_C).where(where).values(**moved)).rowcount == 1)

        if not await self._db.write(work):
            return None
        return again.changed(redrive_count=found.redrive_count + 1, redrive_date=now)

    async def forget_for_run(self, tenant_id: str, run_arn: str, limit: int) -> int:
        # By the run's index, ``limit`` rows a transaction.
        some = (
            sa.select(_C.c.execution_arn)
            .where(_C.c.tenant_id == tenant_id, _C.c.map_run_arn == run_arn)
            .limit(limit)
        )

        def work(conn: Connection) -> int:
            arns = list(conn.execute(some).scalars())
            if not arns:
                return 0
            return int(
                conn.execute(
                    sa.delete(_C).where(_C.c.tenant_id == tenant_id, _C.c.execution_arn.in_(arns))
                ).rowcount
            )

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_C).where(_C.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
