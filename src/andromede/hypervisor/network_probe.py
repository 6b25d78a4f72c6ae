"""Can this host build tenant networks? One probe, run once by the QEMU driver.

Bridge mode (:mod:`andromede.hypervisor.tenant_network`) needs CAP_NET_ADMIN and the ``ip``,
``nft`` and ``dnsmasq`` commands, and a kernel that lets it create network namespaces, bridges
with isolated ports and tap devices (a container may refuse any of them). Rather than guess from
capabilities, the probe does the real thing on a scratch namespace and removes it.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil

__all__ = ["REQUIRED_TOOLS", "probe_bridging"]

REQUIRED_TOOLS = ("ip", "nft", "dnsmasq", "bridge")


async def probe_bridging(link_prefix: str, *, timeout: float = 10.0) -> str | None:
    """None when tenant networks can be built here, else why not (for the log)."""
    missing = [
        tool
        for tool in REQUIRED_TOOLS
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin:/sbin") is None
    ]
    if missing:
        return f"missing commands: {', '.join(missing)}"
    netns = f"{link_prefix}-probe-{secrets.token_hex(4)}"
    steps = [
        ["ip", "netns", "add", netns],
        ["ip", "-n", netns, "link", "add", "br0", "type", "bridge"],
        ["ip", "-n", netns, "tuntap", "add", "dev", "tap0", "mode", "tap"],
        ["ip", "-n", netns, "link", "set", "tap0", "master", "br0"],
        ["ip", "netns", "exec", netns, "bridge", "link", "set", "dev", "tap0", "isolated", "on"],
        ["ip", "netns", "exec", netns, "nft", "list", "tables"],
    ]
    try:
        for step in steps:
            failure = await _run(step, timeout)
            if failure is not None:
                return failure
        return None
    finally:
        await _run(["ip", "netns", "del", netns], timeout)


async def _run(command: list[str], timeout: float) -> str | None:
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return f"{command[0]}: {exc.strerror}"
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"{' '.join(command)} did not finish within {timeout:g}s"
    if process.returncode != 0:
        printed = stderr.decode(errors="replace").strip()[-200:]
        return f"{' '.join(command)} exited with {process.returncode}: {printed}"
    return None
