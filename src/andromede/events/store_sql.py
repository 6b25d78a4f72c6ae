"""The EventBridge store over the metadata database (SQLite or PostgreSQL), the tables of
migration 0089 (decision 0192), the bus policies' of migration 0094. A limit is counted in the
transaction that would pass it; a rule is deleted only in the transaction that finds it
without targets."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.events.errors import (
    ConcurrentModification,
    LimitExceeded,
    ResourceAlreadyExists,
    ResourceNotFound,
    ValidationError,
)
from andromede.events.held_sql import held_rows
from andromede.events.model import DEFAULT_BUS, EventBus, Rule, Target
from andromede.events.store import KeyGuard

__all__ = ["SqlEventsStore"]

_B = tables.events_buses
_R = tables.events_rules
_T = tables.events_targets
_D = tables.events_deliveries
_P = tables.events_bus_policies
FORMAT_VERSION: Final = 1


def _limit(limit: int) -> LimitExceeded:
    return LimitExceeded(f"The requested resource exceeds the maximum number allowed ({limit}).")


def _prefixed(column: Any, prefix: str) -> Any:
    # Not LIKE: SQLite's is case-insensitive, and AWS's prefix is not.
    return sa.func.substr(column, 1, len(prefix)) == prefix


class SqlEventsStore:
    def __init__(self, db: Database, region: str) -> None:
        self._db = db
        self._region = region

    def _bus(self, m: Any) -> EventBus:
        return EventBus(
            m["tenant_id"],
            self._region,
            m["bus_name"],
            m["description"],
            datetime.fromtimestamp(int(m["created"]) / 1_000_000, UTC),
            dict(json.loads(m["tags"])),
            resealing=bool(m["resealing"]),
        ).with_config(m["config"])

    def _guarded(self, conn: Connection, tenant_id: str, bus: str, guard: KeyGuard | None) -> None:
        """Decision 0218: the bus's row locked, its key still the one the caller sealed for."""
        if guard is None:
            return
        row = conn.execute(
            sa.select(_B.c.config)
            .where(_B.c.tenant_id == tenant_id, _B.c.bus_name == bus)
            .with_for_update()
        ).first()
        held = None if row is None else EventBus("", "", "").with_config(row[0]).kms_key
        if held != guard.key:
            raise ConcurrentModification("The event bus's key changed meanwhile; try again.")

    def _rule(self, m: Any) -> Rule:
        return Rule.from_document(
            m["tenant_id"], self._region, m["bus_name"], m["rule_name"], m["document"]
        )

    async def create_bus(
        self, bus: EventBus, *, limit: int, counted: Callable[[str], bool] | None = None
    ) -> None:
        def work(conn: Connection) -> None:
            custom = sa.select(_B.c.bus_name).where(
                _B.c.tenant_id == bus.tenant_id, _B.c.bus_name != DEFAULT_BUS
            )
            held = held_rows(conn, custom, counted)  # decision 0349: a Region's buses
            taken = conn.execute(
                sa.select(_B.c.bus_name).where(
                    _B.c.tenant_id == bus.tenant_id, _B.c.bus_name == bus.name
                )
            ).first()
            if taken is not None:
                raise ResourceAlreadyExists(f"Event bus {bus.name} already exists.")
            if held >= limit:
                raise _limit(limit)
            conn.execute(
                sa.insert(_B).values(
                    tenant_id=bus.tenant_id,
                    bus_name=bus.name,
                    description=bus.description,
                    tags=json.dumps(bus.tags),
                    config=bus.config_document(),
                    resealing=False,
                    created=int(bus.created.timestamp() * 1_000_000),
                    format_version=FORMAT_VERSION,
                )
            )

        try:
            await self._db.write(work)
        except IntegrityError as exc:  # another gateway created it meanwhile
            raise ResourceAlreadyExists(f"Event bus {bus.name} already exists.") from exc

    async def get_bus(self, tenant_id: str, name: str) -> EventBus | None:
        query = sa.select(_B).where(_B.c.tenant_id == tenant_id, _B.c.bus_name == name)

        def work(conn: Connection) -> EventBus | None:
            row = conn.execute(query).first()
            return None if row is None else self._bus(row._mapping)

        return await self._db.read(work)

    async def list_buses(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> list[EventBus]:
        query = sa.select(_B).where(_B.c.tenant_id == tenant_id, _B.c.bus_name > after)
        if prefix:
            query = query.where(_prefixed(_B.c.bus_name, prefix))
        query = query.order_by(_B.c.bus_name).limit(limit)

        def work(conn: Connection) -> list[EventBus]:
            return [self._bus(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def change_bus(
        self,
        tenant_id: str,
        name: str,
        change: Callable[[EventBus], EventBus],
        *,
        blank: EventBus | None = None,
    ) -> EventBus:
        key = (_B.c.tenant_id == tenant_id, _B.c.bus_name == name)

        def work(conn: Connection) -> EventBus:
            row = conn.execute(sa.select(_B).where(*key).with_for_update()).first()
            if row is not None:
                held = self._bus(row._mapping)
            elif blank is not None:
                held = blank
            else:
                raise ResourceNotFound(f"Event bus {name} does not exist.")
            bus = change(held)
            values = {
                "description": bus.description,
                "tags": json.dumps(bus.tags),
                "config": bus.config_document(),
                "resealing": bus.resealing,
            }
            if row is None:
                conn.execute(
                    sa.insert(_B).values(
                        tenant_id=tenant_id,
                        bus_name=name,
                        created=int(held.created.timestamp() * 1_000_000),
                        format_version=FORMAT_VERSION,
                        **values,
                    )
                )
            else:
                conn.execute(sa.update(_B).where(*key).values(**values))
            return replace(
                held,
                description=bus.description,
                tags=dict(bus.tags),
                kms_key=bus.kms_key,
                dead_letter_arn=bus.dead_letter_arn,
                resealing=bus.resealing,
            )

        try:
            return await self._db.write(work)
        except IntegrityError:
            if blank is None:
                raise
            # Another gateway made the row meanwhile: this change applies over its row.
            return await self._db.write(work)

    async def get_bus_policy(self, tenant_id: str, name: str) -> str | None:
        query = sa.select(_P.c.policy).where(_P.c.tenant_id == tenant_id, _P.c.bus_name == name)

        def work(conn: Connection) -> str | None:
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else str(found)

        return await self._db.read(work)

    async def change_bus_policy(
        self, tenant_id: str, name: str, change: Callable[[str | None], str | None]
    ) -> None:
        key = (_P.c.tenant_id == tenant_id, _P.c.bus_name == name)

        def work(conn: Connection) -> None:
            if name != DEFAULT_BUS:
                # The bus row locked: a DeleteEventBus meanwhile waits, then takes the policy.
                held_bus = conn.execute(
                    sa.select(_B.c.bus_name)
                    .where(_B.c.tenant_id == tenant_id, _B.c.bus_name == name)
                    .with_for_update()
                ).first()
                if held_bus is None:
                    raise ResourceNotFound(f"Event bus {name} does not exist.")
            held = conn.execute(sa.select(_P.c.policy).where(*key).with_for_update()).first()
            policy = change(None if held is None else str(held[0]))
            conn.execute(sa.delete(_P).where(*key))
            if policy is not None:
                conn.execute(
                    sa.insert(_P).values(
                        tenant_id=tenant_id,
                        bus_name=name,
                        policy=policy,
                        format_version=FORMAT_VERSION,
                    )
                )

        try:
            await self._db.write(work)
        except IntegrityError as exc:  # another gateway wrote the bus's first policy meanwhile
            raise ConcurrentModification("The event bus's policy changed meanwhile.") from exc

    async def delete_bus(self, tenant_id: str, name: str) -> None:
        def work(conn: Connection) -> None:
            for table in (_T, _R, _B, _P):
                conn.execute(
                    sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.bus_name == name)
                )

        await self._db.write(work)

    async def resealing_buses(self, limit: int) -> list[EventBus]:
        query = sa.select(_B).where(_B.c.resealing.is_(True)).limit(limit)

        def work(conn: Connection) -> list[EventBus]:
            return [self._bus(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def put_rule(self, rule: Rule, *, limit: int, guard: KeyGuard | None = None) -> None:
        key = (
            _R.c.tenant_id == rule.tenant_id,
            _R.c.bus_name == rule.bus_name,
            _R.c.rule_name == rule.name,
        )
        values = {
            "scheduled": rule.schedule is not None,
            "document": rule.document(),
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            self._guarded(conn, rule.tenant_id, rule.bus_name, guard)
            held = conn.execute(sa.select(_R.c.rule_name).where(*key).with_for_update()).first()
            if held is not None:
                conn.execute(sa.update(_R).where(*key).values(**values))
                return
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(_R)
                .where(_R.c.tenant_id == rule.tenant_id, _R.c.bus_name == rule.bus_name)
            ).scalar_one()
            if count >= limit:
                raise _limit(limit)
            conn.execute(
                sa.insert(_R).values(
                    tenant_id=rule.tenant_id,
                    bus_name=rule.bus_name,
                    rule_name=rule.name,
                    **values,
                )
            )

        await self._db.write(work)

    async def replace_rule(self, before: Rule, after: Rule) -> bool:
        statement = (
            sa.update(_R)
            .where(
                _R.c.tenant_id == before.tenant_id,
                _R.c.bus_name == before.bus_name,
                _R.c.rule_name == before.name,
                _R.c.document == before.document(),
            )
            .values(document=after.document(), format_version=FORMAT_VERSION)
        )
        return await self._db.write(lambda conn: bool(conn.execute(statement).rowcount))

    async def get_rule(self, tenant_id: str, bus: str, name: str) -> Rule | None:
        query = sa.select(_R).where(
            _R.c.tenant_id == tenant_id, _R.c.bus_name == bus, _R.c.rule_name == name
        )

        def work(conn: Connection) -> Rule | None:
            row = conn.execute(query).first()
            return None if row is None else self._rule(row._mapping)

        return await self._db.read(work)

    async def list_rules(
        self, tenant_id: str, bus: str, prefix: str, after: str, limit: int
    ) -> list[Rule]:
        query = sa.select(_R).where(
            _R.c.tenant_id == tenant_id, _R.c.bus_name == bus, _R.c.rule_name > after
        )
        if prefix:
            query = query.where(_prefixed(_R.c.rule_name, prefix))
        query = query.order_by(_R.c.rule_name).limit(limit)

        def work(conn: Connection) -> list[Rule]:
            return [self._rule(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete_rule(self, tenant_id: str, bus: str, name: str) -> None:
        def work(conn: Connection) -> None:
            rule = (
                _R.c.tenant_id == tenant_id,
                _R.c.bus_name == bus,
                _R.c.rule_name == name,
            )
            conn.execute(sa.select(_R.c.rule_name).where(*rule).with_for_update()).first()
            targets = conn.execute(
                sa.select(_T.c.target_id)
                .where(_T.c.tenant_id == tenant_id, _T.c.bus_name == bus, _T.c.rule_name == name)
                .limit(1)
            ).first()
            if targets is not None:
                raise ValidationError("Rule can't be deleted since it has targets.")
            conn.execute(sa.delete(_R).where(*rule))

        await self._db.write(work)

    async def scheduled_rules(self) -> list[Rule]:
        query = sa.select(_R).where(_R.c.scheduled.is_(True))

        def work(conn: Connection) -> list[Rule]:
            return [self._rule(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def put_targets(
        self,
        tenant_id: str,
        bus: str,
        rule: str,
        targets: Sequence[Target],
        *,
        limit: int,
        guard: KeyGuard | None = None,
    ) -> None:
        where = (_T.c.tenant_id == tenant_id, _T.c.bus_name == bus, _T.c.rule_name == rule)

        def work(conn: Connection) -> None:
            self._guarded(conn, tenant_id, bus, guard)
            # The rule's row locked: two PutTargets on one rule count one after the other.
            conn.execute(
                sa.select(_R.c.rule_name)
                .where(_R.c.tenant_id == tenant_id, _R.c.bus_name == bus, _R.c.rule_name == rule)
                .with_for_update()
            ).first()
            held = {r[0] for r in conn.execute(sa.select(_T.c.target_id).where(*where))}
            if len(held | {t.id for t in targets}) > limit:
                raise _limit(limit)
            for target in targets:
                values = {
                    "target_arn": target.arn,
                    "document": target.document(),
                    "format_version": FORMAT_VERSION,
                }
                if target.id in held:
                    conn.execute(
                        sa.update(_T).where(*where, _T.c.target_id == target.id).values(**values)
                    )
                else:
                    conn.execute(
                        sa.insert(_T).values(
                            tenant_id=tenant_id,
                            bus_name=bus,
                            rule_name=rule,
                            target_id=target.id,
                            **values,
                        )
                    )

        await self._db.write(work)

    async def replace_target(
        self, tenant_id: str, bus: str, rule: str, before: Target, after: Target
    ) -> bool:
        statement = (
            sa.update(_T)
            .where(
                _T.c.tenant_id == tenant_id,
                _T.c.bus_name == bus,
                _T.c.rule_name == rule,
                _T.c.target_id == before.id,
                _T.c.document == before.document(),
            )
            .values(document=after.document(), format_version=FORMAT_VERSION)
        )
        return await self._db.write(lambda conn: bool(conn.execute(statement).rowcount))

    async def remove_targets(
        self, tenant_id: str, bus: str, rule: str, ids: Sequence[str]
    ) -> list[str]:
        wanted = list(dict.fromkeys(ids))
        where = (
            _T.c.tenant_id == tenant_id,
            _T.c.bus_name == bus,
            _T.c.rule_name == rule,
            _T.c.target_id.in_(wanted),
        )

        def work(conn: Connection) -> list[str]:
            held = {r[0] for r in conn.execute(sa.select(_T.c.target_id).where(*where))}
            conn.execute(sa.delete(_T).where(*where))
            return [one for one in wanted if one in held]

        return await self._db.write(work)

    async def list_targets(self, tenant_id: str, bus: str, rule: str) -> list[Target]:
        query = (
            sa.select(_T.c.document)
            .where(_T.c.tenant_id == tenant_id, _T.c.bus_name == bus, _T.c.rule_name == rule)
            .order_by(_T.c.target_id)
        )

        def work(conn: Connection) -> list[Target]:
            return [Target.from_document(r[0]) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def targets_by_rule(self, tenant_id: str, bus: str) -> dict[str, list[Target]]:
        query = (
            sa.select(_T.c.rule_name, _T.c.document)
            .where(_T.c.tenant_id == tenant_id, _T.c.bus_name == bus)
            .order_by(_T.c.rule_name, _T.c.target_id)
        )

        def work(conn: Connection) -> dict[str, list[Target]]:
            found: dict[str, list[Target]] = {}
            for name, document in conn.execute(query).all():
                found.setdefault(name, []).append(Target.from_document(document))
            return found

        return await self._db.read(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_T).where(_T.c.tenant_id == tenant_id))
            gone = conn.execute(sa.delete(_R).where(_R.c.tenant_id == tenant_id)).rowcount
            conn.execute(sa.delete(_B).where(_B.c.tenant_id == tenant_id))
            conn.execute(sa.delete(_P).where(_P.c.tenant_id == tenant_id))
            # Its deliveries still queued (session 48) go with it.
            conn.execute(sa.delete(_D).where(_D.c.tenant_id == tenant_id))
            # Its archives, their events and its replays (decision 0196), its connections
            # (their sealed credentials) and API destinations (decision 0200) too.
            for table in (
                tables.events_archive_events,
                tables.events_replays,
                tables.events_archives,
                tables.events_api_destinations,
                tables.events_connections,
            ):
                conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))
            return int(gone or 0)

        return await self._db.write(work)

    async def rules_by_target(
        self, tenant_id: str, bus: str, arn: str, after: str, limit: int
    ) -> list[str]:
        query = (
            sa.select(_T.c.rule_name)
            .distinct()
            .where(
                _T.c.tenant_id == tenant_id,
                _T.c.bus_name == bus,
                _T.c.target_arn == arn,
                _T.c.rule_name > after,
            )
            .order_by(_T.c.rule_name)
            .limit(limit)
        )

        def work(conn: Connection) -> list[str]:
            return [r[0] for r in conn.execute(query).all()]

        return await self._db.read(work)
