"""The router's daemons as the real-kernel tests watch them from ``/proc``: whether a pid
runs, waiting for a killed one to be gone, and which live processes a pidfile names — so that
a supervisor's restart is seen to leave one copy, never two."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

__all__ = ["alive", "copies", "gone"]


def copies(pidfile: Path) -> list[int]:
    """The live processes whose command line names ``pidfile``: one copy, never two."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                named = os.fsencode(pidfile) in (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if named and alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (dnsmasq daemonises: a zombie is one init has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


async def gone(pid: int) -> None:
    """Wait (20 s at most) for ``pid`` to be gone."""
    deadline = time.monotonic() + 20
    while alive(pid):
        assert time.monotonic() < deadline, f"{pid} still runs"
        await asyncio.sleep(0.05)
