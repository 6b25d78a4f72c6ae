"""Application Load Balancers' HTTP listeners on a host's VPC routers (decision 0216): for each
HTTP listener of a VPC whose router is built here, an
:class:`~andromede.hypervisor.http_proxies.HttpListenerProxy` on each node address and port
in the router's namespace, as the TLS terminators (decision 0210) serve TLS listeners.

- **Where.** A listening socket is made by a thread that enters the router's namespace (a
  socket stays in the namespace it was made in), bound with ``IP_FREEBIND`` so it does not
  wait on the node address being held; the event loop serves it. The router's table gives
  the listener's new connections the mark its ``input`` chain accepts
  (:data:`~andromede.hypervisor.load_balancer_rules.TERMINATED`), as a TLS listener's. A
  connection to a target is made in the namespace too, from the node address the client
  reached (the target sees the load balancer's address and the client's in
  ``X-Forwarded-For``, as behind AWS's ALB).
- **HTTPS** listeners present their certificates (the SNI choice of the TLS terminators,
  :func:`~andromede.hypervisor.tls_terminators.sni_context`) under their security policy;
  the keys are those the host holds of the last hand-over, in memory only.
- **Changes.** A listener whose addresses, port or namespace changed is served anew; one
  whose rules, targets or attributes changed keeps its connections (the proxies take the new
  routing for the next request).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from andromede.hypervisor.http_proxies import Connector, HttpListenerProxy, HttpRouting, ProxyLimits
from andromede.hypervisor.netns_commands import _in_netns
from andromede.loadbalancing.model import ForwardingView

__all__ = ["HttpListeners", "routing_of"]

log = logging.getLogger(__name__)

_IP_FREEBIND: Final = 15  # <linux/in.h>: bind to an address not (yet) held


def routing_of(view: ForwardingView) -> tuple[HttpRouting, ProxyLimits]:
    """The proxy's routing and limits of an HTTP listener's view."""
    http = view.http
    if http is None:
        raise ValueError("not an HTTP listener")
    routing = HttpRouting(
        view.listener_id,
        view.port,
        http.rules,
        dict(http.groups),
        protocol=http.protocol,
        policies=dict(http.policies),
        mutual=view.tls.mutual if view.tls is not None else None,  # decision 0256
        access_log=http.access_log,  # decision 0264
        group_arns=dict(http.group_arns),
        connection_log=http.connection_log,  # decision 0287
    )
    limits = ProxyLimits(
        max_header_bytes=http.max_header_bytes,
        idle_timeout=float(http.idle_timeout),
        xff_mode=http.xff_mode,
        xff_client_port=http.xff_client_port,
        drop_invalid_headers=http.drop_invalid_headers,
        client_keep_alive=float(http.client_keep_alive),
        access_log_max_lines=http.access_log_max_lines,
        desync_mode=http.desync_mode,  # decision 0287
    )
    return routing, limits


def _connector(namespace: str, local: str) -> Connector:
    """Connections to targets made in the router's namespace, from the node address."""

    async def connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        def make() -> int:
            made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            made.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            made.bind((local, 0))
            return made.detach()

        upstream = socket.socket(
            socket.AF_INET, socket.SOCK_STREAM, fileno=await _in_netns(namespace, make)
        )
        upstream.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(upstream, (host, port))
        except BaseException:
            upstream.close()
            raise
        return await asyncio.open_connection(sock=upstream)

    return connect


@dataclass
class _Served:
    signature: tuple[object, ...]
    vpc_id: str
    port: int
    # (node address, its proxy)
    proxies: list[tuple[str, HttpListenerProxy]] = field(default_factory=list)

    async def close(self) -> None:
        for _, proxy in self.proxies:
            with contextlib.suppress(Exception):
                await proxy.close()


