"""The metrics store over the metadata database (SQLite or PostgreSQL), tables of migration
0080 (decision 0172).

A write merges each point into its period's row in one transaction: the rows of the batch
are read ``FOR UPDATE`` (in key order, so that two gateways writing the same periods wait
for each other rather than deadlock), merged in Python — the histogram is JSON, which no SQL
adds — and updated; a period not there yet is inserted ``ON CONFLICT DO NOTHING``, and one
that another gateway inserted meanwhile is read again, locked, and merged into. SQLite runs
one write transaction at a time, so there the first read already sees everything.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.db.statements import InsertIgnoringConflict, Upsert
from andromede.metrics.model import Aggregate, Series
from andromede.metrics.store import Point, StoredSeries

__all__ = ["FORMAT_VERSION", "SqlMetricStore"]

FORMAT_VERSION: Final = 1

_S = tables.metric_series
_D = tables.metric_datapoints
_KEY: Final = (
    "tenant_id",
    "namespace",
    "metric_name",
    "dimensions_hash",
    "resolution",
    "period_start",
    "unit",
)
_KeyTuple = tuple[str, str, str, str, int, int, str]
_insert_point = InsertIgnoringConflict(_D, _KEY)
_upsert_series = Upsert(
    _S, ("tenant_id", "namespace", "metric_name", "dimensions_hash"), ("last_put",)
)
# Rows looked up in one statement (SQLite allows 32,766 bound parameters; 7 a row).
_CHUNK: Final = 500


def _key(point: Point) -> _KeyTuple:
    s = point.series
    return (
        s.tenant_id,
        s.namespace,
        s.name,
        s.dimensions_hash,
        point.resolution,
        point.start,
        point.unit,
    )


def _aggregate(m: Any) -> Aggregate:
    return Aggregate(
        float(m["sample_count"]),
        float(m["sum"]),
        float(m["minimum"]),
        float(m["maximum"]),
        Aggregate.histogram_of(m["histogram"]),
    )


def _values(aggregate: Aggregate) -> dict[str, Any]:
    return {
        "sample_count": aggregate.count,
        "sum": aggregate.total,
        "minimum": aggregate.minimum,
        "maximum": aggregate.maximum,
        "histogram": aggregate.histogram_text(),
    }


def _held(conn: Connection, keys: Sequence[_KeyTuple]) -> dict[_KeyTuple, Aggregate]:
    held: dict[_KeyTuple, Aggregate] = {}
    columns = [_D.c[name] for name in _KEY]
    for at in range(0, len(keys), _CHUNK):
        chunk = keys[at : at + _CHUNK]
        query = (
            sa.select(_D).where(sa.tuple_(*columns).in_(chunk)).order_by(*columns).with_for_update()
        )
        for row in conn.execute(query).all():
            m = row._mapping
            held[tuple(m[name] for name in _KEY)] = _aggregate(m)
    return held


def _where(key: _KeyTuple) -> list[sa.ColumnElement[bool]]:
    return [_D.c[name] == value for name, value in zip(_KEY, key, strict=True)]


def _merge_into(conn: Connection, merged: dict[_KeyTuple, Aggregate]) -> None:
    """Each period's aggregate merged into its row, the row created when there is none."""
    keys = sorted(merged)
    held = _held(conn, keys)
    for key in keys:
        aggregate = merged[key]
        if key in held:
            conn.execute(
                _D.update().where(*_where(key)).values(**_values(held[key].merged(aggregate)))
            )
        elif not _insert_point(conn, {**dict(zip(_KEY, key, strict=True)), **_values(aggregate)}):
            # Inserted by another gateway since the read: read it again, locked, and merge.
            again = _held(conn, [key])[key]
            conn.execute(_D.update().where(*_where(key)).values(**_values(again.merged(aggregate))))


def _series(m: Any) -> Series:
    pairs = json.loads(m["dimensions"])
    return Series(m["tenant_id"], m["namespace"], m["metric_name"], tuple((n, v) for n, v in pairs))


class SqlMetricStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, points: Sequence[Point], now: int) -> None:
        merged: dict[_KeyTuple, Aggregate] = {}
        series: dict[tuple[str, str, str, str], Series] = {}
        for point in points:
            key = _key(point)
            held = merged.get(key)
            merged[key] = point.aggregate if held is None else held.merged(point.aggregate)
            s = point.series
            series[(s.tenant_id, s.namespace, s.name, s.dimensions_hash)] = s

        def work(conn: Connection) -> None:
            _merge_into(conn, merged)
            for (tenant_id, namespace, name, digest), s in sorted(series.items()):
                _upsert_series(
                    conn,
                    {
                        "tenant_id": tenant_id,
                        "namespace": namespace,
                        "metric_name": name,
                        "dimensions_hash": digest,
                        "dimensions": json.dumps(
                            [list(pair) for pair in s.dimensions], ensure_ascii=False
                        ),
                        "format_version": FORMAT_VERSION,
                        "last_put": now,
                    },
                )

        await self._db.write(work)

    async def read(
        self, series: Series, resolutions: Sequence[int], start: int, end: int
    ) -> list[Point]:
        query = (
            sa.select(_D)
            .where(
                _D.c.tenant_id == series.tenant_id,
                _D.c.namespace == series.namespace,
                _D.c.metric_name == series.name,
                _D.c.dimensions_hash == series.dimensions_hash,
                _D.c.resolution.in_(list(resolutions)),
                _D.c.period_start >= start,
                _D.c.period_start < end,
            )
            .order_by(_D.c.period_start, _D.c.resolution, _D.c.unit)
        )

        def work(conn: Connection) -> list[Point]:
            return [
                Point(
                    series,
                    int(r._mapping["resolution"]),
                    int(r._mapping["period_start"]),
                    r._mapping["unit"],
                    _aggregate(r._mapping),
                )
                for r in conn.execute(query).all()
            ]

        return await self._db.read(work)

    async def list_series(
        self,
        tenant_id: str,
        namespace: str | None,
        name: str | None,
        after: tuple[str, str, str] | None,
        active_since: int | None,
        limit: int,
    ) -> list[StoredSeries]:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id)
        if namespace is not None:
            query = query.where(_S.c.namespace == namespace)
        if name is not None:
            query = query.where(_S.c.metric_name == name)
        if active_since is not None:
            query = query.where(_S.c.last_put >= active_since)
        if after is not None:
            query = query.where(
                sa.tuple_(_S.c.namespace, _S.c.metric_name, _S.c.dimensions_hash) > after
            )
        query = query.order_by(_S.c.namespace, _S.c.metric_name, _S.c.dimensions_hash).limit(limit)

        def work(conn: Connection) -> list[StoredSeries]:
            return [
                StoredSeries(_series(r._mapping), int(r._mapping["last_put"]))
                for r in conn.execute(query).all()
            ]

        return await self._db.read(work)

    async def roll_up(self, resolution: int, into: int | None, before: int, limit: int) -> int:
        due = (
            sa.select(_D)
            .where(_D.c.resolution == resolution, _D.c.period_start < before)
            .order_by(_D.c.period_start)
            .limit(limit)
            # Two gateways rolling up at once take disjoint periods: none is merged twice.
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> int:
            rows = [r._mapping for r in conn.execute(due).all()]
            merged: dict[_KeyTuple, Aggregate] = {}
            for m in rows:
                conn.execute(_D.delete().where(*_where(tuple(m[n] for n in _KEY))))
                if into is None:
                    continue
                start = int(m["period_start"])
                key: _KeyTuple = (
                    m["tenant_id"],
                    m["namespace"],
                    m["metric_name"],
                    m["dimensions_hash"],
                    into,
                    start - start % into,
                    m["unit"],
                )
                held = merged.get(key)
                merged[key] = _aggregate(m) if held is None else held.merged(_aggregate(m))
            if merged:
                _merge_into(conn, merged)
            return len(rows)

        return await self._db.write(work)

    async def forget_series(self, before: int, limit: int) -> int:
        due = sa.select(_S).where(_S.c.last_put < before).order_by(_S.c.last_put).limit(limit)

        def work(conn: Connection) -> int:
            rows = [r._mapping for r in conn.execute(due).all()]
            for m in rows:
                conn.execute(
                    _S.delete().where(
                        _S.c.tenant_id == m["tenant_id"],
                        _S.c.namespace == m["namespace"],
                        _S.c.metric_name == m["metric_name"],
                        _S.c.dimensions_hash == m["dimensions_hash"],
                        _S.c.last_put < before,
                    )
                )
            return len(rows)

        return await self._db.write(work)
