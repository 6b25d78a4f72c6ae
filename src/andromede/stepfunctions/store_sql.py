"""State machines over the metadata database (SQLite or PostgreSQL), the table of migration
0131 (decision 0271).

A definition is customer data: it is sealed under its account's key ring (the
:class:`~andromede.stepfunctions.store.DocumentSealer`), its AAD the machine's ARN and
creation time, so a closed account's definitions are unreadable and a sealed definition
cannot be moved to another machine. Each write is compare-and-set on ``revision``. The
account's bound of machines is counted before the insert: two gateways creating at the same
instant may pass it by one, a quota not a guarantee (as Pipes' pipes)."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.errors import StateMachineLimitExceeded
from andromede.stepfunctions.model import MachineType, StateMachine
from andromede.stepfunctions.store import DocumentSealer

__all__ = ["SqlStateMachineStore"]

_M = tables.stepfunctions_state_machines
FORMAT_VERSION: Final = 1


def _context(machine: StateMachine) -> bytes:
    return f"states\n{machine.arn}\n{machine.created}".encode()


def _settings(machine: StateMachine) -> str:
    return json.dumps(
        {
            "logging": machine.logging,
            "tracing": machine.tracing,
            "tags": [list(t) for t in machine.tags],
            "revision_id": machine.revision_id,
            "versions_published": machine.versions_published,
        },
        sort_keys=True,
    )


def _one(tenant_id: str, region: str, name: str) -> Any:
    return sa.and_(_M.c.tenant_id == tenant_id, _M.c.region == region, _M.c.machine_name == name)


class SqlStateMachineStore:
    def __init__(self, db: Database, sealer: DocumentSealer) -> None:
        self._db = db
        self._sealer = sealer

    async def _columns(self, machine: StateMachine) -> dict[str, Any]:
        sealed = await self._sealer.seal(
            machine.tenant_id, machine.definition.encode(), _context(machine)
        )
        return {
            "machine_type": machine.machine_type.value,
            "role_arn": machine.role_arn,
            "definition_sealed": sealed,
            "settings": _settings(machine),
            "created": machine.created,
            "updated": machine.updated,
            "revision": machine.revision,
            "format_version": FORMAT_VERSION,
        }

    async def _machine(self, row: Any) -> StateMachine:
        fields = json.loads(row["settings"])
        shell = StateMachine(
            tenant_id=row["tenant_id"],
            region=row["region"],
            name=row["machine_name"],
            definition="",
            role_arn=row["role_arn"],
            machine_type=MachineType(row["machine_type"]),
            revision_id=str(fields["revision_id"]),
            logging=dict(fields["logging"]),
            tracing=bool(fields["tracing"]),
            tags=tuple((str(k), str(v)) for k, v in fields["tags"]),
            created=int(row["created"]),
            updated=int(row["updated"]),
            revision=int(row["revision"]),
            versions_published=int(fields.get("versions_published", 0)),
        )
        opened = await self._sealer.open(
            shell.tenant_id, bytes(row["definition_sealed"]), _context(shell)
        )
        return dataclasses.replace(shell, definition=opened.decode())

    async def create(self, machine: StateMachine, max_machines: int) -> StateMachine | None:
        where = _one(machine.tenant_id, machine.region, machine.name)
        count = (
            sa.select(sa.func.count())
            .select_from(_M)
            .where(_M.c.tenant_id == machine.tenant_id, _M.c.region == machine.region)
        )
        columns = await self._columns(machine)

        def work(conn: Connection) -> Any:
            found = conn.execute(sa.select(_M).where(where)).mappings().first()
            if found is not None:
                return found
            if int(conn.execute(count).scalar_one()) >= max_machines:
                raise StateMachineLimitExceeded(
                    f"State Machine Limit Exceeded: '{max_machines} state machines'"
                )
            conn.execute(
                sa.insert(_M).values(
                    tenant_id=machine.tenant_id,
                    region=machine.region,
                    machine_name=machine.name,
                    **columns,
                )
            )
            return None

        try:
            found = await self._db.write(work)
        except IntegrityError:  # created by another gateway between the read and the insert
            return await self.get(machine.tenant_id, machine.region, machine.name)
        return None if found is None else await self._machine(found)

    async def get(self, tenant_id: str, region: str, name: str) -> StateMachine | None:
        query = sa.select(_M).where(_one(tenant_id, region, name))

        def work(conn: Connection) -> Any:
            return conn.execute(query).mappings().first()

        row = await self._db.read(work)
        return None if row is None else await self._machine(row)

    async def machines(
        self, tenant_id: str, region: str, after: str | None, limit: int
    ) -> list[StateMachine]:
        query = sa.select(_M).where(_M.c.tenant_id == tenant_id, _M.c.region == region)
        if after is not None:
            query = query.where(_M.c.machine_name > after)
        query = query.order_by(_M.c.machine_name).limit(limit)

        def work(conn: Connection) -> list[Any]:
            return list(conn.execute(query).mappings())

        return [await self._machine(row) for row in await self._db.read(work)]

    async def replace(self, machine: StateMachine) -> bool:
        columns = await self._columns(machine)
        statement = (
            sa.update(_M)
            .where(
                _one(machine.tenant_id, machine.region, machine.name),
                _M.c.revision == machine.revision - 1,
                _M.c.created == machine.created,
            )
            .values(**columns)
        )

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def delete(self, tenant_id: str, region: str, name: str) -> bool:
        statement = sa.delete(_M).where(_one(tenant_id, region, name))

        def work(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount == 1)

        return await self._db.write(work)

    async def forget_tenant(self, tenant_id: str) -> int:
        statement = sa.delete(_M).where(_M.c.tenant_id == tenant_id)

        def work(conn: Connection) -> int:
            return int(conn.execute(statement).rowcount)

        return await self._db.write(work)
