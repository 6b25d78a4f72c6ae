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
from andromede.db.statements import AsyncpgText, InsertIgnoringConflict, RowStatement, Upsert

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


async def test_write_row_returns_the_row_by_name(db: Database) -> None:
    # PostgreSQL sends the precompiled text to asyncpg itself, SQLite runs it in its writer:
    # both commit it and hand back the RETURNING row as a mapping (None: no row).
    upsert = Upsert(B, ["name"])
    await db.write(lambda c: upsert(c, row("a", "first")))
    rename = RowStatement(
        sa.update(B)
        .where(B.c.name == sa.bindparam("b_name"))
        .values(owner_id=sa.bindparam("owner"))
        .returning(B.c.name, B.c.owner_id)
    )
    assert await db.write_row(rename, {"b_name": "a", "owner": "second"}) == {
        "name": "a",
        "owner_id": "second",
    }
    assert await db.read(owners) == [("a", "second")]
    assert await db.write_row(rename, {"b_name": "missing", "owner": "x"}) is None


def test_asyncpg_text_numbers_the_parameters_and_refuses_a_missing_one() -> None:
    # A statement's own values (here the LIMIT) fill their places; a bare bindparam must be
    # given, as SQLAlchemy would insist.
    query = AsyncpgText(sa.select(B.c.name).where(B.c.owner_id == sa.bindparam("owner")).limit(3))
    assert "$1" in query.text and "$2" in query.text and ":owner" not in query.text
    assert query.arguments({"owner": "o"}) == ["o", 3]
    with pytest.raises(KeyError, match="owner"):
        query.arguments({})
