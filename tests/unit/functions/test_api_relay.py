"""The gateway's side of the sandboxes' API relay (decisions 0303, 0350), without a sandbox: a
connection carried both ways with its half close, and one whose gateway side fails ended on
the sandbox's side too, where that side used to wait on its reader for ever."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

from andromede.functions.api_relay import ApiRelay

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
