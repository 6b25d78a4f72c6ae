"""Lambda's functions over the metadata database (SQLite or PostgreSQL), the tables of
migration 0135 (decision 0286).

A function's tags, aliases, policies and counters are one JSON ``definition`` written by a
guarded ``UPDATE … WHERE version = <read>``; ``$LATEST`` is replaced by one guarded on its
``revision_id``: of two gateways changing a function at once, one wins and the other reads
again. A version's environment and the code zips arrive sealed; the store never sees them
in clear."""

from __future__ import annotations

import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.functions.errors import FunctionChanged
from andromede.functions.layer_model import FunctionLayer
from andromede.functions.memory import version_order
from andromede.functions.model import LATEST, Alias, FunctionRecord, FunctionVersion

__all__ = ["SqlFunctionStore"]

_F = tables.lambda_functions
_V = tables.lambda_versions
_C = tables.lambda_code
FORMAT_VERSION: Final = 1


def _definition(record: FunctionRecord) -> str:
    return json.dumps(
        {
            "tags": [list(t) for t in record.tags],
            "aliases": [
                [a.name, a.version, a.description, a.revision_id, [list(w) for w in a.weights]]
                for a in record.aliases
            ],
            "policies": [list(p) for p in record.policies],
            "reserved": record.reserved_concurrency,
            "recursive_loop": record.recursive_loop,
            "last_version": record.last_version,
        },
        sort_keys=True,
    )


def _record(row: Any) -> FunctionRecord:
    fields = json.loads(row["definition"])
    return FunctionRecord(
        tenant_id=row["tenant_id"],
        name=row["name"],
        created=int(row["created"]),
        tags=tuple((str(k), str(v)) for k, v in fields["tags"]),
        aliases=tuple(
            Alias(str(n), str(v), str(d), str(r), tuple((str(w), float(x)) for w, x in weights))
            for n, v, d, r, weights in fields["aliases"]
        ),
        policies=tuple((str(q), str(p)) for q, p in fields["policies"]),
        reserved_concurrency=fields["reserved"],
        # Written before decision 0328: AWS's default.
        recursive_loop=str(fields.get("recursive_loop", "Terminate")),
        last_version=int(fields["last_version"]),
        version=int(row["version"]),
    )


def _configuration(version: FunctionVersion) -> str:
    return json.dumps(
        {
            "runtime": version.runtime,
            "role": version.role,
            "handler": version.handler,
            "description": version.description,
            "timeout": version.timeout,
            "memory_size": version.memory_size,
            "architectures": list(version.architectures),
            "last_modified": version.last_modified,
            "ephemeral_storage": version.ephemeral_storage,
            "dead_letter_target": version.dead_letter_target,
            # decision 0302; absent from a version written before layers: none
            # decision 0394: and each layer's signature, when it has one
            "layers": [_layer_members(x) for x in version.layers],
            # decision 0394; absent from a version written before: unsigned
            "signing_profile_version_arn": version.signing_profile_version_arn,
            "signing_job_arn": version.signing_job_arn,
        },
        sort_keys=True,
    )


def _version_values(version: FunctionVersion) -> dict[str, Any]:
    return {
        "configuration": _configuration(version),
        "sealed_environment": version.sealed_environment,
        "code_sha256": version.code_sha256,
        "code_size": version.code_size,
        "revision_id": version.revision_id,
        "format_version": FORMAT_VERSION,
    }


def _version(row: Any) -> FunctionVersion:
    fields = json.loads(row["configuration"])
    return FunctionVersion(
        tenant_id=row["tenant_id"],
        name=row["name"],
        version=row["version"],
        runtime=str(fields["runtime"]),
        role=str(fields["role"]),
        handler=str(fields["handler"]),
        code_sha256=row["code_sha256"],
        code_size=int(row["code_size"]),
        revision_id=row["revision_id"],
        last_modified=int(fields["last_modified"]),
        description=str(fields["description"]),
        timeout=int(fields["timeout"]),
        memory_size=int(fields["memory_size"]),
        architectures=tuple(str(a) for a in fields["architectures"]),
        sealed_environment=bytes(row["sealed_environment"]),
        ephemeral_storage=int(fields["ephemeral_storage"]),
        dead_letter_target=str(fields.get("dead_letter_target", "")),
        layers=tuple(_layer(*layer) for layer in fields.get("layers", [])),
        signing_profile_version_arn=str(fields.get("signing_profile_version_arn", "")),
        signing_job_arn=str(fields.get("signing_job_arn", "")),
    )


def _layer_members(layer: FunctionLayer) -> list[str | int]:
    return [
        layer.arn,
        layer.code_size,
        layer.unzipped_size,
        layer.signing_profile_version_arn,
        layer.signing_job_arn,
    ]


def _layer(
    arn: str, size: int, unzipped: int, profile_version: str = "", job: str = ""
) -> FunctionLayer:
    """A function's layer as kept: three members before decision 0394, five since."""
    return FunctionLayer(str(arn), int(size), int(unzipped), str(profile_version), str(job))


class SqlFunctionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, record: FunctionRecord, latest: FunctionVersion) -> None:
        def work(conn: Connection) -> None:
            conn.execute(
                sa.insert(_F).values(
                    tenant_id=record.tenant_id,
                    name=record.name,
                    definition=_definition(record),
                    created=record.created,
                    version=record.version,
                    format_version=FORMAT_VERSION,
                )
            )
            conn.execute(
                sa.insert(_V).values(
                    tenant_id=latest.tenant_id,
                    name=latest.name,
                    version=LATEST,
                    **_version_values(latest),
                )
            )

        try:
            await self._db.write(work)
        except IntegrityError as exc:
            raise FunctionChanged(record.name) from exc

    async def _records(self, where: Any) -> list[FunctionRecord]:
        query = sa.select(_F).where(where).order_by(_F.c.name)

        def work(conn: Connection) -> list[FunctionRecord]:
            return [_record(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def get(self, tenant_id: str, name: str) -> FunctionRecord | None:
        found = await self._records(sa.and_(_F.c.tenant_id == tenant_id, _F.c.name == name))
        return found[0] if found else None

    async def records(self, tenant_id: str) -> list[FunctionRecord]:
        return await self._records(_F.c.tenant_id == tenant_id)

    async def replace(self, record: FunctionRecord) -> None:
        update = (
            sa.update(_F)
            .where(
                _F.c.tenant_id == record.tenant_id,
                _F.c.name == record.name,
                _F.c.version == record.version - 1,
            )
            .values(definition=_definition(record), version=record.version)
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount != 1:
                raise FunctionChanged(record.name)

        await self._db.write(work)

    async def _versions(self, where: Any) -> list[FunctionVersion]:
        query = sa.select(_V).where(where)

        def work(conn: Connection) -> list[FunctionVersion]:
            return [_version(row) for row in conn.execute(query).mappings()]

        return await self._db.read(work)

    async def version(self, tenant_id: str, name: str, version: str) -> FunctionVersion | None:
        found = await self._versions(
            sa.and_(_V.c.tenant_id == tenant_id, _V.c.name == name, _V.c.version == version)
        )
        return found[0] if found else None

    async def versions(self, tenant_id: str, name: str) -> list[FunctionVersion]:
        found = await self._versions(sa.and_(_V.c.tenant_id == tenant_id, _V.c.name == name))
        return sorted(found, key=version_order)

    async def latest_versions(self, tenant_id: str) -> list[FunctionVersion]:
        found = await self._versions(sa.and_(_V.c.tenant_id == tenant_id, _V.c.version == LATEST))
        return sorted(found, key=lambda v: v.name)

    async def replace_latest(self, latest: FunctionVersion, revision_id: str) -> None:
        update = (
            sa.update(_V)
            .where(
                _V.c.tenant_id == latest.tenant_id,
                _V.c.name == latest.name,
                _V.c.version == LATEST,
                _V.c.revision_id == revision_id,
            )
            .values(**_version_values(latest))
        )

        def work(conn: Connection) -> None:
            if conn.execute(update).rowcount != 1:
                raise FunctionChanged(latest.name)

        await self._db.write(work)

    async def add_version(self, version: FunctionVersion) -> None:
        insert = sa.insert(_V).values(
            tenant_id=version.tenant_id,
            name=version.name,
            version=version.version,
            **_version_values(version),
        )
        try:
            await self._db.write_statement(lambda conn: conn.execute(insert))
        except IntegrityError as exc:
            raise FunctionChanged(version.name) from exc

    async def delete_version(self, tenant_id: str, name: str, version: str) -> bool:
        delete = sa.delete(_V).where(
            _V.c.tenant_id == tenant_id, _V.c.name == name, _V.c.version == version
        )
        return bool(await self._db.write(lambda conn: conn.execute(delete).rowcount == 1))

    async def put_code(self, tenant_id: str, name: str, sha256: str, sealed: bytes) -> None:
        exists = sa.select(_C.c.code_sha256).where(
            _C.c.tenant_id == tenant_id, _C.c.name == name, _C.c.code_sha256 == sha256
        )
        insert = sa.insert(_C).values(
            tenant_id=tenant_id, name=name, code_sha256=sha256, sealed=sealed
        )

        def work(conn: Connection) -> None:
            if conn.execute(exists).first() is None:
                conn.execute(insert)

        try:
            await self._db.write(work)
        except IntegrityError:  # another gateway kept the same zip first
            pass

    async def code(self, tenant_id: str, name: str, sha256: str) -> bytes | None:
        query = sa.select(_C.c.sealed).where(
            _C.c.tenant_id == tenant_id, _C.c.name == name, _C.c.code_sha256 == sha256
        )

        def work(conn: Connection) -> bytes | None:
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else bytes(found)

        return await self._db.read(work)

    async def drop_unused_code(self, tenant_id: str, name: str) -> int:
        used = sa.select(_V.c.code_sha256).where(_V.c.tenant_id == tenant_id, _V.c.name == name)
        delete = sa.delete(_C).where(
            _C.c.tenant_id == tenant_id, _C.c.name == name, _C.c.code_sha256.not_in(used)
        )
        return int(await self._db.write(lambda conn: conn.execute(delete).rowcount))

    async def code_bytes(self, tenant_id: str) -> int:
        query = sa.select(sa.func.coalesce(sa.func.sum(_V.c.code_size), 0)).where(
            _V.c.tenant_id == tenant_id
        )
        return int(await self._db.read(lambda conn: conn.execute(query).scalar_one()))

    async def delete(self, tenant_id: str, name: str) -> bool:
        def work(conn: Connection) -> bool:
            for table in (_C, _V):
                conn.execute(
                    sa.delete(table).where(table.c.tenant_id == tenant_id, table.c.name == name)
                )
            deleted = conn.execute(
                sa.delete(_F).where(_F.c.tenant_id == tenant_id, _F.c.name == name)
            )
            return bool(deleted.rowcount == 1)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            for table in (_C, _V):
                conn.execute(sa.delete(table).where(table.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_F).where(_F.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
