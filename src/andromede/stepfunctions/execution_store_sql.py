"""Executions over the metadata database (SQLite or PostgreSQL), the tables of migration 0131
(decision 0271).

An execution's data (its definition, input, output, error, cause and position) is one JSON
document sealed under its account's key ring, its AAD the execution's ARN; each step's
history events one sealed row (AAD the ARN and the first event's id), written in the same
transaction as the execution's new position, so the history and the position never part.
Each write is compare-and-set on ``revision`` and, for the runner, on its lease: a gateway
that stalled past its lease never writes over the one that took it over. The runner's claim
reads its candidates ``FOR UPDATE SKIP LOCKED`` on PostgreSQL and takes each with one guarded
``UPDATE``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import STEP_FUNCTIONS, queued
from andromede.stepfunctions.execution_store import PurgeHook
from andromede.stepfunctions.executions import (
    Execution,
    ExecutionStatus,
    HistoryEvent,
    execution_arn,
)
from andromede.stepfunctions.store import DocumentSealer

__all__ = ["SqlExecutionStore"]

_E = tables.stepfunctions_executions
_H = tables.stepfunctions_history
FORMAT_VERSION: Final = 1


def _one(tenant_id: str, region: str, machine: str, name: str) -> Any:
    return sa.and_(
        _E.c.tenant_id == tenant_id,
        _E.c.region == region,
        _E.c.machine_name == machine,
        _E.c.execution_name == name,
    )


def _key(execution: Execution) -> dict[str, str]:
    return {
        "tenant_id": execution.tenant_id,
        "region": execution.region,
        "machine_name": execution.machine_name,
        "execution_name": execution.name,
    }


class SqlExecutionStore:
    def __init__(self, db: Database, sealer: DocumentSealer) -> None:
        self._db = db
        self._sealer = sealer

    async def _columns(self, execution: Execution) -> dict[str, Any]:
        document = json.dumps(execution.document(), separators=(",", ":")).encode()
        sealed = await self._sealer.seal(
            execution.tenant_id, document, f"states-execution\n{execution.arn}".encode()
        )
        return {
            "status": execution.status.value,
            "started": execution.started,
            "stopped": execution.stopped,
            "wake_at": execution.wake_at,
            "role_arn": execution.role_arn,
            "revision_id": execution.revision_id,
            "transitions": execution.transitions,
            "event_count": execution.events,
            "document_sealed": sealed,
            "waiting_activity": execution.waiting_activity,
            "activity_taken": execution.activity_taken,
            "version_number": execution.version,
            "alias_name": execution.alias,
            "redrive_count": execution.redrive_count,
            "redriven": execution.redriven,
            "revision": execution.revision,
        }

    async def _events_row(self, execution: Execution, events: list[HistoryEvent]) -> dict[str, Any]:
        first = events[0].id
        body = json.dumps([e.as_json() for e in events], separators=(",", ":")).encode()
        sealed = await self._sealer.seal(
            execution.tenant_id, body, f"states-history\n{execution.arn}\n{first}".encode()
        )
        return {**_key(execution), "first_event": first, "events_sealed": sealed}

    async def _execution(self, row: Any) -> Execution:
        shell = Execution(
            tenant_id=row["tenant_id"],
            region=row["region"],
            machine_name=row["machine_name"],
            name=row["execution_name"],
            definition="",
            role_arn=row["role_arn"],
            input="",
            started=int(row["started"]),
            status=ExecutionStatus(row["status"]),
            stopped=None if row["stopped"] is None else int(row["stopped"]),
            wake_at=int(row["wake_at"]),
            transitions=int(row["transitions"]),
            events=int(row["event_count"]),
            revision_id=row["revision_id"],
            waiting_activity=row["waiting_activity"],
            activity_taken=bool(row["activity_taken"]),
            version=None if row["version_number"] is None else int(row["version_number"]),
            alias=row["alias_name"],
            redrive_count=int(row["redrive_count"]),
            redriven=None if row["redriven"] is None else int(row["redriven"]),
            revision=int(row["revision"]),
        )
        opened = await self._sealer.open(
            shell.tenant_id,
            bytes(row["document_sealed"]),
            f"states-execution\n{shell.arn}".encode(),
        )
        document = json.loads(opened)
        document.setdefault("token_key", "")
        document.setdefault("parent", None)
        document.setdefault("resume", None)
        document.setdefault("redrive_token", None)
        document.setdefault("trace", None)  # written before decision 0351
        return dataclasses.replace(shell, **document)

    async def create(self, execution: Execution, events: list[HistoryEvent]) -> Execution | None:
        where = _one(execution.tenant_id, execution.region, execution.machine_name, execution.name)
        columns = await self._columns(execution)
        history = await self._events_row(execution, events) if events else None

        def work(conn: Connection) -> Any:
            found = conn.execute(sa.select(_E).where(where)).mappings().first()
            if found is not None:
                return found
            conn.execute(
                sa.insert(_E).values(
                    **_key(execution),
                    **columns,
                    lease_owner=None,
                    lease_until=0,
                    format_version=FORMAT_VERSION,
                )
            )
            if history is not None:
                conn.execute(sa.insert(_H).values(**history))
            queued(conn, STEP_FUNCTIONS)  # every gateway's runner rings once committed (0331)
            return None

        try:
            found = await self._db.write(work)
        except IntegrityError:  # started by another gateway between the read and the insert
            return await self.get(
                execution.tenant_id, execution.region, execution.machine_name, execution.name
            )
        return None if found is None else await self._execution(found)

    async def get(self, tenant_id: str, region: str, machine: str, name: str) -> Execution | None:
        query = sa.select(_E).where(_one(tenant_id, region, machine, name))

        def work(conn: Connection) -> Any:
            return conn.execute(query).mappings().first()

        row = await self._db.read(work)
        return None if row is None else await self._execution(row)

    async def executions(
        self,
        tenant_id: str,
        region: str,
        machine: str,
        status: ExecutionStatus | None,
        after: tuple[int, str] | None,
        limit: int,
        version: int | None = None,
        alias: str | None = None,
        redriven: bool | None = None,
    ) -> list[Execution]:
        query = sa.select(_E).where(
            _E.c.tenant_id == tenant_id, _E.c.region == region, _E.c.machine_name == machine
        )
        if status is not None:
            query = query.where(_E.c.status == status.value)
        if version is not None:
            query = query.where(_E.c.version_number == version)
        if alias is not None:
            query = query.where(_E.c.alias_name == alias)
        if redriven is not None:
            query = query.where((_E.c.redrive_count > 0) if redriven else (_E.c.redrive_count == 0))
        if after is not None:
            started, name = after
            query = query.where(
                sa.or_(
                    _E.c.started < started,
                    sa.and_(_E.c.started == started, _E.c.execution_name > name),
                )
            )
        query = query.order_by(_E.c.started.desc(), _E.c.execution_name).limit(limit)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).mappings())

        return [await self._execution(row) for row in await self._db.read(work)]

    async def advance(
        self, execution: Execution, events: list[HistoryEvent], owner: str | None, lease_until: int
    ) -> bool:
        guard = [
            _one(execution.tenant_id, execution.region, execution.machine_name, execution.name),
            _E.c.revision == execution.revision - 1,
        ]
        values = await self._columns(execution)
        if owner is not None:
            guard.append(_E.c.lease_owner == owner)
            values["lease_until"] = lease_until
        history = await self._events_row(execution, events) if events else None
        statement = sa.update(_E).where(*guard).values(**values)

        def work(conn: Connection) -> bool:
            if conn.execute(statement).rowcount != 1:
                return False
            if history is not None:
                conn.execute(sa.insert(_H).values(**history))
            if owner is None and execution.status is ExecutionStatus.RUNNING:
                # Redriven, answered, its heartbeat moved: outside the runner's lease, so
                # every gateway's runner rings once committed (decision 0331).
                queued(conn, STEP_FUNCTIONS)
            return True

        return await self._db.write(work)

    async def history(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> list[HistoryEvent]:
        query = (
            sa.select(_H.c.first_event, _H.c.events_sealed)
            .where(
                _H.c.tenant_id == tenant_id,
                _H.c.region == region,
                _H.c.machine_name == machine,
                _H.c.execution_name == name,
            )
            .order_by(_H.c.first_event)
        )

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        arn = f"arn:aws:states:{region}:{tenant_id}:execution:{machine}:{name}"
        events: list[HistoryEvent] = []
        for first, sealed in await self._db.read(work):
            opened = await self._sealer.open(
                tenant_id, bytes(sealed), f"states-history\n{arn}\n{first}".encode()
            )
            events += [HistoryEvent.of_json(e) for e in json.loads(opened)]
        return events

    async def claim(
        self, region: str, owner: str, now: int, lease_until: int, limit: int
    ) -> list[Execution]:
        free = sa.and_(
            _E.c.region == region,
            _E.c.status == ExecutionStatus.RUNNING.value,
            _E.c.wake_at <= now,
            sa.or_(_E.c.lease_until <= now, _E.c.lease_owner == owner),
        )
        candidates = (
            sa.select(_E.c.tenant_id, _E.c.machine_name, _E.c.execution_name)
            .where(free)
            .order_by(_E.c.wake_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def any_free(conn: Connection) -> bool:
            return conn.execute(sa.select(_E.c.tenant_id).where(free).limit(1)).first() is not None

        def work(conn: Connection) -> list[Any]:
            claimed = []
            for tenant_id, machine, name in conn.execute(candidates).all():
                one = _one(tenant_id, region, machine, name)
                taken = conn.execute(
                    sa.update(_E)
                    .where(one, free)
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if taken.rowcount == 1:
                    claimed.append(conn.execute(sa.select(_E).where(one)).mappings().one())
            return claimed

        if not await self._db.read(any_free):  # nothing due: no write lock
            return []
        return [await self._execution(row) for row in await self._db.write(work)]

    async def take(self, tenant_id: str, region: str, activity: str) -> Execution | None:
        waiting = sa.and_(
            _E.c.tenant_id == tenant_id,
            _E.c.region == region,
            _E.c.waiting_activity == activity,
            _E.c.activity_taken.is_(False),
            _E.c.status == ExecutionStatus.RUNNING.value,
        )
        oldest = (
            sa.select(_E.c.machine_name, _E.c.execution_name)
            .where(waiting)
            .order_by(_E.c.started, _E.c.execution_name)
            .limit(5)
            .with_for_update(skip_locked=True)
        )

        def any_waiting(conn: Connection) -> bool:
            return (
                conn.execute(sa.select(_E.c.tenant_id).where(waiting).limit(1)).first() is not None
            )

        def work(conn: Connection) -> Any:
            for machine, name in conn.execute(oldest).all():
                one = _one(tenant_id, region, machine, name)
                taken = conn.execute(
                    sa.update(_E)
                    .where(one, waiting)
                    .values(activity_taken=True, revision=_E.c.revision + 1)
                )
                if taken.rowcount == 1:  # not given to another worker in between
                    return conn.execute(sa.select(_E).where(one)).mappings().one()
            return None

        if not await self._db.read(any_waiting):
            return None
        row = await self._db.write(work)
        return None if row is None else await self._execution(row)

    async def purge(
        self, region: str, stopped_before: int, limit: int, before: PurgeHook | None = None
    ) -> int:
        closed = [s.value for s in ExecutionStatus if s is not ExecutionStatus.RUNNING]
        ended = sa.and_(
            _E.c.region == region, _E.c.status.in_(closed), _E.c.stopped < stopped_before
        )
        old = (
            sa.select(_E.c.tenant_id, _E.c.machine_name, _E.c.execution_name)
            .where(ended)
            .limit(limit)
        )

        def found(conn: Connection) -> list[tuple[str, str, str]]:
            return [(t, m, n) for t, m, n in conn.execute(old).all()]

        def work(conn: Connection) -> int:
            gone = 0
            for tenant_id, machine, name in chosen:
                # Still ended before the cut: the rows chosen are the ones deleted, whatever
                # another gateway's pass chose meanwhile.
                deleted = conn.execute(
                    sa.delete(_E).where(_one(tenant_id, region, machine, name), ended)
                ).rowcount
                if deleted:
                    conn.execute(
                        sa.delete(_H).where(
                            _H.c.tenant_id == tenant_id,
                            _H.c.region == region,
                            _H.c.machine_name == machine,
                            _H.c.execution_name == name,
                        )
                    )
                gone += deleted
            return gone

        chosen = await self._db.read(found)
        if not chosen:  # nothing to purge: no write lock
            return 0
        if before is not None:  # what goes with them first: a stop in between loses nothing
            for tenant_id, machine, name in chosen:
                await before(tenant_id, execution_arn(region, tenant_id, machine, name))
        return int(await self._db.write(work))

    async def forget_tenant(self, tenant_id: str) -> int:
        history = sa.delete(_H).where(_H.c.tenant_id == tenant_id)
        executions = sa.delete(_E).where(_E.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(history)
            return int(conn.execute(executions).rowcount)

        return await self._db.write(work)
