"""The metric stream store over the metadata database (SQLite or PostgreSQL), the table of
migration 0113 (decision 0233). A put counts the account's streams and writes the row in one
transaction (the account's rows read ``FOR UPDATE`` on PostgreSQL, so two puts of new streams
cannot both pass the bound); the filters and statistics are one JSON document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.metrics.streams import (
    RUNNING,
    MetricStream,
    StatisticsConfiguration,
    StreamFilter,
)

__all__ = ["SqlMetricStreamStore"]

_S = tables.metric_streams
FORMAT_VERSION: Final = 1


def _micros(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _moment(micros: Any) -> datetime:
    return datetime.fromtimestamp(int(micros) / 1_000_000, UTC)


def _selection(stream: MetricStream) -> str:
    return json.dumps(
        {
            "include": [[f.namespace, list(f.metric_names)] for f in stream.include],
            "exclude": [[f.namespace, list(f.metric_names)] for f in stream.exclude],
            "statistics": [
                [[list(pair) for pair in c.metrics], list(c.statistics)] for c in stream.statistics
            ],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def _stream(m: Any) -> MetricStream:
    selection = json.loads(m["selection"])
    return MetricStream(
        tenant_id=m["tenant_id"],
        name=m["stream_name"],
        firehose_arn=m["firehose_arn"],
        role_arn=m["role_arn"],
        output_format=m["output_format"],
        state=m["state"],
        created=_moment(m["created"]),
        updated=_moment(m["updated"]),
        include=tuple(StreamFilter(ns, tuple(names)) for ns, names in selection["include"]),
        exclude=tuple(StreamFilter(ns, tuple(names)) for ns, names in selection["exclude"]),
        statistics=tuple(
            StatisticsConfiguration(tuple((ns, name) for ns, name in pairs), tuple(stats))
            for pairs, stats in selection["statistics"]
        ),
        tags=tuple((k, v) for k, v in json.loads(m["tags"])),
    )


class SqlMetricStreamStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, stream: MetricStream, max_streams: int) -> bool:
        key = (_S.c.tenant_id == stream.tenant_id, _S.c.stream_name == stream.name)
        values = {
            "firehose_arn": stream.firehose_arn,
            "role_arn": stream.role_arn,
            "output_format": stream.output_format,
            "state": stream.state,
            "selection": _selection(stream),
            "tags": json.dumps([list(t) for t in stream.tags], ensure_ascii=False),
            "created": _micros(stream.created),
            "updated": _micros(stream.updated),
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> bool:
            names = {
                r[0]
                for r in conn.execute(
                    sa.select(_S.c.stream_name)
                    .where(_S.c.tenant_id == stream.tenant_id)
                    .with_for_update()
                )
            }
            if stream.name in names:
                conn.execute(sa.update(_S).where(*key).values(**values))
                return True
            if len(names) >= max_streams:
                return False
            conn.execute(
                sa.insert(_S).values(tenant_id=stream.tenant_id, stream_name=stream.name, **values)
            )
            return True

        return await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> MetricStream | None:
        query = sa.select(_S).where(_S.c.tenant_id == tenant_id, _S.c.stream_name == name)

        def work(conn: Connection) -> MetricStream | None:
            row = conn.execute(query).first()
            return None if row is None else _stream(row._mapping)

        return await self._db.read(work)

    async def page(self, tenant_id: str, after: str, limit: int) -> list[MetricStream]:
        query = (
            sa.select(_S)
            .where(_S.c.tenant_id == tenant_id, _S.c.stream_name > after)
            .order_by(_S.c.stream_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[MetricStream]:
            return [_stream(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, name: str) -> bool:
        where = (_S.c.tenant_id == tenant_id, _S.c.stream_name == name)

        def work(conn: Connection) -> bool:
            return conn.execute(sa.delete(_S).where(*where)).rowcount > 0

        return await self._db.write(work)

    async def set_state(
        self, tenant_id: str, names: Sequence[str], state: str, now: datetime
    ) -> None:
        wanted = list(dict.fromkeys(names))
        statement = (
            sa.update(_S)
            .where(_S.c.tenant_id == tenant_id, _S.c.stream_name.in_(wanted), _S.c.state != state)
            .values(state=state, updated=_micros(now))
        )

        def work(conn: Connection) -> None:
            conn.execute(statement)

        await self._db.write(work)

    async def running(self) -> list[MetricStream]:
        query = (
            sa.select(_S).where(_S.c.state == RUNNING).order_by(_S.c.tenant_id, _S.c.stream_name)
        )

        def work(conn: Connection) -> list[MetricStream]:
            return [_stream(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(sa.delete(_S).where(_S.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
