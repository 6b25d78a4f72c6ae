"""How the stores talk to the metadata database: the :class:`Database` interface and its factory.

A store method is one synchronous function of a SQLAlchemy ``Connection`` handed to
:meth:`Database.read` (sees committed data, changes nothing) or :meth:`Database.write` (runs in
one transaction, committed durably before the call returns), or, for the point reads of the hot
paths, a prebuilt :class:`~andromede.db.statements.RowQuery` handed to
:meth:`Database.read_row`. The function must be short, touch nothing but the connection, and be
safe to run again (an implementation may replay it after a rolled-back attempt). Two
implementations, picked from the URL by :func:`open_database`:

- :class:`andromede.db.sqlite.SqliteDatabase` (``sqlite:///path``, the embedded mode): reads
  inline on the event loop, writes group-committed on one writer thread.
- :class:`andromede.db.postgres.PostgresDatabase` (``postgresql+asyncpg://…``, the distributed
  mode): an asyncpg pool, each function run through ``AsyncConnection.run_sync``.

Both raise :class:`andromede.db.errors.DatabaseUnavailable` when the database cannot be reached.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andromede.db.doorbells import Doorbells
from andromede.db.sqlite import SqliteDatabase, create_sqlite_engine
from andromede.db.statements import RowQuery, RowStatement
from andromede.errors import ConfigurationError

__all__ = [
    "Database",
    "backend_of",
    "create_engine",
    "describe_url",
    "open_database",
]

_T = TypeVar("_T")

DEFAULT_POOL_SIZE = 10
DEFAULT_TIMEOUT = 10.0


class Database(Protocol):
    dialect: str
    """``sqlite`` or ``postgresql``: for the few statements that only one of them has."""
    doorbells: Doorbells
    """The background loops' doorbells, rung after the commits that queued their work."""

    async def read(self, function: Callable[[Connection], _T]) -> _T:
        """Run ``function`` over a connection that sees committed data; it must not write."""

    async def read_row(self, query: RowQuery, params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The row ``query`` selects with ``params`` (None: no row), as :meth:`read` would
        see it; the fast path of the hot point reads (see :class:`RowQuery`)."""

    async def write(self, function: Callable[[Connection], _T]) -> _T:
        """Run ``function`` in a transaction and return its result once the commit is durable.

        Once called, the write runs to its end even if the caller is cancelled."""

    async def write_statement(self, function: Callable[[Connection], _T]) -> _T:
        """:meth:`write` for a ``function`` that issues exactly one statement, which is then
        atomic by itself: PostgreSQL runs it without BEGIN and COMMIT (one round trip), SQLite
        as any other write. The same guarantees as :meth:`write` otherwise."""

    async def write_row(
        self, statement: RowStatement, params: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """:meth:`write_statement` for a prebuilt statement returning at most one row (None:
        no row), by column name; PostgreSQL sends it to asyncpg itself (the hot PUT)."""

    async def close(self) -> None:
        """Finish pending writes, then release every connection."""


def backend_of(database_url: str) -> str:
    """``sqlite`` or ``postgresql``; ConfigurationError for anything else (without the URL in
    the message: it may hold a password)."""
    try:
        url = sa.make_url(database_url)
    except sa.exc.ArgumentError as exc:
        raise ConfigurationError("database_url is not a SQLAlchemy URL") from exc
    backend = url.get_backend_name()
    driver = url.get_driver_name()
    if backend == "sqlite" and driver in ("pysqlite", "aiosqlite"):
        return backend
    if backend == "postgresql" and driver in ("asyncpg", "psycopg"):
        return backend
    raise ConfigurationError(
        f"database_url: unsupported database {url.drivername!r}; "
        "use sqlite:///PATH or postgresql+asyncpg://USER@HOST:PORT/DATABASE"
    )


def describe_url(database_url: str) -> str:
    """The URL with its password masked, for logs and banners."""
    return sa.make_url(database_url).render_as_string(hide_password=True)


def create_engine(database_url: str) -> Engine:
    """A synchronous engine (migrations, tools, tests): pysqlite with the embedded mode's pragmas,
    or psycopg 3 for PostgreSQL whatever driver the URL names."""
    url = sa.make_url(database_url)
    if backend_of(database_url) == "sqlite":
        return create_sqlite_engine(url)
    from andromede.db.postgres import sync_postgres_url  # see open_database

    return sa.create_engine(sync_postgres_url(url), pool_size=2, max_overflow=0)


def open_database(
    database_url: str, *, pool_size: int = DEFAULT_POOL_SIZE, timeout: float = DEFAULT_TIMEOUT
) -> Database:
    """The :class:`Database` for ``database_url``; ``pool_size`` and ``timeout`` (seconds to
    connect, wait for a pooled connection or run one statement) apply to PostgreSQL only."""
    url = sa.make_url(database_url)
    if backend_of(database_url) == "sqlite":
        return SqliteDatabase(create_sqlite_engine(url))
    # Imported for a PostgreSQL URL only: asyncpg and SQLAlchemy's PostgreSQL dialects were
    # 0.13 s of every start on the embedded database (decision 0347).
    from andromede.db.postgres import PostgresDatabase, create_postgres_engine

    return PostgresDatabase(create_postgres_engine(url, pool_size=pool_size, timeout=timeout))
