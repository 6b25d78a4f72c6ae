"""A "guest" without a VM for the tenant-network tests: a network namespace whose ``eth0`` is one
end of a veth pair, the other end an isolated port of the tenant's bridge with the instance's MAC
and address — what a QEMU tap gives a VM (the QEMU tests boot real guests). The port goes on
the bridge the instance's tap is on: its subnet's, in its VPC's namespace.

Its further interfaces (decision 0161) are ``eth1``… the same way, each plugged under its
interface's id, with a routing table of its own for what leaves from its address, as a
multi-homed guest configures it (else replies from it would leave through ``eth0``). Behind an
appliance guest, a network of its own (``network_behind``, decision 0161's addendum)."""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

from andromede.compute.driver import (
    InterfaceSpec,
)
from andromede.compute.driver_network import (
    NicSpec,
)
from andromede.hypervisor.tenant_network import TenantNetworks

__all__ = ["namespace_guest", "network_behind"]


@asynccontextmanager
async def namespace_guest(
    networks: TenantNetworks,
    instance_id: str,
    nic: NicSpec,
    interfaces: Sequence[InterfaceSpec] = (),
) -> AsyncIterator[str]:
    """Plug ``nic`` (and ``interfaces``) and wire a namespace on them; yields the namespace's
    name, deleted after."""
    name = "g" + secrets.token_hex(4)
    commands = [["ip", "netns", "add", name], ["ip", "-n", name, "link", "set", "lo", "up"]]
    plugs = [(instance_id, nic, None), *((i.interface_id, i.nic, i.firewall) for i in interfaces)]
    for index, (key, card, firewall) in enumerate(plugs):
        plugged = await networks.plug(key, card, firewall)
        # The bridge of the card's subnet in its VPC's namespace: where its tap was put.
        shown = subprocess.run(
            ["ip", "-n", plugged.netns, "-o", "link", "show", plugged.tap],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        bridge = shown.split(" master ", 1)[1].split()[0]
        port = "p" + secrets.token_hex(4)
        dev = f"eth{index}"
        cidr = card.network.cidr.split("/")[1]
        gateway = str(next(ipaddress.IPv4Network(card.network.cidr).hosts()))
        commands += [
            ["ip", "link", "add", port, "netns", plugged.netns, "type", "veth", "peer", "name",
             dev, "netns", name],
            ["ip", "-n", plugged.netns, "link", "set", port, "master", bridge],
            ["ip", "netns", "exec", plugged.netns, "bridge", "link", "set", "dev", port,
             "isolated", "on"],
            ["ip", "-n", plugged.netns, "link", "set", port, "up"],
            ["ip", "-n", name, "link", "set", dev, "address", card.mac],
            ["ip", "-n", name, "link", "set", dev, "up"],
            ["ip", "-n", name, "addr", "add", f"{card.private_ip}/{cidr}", "dev", dev],
        ]  # fmt: skip
        if index == 0:
            commands.append(["ip", "-n", name, "route", "add", "default", "via", gateway])
        else:
            table = str(100 + index)
            commands += [
                ["ip", "-n", name, "route", "add", "default", "via", gateway, "dev", dev,
                 "table", table],
                ["ip", "-n", name, "rule", "add", "from", card.private_ip, "table", table],
            ]  # fmt: skip
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextmanager
def network_behind(appliance: str, block: str = "192.168.77") -> Iterator[str]:
    """A network behind an appliance guest: a namespace on a veth from it, the appliance at
    ``.1`` forwarding, the namespace at ``.2`` routed back through it. Yields its name."""
    name = "b" + secrets.token_hex(4)
    commands = [
        ["ip", "netns", "add", name],
        ["ip", "-n", name, "link", "set", "lo", "up"],
        ["ip", "link", "add", "in0", "netns", appliance, "type", "veth", "peer", "name",
         "out0", "netns", name],
        ["ip", "-n", appliance, "addr", "add", f"{block}.1/24", "dev", "in0"],
        ["ip", "-n", appliance, "link", "set", "in0", "up"],
        ["ip", "-n", name, "addr", "add", f"{block}.2/24", "dev", "out0"],
        ["ip", "-n", name, "link", "set", "out0", "up"],
        ["ip", "-n", name, "route", "add", "default", "via", f"{block}.1"],
        ["ip", "netns", "exec", appliance, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
    ]  # fmt: skip
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
