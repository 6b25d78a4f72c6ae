"""The SQLite :class:`~andromede.db.database.Database`: reads inline, writes on one writer with
group commit.

Measured here (docs/decisions/0003-sqlite-driving.md): one point query through SQLAlchemy's async
engine over aiosqlite costs about 600 µs — a thread hop for each statement, another for the
implicit rollback, greenlet switches — against 16 to 32 µs through the synchronous engine. SQLite in
WAL mode lets readers run beside the single writer without blocking, and a read of the hot,
page-cached metadata is cheaper than any thread hop. So:

- :meth:`SqliteDatabase.read` runs a function over the calling thread's own read connection *on that
  thread* (the event loop): no hop, no greenlet, no BEGIN — each statement is its own snapshot.
  :meth:`SqliteDatabase.read_row` runs a precompiled point read on the same connection through
  the sqlite3 driver itself, without SQLAlchemy's execution layer (most of a small GET's
  database time, docs/decisions/0025-small-request-cpu-2.md).
- :meth:`SqliteDatabase.write` hands the function to one writer thread that owns the only write
  connection. The writer takes every job waiting in its queue, runs them all in one
  ``BEGIN IMMEDIATE`` transaction and commits them together: one fsync (WAL,
  ``synchronous=FULL``) for the whole batch instead of one per request (group commit). If a job
  raises, the batch is rolled back and every job is replayed in a transaction of its own, so a
  failure stays its caller's (jobs are functions of the database alone, safe to run again). A
  caller's future resolves only after its commit is durable.

A store function must therefore be synchronous, short, and touch nothing but the connection.
PostgreSQL has its own implementation of the same two methods (:mod:`andromede.db.postgres`).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andromede.db.doorbells import Doorbells
from andromede.db.statements import RowQuery, RowStatement

__all__ = ["SqliteDatabase", "create_sqlite_engine"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_BUSY_TIMEOUT_MS = 10_000


@dataclass(slots=True)
class _Job:
    function: Callable[[Connection], Any]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # the caller was cancelled; the write happened or not, either way is fine
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SqliteDatabase:
    """A SQLite database file driven as described in the module docstring."""

    def __init__(self, engine: Engine, *, max_batch: int = 128) -> None:
        self.engine = engine
        self.dialect = "sqlite"
        self.doorbells = Doorbells()  # rung after the commits that queued work (decision 0206)
        if engine.url.database not in (None, "", ":memory:"):
            # The other processes on this file see the commits of the loops' sources (0331).
            file = Path(engine.url.database)
            self.doorbells.stamp_in(file.with_name(file.name + ".doorbells"))
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()  # None: stop
        self._writer = threading.Thread(
            target=self._run_writer, name="andromede-db-writer", daemon=True
        )
        self._writer.start()
        self._closed = False
        # One long-lived read connection per thread (the event loop's, in practice): checking a
        # connection out of the pool and BEGIN/ROLLBACK around each read doubled a point query.
        self._readers = threading.local()

    # -- the two ways in ----------------------------------------------------------------------
    async def read(self, function: Callable[[Connection], _T]) -> _T:
        connection = self._reader()
        try:
            return function(connection)
        finally:
            # Ends SQLAlchemy's view of the transaction. SQLite itself ran each statement in
            # autocommit (no BEGIN was sent), so no snapshot outlives the statement.
            connection.rollback()

    async def read_row(self, query: RowQuery, params: Mapping[str, Any]) -> Sequence[Any] | None:
        # The reader's own sqlite3 connection (asked for each time: SQLAlchemy replaces it if it
        # was ever invalidated), in autocommit as for read(): the statement is its own
        # snapshot. The driver's statement cache keeps it prepared.
        driver: Any = self._reader().connection.driver_connection
        row: tuple[Any, ...] | None = driver.execute(query.sqlite_text, params).fetchone()
        return row

    def _reader(self) -> Connection:
        """This thread's read connection, opened on first use."""
        connection: Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = self._readers.connection = self.engine.connect().execution_options(
                andromede_read=True
            )
        return connection

    async def write(self, function: Callable[[Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the database is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put(_Job(function, future, loop))
        # Shield: once queued, the job runs whether or not the caller is still waiting, and the
        # caller must not report "not written" for a row that did commit.
        return await asyncio.shield(future)

    async def write_statement(self, function: Callable[[Connection], _T]) -> _T:
        # One writer already: a single statement gains nothing from a path of its own, and
        # shares the group commit of the others.
        return await self.write(function)

    async def write_row(
        self, statement: RowStatement, params: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        def work(conn: Connection) -> Mapping[str, Any] | None:
            row = conn.execute(statement.statement, dict(params)).first()
            return None if row is None else dict(row._mapping)

        return await self.write(work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        await asyncio.to_thread(self._writer.join)
        reader = getattr(self._readers, "connection", None)
        if reader is not None:
            reader.close()
        self.engine.dispose()

    # -- the writer thread ----------------------------------------------------------------------
    def _run_writer(self) -> None:
        with self.engine.connect() as connection:
            connection = connection.execution_options(andromede_write=True)
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                batch = [first]
                stop_after = False
                while len(batch) < self._max_batch:
                    try:
                        more = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stop_after = True
                        break
                    batch.append(more)
                self._commit_batch(connection, batch)
                if stop_after:
                    return

    def _commit_batch(self, connection: Connection, batch: list[_Job]) -> None:
        if len(batch) > 1:
            # Optimistic: the whole batch in one transaction, no savepoints (they cost two more
            # statements per job). Jobs rarely fail; when one does, nothing of the batch is
            # kept and every job runs again alone below, so each caller gets its own outcome.
            try:
                with connection.begin():
                    results = [job.function(connection) for job in batch]
            except Exception:
                self.doorbells.rolled_back(connection)
                log.debug("a batch of %d writes failed; replaying them one by one", len(batch))
            else:
                self.doorbells.committed(connection)
                for job, result in zip(batch, results, strict=True):
                    job.loop.call_soon_threadsafe(_resolve, job.future, result, None)
                return
        for job in batch:
            try:
                with connection.begin():
                    result = job.function(connection)
            except Exception as exc:
                self.doorbells.rolled_back(connection)
                job.loop.call_soon_threadsafe(_resolve, job.future, None, exc)
            else:
                self.doorbells.committed(connection)
                job.loop.call_soon_threadsafe(_resolve, job.future, result, None)


def _switch_to_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a persistent property of the file).

    Only the very first connections to a new file find it in rollback-journal mode. Switching
    needs an exclusive lock, and SQLite answers "database is locked" at once, without waiting
    for the busy timeout, when another connection holds any lock at that moment -- as happens
    when several gateways start together on a new data dir. So: switch only when needed, and
    retry within the busy timeout."""
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
    while str(mode).lower() != "wal":
        try:
            # Not an error when refused for a reason other than a lock (an in-memory database
            # stays in "memory" mode): the database then runs in the mode it can.
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()


def _configure_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Transaction control goes to the "begin" event below; the driver's own implicit BEGIN
        # is always DEFERRED and breaks SAVEPOINT handling.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # The writer takes the write lock up front: a transaction never upgrades from read to
        # write half-way (and never fails there with "database is locked"). Readers send no
        # BEGIN: each of their statements is its own consistent snapshot.
        options = connection.get_execution_options()
        if options.get("andromede_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        elif not options.get("andromede_read"):
            connection.exec_driver_sql("BEGIN")


def create_sqlite_engine(url: sa.URL) -> Engine:
    """A synchronous engine for ``sqlite:///path`` with the pragmas and BEGIN handling set."""
    engine = sa.create_engine(url.set(drivername="sqlite+pysqlite"), pool_size=8, max_overflow=8)
    _configure_sqlite(engine)
    return engine
