"""Operator access requests over the metadata database (table of migration 0041)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.audit.access import AccessMode, AccessRequest, AccessState
from andromede.db import tables
from andromede.db.database import Database

__all__ = ["SqlAccessRequestStore"]

_R = tables.operator_access_requests


class SqlAccessRequestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, request: AccessRequest) -> None:
        values = _row(request)
        await self._db.write(lambda conn: conn.execute(_R.insert().values(values)))

    async def get(self, request_id: str) -> AccessRequest | None:
        query = sa.select(_R).where(_R.c.id == request_id)

        def work(conn: Connection) -> Any:
            return conn.execute(query).first()

        row = await self._db.read(work)
        return None if row is None else _request(row)

    async def pending_before(self, created_before: datetime) -> list[AccessRequest]:
        query = (
            sa.select(_R)
            .where(_R.c.status == AccessState.PENDING.value, _R.c.created_at < created_before)
            .order_by(_R.c.created_at, _R.c.id)
        )

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        return [_request(row) for row in await self._db.read(work)]

    async def list(
        self, *, tenant_id: str | None = None, operator_id: str | None = None
    ) -> list[AccessRequest]:
        query = sa.select(_R).order_by(_R.c.created_at, _R.c.id)
        if tenant_id is not None:
            query = query.where(_R.c.tenant_id == tenant_id)
        if operator_id is not None:
            query = query.where(_R.c.operator_id == operator_id)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).all())

        return [_request(row) for row in await self._db.read(work)]

    async def replace(self, request: AccessRequest, expected: AccessState) -> bool:
        values = _row(request)
        del values["id"]
        statement = (
            _R.update().where(_R.c.id == request.id, _R.c.status == expected.value).values(values)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)


def _row(request: AccessRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "tenant_id": request.tenant_id,
        "operator_id": request.operator_id,
        "operator_name": request.operator_name,
        "buckets": None if request.buckets is None else json.dumps(list(request.buckets)),
        "mode": request.mode.value,
        "reason": request.reason,
        "duration_seconds": request.duration_seconds,
        "status": request.status.value,
        "created_at": request.created_at,
        "decided_at": request.decided_at,
        "decided_by": request.decided_by,
        "expires_at": request.expires_at,
        "revoked_at": request.revoked_at,
        "revoked_by": request.revoked_by,
        "include_kms": request.include_kms,
    }


def _request(row: Any) -> AccessRequest:
    return AccessRequest(
        id=row.id,
        tenant_id=row.tenant_id,
        operator_id=row.operator_id,
        operator_name=row.operator_name,
        buckets=None if row.buckets is None else tuple(json.loads(row.buckets)),
        mode=AccessMode(row.mode),
        reason=row.reason,
        duration_seconds=int(row.duration_seconds),
        status=AccessState(row.status),
        created_at=row.created_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        include_kms=bool(row.include_kms),
    )
