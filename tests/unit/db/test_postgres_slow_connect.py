"""PostgresDatabase opening a connection that times out: opened again, nothing having been
sent on it, so a read or a write goes on rather than fail (a launch on a loaded machine once
failed on one such connect); a server that never answers is still DatabaseUnavailable after a
few tries. The server is reached through a proxy that leaves chosen connections unanswered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db import tables
from andromede.db.database import open_database
from andromede.db.errors import DatabaseUnavailable

NOW = datetime(2026, 12, 6, 21, 0, tzinfo=UTC)


class StallingProxy:
    """A TCP proxy to a PostgreSQL server that leaves the next ``stall`` connections unanswered
    (it takes what the client sends and says nothing back, as a server too loaded to fork and
    authenticate a backend in time) and pipes the others through."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self.stall = 0
        self.opened = 0
        self.port = 0
        self._handlers: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.opened += 1
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.stall > 0:
                self.stall -= 1
                while await reader.read(65536):  # until the client gives up and hangs up
                    pass
                return
            up_reader, upstream = await asyncio.open_connection(*self._target)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        finally:
            for end in (writer, upstream):
                if end is not None:
                    end.close()
            self._handlers.discard(task)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[StallingProxy]:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            server.close()
            for task in list(self._handlers):
                task.cancel()
            await asyncio.gather(*self._handlers, return_exceptions=True)
            await server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


@pytest.fixture
async def proxy(postgres_url: str) -> AsyncIterator[StallingProxy]:
    url = sa.make_url(postgres_url)
    async with StallingProxy(url.host or "127.0.0.1", url.port or 5432).running() as running:
        yield running


def _through(postgres_url: str, proxy: StallingProxy) -> str:
    url = sa.make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    return url.render_as_string(hide_password=False)


def insert_bucket(name: str) -> Callable[[Connection], None]:
    def work(conn: Connection) -> None:
        conn.execute(
            tables.buckets.insert().values(
                name=name, tenant_id="t", owner_id="o", region="r", created_at=NOW
            )
        )

    return work


def bucket_names(conn: Connection) -> list[str]:
    return list(conn.scalars(sa.select(tables.buckets.c.name).order_by(tables.buckets.c.name)))


async def test_a_connection_slow_to_open_is_opened_again(
    postgres_url: str, proxy: StallingProxy
) -> None:
    for operation in ("read", "write"):
        # A database of its own each time: no kept connection, the operation opens one. Its
        # timeout is long enough for a real connect on a loaded machine, and the unanswered one
        # costs all of it.
        database = open_database(_through(postgres_url, proxy), pool_size=2, timeout=2)
        opened, proxy.stall = proxy.opened, 1
        try:
            if operation == "write":
                await database.write(insert_bucket("slow"))
            assert await database.read(bucket_names) == (["slow"] if operation == "write" else [])
        finally:
            await database.close()
        assert proxy.opened - opened >= 2  # the one that timed out, then one that served


async def test_a_server_that_never_answers_is_still_unavailable(
    postgres_url: str, proxy: StallingProxy
) -> None:
    # No connect here is answered: a short timeout proves as much.
    database = open_database(_through(postgres_url, proxy), pool_size=2, timeout=0.5)
    proxy.stall = 10
    try:
        with pytest.raises(DatabaseUnavailable):
            await database.read(bucket_names)
        assert proxy.opened == 3  # a few tries, each the setting's timeout, not for ever
    finally:
        await database.close()
