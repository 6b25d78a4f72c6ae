"""The hypervisor agent: one process per host that owns the host's driver, behind a unix socket
and, for gateways on other machines, a TCP listener with mutual TLS.

A gateway runs several worker processes, and every one of them serves EC2 calls; but a host's
instances must have one owner — one set of QMP connections, one view of which QEMU runs, one
lock per instance. So the driver lives in the agent (``andromede agent``, started by ``andromede
serve`` in the embedded mode, one per hypervisor host otherwise) and the workers reach it through
:class:`~andromede.hypervisor.remote.RemoteDriver`, which implements the same port.

The protocol is deliberately small: ``POST /v1/<method>`` with the method's arguments as a JSON
object (:mod:`andromede.hypervisor.wire`), answered 200 with ``{"result": …}``, or 400 (a
request that does not match the port) / 500 (the driver failed) with ``{"error": …}``. An
image's bytes come as ``PUT /v1/images/<image id>``, the body handed to the driver's
``put_image`` chunk by chunk as it arrives (memory bounded by the server's chunks whatever the
image's size; the driver checks the size cap and the checksum). The
socket sits in a 0700 directory: only the gateway's user can connect. The network listener
(``hypervisor_agent_listen``, decision 0022) serves the same app only to clients whose
certificate the agents' CA signed (:mod:`andromede.hypervisor.agent_tls`): the handshake refuses
anyone else before any call is read. Every answer names the host (``x-andromede-host``), so a
gateway never drives one host believing it is another. The agent keeps running guests running
when it stops (the driver reattaches to them at its next start).

Given the metadata app, the agent is also the host's one instance metadata server (decision
0016: one process per host, its token key in memory): the driver serves the app on each tenant
network's host transit address as networks come and go (:meth:`QemuDriver.serve_metadata`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from andromede.compute.driver import HypervisorDriver
from andromede.http.asgi import (
    BodyTimeout,
    BodyTooLarge,
    ClientGone,
    decode_headers,
    read_small_body,
)
from andromede.http.response import Receive, Scope, Send
from andromede.hypervisor.metadata_listeners import AsgiApp
from andromede.hypervisor.wire import (
    CALLS,
    IMAGE_FORMAT,
    IMAGE_SHA256,
    IMAGES_PATH,
    KEEP_ALIVE_SECONDS,
    WireError,
    decode,
    encode,
)

__all__ = [
    "HOST_HEADER",
    "MAX_CALL_BYTES",
    "AgentAlreadyRunning",
    "AgentApp",
    "ServesMetadata",
    "agent_ready",
    "serve_agent",
]

log = logging.getLogger(__name__)

# The largest call is an InstanceSpec with its user data (16 KiB by default, base64) and keys.
MAX_CALL_BYTES = 1024 * 1024
_BODY_TIMEOUT = 30.0
# The answer's header naming the host whose driver answered.
HOST_HEADER = "x-andromede-host"
# What is read of a refused image's body so that the refusal reaches the client.
_DRAIN_LIMIT = 64 * 1024 * 1024


@runtime_checkable
class ServesMetadata(Protocol):
    """A driver that can serve the metadata app where its guests reach it."""

    async def serve_metadata(self, app: AsgiApp) -> None: ...


class AgentAlreadyRunning(RuntimeError):
    """A host has one agent: another one answers on the socket."""


class AgentApp:
    """The ASGI application of the agent's socket."""

    def __init__(self, driver: HypervisorDriver) -> None:
        self._driver = driver
        self._host = driver.host.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if scope["method"] == "PUT" and path.startswith(IMAGES_PATH):
            await self._put_image(scope, receive, send, path.removeprefix(IMAGES_PATH))
            return
        if scope["method"] != "POST" or not path.startswith("/v1/"):
            document = {"error": "NotFound", "message": "POST /v1/<method>"}
            await _answer(send, 404, document, self._host)
            return
        name = path.removeprefix("/v1/")
        call = CALLS.get(name)
        if call is None:
            await _answer(
                send, 404, {"error": "NotFound", "message": f"no method {name!r}"}, self._host
            )
            return
        try:
            body = await read_small_body(receive, limit=MAX_CALL_BYTES, timeout=_BODY_TIMEOUT)
            arguments = json.loads(body or b"{}")
            if not isinstance(arguments, dict):
                raise WireError("arguments must be an object")
            expected = {n for n, _ in call.parameters} | {n for n, _ in call.keywords}
            if set(arguments) != expected:
                raise WireError(f"{name} takes {sorted(expected)}")
            positional = [decode(kind, arguments[n]) for n, kind in call.parameters]
            keywords = {n: decode(kind, arguments[n]) for n, kind in call.keywords}
        except ClientGone:
            return
        except (WireError, ValueError, TypeError, BodyTooLarge, BodyTimeout) as exc:
            message = str(exc) or type(exc).__name__
            await _answer(send, 400, {"error": "BadRequest", "message": message}, self._host)
            return
        try:
            method = getattr(self._driver, name)
            result: Any = await method(*positional, **keywords)
        except Exception as exc:
            # Driver messages name instances, volumes and paths, never key material.
            log.warning("agent: %s failed: %s", name, exc)
            document = {"error": type(exc).__name__, "message": str(exc)}
            await _answer(send, 500, document, self._host)
            return
        await _answer(send, 200, {"result": encode(result)}, self._host)

    async def _put_image(self, scope: Scope, receive: Receive, send: Send, image_id: str) -> None:
        headers = decode_headers(scope["headers"])
        sha256, disk_format = headers.get(IMAGE_SHA256), headers.get(IMAGE_FORMAT)
        if not image_id or sha256 is None or disk_format is None:
            message = f"PUT {IMAGES_PATH}<image id> with {IMAGE_SHA256} and {IMAGE_FORMAT}"
            await _answer(send, 400, {"error": "BadRequest", "message": message}, self._host)
            return
        body = _Body(receive)
        try:
            await self._driver.put_image(image_id, sha256, disk_format, body.chunks())
            # The image was here already (or another put wrote it meanwhile): the rest of
            # the body is read and dropped, so the connection stays usable.
            await body.drain()
        except ClientGone:
            return
        except BodyTimeout:
            await _answer(send, 400, {"error": "BadRequest", "message": "BodyTimeout"}, self._host)
            return
        except Exception as exc:
            log.warning("agent: put_image %s failed: %s", image_id[:64], exc)
            await body.drain_quietly()
            await _answer(send, 500, {"error": type(exc).__name__, "message": str(exc)}, self._host)
            return
        await _answer(send, 200, {"result": None}, self._host)


