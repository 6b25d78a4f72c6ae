"""What the real-kernel tests of tenant networks share (``tests/contract/test_tenant_networks.py``,
``test_network_acls.py``): the root-and-tools check, a random address plan per test, the
networks manager torn down after it, and "guests" — namespaces on isolated bridge ports (see
:mod:`support.netns_guest`) — with the probes and servers the tests talk through."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.compute.driver import (
    InterfaceSpec,
)
from andromede.compute.driver_network import (
    NicSpec,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.netns_guest import namespace_guest

__all__ = [
    "ANSWERED_WITHIN",
    "DROPPED_AFTER",
    "Guest",
    "guest",
    "host_connect",
    "host_reach",
    "host_routes",
    "needs_root_and_tools",
    "networks",
    "outside_addresses",
    "random_layout",
    "random_ranges",
    "serving",
]

_TOOLS = ("ip", "nft", "dnsmasq", "busybox")

# A probe expected to fail waits DROPPED_AFTER seconds for an answer that never comes; one
# expected to succeed waits up to ANSWERED_WITHIN, which costs nothing when the answer is
# prompt. With 2 s for both, an answer slowed by a loaded machine (three workers, QEMU guests)
# once read as a drop in CI.
DROPPED_AFTER = 2.0
ANSWERED_WITHIN = 20.0


@pytest.fixture(autouse=True)
def needs_root_and_tools() -> None:
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")


def random_ranges() -> tuple[str, str]:
    """A random transit and public /24 for an in-process test's host, in 100.64.0.0/10 less its
    first /14 (100.68 to 100.127), so never in the blocks the e2e servers reserve
    (support.qemu_host: 100.64, 100.65 and 100.66.<block>.0/24, their Elastic IPs' /32 routes
    among them), whose reservation a random pick here takes no part in."""
    block = 4 * 256 + secrets.randbelow(60 * 256 // 2) * 2
    transit = f"100.{64 + block // 256}.{block % 256}.0/24"
    public = f"100.{64 + (block + 1) // 256}.{(block + 1) % 256}.0/24"
    return transit, public


def random_layout(letter: str) -> NetworkLayout:
    """An address plan and link names of the test's own (:func:`random_ranges`), so two tests
    (and two xdist workers) rarely share a host route or a link; ``letter`` starts the link
    names, one per test module."""
    transit, public = random_ranges()
    return NetworkLayout(
        transit_cidr=transit,
        public_cidr=public,
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix=letter + secrets.token_hex(2),
    )


@pytest.fixture
async def networks(tmp_path: Path, layout: NetworkLayout) -> AsyncIterator[TenantNetworks]:
    """The host's tenant networks on the module's ``layout``, every network removed after."""
    manager = TenantNetworks(tmp_path / "net", layout)
    yield manager
    for network_id in list(manager._state.networks):
        await manager.remove(network_id)


@dataclass
class Guest:
    netns: str
    nic: NicSpec

    def run(self, *command: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def connect(self, address: str, port: int, timeout: float = DROPPED_AFTER) -> str:
        """Connect to address:port and return what the peer says ("" when it cannot)."""
        code = (
            "import socket,sys\n"
            "try:\n"
            f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
            "  s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n'); print(s.recv(200).decode(), end='')\n"
            "except OSError as e: print('', end='')\n"
        )
        return self.run(sys.executable, "-c", code, timeout=timeout + 5).stdout

    def connect_from(self, source: str, address: str, port: int, *, reach: bool = False) -> str:
        """``connect`` from ``source``, an address of the guest's own choosing (decision
        0161's source/destination check); ``reach``: an answer is expected."""
        timeout = ANSWERED_WITHIN if reach else DROPPED_AFTER
        code = (
            "import socket\n"
            "try:\n"
            "  s=socket.socket(); s.settimeout(" + repr(timeout) + ")\n"
            f"  s.bind(({source!r},0)); s.connect(({address!r},{port}))\n"
            "  print(s.recv(200).decode(), end='')\n"
            "except OSError: print('', end='')\n"
        )
        return self.run(sys.executable, "-c", code, timeout=timeout + 5).stdout

    def reach(self, address: str, port: int) -> str:
        """``connect`` where an answer is expected: it may be slow to come."""
        return self.connect(address, port, timeout=ANSWERED_WITHIN)


@asynccontextmanager
async def guest(
    networks: TenantNetworks,
    instance_id: str,
    nic: NicSpec,
    interfaces: Sequence[InterfaceSpec] = (),
) -> AsyncIterator[Guest]:
    async with namespace_guest(networks, instance_id, nic, interfaces) as netns:
        yield Guest(netns, nic)


@contextmanager
def serving(netns: str | None, address: str, *ports: int) -> Iterator[None]:
    """TCP servers answering every connection with the peer's address, in a namespace
    (``address`` "" = every address of that namespace), one per port."""
    code = (
        "import socket,sys,threading\n"
        "def serve(s):\n"
        "  while True:\n"
        "    c,a=s.accept(); c.sendall(('peer '+a[0]).encode()); c.close()\n"
        "for port in map(int, sys.argv[1:]):\n"
        "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"  s.bind(({address!r},port)); s.listen(16)\n"
        "  threading.Thread(target=serve, args=(s,), daemon=True).start()\n"
        "print('ready', flush=True)\n"
        "threading.Event().wait()\n"
    )
    prefix = ["ip", "netns", "exec", netns] if netns else []
    with subprocess.Popen(
        [*prefix, sys.executable, "-c", code, *map(str, ports)], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


def host_routes(address: str) -> str:
    """The host's routes to exactly ``address``/32 ("" when none)."""
    return subprocess.run(
        ["ip", "route", "show", f"{address}/32"], capture_output=True, text=True, check=True
    ).stdout.strip()


def host_connect(address: str, port: int, timeout: float = DROPPED_AFTER) -> str:
    """What ``address:port`` says to a connection from the host ("" when it cannot)."""
    code = (
        "import socket\n"
        "try:\n"
        f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
        "  print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 8
    ).stdout


def host_reach(address: str, port: int) -> str:
    """``host_connect`` where an answer is expected."""
    return host_connect(address, port, timeout=ANSWERED_WITHIN)


def _loopback_candidates() -> list[int]:
    """The last bytes of 198.51.100.0/24, in a random order (two tests rarely try one)."""
    return secrets.SystemRandom().sample(range(1, 255), 254)


@contextmanager
def outside_addresses(count: int = 1) -> Iterator[list[str]]:
    """Addresses of the host's own that are neither transit nor public (TEST-NET-2, on its
    loopback): the LAN, the Internet, as the tenant networks see them; none another live test
    holds."""
    addresses: list[str] = []
    try:
        # Adding an address the loopback has already fails (EEXIST: "Address already assigned",
        # "File exists" in older iproute2): that is the claim, so two tests at once never
        # share one (the first one done would take it from the other).
        for n in _loopback_candidates():
            if len(addresses) == count:
                break
            added = subprocess.run(
                ["ip", "addr", "add", f"198.51.100.{n}/32", "dev", "lo"],
                capture_output=True,
                text=True,
                check=False,
            )
            if added.returncode == 0:
                addresses.append(f"198.51.100.{n}")
            elif not any(taken in added.stderr for taken in ("already assigned", "File exists")):
                raise RuntimeError(f"cannot add 198.51.100.{n} to lo: {added.stderr.strip()}")
        if len(addresses) < count:
            raise RuntimeError("every address of 198.51.100.0/24 is on this machine's loopback")
        yield addresses
    finally:
        for address in addresses:
            subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False)
