"""The parameter store over the metadata database (SQLite or PostgreSQL), the tables of
migration 0111 (decision 0229) and the resource policies of migration 0118 (decision 0249). A
write holds the parameter's row and checks its revision in the same transaction; a new
parameter's insert fails on the taken name's primary key."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.ssm.errors import (
    Conflict,
    ParameterAlreadyExists,
    ResourceNotFound,
    ResourcePolicyConflict,
    ResourcePolicyNotFound,
)
from andromede.ssm.model import Parameter, ParameterType, ParameterVersion, Tier
from andromede.ssm.sharing import ResourcePolicy

__all__ = ["SqlParameterStore"]

_P = tables.ssm_parameters
_V = tables.ssm_parameter_versions
_R = tables.ssm_resource_policies
FORMAT_VERSION: Final = 1


def _us(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1_000_000)


def _version_row(v: ParameterVersion) -> dict[str, Any]:
    return {
        "tenant_id": v.tenant_id,
        "region": v.region,
        "name": v.name,
        "version": v.version,
        "type": str(v.type),
        "sealed": v.sealed,
        "modified": int(v.modified.timestamp() * 1_000_000),
        "modified_user": v.modified_user,
        "tier": str(v.tier),
        "data_type": v.data_type,
        "key_id": v.key_id,
        "description": v.description,
        "allowed_pattern": v.allowed_pattern,
        "labels": json.dumps(list(v.labels)),
        "policies": v.policies,
        "expires": _us(v.expires),
        "format_version": FORMAT_VERSION,
    }


def _version(m: Any) -> ParameterVersion:
    return ParameterVersion(
        tenant_id=m["tenant_id"],
        region=m["region"],
        name=m["name"],
        version=int(m["version"]),
        type=ParameterType(m["type"]),
        sealed=bytes(m["sealed"]),
        modified=datetime.fromtimestamp(int(m["modified"]) / 1_000_000, UTC),
        modified_user=m["modified_user"],
        tier=Tier(m["tier"]),
        data_type=m["data_type"],
        key_id=m["key_id"],
        description=m["description"],
        allowed_pattern=m["allowed_pattern"],
        labels=tuple(json.loads(m["labels"])),
        policies=m["policies"],
        expires=None
        if m["expires"] is None
        else datetime.fromtimestamp(int(m["expires"]) / 1_000_000, UTC),
    )


def _joined() -> sa.Select[Any]:
    """Each parameter's row with its newest version's."""
    return sa.select(_V, _P.c.tags, _P.c.revision, _P.c.expires.label("next_action")).join(
        _P,
        sa.and_(
            _P.c.tenant_id == _V.c.tenant_id,
            _P.c.region == _V.c.region,
            _P.c.name == _V.c.name,
            _P.c.version == _V.c.version,
        ),
    )


def _parameter(m: Any) -> Parameter:
    return Parameter(
        latest=_version(m),
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        revision=int(m["revision"]),
        next_action=None
        if m["next_action"] is None
        else datetime.fromtimestamp(int(m["next_action"]) / 1_000_000, UTC),
    )


class SqlParameterStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant_id: str, region: str, name: str) -> Parameter | None:
        query = _joined().where(
            _V.c.tenant_id == tenant_id, _V.c.region == region, _V.c.name == name
        )

        def work(conn: Connection) -> Parameter | None:
            row = conn.execute(query).first()
            return None if row is None else _parameter(row._mapping)

        return await self._db.read(work)

    async def versions(self, tenant_id: str, region: str, name: str) -> list[ParameterVersion]:
        query = (
            sa.select(_V)
            .where(_V.c.tenant_id == tenant_id, _V.c.region == region, _V.c.name == name)
            .order_by(_V.c.version)
        )

        def work(conn: Connection) -> list[ParameterVersion]:
            return [_version(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def list_all(self, tenant_id: str, region: str, prefix: str = "") -> list[Parameter]:
        query = _joined().where(_V.c.tenant_id == tenant_id, _V.c.region == region)
        if prefix:
            # Names hold no LIKE wildcard but ``_``: compared as a range instead.
            query = query.where(_V.c.name >= prefix, _V.c.name < prefix + "\U0010ffff")
        query = query.order_by(_V.c.name)

        def work(conn: Connection) -> list[Parameter]:
            return [_parameter(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def count(self, tenant_id: str, region: str, tier: Tier) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(_P)
            .where(_P.c.tenant_id == tenant_id, _P.c.region == region, _P.c.tier == str(tier))
        )

        def work(conn: Connection) -> int:
            return int(conn.execute(query).scalar_one())

        return await self._db.read(work)

    async def write(
        self,
        parameter: Parameter,
        expected_revision: int | None,
        *,
        add_latest: bool = True,
        labels: Mapping[int, tuple[str, ...]] | None = None,
        drop: Sequence[int] = (),
    ) -> Parameter:
        latest = parameter.latest
        key = (_P.c.tenant_id == latest.tenant_id, _P.c.region == latest.region,
               _P.c.name == latest.name)  # fmt: skip
        vkey = (_V.c.tenant_id == latest.tenant_id, _V.c.region == latest.region,
                _V.c.name == latest.name)  # fmt: skip
        revision = 1 if expected_revision is None else expected_revision + 1
        row = {
            "version": latest.version,
            "tier": str(latest.tier),
            # The parameter's row's ``expires``: its next policy action (decision 0241).
            "expires": _us(parameter.next_action),
            "tags": json.dumps([list(t) for t in parameter.tags]),
            "revision": revision,
            "format_version": FORMAT_VERSION,
        }

        def work(conn: Connection) -> None:
            if expected_revision is None:
                conn.execute(
                    sa.insert(_P).values(
                        tenant_id=latest.tenant_id, region=latest.region, name=latest.name, **row
                    )
                )
            else:
                done = conn.execute(
                    sa.update(_P).where(*key, _P.c.revision == expected_revision).values(**row)
                )
                if done.rowcount != 1:
                    raise Conflict(f"{parameter.arn} changed meanwhile")
            if add_latest:
                conn.execute(sa.insert(_V).values(**_version_row(latest)))
            for number, held in (labels or {}).items():
                conn.execute(
                    sa.update(_V)
                    .where(*vkey, _V.c.version == number)
                    .values(labels=json.dumps(list(held)))
                )
            if drop:
                conn.execute(sa.delete(_V).where(*vkey, _V.c.version.in_(list(drop))))

        try:
            await self._db.write(work)
        except IntegrityError:
            if expected_revision is None:
                raise ParameterAlreadyExists(parameter.name) from None
            raise Conflict(f"{parameter.arn} changed meanwhile") from None
        found = await self.get(latest.tenant_id, latest.region, latest.name)
        return found if found is not None else replace(parameter, revision=revision)

    async def due(self, now: datetime, limit: int) -> list[tuple[str, str, str]]:
        query = (
            sa.select(_P.c.tenant_id, _P.c.region, _P.c.name)
            .where(_P.c.expires.is_not(None), _P.c.expires <= _us(now))
            .order_by(_P.c.expires)
            .limit(limit)
        )

        def work(conn: Connection) -> list[tuple[str, str, str]]:
            return [(str(t), str(r), str(n)) for t, r, n in conn.execute(query).all()]

        return await self._db.read(work)

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        def work(conn: Connection) -> bool:
            conn.execute(
                sa.delete(_V).where(
                    _V.c.tenant_id == tenant_id, _V.c.region == region, _V.c.name == name
                )
            )
            conn.execute(
                sa.delete(_R).where(
                    _R.c.tenant_id == tenant_id, _R.c.region == region, _R.c.name == name
                )
            )
            done = conn.execute(
                sa.delete(_P).where(
                    _P.c.tenant_id == tenant_id, _P.c.region == region, _P.c.name == name
                )
            )
            return bool(done.rowcount)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_V).where(_V.c.tenant_id == tenant_id))
            conn.execute(sa.delete(_R).where(_R.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_P).where(_P.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)

    async def held(self, tier: Tier) -> dict[tuple[str, str], int]:
        query = (
            sa.select(_P.c.tenant_id, _P.c.region, sa.func.count())
            .where(_P.c.tier == str(tier))
            .group_by(_P.c.tenant_id, _P.c.region)
        )

        def work(conn: Connection) -> dict[tuple[str, str], int]:
            return {(str(t), str(r)): int(n) for t, r, n in conn.execute(query).all()}

        return await self._db.read(work)

    async def policies(self, tenant_id: str, region: str, name: str) -> list[ResourcePolicy]:
        query = (
            sa.select(_R)
            .where(_R.c.tenant_id == tenant_id, _R.c.region == region, _R.c.name == name)
            .order_by(_R.c.created, _R.c.policy_id)
        )

        def work(conn: Connection) -> list[ResourcePolicy]:
            return [_policy(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def put_policy(self, policy: ResourcePolicy, expected_hash: str | None) -> None:
        row = {
            "policy_hash": policy.policy_hash,
            "policy": policy.policy,
            "accounts": _accounts(policy.accounts),
            "created": _us(policy.created),
            "format_version": FORMAT_VERSION,
        }
        key = (policy.tenant_id, policy.region, policy.name)

        def work(conn: Connection) -> None:
            # The parameter's row, held: a deletion under way cannot leave the policy behind.
            held = conn.execute(
                sa.select(_P.c.revision)
                .where(_P.c.tenant_id == key[0], _P.c.region == key[1], _P.c.name == key[2])
                .with_for_update()
            ).first()
            if held is None:
                raise ResourceNotFound(policy.name)
            if expected_hash is None:
                conn.execute(
                    sa.insert(_R).values(
                        tenant_id=key[0], region=key[1], name=key[2],
                        policy_id=policy.policy_id, **row,
                    )
                )  # fmt: skip
                return
            _check(conn, key, policy.policy_id, expected_hash)
            conn.execute(
                sa.update(_R)
                .where(*_policy_key(key, policy.policy_id), _R.c.policy_hash == expected_hash)
                .values(**row)
            )

        try:
            await self._db.write(work)
        except IntegrityError:
            raise ResourcePolicyConflict(policy.policy_id) from None

    async def delete_policy(
        self, tenant_id: str, region: str, name: str, policy_id: str, expected_hash: str
    ) -> None:
        key = (tenant_id, region, name)

        def work(conn: Connection) -> None:
            _check(conn, key, policy_id, expected_hash)
            conn.execute(
                sa.delete(_R).where(*_policy_key(key, policy_id), _R.c.policy_hash == expected_hash)
            )

        await self._db.write(work)

    async def shared_with(self, account: str, region: str) -> list[Parameter]:
        # An account id is twelve digits: no LIKE wildcard in the pattern.
        owners = (
            sa.select(_R.c.tenant_id, _R.c.name)
            .where(
                _R.c.region == region,
                _R.c.tenant_id != account,
                _R.c.accounts.like(f"%,{account},%"),
            )
            .distinct()
        )

        def work(conn: Connection) -> list[tuple[str, str]]:
            return sorted((str(t), str(n)) for t, n in conn.execute(owners).all())

        found = []
        for tenant_id, name in await self._db.read(work):
            held = await self.get(tenant_id, region, name)
            if held is not None:
                found.append(held)
        return found


def _accounts(accounts: tuple[str, ...]) -> str:
    return "," + ",".join(accounts) + ","


def _policy_key(key: tuple[str, str, str], policy_id: str) -> tuple[Any, ...]:
    return (
        _R.c.tenant_id == key[0],
        _R.c.region == key[1],
        _R.c.name == key[2],
        _R.c.policy_id == policy_id,
    )


def _check(conn: Connection, key: tuple[str, str, str], policy_id: str, expected: str) -> None:
    """The policy's row, held, still at hash ``expected``."""
    held = conn.execute(
        sa.select(_R.c.policy_hash).where(*_policy_key(key, policy_id)).with_for_update()
    ).first()
    if held is None:
        raise ResourcePolicyNotFound(policy_id)
    if str(held[0]) != expected:
        raise ResourcePolicyConflict(policy_id)


def _policy(m: Any) -> ResourcePolicy:
    return ResourcePolicy(
        tenant_id=m["tenant_id"],
        region=m["region"],
        name=m["name"],
        policy_id=m["policy_id"],
        policy_hash=m["policy_hash"],
        policy=m["policy"],
        accounts=tuple(a for a in str(m["accounts"]).split(",") if a),
        created=datetime.fromtimestamp(int(m["created"]) / 1_000_000, UTC),
    )
