"""Which gateway does a periodic job of the platform's metrics (decision 0181): one row per
job in ``metric_runs``, its period number ("slot") last done and the one claimed, with its
claimer and until when the claim holds.

A gateway claims a slot in one transaction, the job's row read ``FOR UPDATE`` (on
PostgreSQL two gateways claiming at once wait on the row, and the second finds the slot
claimed; SQLite has one writer): the slot must not be done, and not claimed by another whose
lease still runs. A claimer that dies leaves the slot to the next once its lease runs out; one
that finishes marks it done, so no later claim does it again.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database

__all__ = ["SqlMetricRuns"]

_R = tables.metric_runs


class SqlMetricRuns:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, name: str, slot: int, holder: str, now: int, lease: int) -> bool:
        """Whether ``holder`` now holds ``slot`` of job ``name`` until ``now + lease``."""

        def work(conn: Connection) -> bool:
            row = conn.execute(sa.select(_R).where(_R.c.name == name).with_for_update()).first()
            values = {"claimed_slot": slot, "holder": holder, "lease_until": now + lease}
            if row is None:
                conn.execute(_R.insert().values(name=name, done_slot=-1, **values))
                return True
            m = row._mapping
            if m["done_slot"] >= slot:
                return False
            if m["claimed_slot"] == slot and m["holder"] != holder and m["lease_until"] > now:
                return False
            conn.execute(_R.update().where(_R.c.name == name).values(**values))
            return True

        try:
            return await self._db.write(work)
        except IntegrityError:
            return False  # another gateway inserted the job's first row meanwhile: its claim

    async def done(self, name: str, slot: int, holder: str) -> None:
        """Mark ``slot`` done, if ``holder`` still holds it (a claim taken over after a
        lease ran out belongs to its new holder)."""

        def work(conn: Connection) -> None:
            conn.execute(
                _R.update()
                .where(_R.c.name == name, _R.c.claimed_slot == slot, _R.c.holder == holder)
                .values(done_slot=sa.case((_R.c.done_slot < slot, slot), else_=_R.c.done_slot))
            )

        await self._db.write(work)

    async def last_done(self, name: str) -> int | None:
        """The last slot of job ``name`` done; None before its first (decision 0233: the
        metric streams' minutes run in order from there)."""
        query = sa.select(_R.c.done_slot).where(_R.c.name == name)

        def work(conn: Connection) -> int | None:
            row = conn.execute(query).first()
            return None if row is None or row[0] < 0 else int(row[0])

        return await self._db.read(work)
