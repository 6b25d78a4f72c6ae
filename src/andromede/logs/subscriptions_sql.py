"""CloudWatch Logs subscription filters and their outbox over the metadata database (SQLite
or PostgreSQL), the tables of migration 0107 (decision 0225; the outbox's ``partition_key``
of a Kinesis destination, migration 0114). A group's two filters are counted before the
insert, in the same transaction; the outbox's records are claimed by a
guarded ``UPDATE … WHERE lease_until < now`` (candidates read ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL), and every later write names the lease owner, so a gateway that stalled past
its lease never removes or reschedules a record another took over. The account's waiting
bytes are summed before the insert: two gateways enqueueing at the same instant may pass
the bound by one batch, which the decision accepts (a bound on memory, not a quota)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.doorbells import LOGS_SUBSCRIPTIONS, queued
from andromede.logs.errors import LimitExceeded
from andromede.logs.subscriptions import OutboxEntry, SubscriptionFilter

__all__ = ["SqlSubscriptionStore"]

_F = tables.log_subscription_filters
_O = tables.log_subscription_outbox
FORMAT_VERSION: Final = 1


def _filter(m: Any) -> SubscriptionFilter:
    return SubscriptionFilter(
        m["tenant_id"],
        m["group_name"],
        m["filter_name"],
        m["pattern"],
        m["destination_arn"],
        m["role_arn"],
        m["distribution"],
        int(m["created"]),
    )


def _entry(m: Any) -> OutboxEntry:
    return OutboxEntry(
        m["entry_id"],
        m["tenant_id"],
        m["group_name"],
        m["filter_name"],
        m["destination_arn"],
        m["role_arn"],
        int(m["arrived"]),
        int(m["size"]),
        bytes(m["sealed"]),
        int(m["events"]),
        int(m["attempts"]),
        int(m["next_attempt"]),
        m["lease_owner"],
        int(m["lease_until"]),
        m["partition_key"] or "",
    )


class SqlSubscriptionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put_filter(self, found: SubscriptionFilter, max_filters: int) -> None:
        mine = sa.and_(_F.c.tenant_id == found.tenant_id, _F.c.group_name == found.group)
        values = {
            "pattern": found.pattern,
            "destination_arn": found.destination_arn,
            "role_arn": found.role_arn,
            "distribution": found.distribution,
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            updated = conn.execute(
                sa.update(_F).where(mine, _F.c.filter_name == found.name).values(**values)
            )
            if updated.rowcount == 1:
                return  # replaced: it keeps its creation time, as AWS's
            held = conn.execute(sa.select(sa.func.count()).select_from(_F).where(mine)).scalar()
            if int(held or 0) >= max_filters:
                raise LimitExceeded("Resource limit exceeded.")
            conn.execute(
                sa.insert(_F).values(
                    tenant_id=found.tenant_id,
                    group_name=found.group,
                    filter_name=found.name,
                    created=found.created,
                    **values,
                )
            )

        await self._db.write(work)

    async def list_filters(
        self, tenant_id: str, group: str, prefix: str, after: str, limit: int
    ) -> list[SubscriptionFilter]:
        query = sa.select(_F).where(
            _F.c.tenant_id == tenant_id, _F.c.group_name == group, _F.c.filter_name > after
        )
        if prefix:
            query = query.where(_F.c.filter_name.startswith(prefix, autoescape=True))
        query = query.order_by(_F.c.filter_name).limit(limit)

        def work(conn: Connection) -> list[SubscriptionFilter]:
            return [_filter(m) for m in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def delete_filter(self, tenant_id: str, group: str, name: str) -> bool:
        statement = sa.delete(_F).where(
            _F.c.tenant_id == tenant_id, _F.c.group_name == group, _F.c.filter_name == name
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete_group(self, tenant_id: str, group: str) -> int:
        filters = sa.delete(_F).where(_F.c.tenant_id == tenant_id, _F.c.group_name == group)
        outbox = sa.delete(_O).where(_O.c.tenant_id == tenant_id, _O.c.group_name == group)

        def work(conn: Connection) -> int:
            count = int(conn.execute(filters).rowcount)
            conn.execute(outbox)
            return count

        return await self._db.write(work)

    async def enqueue(self, entries: Sequence[OutboxEntry], max_bytes: int) -> bool:
        if not entries:
            return True
        rows = [
            {
                "entry_id": e.entry_id,
                "tenant_id": e.tenant_id,
                "group_name": e.group,
                "filter_name": e.filter_name,
                "destination_arn": e.destination_arn,
                "role_arn": e.role_arn,
                "arrived": e.arrived,
                "size": e.size,
                "sealed": e.sealed,
                "events": e.events,
                "attempts": e.attempts,
                "next_attempt": e.next_attempt,
                "lease_owner": e.lease_owner,
                "lease_until": e.lease_until,
                "partition_key": e.partition_key or None,
                "format_version": FORMAT_VERSION,
            }
            for e in entries
        ]
        adding: dict[str, int] = {}
        for entry in entries:
            adding[entry.tenant_id] = adding.get(entry.tenant_id, 0) + entry.size

        def work(conn: Connection) -> bool:
            for tenant_id, size in adding.items():
                held = conn.execute(
                    sa.select(sa.func.coalesce(sa.func.sum(_O.c.size), 0)).where(
                        _O.c.tenant_id == tenant_id
                    )
                ).scalar()
                if int(held or 0) + size > max_bytes:
                    return False
            conn.execute(sa.insert(_O), rows)
            queued(conn, LOGS_SUBSCRIPTIONS)  # the deliverer's bell, once committed (0326)
            return True

        return await self._db.write(work)

    async def claim(self, owner: str, now: int, lease_until: int, limit: int) -> list[OutboxEntry]:
        due = sa.and_(_O.c.next_attempt <= now, _O.c.lease_until < now)
        candidates = (
            sa.select(_O.c.entry_id)
            .where(due)
            .order_by(_O.c.next_attempt, _O.c.arrived, _O.c.entry_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        # An idle pass reads and takes no write lock.
        probe = sa.select(_O.c.entry_id).where(due).limit(1)

        def idle(conn: Connection) -> bool:
            return conn.execute(probe).first() is None

        if await self._db.read(idle):
            return []

        def work(conn: Connection) -> list[OutboxEntry]:
            ids = [row[0] for row in conn.execute(candidates)]
            if not ids:
                return []
            conn.execute(
                sa.update(_O)
                .where(_O.c.entry_id.in_(ids), due)
                .values(lease_owner=owner, lease_until=lease_until)
            )
            taken = (
                sa.select(_O)
                .where(_O.c.entry_id.in_(ids), _O.c.lease_owner == owner)
                .where(_O.c.lease_until == lease_until)
                .order_by(_O.c.next_attempt, _O.c.arrived, _O.c.entry_id)
            )
            return [_entry(m) for m in conn.execute(taken).mappings()]

        return await self._db.write(work)

    async def remove(self, entry_id: str, owner: str) -> bool:
        statement = sa.delete(_O).where(_O.c.entry_id == entry_id, _O.c.lease_owner == owner)

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def retry(self, entry_id: str, owner: str, next_attempt: int) -> bool:
        statement = (
            sa.update(_O)
            .where(_O.c.entry_id == entry_id, _O.c.lease_owner == owner)
            .values(
                attempts=_O.c.attempts + 1,
                next_attempt=next_attempt,
                lease_owner=None,
                lease_until=0,
            )
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        filters = sa.delete(_F).where(_F.c.tenant_id == tenant_id)
        outbox = sa.delete(_O).where(_O.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            count = int(conn.execute(filters).rowcount)
            conn.execute(outbox)
            return count

        return await self._db.write(work)
