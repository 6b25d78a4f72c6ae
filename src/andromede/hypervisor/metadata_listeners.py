"""The metadata service's listeners on a host: one per tenant network, one app for all.

Each tenant network DNATs its guests' ``169.254.169.254:80`` to the host side of its transit
link at ``imds_port`` (decision 0015). The metadata app must answer there, and only there — it is
bound to each transit address, never to ``0.0.0.0``, so nothing outside the tenant networks
reaches it — and in one process per host, because its IMDSv2 token key lives in that process's
memory (decision 0016). So the hypervisor agent holds one :class:`MetadataListeners` around the
app it was given, and the tenant networks tell it when a network's transit address appears
(:meth:`network_up`, idempotent) and goes (:meth:`network_down`).

The VPC endpoints' listeners (decision 0160) are the same, with, when the operator gives the
object store's certificate, a second server per transit address on another port terminating
TLS (:class:`ListenerTls`: the routers DNAT the guests' port 443 there).

Each listener is a uvicorn server over a socket bound here; it is started without uvicorn's
signal handling (``Server.serve`` would take SIGTERM from the agent's own server) and without
lifespan events (the app is the agent's to start, not each listener's).

Each request's scope carries the ``http.hop_limit`` extension (decision 0148): the app names
the TTL its answer must reach the guest with (the instance's ``HttpPutResponseHopLimit``, for
the token PUT), and the listener sets ``IP_TTL`` on that connection's socket to it plus the
routers between the listener and the guest (:data:`ROUTERS_TO_GUEST`). The sockets are those
uvicorn's protocol is given at ``connection_made`` (asyncio's interface), found again by the
peer address the scope names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from andromede.http.hop_limit import RESPONSE_HOP_LIMIT
from andromede.http.response import Receive, Scope, Send

__all__ = ["ROUTERS_TO_GUEST", "AsgiApp", "ListenerTls", "MetadataListeners", "ip_ttl"]

log = logging.getLogger(__name__)

# The metadata app answers in milliseconds; a connection still open after this at close is cut.
_GRACEFUL_CLOSE = 2.0


# The metadata app, or any ASGI application (the tests pass their own).
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Routers between a listener (the host side of a network's transit link) and a guest: the
# VPC's namespace, which routes the answer from the transit link to the subnet's bridge
# (measured: tests/contract/test_metadata_hop_limit.py; the bridge and the tap are not
# routers). A TTL of hop limit + this reaches the guest with the hop limit left.
ROUTERS_TO_GUEST = 1
_MAX_TTL = 255


def ip_ttl(hop_limit: int) -> int:
    """The ``IP_TTL`` that makes a packet reach the guest with ``hop_limit`` left."""
    return max(1, min(_MAX_TTL, hop_limit + ROUTERS_TO_GUEST))


class _Connections:
    """The sockets of a listener's open connections, by their peer (address, port)."""

    def __init__(self) -> None:
        self.sockets: dict[tuple[str, int], _TtlSocket] = {}

    def protocol(self) -> type[asyncio.Protocol]:
        """uvicorn's HTTP protocol, noting each connection's socket."""
        sockets = self.sockets

        class Tracked(HttpToolsProtocol):
            _peer: tuple[str, int] | None = None

            def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
                peer = transport.get_extra_info("peername")
                sock = transport.get_extra_info("socket")
                if isinstance(peer, tuple) and sock is not None:
                    self._peer = (str(peer[0]), int(peer[1]))
                    sockets[self._peer] = sock
                super().connection_made(transport)

            def connection_lost(self, exc: Exception | None) -> None:
                if self._peer is not None:
                    sockets.pop(self._peer, None)
                super().connection_lost(exc)

        return Tracked

    def app(self, app: AsgiApp) -> AsgiApp:
        """``app`` with the hop limiter of the request's connection in its scope."""

        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            client = scope.get("client")
            sock = self.sockets.get((client[0], client[1])) if client else None
            if scope["type"] == "http" and sock is not None:
                extensions = dict(scope.get("extensions") or {})
                extensions[RESPONSE_HOP_LIMIT] = _limiter(sock)
                scope["extensions"] = extensions
            await app(scope, receive, send)

        return limited


class _TtlSocket(Protocol):
    def setsockopt(self, level: int, option: int, value: int, /) -> None: ...


def _limiter(sock: _TtlSocket) -> Callable[[int], None]:
    def limit(hop_limit: int) -> None:
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ip_ttl(hop_limit))
        except OSError as exc:  # the connection is gone: nothing will be sent on it anyway
            log.debug("metadata answer's TTL not set: %s", exc)

    return limit


@dataclass(frozen=True, slots=True)
class ListenerTls:
    """A second listener per address, at ``port``, terminating TLS with this certificate
    chain and key (PEM files)."""

    port: int
    certfile: str
    keyfile: str


@dataclass
class _Listener:
    server: uvicorn.Server
    sock: socket.socket
    loop_task: asyncio.Task[None]


class MetadataListeners:
    """The metadata app served on each tenant network's host transit address at ``port``."""

    def __init__(self, app: AsgiApp, port: int, tls: ListenerTls | None = None) -> None:
        self._app = app
        self._port = port
        self._tls = tls
        self._listeners: dict[str, list[_Listener]] = {}
        self._lock = asyncio.Lock()

    @property
    def port(self) -> int:
        return self._port

    def addresses(self) -> set[str]:
        return set(self._listeners)

    async def network_up(self, host_ip: str) -> None:
        """Listen on ``host_ip:port`` (the address exists on a host link) — and on the TLS
        port, with one; idempotent."""
        async with self._lock:
            if host_ip in self._listeners:
                return
            started = [await self._start(host_ip, self._port, None)]
            if self._tls is not None:
                try:
                    started.append(await self._start(host_ip, self._tls.port, self._tls))
                except BaseException:
                    await _stop(started[0])
                    raise
            self._listeners[host_ip] = started
            log.info("listening on %s:%d", host_ip, self._port)

    async def _start(self, host_ip: str, port: int, tls: ListenerTls | None) -> _Listener:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host_ip, port))
            sock.listen(128)
            sock.setblocking(False)
            connections = _Connections()
            config = uvicorn.Config(
                connections.app(self._app),
                http=connections.protocol(),
                lifespan="off",
                log_config=None,
                access_log=False,
                timeout_graceful_shutdown=int(_GRACEFUL_CLOSE),
                ssl_certfile=tls.certfile if tls is not None else None,
                ssl_keyfile=tls.keyfile if tls is not None else None,
            )
            config.load()
            server = uvicorn.Server(config)
            # What Server.serve sets up before its startup, minus the signal handlers.
            server.lifespan = config.lifespan_class(config)
            await server.startup(sockets=[sock])
        except BaseException:
            sock.close()
            raise
        task = asyncio.create_task(server.main_loop(), name=f"listener-{host_ip}:{port}")
        return _Listener(server, sock, task)

    async def network_down(self, host_ip: str) -> None:
        """Stop listening on ``host_ip``; no-op when not listening."""
        async with self._lock:
            listeners = self._listeners.pop(host_ip, [])
            for listener in listeners:
                await _stop(listener)
            if listeners:
                log.info("no longer listening on %s:%d", host_ip, self._port)

    async def close(self) -> None:
        async with self._lock:
            listeners, self._listeners = list(self._listeners.values()), {}
            for started in listeners:
                for listener in started:
                    await _stop(listener)


async def _stop(listener: _Listener) -> None:
    listener.server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await listener.loop_task
    await listener.server.shutdown(sockets=[listener.sock])
