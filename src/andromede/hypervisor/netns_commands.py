"""How the tenant networks act on the host: the ``ip``, ``nft``, ``bridge`` and ``dnsmasq``
commands (:func:`_run`, :func:`_ip_batch`: one process for many ``ip`` changes, and their
:class:`NetworkCommandError`), what a namespace holds (:func:`_namespace_exists`,
:func:`_links`), and work done inside a namespace by a thread of its own that enters it
(:func:`_in_netns`: opening taps, writing its sysctls).

Split off :mod:`~andromede.hypervisor.tenant_network` for size (STYLE §10), unchanged: the
helpers keep their private names, being the tenant network modules' own and no API of the
package.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["NetworkCommandError"]

_T = TypeVar("_T")

_NETNS_DIR = Path("/run/netns")  # where ``ip netns`` keeps the namespaces it names
_CLONE_NEWNET = 0x40000000


class NetworkCommandError(RuntimeError):
    """A host networking command failed; carries the command and what it printed."""


def _enable_forwarding(links: Sequence[str]) -> None:
    """IPv4 forwarding on for these host links (the host's own namespace), each alone."""
    for link in links:
        try:
            Path(f"/proc/sys/net/ipv4/conf/{link}/forwarding").write_text("1")
        except OSError as exc:
            raise NetworkCommandError(f"forwarding on {link}: {exc}") from None


def _namespace_exists(netns: str) -> bool:
    return (_NETNS_DIR / netns).exists()


def _host_link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


async def _links(netns: str) -> set[str]:
    """The names of the links in a namespace."""
    listed = await _run("ip", "-n", netns, "-o", "link", "show")
    # "2: br0: <...>", "3: transit@if12: <...>"
    return {line.split(":")[1].strip().split("@")[0] for line in listed.splitlines() if line}


async def _ip_batch(netns: str | None, *commands: str) -> None:
    """Several ``ip`` commands in one process, in order, stopping at the first that fails."""
    prefix = ("ip", "-n", netns) if netns else ("ip",)
    await _run(*prefix, "-batch", "-", stdin="\n".join(commands) + "\n")


async def _all(*steps: Awaitable[object]) -> None:
    """Run independent steps concurrently; every one runs to its end, the first failure is
    raised after."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


async def _write_sysctls(netns: str, values: Mapping[str, str]) -> None:
    """Set a namespace's sysctls (``/proc/sys`` keys), from a thread inside it: the
    ``net/`` tree under ``/proc/sys`` shows the namespace of whoever opens it."""

    def write() -> None:
        for key, value in values.items():
            with open(f"/proc/sys/{key}", "w") as entry:
                entry.write(value)

    try:
        await _in_netns(netns, write)
    except OSError as exc:
        raise NetworkCommandError(f"setting sysctls in {netns} failed: {exc}") from None


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        number = ctypes.get_errno()
        raise OSError(number, os.strerror(number))


async def _in_netns(netns: str, work: Callable[[], _T]) -> _T:
    """``work()`` run inside a network namespace, by a thread of its own that enters it
    (``setns`` moves the calling thread only) and ends after, so no thread of the process
    ever runs anything else there — not even when it could not return to the host's."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[_T] = loop.create_future()

    def settle(outcome: _T | BaseException) -> None:
        if done.cancelled():
            if isinstance(outcome, int):
                os.close(outcome)  # a descriptor nobody waits for any more
            return
        if isinstance(outcome, BaseException):
            done.set_exception(outcome)
        else:
            done.set_result(outcome)

    def run() -> None:
        outcome: _T | BaseException
        try:
            own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            try:
                target = os.open(_NETNS_DIR / netns, os.O_RDONLY | os.O_CLOEXEC)
                try:
                    _setns(target)
                finally:
                    os.close(target)
                try:
                    outcome = work()
                finally:
                    _setns(own)
            finally:
                os.close(own)
        except BaseException as exc:  # handed to the awaiting task
            outcome = exc
        try:
            loop.call_soon_threadsafe(settle, outcome)
        except RuntimeError:  # the loop is closed: nobody waits
            if isinstance(outcome, int):
                os.close(outcome)

    threading.Thread(target=run, name=f"netns-{netns}", daemon=True).start()
    return await done


async def _retry_while_exists(*command: str, attempts: int = 50) -> None:
    """Run a creating command, retrying while the kernel still holds the old object's name."""
    for _ in range(attempts - 1):
        try:
            await _run(*command)
            return
        except NetworkCommandError as exc:
            if "exists" not in str(exc):
                raise
            await asyncio.sleep(0.05)
    await _run(*command)


async def _run(*command: str, stdin: str | None = None, check: bool = True) -> str:
    process = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(stdin.encode() if stdin is not None else None)
    if check and process.returncode != 0:
        printed = err.decode(errors="replace").strip()
        shown = " ".join(command)
        raise NetworkCommandError(f"{shown} exited with {process.returncode}: {printed}")
    return out.decode(errors="replace")
