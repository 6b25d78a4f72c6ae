"""The backends a store contract suite runs over — in memory, SQLite, PostgreSQL — as one
parametrised fixture's database: None for the memory store, else a fresh migrated database
the suite's SQL store opens, closed after the test (or its URL, for a suite that opens two
gateways on it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import pytest

from andromede.db.database import Database, open_database
from support.schema import migrated_sqlite

__all__ = ["BACKENDS", "SQL_BACKENDS", "backend_database", "sql_database", "sql_url"]

SQL_BACKENDS: Final = ["sqlite", "postgresql"]
BACKENDS: Final = ["memory", *SQL_BACKENDS]


def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For a fixture parametrised over the SQL kinds: a fresh migrated database's URL, a SQLite
    file under ``tmp_path`` or a PostgreSQL database (``postgres_url``)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return migrated_sqlite(tmp_path / "meta.db")


@asynccontextmanager
async def sql_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The opened database of :func:`sql_url`, closed after the test."""
    db = open_database(sql_url(request, tmp_path))
    try:
        yield db
    finally:
        await db.close()


@asynccontextmanager
async def backend_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    """For a fixture parametrised over :data:`BACKENDS`: None for ``memory``, else
    :func:`sql_database`."""
    if request.param == "memory":
        yield None
        return
    async with sql_database(request, tmp_path) as db:
        yield db
