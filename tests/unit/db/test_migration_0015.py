"""Migration 0015 gives the records written before it their lookup columns, from their
documents: the metadata service finds instances and key pairs made by an earlier release."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from andromede.compute.model import Instance, InstanceState, KeyPair
from andromede.compute.store_sql import SqlComputeStore
from andromede.db.database import create_engine, open_database
from andromede.db.migrate import alembic_config, upgrade

T0 = datetime(2027, 1, 2, tzinfo=UTC)
RUNNING = Instance(
    instance_id="i-00000000000000001",
    tenant_id="111111111111",
    reservation_id="r-0123456789abcdef0",
    image_id="ami-0123456789abcdef0",
    instance_type="t3.nano",
    state=InstanceState.RUNNING,
    host="h1",
    launch_time=T0,
    root_volume_id="vol-00000000000000001",
    availability_zone="eu-fr-1a",
    vcpus=1,
    memory_mib=512,
    key_name="deploy",
    public_ip="100.65.0.2",
)
KEY = KeyPair(
    "key-00000000000000001", "111111111111", "deploy", "ed25519", "fp", "ssh-ed25519 A", T0
)


def _migrate(url: str, target: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            if target == "head":
                command.upgrade(alembic_config(conn), target)
            else:
                command.downgrade(alembic_config(conn), target)
    finally:
        engine.dispose()


def _columns(url: str, table: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {c["name"] for c in sa.inspect(conn).get_columns(table)}
    finally:
        engine.dispose()


def test_records_from_before_0015_are_found_by_their_lookups(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'meta.db'}"
    upgrade(url)

    async def write() -> None:
        db = open_database(url)
        try:
            await SqlComputeStore(db).insert(RUNNING, KEY)
        finally:
            await db.close()

    async def look_up() -> tuple[list[Instance], list[KeyPair]]:
        db = open_database(url)
        try:
            store = SqlComputeStore(db)
            return (
                list(await store.running_at_address("h1", "100.65.0.2")),
                list(await store.key_pairs_named("111111111111", "deploy")),
            )
        finally:
            await db.close()

    asyncio.run(write())
    # To the revision before 0015: the rows as the schema before it held them. Then
    # forward again: the columns are filled from the documents.
    _migrate(url, "0015-1")
    assert "public_ip" not in _columns(url, "compute_instances")
    assert "name" not in _columns(url, "compute_key_pairs")
    _migrate(url, "head")
    assert asyncio.run(look_up()) == ([RUNNING], [KEY])
