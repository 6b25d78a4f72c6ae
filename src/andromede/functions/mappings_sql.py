"""Lambda's event source mappings over the metadata database (SQLite or PostgreSQL), the
``lambda_event_source_mappings`` table of migration 0136 (decision 0295). A change is an
``UPDATE … WHERE version = <read>``; a claim takes each mapping whose lease ran out (or is the
claimer's) by an ``UPDATE … WHERE lease_until = <read> AND lease_owner = <read>``, so of two
gateways claiming at once each mapping goes to one. A stream mapping's checkpoints
(``lambda_mapping_checkpoints``, migration 0140, decision 0301) are written only in a
transaction that still finds the mapping's lease the writer's, with the shard's open tumbling
window on the same row (``window_start``, ``window_state`` sealed; migration 0145, decision
0319), so a gateway taking the lease over continues the window."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.mappings import EventSourceMapping, ShardWindow

__all__ = ["SqlMappingStore"]

_M = tables.lambda_event_source_mappings
_C = tables.lambda_mapping_checkpoints
FORMAT_VERSION: Final = 1


def _mapping(row: Any) -> EventSourceMapping:
    return EventSourceMapping.from_definition(
        row["uuid"],
        row["tenant_id"],
        row["source_arn"],
        row["definition"],
        int(row["version"]),
        row["lease_owner"],
        int(row["lease_until"]),
    )


class SqlMappingStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, mapping: EventSourceMapping) -> None:
        insert = sa.insert(_M).values(
            uuid=mapping.uuid,
            tenant_id=mapping.tenant_id,
            source_arn=mapping.source_arn,
            definition=mapping.definition(),
            version=mapping.version,
            lease_owner=mapping.lease_owner,
            lease_until=mapping.lease_until,
            format_version=FORMAT_VERSION,
        )
        await self._db.write_statement(lambda conn: conn.execute(insert))

    async def get(self, tenant_id: str, uuid: str) -> EventSourceMapping | None:
        query = sa.select(_M).where(_M.c.tenant_id == tenant_id, _M.c.uuid == uuid)
        row = await self._db.read(lambda conn: conn.execute(query).mappings().first())
        return None if row is None else _mapping(row)

    async def mappings(self, tenant_id: str) -> list[EventSourceMapping]:
        query = sa.select(_M).where(_M.c.tenant_id == tenant_id).order_by(_M.c.uuid)
        rows = await self._db.read(lambda conn: conn.execute(query).mappings().all())
        return [_mapping(r) for r in rows]

    async def replace(self, mapping: EventSourceMapping) -> bool:
        update = (
            sa.update(_M)
            .where(_M.c.uuid == mapping.uuid, _M.c.version == mapping.version - 1)
            .values(definition=mapping.definition(), version=mapping.version)
        )
        return bool(await self._db.write(lambda conn: conn.execute(update).rowcount == 1))

    async def delete(self, tenant_id: str, uuid: str) -> bool:
        delete = sa.delete(_M).where(_M.c.tenant_id == tenant_id, _M.c.uuid == uuid)
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id, _C.c.uuid == uuid)

        def work(conn: Connection) -> bool:
            conn.execute(points)
            return bool(conn.execute(delete).rowcount == 1)

        return bool(await self._db.write(work))

    async def checkpoints(self, uuid: str) -> dict[str, str]:
        query = sa.select(_C.c.shard, _C.c.sequence).where(_C.c.uuid == uuid)
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return {str(shard): str(sequence) for shard, sequence in rows}

    async def windows(self, uuid: str) -> dict[str, ShardWindow]:
        query = sa.select(_C.c.shard, _C.c.window_start, _C.c.window_state).where(
            _C.c.uuid == uuid, _C.c.window_start.is_not(None)
        )
        rows = await self._db.read(lambda conn: conn.execute(query).all())
        return {
            str(shard): ShardWindow(int(start), bytes(state or b"")) for shard, start, state in rows
        }

    async def save_checkpoint(
        self, uuid: str, owner: str, shard: str, sequence: str, window: ShardWindow | None = None
    ) -> bool:
        held = (
            sa.select(_M.c.tenant_id)
            .where(_M.c.uuid == uuid, _M.c.lease_owner == owner)
            .with_for_update()
        )
        where = sa.and_(_C.c.uuid == uuid, _C.c.shard == shard)
        values: dict[str, Any] = {
            "sequence": sequence,
            "window_start": None if window is None else window.start,
            "window_state": None if window is None else window.sealed_state,
        }

        def work(conn: Connection) -> bool:
            tenant = conn.execute(held).scalar()
            if tenant is None:
                return False
            moved = conn.execute(sa.update(_C).where(where).values(**values))
            if moved.rowcount == 0:
                conn.execute(
                    sa.insert(_C).values(uuid=uuid, shard=shard, tenant_id=tenant, **values)
                )
            return True

        return bool(await self._db.write(work))

    async def claim(
        self, owner: str, now: int, lease_until: int, limit: int
    ) -> list[EventSourceMapping]:
        free = (
            sa.select(_M)
            .where(sa.or_(_M.c.lease_until <= now, _M.c.lease_owner == owner))
            .order_by(_M.c.uuid)
            .limit(limit)
        )

        def work(conn: Connection) -> list[EventSourceMapping]:
            claimed = []
            for row in conn.execute(free).mappings().all():
                update = (
                    sa.update(_M)
                    .where(
                        _M.c.uuid == row["uuid"],
                        _M.c.lease_until == row["lease_until"],
                        _M.c.lease_owner == row["lease_owner"],
                    )
                    .values(lease_owner=owner, lease_until=lease_until)
                )
                if conn.execute(update).rowcount == 1:
                    taken = dict(row) | {"lease_owner": owner, "lease_until": lease_until}
                    claimed.append(_mapping(taken))
            return claimed

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(_M).where(_M.c.tenant_id == tenant_id)
        points = sa.delete(_C).where(_C.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            conn.execute(points)
            return int(conn.execute(delete).rowcount)

        return int(await self._db.write(work))
