"""Tenant networks that span hosts (VXLAN overlay, distributed gateway) on the real kernel, and
the host rule that keeps the metadata listeners to the tenant networks.

Two "hosts" share this machine: two :class:`TenantNetworks` with their own state, link prefix,
transit and public ranges, and each its underlay in a namespace of its own (``underlay_netns``),
the two joined by a veth pair as two machines by their LAN. (Endpoints on two loopback addresses
of one namespace do not do: the kernel then hands VXLAN frames across directly, with the
sender's connection-tracking state, and the receiver's stateful rules drop the replies.) A
"guest" is a
namespace whose ``eth0`` is a veth end on the bridge, as in test_tenant_networks.py (the QEMU
test, test_guest_overlay.py, boots real guests). Needs root and ``ip``, ``nft``, ``dnsmasq``,
``bridge``, ``busybox``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
    NatRoute,
    NatSource,
    NetworkSpec,
    NicSpec,
    SubnetAcl,
)
from andromede.hypervisor.tenant_network import TenantNetworks, router_mac
from support.netns_guest import network_behind
from support.overlay_hosts import Host, connect, guest, host_layout, hosts, serving
from support.tenant_networks import outside_addresses

__all__ = ["hosts"]  # the fixture this module takes from support

_TOOLS = ("ip", "nft", "dnsmasq", "bridge", "busybox")


@pytest.fixture(autouse=True)
def _needs_root_and_tools() -> None:
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"tenant networks need root and {', '.join(missing) or 'root'}")


def _network(tenant: str, vni: int | None = None) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id=tenant,
        cidr="10.0.0.0/24",
        vni=vni if vni is not None else 1 + secrets.randbelow(2**24 - 2),
    )


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    return NicSpec(network, f"02:00:00:00:00:{host:02x}", f"10.0.0.{host}")


ONLY_8000 = InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8000, "10.0.0.0/24"),))


async def test_instances_of_one_network_on_two_hosts_reach_each_other_as_their_groups_allow(
    hosts: tuple[Host, Host],
) -> None:
    one, two = hosts
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-b", b_nic) as b:
        with serving(b.netns, "", 8000, 8001):
            # Peers not told yet: each host holds its network alone.
            assert a.connect(b_nic.private_ip, 8000) == ""
            await one.networks.set_peers(network.network_id, [two.peer(b_nic.private_ip)])
            await two.networks.set_peers(network.network_id, [one.peer(a_nic.private_ip)])
            # b's groups allow nothing in yet: its host drops what arrives over VXLAN.
            assert a.connect(b_nic.private_ip, 8000) == ""
            await two.networks.set_instance_firewall("i-b", ONLY_8000)
            assert a.connect(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip} port 8000"
            # The destination's rules decide, port by port, across hosts.
            assert a.connect(b_nic.private_ip, 8001) == ""
            # The sender's egress rules bind on its own host.
            await one.networks.set_instance_firewall(
                "i-a", InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, "0.0.0.0/0"),))
            )
            assert a.connect(b_nic.private_ip, 8000) == ""
            await one.networks.set_instance_firewall("i-a", InstanceFirewall())
            assert a.connect(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip} port 8000"
            # The host that no longer lists b as a peer's instance stops sending there.
            await one.networks.set_peers(network.network_id, [])
            assert a.connect(b_nic.private_ip, 8000) == ""
            neighbours = subprocess.run(
                ["ip", "-n", one.networks.netns(network.network_id), "neigh", "show",
                 "nud", "permanent"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert b_nic.private_ip not in neighbours


async def test_another_tenants_instances_on_the_other_host_stay_unreachable(
    hosts: tuple[Host, Host],
) -> None:
    one, two = hosts
    mine, theirs = _network("111111111111"), _network("222222222222")
    a_nic, c_nic = _nic(mine, 5), _nic(theirs, 6)
    everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
    async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-c", c_nic) as c:
        # Even with a peer set naming c's address (a mistake, or a forged one): a's network
        # reaches only what carries its own VNI, and c's network has another.
        await one.networks.set_peers(mine.network_id, [two.peer(c_nic.private_ip)])
        await two.networks.set_peers(theirs.network_id, [one.peer(a_nic.private_ip)])
        await two.networks.set_instance_firewall("i-c", everything)
        await one.networks.set_instance_firewall("i-a", everything)
        with serving(c.netns, "", 8000), serving(a.netns, "", 8000):
            assert a.connect(c_nic.private_ip, 8000) == ""
            assert c.connect(a_nic.private_ip, 8000) == ""


async def test_gateway_dhcp_and_metadata_stay_on_each_host(hosts: tuple[Host, Host]) -> None:
    one, two = hosts
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-b", b_nic) as b:
        await one.networks.set_peers(network.network_id, [two.peer(b_nic.private_ip)])
        await two.networks.set_peers(network.network_id, [one.peer(a_nic.private_ip)])
        # The gateway answers on each host with that host's own router.
        for g, host in ((a, one), (b, two)):
            answer = g.run("busybox", "arping", "-c", "1", "-w", "3", "-I", "eth0", "10.0.0.1")
            mine = router_mac(network.network_id, host.layout.underlay_address,
                              host.layout.vxlan_port)  # fmt: skip
            assert f"[{mine}]" in answer.stdout.lower()
        # DHCP: each guest's lease comes from its own host (the other host knows not its MAC).
        for g, nic in ((a, a_nic), (b, b_nic)):
            g.run("ip", "addr", "flush", "dev", "eth0")
            result = g.run(
                "busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-s", "/bin/true"
            )
            assert f"lease of {nic.private_ip} obtained" in result.stdout + result.stderr
            g.run("ip", "addr", "add", f"{nic.private_ip}/24", "dev", "eth0")
            g.run("ip", "route", "add", "default", "via", "10.0.0.1")
        # Metadata: each host's listener hears its own guests, from their public addresses.
        plugged_a, plugged_b = one.networks.plugged("i-a"), two.networks.plugged("i-b")
        assert plugged_a is not None and plugged_b is not None
        host_one = one.networks.host_transit_ip(network.network_id)
        host_two = two.networks.host_transit_ip(network.network_id)
        with serving(None, host_one, one.layout.imds_port):
            assert a.connect("169.254.169.254", 80).startswith(f"peer {plugged_a.public_ip} ")
            # b's host has no listener on its own transit address: the request goes nowhere
            # else (in particular not over the overlay to a's host).
            assert b.connect("169.254.169.254", 80) == ""
        with serving(None, host_two, two.layout.imds_port):
            assert b.connect("169.254.169.254", 80).startswith(f"peer {plugged_b.public_ip} ")


async def test_a_guest_mtu_leaves_room_for_vxlan(hosts: tuple[Host, Host]) -> None:
    one, _ = hosts
    network = _network("111111111111")
    plugged = await one.networks.plug("i-mtu", _nic(network, 5))
    links = subprocess.run(
        ["ip", "-n", plugged.netns, "-o", "link"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("br0", "vxlan0", plugged.tap):
        line = next(
            line for line in links.splitlines() if f" {name}:" in line or f" {name}@" in line
        )
        assert " mtu 1450 " in line, line


async def test_the_metadata_port_is_closed_to_the_lan_and_open_to_the_networks(
    tmp_path: Path,
) -> None:
    layout = host_layout()  # no overlay: the guard is every bridge host's
    networks = TenantNetworks(tmp_path / "net", layout)
    network = NetworkSpec("subnet-" + secrets.token_hex(4), "111111111111", "10.0.0.0/24")
    lan, lan_link = "l" + secrets.token_hex(4), "l" + secrets.token_hex(4)
    table = f"andromede_imds_{layout.link_prefix}"
    try:
        async with guest(networks, "i-md", _nic(network, 5)) as g:
            host_ip = networks.host_transit_ip(network.network_id)
            # A LAN machine one hop away, routing the transit range to this host.
            subprocess.run(["ip", "netns", "add", lan], check=True)
            lan_net = f"192.168.{secrets.randbelow(200) + 20}"
            for command in (
                ["ip", "link", "add", lan_link, "type", "veth", "peer", "name", "eth0",
                 "netns", lan],
                ["ip", "addr", "add", f"{lan_net}.1/30", "dev", lan_link],
                ["ip", "link", "set", lan_link, "up"],
                ["ip", "-n", lan, "addr", "add", f"{lan_net}.2/30", "dev", "eth0"],
                ["ip", "-n", lan, "link", "set", "eth0", "up"],
                ["ip", "-n", lan, "route", "add", layout.transit_cidr, "via", f"{lan_net}.1"],
            ):  # fmt: skip
                subprocess.run(command, check=True, capture_output=True)
            with serving(None, host_ip, layout.imds_port, layout.imds_port + 1):
                lan_prefix = ["ip", "netns", "exec", lan]
                # Another port of the same address answers the LAN: the route is there...
                assert connect(lan_prefix, host_ip, layout.imds_port + 1).startswith("peer")
                # ...the metadata port does not.
                assert connect(lan_prefix, host_ip, layout.imds_port) == ""
                # The tenant network (its transit link) and the host itself do reach it.
                assert g.connect("169.254.169.254", 80).startswith("peer ")
                assert connect([], host_ip, layout.imds_port).startswith("peer ")
            listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
            assert table in listed.stdout
        await networks.release("i-md")  # the last network goes, and its guard with it
        listed = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True)
        assert table not in listed.stdout
    finally:
        subprocess.run(["ip", "link", "del", lan_link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", lan], capture_output=True, check=False)
        for network_id in list(networks._state.networks):
            await networks.remove(network_id)


async def test_a_network_recorded_without_a_vxlan_id_gets_its_overlay_when_it_comes(
    hosts: tuple[Host, Host],
) -> None:
    one, _ = hosts
    network = _network("111111111111")
    plugged = await one.networks.plug("i-old", _nic(replace(network, vni=0), 5))
    links = subprocess.run(["ip", "-n", plugged.netns, "link"], capture_output=True, text=True)
    assert "vxlan0" not in links.stdout  # as a host before the upgrade built it
    await one.networks.plug("i-new", _nic(network, 6))
    links = subprocess.run(["ip", "-n", plugged.netns, "link"], capture_output=True, text=True)
    assert "vxlan0" in links.stdout


async def test_subnets_of_one_vpc_on_two_hosts_reach_each_other_as_their_groups_allow(
    hosts: tuple[Host, Host],
) -> None:
    """a (subnet 1) on host one, b (subnet 2) on host two, of one VPC: each host holds no
    instance of the other's subnet, and is told of it with its peers, as the compute service
    tells every host holding instances of the VPC (decision 0106)."""
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2)
    )
    a_nic = NicSpec(first, "02:00:00:00:01:05", "10.9.1.5")
    b_nic = NicSpec(second, "02:00:00:00:02:06", "10.9.2.6")
    async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-b", b_nic) as b:
        with serving(b.netns, "", 8000, 8001):
            await one.networks.set_peers(second.network_id, [two.peer(b_nic.private_ip)], second)
            await two.networks.set_peers(first.network_id, [one.peer(a_nic.private_ip)], first)
            # Each host now has a bridge for the subnet it holds no instance of.
            for host in (one, two):
                links = subprocess.run(
                    ["ip", "-n", host.networks.netns(vpc), "-o", "link"],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                assert " br1:" in links and " vxlan1" in links
            assert a.connect(b_nic.private_ip, 8000) == ""  # b's groups let nothing in
            await two.networks.set_instance_firewall("i-b", ONLY_8000_FROM_THE_VPC)
            assert a.connect(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip} port 8000"
            assert a.connect(b_nic.private_ip, 8001) == ""  # b's host decides, port by port
            # Stateful across hosts and subnets: b cannot open a connection back to a.
            with serving(a.netns, "", 8000):
                assert b.connect(a_nic.private_ip, 8000) == ""
            # b's subnet gone from host two's peer sets: host one takes its bridge away.
            await one.networks.set_peers(second.network_id, [], second)
            assert a.connect(b_nic.private_ip, 8000) == ""
            links = subprocess.run(
                ["ip", "-n", one.networks.netns(vpc), "-o", "link"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            assert " br1:" not in links and " vxlan1" not in links
            assert second.network_id not in one.networks._state.networks


async def test_a_subnet_told_before_its_vpc_is_here_is_built_with_it(
    hosts: tuple[Host, Host],
) -> None:
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2)
    )
    # Another tenant's subnet told to host one with a peer, naming the same VPC id (a forged or
    # mistaken push): never a bridge in this tenant's namespace.
    forged = replace(_network("222222222222"), cidr="10.9.3.0/24", vpc_id=vpc)
    a_nic = NicSpec(first, "02:00:00:00:01:05", "10.9.1.5")
    b_nic = NicSpec(second, "02:00:00:00:02:06", "10.9.2.6")
    await one.networks.set_peers(second.network_id, [two.peer(b_nic.private_ip)], second)
    await one.networks.set_peers(forged.network_id, [two.peer("10.9.3.7")], forged)
    assert not one.networks._state.networks  # nothing of the VPC here yet
    async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-b", b_nic) as b:
        await two.networks.set_peers(first.network_id, [one.peer(a_nic.private_ip)], first)
        await two.networks.set_instance_firewall("i-b", ONLY_8000_FROM_THE_VPC)
        assert forged.network_id not in one.networks._state.networks
        with serving(b.netns, "", 8000):
            assert a.connect(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip} port 8000"
        # Its last instance released, host one drops the VPC whole, the told subnet included.
        await one.networks.release("i-a")
        assert not one.networks._state.networks
        assert (
            one.networks.netns(vpc)
            not in subprocess.run(
                ["ip", "netns"], capture_output=True, text=True, check=True
            ).stdout
        )


ONLY_8000_FROM_THE_VPC = InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8000, "10.9.0.0/16"),))


EVERYTHING = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
DENY_8000_IN = SubnetAcl(
    ingress=(
        AclEntry(90, False, "tcp", "0.0.0.0/0", 8000, 8000),
        AclEntry(100, True, "-1", "0.0.0.0/0"),
    )
)


async def test_a_subnets_acl_judges_what_crosses_it_on_either_host_and_never_within_it(
    hosts: tuple[Host, Host],
) -> None:
    """a (subnet 1) on host one; b (subnet 2) and c (subnet 1) on host two. A packet between
    the subnets is forwarded by both routers, each holding the VPC's ACLs (the compute service
    tells every host of the VPC): judged twice, the same way; between a and c, never."""
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2)
    )
    second = replace(second, acl=DENY_8000_IN)  # its ACL when the hosts first hear of it
    a_nic = NicSpec(first, "02:00:00:00:01:05", "10.9.1.5")
    c_nic = NicSpec(first, "02:00:00:00:01:07", "10.9.1.7")
    b_nic = NicSpec(second, "02:00:00:00:02:06", "10.9.2.6")
    async with (
        guest(one.networks, "i-a", a_nic) as a,
        guest(two.networks, "i-b", b_nic) as b,
        guest(two.networks, "i-c", c_nic) as c,
    ):
        await one.networks.set_peers(second.network_id, [two.peer(b_nic.private_ip)], second)
        await one.networks.set_peers(first.network_id, [two.peer(c_nic.private_ip)], first)
        await two.networks.set_peers(first.network_id, [one.peer(a_nic.private_ip)], first)
        await one.networks.set_instance_firewall("i-a", EVERYTHING)
        for instance_id in ("i-b", "i-c"):
            await two.networks.set_instance_firewall(instance_id, EVERYTHING)
        # Host one holds subnet 2 only as the way to b (a stub), with its ACL all the same.
        assert one.networks._state.networks[second.network_id].stub
        assert one.networks._state.acls[second.network_id] == DENY_8000_IN
        with serving(b.netns, "", 8000, 8001):
            assert a.connect(b_nic.private_ip, 8000) == ""
            # Allowed on both hosts, the request and its reply cross both routers.
            assert a.connect(b_nic.private_ip, 8001) == f"peer {a_nic.private_ip} port 8001"
            # Either router's ACL drops: host two no longer denies, host one still does.
            await two.networks.set_acl(second.network_id, SubnetAcl())
            assert a.connect(b_nic.private_ip, 8000) == ""
            await one.networks.set_acl(second.network_id, SubnetAcl())
            assert a.connect(b_nic.private_ip, 8000) == f"peer {a_nic.private_ip} port 8000"
        for host in (one, two):
            await host.networks.set_acl(first.network_id, DENY_8000_IN)
        with serving(a.netns, "", 8000):
            # Within subnet 1, across hosts: not judged. From subnet 2: judged.
            assert c.connect(a_nic.private_ip, 8000) == f"peer {c_nic.private_ip} port 8000"
            assert b.connect(a_nic.private_ip, 8000) == ""


# -- NAT gateways across hosts (decision 0129) --------------------------------------------


async def test_a_nat_gateway_translates_on_its_egress_host_for_the_other_hosts_instances(
    hosts: tuple[Host, Host],
) -> None:
    """a (subnet 1, no public address) on host one; b (subnet 2) on host two, the gateway's
    egress host, which holds subnet 1 only as the way to a. a's packets to the Internet go
    over subnet 1's overlay to host two's router, leave from the gateway's address, and the
    replies come back the same way; a's own host never routes the address."""
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2)
    )
    a_nic = NicSpec(first, "02:00:00:00:01:05", "10.9.1.5", public_address=False)
    b_nic = NicSpec(second, "02:00:00:00:02:06", "10.9.2.6", public_address=False)
    address = f"198.18.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"
    sources = (NatSource(first.network_id, first.cidr), NatSource(second.network_id, second.cidr))
    translated = NatRoute("nat-0a", address, sources, ("0.0.0.0/0",))
    forwarded = replace(
        translated, via_address=two.layout.underlay_address, via_port=two.layout.vxlan_port
    )
    with outside_addresses() as (outside,):
        async with guest(one.networks, "i-a", a_nic) as a, guest(two.networks, "i-b", b_nic) as b:
            await one.networks.set_peers(second.network_id, [two.peer(b_nic.private_ip)], second)
            await two.networks.set_peers(first.network_id, [one.peer(a_nic.private_ip)], first)
            with serving(None, outside, 8443):
                assert a.connect(outside, 8443) == ""  # no route to a NAT gateway yet
                await two.networks.set_nat_routes(vpc, [translated])
                await one.networks.set_nat_routes(vpc, [forwarded])
                assert a.connect(outside, 8443, timeout=20) == f"peer {address} port 8443"
                assert b.connect(outside, 8443, timeout=20) == f"peer {address} port 8443"
                # Only the egress host routes the address; host one sends to its router.
                assert one.networks._translated(vpc) == [] and two.networks._translated(vpc)
                # Within the VPC nothing changes: a still reaches b directly, not translated.
                await two.networks.set_instance_firewall("i-b", EVERYTHING)
                with serving(b.netns, "", 8000):
                    assert (
                        a.connect(b_nic.private_ip, 8000, timeout=20)
                        == f"peer {a_nic.private_ip} port 8000"
                    )
                # Host one told the gateway is no more: a is cut off again, b is not.
                await one.networks.set_nat_routes(vpc, [])
                assert a.connect(outside, 8443) == ""
                assert b.connect(outside, 8443, timeout=20) == f"peer {address} port 8443"
                rules = subprocess.run(
                    ["ip", "-n", one.networks.netns(vpc), "rule", "show"],
                    capture_output=True, text=True, check=True,
                ).stdout  # fmt: skip
                assert "lookup 10" not in rules


