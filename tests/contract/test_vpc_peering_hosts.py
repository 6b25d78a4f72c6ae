"""VPC peering connections across hosts on the real kernel (decision 0139's addendum,
andromede.hypervisor.peering_segments through TenantNetworks.set_peering_links): two VPCs'
instances on two "hosts" reach each other at their private addresses over the connection's
own VXLAN segment only while each host is told the connection and both firewalls let it;
a third VPC gets nothing, even through a router that tries; the segments go when no longer
told. The two hosts and their underlay are those of test_overlay_networks.py
(:mod:`support.overlay_hosts`). Needs root and ``ip``, ``nft``, ``dnsmasq``, ``bridge``,
``busybox``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    SubnetAcl,
)
from andromede.hypervisor.peering_segments import segment_mac, segment_name
from support.overlay_hosts import Guest, Host, answers, guest, hosts, serving

__all__ = ["hosts"]  # the fixture this module takes from support

_TOOLS = ("ip", "nft", "dnsmasq", "bridge", "busybox")


@pytest.fixture(autouse=True)
def _needs_root_and_tools() -> None:
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")


def _network(tenant: str) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id=tenant,
        cidr="10.0.0.0/24",
        vni=1 + secrets.randbelow(2**24 - 2),
    )


def _peered_nic(
    vpc_id: str, block: str, host: int, *, subnet: NetworkSpec | None = None
) -> NicSpec:
    """An instance of a VPC of ``block`` (a /16), in its first /24 (or ``subnet``)."""
    prefix = block.split(".0.0/")[0]
    network = subnet or replace(
        _network("111111111111"), cidr=f"{prefix}.1.0/24", vpc_id=vpc_id, vpc_cidr=block
    )
    return NicSpec(network, f"02:00:00:08:{host:02x}:{host:02x}", f"{prefix}.1.{host}")


def _open_to(*blocks: str) -> InstanceFirewall:
    """An open group as the control plane confines it to what the instance's routes reach."""
    rules = tuple(FirewallRule("-1", 0, 0, block) for block in blocks)
    return InstanceFirewall(ingress=rules, egress=rules)


