"""The raw HTTP/1.1 client against a scripted asyncio server: framing, keep-alive, reconnects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bench.client import Connection, ProtocolError

BIG = bytes(range(256)) * 8192  # 2 MiB, more than the client's read buffer
_accepted = [0]


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _accepted[0] += 1
    connection_id = _accepted[0]
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ")[1]
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            conn = str(connection_id).encode()
            if target == b"/length":
                payload = b"x" * 5 + body
                writer.write(
                    b'HTTP/1.1 200 OK\r\nETag: "abc"\r\nX-Conn: '
                    + conn
                    + b"\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
            elif target == b"/chunked":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Conn: "
                    + conn
                    + b"\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
                )
            elif target == b"/big":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BIG) + BIG)
            elif target == b"/close":
                writer.write(
                    b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nX-Conn: "
                    + conn
                    + b"\r\nContent-Length: 30\r\n\r\n<Error><Code>NoSuchKey</Code>"
                    + b"\n"
                )
                await writer.drain()
                writer.close()
                return
            elif target == b"/truncated":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
                await writer.drain()
                writer.close()
                return
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_handle, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


def _get(target: str, body: bytes = b"") -> bytes:
    return f"PUT {target} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode()


async def test_content_length_and_keep_alive(port: int) -> None:
    conn = Connection("127.0.0.1", port)
    first = await conn.request(_get("/length", b"abc"), b"abc", keep_body=True)
    second = await conn.request(_get("/length"), keep_body=True)
    conn.close()
    assert (first.status, first.body, first.length, first.headers["etag"]) == (
        200,
        b"xxxxxabc",
        8,
        '"abc"',
    )
    assert second.body == b"xxxxx"
    assert first.headers["x-conn"] == second.headers["x-conn"]


async def test_large_request_body_and_discarded_large_response(port: int) -> None:
    conn = Connection("127.0.0.1", port)
    sent = await conn.request(_get("/length", BIG), memoryview(BIG))
    dropped = await conn.request(_get("/big"))
    kept = await conn.request(_get("/big"), keep_body=True)
    conn.close()
    assert sent.length == len(BIG) + 5 and sent.body == b""
    assert dropped.length == len(BIG) and dropped.body == b""
    assert kept.body == BIG


async def test_chunked_body_with_extension_and_trailer(port: int) -> None:
    conn = Connection("127.0.0.1", port)
    response = await conn.request(_get("/chunked"), keep_body=True)
    again = await conn.request(_get("/chunked"), keep_body=True)
    conn.close()
    assert (response.length, response.body) == (11, b"hello world")
    assert again.headers["x-conn"] == response.headers["x-conn"]


async def test_connection_close_then_reconnect_and_error_body_kept(port: int) -> None:
    conn = Connection("127.0.0.1", port)
    closed = await conn.request(_get("/close"))
    after = await conn.request(_get("/length"))
    conn.close()
    assert closed.status == 404 and b"NoSuchKey" in closed.body
    assert after.status == 200 and after.headers["x-conn"] != closed.headers["x-conn"]


async def test_truncated_body_raises(port: int) -> None:
    conn = Connection("127.0.0.1", port)
    with pytest.raises((ProtocolError, ConnectionError)):
        await conn.request(_get("/truncated"), keep_body=True)
    conn.close()
