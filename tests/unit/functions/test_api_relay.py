"""The gateway's side of the sandboxes' API relay (decisions 0303, 0350), without a sandbox: a
connection carried both ways with its half close, and one whose gateway side fails ended on
the sandbox's side too, where that side used to wait on its reader for ever; a connection
idle past ``lambda_relay_idle_timeout`` closed both ways (decision 0364); a relay stopped as it
starts leaves no listening socket behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.functions.api_relay import ApiRelay
from andromede.settings import Settings

Gateway = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _relayed(gateway: Gateway) -> AsyncIterator[ApiRelay]:
    server = await asyncio.start_server(gateway, "127.0.0.1", 0)
    relay = ApiRelay("127.0.0.1", server.sockets[0].getsockname()[1], tls=False)
    serving = asyncio.create_task(relay.serve())
    try:
        while not relay.path.exists():
            await asyncio.sleep(0.01)
        yield relay
    finally:
        serving.cancel()
        server.close()
        await asyncio.gather(serving, return_exceptions=True)
        await server.wait_closed()


async def test_a_connection_is_carried_both_ways_to_its_end() -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"got " + await reader.read())  # until the sandbox's half close
        writer.close()

    async for relay in _relayed(echo):
        reader, writer = await asyncio.open_unix_connection(str(relay.path))
        writer.write(b"x" * 200_000)
        writer.write_eof()
        answer = await asyncio.wait_for(reader.read(), 30)
        assert answer == b"got " + b"x" * 200_000
        writer.close()
        await writer.wait_closed()


async def test_a_gateway_side_reset_ends_the_sandbox_side() -> None:
    async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # a reset, not an orderly end

    async for relay in _relayed(reset):
        reader, writer = await asyncio.open_unix_connection(str(relay.path))
        writer.write(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
        # The sandbox's side sent its request and waits: only the relay can end it.
        with contextlib.suppress(ConnectionError):  # ended as a reset: as good as an end
            assert await asyncio.wait_for(reader.read(), 30) == b""
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_an_idle_connection_is_closed_both_ways_a_busy_one_kept() -> None:
    """Decision 0364: a connection silent for ``idle_timeout`` is closed on both sides —
    the function's code may reach this socket without the bootstrap's relay —, one that
    keeps talking is kept past it."""
    ended: list[tuple[int, float]] = []  # (requests a connection carried, its seconds)

    async def gateway(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        began, served = asyncio.get_running_loop().time(), 0
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while await reader.readuntil(b"\r\n\r\n"):
                served += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        ended.append((served, asyncio.get_running_loop().time() - began))
        writer.close()

    async for relay in _relayed(gateway):
        relay.idle_timeout = 1.0
        loop = asyncio.get_running_loop()
        idle_reader, idle_writer = await asyncio.open_unix_connection(str(relay.path))
        opened = loop.time()
        busy_reader, busy_writer = await asyncio.open_unix_connection(str(relay.path))
        for _ in range(15):  # 3 s of a request every 0.2 s: never 1 s silent
            busy_writer.write(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
            await asyncio.wait_for(busy_reader.readuntil(b"\r\n\r\n"), 30)
            await asyncio.sleep(0.2)
        # The silent one was closed on the sandbox's side (its read ends) ...
        assert await asyncio.wait_for(idle_reader.read(), 30) == b""
        assert loop.time() - opened >= 1.0
        # ... and on the gateway's, after its timeout, while the busy one is still open.
        for _ in range(800):
            if ended:
                break
            await asyncio.sleep(0.025)
        ((served, lasted),) = ended
        assert served == 0 and 0.9 <= lasted < 20, ended
        busy_writer.write(b"GET / HTTP/1.1\r\nHost: api\r\n\r\n")
        answer = await asyncio.wait_for(busy_reader.readuntil(b"\r\n\r\n"), 30)
        assert answer.startswith(b"HTTP/1.1 200")
        for writer in (idle_writer, busy_writer):
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def test_the_idle_timeout_is_a_setting() -> None:
    assert Settings().lambda_relay_idle_timeout == 350.0
    assert Settings(lambda_relay_idle_timeout=2).lambda_relay_idle_timeout == 2.0
    with pytest.raises(ValidationError):
        Settings(lambda_relay_idle_timeout=0)


def _open_sockets() -> int:
    return sum(1 for fd in Path("/proc/self/fd").iterdir() if "socket:" in _link(fd))


def _link(fd: Path) -> str:
    try:
        return os.readlink(fd)
    except OSError:  # closed between the listing and the read
        return ""


async def test_a_relay_cancelled_as_it_starts_leaves_no_listening_socket() -> None:
    """A gateway stopping just as its relay bound its socket (a console test's app, in one CI
    run) must close that socket: asyncio's start_unix_server yields once after the bind, and a
    cancellation there left the listener registered in the loop, unclosed, for ever."""
    before = _open_sockets()
    for _ in range(30):
        relay = ApiRelay("127.0.0.1", 9, tls=False)
        serving = asyncio.create_task(relay.serve())
        while not relay.path.exists() and not serving.done():
            await asyncio.sleep(0)
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
    assert _open_sockets() == before
