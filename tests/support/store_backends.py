"""The three backends a store contract suite runs over — in memory, SQLite, PostgreSQL — as
one parametrised fixture's database: None for the memory store, else a migrated database the
suite's SQL store opens, closed after the test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import pytest

from andromede.db.database import Database, open_database
from support.schema import migrated_sqlite

__all__ = ["BACKENDS", "backend_database"]

BACKENDS: Final = ["memory", "sqlite", "postgresql"]


@asynccontextmanager
async def backend_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    """For a fixture parametrised over :data:`BACKENDS`: None for ``memory``; a fresh migrated
    SQLite file or PostgreSQL database (``postgres_url``) for the others."""
    if request.param == "memory":
        yield None
        return
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = migrated_sqlite(tmp_path / "meta.db")
    db = open_database(url)
    try:
        yield db
    finally:
        await db.close()
