"""The health probe (decisions 0191, 0198) against real servers on the loopback, in the
host's own namespace: a TCP check passes on a connection; an HTTP check sends a GET of its
path and passes on a code its matcher accepts, fails naming the code otherwise, fails on an
answer that is no HTTP and times out on a server that never answers. An HTTPS check
(session 49) does the same over TLS to a server with a self-signed certificate made here
(not verified, as ELBv2 does not), sending no SNI."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from andromede.hypervisor.target_probes import ProbeOutcome, probe_target
from support.smtp_sink import self_signed

ANSWERS = {
    b"/health": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    b"/teapot": b"HTTP/1.0 418 I'm a teapot\r\n\r\n",
    b"/junk": b"SSH-2.0-OpenSSH_9.6\r\n",
}


@asynccontextmanager
async def server(
    *, silent: bool = False, tls: ssl.SSLContext | None = None
) -> AsyncIterator[tuple[int, list[bytes]]]:
    """An HTTP/1.1 server on the loopback (over TLS with ``tls``) answering ANSWERS by path
    (404 otherwise), or reading and never answering (``silent``); its port and the
    requests' heads."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            heads.append(head)
            if silent:
                await reader.read()  # until the prober gives up and closes
                return
            path = head.split(b" ")[1]
            writer.write(ANSWERS.get(path, b"HTTP/1.1 404 Not Found\r\n\r\n"))
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()

    listening = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=tls)
    try:
        yield listening.sockets[0].getsockname()[1], heads
    finally:
        listening.close()
        await listening.wait_closed()


async def test_tcp_and_http_checks() -> None:
    async with server() as (port, heads):
        assert await probe_target(None, "127.0.0.1", port, 2) == ProbeOutcome(True)
        healthy = await probe_target(None, "127.0.0.1", port, 2, path="/health", matcher="200")
        assert healthy == ProbeOutcome(True, code=200)
        assert heads[-1].startswith(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:")
        assert b"User-Agent: ELB-HealthChecker/2.0\r\n" in heads[-1]
        teapot = await probe_target(None, "127.0.0.1", port, 2, path="/teapot", matcher="200-399")
        assert teapot == ProbeOutcome(False, code=418)
        ranged = await probe_target(None, "127.0.0.1", port, 2, path="/x", matcher="200,400-404")
        assert ranged == ProbeOutcome(True, code=404)
        junk = await probe_target(None, "127.0.0.1", port, 2, path="/junk")
        assert junk == ProbeOutcome(False)


async def test_a_silent_or_absent_server() -> None:
    async with server(silent=True) as (port, _):
        started = asyncio.get_running_loop().time()
        outcome = await probe_target(None, "127.0.0.1", port, 0.3, path="/health")
        assert outcome == ProbeOutcome(False, timed_out=True)
        assert asyncio.get_running_loop().time() - started < 2
    refused = await probe_target(None, "127.0.0.1", port, 1, path="/health")
    assert refused == ProbeOutcome(False)


async def test_https_checks_accept_any_certificate_and_send_no_sni() -> None:
    tls, _ = self_signed()  # the prober is not given the certificate: never verified
    names: list[str | None] = []
    tls.sni_callback = lambda _socket, name, _context: names.append(name)
    async with server(tls=tls) as (port, heads):
        healthy = await probe_target(
            None, "127.0.0.1", port, 2, path="/health", matcher="200", tls=True
        )
        assert healthy == ProbeOutcome(True, code=200)
        assert heads[-1].startswith(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1:")
        assert names == [None]
        teapot = await probe_target(None, "127.0.0.1", port, 2, path="/teapot", tls=True)
        assert teapot == ProbeOutcome(False, code=418)
    async with server(tls=tls, silent=True) as (port, _):
        started = asyncio.get_running_loop().time()
        outcome = await probe_target(None, "127.0.0.1", port, 0.3, path="/", tls=True)
        assert outcome == ProbeOutcome(False, timed_out=True)
        assert asyncio.get_running_loop().time() - started < 2

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(ANSWERS[b"/junk"])  # no TLS: the handshake fails at once
        writer.close()
        await writer.wait_closed()

    plain = await asyncio.start_server(greet, "127.0.0.1", 0)
    async with plain:
        port = plain.sockets[0].getsockname()[1]
        assert await probe_target(None, "127.0.0.1", port, 2, path="/", tls=True) == (
            ProbeOutcome(False)
        )