class HttpListeners:
    """The HTTP listeners' proxies on one host's routers."""

    def __init__(
        self,
        namespace_of: Callable[[str], str | None],
        context_of: Callable[[ForwardingView], Awaitable[ssl.SSLContext]] | None = None,
    ) -> None:
        self._namespace_of = namespace_of
        # An HTTPS listener's server context (its certificates, as the host holds them).
        self._context_of = context_of
        self._running: dict[tuple[str, str], _Served] = {}

    @property
    def listening(self) -> set[tuple[str, str]]:
        """The (VPC, listener id) served here."""
        return set(self._running)

    async def apply(self, views: Sequence[ForwardingView]) -> None:
        """Serve the HTTP listeners of ``views`` whose router is built here, and only them."""
        wanted: dict[tuple[str, str], tuple[ForwardingView, str]] = {}
        for view in views:
            namespace = self._namespace_of(view.vpc_id)
            if view.http is not None and namespace is not None and view.addresses:
                if view.tls is not None and self._context_of is None:
                    continue  # an HTTPS listener needs its certificates
                wanted[(view.vpc_id, view.listener_id)] = (view, namespace)
        for key in [k for k in self._running if k not in wanted]:
            await self._running.pop(key).close()
        for key, (view, namespace) in sorted(wanted.items()):
            routing, limits = routing_of(view)
            signature = (view.addresses, view.port, namespace, view.tls)
            running = self._running.get(key)
            if running is not None and running.signature == signature:
                for _, proxy in running.proxies:
                    proxy.update(routing, limits)
                continue
            if running is not None:
                await self._running.pop(key).close()
            served = _Served(signature, view.vpc_id, view.port)
            context: ssl.SSLContext | None = None
            if view.tls is not None and self._context_of is not None:
                try:
                    context = await self._context_of(view)
                except Exception as exc:  # its certificates: that listener only, by type
                    log.warning(
                        "HTTPS listener %s: certificates could not be loaded (%s)",
                        key[1],
                        type(exc).__name__,
                    )
                    continue
            try:
                for address in view.addresses:
                    proxy = HttpListenerProxy(
                        routing, limits, connect=_connector(namespace, address)
                    )
                    await proxy.serve_socket(
                        await _listening(namespace, address, view.port), context
                    )
                    served.proxies.append((address, proxy))
            except OSError as exc:
                await served.close()
                log.warning("HTTP listener %s: cannot listen: %s", key[1], exc)
                continue
            self._running[key] = served

    def counters(self) -> dict[tuple[str, str, int], tuple[int, ...]]:
        """(VPC, node address, port) → what its proxy answered so far
        (:meth:`~andromede.hypervisor.http_proxies.RequestCounts.as_tuple`); a listener
        served anew starts again from 0."""
        return {
            (served.vpc_id, address, served.port): proxy.counts.as_tuple()
            for served in self._running.values()
            for address, proxy in served.proxies
        }

    def access_logs(self) -> dict[tuple[str, str, int], tuple[str, ...]]:
        """(VPC, node address, port) → the access log lines its proxy wrote since the last
        call (decision 0264), taken: each line reaches one report."""
        drained = {
            (served.vpc_id, address, served.port): proxy.access_log.drain()
            for served in self._running.values()
            for address, proxy in served.proxies
        }
        return {key: lines for key, lines in drained.items() if lines}

    def connection_logs(self) -> dict[tuple[str, str, int], tuple[str, ...]]:
        """(VPC, node address, port) → the connection log lines its proxy wrote since the
        last call (decision 0287; an HTTP listener's since decision 0307), taken."""
        drained = {
            (served.vpc_id, address, served.port): proxy.connection_log.drain()
            for served in self._running.values()
            for address, proxy in served.proxies
        }
        return {key: lines for key, lines in drained.items() if lines}

    async def close(self) -> None:
        for served in self._running.values():
            await served.close()
        self._running.clear()


async def _listening(namespace: str, address: str, port: int) -> socket.socket:
    def make() -> int:
        made = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            made.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            made.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
            made.bind((address, port))
            made.listen(512)
        except OSError:
            made.close()
            raise
        return made.detach()

    listening = socket.socket(
        socket.AF_INET, socket.SOCK_STREAM, fileno=await _in_netns(namespace, make)
    )
    listening.setblocking(False)
    return listening
