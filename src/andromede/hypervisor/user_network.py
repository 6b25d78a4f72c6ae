"""QEMU's user-mode networking (slirp): its netdev, host port forwards, and what of an
instance's security groups it can honour — the declared fallback of the QEMU driver where the
host cannot build tenant networks, and the wiring of an instance without a NIC.

Security groups in user mode: slirp has no filter, so the rules are honoured as far as its two
knobs allow: a forward is opened only for a guest port that an ingress rule allows over TCP (from
any range: slirp cannot tell peers apart, and forwards listen on ``forward_address``, loopback by
default) — ``QemuDriver.set_firewall`` opens and closes them on a running guest — and a guest
whose egress rules allow nothing is started with ``restrict=on`` (it reaches nothing outside;
forwards still work), which only a new start changes.

Network ACLs in user mode: none. Each guest is a slirp network of its own, nothing is routed
between subnets and there is no subnet boundary to judge at, so ``QemuDriver.set_network_acl``
records nothing and does nothing (a :class:`~andromede.compute.driver_network.NetworkSpec`'s ``acl``
is ignored likewise); the security groups, as above, are all that applies.
"""

from __future__ import annotations

import socket
from ipaddress import IPv4Network, ip_address

from andromede.compute.driver import (
    InstanceSpec,
    PortForward,
)
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
)
from andromede.hypervisor.errors import HypervisorError
from andromede.hypervisor.monitor import Monitor

__all__ = ["free_port", "hmp", "ingress_allows_tcp", "nic_device", "user_netdev"]


async def hmp(qmp: Monitor, command_line: str, *, success: str | None = None) -> None:
    """A human-monitor command (slirp's forwards have no QMP twin): it fails by printing,
    and some succeed by printing ``success`` too."""
    printed = await qmp.execute("human-monitor-command", {"command-line": command_line})
    text = printed.strip() if isinstance(printed, str) else ""
    if text and not (success is not None and text.endswith(success)):
        raise HypervisorError(f"QEMU {command_line.split()[0]}: {text[:200]}")


def ingress_allows_tcp(firewall: InstanceFirewall, forward: PortForward) -> bool:
    return any(_rule_allows_tcp(rule, forward.guest_port) for rule in firewall.ingress)


def _rule_allows_tcp(rule: FirewallRule, port: int) -> bool:
    if rule.protocol == "-1":
        return True
    return rule.protocol == "tcp" and rule.from_port <= port <= rule.to_port


def user_netdev(spec: InstanceSpec, forwards: tuple[PortForward, ...], *, restrict: bool) -> str:
    options = ["user", "id=net0"]
    if restrict:
        # No egress allowed: the guest reaches neither the host nor beyond; forwards still work.
        options.append("restrict=on")
    if spec.nic is not None:
        # The guest gets its private address by DHCP from QEMU, on the tenant's CIDR.
        network = IPv4Network(spec.nic.network.cidr, strict=False)
        options += [
            f"net={network}",
            f"host={network.network_address + 1}",
            f"dhcpstart={ip_address(spec.nic.private_ip)}",
        ]
    options += [f"hostfwd=tcp:{f.host_address}:{f.host_port}-:{f.guest_port}" for f in forwards]
    return ",".join(options)


def nic_device(spec: InstanceSpec) -> str:
    device = "virtio-net-pci,netdev=net0,id=nic0"
    if spec.nic is not None:
        device += f",mac={spec.nic.mac}"
    return device


def free_port(address: str) -> int:
    """A port free now; QEMU binds it a moment later (a race the caller retries on)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        port: int = probe.getsockname()[1]
        return port
