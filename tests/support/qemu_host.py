"""A private hypervisor host for the e2e tests that run ``andromede serve`` with QEMU.

Each server gets its own state directory (short: QMP socket paths fit in 107 bytes) and its own
link prefix, so parallel test servers never share a network namespace, a transit link or a
bridge; :func:`clear_qemu_host` removes what a failed test left (stopping serve stops its agent,
never the guests nor their tenant networks).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

__all__ = ["clear_qemu_host", "new_qemu_host", "qemu_processes"]


def new_qemu_host(name: str) -> tuple[Path, dict[str, str]]:
    """A fresh state directory and the serve settings that make it this run's host."""
    state_dir = Path(tempfile.mkdtemp(prefix=f"andromede-e2e-{name}-", dir="/tmp"))
    env = {
        "ANDROMEDE_HYPERVISOR": "qemu",
        "ANDROMEDE_HYPERVISOR_STATE_DIR": str(state_dir),
        "ANDROMEDE_HYPERVISOR_LINK_PREFIX": f"q{uuid.uuid4().hex[:4]}",
    }
    return state_dir, env


def clear_qemu_host(state_dir: Path, env: dict[str, str]) -> None:
    """Kill QEMU and dnsmasq by their pid files, delete the host's namespaces and folder."""
    for pidfile in [*state_dir.glob("instances/*/qemu.pid"), *state_dir.glob("networks/*.pid")]:
        try:
            os.kill(int(pidfile.read_text().strip()), 9)
        except (OSError, ValueError):
            pass
    prefix = env["ANDROMEDE_HYPERVISOR_LINK_PREFIX"]
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    for line in listed.stdout.splitlines():
        if line.startswith(f"{prefix}-"):
            name = line.split(" ", 1)[0]
            subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)
    shutil.rmtree(state_dir, ignore_errors=True)


def qemu_processes(state_dir: Path) -> list[int]:
    """QEMU processes of this host (not its dnsmasq, which runs under the state dir too)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"qemu-system" in argv[0] and str(state_dir).encode() in b" ".join(argv):
                found.append(int(entry.name))
    return found
