"""The Contributor Insights store over the metadata database (SQLite or PostgreSQL), the
tables of migration 0129 (decision 0272). A put counts the account's rules and writes the row
in one transaction (the account's rows read ``FOR UPDATE`` on PostgreSQL, so two puts of new
rules cannot both pass the bound); a rule's deletion takes its minutes with it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database
from andromede.metrics.insight_rules import ENABLED, InsightRule
from andromede.metrics.insight_store import StoredMinute

__all__ = ["SqlInsightRuleStore"]

_R = tables.insight_rules
_M = tables.insight_rule_minutes
FORMAT_VERSION: Final = 1


def _rule(m: Any) -> InsightRule:
    return InsightRule(
        tenant_id=m["tenant_id"],
        name=m["rule_name"],
        state=m["state"],
        definition=m["definition"],
        apply_on_transformed_logs=bool(m["transformed_logs"]),
        created=datetime.fromtimestamp(int(m["created"]) / 1_000_000, UTC),
        tags=tuple((k, v) for k, v in json.loads(m["tags"])),
        managed_by=m["managed_by"],
    )


def _tags(tags: Sequence[tuple[str, str]]) -> str:
    return json.dumps([list(t) for t in tags], ensure_ascii=False)


class SqlInsightRuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, rule: InsightRule, max_rules: int) -> bool:
        key = (_R.c.tenant_id == rule.tenant_id, _R.c.rule_name == rule.name)
        values = {
            "state": rule.state,
            "definition": rule.definition,
            "transformed_logs": rule.apply_on_transformed_logs,
            "tags": _tags(rule.tags),
            "created": int(rule.created.timestamp() * 1_000_000),
            "format_version": FORMAT_VERSION,
            "managed_by": rule.managed_by,
        }

        def work(conn: Connection) -> bool:
            names = {
                r[0]
                for r in conn.execute(
                    sa.select(_R.c.rule_name)
                    .where(_R.c.tenant_id == rule.tenant_id)
                    .with_for_update()
                )
            }
            if rule.name in names:
                conn.execute(sa.update(_R).where(*key).values(**values))
                return True
            if len(names) >= max_rules:
                return False
            conn.execute(
                sa.insert(_R).values(tenant_id=rule.tenant_id, rule_name=rule.name, **values)
            )
            return True

        return await self._db.write(work)

    async def get(self, tenant_id: str, name: str) -> InsightRule | None:
        query = sa.select(_R).where(_R.c.tenant_id == tenant_id, _R.c.rule_name == name)

        def work(conn: Connection) -> InsightRule | None:
            row = conn.execute(query).first()
            return None if row is None else _rule(row._mapping)

        return await self._db.read(work)

    async def page(self, tenant_id: str, after: str, limit: int) -> list[InsightRule]:
        query = (
            sa.select(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.rule_name > after)
            .order_by(_R.c.rule_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[InsightRule]:
            return [_rule(r._mapping) for r in conn.execute(query)]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, name: str) -> bool:
        def work(conn: Connection) -> bool:
            conn.execute(sa.delete(_M).where(_M.c.tenant_id == tenant_id, _M.c.rule_name == name))
            gone = conn.execute(
                sa.delete(_R).where(_R.c.tenant_id == tenant_id, _R.c.rule_name == name)
            )
            return bool(gone.rowcount)

        return await self._db.write(work)

    async def _update(self, tenant_id: str, name: str, **values: Any) -> bool:
        statement = (
            sa.update(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.rule_name == name)
            .values(**values)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def set_state(self, tenant_id: str, name: str, state: str) -> bool:
        return await self._update(tenant_id, name, state=state)

    async def set_tags(self, tenant_id: str, name: str, tags: tuple[tuple[str, str], ...]) -> bool:
        return await self._update(tenant_id, name, tags=_tags(tags))

    async def enabled(self, tenant_id: str) -> list[InsightRule]:
        query = sa.select(_R).where(_R.c.tenant_id == tenant_id, _R.c.state == ENABLED)

        def work(conn: Connection) -> list[InsightRule]:
            return [_rule(r._mapping) for r in conn.execute(query)]

        return await self._db.read(work)

    async def enabled_counts(self) -> dict[str, int]:
        query = (
            sa.select(_R.c.tenant_id, sa.func.count())
            .where(_R.c.state == ENABLED)
            .group_by(_R.c.tenant_id)
        )

        def work(conn: Connection) -> dict[str, int]:
            return {tenant: int(count) for tenant, count in conn.execute(query)}

        return await self._db.read(work)

    async def add_minutes(self, parts: Sequence[StoredMinute]) -> None:
        if not parts:
            return
        rows = [
            {
                "tenant_id": p.tenant_id,
                "rule_name": p.rule,
                "minute": p.minute,
                "part_id": p.part_id,
                "sealed": p.sealed,
                "format_version": FORMAT_VERSION,
            }
            for p in parts
        ]

        def work(conn: Connection) -> None:
            conn.execute(sa.insert(_M), rows)

        await self._db.write(work)

    async def minutes(self, tenant_id: str, rule: str, first: int, last: int) -> list[StoredMinute]:
        query = sa.select(_M).where(
            _M.c.tenant_id == tenant_id,
            _M.c.rule_name == rule,
            _M.c.minute >= first,
            _M.c.minute < last,
        )

        def work(conn: Connection) -> list[StoredMinute]:
            return [
                StoredMinute(
                    m["tenant_id"], m["rule_name"], int(m["minute"]), m["part_id"], m["sealed"]
                )
                for m in (r._mapping for r in conn.execute(query))
            ]

        return await self._db.read(work)

    async def expire(self, before: int) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(sa.delete(_M).where(_M.c.minute < before)).rowcount)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_M).where(_M.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_R).where(_R.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
