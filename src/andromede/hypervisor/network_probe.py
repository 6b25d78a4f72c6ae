"""Can this host build tenant networks? One probe, run once by the QEMU driver.

Bridge mode (:mod:`andromede.hypervisor.tenant_network`) needs CAP_NET_ADMIN and the ``ip``,
``nft`` and ``dnsmasq`` commands, and a kernel that lets it create network namespaces, bridges
with isolated ports and tap devices (a container may refuse any of them). Rather than guess from
capabilities, the probe does the real thing on a scratch namespace and removes it.

A host given an underlay (decision 0024) must hold that address, in the namespace it names:
:func:`probe_underlay` says so at start, rather than each tenant network failing later on a
VXLAN port whose frames go nowhere.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil

__all__ = ["REQUIRED_TOOLS", "probe_bridging", "probe_underlay"]

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


async def probe_underlay(address: str, netns: str = "", *, timeout: float = 10.0) -> str | None:
    """None when ``address`` is an IPv4 address of this host — of its network namespace
    ``netns`` when one is named — else why not (a missing namespace, another address)."""
    where = f"network namespace {netns}" if netns else "this host's network namespace"
    command = ["ip", *(["-n", netns] if netns else []), "-o", "-4", "addr", "show"]
    failure, listed = await _output(command, timeout)
    if failure is not None:
        return failure
    held = {
        fields[3].split("/", 1)[0]
        for line in listed.splitlines()
        if len(fields := line.split()) > 3 and fields[2] == "inet"
    }
    if address not in held:
        return f"{address} is not an address of {where}"
    return None


async def _run(command: list[str], timeout: float) -> str | None:
    failure, _ = await _output(command, timeout)
    return failure


async def _output(command: list[str], timeout: float) -> tuple[str | None, str]:
    """(None, what it printed) when ``command`` succeeded, else (why not, "")."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return f"{command[0]}: {exc.strerror}", ""
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        return f"{' '.join(command)} did not finish within {timeout:g}s", ""
    if process.returncode != 0:
        printed = stderr.decode(errors="replace").strip()[-200:]
        return f"{' '.join(command)} exited with {process.returncode}: {printed}", ""
    return None, stdout.decode(errors="replace")
