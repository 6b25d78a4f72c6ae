"""The secret store over the metadata database (SQLite or PostgreSQL), the tables of
migration 0085 (decision 0190). A write of versions holds the secret's row and checks its
revision in the same transaction; the sweeper's purge takes due rows ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so gateways purging at once share the work rather than wait."""

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
from andromede.secrets.errors import Conflict, SecretExists
from andromede.secrets.model import REPLICA_IN_PROGRESS, Replica, Secret, SecretVersion

__all__ = ["SqlSecretStore"]

_S = tables.secrets
_V = tables.secret_versions
_R = tables.secret_replicas
FORMAT_VERSION: Final = 1


def _us(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp() * 1_000_000)


def _when(value: Any) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value) / 1_000_000, UTC)


def _secret_row(secret: Secret, revision: int) -> dict[str, Any]:
    return {
        "arn": secret.arn,
        "tenant_id": secret.tenant_id,
        "region": secret.region,
        "name": secret.name,
        "description": secret.description,
        "kms_key_id": secret.kms_key_id,
        "tags": json.dumps([list(t) for t in secret.tags]),
        "policy": secret.policy,
        "created": _us(secret.created),
        "last_changed": _us(secret.last_changed),
        "last_accessed": _us(secret.last_accessed),
        "deleted_date": _us(secret.deleted_date),
        "revision": revision,
        "format_version": FORMAT_VERSION,
        "primary_region": secret.primary_region,
    }


def _secret(m: Any) -> Secret:
    created, changed = _when(m["created"]), _when(m["last_changed"])
    assert created is not None and changed is not None  # noqa: S101 (NOT NULL columns)
    return Secret(
        arn=m["arn"],
        tenant_id=m["tenant_id"],
        region=m["region"],
        name=m["name"],
        created=created,
        last_changed=changed,
        description=m["description"],
        kms_key_id=m["kms_key_id"],
        tags=tuple((str(k), str(v)) for k, v in json.loads(m["tags"])),
        policy=m["policy"],
        last_accessed=_when(m["last_accessed"]),
        deleted_date=_when(m["deleted_date"]),
        revision=int(m["revision"]),
        primary_region=m["primary_region"],
    )


def _version_row(version: SecretVersion) -> dict[str, Any]:
    return {
        "secret_arn": version.secret_arn,
        "version_id": version.version_id,
        "stages": json.dumps(list(version.stages)),
        "created": _us(version.created),
        "last_accessed": _us(version.last_accessed),
        "sealed": version.sealed,
        "binary": version.binary,
        "format_version": FORMAT_VERSION,
    }


def _version(m: Any) -> SecretVersion:
    created = _when(m["created"])
    assert created is not None  # noqa: S101 (NOT NULL column)
    return SecretVersion(
        secret_arn=m["secret_arn"],
        version_id=m["version_id"],
        stages=tuple(json.loads(m["stages"])),
        created=created,
        sealed=bytes(m["sealed"]),
        binary=bool(m["binary"]),
        last_accessed=_when(m["last_accessed"]),
    )


class SqlSecretStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, secret: Secret, version: SecretVersion | None) -> None:
        def work(conn: Connection) -> None:
            conn.execute(sa.insert(_S).values(**_secret_row(secret, secret.revision)))
            if version is not None:
                conn.execute(sa.insert(_V).values(**_version_row(version)))

        try:
            await self._db.write(work)
        except IntegrityError:
            raise SecretExists(
                f"The operation failed because the secret {secret.name} already exists."
            ) from None

    async def get(self, tenant_id: str, region: str, name: str) -> Secret | None:
        query = sa.select(_S).where(
            _S.c.tenant_id == tenant_id, _S.c.region == region, _S.c.name == name
        )

        def work(conn: Connection) -> Secret | None:
            row = conn.execute(query).first()
            return None if row is None else _secret(row._mapping)

        return await self._db.read(work)

    async def count(self, tenant_id: str, region: str) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(_S)
            .where(_S.c.tenant_id == tenant_id, _S.c.region == region)
        )

        def work(conn: Connection) -> int:
            return int(conn.execute(query).scalar_one())

        return await self._db.read(work)

    async def list_all(self, tenant_id: str, region: str) -> list[Secret]:
        query = (
            sa.select(_S)
            .where(_S.c.tenant_id == tenant_id, _S.c.region == region)
            .order_by(_S.c.name)
        )

        def work(conn: Connection) -> list[Secret]:
            return [_secret(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def versions(self, arn: str) -> list[SecretVersion]:
        query = sa.select(_V).where(_V.c.secret_arn == arn).order_by(_V.c.created, _V.c.version_id)

        def work(conn: Connection) -> list[SecretVersion]:
            return [_version(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    @staticmethod
    def _replace(conn: Connection, secret: Secret, expected_revision: int) -> None:
        row = _secret_row(secret, expected_revision + 1)
        done = conn.execute(
            sa.update(_S)
            .where(_S.c.arn == secret.arn, _S.c.revision == expected_revision)
            .values(**row)
        )
        if done.rowcount != 1:
            raise Conflict(f"{secret.arn} changed meanwhile")

    async def update(self, secret: Secret, expected_revision: int) -> Secret:
        def work(conn: Connection) -> None:
            self._replace(conn, secret, expected_revision)

        await self._db.write(work)
        return _with_revision(secret, expected_revision + 1)

    async def write_versions(
        self,
        secret: Secret,
        expected_revision: int,
        new: SecretVersion | None,
        stages: Mapping[str, tuple[str, ...]],
        drop: Sequence[str] = (),
        *,
        resealed: Mapping[str, bytes] | None = None,
        added: Sequence[SecretVersion] = (),
    ) -> Secret:
        def work(conn: Connection) -> None:
            self._replace(conn, secret, expected_revision)
            for version in (*added, *(() if new is None else (new,))):
                conn.execute(sa.insert(_V).values(**_version_row(version)))
            for version_id, held in stages.items():
                conn.execute(
                    sa.update(_V)
                    .where(_V.c.secret_arn == secret.arn, _V.c.version_id == version_id)
                    .values(stages=json.dumps(list(held)))
                )
            for version_id, sealed in (resealed or {}).items():
                conn.execute(
                    sa.update(_V)
                    .where(_V.c.secret_arn == secret.arn, _V.c.version_id == version_id)
                    .values(sealed=sealed)
                )
            if drop:
                conn.execute(
                    sa.delete(_V).where(_V.c.secret_arn == secret.arn, _V.c.version_id.in_(drop))
                )

        try:
            await self._db.write(work)
        except IntegrityError:  # a version written meanwhile under the same id
            raise Conflict(f"{secret.arn} changed meanwhile") from None
        return _with_revision(secret, expected_revision + 1)

    async def crowded(self, more_than: int, limit: int) -> list[Secret]:
        crowded = (
            sa.select(_V.c.secret_arn)
            .group_by(_V.c.secret_arn)
            .having(sa.func.count() > more_than)
            .order_by(_V.c.secret_arn)
            .limit(limit)
        )
        query = sa.select(_S).where(_S.c.arn.in_(crowded)).order_by(_S.c.arn)

        def work(conn: Connection) -> list[Secret]:
            return [_secret(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def held(self) -> dict[tuple[str, str], int]:
        query = (
            sa.select(_S.c.tenant_id, _S.c.region, sa.func.count())
            .where(_S.c.deleted_date.is_(None))
            .group_by(_S.c.tenant_id, _S.c.region)
        )

        def work(conn: Connection) -> dict[tuple[str, str], int]:
            return {(str(t), str(r)): int(n) for t, r, n in conn.execute(query).all()}

        return await self._db.read(work)

    async def touch(self, arn: str, version_id: str, when: datetime) -> None:
        at = _us(when)

        def work(conn: Connection) -> None:
            conn.execute(sa.update(_S).where(_S.c.arn == arn).values(last_accessed=at))
            conn.execute(
                sa.update(_V)
                .where(_V.c.secret_arn == arn, _V.c.version_id == version_id)
                .values(last_accessed=at)
            )

        await self._db.write(work)

    async def delete(self, arn: str) -> bool:
        def work(conn: Connection) -> bool:
            conn.execute(sa.delete(_V).where(_V.c.secret_arn == arn))
            conn.execute(sa.delete(_R).where(_R.c.primary_arn == arn))
            return bool(conn.execute(sa.delete(_S).where(_S.c.arn == arn)).rowcount)

        return await self._db.write(work)

    async def purge_due(self, now: datetime, limit: int) -> list[str]:
        due = (
            sa.select(_S.c.arn)
            .where(_S.c.deleted_date.is_not(None), _S.c.deleted_date <= _us(now))
            .order_by(_S.c.deleted_date)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )

        def work(conn: Connection) -> list[str]:
            arns = [str(r[0]) for r in conn.execute(due).all()]
            if arns:
                conn.execute(sa.delete(_V).where(_V.c.secret_arn.in_(arns)))
                conn.execute(sa.delete(_S).where(_S.c.arn.in_(arns)))
            return arns

        return await self._db.write(work)

    # --- replication (decision 0207) ----------------------------------------------------

    async def replicas(self, primary_arn: str) -> list[Replica]:
        query = sa.select(_R).where(_R.c.primary_arn == primary_arn).order_by(_R.c.region)

        def work(conn: Connection) -> list[Replica]:
            return [_replica(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)

    async def put_replica(self, replica: Replica) -> None:
        row = _replica_row(replica)

        def work(conn: Connection) -> None:
            conn.execute(
                sa.delete(_R).where(
                    _R.c.primary_arn == replica.primary_arn, _R.c.region == replica.region
                )
            )
            conn.execute(sa.insert(_R).values(**row))

        await self._db.write(work)

    async def drop_replica(self, primary_arn: str, region: str) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                sa.delete(_R).where(_R.c.primary_arn == primary_arn, _R.c.region == region)
            )
            return bool(done.rowcount)

        return await self._db.write(work)

    async def mark_due(self, primary_arn: str, when: datetime) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.update(_R)
                .where(_R.c.primary_arn == primary_arn)
                .values(
                    status=REPLICA_IN_PROGRESS,
                    message=None,
                    due=_us(when),
                    attempts=0,
                    generation=_R.c.generation + 1,
                )
            )

        await self._db.write(work)

    async def settle(self, replica: Replica, generation: int) -> bool:
        def work(conn: Connection) -> bool:
            done = conn.execute(
                sa.update(_R)
                .where(
                    _R.c.primary_arn == replica.primary_arn,
                    _R.c.region == replica.region,
                    _R.c.generation == generation,
                )
                .values(
                    status=replica.status,
                    message=replica.message,
                    due=_us(replica.due),
                    attempts=replica.attempts,
                )
            )
            return bool(done.rowcount)

        return await self._db.write(work)

    async def due_replicas(
        self, regions: Sequence[str], now: datetime, limit: int
    ) -> list[Replica]:
        query = (
            sa.select(_R)
            .where(_R.c.region.in_(list(regions)), _R.c.due.is_not(None), _R.c.due <= _us(now))
            .order_by(_R.c.due, _R.c.primary_arn, _R.c.region)
            .limit(limit)
        )

        def work(conn: Connection) -> list[Replica]:
            return [_replica(r._mapping) for r in conn.execute(query).all()]

        return await self._db.read(work)


def _replica_row(replica: Replica) -> dict[str, Any]:
    return {
        "primary_arn": replica.primary_arn,
        "region": replica.region,
        "tenant_id": replica.tenant_id,
        "kms_key_id": replica.kms_key_id,
        "status": replica.status,
        "message": replica.message,
        "due": _us(replica.due),
        "attempts": replica.attempts,
        "generation": replica.generation,
        "overwrite": replica.overwrite,
        "format_version": FORMAT_VERSION,
    }


def _replica(m: Any) -> Replica:
    return Replica(
        primary_arn=m["primary_arn"],
        tenant_id=m["tenant_id"],
        region=m["region"],
        kms_key_id=m["kms_key_id"],
        status=m["status"],
        message=m["message"],
        due=_when(m["due"]),
        attempts=int(m["attempts"]),
        generation=int(m["generation"]),
        overwrite=bool(m["overwrite"]),
    )


def _with_revision(secret: Secret, revision: int) -> Secret:
    return replace(secret, revision=revision)
