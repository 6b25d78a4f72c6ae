"""WriteGetObjectResponse carried to the worker whose GET waits for it (decision 0384's
"Workers").

A function's answer reaches the gateway through its sandbox's relay and the shared S3 port,
so any worker of the ``serve`` may take it; the GET that waits for it lives in one. Each
worker listens on a Unix socket ``<tag>.sock`` in a folder all the workers of one data
directory share (0700, the gateway's user's: no other user can connect), and each route
names its worker's tag (``io-<tag>-<random>``). A worker that takes an answer for another's
route, once the signature and the caller's right to answer are checked, passes it on: one
JSON line of the answer's own headers (never the caller's credentials), the body in framed
chunks, an end mark (a connection lost before it cuts the caller's answer rather than
completing it); the owner delivers it as if it had come in directly and answers one JSON
line, the error's code if any. An answer refused before it could be passed on is reported to
its route's worker instead, one JSON line of its route and status, for that worker to count
(decision 0411).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final

from andromede.s3objectlambda.errors import ObjectLambdaError

__all__ = ["AnswerExchange", "Deliver", "Report", "exchange_folder", "route_owner"]

log = logging.getLogger(__name__)

# The owner delivers the answer's headers and body; raises ObjectLambdaError on refusal.
Deliver = Callable[[dict[str, str], AsyncIterator[bytes]], Awaitable[None]]
# The owner counts an answer to one of its routes refused by another worker, with its status.
Report = Callable[[str, int], None]
_ROUTE: Final = re.compile(r"io-(?P<tag>[0-9a-f]{4,24})-[0-9a-f]{8,64}")
_LINE_LIMIT: Final = 1 << 20  # the headers' line; S3 refuses far smaller header sections
_CHUNK: Final = 65536
_NOT_VALID: Final = "The request route or token is not valid, or was used"


def route_owner(route: str) -> str | None:
    """The worker tag a route names (None: not a route of ours)."""
    found = _ROUTE.fullmatch(route)
    return None if found is None else found["tag"]


def exchange_folder(data_dir: Path) -> Path:
    """The folder the workers of ``data_dir``'s gateway share: short, as a socket's path is
    at most 107 bytes; made by the first worker's :meth:`AnswerExchange.serve`, removed by
    the last one's end."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"andromede-ol-{digest}"


def _private(folder: Path) -> bool:
    """Make ``folder`` 0700; whether it is this user's alone — not when another user made it
    first (squatting the name), which turns this worker's end off rather than trusting it."""
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    found = folder.lstat()
    return (
        stat.S_ISDIR(found.st_mode)
        and found.st_uid == os.getuid()
        and not stat.S_IMODE(found.st_mode) & 0o077
    )


def _forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """What the owner needs of an answer's headers: its ``x-amz-…`` ones and its length,
    not the sender's signature or session token."""
    return {
        name: value
        for name, value in headers.items()
        if (name.startswith("x-amz-") and name != "x-amz-security-token")
        or name == "content-length"
    }


