"""The network backend under the gateway's kept outbound HTTPS connections: httpcore's own, with
a socket whose TLS handshake was cancelled closed at once.

httpcore closes the TCP stream of a handshake that *failed* (``except Exception`` around its
``start_tls``), not of one that was *cancelled*: a caller that went away, or an
``asyncio.timeout`` around the whole call (the XKS client bounds resolution and every phase
together, decision 0101). The connection was not yet in the pool, so nothing else ever closed
it: its socket stayed open, held by the event loop, until the loop closed and a later garbage
collection warned about it (a ``ResourceWarning`` in whatever test ran then). anyio's own
``connect_tcp`` closes the stream on any ``BaseException`` around the same handshake; this does
the same for httpcore's.

:func:`close_cancelled_handshakes` fits it into an ``httpx.AsyncHTTPTransport``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

__all__ = ["close_cancelled_handshakes"]


class _Stream(httpcore.AsyncNetworkStream):
    """A TCP stream whose ``start_tls`` closes it however it ends without a TLS stream."""

    def __init__(self, stream: httpcore.AsyncNetworkStream) -> None:
        self._stream = stream

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await self._stream.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            # Closing twice after a failed handshake is harmless: httpcore closed it already.
            await self._stream.aclose()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.AsyncNetworkBackend):
    def __init__(self, backend: httpcore.AsyncNetworkBackend) -> None:
        self._backend = backend

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        return _Stream(stream)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        return _Stream(await self._backend.connect_unix_socket(path, timeout, socket_options))

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def close_cancelled_handshakes(transport: httpx.AsyncHTTPTransport) -> httpx.AsyncHTTPTransport:
    """``transport``, its connection pool now opening connections through the backend above.

    httpx has no parameter for the backend, so its pool's is wrapped in place: read first, so
    that a renamed attribute in a later httpcore fails here, loudly, rather than leaving the
    wrapper unused (the XKS client's cancellation tests would catch that too)."""
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncConnectionPool):  # a proxy's pool: not used here
        raise TypeError("only a direct connection pool takes this backend")
    pool._network_backend = _Backend(pool._network_backend)
    return transport
