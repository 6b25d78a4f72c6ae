"""State machine versions and aliases over the metadata database (SQLite or PostgreSQL), the
tables of migration 0134 (decision 0283).

A version's definition is customer data: sealed under its account's key ring, its AAD the
version's ARN and creation time, so a sealed definition cannot be moved to another version.
A version's deletion reads the machine's aliases in its own transaction and refuses while one
routes to it (``ConflictException``); an alias's writes are compare-and-set on ``revision``."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.errors import ConflictException
from andromede.stepfunctions.model import MachineType
from andromede.stepfunctions.store import DocumentSealer
from andromede.stepfunctions.version_store import aliases_quota, routed_conflict, versions_quota
from andromede.stepfunctions.versions import MachineAlias, MachineVersion

__all__ = ["SqlVersionStore"]

_V = tables.stepfunctions_versions
_A = tables.stepfunctions_aliases
FORMAT_VERSION: Final = 1


def _context(version: MachineVersion) -> bytes:
    return f"states-version\n{version.arn}\n{version.created}".encode()


def _of_machine(table: sa.Table, tenant_id: str, region: str, machine: str) -> Any:
    return sa.and_(
        table.c.tenant_id == tenant_id, table.c.region == region, table.c.machine_name == machine
    )


def _alias(row: Any) -> MachineAlias:
    return MachineAlias(
        tenant_id=row["tenant_id"],
        region=row["region"],
        machine_name=row["machine_name"],
        name=row["alias_name"],
        routing=tuple((int(n), int(w)) for n, w in json.loads(row["routing"])),
        description=row["description"],
        created=int(row["created"]),
        updated=int(row["updated"]),
        revision=int(row["revision"]),
    )


def _alias_columns(alias: MachineAlias) -> dict[str, Any]:
    return {
        "description": alias.description,
        "routing": json.dumps([list(r) for r in alias.routing]),
        "created": alias.created,
        "updated": alias.updated,
        "revision": alias.revision,
    }


class SqlVersionStore:
    def __init__(self, db: Database, sealer: DocumentSealer) -> None:
        self._db = db
        self._sealer = sealer

    async def _version(self, row: Any) -> MachineVersion:
        fields = json.loads(row["settings"])
        shell = MachineVersion(
            tenant_id=row["tenant_id"],
            region=row["region"],
            machine_name=row["machine_name"],
            number=int(row["version_number"]),
            definition="",
            role_arn=row["role_arn"],
            machine_type=MachineType(row["machine_type"]),
            revision_id=row["revision_id"],
            description=fields.get("description"),
            logging=dict(fields["logging"]),
            tracing=bool(fields["tracing"]),
            created=int(row["created"]),
        )
        opened = await self._sealer.open(
            shell.tenant_id, bytes(row["definition_sealed"]), _context(shell)
        )
        return dataclasses.replace(shell, definition=opened.decode())

    async def add_version(self, version: MachineVersion, max_versions: int) -> None:
        sealed = await self._sealer.seal(
            version.tenant_id, version.definition.encode(), _context(version)
        )
        mine = _of_machine(_V, version.tenant_id, version.region, version.machine_name)
        count = sa.select(sa.func.count()).select_from(_V).where(mine)
        settings = {"description": version.description, "logging": version.logging,
                    "tracing": version.tracing}  # fmt: skip

        def work(conn: Connection) -> None:
            if int(conn.execute(count).scalar_one()) >= max_versions:
                raise versions_quota(max_versions)
            conn.execute(
                sa.insert(_V).values(
                    tenant_id=version.tenant_id,
                    region=version.region,
                    machine_name=version.machine_name,
                    version_number=version.number,
                    machine_type=version.machine_type.value,
                    role_arn=version.role_arn,
                    revision_id=version.revision_id,
                    definition_sealed=sealed,
                    settings=json.dumps(settings, sort_keys=True),
                    created=version.created,
                    format_version=FORMAT_VERSION,
                )
            )

        try:
            await self._db.write(work)
        except IntegrityError:
            raise ConflictException(f"Version {version.arn} exists already: try again.") from None

    async def version(
        self, tenant_id: str, region: str, machine: str, number: int
    ) -> MachineVersion | None:
        query = sa.select(_V).where(
            _of_machine(_V, tenant_id, region, machine), _V.c.version_number == number
        )

        def work(conn: Connection) -> Any:
            return conn.execute(query).mappings().first()

        row = await self._db.read(work)
        return None if row is None else await self._version(row)

    async def count_versions(self, tenant_id: str, region: str, machine: str) -> int:
        count = (
            sa.select(sa.func.count())
            .select_from(_V)
            .where(_of_machine(_V, tenant_id, region, machine))
        )

        def work(conn: Connection) -> int:
            return int(conn.execute(count).scalar_one())

        return await self._db.read(work)

    async def versions(
        self, tenant_id: str, region: str, machine: str, below: int | None, limit: int
    ) -> list[MachineVersion]:
        query = sa.select(_V).where(_of_machine(_V, tenant_id, region, machine))
        if below is not None:
            query = query.where(_V.c.version_number < below)
        query = query.order_by(_V.c.version_number.desc()).limit(limit)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).mappings())

        return [await self._version(row) for row in await self._db.read(work)]

    async def delete_version(self, tenant_id: str, region: str, machine: str, number: int) -> bool:
        one = sa.and_(_of_machine(_V, tenant_id, region, machine), _V.c.version_number == number)
        aliases = sa.select(_A).where(_of_machine(_A, tenant_id, region, machine))

        def work(conn: Connection) -> bool:
            if conn.execute(sa.select(_V.c.version_number).where(one)).first() is None:
                return False
            for row in conn.execute(aliases).mappings():
                alias = _alias(row)
                if any(n == number for n, _ in alias.routing):
                    raise routed_conflict(alias.version_arn(number), alias.arn)
            return bool(conn.execute(sa.delete(_V).where(one)).rowcount == 1)

        return await self._db.write(work)

    async def add_alias(self, alias: MachineAlias, max_aliases: int) -> MachineAlias | None:
        mine = _of_machine(_A, alias.tenant_id, alias.region, alias.machine_name)
        where = sa.and_(mine, _A.c.alias_name == alias.name)
        count = sa.select(sa.func.count()).select_from(_A).where(mine)

        def work(conn: Connection) -> Any:
            found = conn.execute(sa.select(_A).where(where)).mappings().first()
            if found is not None:
                return found
            if int(conn.execute(count).scalar_one()) >= max_aliases:
                raise aliases_quota(max_aliases)
            conn.execute(
                sa.insert(_A).values(
                    tenant_id=alias.tenant_id,
                    region=alias.region,
                    machine_name=alias.machine_name,
                    alias_name=alias.name,
                    **_alias_columns(alias),
                )
            )
            return None

        try:
            found = await self._db.write(work)
        except IntegrityError:  # made by another gateway between the read and the insert
            return await self.alias(alias.tenant_id, alias.region, alias.machine_name, alias.name)
        return None if found is None else _alias(found)

    async def alias(
        self, tenant_id: str, region: str, machine: str, name: str
    ) -> MachineAlias | None:
        query = sa.select(_A).where(
            _of_machine(_A, tenant_id, region, machine), _A.c.alias_name == name
        )

        def work(conn: Connection) -> Any:
            return conn.execute(query).mappings().first()

        row = await self._db.read(work)
        return None if row is None else _alias(row)

    async def aliases(
        self, tenant_id: str, region: str, machine: str, after: str | None, limit: int
    ) -> list[MachineAlias]:
        query = sa.select(_A).where(_of_machine(_A, tenant_id, region, machine))
        if after is not None:
            query = query.where(_A.c.alias_name > after)
        query = query.order_by(_A.c.alias_name).limit(limit)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).mappings())

        return [_alias(row) for row in await self._db.read(work)]

    async def replace_alias(self, alias: MachineAlias) -> bool:
        statement = (
            sa.update(_A)
            .where(
                _of_machine(_A, alias.tenant_id, alias.region, alias.machine_name),
                _A.c.alias_name == alias.name,
                _A.c.revision == alias.revision - 1,
            )
            .values(**_alias_columns(alias))
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete_alias(self, tenant_id: str, region: str, machine: str, name: str) -> bool:
        statement = sa.delete(_A).where(
            _of_machine(_A, tenant_id, region, machine), _A.c.alias_name == name
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def forget_machine(self, tenant_id: str, region: str, machine: str) -> None:
        def work(conn: Connection) -> None:
            conn.execute(sa.delete(_A).where(_of_machine(_A, tenant_id, region, machine)))
            conn.execute(sa.delete(_V).where(_of_machine(_V, tenant_id, region, machine)))

        await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        def work(conn: Connection) -> int:
            conn.execute(sa.delete(_A).where(_A.c.tenant_id == tenant_id))
            return int(conn.execute(sa.delete(_V).where(_V.c.tenant_id == tenant_id)).rowcount)

        return await self._db.write(work)
