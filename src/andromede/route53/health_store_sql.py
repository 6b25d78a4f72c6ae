"""Route 53's health checks over the metadata database (SQLite or PostgreSQL), the table of
migration 0133 (decision 0285).

A check's configuration, tags and ``HealthCheckVersion`` are one JSON ``definition``,
written by a guarded ``UPDATE … WHERE revision = <read>``; its status is another JSON
column, written by the gateway that claimed the round (``UPDATE … WHERE claim = <read>``
moves ``next_check`` on: of several gateways, one wins). The caller reference is unique per
account in the schema, a deleted check's included (it stays as a tombstone)."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.health_errors import HealthCheckChanged
from andromede.route53.health_model import (
    AlarmIdentifier,
    HealthCheck,
    HealthCheckConfig,
    HealthStatus,
    Observation,
)
from andromede.route53.health_store import DueCheck

__all__ = ["SqlHealthCheckStore", "config_json", "config_of", "status_json", "status_of"]

_H = tables.route53_health_checks
FORMAT_VERSION: Final = 1


def config_json(config: HealthCheckConfig) -> dict[str, Any]:
    fields = {k: v for k, v in vars(config).items() if v is not None}
    if config.alarm is not None:
        fields["alarm"] = [config.alarm.region, config.alarm.name]
    for name in ("children", "regions"):
        if name in fields:
            fields[name] = list(fields[name])
    return fields


def config_of(fields: dict[str, Any]) -> HealthCheckConfig:
    values = dict(fields)
    if "alarm" in values:
        values["alarm"] = AlarmIdentifier(*values["alarm"])
    for name in ("children", "regions"):
        if name in values:
            values[name] = tuple(values[name])
    return HealthCheckConfig(**values)


def _observations(items: tuple[Observation, ...]) -> list[list[Any]]:
    return [[o.region, o.address, o.report, o.checked] for o in items]


def _observations_of(items: list[list[Any]]) -> tuple[Observation, ...]:
    return tuple(Observation(str(r), str(a), str(t), int(c)) for r, a, t, c in items)


def status_json(status: HealthStatus) -> str:
    return json.dumps(
        {
            "healthy": status.healthy,
            "run": status.run,
            "observations": _observations(status.observations),
            "failures": _observations(status.last_failures),
            "checked": status.checked,
        }
    )


def status_of(text: str) -> HealthStatus:
    fields = json.loads(text)
    return HealthStatus(
        healthy=bool(fields["healthy"]),
        run=int(fields["run"]),
        observations=_observations_of(fields["observations"]),
        last_failures=_observations_of(fields["failures"]),
        checked=int(fields["checked"]),
    )


def _definition(check: HealthCheck) -> str:
    return json.dumps(
        {
            "config": config_json(check.config),
            "tags": [list(t) for t in check.tags],
            "version": check.version,
        },
        sort_keys=True,
    )


def _check(row: Any) -> HealthCheck:
    fields = json.loads(row["definition"])
    return HealthCheck(
        tenant_id=row["tenant_id"],
        health_check_id=row["health_check_id"],
        caller_reference=row["caller_reference"],
        config=config_of(fields["config"]),
        created=int(row["created"]),
        version=int(fields["version"]),
        tags=tuple((str(k), str(v)) for k, v in fields["tags"]),
        status=status_of(row["status"]),
        revision=int(row["revision"]),
    )


class SqlHealthCheckStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, check: HealthCheck) -> None:
        insert = sa.insert(_H).values(
            health_check_id=check.health_check_id,
            tenant_id=check.tenant_id,
            caller_reference=check.caller_reference,
            definition=_definition(check),
            status=status_json(check.status),
            created=check.created,
            revision=check.revision,
            deleted=False,
            next_check=0,
            claim=0,
            format_version=FORMAT_VERSION,
        )
        try:
            await self._db.write(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise HealthCheckChanged(check.health_check_id) from exc

    async def _select(self, where: Any) -> list[tuple[HealthCheck, Any]]:
        query = sa.select(_H).where(where).order_by(_H.c.health_check_id)

        def work(conn: Connection) -> list[tuple[HealthCheck, Any]]:
            return [(_check(row), row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, health_check_id: str) -> HealthCheck | None:
        found = await self._select(
            sa.and_(
                _H.c.tenant_id == tenant_id,
                _H.c.health_check_id == health_check_id,
                _H.c.deleted.is_(False),
            )
        )
        return found[0][0] if found else None

    async def by_reference(
        self, tenant_id: str, caller_reference: str
    ) -> tuple[HealthCheck, bool] | None:
        found = await self._select(
            sa.and_(_H.c.tenant_id == tenant_id, _H.c.caller_reference == caller_reference)
        )
        return (found[0][0], bool(found[0][1]["deleted"])) if found else None

    async def checks(self, tenant_id: str) -> list[HealthCheck]:
        found = await self._select(sa.and_(_H.c.tenant_id == tenant_id, _H.c.deleted.is_(False)))
        return [check for check, _ in found]

    async def _guarded(self, statement: Any, health_check_id: str) -> None:
        def work(conn: Connection) -> None:
            if conn.execute(statement).rowcount != 1:
                raise HealthCheckChanged(health_check_id)

        await self._db.write(work)

    async def replace(self, check: HealthCheck) -> None:
        update = (
            sa.update(_H)
            .where(
                _H.c.tenant_id == check.tenant_id,
                _H.c.health_check_id == check.health_check_id,
                _H.c.revision == check.revision - 1,
                _H.c.deleted.is_(False),
            )
            .values(definition=_definition(check), revision=check.revision)
        )
        await self._guarded(update, check.health_check_id)

    async def delete(self, tenant_id: str, health_check_id: str, revision: int) -> None:
        update = (
            sa.update(_H)
            .where(
                _H.c.tenant_id == tenant_id,
                _H.c.health_check_id == health_check_id,
                _H.c.revision == revision,
                _H.c.deleted.is_(False),
            )
            .values(deleted=True, revision=revision + 1)
        )
        await self._guarded(update, health_check_id)

    async def due(self, now: int, limit: int) -> list[DueCheck]:
        query = (
            sa.select(_H)
            .where(_H.c.next_check <= now, _H.c.deleted.is_(False))
            .order_by(_H.c.next_check, _H.c.health_check_id)
            .limit(limit)
        )

        def work(conn: Connection) -> list[DueCheck]:
            return [(_check(row), int(row["claim"])) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def claim(self, health_check_id: str, token: int, next_check: int) -> bool:
        update = (
            sa.update(_H)
            .where(
                _H.c.health_check_id == health_check_id,
                _H.c.claim == token,
                _H.c.deleted.is_(False),
            )
            .values(claim=token + 1, next_check=next_check)
        )
        return bool(await self._db.write(lambda conn: conn.execute(update).rowcount == 1))

    async def set_status(self, health_check_id: str, status: HealthStatus) -> None:
        update = (
            sa.update(_H)
            .where(_H.c.health_check_id == health_check_id)
            .values(status=status_json(status))
        )
        await self._db.write_statement(lambda conn: conn.execute(update))

    async def find(self, health_check_id: str) -> HealthCheck | None:
        found = await self._select(
            sa.and_(_H.c.health_check_id == health_check_id, _H.c.deleted.is_(False))
        )
        return found[0][0] if found else None

    async def forget_tenant(self, tenant_id: str) -> int:
        delete = sa.delete(_H).where(_H.c.tenant_id == tenant_id)
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))
