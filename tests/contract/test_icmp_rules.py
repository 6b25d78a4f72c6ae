"""ICMP types and codes on the real kernel (decision 0130): a security group rule allowing echo
requests lets a ping through and its reply back (conntrack), and not an ICMP timestamp request;
a network ACL entry does the same, statelessly — its replies need an egress entry of their own.

As in test_network_acls.py, a "guest" is a network namespace of its own whose ``eth0`` is one
end of a veth pair; the probes are raw ICMP sockets in it. Needs root and the ``ip``, ``nft``,
``dnsmasq`` and ``busybox`` commands.
"""

from __future__ import annotations

import secrets
import sys

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
    SubnetAcl,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.tenant_networks import (
    ANSWERED_WITHIN,
    DROPPED_AFTER,
    Guest,
    guest,
    needs_root_and_tools,
    networks,
    random_layout,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

ECHO_REQUEST, ECHO_REPLY, TIMESTAMP, TIMESTAMP_REPLY = 8, 0, 13, 14
ANYWHERE = "0.0.0.0/0"
EVERYTHING = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, ANYWHERE),))
ALL = AclEntry(100, True, "-1", ANYWHERE)

# One ICMP request of a type (code 0) from a raw socket, and whether its reply came back.
_PROBE = r"""
import os, socket, struct, sys, time
address, timeout = sys.argv[1], float(sys.argv[4])
kind, expected = int(sys.argv[2]), int(sys.argv[3])
ident = os.getpid() & 0xFFFF
body = bytes(12) if kind == 13 else b"andromede-icmp"
def checksum(data):
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
header = struct.pack("!BBHHH", kind, 0, 0, ident, 1)
packet = struct.pack("!BBHHH", kind, 0, checksum(header + body), ident, 1) + body
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.sendto(packet, (address, 0))
deadline = time.monotonic() + timeout
while (remaining := deadline - time.monotonic()) > 0:
    s.settimeout(remaining)
    try:
        data, (source, _) = s.recvfrom(2048)
    except TimeoutError:
        break
    start = (data[0] & 0x0F) * 4
    got, _, _, got_id = struct.unpack("!BBHH", data[start:start + 6])
    if (source, got, got_id) == (address, expected, ident):
        print("answered", end="")
        break
"""


def _answered(sender: Guest, address: str, kind: int, reply: int, *, expected: bool) -> bool:
    timeout = ANSWERED_WITHIN if expected else DROPPED_AFTER
    done = sender.run(
        sys.executable, "-c", _PROBE, address, str(kind), str(reply), str(timeout),
        timeout=timeout + 8,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout == "answered"


def _ping(sender: Guest, address: str, *, expected: bool) -> bool:
    return _answered(sender, address, ECHO_REQUEST, ECHO_REPLY, expected=expected)


def _timestamp(sender: Guest, address: str, *, expected: bool) -> bool:
    return _answered(sender, address, TIMESTAMP, TIMESTAMP_REPLY, expected=expected)


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("i")


def _subnets() -> tuple[NetworkSpec, NetworkSpec]:
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        NetworkSpec(
            network_id="subnet-" + secrets.token_hex(4),
            tenant_id="111111111111",
            cidr=f"10.8.{third}.0/24",
            vpc_id=vpc,
            vpc_cidr="10.8.0.0/16",
        )
        for third in (1, 2)
    )
    return first, second


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    third = int(prefix.rsplit(".", 1)[1])
    return NicSpec(network=network, mac=f"02:00:00:01:{third:02x}:{host:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


async def test_a_group_allowing_echo_requests_lets_a_ping_through_and_no_timestamp(
    networks: TenantNetworks,
) -> None:
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        # a allows no ingress at all: b's replies reach it by conntrack alone.
        assert await networks.set_instance_firewall("i-a", InstanceFirewall())
        b_ip = b_nic.private_ip
        # All ICMP: both answered (the kernel answers timestamps: the probe works).
        every = InstanceFirewall(ingress=(FirewallRule("icmp", -1, -1, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", every)
        assert _ping(a, b_ip, expected=True)
        assert _timestamp(a, b_ip, expected=True)
        # Echo requests only (FromPort 8, ToPort -1): the ping and its reply, no timestamp.
        echo = InstanceFirewall(ingress=(FirewallRule("icmp", ECHO_REQUEST, -1, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", echo)
        assert _ping(a, b_ip, expected=True)
        assert not _timestamp(a, b_ip, expected=False)
        # A code: echo requests of code 0 are those ping sends; code 1 matches none of them.
        code_0 = InstanceFirewall(ingress=(FirewallRule("icmp", ECHO_REQUEST, 0, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", code_0)
        assert _ping(a, b_ip, expected=True)
        code_1 = InstanceFirewall(ingress=(FirewallRule("icmp", ECHO_REQUEST, 1, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", code_1)
        assert not _ping(a, b_ip, expected=False)
        # Timestamps only: no ping; and b's rule binds b alone (a is not opened by it).
        stamps = InstanceFirewall(ingress=(FirewallRule("icmp", TIMESTAMP, -1, ANYWHERE),))
        assert await networks.set_instance_firewall("i-b", stamps)
        assert not _ping(a, b_ip, expected=False)
        assert _timestamp(a, b_ip, expected=True)
        assert not _ping(b, a_nic.private_ip, expected=False)


async def test_an_acl_entry_allowing_echo_requests_needs_one_for_the_replies(
    networks: TenantNetworks,
) -> None:
    first, second = _subnets()
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic):
        for instance_id in ("i-a", "i-b"):
            assert await networks.set_instance_firewall(instance_id, EVERYTHING)
        b_ip = b_nic.private_ip
        assert _timestamp(a, b_ip, expected=True)  # the default ACL: everything through
        # Into b's subnet, echo requests only; out of it, everything.
        echo_in = AclEntry(90, True, "icmp", ANYWHERE, icmp_type=ECHO_REQUEST)
        await networks.set_acl(second.network_id, SubnetAcl(ingress=(echo_in,), egress=(ALL,)))
        assert _ping(a, b_ip, expected=True)
        assert not _timestamp(a, b_ip, expected=False)
        # Stateless: out of it, echo requests only — the replies (type 0) are dropped…
        echo_out = AclEntry(90, True, "icmp", ANYWHERE, icmp_type=ECHO_REQUEST)
        await networks.set_acl(second.network_id, SubnetAcl(ingress=(echo_in,), egress=(echo_out,)))
        assert not _ping(a, b_ip, expected=False)
        # …until an egress entry allows echo replies (type 0, code 0).
        replies = AclEntry(90, True, "icmp", ANYWHERE, icmp_type=ECHO_REPLY, icmp_code=0)
        await networks.set_acl(second.network_id, SubnetAcl(ingress=(echo_in,), egress=(replies,)))
        assert _ping(a, b_ip, expected=True)
        assert not _timestamp(a, b_ip, expected=False)
        # A lower-numbered deny of one type, before an allow of all ICMP.
        no_stamps = AclEntry(80, False, "icmp", ANYWHERE, icmp_type=TIMESTAMP)
        every = AclEntry(90, True, "icmp", ANYWHERE)
        await networks.set_acl(
            second.network_id, SubnetAcl(ingress=(no_stamps, every), egress=(ALL,))
        )
        assert _ping(a, b_ip, expected=True)
        assert not _timestamp(a, b_ip, expected=False)
        await networks.set_acl(second.network_id, SubnetAcl(ingress=(every,), egress=(ALL,)))
        assert _timestamp(a, b_ip, expected=True)
