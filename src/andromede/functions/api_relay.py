"""The platform's API as a function reaches it from its sandbox (decision 0303): the sandbox
has no network, so a rotation function (or any handler) could not call Secrets Manager back
with its role's credentials. The gateway listens on a Unix socket in a private folder
(0700) which each sandbox gets bound read-only at ``/var/runtime/api.sock``; the bootstrap
listens on the sandbox's own loopback (``127.0.0.1:9001``, inside its network namespace)
and carries each connection to that socket, and ``AWS_ENDPOINT_URL`` points the AWS SDKs
there. This side carries each connection on to the gateway's own AWS endpoint — TLS when the
gateway serves TLS, so the sandbox speaks plain HTTP on its loopback and needs no CA —,
where SigV4 authenticates the role's session as for any caller. Nothing else is reachable:
not the host's network, the management API, nor another service's listener.

A connection that carries no byte either way for ``idle_timeout`` seconds is closed both ways
(decision 0364): the function's code may reach the socket without the bootstrap's relay (it
is bound into the sandbox), so this side, not the bootstrap's, is what bounds how long a
silent connection holds the gateway's resources."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import ssl
import time
import weakref
from pathlib import Path
from typing import Final

from andromede.functions.orphan_folders import make_owned_folder, sweep_orphans

__all__ = ["SANDBOX_ENDPOINT", "SANDBOX_SOCKET", "ApiRelay"]

log = logging.getLogger(__name__)

SANDBOX_SOCKET: Final = "/var/runtime/api.sock"
SANDBOX_ENDPOINT: Final = "http://127.0.0.1:9001"
RELAY_FOLDER_PREFIX: Final = "andromede-api-"
_CHUNK: Final = 65536


class ApiRelay:
    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool,
        folder: Path | None = None,
        idle_timeout: float | None = None,
    ) -> None:
        self.idle_timeout = idle_timeout  # lambda_relay_idle_timeout; None: never
        # A gateway listening on every address is reached on its loopback.
        self._host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host  # noqa: S104
        self._port = port
        self._tls = tls
        self._folder = make_owned_folder(RELAY_FOLDER_PREFIX, folder)
        # The socket is made by serve(), which runs before any invocation reaches a sandbox;
        # the folder goes with the relay even if it never served.
        self.path = self._folder / "api.sock"
        self._cleanup = weakref.finalize(self, shutil.rmtree, self._folder, True)

    async def serve(self) -> None:
        # The relay folders of gateways killed before their clean-up ran (decision 0350).
        await asyncio.to_thread(sweep_orphans, self._folder.parent, RELAY_FOLDER_PREFIX)
        try:
            # Not started here: start_unix_server would yield once after its bind, and a
            # cancellation there (a gateway stopping as it starts) left the listener open in
            # the loop for ever. Unstarted, nothing is awaited between the bind and the
            # ``async with`` that closes it; serve_forever starts it.
            server = await asyncio.start_unix_server(
                self._relay, path=str(self.path), start_serving=False
            )
            async with server:
                await server.serve_forever()
        finally:
            self._cleanup()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        context = None
        if self._tls:  # our own listener on the loopback: its certificate is the operator's
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                self._host, self._port, ssl=context
            )
        except OSError as exc:
            log.warning("the API relay could not reach the gateway: %s", exc.strerror)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
            return
        began = time.monotonic()
        carried = [0, 0]  # bytes to the gateway, bytes back
        moved = [began]  # when a byte last went either way
        pumps = [
            asyncio.ensure_future(_pump(reader, upstream_writer, carried, 0, moved)),
            asyncio.ensure_future(_pump(upstream_reader, writer, carried, 1, moved)),
        ]
        try:
            # A direction that fails (a reset) ends the connection: the other would otherwise
            # wait on its reader for ever, its end never passed on.
            pending: set[asyncio.Future[bool]] = set(pumps)
            while pending:
                idle = self.idle_timeout
                left = None if idle is None else moved[0] + idle - time.monotonic()
                if left is not None and left <= 0:
                    log.debug("API relay connection idle for %.0f s: closed", idle)
                    break
                done, pending = await asyncio.wait(
                    pending, timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
                if not all(pump.result() for pump in done):
                    break
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for opened in (upstream_writer, writer):
                opened.close()
                with contextlib.suppress(ConnectionError, OSError, ssl.SSLError):
                    await opened.wait_closed()
            log.debug(
                "API relay connection closed after %.3f s: %d bytes to the gateway, %d back",
                time.monotonic() - began,
                *carried,
            )


async def _pump(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    carried: list[int],
    way: int,
    moved: list[float],
) -> bool:
    """One direction's bytes until its end, which is passed on (a half close): whether it
    ended so, rather than by a failure of either side. ``moved`` is told when bytes go."""
    try:
        while data := await reader.read(_CHUNK):
            moved[0] = time.monotonic()
            writer.write(data)
            carried[way] += len(data)
            await writer.drain()
            moved[0] = time.monotonic()  # a slow reader's drain is not idleness
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        return False
    return True
