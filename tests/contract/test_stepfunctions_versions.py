"""Decision 0283's version store over every implementation (memory, SQLite, PostgreSQL):
versions by number, newest first in pages, counted and bounded, a number given once; a
version an alias routes to not deleted (ConflictException); aliases one a name (the one there
answered), bounded, listed by name, compare-and-set writes; a machine's and a closed tenant's
forgotten; over SQL, a version's definition sealed at rest (AAD its ARN), never in the clear.
And the execution store's new columns: an execution's version, alias and redrives kept and
filtered on."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.errors import ConflictException, ServiceQuotaExceededException
from andromede.stepfunctions.execution_memory import MemoryExecutionStore
from andromede.stepfunctions.execution_store import ExecutionStore
from andromede.stepfunctions.execution_store_sql import SqlExecutionStore
from andromede.stepfunctions.executions import Execution, ExecutionStatus
from andromede.stepfunctions.model import MachineType
from andromede.stepfunctions.version_store import MemoryVersionStore, VersionStore
from andromede.stepfunctions.version_store_sql import SqlVersionStore
from andromede.stepfunctions.versions import MachineAlias, MachineVersion
from andromede.wiring.queues import KeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

T0 = 1_800_000_000_000
SECRET = '{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"clear-secret-é","End":true}}}'
TENANT = "000000000001"


@pytest.fixture(params=BACKENDS)
async def stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[VersionStore, ExecutionStore]]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryVersionStore(), MemoryExecutionStore()
        else:
            keys = key_service_in(tmp_path / "keys")
            yield SqlVersionStore(db, KeySealer(keys)), SqlExecutionStore(db, KeySealer(keys))
            keys.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def version(number: int, machine: str = "m", tenant_id: str = TENANT) -> MachineVersion:
    return MachineVersion(
        tenant_id=tenant_id, region="eu-fr-1", machine_name=machine, number=number,
        definition=SECRET, role_arn=f"arn:aws:iam::{tenant_id}:role/r",
        machine_type=MachineType.STANDARD, revision_id=f"rev-{number}",
        description=f"v{number}", logging={"level": "OFF", "includeExecutionData": False},
        created=T0 + number,
    )  # fmt: skip


def alias(name: str, *routing: tuple[int, int], machine: str = "m") -> MachineAlias:
    return MachineAlias(TENANT, "eu-fr-1", machine, name, tuple(routing), "d", T0, T0)


async def test_versions_numbered_paged_bounded_and_deleted(
    stores: tuple[VersionStore, ExecutionStore],
) -> None:
    store, _ = stores
    for number in (1, 2, 3):
        await store.add_version(version(number), 3)
    await store.add_version(version(1, machine="other"), 3)
    with pytest.raises(ServiceQuotaExceededException):
        await store.add_version(version(4), 3)
    assert await store.count_versions(TENANT, "eu-fr-1", "m") == 3
    assert await store.version(TENANT, "eu-fr-1", "m", 2) == version(2)
    assert await store.version(TENANT, "eu-fr-2", "m", 2) is None
    newest = await store.versions(TENANT, "eu-fr-1", "m", None, 2)
    assert [v.number for v in newest] == [3, 2]
    assert [v.number for v in await store.versions(TENANT, "eu-fr-1", "m", 2, 5)] == [1]
    assert await store.delete_version(TENANT, "eu-fr-1", "m", 3)
    assert not await store.delete_version(TENANT, "eu-fr-1", "m", 3)
    await store.add_version(version(4), 3)
    with pytest.raises(ConflictException):
        await store.add_version(version(4), 5)  # a number is given once


async def test_aliases_made_paged_replaced_and_guarding_their_versions(
    stores: tuple[VersionStore, ExecutionStore],
) -> None:
    store, _ = stores
    for number in (1, 2):
        await store.add_version(version(number), 10)
    live = alias("live", (1, 40), (2, 60))
    assert await store.add_alias(live, 2) is None
    assert await store.add_alias(alias("live", (2, 100)), 2) == live  # the one there
    assert await store.add_alias(alias("beta", (2, 100)), 2) is None
    with pytest.raises(ServiceQuotaExceededException):
        await store.add_alias(alias("gamma", (2, 100)), 2)
    assert await store.alias(TENANT, "eu-fr-1", "m", "live") == live
    page = await store.aliases(TENANT, "eu-fr-1", "m", None, 1)
    assert [a.name for a in page] == ["beta"]
    assert [a.name for a in await store.aliases(TENANT, "eu-fr-1", "m", "beta", 5)] == ["live"]
    with pytest.raises(ConflictException):
        await store.delete_version(TENANT, "eu-fr-1", "m", 1)
    moved = live.changed(routing=((2, 100),), updated=T0 + 5)
    assert await store.replace_alias(moved)
    assert not await store.replace_alias(live.changed(routing=((1, 100),)))  # stale
    assert await store.alias(TENANT, "eu-fr-1", "m", "live") == moved
    assert await store.delete_version(TENANT, "eu-fr-1", "m", 1)
    assert await store.delete_alias(TENANT, "eu-fr-1", "m", "beta")
    assert not await store.delete_alias(TENANT, "eu-fr-1", "m", "beta")
    await store.add_version(version(1, machine="kept"), 10)
    await store.forget_machine(TENANT, "eu-fr-1", "m")
    assert await store.versions(TENANT, "eu-fr-1", "m", None, 10) == []
    assert await store.aliases(TENANT, "eu-fr-1", "m", None, 10) == []
    await store.add_version(version(1, tenant_id="000000000002"), 10)
    assert await store.forget_tenant(TENANT) == 1
    assert await store.version("000000000002", "eu-fr-1", "m", 1) is not None


async def test_executions_keep_their_version_alias_and_redrives(
    stores: tuple[VersionStore, ExecutionStore],
) -> None:
    _, executions = stores

    def made(name: str, started: int, **fields: object) -> Execution:
        plain = Execution(TENANT, "eu-fr-1", "m", name, SECRET, "arn:aws:iam::1:role/r", "{}",
                          started, revision_id="rev")  # fmt: skip
        return dataclasses.replace(plain, **fields)  # type: ignore[arg-type]

    await executions.create(made("plain", T0), [])
    await executions.create(made("v", T0 + 1, version=2), [])
    await executions.create(made("a", T0 + 2, version=2, alias="live"), [])
    resume = {"state": "A", "data": {}, "done": {"0": 1}}
    redriven = made("r", T0 + 3, status=ExecutionStatus.FAILED, redrive_count=2,
                    redriven=T0 + 9, resume=resume, redrive_token="t")  # fmt: skip
    await executions.create(redriven, [])
    assert await executions.get(TENANT, "eu-fr-1", "m", "r") == redriven

    async def names(**filters: object) -> list[str]:
        found = await executions.executions(TENANT, "eu-fr-1", "m", None, None, 10,
                                            **filters)  # type: ignore[arg-type]  # fmt: skip
        return [e.name for e in found]

    assert await names(version=2) == ["a", "v"]
    assert await names(alias="live") == ["a"]
    assert await names(redriven=True) == ["r"]
    assert await names(redriven=False) == ["a", "v", "plain"]


async def test_a_versions_definition_is_sealed_at_rest(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlVersionStore(sql_db, KeySealer(keys))
    await store.add_version(version(1), 5)
    await store.add_version(version(2), 5)
    rows = await sql_db.read(
        lambda conn: list(conn.execute(sa.select(tables.stepfunctions_versions)).mappings())
    )
    assert rows and all(b"clear-secret" not in bytes(r["definition_sealed"]) for r in rows)
    one = bytes(rows[0]["definition_sealed"])

    def moved(conn: sa.Connection) -> None:
        conn.execute(
            sa.update(tables.stepfunctions_versions)
            .where(tables.stepfunctions_versions.c.version_number == 2)
            .values(definition_sealed=one)
        )

    await sql_db.write(moved)
    with pytest.raises(InvalidTag):
        await store.version(TENANT, "eu-fr-1", "m", 2)
    keys.close()
