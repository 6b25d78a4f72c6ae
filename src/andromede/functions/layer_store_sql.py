"""Lambda's layers over the metadata database (SQLite or PostgreSQL), the tables of
migration 0138 (decision 0302).

A version and its sealed content are written in one transaction, its number guarded by the
primary key: of two gateways publishing the same number, one wins and the other takes the
next. The policy is replaced by a guarded ``UPDATE … WHERE policy_revision = <read>``. The
store never sees a layer's content in clear."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.errors import FunctionChanged
from andromede.functions.layer_model import LayerVersion

__all__ = ["SqlLayerStore"]

_V = tables.lambda_layer_versions
_C = tables.lambda_layer_content
FORMAT_VERSION: Final = 1


def _definition(version: LayerVersion) -> str:
    return json.dumps(
        {
            "description": version.description,
            "runtimes": list(version.runtimes),
            "architectures": list(version.architectures),
            "license": version.license_info,
            "created": version.created,
            "unzipped": version.unzipped_size,
            # decision 0394; absent from a version written before: unsigned
            "signing_profile_version_arn": version.signing_profile_version_arn,
            "signing_job_arn": version.signing_job_arn,
        },
        sort_keys=True,
    )


def _version(row: Any) -> LayerVersion:
    fields = json.loads(row["definition"])
    return LayerVersion(
        tenant_id=row["tenant_id"],
        name=row["name"],
        version=int(row["version"]),
        code_sha256=row["code_sha256"],
        code_size=int(row["code_size"]),
        unzipped_size=int(fields["unzipped"]),
        created=int(fields["created"]),
        description=str(fields["description"]),
        runtimes=tuple(str(r) for r in fields["runtimes"]),
        architectures=tuple(str(a) for a in fields["architectures"]),
        license_info=str(fields["license"]),
        policy=row["policy"],
        policy_revision=row["policy_revision"],
        deleted=bool(row["deleted"]),
        signing_profile_version_arn=str(fields.get("signing_profile_version_arn", "")),
        signing_job_arn=str(fields.get("signing_job_arn", "")),
    )


def _key(tenant_id: str, name: str, version: int, table: sa.Table = _V) -> Any:
    return sa.and_(table.c.tenant_id == tenant_id, table.c.name == name, table.c.version == version)


class SqlLayerStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, version: LayerVersion, sealed: bytes) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.insert(_V).values(
                    tenant_id=version.tenant_id,
                    name=version.name,
                    version=version.version,
                    definition=_definition(version),
                    code_sha256=version.code_sha256,
                    code_size=version.code_size,
                    policy=version.policy,
                    policy_revision=version.policy_revision,
                    deleted=version.deleted,
                    format_version=FORMAT_VERSION,
                )
            )
            conn.execute(
                sa.insert(_C).values(
                    tenant_id=version.tenant_id,
                    name=version.name,
                    version=version.version,
                    sealed=sealed,
                )
            )

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise FunctionChanged(version.name) from exc

    async def last_number(self, tenant_id: str, name: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.max(_V.c.version), 0)).where(
            _V.c.tenant_id == tenant_id, _V.c.name == name
        )
        return int(await self._db.read(lambda conn: conn.execute(query).scalar_one()))

    async def _versions(self, where: Any) -> list[LayerVersion]:
        query = sa.select(_V).where(where).order_by(_V.c.name, _V.c.version)

        def work(conn: Connection) -> list[LayerVersion]:
            return [_version(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, name: str, version: int) -> LayerVersion | None:
        found = await self._versions(_key(tenant_id, name, version))
        return found[0] if found else None

    async def versions(self, tenant_id: str, name: str | None = None) -> list[LayerVersion]:
        where = sa.and_(_V.c.tenant_id == tenant_id, _V.c.deleted.is_(False))
        if name is not None:
            where = sa.and_(where, _V.c.name == name)
        return await self._versions(where)

    async def content(self, tenant_id: str, name: str, version: int) -> bytes | None:
        query = sa.select(_C.c.sealed).where(_key(tenant_id, name, version, _C))

        def work(conn: Connection) -> bytes | None:
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else bytes(found)

        return await self._db.read(work)

    async def mark_deleted(self, tenant_id: str, name: str, version: int) -> bool:
        update = (
            sa.update(_V)
            .where(_key(tenant_id, name, version), _V.c.deleted.is_(False))
            .values(deleted=True, policy=None)
        )
        return bool(await self._db.write(lambda conn: conn.execute(update).rowcount == 1))

    async def replace_policy(
        self, tenant_id: str, name: str, version: int, policy: str | None, revision: str, was: str
    ) -> None:
        update = (
            sa.update(_V)
            .where(
                _key(tenant_id, name, version),
                _V.c.deleted.is_(False),
                _V.c.policy_revision == was,
            )
            .values(policy=policy, policy_revision=revision)
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount != 1:
                raise FunctionChanged(name)

        await self._db.write(work)

    async def live_bytes(self, tenant_id: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(_V.c.code_size), 0)).where(
            _V.c.tenant_id == tenant_id, _V.c.deleted.is_(False)
        )
        return int(await self._db.read(lambda conn: conn.execute(query).scalar_one()))

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_C).where(_C.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_V).where(_V.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
