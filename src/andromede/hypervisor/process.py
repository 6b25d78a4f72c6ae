"""One instance's QEMU process and its files on the host, found again after a restart.

QEMU daemonises (``-daemonize``): it is nobody's child, survives the service, and is known by its
pidfile. A pid alone could have been reused after a host reboot, so a process counts as this
instance's QEMU only when its command line names this instance's QMP socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from andromede.compute.driver import InstanceNetwork, NetworkMode, PortForward
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.images import option_path
from andromede.hypervisor.wire import WireError, decode, encode

__all__ = ["QemuProcess"]

_POLL = 0.05
CONSOLE_KEPT = 64 * 1024  # what EC2's GetConsoleOutput returns
_KILL_WAIT = 10.0
_NETWORK_FORMAT = 1


class QemuProcess:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "qmp.sock"
        self.pidfile = directory / "qemu.pid"
        self.seed = directory / "seed.luks"
        self.console = directory / "console.log"
        self.previous_console = directory / "console.prev"
        self._forwards = directory / "forwards.json"
        self._attached = directory / "volumes.json"
        self._interfaces = directory / "interfaces.json"
        self._network = directory / "network.json"
        self._requested = directory / "requested-forwards.json"
        self._seen_pid: int | None = None  # the last pid found alive (see pid)

    def pid(self) -> int | None:
        """The pid of this instance's live QEMU, or None.

        Read from the pidfile, and followed once seen: QEMU unlinks its pidfile as it begins to
        exit, then closes its disks and sockets, so a process without a pidfile may still be
        running for a moment. Taking it for gone then let a stop report the instance shut off
        while its QEMU still held its files (seen as a flake of the hypervisor contract test)."""
        try:
            pid: int | None = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            pid = self._seen_pid
        if pid is None:
            return None
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            self._seen_pid = None
            return None
        # The state letter follows the command name in parentheses; Z is a dead process
        # its parent has not reaped yet. The command line naming this instance's socket tells
        # a reused pid apart.
        if stat.rpartition(")")[2].split()[:1] == ["Z"] or (
            os.fsencode(option_path(self.socket)) not in cmdline
        ):
            self._seen_pid = None
            return None
        self._seen_pid = pid
        return pid

    def alive(self) -> bool:
        return self.pid() is not None

    def prepare(self) -> None:
        """Before a start: the folder, and last boot's console kept as the tail to show."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.console.exists():
            self.previous_console.write_bytes(self.console_tail(CONSOLE_KEPT))
            self.console.unlink()
        self.forget_runtime()

    def bound_console(self, limit: int) -> None:
        """Keep a chatty guest's console file under ``limit`` bytes: its tail moves aside and
        the file is emptied. QEMU appends (``append=on``: O_APPEND), so its next write lands at
        the new end; what it writes between the copy and the truncation is lost."""
        try:
            size = self.console.stat().st_size
        except FileNotFoundError:
            return
        if size > limit:
            self.previous_console.write_bytes(self.console_tail(CONSOLE_KEPT))
            with open(self.console, "r+b") as console:
                console.truncate(0)

    async def spawn(
        self, argv: Sequence[str], *, timeout: float, pass_fds: Sequence[int] = ()
    ) -> None:
        """Run QEMU; it daemonises once its monitor listens, and the launcher exits.
        ``pass_fds``: descriptors QEMU inherits (a tap named by ``fd=`` on its command line)."""
        process = await asyncio.create_subprocess_exec(
            *argv,
            pass_fds=tuple(pass_fds),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        try:
            _, stderr = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            await self.kill()
            raise HypervisorError(f"QEMU did not start within {timeout:g}s") from None
        if process.returncode != 0 or not self.alive():
            message = stderr.decode(errors="replace").strip()[-400:]
            raise HypervisorError(f"QEMU failed to start: {message}")

    async def wait_exit(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_POLL)
        return True

    async def kill(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not await self.wait_exit(_KILL_WAIT):
            raise HypervisorError(f"QEMU pid {pid} survived SIGKILL")

    def forget_runtime(self) -> None:
        """Remove what only a live QEMU needs (QEMU leaves them behind when killed)."""
        if not self.alive():
            self.socket.unlink(missing_ok=True)
            self.pidfile.unlink(missing_ok=True)

    def console_tail(self, limit: int) -> bytes:
        """The last ``limit`` bytes of the serial console, across the previous boot."""
        current = _tail(self.console, limit)
        if len(current) >= limit:
            return current
        return (_tail(self.previous_console, limit) + current)[-limit:]

    def write_forwards(self, forwards: Sequence[PortForward]) -> None:
        records = [[f.host_address, f.host_port, f.guest_port] for f in forwards]
        _write_json(self._forwards, records)

    def forwards(self) -> tuple[PortForward, ...]:
        return _forwards(_read_json(self._forwards))

    def write_requested_forwards(self, forwards: Sequence[PortForward]) -> None:
        """The forwards the spec asked for (host port 0: any), opened or not by the rules."""
        records = [[f.host_address, f.host_port, f.guest_port] for f in forwards]
        _write_json(self._requested, records)

    def requested_forwards(self) -> tuple[PortForward, ...]:
        return _forwards(_read_json(self._requested))

    def write_network(self, network: InstanceNetwork) -> None:
        _write_json(self._network, {"format": _NETWORK_FORMAT, "network": encode(network)})

    def network(self) -> InstanceNetwork:
        """How the instance was wired at its last start (user mode with its forwards when the
        record is missing: instances started before it was written)."""
        try:
            document = json.loads(self._network.read_text())
            if document.get("format") == _NETWORK_FORMAT:
                network: InstanceNetwork = decode(InstanceNetwork, document["network"])
                return network
        except (OSError, ValueError, KeyError, AttributeError, WireError):
            pass
        return InstanceNetwork(NetworkMode.USER, forwards=self.forwards())

    def write_attached(self, volume_ids: Sequence[str]) -> None:
        _write_json(self._attached, list(volume_ids))

    def attached(self) -> list[str]:
        return [str(volume_id) for volume_id in _read_json(self._attached)]

    def write_interfaces(self, interface_ids: Sequence[str]) -> None:
        """The interfaces beyond the primary plugged for the instance (decision 0161)."""
        _write_json(self._interfaces, list(interface_ids))

    def interfaces(self) -> list[str]:
        return [str(interface_id) for interface_id in _read_json(self._interfaces)]


def _forwards(records: list[Any]) -> tuple[PortForward, ...]:
    forwards = []
    for record in records:
        if isinstance(record, list) and len(record) == 3:
            address, host_port, guest_port = record
            forwards.append(PortForward(str(address), int(host_port), int(guest_port)))
    return tuple(forwards)


def _tail(path: Path, limit: int) -> bytes:
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            file.seek(max(0, file.tell() - limit))
            return file.read()
    except FileNotFoundError:
        return b""


def _write_json(path: Path, value: object) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(value))
    partial.replace(path)


def _read_json(path: Path) -> list[Any]:
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return []
    return value if isinstance(value, list) else []
