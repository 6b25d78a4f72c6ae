"""The alarm store over the metadata database (SQLite or PostgreSQL), tables of migration 0082
(decision 0177). Every change is one conditional ``UPDATE … WHERE revision = :read``: an
evaluator's claim of a period, its state change, SetAlarmState and the actions' switch each
win or lose whole, on either engine, without holding a lock across the evaluation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.metrics.alarms import FORMAT_VERSION, Alarm, HistoryItem
from andromede.metrics.model import dimensions_hash

__all__ = ["SqlAlarmStore"]

_A = tables.metric_alarms
_H = tables.metric_alarm_history


def _row(alarm: Alarm) -> dict[str, Any]:
    return {
        "namespace": alarm.namespace,
        "metric_name": alarm.metric_name,
        "dimensions_hash": dimensions_hash(alarm.dimensions),
        "state": alarm.state.value,
        "next_evaluation": alarm.next_evaluation,
        "document": alarm.document(),
        "format_version": FORMAT_VERSION,
    }


def _alarm(m: Any) -> Alarm:
    return Alarm.from_document(
        m["tenant_id"],
        m["alarm_name"],
        m["document"],
        int(m["next_evaluation"]),
        int(m["revision"]),
    )


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


class SqlAlarmStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, alarm: Alarm) -> None:
        key = (_A.c.tenant_id == alarm.tenant_id, _A.c.alarm_name == alarm.name)

        def work(conn: Connection) -> None:
            held = conn.execute(sa.select(_A.c.revision).where(*key).with_for_update()).first()
            if held is None:
                conn.execute(
                    sa.insert(_A).values(
                        tenant_id=alarm.tenant_id, alarm_name=alarm.name, revision=0, **_row(alarm)
                    )
                )
            else:
                conn.execute(
                    sa.update(_A).where(*key).values(revision=int(held[0]) + 1, **_row(alarm))
                )

        await self._db.write(work)

    async def change(self, alarm: Alarm) -> bool:
        statement = (
            sa.update(_A)
            .where(
                _A.c.tenant_id == alarm.tenant_id,
                _A.c.alarm_name == alarm.name,
                _A.c.revision == alarm.revision,
            )
            .values(revision=alarm.revision + 1, **_row(alarm))
        )

        def work(conn: Connection) -> bool:
            return conn.execute(statement).rowcount == 1

        return await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> Alarm | None:
        query = sa.select(_A).where(_A.c.tenant_id == tenant_id, _A.c.alarm_name == name)

        def work(conn: Connection) -> Alarm | None:
            row = conn.execute(query).first()
            return None if row is None else _alarm(row._mapping)

        return await self._db.read(work)

    async def alarms(self, tenant_id: str) -> list[Alarm]:
        query = sa.select(_A).where(_A.c.tenant_id == tenant_id).order_by(_A.c.alarm_name)

        def work(conn: Connection) -> list[Alarm]:
            return [_alarm(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, names: Sequence[str]) -> list[str]:
        wanted = list(dict.fromkeys(names))

        def work(conn: Connection) -> list[str]:
            held = [
                r[0]
                for r in conn.execute(
                    sa.select(_A.c.alarm_name).where(
                        _A.c.tenant_id == tenant_id, _A.c.alarm_name.in_(wanted)
                    )
                ).all()
            ]
            if held:
                conn.execute(
                    sa.delete(_A).where(_A.c.tenant_id == tenant_id, _A.c.alarm_name.in_(held))
                )
                conn.execute(
                    sa.delete(_H).where(_H.c.tenant_id == tenant_id, _H.c.alarm_name.in_(held))
                )
            return [n for n in wanted if n in held]

        return await self._db.write(work)

    async def due(self, now: int, limit: int) -> list[Alarm]:
        query = (
            sa.select(_A)
            .where(_A.c.next_evaluation <= now)
            .order_by(_A.c.next_evaluation, _A.c.tenant_id, _A.c.alarm_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[Alarm]:
            return [_alarm(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def claim(self, alarm: Alarm, next_evaluation: int) -> bool:
        statement = (
            sa.update(_A)
            .where(
                _A.c.tenant_id == alarm.tenant_id,
                _A.c.alarm_name == alarm.name,
                _A.c.revision == alarm.revision,
            )
            .values(revision=alarm.revision + 1, next_evaluation=next_evaluation)
        )

        def work(conn: Connection) -> bool:
            return conn.execute(statement).rowcount == 1

        return await self._db.write(work)

    async def add_history(self, item: HistoryItem) -> None:
        statement = sa.insert(_H).values(
            tenant_id=item.tenant_id,
            alarm_name=item.alarm_name,
            at=_micros(item.timestamp),
            item_id=uuid.uuid4().hex,
            item_type=item.item_type,
            summary=item.summary,
            data=item.data,
        )

        def work(conn: Connection) -> None:
            conn.execute(statement)

        await self._db.write(work)

    async def history(self, tenant_id: str, name: str | None) -> list[HistoryItem]:
        query = sa.select(_H).where(_H.c.tenant_id == tenant_id)
        if name is not None:
            query = query.where(_H.c.alarm_name == name)
        query = query.order_by(_H.c.at.desc(), _H.c.item_id)

        def work(conn: Connection) -> list[HistoryItem]:
            return [
                HistoryItem(
                    m["tenant_id"],
                    m["alarm_name"],
                    datetime.fromtimestamp(int(m["at"]) / 1_000_000, UTC),
                    m["item_type"],
                    m["summary"],
                    m["data"],
                )
                for m in (r._mapping for r in conn.execute(query).all())
            ]

        return await self._db.read(work)

    async def forget_history(self, before: datetime, limit: int) -> int:
        cutoff = _micros(before)

        def work(conn: Connection) -> int:
            keys = conn.execute(
                sa.select(_H.c.tenant_id, _H.c.alarm_name, _H.c.at, _H.c.item_id)
                .where(_H.c.at < cutoff)
                .order_by(_H.c.at)
                .limit(limit)
            ).all()
            for key in keys:
                conn.execute(
                    sa.delete(_H).where(
                        _H.c.tenant_id == key[0],
                        _H.c.alarm_name == key[1],
                        _H.c.at == key[2],
                        _H.c.item_id == key[3],
                    )
                )
            return len(keys)

        return await self._db.write(work)
