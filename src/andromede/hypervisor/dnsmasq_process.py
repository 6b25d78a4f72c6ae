"""The dnsmasq processes of the tenant networks (each subnet's DHCP server, each VPC's
resolver, :mod:`~andromede.hypervisor.tenant_network`): found by the pidfile each writes,
checked alive, and stopped. dnsmasq daemonises, so none is a child of the agent's: a pid read
from a file is trusted only when its command line names that file (after a reboot, the pid may
be someone else's)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Final

__all__ = ["EXIT_TIMEOUT", "ours_running", "stop_pidfile", "terminate"]

EXIT_TIMEOUT: Final = 5.0  # seconds for dnsmasq to exit on SIGTERM, then SIGKILL


async def stop_pidfile(pidfile: Path, timeout: float = EXIT_TIMEOUT) -> None:
    """Stop the dnsmasq that wrote ``pidfile`` and wait for it to exit: its successor binds
    the same addresses, and what is removed leaves no process behind."""
    try:
        pid = int(pidfile.read_text().strip())
        # A pid from before a reboot may now be someone else's: only ours names the file.
        if os.fsencode(pidfile) in Path(f"/proc/{pid}/cmdline").read_bytes():
            await terminate(pid, timeout)
    except (OSError, ValueError):
        pass
    pidfile.unlink(missing_ok=True)


def ours_running(pidfile: Path) -> bool:
    """Whether the dnsmasq that wrote ``pidfile`` still runs."""
    try:
        pid = int(pidfile.read_text().strip())
        return os.fsencode(pidfile) in Path(f"/proc/{pid}/cmdline").read_bytes() and _running(pid)
    except (OSError, ValueError):
        return False


def _running(pid: int) -> bool:
    """Alive and not a zombie (dnsmasq daemonises: init reaps it, a moment later)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


async def terminate(pid: int, timeout: float) -> None:
    """SIGTERM ``pid`` (not a child of ours) and wait for it to exit, SIGKILL after
    ``timeout``: woken by a pidfd when the kernel has one, else by polling."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except OSError:
        pidfd = None
    try:
        os.kill(pid, signal.SIGTERM)
        if pidfd is not None:
            loop = asyncio.get_running_loop()
            exited = loop.create_future()

            def wake() -> None:
                if not exited.done():
                    exited.set_result(None)

            loop.add_reader(pidfd, wake)
            try:
                await asyncio.wait_for(exited, timeout)
                return
            except TimeoutError:
                pass
            finally:
                loop.remove_reader(pidfd)
        else:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if not _running(pid):
                    return
                await asyncio.sleep(0.005)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    finally:
        if pidfd is not None:
            os.close(pidfd)
