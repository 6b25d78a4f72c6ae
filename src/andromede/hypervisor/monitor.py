"""A QMP session with one QEMU process, over its unix socket, through ``qemu.qmp``.

One session per operation: QEMU's monitor socket takes one client at a time, and a service that
restarts finds the socket as it left it. Connecting costs a few milliseconds.

``qemu.qmp`` logs every message it sends at DEBUG level, and ``object-add`` of a secret carries
key bytes: the filter below drops those message dumps from the client's logger, whatever the
logging configuration says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from qemu.qmp import EventListener, ExecuteError, QMPClient, QMPError

from andromede.hypervisor.errors import HypervisorError, InstanceNotRunning

__all__ = ["Monitor"]

CLIENT_NAME = "andromede"


class _NoMessageDumps(logging.Filter):
    """Drops qemu.qmp's ``--> {message}`` / ``<-- {message}`` records: they can hold keys."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg[:4] in ("--> ", "<-- "))


class Monitor:
    """``async with Monitor(path, timeout) as qmp: await qmp.execute("cont")``."""

    def __init__(self, socket_path: Path, timeout: float) -> None:
        self._socket_path = socket_path
        self._timeout = timeout
        self._client = QMPClient(CLIENT_NAME)
        qmp_logger = self._client.logger
        if not any(isinstance(f, _NoMessageDumps) for f in qmp_logger.filters):
            qmp_logger.addFilter(_NoMessageDumps())

    async def __aenter__(self) -> Monitor:
        try:
            await asyncio.wait_for(self._client.connect(str(self._socket_path)), self._timeout)
        except (QMPError, OSError, TimeoutError) as exc:
            raise InstanceNotRunning(f"no QMP monitor at {self._socket_path.name}: {exc}") from exc
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # disconnect() re-raises what ended the session (EOF once QEMU quit): expected here.
        with contextlib.suppress(Exception):
            await self._client.disconnect()

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        try:
            return await asyncio.wait_for(self._client.execute(command, arguments), self._timeout)
        except ExecuteError as exc:
            # QEMU's error text names nodes, ids and files; arguments (keys) are not echoed.
            raise HypervisorError(f"QMP {command}: {exc.error.error.desc}") from exc
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            raise HypervisorError(f"QMP {command}: {type(exc).__name__}") from exc

    async def pass_fd(self, name: str, fd: int) -> None:
        """Hand QEMU a file descriptor over the socket (SCM_RIGHTS), kept as ``name``
        (``getfd``): a tap opened in a tenant network's namespace, for ``netdev_add``."""
        try:
            self._client.send_fd_scm(fd)
        except (QMPError, OSError) as exc:
            raise HypervisorError(f"QMP getfd: {type(exc).__name__}") from exc
        await self.execute("getfd", {"fdname": name})

    @contextlib.asynccontextmanager
    async def events(self, *names: str) -> AsyncIterator[EventListener]:
        """Listen before sending the command that causes the event."""
        listener = EventListener(list(names))
        with self._client.listen(listener):
            yield listener

    async def wait_for(
        self,
        listener: EventListener,
        matches: Callable[[dict[str, Any]], bool],
        timeout: float,
    ) -> bool:
        """True once an event of ``listener`` matches, False after ``timeout`` seconds."""

        async def first_match() -> None:
            while True:
                event = await listener.get()
                data = event.get("data")
                if matches(data if isinstance(data, dict) else {}):
                    return

        try:
            await asyncio.wait_for(first_match(), timeout)
        except TimeoutError:
            return False
        return True
