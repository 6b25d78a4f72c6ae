"""A "guest" without a VM for the tenant-network tests: a network namespace whose ``eth0`` is one
end of a veth pair, the other end an isolated port of the tenant's bridge with the instance's MAC
and address — what a QEMU tap gives a VM (the QEMU tests boot real guests). The port goes on
the bridge the instance's tap is on: its subnet's, in its VPC's namespace."""

from __future__ import annotations

import ipaddress
import secrets
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from andromede.compute.driver import NicSpec
from andromede.hypervisor.tenant_network import TenantNetworks

__all__ = ["namespace_guest"]


@asynccontextmanager
async def namespace_guest(
    networks: TenantNetworks, instance_id: str, nic: NicSpec
) -> AsyncIterator[str]:
    """Plug ``nic`` and wire a namespace on it; yields the namespace's name, deleted after."""
    plugged = await networks.plug(instance_id, nic)
    # The bridge of the instance's subnet in its VPC's namespace: where its tap was put.
    shown = subprocess.run(
        ["ip", "-n", plugged.netns, "-o", "link", "show", plugged.tap],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    bridge = shown.split(" master ", 1)[1].split()[0]
    name = "g" + secrets.token_hex(4)
    port = "p" + secrets.token_hex(4)
    cidr = nic.network.cidr.split("/")[1]
    gateway = str(next(ipaddress.IPv4Network(nic.network.cidr).hosts()))
    commands = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", port, "netns", plugged.netns, "type", "veth", "peer", "name",
         "eth0", "netns", name],
        ["ip", "-n", plugged.netns, "link", "set", port, "master", bridge],
        ["ip", "netns", "exec", plugged.netns, "bridge", "link", "set", "dev", port,
         "isolated", "on"],
        ["ip", "-n", plugged.netns, "link", "set", port, "up"],
        ["ip", "-n", name, "link", "set", "eth0", "address", nic.mac],
        ["ip", "-n", name, "link", "set", "lo", "up"],
        ["ip", "-n", name, "link", "set", "eth0", "up"],
        ["ip", "-n", name, "addr", "add", f"{nic.private_ip}/{cidr}", "dev", "eth0"],
        ["ip", "-n", name, "route", "add", "default", "via", gateway],
    ]  # fmt: skip
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)
