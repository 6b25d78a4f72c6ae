"""The statements spelled per dialect behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import Database, open_database
from andromede.db.migrate import upgrade
from andromede.db.statements import InsertIgnoringConflict, Upsert

NOW = datetime(2026, 11, 29, 9, 30, 0, 123456, tzinfo=UTC)
B = tables.buckets


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = f"sqlite:///{tmp_path / 'meta.db'}"
        upgrade(url)
    database = open_database(url)
    yield database
    await database.close()


def row(name: str, owner: str) -> dict[str, object]:
    return {"name": name, "tenant_id": "t", "owner_id": owner, "region": "r", "created_at": NOW}


def owners(conn: Connection) -> list[tuple[str, str]]:
    return [tuple(r) for r in conn.execute(sa.select(B.c.name, B.c.owner_id).order_by(B.c.name))]


async def test_insert_ignoring_conflict(db: Database) -> None:
    insert = InsertIgnoringConflict(B, ["name"])
    assert await db.write(lambda c: insert(c, row("a", "first"))) is True
    assert await db.write(lambda c: insert(c, row("a", "second"))) is False
    assert await db.read(owners) == [("a", "first")]


async def test_upsert_inserts_then_updates(db: Database) -> None:
    upsert = Upsert(B, ["name"])
    await db.write(lambda c: upsert(c, row("a", "first")))
    await db.write(lambda c: upsert(c, row("b", "other")))
    await db.write(lambda c: upsert(c, row("a", "second")))
    assert await db.read(owners) == [("a", "second"), ("b", "other")]
    only_region = Upsert(B, ["name"], ["region"])
    await db.write(lambda c: only_region(c, row("a", "ignored")))
    assert await db.read(owners) == [("a", "second"), ("b", "other")]
