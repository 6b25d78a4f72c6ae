"""The rotation store over the metadata database (SQLite or PostgreSQL), the table of
migration 0139 (decision 0303). A claim is one conditional ``UPDATE`` (the lease free or
expired), so of two gateways claiming at once one wins; a settlement is conditional on the
lease's owner."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.secrets.rotation_model import RotationRules, RotationState

__all__ = ["SqlRotationStore"]

_T = tables.secret_rotations
FORMAT_VERSION: Final = 1


def _us(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1_000_000)


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value) / 1_000_000, UTC)


def _rules_text(rules: RotationRules | None) -> str | None:
    if rules is None:
        return None
    return json.dumps(
        {"days": rules.days, "expression": rules.expression, "duration": rules.duration_hours}
    )


def _rules(text: str | None) -> RotationRules | None:
    if text is None:
        return None
    raw = json.loads(text)
    return RotationRules(raw.get("days"), raw.get("expression"), raw.get("duration"))


def _row(state: RotationState) -> dict[str, Any]:
    return {
        "secret_arn": state.secret_arn,
        "tenant_id": state.tenant_id,
        "region": state.region,
        "function_arn": state.function_arn,
        "rules": _rules_text(state.rules),
        "enabled": state.enabled,
        "last_rotated": _us(state.last_rotated),
        "next_rotation": _us(state.next_rotation),
        "token": state.token,
        "failure": state.failure,
        "format_version": FORMAT_VERSION,
    }


def _state(m: Any) -> RotationState:
    return RotationState(
        secret_arn=m["secret_arn"],
        tenant_id=m["tenant_id"],
        region=m["region"],
        function_arn=m["function_arn"],
        rules=_rules(m["rules"]),
        enabled=bool(m["enabled"]),
        last_rotated=_when(m["last_rotated"]),
        next_rotation=_when(m["next_rotation"]),
        token=m["token"],
        failure=m["failure"],
        lease_owner=m["lease_owner"],
        lease_until=int(m["lease_until"]),
    )


class SqlRotationStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, secret_arn: str) -> RotationState | None:
        def work(conn: Connection) -> RotationState | None:
            row = conn.execute(sa.select(_T).where(_T.c.secret_arn == secret_arn)).first()
            return None if row is None else _state(row._mapping)

        return await self._db.read(work)

    async def save(self, state: RotationState) -> None:
        values = _row(state)

        def work(conn: Connection) -> None:
            updated = conn.execute(
                sa.update(_T).where(_T.c.secret_arn == state.secret_arn).values(**values)
            )
            if updated.rowcount == 0:
                conn.execute(sa.insert(_T).values(**values, lease_owner="", lease_until=0))

        await self._db.write(work)

    async def claim(
        self, secret_arn: str, owner: str, now_ms: int, until_ms: int
    ) -> RotationState | None:
        def work(conn: Connection) -> RotationState | None:
            updated = conn.execute(
                sa.update(_T)
                .where(_T.c.secret_arn == secret_arn, _T.c.lease_until <= now_ms)
                .values(lease_owner=owner, lease_until=until_ms)
            )
            if updated.rowcount != 1:
                return None
            row = conn.execute(sa.select(_T).where(_T.c.secret_arn == secret_arn)).one()
            return _state(row._mapping)

        return await self._db.write(work)

    async def settle(self, state: RotationState, owner: str) -> bool:
        values = _row(state)

        def work(conn: Connection) -> bool:
            updated = conn.execute(
                sa.update(_T)
                .where(_T.c.secret_arn == state.secret_arn, _T.c.lease_owner == owner)
                .values(**values, lease_owner="", lease_until=0)
            )
            return bool(updated.rowcount == 1)

        return await self._db.write(work)

    async def due(self, now: datetime, now_ms: int, limit: int) -> list[RotationState]:
        query = (
            sa.select(_T)
            .where(
                _T.c.enabled.is_(True),
                _T.c.lease_until <= now_ms,
                sa.or_(
                    _T.c.next_rotation <= _us(now),
                    # a rotation whose gateway stopped mid-way: its lease ran out
                    sa.and_(_T.c.token.is_not(None), _T.c.lease_until > 0),
                ),
            )
            .order_by(_T.c.next_rotation, _T.c.secret_arn)
            .limit(limit)
        )

        def work(conn: Connection) -> list[RotationState]:
            return [_state(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete(self, secret_arn: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(sa.delete(_T).where(_T.c.secret_arn == secret_arn))

        await self._db.write(work)
