"""The PostgreSQL :class:`~andromede.db.database.Database` of the distributed mode.

Many gateways share one PostgreSQL, so unlike SQLite there is no single writer to lean on:
every write is an ordinary transaction at READ COMMITTED, and the stores take the row locks
their invariants need (``SELECT … FOR UPDATE`` on the upload a CompleteMultipartUpload consumes,
``FOR KEY SHARE`` on the bucket a PUT lands in, …; docs/decisions/0009-postgresql-backend.md
says why not SERIALIZABLE). PostgreSQL does its own group commit across connections.

- :meth:`PostgresDatabase.read` runs the function on a pooled connection in autocommit: no
  BEGIN/ROLLBACK round trips, each statement sees what was committed when it started (as a
  SQLite reader does). :meth:`PostgresDatabase.read_row`, the hot point reads, sends its
  precompiled text to the same connection's asyncpg driver itself: no SQLAlchemy execution, no
  greenlet (on Python 3.11 each new greenlet maps and unmaps a 16 KiB frame stack; with the
  RADOS read's cuts, a fifth of a small GET's event-loop CPU, 0027-rados-small-gets.md in
  docs/decisions). Errors are judged alike (unavailable, dead connection) from asyncpg's own
  exceptions.
- Connections stay checked out between uses, at most ``pool_size`` of them, each kept in the
  mode (autocommit for reads, READ COMMITTED for writes) it was last used in: opening and
  closing a SQLAlchemy ``Connection`` around every call (pool checkout and check-in, the
  isolation level set and reset, the rollback on return) cost more CPU than the query itself
  (about 160 against 70 µs per read, measured through asyncpg on PostgreSQL 15), and a small
  GET or PUT makes two or three such calls. A connection that raised anything goes back to the
  pool the ordinary way, where SQLAlchemy resets or discards it.
- :meth:`PostgresDatabase.write` runs it inside ``BEGIN … COMMIT``. A serialization failure, a
  deadlock, or a pooled connection found dead before COMMIT (the transaction never happened) is
  run again, a few times at most; a connection lost *during* COMMIT is not, since the COMMIT may
  have landed (an overwrite run twice would report its own blobs as replaced).

- :meth:`PostgresDatabase.write_statement` runs a function that issues exactly one statement,
  in autocommit: PostgreSQL runs a lone statement as its own transaction, so the write costs one
  round trip instead of three (BEGIN, the statement, COMMIT), and its locks last only as long as
  the statement. It is run again only after a deadlock (which rolled it back); a connection lost
  while it ran is not, for the same reason as a COMMIT lost. :meth:`PostgresDatabase.write_row`
  is the same for a prebuilt statement (the hot PUT's), sent to asyncpg itself as ``read_row``
  does.

All run the synchronous store function through ``AsyncConnection.run_sync``: SQLAlchemy's
greenlet bridge lets the same function drive asyncpg without blocking the event loop.

A database that cannot be reached (refused, restarting, timed out, connection lost) surfaces as
:class:`~andromede.db.errors.DatabaseUnavailable`. A new connection that timed out while opening
is opened again first, a few times at most: none of the work was sent, so any may go on, and a
server slow to accept on a loaded machine delays a request instead of failing it. A connection
found dead invalidates the pool (SQLAlchemy then replaces every connection opened before) and every
idle kept connection, and the work is tried once more on a fresh connection, so a restarted server
is picked up without a gateway restart and without a failed request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from andromede.db.doorbells import Doorbells, taken
from andromede.db.errors import DatabaseUnavailable
from andromede.db.postgres_doorbells import NotifyListener, notify_queued
from andromede.db.statements import RowQuery, RowStatement

__all__ = ["PostgresDatabase", "create_postgres_engine", "sync_postgres_url"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

# SQLSTATEs after which the transaction is known to be rolled back and may simply run again.
_RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
# SQLSTATEs meaning "the server is not there right now": class 08 (connection exceptions),
# admin/crash shutdown, cannot connect now (starting up), too many connections, read-only
# (a standby answering while a failover completes).
_UNAVAILABLE = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
_MAX_WRITE_ATTEMPTS = 5
# Tries to open one connection whose every try timed out before DatabaseUnavailable: a server
# slow to accept (forking and authenticating a backend on a loaded machine) costs a request
# time, not a failure; a silent one costs this many timeouts.
_CONNECT_ATTEMPTS = 3

_Mode = Literal["AUTOCOMMIT", "READ COMMITTED"]
_READ: _Mode = "AUTOCOMMIT"
_WRITE: _Mode = "READ COMMITTED"


def sync_postgres_url(url: sa.URL) -> sa.URL:
    """The same database through psycopg 3, for migrations and tools (Alembic is synchronous).

    asyncpg spells TLS ``ssl=…`` where libpq spells it ``sslmode=…``; that one is translated."""
    query = dict(url.query)
    if "ssl" in query and "sslmode" not in query:
        query["sslmode"] = query.pop("ssl")
    return url.set(drivername="postgresql+psycopg", query=query)


def create_postgres_engine(url: sa.URL, *, pool_size: int, timeout: float) -> AsyncEngine:
    """An asyncpg engine: ``pool_size`` connections at most, ``timeout`` seconds to connect, to
    wait for a free connection, and for any one statement."""
    return create_async_engine(
        url.set(drivername="postgresql+asyncpg"),
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=timeout,
        isolation_level="READ COMMITTED",
        connect_args={
            "timeout": timeout,
            "command_timeout": timeout,
            "server_settings": {"application_name": "andromede"},
        },
    )


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "sqlstate", None) or getattr(exc, "sqlstate", None)
    return code if isinstance(code, str) else None


def _is_unavailable(exc: BaseException) -> bool:
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        code = _sqlstate(exc)
        if code is not None:
            return code.startswith("08") or code in _UNAVAILABLE
        # asyncpg raises plain OSError / TimeoutError for a refused or silent server, which
        # SQLAlchemy may wrap without a SQLSTATE.
        cause = exc.orig.__cause__ if exc.orig is not None else None
        return isinstance(exc.orig, OSError | TimeoutError) or isinstance(
            cause, OSError | TimeoutError
        )
    if isinstance(exc, sa.exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, OSError | TimeoutError):
        return True
    code = _sqlstate(exc)  # an asyncpg error that reached us unwrapped (on connect)
    return code is not None and (code.startswith("08") or code in _UNAVAILABLE)


def _is_connect_timeout(exc: BaseException) -> bool:
    """Whether opening a connection gave up waiting (asyncpg's connect timeout, raised as it is
    or wrapped by SQLAlchemy), as opposed to being refused or turned away."""
    if isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc.orig, TimeoutError) or isinstance(
            exc.orig.__cause__ if exc.orig is not None else None, TimeoutError
        )
    return isinstance(exc, TimeoutError)


def _is_closed(connection: AsyncConnection) -> bool:
    """Whether the driver knows the connection to be closed (no round trip)."""
    sync = connection.sync_connection
    if sync is None or sync.invalidated or sync.closed:
        return True
    driver = sync.connection.driver_connection
    is_closed = getattr(driver, "is_closed", None)
    return bool(is_closed()) if is_closed is not None else False


async def _discard(connection: AsyncConnection) -> None:
    with contextlib.suppress(Exception):
        await connection.invalidate()
    with contextlib.suppress(Exception):
        await connection.close()


def _is_stale_connection(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated


# The server ended the session (pg_terminate_backend, a shutdown): the connection is gone.
_SESSION_ENDED = frozenset({"57P01", "57P02"})


def _is_driver_disconnect(exc: BaseException) -> bool:
    """Whether an exception raised by asyncpg itself (the raw ``read_row``/``write_row``
    paths) says its connection is unusable: closed, reset, ended by the server (a
    connection-class SQLSTATE, an administrator's or crash shutdown), or its protocol state
    broken (``InternalClientError``, seen when a session the server ended is used before the
    driver has read that end)."""
    if isinstance(
        exc,
        asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | ConnectionError,
    ):
        return True
    code = _sqlstate(exc)
    return code is not None and (code.startswith("08") or code in _SESSION_ENDED)


class PostgresDatabase:
    """PostgreSQL driven as described in the module docstring."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = "postgresql"
        self.doorbells = Doorbells()  # rung after the commits that queued work (decision 0206)
        # ... and after other gateways' such commits, heard from PostgreSQL (session 51).
        self.listener = NotifyListener(self._listening_connection, self.doorbells)
        self.doorbells.when_waited(self.listener.start)
        pool = engine.pool
        # Every connection in use or kept idle here is checked out of the engine's pool: with
        # at most pool_size permits, a permit holder's checkout never waits on the pool.
        size = pool.size() if isinstance(pool, sa.pool.QueuePool) else 1
        self._pool_timeout = pool.timeout() if isinstance(pool, sa.pool.QueuePool) else 30.0
        self._permits = asyncio.Semaphore(size)
        self._idle: dict[_Mode, list[AsyncConnection]] = {_READ: [], _WRITE: []}
        self._writes: set[asyncio.Task[Any]] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def _connection(self, mode: _Mode) -> AsyncIterator[AsyncConnection]:
        """A connection in ``mode``: an idle kept one (of that mode first), or a new one."""
        connection = await self._check_out(mode)
        try:
            yield connection
        except BaseException as exc:
            await self._check_in_failed(connection, exc)
            raise
        self._check_in(connection, mode)

    async def _check_out(self, mode: _Mode) -> AsyncConnection:
        """What ``_connection`` enters, holding one permit until ``_check_in`` or
        ``_check_in_failed``: the hot reads and writes call these three themselves, without an
        async context manager's generator and its frames around each statement."""
        if self._permits.locked():
            try:
                async with asyncio.timeout(self._pool_timeout):
                    await self._permits.acquire()
            except TimeoutError as exc:
                raise sa.exc.TimeoutError("no database connection came free in time") from exc
        else:
            # A permit is free: taken without waiting, so without arming (and cancelling) a
            # timer, which cost as much as the rest of this function.
            await self._permits.acquire()
        try:
            connection, current = self._take_idle(mode)
            if connection is None:
                connection = await self._open()
        except BaseException:
            self._permits.release()
            raise
        if current != mode:
            try:
                if connection.in_transaction():
                    # What SQLAlchemy "autobegan" for reads (autocommit sent no BEGIN): it
                    # must end before the isolation level changes.
                    await connection.rollback()
                await connection.execution_options(isolation_level=mode)
            except BaseException as exc:
                await self._check_in_failed(connection, exc)
                raise
        return connection

    async def _open(self) -> AsyncConnection:
        """A new connection. One that timed out while opening is opened again: none of the work
        was sent on it, so a read or a write alike goes on (a refused one is not: the server is
        not there, and the caller hears it at once)."""
        attempt = 1
        while True:
            try:
                return await self.engine.connect()
            except Exception as exc:
                if attempt >= _CONNECT_ATTEMPTS or not _is_connect_timeout(exc):
                    raise
                log.info("opening a database connection timed out; trying again (%d)", attempt)
                attempt += 1

    def _check_in(self, connection: AsyncConnection, mode: _Mode) -> None:
        """A connection whose work went well: kept for the next use in ``mode``."""
        self._idle[mode].append(connection)
        self._permits.release()

    async def _check_in_failed(self, connection: AsyncConnection, exc: BaseException) -> None:
        """A connection whose work raised ``exc``: back to the pool, or dropped if dead."""
        try:
            if _is_stale_connection(exc):
                await self._invalidate_idle()
            elif _is_driver_disconnect(exc):
                # SQLAlchemy did not see it (the raw read_row path): drop this connection
                # rather than hand it back to the pool, and the kept ones with it.
                with contextlib.suppress(Exception):
                    await connection.invalidate()
                await self._invalidate_idle()
            # Back to the pool, which rolls back or discards it: a statement that failed
            # or was cancelled may have left it mid-protocol.
            await asyncio.shield(connection.close())
        finally:
            self._permits.release()

    def _take_idle(self, mode: _Mode) -> tuple[AsyncConnection | None, _Mode | None]:
        other: _Mode = _WRITE if mode == _READ else _READ
        for kind in (mode, other):
            while self._idle[kind]:
                connection = self._idle[kind].pop()
                if _is_closed(connection):
                    # The server closed it while it was idle (a restart, a failover): the
                    # driver saw the end of the stream already. Dropped here, it costs no
                    # failed statement, which for a write in autocommit could not be replayed.
                    self._discard_later(connection)
                    continue
                return connection, kind
        return None, None  # a new connection is not yet in either mode

    def _discard_later(self, connection: AsyncConnection) -> None:
        task = asyncio.create_task(_discard(connection))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _invalidate_idle(self) -> None:
        """The server went away: the kept connections are dead too."""
        idle = [*self._idle[_READ], *self._idle[_WRITE]]
        self._idle = {_READ: [], _WRITE: []}
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def read(self, function: Callable[[Connection], _T]) -> _T:
        try:
            try:
                return await self._read_once(function)
            except Exception as exc:
                if not _is_stale_connection(exc):
                    raise
                log.info("a pooled database connection was dead; reading again on a new one")
            return await self._read_once(function)
        except Exception as exc:
            if _is_unavailable(exc):
                raise DatabaseUnavailable("the metadata database is unavailable") from exc
            raise

    async def read_row(self, query: RowQuery, params: Mapping[str, Any]) -> Sequence[Any] | None:
        text, arguments = query.postgresql.text, query.postgresql.arguments(params)
        try:
            try:
                return await self._read_row_once(text, arguments)
            except Exception as exc:
                if not _is_driver_disconnect(exc):
                    raise
                log.info("a pooled database connection was dead; reading again on a new one")
            return await self._read_row_once(text, arguments)
        except Exception as exc:
            if _is_unavailable(exc) or _is_driver_disconnect(exc):
                raise DatabaseUnavailable("the metadata database is unavailable") from exc
            raise

    async def _read_row_once(self, text: str, arguments: list[Any]) -> tuple[Any, ...] | None:
        row = await self._on_driver(lambda raw: raw.fetchrow(text, *arguments))
        return None if row is None else tuple(row)

    async def _on_driver(self, call: Callable[[Any], Awaitable[_T]]) -> _T:
        """``call`` on the asyncpg connection under a checked-out one. The connection is this
        task's alone until checked in, in autocommit (no transaction open), so asyncpg may be
        driven directly; its statement cache prepares a text once per connection, and
        command_timeout bounds the wait."""
        connection = await self._check_out(_READ)
        try:
            raw: Any = connection.sync_connection.connection.driver_connection  # type: ignore[union-attr]
            result = await call(raw)
        except BaseException as exc:
            await self._check_in_failed(connection, exc)
            raise
        self._check_in(connection, _READ)
        return result

    async def _read_once(self, function: Callable[[Connection], _T]) -> _T:
        async with self._connection(_READ) as connection:
            return await connection.run_sync(function)

    async def write_row(
        self, statement: RowStatement, params: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        if self._closed:
            raise RuntimeError("the database is closed")
        text, arguments = statement.postgresql.text, statement.postgresql.arguments(params)
        task = asyncio.create_task(self._write_row(text, arguments))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    async def _write_row(self, text: str, arguments: list[Any]) -> dict[str, Any] | None:
        """``write_statement``'s rules for a statement sent to asyncpg: in autocommit, run
        again after a deadlock or a serialization failure (rolled back), never after a lost
        connection (it may have committed); a connection found closed while idle is dropped
        before use (``_take_idle``)."""
        attempt = 1
        while True:
            try:
                # fetch, not fetchrow: the whole result, as SQLAlchemy's execute read it.
                rows = await self._on_driver(lambda raw: raw.fetch(text, *arguments))
                return dict(rows[0].items()) if rows else None
            except Exception as exc:
                if attempt < _MAX_WRITE_ATTEMPTS and _sqlstate(exc) in _RETRYABLE:
                    log.debug("write rolled back (%s), attempt %d", type(exc).__name__, attempt)
                    await asyncio.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311
                    attempt += 1
                    continue
                if _is_unavailable(exc) or _is_driver_disconnect(exc):
                    raise DatabaseUnavailable("the metadata database is unavailable") from exc
                raise

    async def write(self, function: Callable[[Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the database is closed")
        task = asyncio.create_task(self._write(function))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        # Shield: once started, the transaction runs to its end whether or not the caller is
        # still waiting, as on SQLite; a caller must not report "not written" for a committed row.
        return await asyncio.shield(task)

    async def write_statement(self, function: Callable[[Connection], _T]) -> _T:
        if self._closed:
            raise RuntimeError("the database is closed")
        task = asyncio.create_task(self._write(function, single_statement=True))
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    async def _write(
        self, function: Callable[[Connection], _T], *, single_statement: bool = False
    ) -> _T:
        attempt = 1
        while True:
            # A lone statement in autocommit is its own COMMIT from the moment it is sent.
            committing = single_statement
            try:
                token = self.listener.token
                if single_statement:
                    async with self._connection(_READ) as connection:
                        result, marks = await connection.run_sync(_marked, function, token)
                    self.doorbells.ring(marks)
                    return result
                async with self._connection(_WRITE) as connection:
                    async with connection.begin() as transaction:
                        result, marks = await connection.run_sync(_marked, function, token)
                        committing = True
                        await transaction.commit()
                self.doorbells.ring(marks)  # after the commit: the loop's claim finds the rows
                return result
            except Exception as exc:
                if attempt < _MAX_WRITE_ATTEMPTS and (
                    _sqlstate(exc) in _RETRYABLE
                    # A pooled connection found dead before COMMIT was sent: nothing happened,
                    # run it again on a fresh one. A connection lost during COMMIT is different:
                    # the write may have landed, and only the caller can decide.
                    or (_is_stale_connection(exc) and not committing)
                ):
                    log.debug("write rolled back (%s), attempt %d", type(exc).__name__, attempt)
                    # Jittered back-off so that two transactions that collided do not collide
                    # again in lockstep.
                    await asyncio.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311
                    attempt += 1
                    continue
                if _is_unavailable(exc):
                    raise DatabaseUnavailable("the metadata database is unavailable") from exc
                raise

    async def _listening_connection(self) -> asyncpg.Connection:
        """A connection of the listener's own, outside the pool (``db.postgres_doorbells``)."""
        dialect = self.engine.sync_engine.dialect
        _args, params = dialect.create_connect_args(self.engine.url)
        return await asyncpg.connect(
            **params,
            timeout=self._pool_timeout,
            server_settings={"application_name": "andromede-doorbells"},
        )

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self.listener.close()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        idle = [*self._idle[_READ], *self._idle[_WRITE]]
        self._idle = {_READ: [], _WRITE: []}
        for connection in idle:
            with contextlib.suppress(Exception):  # a dead one is disposed of all the same
                await connection.close()
        await self.engine.dispose()


def _marked(
    conn: Connection, function: Callable[[Connection], _T], token: str
) -> tuple[_T, set[str]]:
    """``function``'s result and the work queues it marked (``db.doorbells``), announced to the
    other gateways (delivered at the commit; a lone autocommit statement has committed by
    then); marks a failed transaction left on the connection are dropped first."""
    taken(conn)
    result = function(conn)
    marks = taken(conn)
    if marks:
        notify_queued(conn, marks, token)
    return result, marks
