"""Decision 0271's state machine store over every implementation (memory, SQLite,
PostgreSQL): one name an account and Region (the one there answered instead of a second),
the account's bound, pages by name, compare-and-set writes, deletion, a closed tenant's
machines forgotten; over SQL, the definition sealed at rest under the account's key ring (its
AAD the machine's ARN), never in the clear, and unreadable once moved to another row."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag

from andromede.db import tables
from andromede.db.database import Database
from andromede.stepfunctions.errors import StateMachineLimitExceeded
from andromede.stepfunctions.memory import MemoryStateMachineStore
from andromede.stepfunctions.model import MachineType, StateMachine
from andromede.stepfunctions.store import StateMachineStore
from andromede.stepfunctions.store_sql import SqlStateMachineStore
from andromede.wiring.queues import KeySealer
from support.keys import key_service_in
from support.store_backends import BACKENDS, SQL_BACKENDS, backend_database, sql_database

T0 = 1_800_000_000_000
SECRET = '{"StartAt":"A","States":{"A":{"Type":"Pass","Result":"clear-secret-é","End":true}}}'


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateMachineStore]:
    async with backend_database(request, tmp_path) as db:
        if db is None:
            yield MemoryStateMachineStore()
        else:
            keys = key_service_in(tmp_path / "keys")
            yield SqlStateMachineStore(db, KeySealer(keys))
            keys.close()


@pytest.fixture(params=SQL_BACKENDS)
async def sql_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    async with sql_database(request, tmp_path) as db:
        yield db


def machine(name: str, tenant_id: str = "000000000001", **fields: Any) -> StateMachine:
    made = StateMachine(
        tenant_id=tenant_id,
        region="eu-fr-1",
        name=name,
        definition=SECRET,
        role_arn=f"arn:aws:iam::{tenant_id}:role/r",
        machine_type=MachineType.STANDARD,
        revision_id="rev-1",
        logging={"level": "OFF", "includeExecutionData": False},
        tags=(("team", "a"),),
        created=T0,
        updated=T0,
    )
    return dataclasses.replace(made, **fields)


async def test_made_read_paged_replaced_and_deleted(store: StateMachineStore) -> None:
    made = machine("b")
    assert await store.create(made, 3) is None
    assert await store.create(machine("a", machine_type=MachineType.EXPRESS), 3) is None
    assert await store.get("000000000001", "eu-fr-1", "b") == made
    assert await store.get("000000000001", "eu-fr-2", "b") is None
    assert await store.create(machine("b", definition="{}"), 3) == made  # the one there
    assert await store.create(machine("c"), 3) is None
    with pytest.raises(StateMachineLimitExceeded):
        await store.create(machine("d"), 3)
    assert await store.create(machine("d", region="eu-fr-2"), 3) is None  # another Region
    assert await store.create(machine("d", tenant_id="000000000002"), 3) is None
    page = await store.machines("000000000001", "eu-fr-1", None, 2)
    assert [m.name for m in page] == ["a", "b"]
    assert page[0].machine_type is MachineType.EXPRESS
    assert [m.name for m in await store.machines("000000000001", "eu-fr-1", "b", 2)] == ["c"]
    changed = made.changed(definition="{}", revision_id="rev-2", tags=())
    assert await store.replace(changed)
    assert not await store.replace(made.changed(definition="late"))  # an old revision
    assert await store.get("000000000001", "eu-fr-1", "b") == changed
    assert await store.delete("000000000001", "eu-fr-1", "b")
    assert not await store.delete("000000000001", "eu-fr-1", "b")
    assert not await store.replace(changed.changed())  # gone
    assert await store.forget_tenant("000000000001") == 3
    assert await store.machines("000000000001", "eu-fr-1", None, 10) == []
    assert [m.name for m in await store.machines("000000000002", "eu-fr-1", None, 10)] == ["d"]


async def test_definitions_are_sealed_at_rest(sql_db: Database, tmp_path: Path) -> None:
    keys = key_service_in(tmp_path / "keys")
    store = SqlStateMachineStore(sql_db, KeySealer(keys))
    try:
        await store.create(machine("a"), 10)
        await store.create(machine("b"), 10)

        def rows(conn: Any) -> dict[str, bytes]:
            query = sa.select(
                tables.stepfunctions_state_machines.c.machine_name,
                tables.stepfunctions_state_machines.c.definition_sealed,
            )
            return {name: bytes(sealed) for name, sealed in conn.execute(query).all()}

        sealed = await sql_db.read(rows)
        assert all(b"clear-secret" not in value for value in sealed.values())
        assert all("clear-secret-é".encode() not in value for value in sealed.values())

        def swap(conn: Any) -> None:
            table = tables.stepfunctions_state_machines
            conn.execute(
                sa.update(table)
                .where(table.c.machine_name == "b")
                .values(definition_sealed=sealed["a"])
            )

        await sql_db.write(swap)
        assert (await store.get("000000000001", "eu-fr-1", "a")) == machine("a")
        with pytest.raises(InvalidTag):  # a's definition does not open as b's
            await store.get("000000000001", "eu-fr-1", "b")
    finally:
        keys.close()
