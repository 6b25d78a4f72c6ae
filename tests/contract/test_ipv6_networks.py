"""IPv6 on tenant networks, on the real kernel (decision 0217): a VPC's router holds each
subnet's IPv6 router address and forwards IPv6 between its subnets, where the security
groups' IPv6 ranges judge it (an IPv4 range never admits IPv6), a NIC sends IPv6 from its own
addresses only, another VPC never reaches it, and each subnet's dnsmasq advertises the /64 and
hands out the recorded address, and each subnet's network ACL judges IPv6 by its IPv6
entries.

A "guest" is a namespace on an isolated bridge port (``support.netns_guest``), which a test
here gives its IPv6 address as DHCPv6 would: a /128, everything through the router. Needs root
and the ``ip``, ``nft`` and ``dnsmasq`` commands.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
    SubnetAcl,
)
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.ipv6_guests import connect6, serving6, take_ipv6
from support.tenant_networks import (
    guest,
    needs_root_and_tools,
    networks,
    random_layout,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

TENANT = "111111111111"
ALL_OUT = InstanceFirewall(
    egress=(FirewallRule("-1", 0, 65535, "0.0.0.0/0"), FirewallRule("-1", 0, 65535, "::/0"))
)


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("v")


def _subnet(vpc_id: str, third: int, ipv6: str) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id=TENANT,
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr="10.9.0.0/16",
        ipv6_cidr=ipv6,
    )


def _nic(network: NetworkSpec, host: int, *ipv6: str) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    return NicSpec(
        network=network,
        mac=f"02:00:00:00:{host // 256:02x}:{host % 256:02x}",
        private_ip=f"{prefix}.{host}",
        ipv6_addresses=ipv6,
    )


def test_the_rendered_ipv6_ruleset_is_valid_nft() -> None:
    ruleset = render_firewall(
        {
            "10.0.0.5": InstanceFirewall(
                ingress=(
                    FirewallRule("tcp", 22, 22, "0.0.0.0/0"),
                    FirewallRule("tcp", 22, 22, "::/0"),
                    FirewallRule("udp", 53, 53, "fd00:1::/64"),
                    FirewallRule("icmp", -1, -1, "::/0"),  # ICMPv6 is another protocol
                ),
                egress=(FirewallRule("-1", 0, 65535, "fd00:1::/56"),),
            ),
            "10.0.0.6": InstanceFirewall(),
        },
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.0.5": "100.65.0.1", "10.0.0.6": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        sources={"02:00:00:00:00:05": ("10.0.0.5",), "02:00:00:00:00:06": ("10.0.0.6",)},
        ipv6={"10.0.0.5": ("fd00:1::a", "fd00:1::b"), "10.0.0.6": ()},
    )
    assert "ether saddr 02:00:00:00:00:05 ip6 saddr != { fd00:1::a, fd00:1::b } drop" in ruleset
    assert "ether saddr 02:00:00:00:00:06 meta nfproto ipv6 drop" in ruleset
    assert "ip6 saddr fd00:1::b jump egress6_0" in ruleset
    assert "ip6 daddr fd00:1::a jump ingress6_0" in ruleset
    assert "egress6_1" not in ruleset  # no IPv6 address, no IPv6 chain
    v6_chain = ruleset.split("chain ingress6_0 {", 1)[1].split("}", 1)[0]
    assert "tcp dport 22 accept" in v6_chain and "ip6 saddr fd00:1::/64 udp dport 53" in v6_chain
    assert "icmp" not in v6_chain and "ip saddr" not in v6_chain
    v4_chain = ruleset.split("chain ingress_0 {", 1)[1].split("}", 1)[0]
    assert "ip6" not in v4_chain and "::/0" not in v4_chain
    assert "meta l4proto ipv6-icmp accept" in ruleset
    # Without IPv6 on any subnet, the ruleset says nothing of it.
    plain = render_firewall(
        {"10.0.0.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.0.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        sources={"02:00:00:00:00:05": ("10.0.0.5",)},
    )
    assert "ip6" not in plain and "ipv6" not in plain
    name = "chk" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        result = subprocess.run(
            ["ip", "netns", "exec", name, "nft", "-c", "-f", "-"],
            input=ruleset, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


async def test_subnets_of_one_vpc_reach_each_other_over_ipv6_as_their_groups_allow(
    networks: TenantNetworks,
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    first = _subnet(vpc, 1, "fd00:9:0:1::/64")
    second = _subnet(vpc, 2, "fd00:9:0:2::/64")
    # Another VPC of the tenant, its own IPv6 block.
    other = _subnet("vpc-" + secrets.token_hex(4), 1, "fd00:8:0:1::/64")
    a_nic = _nic(first, 5, "fd00:9:0:1::a5")
    b_nic = _nic(second, 6, "fd00:9:0:2::b6")
    c_nic = _nic(other, 7, "fd00:8:0:1::c7")
    async with (
        guest(networks, "i-a", a_nic) as a,
        guest(networks, "i-b", b_nic) as b,
        guest(networks, "i-c", c_nic) as c,
    ):
        take_ipv6(a, "fd00:9:0:1::a5", "fd00:9:0:1::1")
        take_ipv6(b, "fd00:9:0:2::b6", "fd00:9:0:2::1")
        take_ipv6(c, "fd00:8:0:1::c7", "fd00:8:0:1::1")
        # All egress, both families, as a group of a VPC with IPv6 has it (EC2 adds ::/0).
        for owner in ("i-a", "i-c"):
            await networks.set_instance_firewall(owner, ALL_OUT)
        router = networks.netns(vpc)
        addresses = subprocess.run(
            ["ip", "-n", router, "-6", "addr"], capture_output=True, text=True, check=True
        ).stdout
        assert "fd00:9:0:1::1/64" in addresses and "fd00:9:0:2::1/64" in addresses
        with serving6(b.netns, 8080):
            # b's groups let nothing in: the router forwards, the security groups decide.
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=False) == ""
            # An IPv4 range, even everything, admits no IPv6.
            await networks.set_instance_firewall(
                "i-b", InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
            )
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=False) == ""
            # An IPv6 range does; routed, not translated: b sees a's own address.
            await networks.set_instance_firewall(
                "i-b",
                InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8100, "fd00:9:0:1::/64"),)),
            )
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=True) == "peer fd00:9:0:1::a5"
            # Stateful, as in IPv4: b cannot open a connection to a.
            with serving6(a.netns, 8081):
                await networks.set_instance_firewall(
                    "i-a", InstanceFirewall(egress=(FirewallRule("-1", 0, 0, "::/0"),))
                )
                assert connect6(b, "fd00:9:0:1::a5", 8081, reach=False) == ""
                # a's egress binds IPv6 too.
                await networks.set_instance_firewall(
                    "i-a", InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, "::/0"),))
                )
                assert connect6(a, "fd00:9:0:2::b6", 8080, reach=False) == ""
                await networks.set_instance_firewall("i-a", ALL_OUT)
            # An address of a's /64 it does not hold is dropped at the router, whatever the
            # groups say.
            await networks.set_instance_firewall(
                "i-b", InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "::/0"),))
            )
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=True) == "peer fd00:9:0:1::a5"
            assert a.run("ip", "-6", "addr", "add", "fd00:9:0:1::66/128", "dev", "eth0",
                         "nodad").returncode == 0  # fmt: skip
            spoofed = connect6(a, "fd00:9:0:2::b6", 8080, source="fd00:9:0:1::66", reach=False)
            assert spoofed == ""
            gone = a.run("ip", "-6", "addr", "del", "fd00:9:0:1::66/128", "dev", "eth0")
            assert gone.returncode == 0, gone.stderr
            # Another VPC never reaches it, open as it is.
            assert connect6(c, "fd00:9:0:2::b6", 8080, reach=False) == ""
            # b's subnet's network ACL judges IPv6 by its IPv6 entries: one letting all IPv4
            # through and no IPv6 in denies it, as a new ACL's does on EC2.
            ipv4_only = SubnetAcl(
                ingress=(AclEntry(100, True, "-1", "0.0.0.0/0"),),
                egress=(AclEntry(100, True, "-1", "0.0.0.0/0"),),
                ipv6_ingress=(),
                ipv6_egress=(),
            )
            await networks.set_acl(second.network_id, ipv4_only)
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=False) == ""
            await networks.set_acl(
                second.network_id,
                replace(
                    ipv4_only,
                    ipv6_ingress=(AclEntry(110, True, "tcp", "fd00:9:0:1::/64", 8080, 8080),),
                    ipv6_egress=(AclEntry(110, True, "tcp", "fd00:9::/48", 1024, 65535),),
                ),
            )
            assert connect6(a, "fd00:9:0:2::b6", 8080, reach=True) == "peer fd00:9:0:1::a5"
            await networks.set_acl(second.network_id, SubnetAcl())
        # Each subnet's DHCP server advertises its /64 and hands out the recorded address.
        command = _dhcp_command(networks, first.network_id)
        assert "--enable-ra" in command
        assert "--dhcp-range=fd00:9:0:1::,static,off-link,64,12h" in command
        assert f"--dhcp-host={a_nic.mac},{a_nic.private_ip},[fd00:9:0:1::a5]" in command


async def test_a_subnet_without_ipv6_forwards_none(networks: TenantNetworks) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    plain = _subnet(vpc, 1, "")
    a_nic, b_nic = _nic(plain, 5), _nic(plain, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        # Addresses the guests made up: nothing of them crosses the router.
        take_ipv6(a, "fd00:7::a", "fd00:7::1")
        take_ipv6(b, "fd00:7::b", "fd00:7::1")
        await networks.set_instance_firewall("i-a", ALL_OUT)
        await networks.set_instance_firewall(
            "i-b", InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "::/0"),))
        )
        with serving6(b.netns, 8080):
            assert connect6(a, "fd00:7::b", 8080, reach=False) == ""
        forwarding = subprocess.run(
            ["ip", "netns", "exec", networks.netns(vpc), "sysctl", "-n",
             "net.ipv6.conf.all.forwarding"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert forwarding == "0"
        assert "--enable-ra" not in _dhcp_command(networks, plain.network_id)


def _dhcp_command(networks: TenantNetworks, network_id: str) -> list[str]:
    """The command line of the dnsmasq serving a network."""
    pidfile = os.fsencode(networks._dhcp_pidfile(network_id))
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if pidfile in cmdline:
                return [part.decode() for part in cmdline.split(b"\0") if part]
    raise AssertionError(f"no DHCP server for {network_id}")


_SOLICIT_ADVERTISEMENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
s.settimeout(15)
index = socket.if_nametoindex("eth0")
for _ in range(50):  # the link-local address is tentative for a moment (its DAD)
    try:
        s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, index))
        break
    except OSError:
        time.sleep(0.2)
while True:
    packet, _ = s.recvfrom(1500)
    if packet[0] == 134:
        break
managed = bool(packet[5] & 0x80)
at = 16
while at + 2 <= len(packet):
    kind, length = packet[at], packet[at + 1] * 8
    if kind == 3:
        prefix_length, flags = packet[at + 2], packet[at + 3]
        prefix = socket.inet_ntop(socket.AF_INET6, packet[at + 16 : at + 32])
        print(managed, f"{prefix}/{prefix_length}", bool(flags & 0x80), bool(flags & 0x40))
        sys.exit(0)
    at += max(length, 8)
print(managed, "no prefix")
"""


async def test_the_router_advertises_the_subnet_off_link_and_managed(
    networks: TenantNetworks,
) -> None:
    """What a guest's IPv6 stack learns from the subnet's dnsmasq: DHCPv6 (the M flag, so
    the client asks for its recorded address), the /64 off-link (everything through the
    router) and no SLAAC (the A flag off: no address made up)."""
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 1, "fd00:6:0:1::/64")
    async with guest(networks, "i-a", _nic(subnet, 5, "fd00:6:0:1::a5")) as a:
        said = a.run(sys.executable, "-c", _SOLICIT_ADVERTISEMENT, timeout=30)
        assert said.returncode == 0, said.stderr
        assert said.stdout.split() == ["True", "fd00:6:0:1::/64", "False", "False"]
