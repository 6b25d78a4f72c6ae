"""The two "hosts" of the real-kernel overlay tests (``tests/contract/test_overlay_networks.py``,
``test_vpc_peering_hosts.py``): two :class:`TenantNetworks` with their own state, link
prefix, transit and public ranges, and each its underlay in a namespace of its own, the two
joined by a veth pair as two machines by their LAN; namespace "guests" and the servers and
probes the tests talk through. Moved here from test_overlay_networks.py unchanged, to be
shared."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    NetworkPeer,
    NicSpec,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.hypervisor_agents import underlay_pair
from support.netns_guest import namespace_guest
from support.tenant_networks import random_ranges

__all__ = ["Guest", "Host", "answers", "guest", "host_layout", "hosts", "serving"]


def host_layout(underlay: str = "", underlay_netns: str = "") -> NetworkLayout:
    transit, public = random_ranges()
    return NetworkLayout(
        transit_cidr=transit,
        public_cidr=public,
        imds_port=20000 + secrets.randbelow(20000),
        link_prefix="o" + secrets.token_hex(2),
        underlay_address=underlay,
        vxlan_port=40000 + secrets.randbelow(20000),
        underlay_netns=underlay_netns,
    )


@dataclass
class Host:
    networks: TenantNetworks
    layout: NetworkLayout

    def peer(self, *private_ips: str) -> NetworkPeer:
        return NetworkPeer(self.layout.underlay_address, self.layout.vxlan_port, private_ips)


@pytest.fixture
async def hosts(tmp_path: Path) -> AsyncIterator[tuple[Host, Host]]:
    with underlay_pair() as (one_underlay, two_underlay):
        ns_one, address_one = one_underlay.netns, one_underlay.address
        ns_two, address_two = two_underlay.netns, two_underlay.address
        one, two = host_layout(address_one, ns_one), host_layout(address_two, ns_two)
        pair = (
            Host(TenantNetworks(tmp_path / "one", one), one),
            Host(TenantNetworks(tmp_path / "two", two), two),
        )
        try:
            yield pair
        finally:
            for host in pair:
                for network_id in list(host.networks._state.networks):
                    await host.networks.remove(network_id)


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

    def connect(self, address: str, port: int, timeout: float = 2) -> str:
        """What the peer at address:port says ("" when it cannot be reached)."""
        return connect(["ip", "netns", "exec", self.netns], address, port, timeout)


def answers(*probes: tuple[Guest, str, int]) -> list[str]:
    """What each ``(guest, address, port)`` connection got ("" when it could not be reached),
    the probes run at once: an expected drop waits out its whole timeout, and several in a row
    cost one timeout instead of one each (decision 0167). Each probe is the same process,
    with the same timeout, as ``Guest.connect``."""
    with ThreadPoolExecutor(max_workers=len(probes)) as pool:
        return list(pool.map(lambda probe: probe[0].connect(probe[1], probe[2]), probes))


def connect(prefix: list[str], address: str, port: int, timeout: float = 2) -> str:
    code = (
        "import socket\n"
        "try:\n"
        f"  s=socket.create_connection(({address!r},{port}),timeout={timeout})\n"
        "  print(s.recv(200).decode(), end='')\n"
        "except OSError: print('', end='')\n"
    )
    return subprocess.run(
        [*prefix, sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout + 8
    ).stdout


@contextmanager
def serving(netns: str | None, address: str, *ports: int) -> Iterator[None]:
    """TCP servers answering every connection with ``peer <address> port <port>``."""
    code = (
        "import socket, sys, threading\n"
        "def serve(port):\n"
        "  s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
        f"  s.bind(({address!r}, port)); s.listen(16); return s\n"
        "def loop(s, port):\n"
        "  while True:\n"
        "    c,a=s.accept(); c.sendall(f'peer {a[0]} port {port}'.encode()); c.close()\n"
        f"socks=[(serve(p), p) for p in {list(ports)!r}]\n"
        "for s, p in socks: threading.Thread(target=loop, args=(s, p), daemon=True).start()\n"
        "print('ready', flush=True); sys.stdin.read()\n"
    )
    prefix = ["ip", "netns", "exec", netns] if netns else []
    with subprocess.Popen(
        [*prefix, sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            yield
        finally:
            process.kill()


@asynccontextmanager
async def guest(networks: TenantNetworks, instance_id: str, nic: NicSpec) -> AsyncIterator[Guest]:
    async with namespace_guest(networks, instance_id, nic) as netns:
        yield Guest(netns, nic)
