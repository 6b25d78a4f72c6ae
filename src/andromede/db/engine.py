"""The async engine factory and the write-transaction discipline.

SQLite (embedded mode) is tuned for durability and concurrency through a connect event: WAL so
readers never block the writer, ``synchronous=FULL`` so a committed row survives a power cut (the
metadata commit is the moment an object exists), ``busy_timeout`` for other processes (the CLI),
``foreign_keys=ON``. SQLite admits one writer at a time; instead of letting concurrent writers
collide on "database is locked", :func:`write_transaction` serialises them in-process with an
``asyncio.Lock`` and opens them with ``BEGIN IMMEDIATE`` (the write lock is taken up front, so
a transaction never has to upgrade from read to write and fail half-way). Readers use plain
``engine.connect()`` and run concurrently.

PostgreSQL (asyncpg) slots in with the same tables: no lock, ordinary ``BEGIN``; row locks do
the rest.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

__all__ = ["create_engine", "write_transaction"]

_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "andromede_write"

# One lock per engine: the engine is the unit that shares one SQLite file in this process.
_write_locks: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``database_url`` (``sqlite+aiosqlite:///path`` or, later,
    ``postgresql+asyncpg://…``), with the SQLite pragmas and transaction handling set."""
    engine = create_async_engine(database_url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine.sync_engine)
    return engine


def _configure_sqlite(sync_engine: Engine) -> None:
    @sa.event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below; the driver's own
        # implicit BEGIN would always be DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @sa.event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_WRITE_OPTION):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def _write_lock(engine: AsyncEngine) -> asyncio.Lock:
    lock = _write_locks.get(engine.sync_engine)
    if lock is None:
        lock = _write_locks[engine.sync_engine] = asyncio.Lock()
    return lock


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a write transaction: committed on normal exit, rolled back on error.

    On SQLite, writers of this process queue on one lock and begin with ``BEGIN IMMEDIATE``.
    """
    if engine.dialect.name != "sqlite":
        async with engine.begin() as conn:
            yield conn
        return
    async with _write_lock(engine), engine.connect() as conn:
        await conn.execution_options(**{_WRITE_OPTION: True})
        async with conn.begin():
            yield conn
