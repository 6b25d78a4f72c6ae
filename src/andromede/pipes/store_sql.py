"""Pipes over the metadata database (SQLite or PostgreSQL), the tables of migration 0124
(decision 0258).

A pipe's source, target and parameters are one JSON ``definition`` (AWS's shapes, as
DescribePipe gives them back); its states, revision and reader's lease are columns, so that
the runner's claim is one guarded ``UPDATE`` per pipe (the candidates read ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL): two gateways never read one pipe at once. A checkpoint is written
only in a transaction that still finds the lease the writer's, so a gateway that stalled past
its lease never moves a checkpoint another took over. The account's bound of pipes in a
Region is counted before the insert: two gateways creating at the same instant may pass it by
one, a quota not a guarantee (as Firehose's streams)."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.pipes.errors import PipeConflict, QuotaExceeded
from andromede.pipes.model import TRANSITIONAL, Pipe, PipeState

__all__ = ["SqlPipeStore"]

_P = tables.pipes
_C = tables.pipe_checkpoints
FORMAT_VERSION: Final = 1
_TRANSITIONAL: Final = sorted(state.value for state in TRANSITIONAL)


def _definition(pipe: Pipe) -> str:
    return json.dumps(
        {
            "source": pipe.source,
            "source_parameters": pipe.source_parameters,
            "target": pipe.target,
            "target_parameters": pipe.target_parameters,
            "role_arn": pipe.role_arn,
            "description": pipe.description,
            "state_reason": pipe.state_reason,
            "tags": [list(t) for t in pipe.tags],
            "log_configuration": pipe.log_configuration,
            "enrichment": pipe.enrichment,
            "enrichment_parameters": pipe.enrichment_parameters,
        },
        sort_keys=True,
    )


def _pipe(row: Any) -> Pipe:
    fields = json.loads(row["definition"])
    return Pipe(
        tenant_id=row["tenant_id"],
        name=row["pipe_name"],
        region=row["region"],
        source=str(fields["source"]),
        source_parameters=dict(fields["source_parameters"]),
        target=str(fields["target"]),
        target_parameters=dict(fields["target_parameters"]),
        role_arn=str(fields["role_arn"]),
        desired_state=row["desired_state"],
        current_state=PipeState(row["current_state"]),
        state_reason=str(fields["state_reason"]),
        description=str(fields["description"]),
        tags=tuple((str(k), str(v)) for k, v in fields["tags"]),
        log_configuration=fields["log_configuration"],
        # Absent from the definitions written before decision 0268: none.
        enrichment=str(fields.get("enrichment", "")),
        enrichment_parameters=dict(fields.get("enrichment_parameters") or {}),
        created=int(row["created"]),
        updated=int(row["updated"]),
        revision=int(row["revision"]),
    )


def _columns(pipe: Pipe) -> dict[str, Any]:
    return {
        "region": pipe.region,
        "definition": _definition(pipe),
        "desired_state": pipe.desired_state,
        "current_state": pipe.current_state.value,
        "created": pipe.created,
        "updated": pipe.updated,
        "revision": pipe.revision,
    }


def _one(tenant_id: str, name: str) -> Any:
    return sa.and_(_P.c.tenant_id == tenant_id, _P.c.pipe_name == name)


class SqlPipeStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, pipe: Pipe, max_pipes: int) -> None:
        # A Region's pipes count, as AWS's quota (decision 0408): each row names its Region.
        count = (
            sa.select(sa.func.count())
            .select_from(_P)
            .where(_P.c.tenant_id == pipe.tenant_id, _P.c.region == pipe.region)
        )
        exists = sa.select(_P.c.revision).where(_one(pipe.tenant_id, pipe.name))

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is not None:
                raise PipeConflict(f"Pipe {pipe.name} already exists.", pipe.name)
            if int(conn.execute(count).scalar_one()) >= max_pipes:
                raise QuotaExceeded(f"You have reached the quota of {max_pipes} pipes.", pipe.name)
            conn.execute(
                sa.insert(_P).values(
                    tenant_id=pipe.tenant_id,
                    pipe_name=pipe.name,
                    **_columns(pipe),
                    reader_owner=None,
                    reader_until=0,
                    reader_since=0,
                    format_version=FORMAT_VERSION,
                )
            )

        await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> Pipe | None:
        query = sa.select(_P).where(_one(tenant_id, name))

        def work(conn: Connection) -> Pipe | None:
            row = conn.execute(query).mappings().first()
            return None if row is None else _pipe(row)

        return await self._db.read(work)

    async def pipes(self, tenant_id: str) -> list[Pipe]:
        query = sa.select(_P).where(_P.c.tenant_id == tenant_id).order_by(_P.c.pipe_name)

        def work(conn: Connection) -> list[Pipe]:
            return [_pipe(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def replace(self, pipe: Pipe) -> bool:
        statement = (
            sa.update(_P)
            .where(_one(pipe.tenant_id, pipe.name), _P.c.revision == pipe.revision - 1)
            .values(**_columns(pipe))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, name: str) -> bool:
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id, _C.c.pipe_name == name)
        pipe = sa.delete(_P).where(_one(tenant_id, name))

        def work(conn: Connection) -> bool:
            conn.execute(points)
            return bool(conn.execute(pipe).rowcount == 1)

        return await self._db.write(work)

    async def transitional(self, region: str, limit: int) -> list[Pipe]:
        query = (
            sa.select(_P)
            .where(_P.c.region == region, _P.c.current_state.in_(_TRANSITIONAL))
            .order_by(_P.c.updated)
            .limit(limit)
        )

        def work(conn: Connection) -> list[Pipe]:
            return [_pipe(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int, region: str
    ) -> list[Pipe]:
        free = sa.and_(
            _P.c.current_state == PipeState.RUNNING.value,
            _P.c.region == region,
            sa.or_(_P.c.reader_until <= now, _P.c.reader_owner == owner),
        )
        candidates = (
            sa.select(_P.c.tenant_id, _P.c.pipe_name)
            .where(free)
            # The least recently leased first: past ``limit`` pipes, each pass moves on.
            .order_by(_P.c.reader_since, _P.c.tenant_id, _P.c.pipe_name)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def any_free(conn: Connection) -> bool:
            return conn.execute(sa.select(_P.c.tenant_id).where(free).limit(1)).first() is not None

        def work(conn: Connection) -> list[Pipe]:
            claimed = []
            for tenant_id, name in conn.execute(candidates).all():
                taken = conn.execute(
                    sa.update(_P)
                    .where(_one(tenant_id, name), free)
                    .values(reader_owner=owner, reader_until=lease_until, reader_since=now)
                )
                if taken.rowcount != 1:
                    continue  # taken by another gateway between the read and the write
                row = conn.execute(sa.select(_P).where(_one(tenant_id, name))).mappings()
                claimed.append(_pipe(row.one()))
            return claimed

        if not await self._db.read(any_free):  # no pipe to read: no write lock
            return []
        return await self._db.write(work)

    async def checkpoints(self, tenant_id: str, name: str) -> dict[str, str]:
        query = sa.select(_C.c.shard, _C.c.sequence).where(
            _C.c.tenant_id == tenant_id, _C.c.pipe_name == name
        )

        def work(conn: Connection) -> dict[str, str]:
            return {str(shard): str(sequence) for shard, sequence in conn.execute(query).all()}

        return await self._db.read(work)

    async def save_checkpoint(
        self, tenant_id: str, name: str, owner: str, shard: str, sequence: str
    ) -> bool:
        held = (
            sa.select(_P.c.revision)
            .where(_one(tenant_id, name), _P.c.reader_owner == owner)
            .with_for_update()
        )
        where = sa.and_(_C.c.tenant_id == tenant_id, _C.c.pipe_name == name, _C.c.shard == shard)

        def work(conn: Connection) -> bool:
            if conn.execute(held).first() is None:
                return False
            moved = conn.execute(sa.update(_C).where(where).values(sequence=sequence))
            if moved.rowcount == 0:
                conn.execute(
                    sa.insert(_C).values(
                        tenant_id=tenant_id, pipe_name=name, shard=shard, sequence=sequence
                    )
                )
            return True

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id)
        pipes = sa.delete(_P).where(_P.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(points)
            return int(conn.execute(pipes).rowcount)

        return await self._db.write(work)