async def test_a_route_to_an_appliance_on_the_other_host_carries_traffic_through_it(
    hosts: tuple[Host, Host],
) -> None:
    """Decision 0161's addendum across hosts: a client of one subnet on host one, an appliance
    (its check off) of another on host two with a network behind it; the route to the
    appliance's interface told to both hosts takes the client's traffic over the overlay to the
    appliance, under its groups, and back."""
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2)
    )
    client_nic = NicSpec(first, "02:00:00:00:01:07", "10.9.1.7", public_address=False)
    appliance_nic = NicSpec(
        second, "02:00:00:00:02:05", "10.9.2.5", public_address=False, source_dest_check=False
    )
    route = InterfaceRoute(
        first.network_id, first.cidr, ("192.168.77.0/24",), "eni-0000000000000b161",
        appliance_nic.private_ip, second.network_id,
    )  # fmt: skip
    open_in = InstanceFirewall(
        ingress=(FirewallRule("tcp", 8000, 8000, "10.9.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    async with (
        guest(one.networks, "i-client", client_nic) as client,
        guest(two.networks, "i-appliance", appliance_nic) as appliance,
    ):
        await two.networks.set_instance_firewall("i-appliance", open_in)
        await one.networks.set_peers(
            second.network_id, [two.peer(appliance_nic.private_ip)], second
        )
        await two.networks.set_peers(first.network_id, [one.peer(client_nic.private_ip)], first)
        with network_behind(appliance.netns) as behind, serving(behind, "", 8000):
            assert client.connect("192.168.77.2", 8000) == ""
            for host in (one, two):
                await host.networks.set_interface_routes(vpc, (route,))
            assert client.connect("192.168.77.2", 8000, timeout=5) == (
                f"peer {client_nic.private_ip} port 8000"
            )
            # The appliance's groups, on its own host, judge what is routed to it.
            await two.networks.set_instance_firewall("i-appliance", InstanceFirewall())
            assert client.connect("192.168.77.2", 8000) == ""


async def test_a_route_more_specific_than_local_passes_the_appliance_on_the_other_host(
    hosts: tuple[Host, Host],
) -> None:
    """Decision 0179 across hosts, asymmetric: a client (subnet 1) and a server (subnet 3) on
    host one, an appliance (subnet 2, its check off, forwarding) on host two. The client's
    table routes the server's subnet to the appliance, the server's does not: the
    connection goes through host two and back, its replies straight to the client, so host
    two sees one direction only — its connection tracking must not drop the handshake's
    ACK as invalid. The appliance's groups judge it there."""
    one, two = hosts
    vpc = "vpc-" + secrets.token_hex(4)
    first, second, third = (
        replace(_network("111111111111"), cidr=f"10.9.{n}.0/24", vpc_id=vpc, vpc_cidr="10.9.0.0/16")
        for n in (1, 2, 3)
    )
    client_nic = NicSpec(first, "02:00:00:00:01:17", "10.9.1.7", public_address=False)
    server_nic = NicSpec(third, "02:00:00:00:03:17", "10.9.3.7", public_address=False)
    appliance_nic = NicSpec(
        second, "02:00:00:00:02:15", "10.9.2.5", public_address=False, source_dest_check=False
    )
    route = InterfaceRoute(
        first.network_id, first.cidr, (third.cidr,), "eni-0000000000000c179",
        appliance_nic.private_ip, second.network_id,
    )  # fmt: skip
    inspecting = InstanceFirewall(
        ingress=(FirewallRule("-1", 0, 0, "10.9.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    async with (
        guest(one.networks, "i-client", client_nic) as client,
        guest(one.networks, "i-server", server_nic) as server,
        guest(two.networks, "i-appliance", appliance_nic) as appliance,
    ):
        await one.networks.set_instance_firewall("i-server", ONLY_8000_FROM_THE_VPC)
        await two.networks.set_instance_firewall("i-appliance", inspecting)
        await one.networks.set_peers(
            second.network_id, [two.peer(appliance_nic.private_ip)], second
        )
        await two.networks.set_peers(first.network_id, [one.peer(client_nic.private_ip)], first)
        await two.networks.set_peers(third.network_id, [one.peer(server_nic.private_ip)], third)
        for sysctl in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0"):
            subprocess.run(
                ["ip", "netns", "exec", appliance.netns, "sysctl", "-qw", sysctl], check=True
            )
        with serving(server.netns, "", 8000):
            answer = f"peer {client_nic.private_ip} port 8000"
            assert client.connect(server_nic.private_ip, 8000) == answer
            for host in (one, two):
                await host.networks.set_interface_routes(vpc, (route,))
            # Through the appliance: with its groups closed, nothing passes.
            await two.networks.set_instance_firewall("i-appliance", InstanceFirewall())
            assert client.connect(server_nic.private_ip, 8000) == ""
            await two.networks.set_instance_firewall("i-appliance", inspecting)
            assert client.connect(server_nic.private_ip, 8000, timeout=5) == answer
            # With the appliance forwarding nothing, nothing passes either: the route holds.
            subprocess.run(
                ["ip", "netns", "exec", appliance.netns, "sysctl", "-qw",
                 "net.ipv4.ip_forward=0"], check=True,
            )  # fmt: skip
            assert client.connect(server_nic.private_ip, 8000) == ""
            # Taken back on both hosts: direct again.
            for host in (one, two):
                await host.networks.set_interface_routes(vpc, ())
            assert client.connect(server_nic.private_ip, 8000, timeout=5) == answer
