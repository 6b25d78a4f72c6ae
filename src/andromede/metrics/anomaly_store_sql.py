"""The anomaly detector store over the metadata database (SQLite or PostgreSQL), the table
of migration 0086 (decision 0189). A put replaces the row's definition under its lock and
keeps its creation time, DescribeAnomalyDetectors' order and page token."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.metrics.anomaly_model import FORMAT_VERSION, Detector
from andromede.metrics.anomaly_store import digest

__all__ = ["SqlDetectorStore"]

_A = tables.metric_anomaly_detectors


class SqlDetectorStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, detector: Detector, created: int) -> bool:
        key = (_A.c.tenant_id == detector.tenant_id, _A.c.detector_key == digest(detector))
        document = detector.document()

        def work(conn: Connection) -> bool:
            held = conn.execute(sa.select(_A.c.created).where(*key).with_for_update()).first()
            if held is None:
                # Ordinals unique within the account, DescribeAnomalyDetectors' page token.
                last = conn.execute(
                    sa.select(sa.func.max(_A.c.created)).where(_A.c.tenant_id == detector.tenant_id)
                ).scalar()
                conn.execute(
                    sa.insert(_A).values(
                        tenant_id=detector.tenant_id,
                        detector_key=digest(detector),
                        document=document,
                        created=created if last is None else max(created, int(last) + 1),
                        format_version=FORMAT_VERSION,
                    )
                )
                return True
            conn.execute(sa.update(_A).where(*key).values(document=document))
            return False

        return await self._db.write(work)

    async def get(self, tenant_id: str, key: str) -> Detector | None:
        query = sa.select(_A.c.document).where(
            _A.c.tenant_id == tenant_id, _A.c.detector_key == key
        )

        def work(conn: Connection) -> Detector | None:
            row = conn.execute(query).first()
            return None if row is None else Detector.from_document(tenant_id, row[0])

        return await self._db.read(work)

    async def count(self, tenant_id: str) -> int:
        query = sa.select(sa.func.count()).select_from(_A).where(_A.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(query).scalar_one())

        return await self._db.read(work)

    async def page(self, tenant_id: str, after: int, limit: int) -> list[tuple[int, Detector]]:
        query = (
            sa.select(_A.c.created, _A.c.document)
            .where(_A.c.tenant_id == tenant_id, _A.c.created > after)
            .order_by(_A.c.created)
            .limit(limit)
        )

        def work(conn: Connection) -> list[tuple[int, Detector]]:
            return [
                (int(r[0]), Detector.from_document(tenant_id, r[1]))
                for r in conn.execute(query).all()
            ]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, key: str) -> bool:
        where = (_A.c.tenant_id == tenant_id, _A.c.detector_key == key)

        def work(conn: Connection) -> bool:
            return bool(conn.execute(sa.delete(_A).where(*where)).rowcount)

        return await self._db.write(work)
