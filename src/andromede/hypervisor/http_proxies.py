"""Application Load Balancers' HTTP listeners' data plane (decision 0216): an asyncio HTTP/1.1
reverse proxy per listener, which applies the listener's rules
(:mod:`andromede.loadbalancing.http_rules`) to each request and forwards it to a target of
the chosen group, or answers the rule's fixed response or redirect.

- **Parsing** is h11's (a well-kept sans-I/O HTTP/1.1 library, already in the environment
  through uvicorn), on both sides: the request line and headers are bounded by
  ``max_header_bytes`` (400 beyond), bodies are streamed in both directions — a
  ``Content-Length`` body and a chunked one alike, never held whole; h11 frames what it
  sends (chunked towards an HTTP/1.1 client when the target gave no length).
- **Forwarding**: round robin over the group's targets (the healthy ones, every one when
  none is: the view's fail-open), or to the one with the fewest requests in flight through
  this proxy for a group whose ``load_balancing.algorithm.type`` is
  ``least_outstanding_requests``; a forward action of several groups picks one by weight per
  request. Sticky sessions (decision 0231, :mod:`~andromede.hypervisor.http_stickiness`):
  a request whose cookie names a target the group still serves goes there, and a weighted
  forward with group stickiness keeps a client's group. An HTTPS group's targets are spoken
  to over TLS (1.2 or later, no SNI), their certificates not verified — AWS's ALBs do not
  verify them either (decision 0231). The request gets AWS's ``X-Forwarded-For`` (appended,
  preserved or removed per ``routing.http.xff_header_processing.mode``, with the client's port when
  ``routing.http.xff_client_port.enabled``), ``X-Forwarded-Proto``, ``X-Forwarded-Port`` and
  an ``X-Amzn-Trace-Id`` (``Root=1-<time>-<24 hex>``, an incoming one kept); hop-by-hop
  headers are dropped. One connection a request towards the target (no pooling yet).
- **Mutual TLS** (decision 0256) of an HTTPS listener: the handshake asked for the client's
  certificate (:mod:`~andromede.hypervisor.client_certificates`); in ``verify`` mode a
  connection whose certificate a revocation list names is closed before any request, and
  each request tells the target the certificate's serial number, issuer, subject, validity
  and leaf (``X-Amzn-Mtls-Clientcert-*``); in ``passthrough`` mode the certificate, when the
  client gave one (``X-Amzn-Mtls-Clientcert``). A client's own copies are dropped.
- **Keep-alive** with clients: a connection serves requests one after another until the
  client closes it, asks to, is idle ``idle_timeout`` seconds, or an error cut a response.
- **Desync mitigation** (decision 0287): each request is classified
  (:mod:`~andromede.loadbalancing.http_classification`) and handled as the load balancer's
  ``routing.http.desync_mitigation_mode`` says of its class — forwarded, forwarded with the
  connection closed after the response, or refused with 400.
- **AWS's own answers**, with its ``awselb/2.0`` server name and pages: 400 for a request it
  cannot parse, 503 when the group has no target, 502 when the target refused or cut the
  connection or answered nonsense, 504 when it did not connect or answer in time; 460 (logged,
  nothing sent) when the client closed before the answer came (decision 0287).

What the proxy is told and counts is :mod:`~andromede.hypervisor.http_proxies_settings`'s, what
it notes for the access logs :mod:`~andromede.hypervisor.http_proxies_logs`'s, what it tells
of the client's certificate :mod:`~andromede.hypervisor.http_proxies_tls`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Final

import h11

from andromede.hypervisor.http_access_log import (
    AccessLogBuffer,
    connection_trace,
    current,
    render,
)
from andromede.hypervisor.http_connection_log import (
    established_line,
    failed_line,
    handshake,
    plain_line,
)
from andromede.hypervisor.http_proxies_logs import (
    ACTION_NAMES,
    exchange_for,
    header_bytes,
    trace_id,
)
from andromede.hypervisor.http_proxies_settings import (
    REASONS,
    SERVER,
    Connector,
    Headers,
    HttpRouting,
    ProxyLimits,
    RequestCounts,
    error_page,
    phrase,
)
from andromede.hypervisor.http_proxies_tls import client_certificate
from andromede.hypervisor.http_stickiness import (
    GROUP_COOKIE,
    open_cookie,
    request_cookies,
    sticky_cookies,
    sticky_target,
    target_cookies,
)
from andromede.hypervisor.target_probes import UNVERIFIED_TLS
from andromede.loadbalancing.application import GroupPolicy
from andromede.loadbalancing.http_classification import classify, mitigation
from andromede.loadbalancing.http_rules import (
    FixedResponse,
    Forward,
    Redirect,
    RequestFacts,
    choose,
    pick_group,
    redirect_location,
)
from andromede.loadbalancing.trust_stores import MTLS_HEADERS

__all__ = [
    "Connector",
    "HttpListenerProxy",
    "HttpRouting",
    "ProxyLimits",
    "RequestCounts",
    "error_page",
]

log = logging.getLogger(__name__)

_READ: Final = 65536
_HANDSHAKE_TIMEOUT: Final = 10.0
_HOP_BY_HOP: Final = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_VALID_NAME: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789-")

_NO_POLICY: Final = GroupPolicy()
_DEFAULT_LIMITS: Final = ProxyLimits()


class _Failed(Exception):
    """The target failed: the status the load balancer answers instead."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class HttpListenerProxy:
    """One HTTP listener's proxy; :meth:`update` swaps its rules and targets in place
    (connections held keep going)."""

    def __init__(
        self,
        routing: HttpRouting,
        limits: ProxyLimits = _DEFAULT_LIMITS,
        *,
        connect: Connector | None = None,
    ) -> None:
        self.routing = routing
        self.limits = limits
        self._connect: Connector = connect or asyncio.open_connection
        self._turns: dict[str, Iterator[int]] = {}
        # Requests in flight to each target through this proxy (least outstanding requests).
        self._outstanding: dict[tuple[str, int], int] = {}
        self._server: asyncio.Server | None = None
        # An HTTPS listener's socket and the task accepting on it (decision 0287).
        self._listening: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.counts = RequestCounts()
        # Decisions 0264 and 0287: drained by each host report.
        self.access_log = AccessLogBuffer(limits.access_log_max_lines)
        self.connection_log = AccessLogBuffer(limits.access_log_max_lines)

    def update(self, routing: HttpRouting, limits: ProxyLimits | None = None) -> None:
        self.routing = routing
        if limits is not None:
            self.limits = limits
            self.access_log.bound(limits.access_log_max_lines)
            self.connection_log.bound(limits.access_log_max_lines)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host``:``port`` (0: any); the port bound."""
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def serve_socket(
        self, sock: socket.socket, context: ssl.SSLContext | None = None
    ) -> None:
        """Serve an already bound socket (made in a router's namespace); over TLS with
        ``context`` (an HTTPS listener's), each handshake the proxy's own: its outcome is
        the connection log's (decision 0287)."""
        if context is None:
            self._server = await asyncio.start_server(self._serve, sock=sock)
            return
        sock.setblocking(False)  # as asyncio's servers set theirs
        self._listening = sock
        self._acceptor = asyncio.create_task(self._accept(sock, context))

    async def _accept(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, peer = await loop.sock_accept(sock)
            except OSError as exc:  # out of descriptors, a connection reset while queued
                log.debug("HTTPS listener %s: accept failed: %s", self.routing.listener_id, exc)
                await asyncio.sleep(0.05)
                continue
            task = asyncio.create_task(self._handshake(conn, peer, context))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handshake(
        self, conn: socket.socket, peer: tuple[str, int], context: ssl.SSLContext
    ) -> None:
        """One accepted HTTPS connection: its handshake, its connection log line when the
        load balancer's are on, then its requests."""
        conn_trace = connection_trace()
        started = time.monotonic()
        try:
            reader, writer = await handshake(conn, context, _HANDSHAKE_TIMEOUT)
        except (OSError, ssl.SSLError) as exc:
            self.counts.tls_errors += 1
            if self.routing.connection_log:
                self.connection_log.add(failed_line(peer, self.routing.port, exc, conn_trace))
            return
        await self._serve(reader, writer, conn_trace, time.monotonic() - started)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._acceptor is not None:
            self._acceptor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acceptor
        if self._listening is not None:
            self._listening.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    # -- one client connection --------------------------------------------------------------------

    async def _serve(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn_trace: str = "",
        handshake_latency: float | None = None,
    ) -> None:
        """One client connection's requests; an HTTPS one's ``conn_trace`` and handshake
        time are its connection log line's (decision 0287), a plain HTTP one's line has no
        TLS fields (``handshake_latency`` None, decision 0307)."""
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        client = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        peer = writer.get_extra_info("peername") or ("", 0)
        opened = time.monotonic()
        conn_trace = conn_trace or connection_trace()
        try:
            certificate = client_certificate(self.routing.mutual, writer)
            self.counts.tls_errors += certificate is None
            if self.routing.connection_log:  # a plain HTTP listener's too (decision 0307)
                if handshake_latency is None:
                    line = plain_line(peer, self.routing.port, conn_trace)
                else:
                    line = established_line(
                        writer, peer, self.routing.port, handshake_latency, conn_trace,
                        revoked=certificate is None,
                    )  # fmt: skip
                self.connection_log.add(line)
            while certificate is not None:
                event = await self._next(client, reader)
                if not isinstance(event, h11.Request):
                    break
                kept = await self._logged(
                    client, reader, writer, event, peer, certificate, conn_trace
                )
                if not kept or client.our_state is not h11.DONE:
                    break
                if client.their_state is not h11.DONE:
                    break
                if time.monotonic() - opened >= self.limits.client_keep_alive:
                    break  # client_keep_alive.seconds: the connection has served its time
                client.start_next_cycle()
        except h11.RemoteProtocolError:
            if client.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                with contextlib.suppress(Exception):
                    self._page(client, writer, 400)
        except (TimeoutError, ConnectionError, ssl.SSLError, h11.LocalProtocolError):
            pass
        except asyncio.CancelledError:
            pass  # the proxy closes: the connection ends here
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            if task is not None:
                self._tasks.discard(task)

    async def _next(self, conn: h11.Connection, reader: asyncio.StreamReader) -> object:
        """The next h11 event of the client, reading as needed; idle-bounded."""
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            data = await asyncio.wait_for(reader.read(_READ), self.limits.idle_timeout)
            conn.receive_data(data)
            exchange = current()
            if exchange is not None:
                exchange.received += len(data)

    def _send(self, conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
        data = conn.send(event)
        if data:
            writer.write(data)
            exchange = current()
            if exchange is not None:
                exchange.sent += len(data)

    def _page(self, conn: h11.Connection, writer: asyncio.StreamWriter, status: int) -> None:
        body = error_page(status)
        self._respond(conn, writer, status, b"text/html", body, close=status == 400)

    def _respond(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        status: int,
        content_type: bytes,
        body: bytes,
        *,
        extra: tuple[tuple[bytes, bytes], ...] = (),
        close: bool = False,
    ) -> None:
        headers = [
            (b"server", SERVER),
            (b"content-length", str(len(body)).encode()),
            *((b"content-type", content_type),) * bool(content_type),
            *extra,
            *((b"connection", b"close"),) * close,
        ]
        self.counts.answered(status, by_target=False)
        exchange = current()
        if exchange is not None:
            exchange.elb_status = status
        reason = REASONS.get(status) or phrase(status)
        self._send(conn, writer, h11.Response(status_code=status, headers=headers, reason=reason))
        if body:
            self._send(conn, writer, h11.Data(data=body))
        self._send(conn, writer, h11.EndOfMessage())

    async def _logged(
        self,
        client: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        peer: tuple[str, int],
        certificate: Headers,
        conn_trace: str,
    ) -> bool:
        """Answer one request, and note it in the access log when the load balancer's is on
        (decision 0264)."""
        elb = self.routing.access_log
        classified = classify(request.method, request.headers)
        self.counts.non_compliant += bool(classified[0])
        if not elb:
            return await self._mitigated(
                client, reader, writer, request, peer, certificate, classified[0]
            )
        exchange = exchange_for(request, peer, self.routing, writer, conn_trace, classified)
        token = exchange.begin()
        try:
            return await self._mitigated(
                client, reader, writer, request, peer, certificate, classified[0]
            )
        finally:
            token.var.reset(token)
            self.access_log.add(render(exchange, elb, dict(self.routing.group_arns)))

    async def _mitigated(
        self,
        client: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        peer: tuple[str, int],
        certificate: Headers,
        classification: str,
    ) -> bool:
        """Answer one request as the desync mitigation mode says of its classification
        (decision 0287): refused with 400 (the connection closed), or answered — and the
        connection closed after the response when the mode says so."""
        done = mitigation(self.limits.desync_mode, classification)
        if done == "refuse":
            self.counts.requests += 1
            self._page(client, writer, 400)
            return False
        kept = await self._answer(client, reader, writer, request, peer, certificate)
        return kept and done == "forward"

    async def _answer(
        self,
        client: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        peer: tuple[str, int],
        certificate: Headers,
    ) -> bool:
        """Answer one request; whether the connection may serve another."""
        self.counts.requests += 1
        if header_bytes(request) > self.limits.max_header_bytes:
            self._page(client, writer, 400)
            return False
        target, _, query = request.target.decode("latin-1").partition("?")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
        host = next((v for k, v in headers if k == "host"), "")
        facts = RequestFacts(
            method=request.method.decode("latin-1"),
            path=target,
            query=query,
            host=host,
            headers=tuple(headers),
            source=str(peer[0]),
        )
        rule = choose(self.routing.rules, facts)
        if rule is None:
            await self._discard_body(client, reader)
            self._page(client, writer, 503)
            return True
        action = rule.action
        exchange = current()
        if exchange is not None:
            exchange.rule_priority = "0" if rule.priority is None else str(rule.priority)
            exchange.actions = (ACTION_NAMES.get(type(action), "forward"),)
        if isinstance(action, FixedResponse):
            await self._discard_body(client, reader)
            self._respond(
                client,
                writer,
                int(action.status_code),
                action.content_type.encode() or b"text/plain; charset=utf-8",
                action.body.encode(),
            )
            return True
        if isinstance(action, Redirect):
            await self._discard_body(client, reader)
            location = redirect_location(
                action, facts, protocol=self.routing.protocol, port=self.routing.port
            )
            if exchange is not None:
                exchange.redirect_url = location
            self._respond(
                client,
                writer,
                301 if action.status_code == "HTTP_301" else 302,
                b"",
                b"",
                extra=((b"location", location.encode()),),
            )
            return True
        return await self._forward(client, reader, writer, request, peer, action, certificate)

    async def _discard_body(self, client: h11.Connection, reader: asyncio.StreamReader) -> None:
        while client.their_state is h11.SEND_BODY:
            await self._next(client, reader)

    def _group(self, action: Forward, cookies: Mapping[str, str], now: float) -> str | None:
        """The forward's group for this request: the one its ``AWSALBTG`` cookie names while
        that group is forwarded to (by a weight above 0) and has targets, else by weight."""
        if action.stickiness:
            value = cookies.get(GROUP_COOKIE) or cookies.get(f"{GROUP_COOKIE}CORS", "")
            for tg_id, weight in action.groups:
                key = self.routing.policies.get(tg_id, _NO_POLICY).key
                if weight > 0 and self.routing.groups.get(tg_id) and value:
                    if open_cookie(key, GROUP_COOKIE, value, now) == tg_id:
                        return tg_id
        return pick_group(action)

    def _balanced(
        self, group: str, targets: tuple[tuple[str, int], ...], policy: GroupPolicy
    ) -> tuple[str, int]:
        """A target by the group's algorithm: round robin, or the fewest requests in flight
        (ties taken in round robin order)."""
        turn = next(self._turns.setdefault(group, itertools.count()))
        if policy.algorithm != "least_outstanding_requests":
            return targets[turn % len(targets)]
        rotated = [targets[(turn + i) % len(targets)] for i in range(len(targets))]
        return min(rotated, key=lambda t: self._outstanding.get(t, 0))

    def _sticky_headers(
        self,
        action: Forward,
        group: str,
        policy: GroupPolicy,
        target: tuple[str, int],
        now: float,
    ) -> Callable[[Headers], Headers]:
        """What an answer of ``target`` gets: its group's stickiness cookies, and the
        forward's group cookie."""
        secure = self.routing.protocol == "HTTPS"
        extra: Headers = []
        if action.stickiness and policy.key:
            stale = now + action.stickiness
            extra = sticky_cookies(GROUP_COOKIE, policy.key, stale, group, secure=secure)

        def headers(answer: Headers) -> Headers:
            return [*target_cookies(policy, target, answer, now, secure=secure), *extra]

        return headers

    def _upstream_headers(
        self, request: h11.Request, peer: tuple[str, int], certificate: Headers
    ) -> list[tuple[bytes, bytes]]:
        kept: list[tuple[bytes, bytes]] = []
        forwarded: list[bytes] = []
        trace = b""
        chunked = False
        for name, value in request.headers:
            if name == b"transfer-encoding":
                chunked = True
            if name in _HOP_BY_HOP:
                continue
            if self.limits.drop_invalid_headers and not set(name) <= _VALID_NAME:
                continue
            if name == b"x-forwarded-for":
                forwarded.append(value)
                continue
            if name in (b"x-forwarded-proto", b"x-forwarded-port"):
                continue
            if name == b"x-amzn-trace-id":
                trace = value
                continue
            if self.routing.mutual is not None and name in MTLS_HEADERS:
                continue  # a client's own copy of what the load balancer tells (decision 0256)
            kept.append((name, value))
        client = peer[0].encode()
        if self.limits.xff_client_port:
            client = f"{peer[0]}:{peer[1]}".encode()
        mode = self.limits.xff_mode
        if mode == "append":
            kept.append((b"x-forwarded-for", b", ".join([*forwarded, client])))
        elif mode == "preserve" and forwarded:
            kept.append((b"x-forwarded-for", b", ".join(forwarded)))
        kept.append((b"x-forwarded-proto", self.routing.protocol.lower().encode()))
        kept.append((b"x-forwarded-port", str(self.routing.port).encode()))
        exchange = current()
        generated = exchange.trace_id.encode() if exchange is not None else trace_id()
        kept.append((b"x-amzn-trace-id", trace or generated))
        kept += certificate
        if chunked:
            kept.append((b"transfer-encoding", b"chunked"))
        return kept

    async def _forward(
        self,
        client: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
        peer: tuple[str, int],
        action: Forward,
        certificate: Headers,
    ) -> bool:
        cookies = request_cookies(request.headers)
        now = time.time()
        group = self._group(action, cookies, now) or ""
        targets = self.routing.groups.get(group, ())
        if not targets:
            await self._discard_body(client, reader)
            self._page(client, writer, 503)
            return True
        policy = self.routing.policies.get(group, _NO_POLICY)
        target = sticky_target(policy, cookies, targets, now) or self._balanced(
            group, targets, policy
        )
        self._outstanding[target] = self._outstanding.get(target, 0) + 1
        exchange = current()
        if exchange is not None:
            exchange.group, exchange.target = group, target
        try:
            sticky = self._sticky_headers(action, group, policy, target, now)
            try:
                upstream_reader, upstream_writer = await self._open(target, policy)
            except _Failed as failed:
                await self._discard_body(client, reader)
                self._page(client, writer, failed.status)
                return True
            upstream = h11.Connection(
                h11.CLIENT, max_incomplete_event_size=self.limits.max_header_bytes
            )
            try:
                started = time.monotonic()
                if exchange is not None:
                    exchange.forwarded = started
                await self._relay_request(
                    client, reader, upstream, upstream_writer, request, peer, certificate
                )
                return await self._relay_response(
                    client, reader, writer, upstream, upstream_reader, started, sticky
                )
            except _Failed as failed:
                if reader.at_eof():
                    return self._client_left()
                if client.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                    await self._discard_body(client, reader)
                    self._page(client, writer, failed.status)
                    return True
                return False  # a response was under way: the connection is cut
            finally:
                upstream_writer.close()
                with contextlib.suppress(Exception):
                    await upstream_writer.wait_closed()
        finally:
            self._outstanding[target] -= 1
            if not self._outstanding[target]:
                del self._outstanding[target]

    async def _open(
        self, target: tuple[str, int], policy: GroupPolicy
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to ``target``, over TLS for an HTTPS group; _Failed(504) when it did
        not come in time, _Failed(502) when refused or its handshake failed."""
        try:
            upstream_reader, upstream_writer = await asyncio.wait_for(
                self._connect(*target), self.limits.connect_timeout
            )
        except TimeoutError as exc:
            raise _Failed(504) from exc
        except OSError as exc:
            raise _Failed(502) from exc
        if policy.protocol != "HTTPS":
            return upstream_reader, upstream_writer
        try:
            await asyncio.wait_for(
                upstream_writer.start_tls(UNVERIFIED_TLS), self.limits.connect_timeout
            )
        except BaseException as exc:
            upstream_writer.close()
            if isinstance(exc, TimeoutError):
                raise _Failed(504) from exc
            if isinstance(exc, (OSError, ssl.SSLError)):
                raise _Failed(502) from exc
            raise
        return upstream_reader, upstream_writer

    async def _relay_request(
        self,
        client: h11.Connection,
        reader: asyncio.StreamReader,
        upstream: h11.Connection,
        upstream_writer: asyncio.StreamWriter,
        request: h11.Request,
        peer: tuple[str, int],
        certificate: Headers,
    ) -> None:
        outgoing = h11.Request(
            method=request.method,
            target=request.target,
            headers=self._upstream_headers(request, peer, certificate),
        )
        try:
            upstream_writer.write(upstream.send(outgoing) or b"")
            while client.their_state is h11.SEND_BODY:
                event = await self._next(client, reader)
                if isinstance(event, h11.Data):
                    upstream_writer.write(upstream.send(event) or b"")
                    await upstream_writer.drain()
                elif isinstance(event, h11.EndOfMessage):
                    upstream_writer.write(upstream.send(h11.EndOfMessage()) or b"")
            await upstream_writer.drain()
        except (ConnectionError, h11.LocalProtocolError) as exc:
            raise _Failed(502) from exc

    def _client_left(self) -> bool:
        """AWS's 460: the client closed its connection before the load balancer could
        answer; nothing is sent, the connection ends."""
        self.counts.answered(460, by_target=False)
        exchange = current()
        if exchange is not None:
            exchange.elb_status = 460
        return False

    async def _relay_response(
        self,
        client: h11.Connection,
        client_reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        upstream: h11.Connection,
        upstream_reader: asyncio.StreamReader,
        started: float,
        sticky: Callable[[Headers], Headers],
    ) -> bool:
        """Relay the target's answer, with ``sticky``'s cookies; ``started`` when the request
        was sent (the target's response time, TargetResponseTime, runs to its response's
        headers)."""
        while True:
            event = await self._upstream_event(upstream, upstream_reader)
            if isinstance(event, h11.Response):
                break
            if not isinstance(event, h11.InformationalResponse):
                raise _Failed(502)
        self.counts.answered(event.status_code, by_target=True)
        exchange = current()
        if exchange is not None:
            exchange.target_status, exchange.answered = event.status_code, time.monotonic()
        self.counts.target_time += time.monotonic() - started
        self.counts.target_answers += 1
        # The client's end of file, seen without a read (its stream took it while the
        # target worked): it closed before the answer (a half-closed client, rare in HTTP/1.1,
        # is taken as gone, as AWS's 460 takes it).
        if client_reader.at_eof():
            return self._client_left()
        headers = [(k, v) for k, v in event.headers if k not in _HOP_BY_HOP]
        if not any(k == b"server" for k, _ in headers):
            headers.append((b"server", SERVER))
        headers += sticky(headers)
        self._send(
            client,
            writer,
            h11.Response(status_code=event.status_code, headers=headers, reason=event.reason),
        )
        if exchange is not None:
            exchange.relayed = time.monotonic()
        while True:
            try:
                part = await self._upstream_event(upstream, upstream_reader)
            except _Failed:
                return False
            if isinstance(part, h11.Data):
                self._send(client, writer, h11.Data(data=part.data))
                await writer.drain()
            elif isinstance(part, h11.EndOfMessage):
                self._send(client, writer, h11.EndOfMessage())
                await writer.drain()
                return True
            else:
                return False

    async def _upstream_event(
        self, upstream: h11.Connection, upstream_reader: asyncio.StreamReader
    ) -> object:
        while True:
            try:
                event = upstream.next_event()
            except h11.RemoteProtocolError as exc:
                raise _Failed(502) from exc
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    raise _Failed(502)
                return event
            try:
                data = await asyncio.wait_for(upstream_reader.read(_READ), self.limits.idle_timeout)
            except TimeoutError as exc:
                raise _Failed(504) from exc
            except ConnectionError as exc:
                raise _Failed(502) from exc
            upstream.receive_data(data)