class AnswerExchange:
    def __init__(
        self,
        folder: Path,
        tag: str,
        deliver: Deliver,
        *,
        timeout: float,
        report: Report | None = None,
    ) -> None:
        self._folder = folder
        self._tag = tag
        self._deliver = deliver
        self._report = report
        self._timeout = timeout
        self.path = folder / f"{tag}.sock"

    async def serve(self) -> None:
        """This worker's socket, until cancelled; the socket file goes with it, and the
        folder with the last worker's."""
        try:
            # Made here, not in a thread: a cancellation can then never leave a folder
            # made after the clean-up below.
            if not _private(self._folder):
                log.warning("%s is not this user's private folder: answers to this worker's "
                    "Object Lambda GETs must come to it directly", self._folder)  # fmt: skip
                return
            # Unstarted, so that nothing is awaited between the bind and the ``async with``
            # that closes it (decision 0303's relay: a cancellation there leaked it).
            server = await asyncio.start_unix_server(
                self._answer, path=str(self.path), start_serving=False, limit=_LINE_LIMIT
            )
            async with server:
                await server.serve_forever()
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            with contextlib.suppress(OSError):  # another worker's socket is still there
                self._folder.rmdir()

    async def forward(
        self, tag: str, headers: Mapping[str, str], chunks: AsyncIterator[bytes]
    ) -> None:
        """Pass an answer on to worker ``tag``; its refusal raised as the owner's
        ObjectLambdaError (a worker that is gone: the route is not valid)."""
        owner = self._folder / f"{tag}.sock"
        try:
            reader, writer = await asyncio.open_unix_connection(str(owner), limit=_LINE_LIMIT)
        except OSError as exc:
            raise ObjectLambdaError("InvalidRequest", _NOT_VALID) from exc
        try:
            head = {"headers": _forwarded_headers(headers)}
            writer.write(json.dumps(head).encode() + b"\n")
            async for chunk in chunks:
                for at in range(0, len(chunk), _CHUNK):
                    piece = chunk[at : at + _CHUNK]
                    writer.write(f"{len(piece):x}\n".encode() + piece)
                    await writer.drain()
            writer.write(b"0\n")  # the end: without it, the owner cuts the caller's answer
            async with asyncio.timeout(self._timeout):
                line = await reader.readline()
            reply = json.loads(line)
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("an Object Lambda answer could not be passed to worker %s", tag)
            raise ObjectLambdaError("InternalError") from exc
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        code = reply.get("code")
        if code is not None:
            raise ObjectLambdaError(str(code), str(reply.get("message", "")),
                status=int(reply.get("status", 500)))  # fmt: skip

    async def report(self, tag: str, route: str, status: int) -> None:
        """Tell worker ``tag`` that an answer to its ``route`` was refused with ``status``
        before it could be passed on; OSError, ValueError or TimeoutError when it cannot be
        told (gone: its GET is over, nothing is left to count)."""
        reader, writer = await asyncio.open_unix_connection(
            str(self._folder / f"{tag}.sock"), limit=_LINE_LIMIT
        )
        try:
            line = {"report": {"route": route, "status": status}}
            writer.write(json.dumps(line).encode() + b"\n")
            await writer.drain()
            async with asyncio.timeout(self._timeout):
                await reader.readline()
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        timeout = self._timeout

        async def chunks() -> AsyncIterator[bytes]:
            """The body's framed chunks (``<hex length>\\n<bytes>``, ``0\\n`` its end); a
            connection that ends before the end is a body cut short, not a whole one."""
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        line = await reader.readline()
                        size = int(line, 16) if line.endswith(b"\n") else -1
                        if not 0 <= size <= _CHUNK:
                            raise ValueError(line[:32])
                        if size == 0:
                            return
                        data = await reader.readexactly(size)
                except (ValueError, asyncio.IncompleteReadError, OSError) as exc:
                    raise ObjectLambdaError("RequestTimeout") from exc
                yield data

        reply: dict[str, object] = {"code": None}
        try:
            async with asyncio.timeout(timeout):
                line = await reader.readline()
            head = json.loads(line)
            if "report" in head:
                self._counted(head["report"])
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
                return
            raw = head["headers"]
            headers = {str(k): str(v) for k, v in raw.items()}
            body = chunks()
            try:
                await self._deliver(headers, body)
            except ObjectLambdaError as exc:
                reply = {"code": exc.code, "message": exc.message, "status": exc.status}
            # What the deliverer did not read (it refused first) is read and dropped, so
            # that the sender's writes end and it reads the reply.
            async for _ in body:
                pass
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (OSError, ValueError, KeyError, AttributeError, TypeError, TimeoutError):
            log.warning("a forwarded Object Lambda answer was cut short")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _counted(self, report: object) -> None:
        if self._report is None or not isinstance(report, dict):
            return
        route, status = report.get("route"), report.get("status")
        if isinstance(route, str) and isinstance(status, int) and 100 <= status <= 599:
            self._report(route, status)
