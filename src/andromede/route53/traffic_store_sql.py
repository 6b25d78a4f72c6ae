"""Route 53's traffic policies and instances over the metadata database (SQLite or
PostgreSQL), the tables of migration 0148 (decision 0330). A policy version is keyed by
(policy id, version): of two gateways writing the next version at once, one wins and the
other is ``VersionTaken`` and reads again."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.route53.traffic import TrafficPolicy, TrafficPolicyInstance, VersionTaken

__all__ = ["SqlTrafficStore"]

_P = tables.route53_traffic_policies
_I = tables.route53_traffic_policy_instances
FORMAT_VERSION: Final = 1


def _policy(row: Any) -> TrafficPolicy:
    return TrafficPolicy(
        tenant_id=str(row["tenant_id"]),
        policy_id=str(row["policy_id"]),
        version=int(row["version"]),
        name=str(row["name"]),
        type=str(row["type"]),
        document=str(row["document"]),
        comment=str(row["comment"]),
        created=int(row["created"]),
    )


def _instance(row: Any) -> TrafficPolicyInstance:
    return TrafficPolicyInstance(
        tenant_id=str(row["tenant_id"]),
        instance_id=str(row["instance_id"]),
        zone_id=str(row["zone_id"]),
        name=str(row["name"]),
        ttl=int(row["ttl"]),
        policy_id=str(row["policy_id"]),
        policy_version=int(row["policy_version"]),
        policy_type=str(row["policy_type"]),
        state=str(row["state"]),
        message=str(row["message"]),
        created=int(row["created"]),
    )


class SqlTrafficStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add_version(self, policy: TrafficPolicy) -> None:
        insert = sa.insert(_P).values(
            policy_id=policy.policy_id,
            version=policy.version,
            tenant_id=policy.tenant_id,
            name=policy.name,
            type=policy.type,
            document=policy.document,
            comment=policy.comment,
            created=policy.created,
            format_version=FORMAT_VERSION,
        )
        try:
            await self._db.write_statement(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise VersionTaken(policy.policy_id) from exc

    async def _policies(self, where: Any) -> list[TrafficPolicy]:
        query = sa.select(_P).where(where).order_by(_P.c.policy_id, _P.c.version)

        def work(conn: Connection) -> list[TrafficPolicy]:
            return [_policy(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def versions(self, tenant_id: str, policy_id: str) -> list[TrafficPolicy]:
        return await self._policies(sa.and_(_P.c.tenant_id == tenant_id,
                                            _P.c.policy_id == policy_id))  # fmt: skip

    async def policies(self, tenant_id: str) -> list[TrafficPolicy]:
        return await self._policies(_P.c.tenant_id == tenant_id)

    def _version(self, tenant_id: str, policy_id: str, version: int) -> Any:
        return sa.and_(
            _P.c.tenant_id == tenant_id, _P.c.policy_id == policy_id, _P.c.version == version
        )

    async def _count(self, statement: Any) -> int:
        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)

    async def set_comment(self, tenant_id: str, policy_id: str, version: int, comment: str) -> bool:
        mine = self._version(tenant_id, policy_id, version)
        return await self._count(sa.update(_P).where(mine).values(comment=comment)) > 0

    async def delete_version(self, tenant_id: str, policy_id: str, version: int) -> bool:
        mine = self._version(tenant_id, policy_id, version)
        return await self._count(sa.delete(_P).where(mine)) > 0

    async def put_instance(self, instance: TrafficPolicyInstance) -> None:
        fields = {
            "tenant_id": instance.tenant_id,
            "zone_id": instance.zone_id,
            "name": instance.name,
            "ttl": instance.ttl,
            "policy_id": instance.policy_id,
            "policy_version": instance.policy_version,
            "policy_type": instance.policy_type,
            "state": instance.state,
            "message": instance.message,
            "created": instance.created,
            "format_version": FORMAT_VERSION,
        }
        mine = _I.c.instance_id == instance.instance_id

        def work(conn: Connection) -> None:
            if conn.execute(sa.update(_I).where(mine).values(**fields)).rowcount == 0:
                conn.execute(sa.insert(_I).values(instance_id=instance.instance_id, **fields))

        await self._db.write(work)

    async def _instances(self, where: Any) -> list[TrafficPolicyInstance]:
        query = sa.select(_I).where(where).order_by(_I.c.instance_id)

        def work(conn: Connection) -> list[TrafficPolicyInstance]:
            return [_instance(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def instance(self, tenant_id: str, instance_id: str) -> TrafficPolicyInstance | None:
        found = await self._instances(
            sa.and_(_I.c.tenant_id == tenant_id, _I.c.instance_id == instance_id)
        )
        return found[0] if found else None

    async def instances(self, tenant_id: str) -> list[TrafficPolicyInstance]:
        return await self._instances(_I.c.tenant_id == tenant_id)

    async def delete_instance(self, tenant_id: str, instance_id: str) -> bool:
        mine = sa.and_(_I.c.tenant_id == tenant_id, _I.c.instance_id == instance_id)
        return await self._count(sa.delete(_I).where(mine)) > 0

    async def forget_tenant(self, tenant_id: str) -> int:
        policies = await self._count(sa.delete(_P).where(_P.c.tenant_id == tenant_id))
        instances = await self._count(sa.delete(_I).where(_I.c.tenant_id == tenant_id))
        return policies + instances
