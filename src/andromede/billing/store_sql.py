"""The billing store over the metadata database (SQLite or PostgreSQL), tables of migration 0042.

Usage rows are only ever added to, with ``INSERT … ON CONFLICT DO UPDATE SET quantity =
quantity + excluded.quantity``: two gateways flushing the same tenant's hour add up, neither
overwrites the other. Rows are written in key order, so two flushes never wait on each
other's rows crosswise (no deadlock). A sampler's watermark row is locked (``FOR UPDATE``)
while its interval's usage is written in the same transaction, and so is an open run while it
is billed: an interval is billed once, by whichever gateway gets there first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from andromede.billing.model import (
    Price,
    Run,
    UsageIncrement,
    UsageTotal,
    ended_before,
    run_increments,
)
from andromede.billing.store import Increments
from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict, Upsert

__all__ = ["SqlBillingStore"]

_U = tables.billing_usage
_S = tables.billing_samplers
_R = tables.billing_runs
_P = tables.billing_prices
_V = tables.billing_vat_rates
_NEW_WATERMARK = InsertIgnoringConflict(_S, ["name"])
_SET_PRICE = Upsert(_P, ["region", "meter"])
_SET_VAT = Upsert(_V, ["region"])
_NEW_RUN = InsertIgnoringConflict(_R, ["resource_id"])


def _increment_statements() -> dict[str, sa.Insert]:
    keys = [_U.c.tenant_id, _U.c.hour, _U.c.region, _U.c.meter]
    made: dict[str, sa.Insert] = {}
    for name, insert in (("sqlite", sqlite.insert(_U)), ("postgresql", postgresql.insert(_U))):
        made[name] = insert.on_conflict_do_update(
            index_elements=keys, set_={"quantity": _U.c.quantity + insert.excluded.quantity}
        )
    return made


_INCREMENT = _increment_statements()


def _add(conn: Connection, increments: Sequence[UsageIncrement]) -> None:
    summed: dict[tuple[str, datetime, str, str], int] = {}
    for i in increments:
        key = (i.tenant_id, i.hour, i.region, i.meter)
        summed[key] = summed.get(key, 0) + i.quantity
    rows = [
        {"tenant_id": t, "hour": h, "region": r, "meter": m, "quantity": q}
        for (t, h, r, m), q in sorted(summed.items())
        if q
    ]
    if rows:
        conn.execute(_INCREMENT[conn.dialect.name], rows)


def _run(row: Any) -> Run:
    return Run(
        resource_id=row.resource_id,
        tenant_id=row.tenant_id,
        region=row.region,
        meter=row.meter,
        started_at=row.started_at,
        billed_until=row.billed_until,
    )


def _end_run(conn: Connection, resource_id: str, ended_at: datetime) -> bool:
    query = sa.select(_R).where(_R.c.resource_id == resource_id).with_for_update()
    row = conn.execute(query).first()
    if row is None:
        return False
    _add(conn, run_increments(_run(row), ended_at, ended=True))
    conn.execute(_R.delete().where(_R.c.resource_id == resource_id))
    return True


class SqlBillingStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_usage(self, increments: Sequence[UsageIncrement]) -> None:
        if increments:
            await self._db.write(lambda conn: _add(conn, increments))

    async def advance_sampler(self, name: str, now: datetime, increments: Increments) -> bool:
        def work(conn: Connection) -> bool:
            if _NEW_WATERMARK(conn, {"name": name, "sampled_at": now}):
                return True  # the first sample: it starts the clock
            lock = sa.select(_S.c.sampled_at).where(_S.c.name == name).with_for_update()
            previous: datetime = conn.execute(lock).scalar_one()
            if previous >= now:
                return False
            _add(conn, increments(previous, now))
            conn.execute(_S.update().where(_S.c.name == name).values(sampled_at=now))
            return True

        return await self._db.write(work)

    async def start_run(self, run: Run, *, previous_stop: datetime | None = None) -> None:
        values = {
            "resource_id": run.resource_id,
            "tenant_id": run.tenant_id,
            "region": run.region,
            "meter": run.meter,
            "started_at": run.started_at,
            "billed_until": run.billed_until,
        }

        def work(conn: Connection) -> None:
            if previous_stop is not None:
                lock = sa.select(_R).where(_R.c.resource_id == run.resource_id).with_for_update()
                row = conn.execute(lock).first()
                if row is not None and ended_before(_run(row), previous_stop):
                    _end_run(conn, run.resource_id, previous_stop)
            _NEW_RUN(conn, values)

        await self._db.write(work)

    async def end_run(self, resource_id: str, ended_at: datetime) -> bool:
        return await self._db.write(lambda conn: _end_run(conn, resource_id, ended_at))

    async def bill_runs(self, now: datetime) -> None:
        def work(conn: Connection) -> None:
            query = (
                sa.select(_R)
                .where(_R.c.billed_until < now)
                .order_by(_R.c.resource_id)
                .with_for_update()
            )
            runs = [_run(row) for row in conn.execute(query)]
            _add(conn, [i for run in runs for i in run_increments(run, now, ended=False)])
            ids = [run.resource_id for run in runs]
            if ids:
                conn.execute(_R.update().where(_R.c.resource_id.in_(ids)).values(billed_until=now))

        await self._db.write(work)

    async def open_runs(self) -> list[Run]:
        query = sa.select(_R).order_by(_R.c.resource_id)
        return await self._db.read(lambda conn: [_run(row) for row in conn.execute(query)])

    async def usage(self, tenant_id: str, start: datetime, end: datetime) -> list[UsageTotal]:
        query = (
            sa.select(_U.c.region, _U.c.meter, sa.func.sum(_U.c.quantity))
            .where(_U.c.tenant_id == tenant_id, _U.c.hour >= start, _U.c.hour < end)
            .group_by(_U.c.region, _U.c.meter)
            .order_by(_U.c.region, _U.c.meter)
        )

        def work(conn: Connection) -> list[UsageTotal]:
            return [UsageTotal(r, m, int(q)) for r, m, q in conn.execute(query)]

        return await self._db.read(work)

    async def usage_by_hour(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[UsageIncrement]:
        query = (
            sa.select(_U)
            .where(_U.c.tenant_id == tenant_id, _U.c.hour >= start, _U.c.hour < end)
            .order_by(_U.c.hour, _U.c.region, _U.c.meter)
        )

        def work(conn: Connection) -> list[UsageIncrement]:
            return [
                UsageIncrement(r.tenant_id, r.region, r.meter, r.hour, int(r.quantity))
                for r in conn.execute(query)
            ]

        return await self._db.read(work)

    async def set_price(self, price: Price) -> None:
        values = {
            "region": price.region,
            "meter": price.meter,
            "unit_price": str(price.unit_price),
            "updated_at": datetime.now(UTC),
        }
        await self._db.write(lambda conn: _SET_PRICE(conn, values))

    async def delete_price(self, region: str, meter: str) -> bool:
        statement = _P.delete().where(_P.c.region == region, _P.c.meter == meter)
        deleted = await self._db.write(lambda conn: conn.execute(statement).rowcount)
        return bool(deleted)

    async def prices(self) -> list[Price]:
        query = sa.select(_P.c.region, _P.c.meter, _P.c.unit_price).order_by(
            _P.c.region, _P.c.meter
        )

        def work(conn: Connection) -> list[Price]:
            return [Price(r, m, Decimal(p)) for r, m, p in conn.execute(query)]

        return await self._db.read(work)

    async def set_vat_rate(self, region: str, rate: Decimal) -> None:
        values = {"region": region, "rate": str(rate), "updated_at": datetime.now(UTC)}
        await self._db.write(lambda conn: _SET_VAT(conn, values))

    async def vat_rates(self) -> dict[str, Decimal]:
        query = sa.select(_V.c.region, _V.c.rate).order_by(_V.c.region)

        def work(conn: Connection) -> dict[str, Decimal]:
            return {r: Decimal(rate) for r, rate in conn.execute(query)}

        return await self._db.read(work)
