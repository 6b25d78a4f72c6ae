"""The doorbells of the background loops rung across gateways sharing one PostgreSQL (decision
0206, session 51's addendum).

A process's own commits ring its loops' bells (``db.doorbells``); work another gateway queued
used to wait for the loop's next poll, up to ``background_idle_poll_max``. On PostgreSQL the
writing transaction now also says which queues it added to with ``pg_notify``
(:func:`notify_queued`), and every process listens (:class:`NotifyListener`): PostgreSQL
delivers a notification when its transaction commits and drops it when it rolls back, the
"after the commit, never before" the process's own bells keep, so the loop woken elsewhere
claims a row it can see. A notification carries the queue's name and the writing process's
token: a process ignores its own, already rung locally.

The listener holds one connection of its own, outside the engine's pool (a connection in
LISTEN must stay open and idle; taking it from the pool would leave the gateway's requests one
connection short), opened when a loop first waits on a bell, so tools that open the database
and run no loop listen to nothing. A lost connection is opened again with a back-off, and then
every bell is rung once: what was queued while nobody listened is found by one pass rather
than at the next poll. Polling stays, as on SQLite, for what no notification announces (a lease
that lapsed, a retry whose time came) and for a listener cut off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andromede.db.doorbells import Doorbells

__all__ = ["CHANNEL", "NotifyListener", "notify_queued"]

log = logging.getLogger(__name__)

CHANNEL = "andromede_queued"
_NOTIFY = sa.text("SELECT pg_notify(:channel, :payload)")

# A lost listening connection is opened again after 0.1 s, doubling up to this (seconds): the
# loops' polling covers the gap meanwhile.
_RECONNECT_MAX = 5.0
# How often an idle listening connection is checked (seconds): a server gone behind a silent
# network (no RST) leaves the connection open on this side until a statement finds it dead.
_CHECK_EVERY = 30.0


def notify_queued(conn: Connection, queues: Iterable[str], token: str) -> None:
    """In the writing transaction (or just after a lone autocommit statement): tell every
    listening process that ``queues`` have new work; ``token`` names the writing process."""
    for queue in sorted(queues):
        conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": f"{queue} {token}"})


class NotifyListener:
    """One process's LISTEN on :data:`CHANNEL`, ringing ``doorbells`` on other processes'
    notifications (see the module docstring)."""

    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        doorbells: Doorbells,
        *,
        reconnect_max: float = _RECONNECT_MAX,
        check_every: float = _CHECK_EVERY,
    ) -> None:
        self.token = secrets.token_hex(8)  # this process's notifications, ignored when heard
        self._connect = connect
        self._doorbells = doorbells
        self._reconnect_max = reconnect_max
        self._check_every = check_every
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._closed = False

    def start(self) -> None:
        """Listen from now on, on the running event loop (a no-op once started or closed)."""
        if self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="doorbell-listener"
            )

    async def listening(self, timeout: float) -> bool:
        """Whether the listener is (or within ``timeout`` seconds becomes) subscribed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._listening.wait()
        return self._listening.is_set()

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = 0.1
        reconnecting = False
        while True:
            try:
                connection = await self._connect()
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.debug("cannot listen for queued work yet (%s)", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._reconnect_max)
                continue
            try:
                await self._listen(connection, ring_all=reconnecting)
                delay = 0.1  # it was up: the next loss starts the back-off over
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                log.info("the queued-work listener lost its connection (%s)", type(exc).__name__)
            finally:
                self._listening.clear()
                with contextlib.suppress(Exception):
                    connection.terminate()
            reconnecting = True
            await asyncio.sleep(delay)

    async def _listen(self, connection: asyncpg.Connection, *, ring_all: bool) -> None:
        """Subscribed on ``connection`` until it is lost (returns or raises); ``ring_all``:
        after a loss, when work may have been queued unheard."""
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _connection: lost.set())
        await connection.add_listener(CHANNEL, self._heard)
        self._listening.set()
        if ring_all:  # whatever another gateway queued while this process was not listening
            self._doorbells.ring(self._doorbells.names())
        while not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._check_every):
                    await lost.wait()
            if lost.is_set() or connection.is_closed():
                return
            await connection.execute("SELECT 1", timeout=self._check_every)

    def _heard(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        queue, _, token = payload.partition(" ")
        if token != self.token:  # this process's own commits rang their bells already
            self._doorbells.ring_known(queue)