class _Body:
    """A request body as chunks, read once, as the driver asks for them."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._done = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while not self._done:
            try:
                async with asyncio.timeout(_BODY_TIMEOUT):
                    message = await self._receive()
            except TimeoutError as exc:
                raise BodyTimeout from exc
            if message["type"] == "http.disconnect":
                self._done = True
                raise ClientGone
            self._done = not message.get("more_body", False)
            chunk: bytes = message.get("body", b"")
            if chunk:
                yield chunk

    async def drain(self, limit: int | None = None) -> None:
        """Read and drop the rest (at most ``limit`` bytes)."""
        dropped = 0
        async for chunk in self.chunks():
            dropped += len(chunk)
            if limit is not None and dropped > limit:
                return

    async def drain_quietly(self) -> None:
        """After a refusal: read what is left so the answer reaches the client, unless the
        client is gone or stalled, or much is left (an oversized image: its connection is
        cut rather than read to the end)."""
        try:
            await self.drain(_DRAIN_LIMIT)
        except (ClientGone, BodyTimeout):
            self._done = True


async def _answer(send: Send, status: int, document: dict[str, Any], host: bytes) -> None:
    body = json.dumps(document).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (HOST_HEADER.encode(), host),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def serve_agent(
    driver: HypervisorDriver,
    socket_path: Path,
    stop: asyncio.Event | None = None,
    *,
    metadata_app: AsgiApp | None = None,
    listen: tuple[str, int] | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve ``driver`` on ``socket_path`` — and on ``listen`` (host, port) with ``tls``, the
    mutual-TLS context of :func:`~andromede.hypervisor.agent_tls.agent_server_context` — until
    ``stop`` is set or SIGTERM/SIGINT arrives; then the driver's QMP connections are let go,
    its guests keep running. With ``metadata_app``, the driver serves it to its guests
    meanwhile (it must be able to: :class:`ServesMetadata`)."""
    if listen is not None and (tls is None or tls.verify_mode is not ssl.CERT_REQUIRED):
        raise ValueError("the agent's network listener needs a mutual-TLS context")
    serving_metadata: ServesMetadata | None = None
    if metadata_app is not None:
        if not isinstance(driver, ServesMetadata):
            raise TypeError(f"{type(driver).__name__} cannot serve the metadata service")
        serving_metadata = driver

    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    socket_path.parent.chmod(0o700)
    if socket_path.exists() and await asyncio.to_thread(agent_ready, socket_path, 0.5):
        raise AgentAlreadyRunning(f"another hypervisor agent answers on {socket_path}")
    # Bound before anything starts: a port in use fails the start, not a later moment.
    network_socket = _bind(listen) if listen is not None else None
    socket_path.unlink(missing_ok=True)
    app = AgentApp(driver)
    # Each listener: its server, and the socket it is handed (uvicorn binds the unix one).
    listeners: list[tuple[Any, list[socket.socket] | None]] = [
        (_quiet_server(app, uds=str(socket_path)), None)
    ]
    if network_socket is not None:
        listeners.append((_quiet_server(app, ssl_context=tls), [network_socket]))
    servers = [server for server, _ in listeners]
    stop = stop or asyncio.Event()

    async def stop_when_told() -> None:
        await stop.wait()
        for server in servers:
            server.should_exit = True

    watcher = asyncio.create_task(stop_when_told())
    try:
        with _stop_on_signals(stop):
            if serving_metadata is not None and metadata_app is not None:
                await serving_metadata.serve_metadata(metadata_app)
            serving = [
                asyncio.create_task(server.serve(sockets=given)) for server, given in listeners
            ]
            try:
                # One listener ending (stopped, or failed to start) ends the agent.
                await asyncio.wait(serving, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.set()
                await asyncio.gather(*serving, return_exceptions=True)
            for task in serving:
                task.result()  # a listener that failed fails the agent
            if not all(server.started for server in servers):
                raise OSError("the hypervisor agent could not start its listeners")
    finally:
        watcher.cancel()
        if network_socket is not None:
            network_socket.close()
        await driver.close()
        socket_path.unlink(missing_ok=True)


def _quiet_server(app: AgentApp, *, ssl_context: ssl.SSLContext | None = None, **where: Any) -> Any:
    """A uvicorn server of ``app`` that leaves the signals to :func:`serve_agent`: uvicorn's own
    capture re-raises the signal once it has drained, which would end the agent before the
    other listener and the driver were closed."""
    import uvicorn

    class QuietServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        **where,
    )
    if ssl_context is not None:
        config.load()
        # uvicorn builds its context from file names and cannot be told to trust one CA only
        # for client certificates with TLS >= 1.2: the agent's own context replaces it.
        config.ssl = ssl_context
    return QuietServer(config)


def _bind(address: tuple[str, int]) -> socket.socket:
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(False)
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def _stop_on_signals(stop: asyncio.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set ``stop`` (the main thread only can take signals)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()

    def handle(signum: int, frame: object) -> None:
        loop.call_soon_threadsafe(stop.set)

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _accepts_connections(socket_path: Path) -> bool:
    """Whether something listens on the unix socket ``socket_path`` now."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(socket_path))
        except OSError:
            return False
    return True


def agent_ready(socket_path: Path, timeout: float) -> bool:
    """Wait until the agent answers on its socket (for the process that started it)."""
    import httpx  # here: the application imports this module, and httpx took 0.26 s (0115)

    transport = httpx.HTTPTransport(uds=str(socket_path))
    end = time.monotonic() + timeout
    with httpx.Client(transport=transport, base_url="http://agent", timeout=2.0) as client:
        while time.monotonic() < end:
            if not _accepts_connections(socket_path):
                # Not listening yet. Asked with a socket of our own, closed whatever happens:
                # httpx leaks the socket of a refused unix connect, and its ResourceWarning
                # surfaced later in an unrelated test (the file exists between bind and listen).
                time.sleep(0.1)
                continue
            try:
                if client.post("/v1/capacity", json={}).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    return False
