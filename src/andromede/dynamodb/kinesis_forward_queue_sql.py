"""The forwarding queue of Kinesis streaming destinations over the metadata database, the
tables of migration 0126 (decision 0262): :func:`queue_forwards`, which the item writes call
inside their own database transaction (through ``append_changes``), and the
:class:`~andromede.dynamodb.kinesis_forward_queue.ForwardQueue` half of ``SqlDynamoStore``.

A queued change takes its number from the table's autoincrement when inserted, after its item
row was written: a later change of the same item waits for that row's lock, so it is numbered
above and committed after. Changes of different items may commit out of their numbers'
order on PostgreSQL, hence removal by number, never below a bound."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import DYNAMODB_KINESIS, queued
from andromede.dynamodb.kinesis_destinations import KinesisDestination
from andromede.dynamodb.kinesis_forward_queue import QueuedChange, queued_form
from andromede.dynamodb.streams import ChangeRecord

__all__ = ["SqlForwardQueue", "drop_forwards", "forget_forwards", "queue_forwards"]

_T = tables.dynamodb_tables
_Q = tables.dynamodb_kinesis_queue
_L = tables.dynamodb_kinesis_leases
FORMAT_VERSION: Final = 1


def _forwarding(conn: Connection, tenant_id: str, name: str) -> bool:
    row = conn.execute(
        sa.select(_T.c.definition).where(_T.c.tenant_id == tenant_id, _T.c.table_name == name)
    ).first()
    if row is None:
        return False
    held = json.loads(row[0]).get("kinesis", ())
    return any(KinesisDestination.from_stored(d).status.capturing for d in held)


def queue_forwards(
    conn: Connection, tenant_id: str, changes: Sequence[tuple[str, ChangeRecord]]
) -> None:
    """Each change of a table with a capturing destination queued. Only a write that read
    the table forwarding (``forwarded``) or a time-to-live deletion looks the table up."""
    looked: dict[str, bool] = {}
    rows = []
    for name, record in changes:
        if not record.forwarded:
            if not record.by_service:
                continue
            if name not in looked:
                looked[name] = _forwarding(conn, tenant_id, name)
            if not looked[name]:
                continue
        kept = queued_form(record)
        rows.append(
            {
                "tenant_id": tenant_id,
                "table_name": name,
                "created": record.created,
                "event": record.event,
                "hash_token": record.hash_token,
                "sort_token": record.sort_token,
                "old_sealed": kept.forward_old,
                "old_size": kept.forward_old_size,
                "new_sealed": kept.version,
                "new_size": kept.version_size,
                "by_service": record.by_service,
                "format_version": FORMAT_VERSION,
            }
        )
    if rows:
        conn.execute(sa.insert(_Q), rows)
        queued(conn, DYNAMODB_KINESIS)  # the forwarder's bell rings once committed (0326)


def drop_forwards(conn: Connection, tenant_id: str, table_name: str) -> None:
    """A deleted table's queue and lease removed with it, in its transaction: a table made
    again under the name never receives its predecessor's changes."""
    conn.execute(sa.delete(_Q).where(_of(tenant_id, table_name, _Q)))
    conn.execute(sa.delete(_L).where(_of(tenant_id, table_name, _L)))


def forget_forwards(conn: Connection, tenant_id: str) -> None:
    conn.execute(sa.delete(_Q).where(_Q.c.tenant_id == tenant_id))
    conn.execute(sa.delete(_L).where(_L.c.tenant_id == tenant_id))


def _queued(m: Any) -> QueuedChange:
    return QueuedChange(
        int(m["id"]),
        ChangeRecord(
            event=str(m["event"]),
            hash_token=bytes(m["hash_token"]),
            sort_token=bytes(m["sort_token"]),
            old_sealed=None,
            new_sealed=None,
            size=0,
            created=int(m["created"]),
            by_service=bool(m["by_service"]),
            version=None if m["new_sealed"] is None else bytes(m["new_sealed"]),
            version_size=int(m["new_size"]),
            forwarded=True,
            forward_old=None if m["old_sealed"] is None else bytes(m["old_sealed"]),
            forward_old_size=int(m["old_size"]),
        ),
    )


def _of(tenant_id: str, table_name: str, t: sa.Table) -> Any:
    return sa.and_(t.c.tenant_id == tenant_id, t.c.table_name == table_name)


class SqlForwardQueue:
    _db: Database

    async def queued_tables(self, limit: int) -> list[tuple[str, str]]:
        query = sa.select(_Q.c.tenant_id, _Q.c.table_name).distinct().limit(limit)
        return await self._db.read(
            lambda conn: [(str(t), str(n)) for t, n in conn.execute(query).all()]
        )

    async def take_lease(
        self, tenant_id: str, table_name: str, owner: str, now: int, until: int
    ) -> bool:
        def work(conn: Connection) -> bool:
            taken = conn.execute(
                sa.update(_L)
                .where(
                    _of(tenant_id, table_name, _L),
                    sa.or_(_L.c.owner == owner, _L.c.lease_until <= now),
                )
                .values(owner=owner, lease_until=until)
            ).rowcount
            if taken:
                return True
            held = conn.execute(sa.select(_L.c.owner).where(_of(tenant_id, table_name, _L)))
            if held.first() is not None:
                return False
            conn.execute(
                sa.insert(_L).values(
                    tenant_id=tenant_id, table_name=table_name, owner=owner, lease_until=until
                )
            )
            return True

        try:
            return await self._db.write(work)
        except sa.exc.IntegrityError:  # another gateway inserted the lease first
            return False

    async def queued(self, tenant_id: str, table_name: str, limit: int) -> list[QueuedChange]:
        query = sa.select(_Q).where(_of(tenant_id, table_name, _Q)).order_by(_Q.c.id).limit(limit)
        return await self._db.read(
            lambda conn: [_queued(m) for m in conn.execute(query).mappings()]
        )

    async def dequeue(self, tenant_id: str, table_name: str, numbers: Sequence[int]) -> None:
        statement = sa.delete(_Q).where(_of(tenant_id, table_name, _Q), _Q.c.id.in_(list(numbers)))
        await self._db.write(lambda conn: conn.execute(statement))

    async def drop_queue(self, tenant_id: str, table_name: str) -> None:
        await self._db.write(lambda conn: drop_forwards(conn, tenant_id, table_name))