def _router_links(host: Host, router: str) -> str:
    return subprocess.run(
        ["ip", "-n", host.networks.netns(router), "-o", "link", "show"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


A_BLOCK, B_BLOCK, C_BLOCK = "10.81.0.0/16", "10.82.0.0/16", "10.83.0.0/16"


async def test_peered_vpcs_on_two_hosts_reach_each_other_only_while_told_and_let(
    hosts: tuple[Host, Host],
) -> None:
    """a (VPC A) on host one, b (VPC B, another tenant's block) on host two only, c (a third
    VPC) on host one. Each host is told the connection as the compute service tells it —
    the other host's instances of each side — and its lead router (the only one of the
    connection there) carries it over the connection's own segment to the other host's."""
    one, two = hosts
    vpc_a, vpc_b, vpc_c = ("vpc-" + secrets.token_hex(4) for _ in range(3))
    a_nic, b_nic = _peered_nic(vpc_a, A_BLOCK, 5), _peered_nic(vpc_b, B_BLOCK, 6)
    c_nic = _peered_nic(vpc_c, C_BLOCK, 7)
    peering_id = "pcx-" + secrets.token_hex(8) + "1"
    vni = 1 + secrets.randbelow(2**24 - 2)
    link = PeeringLink(peering_id, vpc_a, A_BLOCK, vpc_b, B_BLOCK, vni=vni)
    told_one = replace(link, accepter_peers=(two.peer(b_nic.private_ip),))
    told_two = replace(link, requester_peers=(one.peer(a_nic.private_ip),))
    segment = segment_name(peering_id)
    async with (
        guest(one.networks, "i-a", a_nic) as a,
        guest(two.networks, "i-b", b_nic) as b,
        guest(one.networks, "i-c", c_nic) as c,
    ):
        await one.networks.set_instance_firewall("i-a", _open_to(A_BLOCK, B_BLOCK))
        await two.networks.set_instance_firewall("i-b", _open_to(B_BLOCK, A_BLOCK))
        await one.networks.set_instance_firewall("i-c", _open_to("0.0.0.0/0"))
        with serving(b.netns, "", 7001), serving(a.netns, "", 7002), serving(c.netns, "", 7003):
            # Not joined: nothing carries a packet between the two VPCs.
            assert a.connect(b_nic.private_ip, 7001) == ""
            await one.networks.set_peering_links([told_one])
            await two.networks.set_peering_links([told_two])
            assert segment in _router_links(one, vpc_a) and segment in _router_links(two, vpc_b)
            # Both ways, at the private addresses, nothing translated.
            assert a.connect(b_nic.private_ip, 7001, timeout=10) == (
                f"peer {a_nic.private_ip} port 7001"
            )
            assert b.connect(a_nic.private_ip, 7002, timeout=10) == (
                f"peer {b_nic.private_ip} port 7002"
            )
            assert a.run("busybox", "ping", "-c", "1", "-W", "3", b_nic.private_ip).returncode == 0
            # Pushing what is in force changes nothing.
            await one.networks.set_peering_links([told_one])
            assert a.connect(b_nic.private_ip, 7001, timeout=10).startswith("peer ")
            # A third VPC's instance on host one, open to all, gets nothing either way.
            assert answers(
                (c, b_nic.private_ip, 7001),
                (c, a_nic.private_ip, 7002),
                (b, c_nic.private_ip, 7003),
                (a, c_nic.private_ip, 7003),
            ) == ["", "", "", ""]
            # b's table no longer routes to the connection: its firewall is confined to its
            # VPC, and b's host lets nothing of a's in (nor out to a).
            await two.networks.set_instance_firewall("i-b", _open_to(B_BLOCK))
            assert answers((a, b_nic.private_ip, 7001), (b, a_nic.private_ip, 7002)) == ["", ""]
            await two.networks.set_instance_firewall("i-b", _open_to(B_BLOCK, A_BLOCK))
            assert a.connect(b_nic.private_ip, 7001, timeout=10).startswith("peer ")
            # A network ACL of b's subnet denying a's block judges on b's host.
            deny = SubnetAcl(
                ingress=(
                    AclEntry(90, False, "-1", A_BLOCK),
                    AclEntry(100, True, "-1", "0.0.0.0/0"),
                ),
            )
            await two.networks.set_acl(b_nic.network.network_id, deny)
            assert a.connect(b_nic.private_ip, 7001) == ""
            await two.networks.set_acl(b_nic.network.network_id, SubnetAcl())
            # The connection deleted: neither host is told it; the segments go, nothing flows.
            await one.networks.set_peering_links([])
            await two.networks.set_peering_links([])
            assert segment not in _router_links(one, vpc_a)
            assert segment not in _router_links(two, vpc_b)
            assert answers((a, b_nic.private_ip, 7001), (b, a_nic.private_ip, 7002)) == ["", ""]
            assert a.run("busybox", "ping", "-c", "1", "-W", "2", b_nic.private_ip).returncode != 0


async def test_a_lead_holding_both_sides_carries_its_peers_packets_to_the_other_host(
    hosts: tuple[Host, Host],
) -> None:
    """a1 (VPC A) and b1 (VPC B) on host one, joined there by their link; a2 (VPC A, the same
    subnet) on host two only. a2 reaches b1 over the segment into host one's A router, which
    hands it over the link to B's; b1's replies, and a connection b1 opens, go back over A's
    own overlay. A packet from the segment reaches nothing of A on another host."""
    one, two = hosts
    vpc_a, vpc_b = "vpc-" + secrets.token_hex(4), "vpc-" + secrets.token_hex(4)
    a1_nic = _peered_nic(vpc_a, A_BLOCK, 5)
    a2_nic = _peered_nic(vpc_a, A_BLOCK, 9, subnet=a1_nic.network)
    b1_nic = _peered_nic(vpc_b, B_BLOCK, 6)
    peering_id = "pcx-" + secrets.token_hex(8) + "2"
    link = PeeringLink(
        peering_id, vpc_a, A_BLOCK, vpc_b, B_BLOCK, vni=1 + secrets.randbelow(2**24 - 2)
    )
    told_one = replace(link, requester_peers=(two.peer(a2_nic.private_ip),))
    told_two = replace(
        link,
        requester_peers=(one.peer(a1_nic.private_ip),),
        accepter_peers=(one.peer(b1_nic.private_ip),),
    )
    subnet = a1_nic.network
    async with (
        guest(one.networks, "i-a1", a1_nic) as a1,
        guest(one.networks, "i-b1", b1_nic) as b1,
        guest(two.networks, "i-a2", a2_nic) as a2,
    ):
        await one.networks.set_peers(subnet.network_id, [two.peer(a2_nic.private_ip)], subnet)
        await two.networks.set_peers(subnet.network_id, [one.peer(a1_nic.private_ip)], subnet)
        for host, instance in ((one, "i-a1"), (two, "i-a2")):
            await host.networks.set_instance_firewall(instance, _open_to(A_BLOCK, B_BLOCK))
        await one.networks.set_instance_firewall("i-b1", _open_to(B_BLOCK, A_BLOCK))
        with serving(b1.netns, "", 7101), serving(a2.netns, "", 7102):
            assert a2.connect(b1_nic.private_ip, 7101) == ""
            await one.networks.set_peering_links([told_one])
            await two.networks.set_peering_links([told_two])
            assert a2.connect(b1_nic.private_ip, 7101, timeout=10) == (
                f"peer {a2_nic.private_ip} port 7101"
            )
            assert b1.connect(a2_nic.private_ip, 7102, timeout=10) == (
                f"peer {b1_nic.private_ip} port 7102"
            )
            # a1 and a2 still meet over their subnet's overlay, untouched.
            assert a1.connect(a2_nic.private_ip, 7102, timeout=10) == (
                f"peer {a1_nic.private_ip} port 7102"
            )
            # b1's firewall confined to its VPC: nothing of a2's in, nothing out to a2.
            await one.networks.set_instance_firewall("i-b1", _open_to(B_BLOCK))
            assert answers((a2, b1_nic.private_ip, 7101), (b1, a2_nic.private_ip, 7102)) == [
                "",
                "",
            ]
            await one.networks.set_instance_firewall("i-b1", _open_to(B_BLOCK, A_BLOCK))
            # Host two no longer told: it parts its segment, and a2 is cut off from b1.
            await two.networks.set_peering_links([])
            assert answers((a2, b1_nic.private_ip, 7101), (b1, a2_nic.private_ip, 7102)) == [
                "",
                "",
            ]


async def test_no_transitive_peering_across_hosts_even_for_a_router_that_tries(
    hosts: tuple[Host, Host],
) -> None:
    """A and B, B and C peered, a and c on host one (two segments there, one per connection), b on
    host two leading both. a and c each reach b; a's router made to send c's address onto
    its segment (as a misbehaving router would) gets nothing through B's: a router lets in
    from a segment only towards its own instances or its peer of that very connection."""
    one, two = hosts
    vpc_a, vpc_b, vpc_c = ("vpc-" + secrets.token_hex(4) for _ in range(3))
    a_nic, b_nic = _peered_nic(vpc_a, A_BLOCK, 5), _peered_nic(vpc_b, B_BLOCK, 6)
    c_nic = _peered_nic(vpc_c, C_BLOCK, 7)
    ab = PeeringLink(
        "pcx-" + secrets.token_hex(8) + "3", vpc_a, A_BLOCK, vpc_b, B_BLOCK,
        vni=1 + secrets.randbelow(2**24 - 2),
    )  # fmt: skip
    cb = PeeringLink(
        "pcx-" + secrets.token_hex(8) + "4", vpc_c, C_BLOCK, vpc_b, B_BLOCK,
        vni=1 + secrets.randbelow(2**24 - 2),
    )  # fmt: skip
    to_b = (two.peer(b_nic.private_ip),)
    async with (
        guest(one.networks, "i-a", a_nic) as a,
        guest(two.networks, "i-b", b_nic) as b,
        guest(one.networks, "i-c", c_nic) as c,
    ):
        everything = _open_to("0.0.0.0/0")
        await one.networks.set_instance_firewall("i-a", everything)
        await two.networks.set_instance_firewall("i-b", everything)
        await one.networks.set_instance_firewall("i-c", everything)
        await one.networks.set_peering_links(
            [replace(ab, accepter_peers=to_b), replace(cb, accepter_peers=to_b)]
        )
        await two.networks.set_peering_links(
            [
                replace(ab, requester_peers=(one.peer(a_nic.private_ip),)),
                replace(cb, requester_peers=(one.peer(c_nic.private_ip),)),
            ]
        )
        with serving(b.netns, "", 7201), serving(c.netns, "", 7203):
            assert a.connect(b_nic.private_ip, 7201, timeout=10) == (
                f"peer {a_nic.private_ip} port 7201"
            )
            assert c.connect(b_nic.private_ip, 7201, timeout=10) == (
                f"peer {c_nic.private_ip} port 7201"
            )
            assert a.connect(c_nic.private_ip, 7203) == ""  # A has no way to C
            # A's router forced to send c's address over its segment to host two's B router.
            ns = one.networks.netns(vpc_a)
            segment = segment_name(ab.peering_id)
            mac = segment_mac(ab.peering_id, two.layout.underlay_address, two.layout.vxlan_port)
            for command in (
                ["neigh", "replace", c_nic.private_ip, "lladdr", mac, "dev", segment,
                 "nud", "permanent"],
                ["route", "replace", f"{c_nic.private_ip}/32", "dev", segment],
            ):  # fmt: skip
                subprocess.run(["ip", "-n", ns, *command], check=True)
            # No reply could come back anyway (C has no route to A): what counts is that
            # nothing arrives, so one-way datagrams are watched for at c.
            assert _datagram_arrives(a, b.netns, b_nic.private_ip, 7204)  # the watch works
            assert not _datagram_arrives(a, c.netns, c_nic.private_ip, 7204)
            assert a.connect(c_nic.private_ip, 7203) == ""
            # Nor beyond B's router: host two's own address (its end of B's transit link),
            # forced onto the segment the same way, gets nothing from a.
            host_two = two.networks._transit(
                two.networks._state.networks[b_nic.network.network_id].index
            )[0]
            for command in (
                ["neigh", "replace", host_two, "lladdr", mac, "dev", segment, "nud", "permanent"],
                ["route", "replace", f"{host_two}/32", "dev", segment],
            ):
                subprocess.run(["ip", "-n", ns, *command], check=True)
            assert not _datagram_arrives(a, None, host_two, 7205)


def _datagram_arrives(sender: Guest, receiver: str | None, address: str, port: int) -> bool:
    """Whether a UDP datagram ``sender`` sends to ``address:port`` reaches the namespace
    ``receiver`` (None: the host's own)."""
    listen = (
        "import socket\n"
        "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        f"s.bind(('', {port})); s.settimeout(4)\n"
        "print('ready', flush=True)\n"
        "try: print(s.recvfrom(100)[0].decode(), flush=True)\n"
        "except OSError: print('', flush=True)\n"
    )
    send = (
        "import socket, time\n"
        "s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for _ in range(5):\n"
        f"  try: s.sendto(b'hello', ({address!r}, {port}))\n"
        "  except OSError: pass\n"
        "  time.sleep(0.3)\n"
    )
    with subprocess.Popen(
        [*(["ip", "netns", "exec", receiver] if receiver else []), sys.executable, "-c", listen],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        sender.run(sys.executable, "-c", send)
        received = process.stdout.readline().strip()
        process.wait(timeout=10)
    return received == "hello"


async def test_two_connections_drawing_one_segment_id_on_a_host_leave_the_first_working(
    hosts: tuple[Host, Host],
) -> None:
    """The one clash the segments' ids allow (odds of one in 16 million a pair): host one is
    told two connections of one id. The push does not fail: one segment is made, the other
    logged and left out, and the first carries its packets."""
    one, two = hosts
    vpc_a, vpc_b, vpc_c = ("vpc-" + secrets.token_hex(4) for _ in range(3))
    a_nic, b_nic = _peered_nic(vpc_a, A_BLOCK, 5), _peered_nic(vpc_b, B_BLOCK, 6)
    c_nic = _peered_nic(vpc_c, C_BLOCK, 7)
    vni = 1 + secrets.randbelow(2**24 - 2)
    ab = PeeringLink("pcx-" + secrets.token_hex(8) + "5", vpc_a, A_BLOCK, vpc_b, B_BLOCK, vni=vni)
    cb = PeeringLink("pcx-" + secrets.token_hex(8) + "6", vpc_c, C_BLOCK, vpc_b, B_BLOCK, vni=vni)
    to_b = (two.peer(b_nic.private_ip),)
    async with (
        guest(one.networks, "i-a", a_nic) as a,
        guest(two.networks, "i-b", b_nic) as b,
        guest(one.networks, "i-c", c_nic) as c,
    ):
        everything = _open_to("0.0.0.0/0")
        for host, instance in ((one, "i-a"), (two, "i-b"), (one, "i-c")):
            await host.networks.set_instance_firewall(instance, everything)
        await one.networks.set_peering_links(
            [replace(ab, accepter_peers=to_b), replace(cb, accepter_peers=to_b)]
        )
        # Host two holds B alone: its one router leads both, on two devices of one id — the
        # same clash there.
        await two.networks.set_peering_links(
            [
                replace(ab, requester_peers=(one.peer(a_nic.private_ip),)),
                replace(cb, requester_peers=(one.peer(c_nic.private_ip),)),
            ]
        )
        first = min((ab, a, vpc_a), (cb, c, vpc_c), key=lambda told: told[0].peering_id)
        with serving(b.netns, "", 7301):
            assert first[1].connect(b_nic.private_ip, 7301, timeout=10) == (
                f"peer {first[1].nic.private_ip} port 7301"
            )
        second = (cb, vpc_c) if first[0] is ab else (ab, vpc_a)
        assert segment_name(first[0].peering_id) in _router_links(one, first[2])
        assert segment_name(second[0].peering_id) not in _router_links(one, second[1])
        assert [s.name for s in one.networks._segments] == [segment_name(first[0].peering_id)]
