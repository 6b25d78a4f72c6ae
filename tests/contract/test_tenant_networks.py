"""Tenant networks on the real kernel: namespaces, isolated bridge ports, DHCP, NAT, metadata
DNAT and security groups (andromede.hypervisor.tenant_network).

A "guest" here is a network namespace of its own whose ``eth0`` is one end of a veth pair, the
other end an isolated port of the tenant's bridge with the instance's MAC and address — exactly
what a QEMU tap gives a VM, minus the VM (the QEMU tests boot real guests). Needs root and the
``ip``, ``nft``, ``dnsmasq`` and ``busybox`` commands.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
)
from andromede.hypervisor.elastic_ips import render_uplink_guard
from andromede.hypervisor.errors import AddressRefused
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import (
    NetworkCommandError,
    NetworkLayout,
    TenantNetworks,
    render_metadata_guard,
)
from support.tenant_networks import (
    Guest,
    guest,
    host_connect,
    host_reach,
    host_routes,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("t")


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    return NicSpec(network=network, mac=f"02:00:00:00:{host // 256:02x}:{host % 256:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


def _network(tenant: str) -> NetworkSpec:
    # Every tenant uses the same private range: isolation must not depend on distinct addresses.
    return NetworkSpec(
        network_id="vpc-" + secrets.token_hex(4), tenant_id=tenant, cidr="10.0.0.0/24"
    )


SSH_FROM_ANYWHERE = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))


async def test_the_same_tenants_instances_reach_each_other_as_their_groups_allow(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        with serving(b.netns, "", 8080):
            # Default: no ingress rule, nothing reaches b.
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_firewall(
                network.network_id,
                {
                    b_nic.private_ip: InstanceFirewall(
                        ingress=(FirewallRule("tcp", 8000, 8100, "10.0.0.0/24"),)
                    )
                },
            )
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # a's egress rules bind too: only port 443 allowed out → 8080 refused.
            await networks.set_firewall(
                network.network_id,
                {
                    b_nic.private_ip: InstanceFirewall(
                        ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),)
                    ),
                    a_nic.private_ip: InstanceFirewall(
                        egress=(FirewallRule("tcp", 443, 443, "0.0.0.0/0"),)
                    ),
                },
            )
            assert a.connect(b_nic.private_ip, 8080) == ""


async def test_two_tenants_instances_cannot_reach_each_other(networks: TenantNetworks) -> None:
    first, second = _network("111111111111"), _network("222222222222")
    a_nic, c_nic = _nic(first, 5), _nic(second, 7)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-c", c_nic) as c:
        everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
        await networks.set_firewall(first.network_id, {a_nic.private_ip: everything})
        await networks.set_firewall(second.network_id, {c_nic.private_ip: everything})
        with serving(a.netns, "", 22):
            plugged_a = networks.plugged("i-a")
            assert plugged_a is not None
            # Not by its private address (c's 10.0.0.5 is nobody in c's own network)…
            assert c.connect(a_nic.private_ip, 22) == ""
            # …nor by its public one, even though a lets everyone in.
            assert c.connect(plugged_a.public_ip, 22) == ""
            # While the host does reach it there: the rules are not what stops c.
            assert "peer" in host_reach(plugged_a.public_ip, 22)


async def test_the_host_reaches_an_instances_ssh_port_at_its_public_address(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 9)
    async with guest(networks, "i-ssh", nic) as g:
        with serving(g.netns, "", 22):
            plugged = networks.plugged("i-ssh")
            assert plugged is not None
            assert host_connect(plugged.public_ip, 22) == ""  # no rule yet
            await networks.set_firewall(network.network_id, {nic.private_ip: SSH_FROM_ANYWHERE})
            answer = host_reach(plugged.public_ip, 22)
            assert answer == f"peer {networks.host_transit_ip(network.network_id)}"


async def test_the_metadata_address_reaches_the_host_server_which_sees_the_instance(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 11)
    async with guest(networks, "i-md", nic) as g:
        # Even an instance whose groups allow no egress at all reaches its metadata.
        await networks.set_firewall(
            network.network_id, {nic.private_ip: InstanceFirewall(egress=())}
        )
        with serving(None, networks.host_transit_ip(network.network_id), layout.imds_port):
            plugged = networks.plugged("i-md")
            assert plugged is not None
            assert g.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
            # Any other port of the host stays closed to it.
            with serving(None, networks.host_transit_ip(network.network_id), layout.imds_port + 1):
                assert (
                    g.connect(networks.host_transit_ip(network.network_id), layout.imds_port + 1)
                    == ""
                )


async def test_another_prefixs_guard_on_the_transit_range_drops_metadata_and_is_named(
    networks: TenantNetworks, layout: NetworkLayout, caplog: pytest.LogCaptureFixture
) -> None:
    # What an agent removed without its networks leaves (its serve stopped, its host cleared).
    gone = replace(layout, link_prefix="g" + secrets.token_hex(2))
    stale = f"andromede_imds_{gone.link_prefix}"
    subprocess.run(["nft", "-f", "-"], input=render_metadata_guard(gone), text=True, check=True)
    try:
        network = _network("111111111111")
        nic = _nic(network, 11)
        with caplog.at_level(logging.WARNING, logger="andromede.hypervisor.tenant_network"):
            async with guest(networks, "i-md", nic) as g:
                host_ip = networks.host_transit_ip(network.network_id)
                with serving(None, host_ip, layout.imds_port):
                    assert g.connect("169.254.169.254", 80) == ""
                    subprocess.run(["nft", "delete", "table", "inet", stale], check=True)
                    assert g.reach("169.254.169.254", 80).startswith("peer ")
        [warning] = [r.getMessage() for r in caplog.records if stale in r.getMessage()]
        assert f"also guards {layout.transit_cidr} port {layout.imds_port}" in warning
        assert f"nft delete table inet {stale}" in warning
    finally:
        subprocess.run(["nft", "delete", "table", "inet", stale], capture_output=True)


async def test_dhcp_hands_each_instance_its_own_address(networks: TenantNetworks) -> None:
    network = _network("111111111111")
    nic = _nic(network, 42)
    async with guest(networks, "i-dhcp", nic) as g:
        g.run("ip", "addr", "flush", "dev", "eth0")
        result = g.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "5", "-s", "/bin/true")
        assert f"lease of {nic.private_ip} obtained" in result.stdout + result.stderr


async def test_unplug_and_remove_leave_nothing_behind(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    plugged = await networks.plug("i-gone", _nic(network, 5))
    assert network.network_id in networks._state.networks
    await networks.unplug("i-gone")
    await networks.unplug("i-gone")  # idempotent
    links = subprocess.run(
        ["ip", "-n", plugged.netns, "link"], capture_output=True, text=True
    ).stdout
    assert plugged.tap not in links
    assert (
        plugged.public_ip
        not in subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    )
    await networks.remove(network.network_id)
    await networks.remove(network.network_id)  # idempotent
    assert (
        plugged.netns not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
    )
    assert (
        f"{layout.link_prefix}t0"
        not in subprocess.run(["ip", "link"], capture_output=True, text=True).stdout
    )


async def test_a_new_manager_on_the_same_state_rebuilds_lost_networks(
    networks: TenantNetworks, tmp_path: Path, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    nic = _nic(network, 5)
    await networks.plug("i-back", nic)
    await networks.set_firewall(network.network_id, {nic.private_ip: SSH_FROM_ANYWHERE})
    # A host reboot loses namespaces and links; the agent restarts with its state file.
    subprocess.run(["ip", "netns", "del", networks.netns(network.network_id)], check=True)
    again = TenantNetworks(tmp_path / "net", layout)
    await again.restore()
    async with guest(again, "i-back", nic) as g:
        with serving(g.netns, "", 22):
            plugged = again.plugged("i-back")
            assert plugged is not None
            assert "peer" in host_reach(plugged.public_ip, 22)


def test_the_rendered_ruleset_is_valid_nft(tmp_path: Path) -> None:
    ruleset = render_firewall(
        {
            "10.0.0.5": InstanceFirewall(
                ingress=(
                    FirewallRule("tcp", 22, 22, "0.0.0.0/0"),
                    FirewallRule("udp", 1000, 2000, "10.0.0.0/24"),
                    FirewallRule("icmp", -1, -1, "192.168.0.0/16"),
                ),
                egress=(),
            ),
            "10.0.0.6": InstanceFirewall(),
        },
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.0.5": "100.65.0.1", "10.0.0.6": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        # Anti-spoofing, and a NIC whose source/destination check is off (decision 0161).
        sources={"02:00:00:00:00:05": ("10.0.0.5", "10.0.0.9"), "02:00:00:00:00:06": ("10.0.0.6",)},
        unchecked={"02:00:00:00:00:06"},
    )
    assert "ether saddr 02:00:00:00:00:05 ip saddr != { 10.0.0.5, 10.0.0.9 } drop" in ruleset
    assert "ether saddr 02:00:00:00:00:06 ip saddr != { 10.0.0.6 } jump egress_1" in ruleset
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


def test_bad_rules_and_layouts_are_refused() -> None:
    with pytest.raises(ValueError):
        FirewallRule("tcp", 22, 22, "10.0.0.0/33")
    with pytest.raises(ValueError):
        FirewallRule("sctp", 1, 1, "0.0.0.0/0")
    with pytest.raises(ValueError):
        FirewallRule("tcp", 30, 20, "0.0.0.0/0")
    with pytest.raises(ValueError):
        NetworkLayout(transit_cidr="100.64.0.0/16", public_cidr="100.64.1.0/24")
    with pytest.raises(ValueError):
        NetworkLayout(link_prefix="much-too-long")


@dataclass
class RecordingWatcher:
    events: list[str]

    async def network_up(self, host_ip: str) -> None:
        self.events.append(f"up {host_ip}")

    async def network_down(self, host_ip: str) -> None:
        self.events.append(f"down {host_ip}")


async def test_one_instances_rules_change_alone_and_the_last_release_removes_the_network(
    networks: TenantNetworks,
) -> None:
    watcher = RecordingWatcher([])
    networks.watch(watcher)
    network = _network("111111111111")
    a_nic, b_nic = _nic(network, 5), _nic(network, 6)
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        host_ip = networks.host_transit_ip(network.network_id)
        assert networks.host_transit_ips() == [host_ip]
        assert watcher.events and set(watcher.events) == {f"up {host_ip}"}
        open_to_all = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
        assert await networks.set_instance_firewall("i-b", open_to_all)
        assert await networks.set_instance_firewall("i-a", open_to_all)
        with serving(b.netns, "", 8080), serving(a.netns, "", 8080):
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # Closing a does not touch b's rules.
            assert await networks.set_instance_firewall("i-a", InstanceFirewall())
            assert b.connect(a_nic.private_ip, 8080) == ""
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
        assert not await networks.set_instance_firewall("i-nobody", open_to_all)
        plugged = networks.plugged("i-a")
        assert plugged is not None
        await networks.release("i-a")
        assert (
            plugged.netns in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
        )
        await networks.release("i-b")
        await networks.release("i-b")  # idempotent
        assert watcher.events[-1] == f"down {host_ip}"
        assert networks.host_transit_ips() == []
        assert (
            plugged.netns
            not in subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout
        )


def _dhcp_servers(networks: TenantNetworks, network_id: str) -> list[int]:
    """The dnsmasq processes serving a network (its pid file is in their command line)."""
    pidfile = os.fsencode(networks._dhcp_pidfile(network_id))
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if pidfile in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _namespace_of_this_thread() -> str:
    return os.readlink("/proc/thread-self/ns/net")


async def test_a_plug_opens_the_tap_and_sets_the_sysctls_inside_the_namespace_only(
    networks: TenantNetworks,
) -> None:
    host_forwarding = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    ours = _namespace_of_this_thread()
    network = _network("111111111111")
    plugged = await networks.plug("i-tap", _nic(network, 5))
    inside = subprocess.run(
        ["ip", "netns", "exec", plugged.netns, "sysctl", "-n", "net.ipv4.ip_forward",
         "net.ipv4.conf.br0.proxy_arp", "net.ipv4.conf.br0.proxy_arp_pvlan"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert inside == ["1", "1", "1"]
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == host_forwarding
    tap = await networks.open_tap(plugged)
    try:
        # The descriptor is attached to the instance's tap, which lives in the namespace.
        assert f"iff:\t{plugged.tap}" in Path(f"/proc/self/fdinfo/{tap}").read_text()
    finally:
        os.close(tap)
    assert _namespace_of_this_thread() == ours
    ghost = replace(plugged, tap="tapnothere0")
    with pytest.raises(NetworkCommandError, match="tapnothere0"):
        await networks.open_tap(ghost)


async def test_one_dhcp_server_per_network_and_none_after_its_last_release(
    networks: TenantNetworks,
) -> None:
    network = _network("111111111111")
    await networks.plug("i-one", _nic(network, 5))
    first = _dhcp_servers(networks, network.network_id)
    assert len(first) == 1
    await networks.plug("i-two", _nic(network, 6))  # restarted with the new lease
    second = _dhcp_servers(networks, network.network_id)
    assert len(second) == 1 and second != first
    await networks.release("i-one")
    assert len(_dhcp_servers(networks, network.network_id)) == 1
    await networks.release("i-two")
    assert _dhcp_servers(networks, network.network_id) == []


# -- VPC routing (decision 0106) -------------------------------------------------------------


def _subnet(vpc_id: str, tenant: str, third: int, vpc_cidr: str = "10.9.0.0/16") -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id=tenant,
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr=vpc_cidr,
    )


def _links_of(netns: str) -> str:
    return subprocess.run(
        ["ip", "-n", netns, "-o", "link"], capture_output=True, text=True, check=False
    ).stdout


async def test_subnets_of_one_vpc_reach_each_other_and_nobody_else(
    networks: TenantNetworks,
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    first, second = _subnet(vpc, "111111111111", 1), _subnet(vpc, "111111111111", 2)
    # The same tenant's other VPC, on the very same block, and another tenant's, likewise.
    other_vpc = _subnet("vpc-" + secrets.token_hex(4), "111111111111", 2)
    theirs = _subnet("vpc-" + secrets.token_hex(4), "222222222222", 2)
    a_nic, b_nic = _nic(first, 5), _nic(second, 6)
    c_nic, d_nic = _nic(other_vpc, 7), _nic(theirs, 8)
    everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
    async with (
        guest(networks, "i-a", a_nic) as a,
        guest(networks, "i-b", b_nic) as b,
        guest(networks, "i-c", c_nic) as c,
        guest(networks, "i-d", d_nic) as d,
    ):
        # One namespace for the VPC, a bridge per subnet; the other VPCs have their own.
        plugged = {i: networks.plugged(i) for i in ("i-a", "i-b", "i-c", "i-d")}
        assert plugged["i-a"] is not None and plugged["i-b"] is not None
        assert plugged["i-a"].netns == plugged["i-b"].netns == networks.netns(vpc)
        assert len({p.netns for p in plugged.values() if p is not None}) == 3
        links = _links_of(networks.netns(vpc))
        assert " br0:" in links and " br1:" in links
        with serving(b.netns, "", 8080), serving(a.netns, "", 8080):
            # b's groups let nothing in yet: the VPC routes, the security groups decide.
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_instance_firewall(
                "i-b",
                InstanceFirewall(ingress=(FirewallRule("tcp", 8000, 8100, "10.9.1.0/24"),)),
            )
            # Routed, not NATed: b sees a's own address.
            assert a.reach(b_nic.private_ip, 8080) == f"peer {a_nic.private_ip}"
            # Stateful: the reply came back, but b cannot open a connection to a.
            assert b.connect(a_nic.private_ip, 8080) == ""
            # a's egress binds across subnets too.
            await networks.set_instance_firewall(
                "i-a", InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, "0.0.0.0/0"),))
            )
            assert a.connect(b_nic.private_ip, 8080) == ""
            await networks.set_instance_firewall("i-a", InstanceFirewall())
            # Everyone else is open to all, and still never hears from a, nor a from them.
            for other, nic in ((c, c_nic), (d, d_nic)):
                owner = "i-c" if other is c else "i-d"
                assert await networks.set_instance_firewall(owner, everything)
                with serving(other.netns, "", 9000):
                    assert a.connect(nic.private_ip, 9000) == ""
                    assert other.connect(a_nic.private_ip, 8080) == ""
                    # b's address in their own VPC's block is nobody there.
                    assert other.connect(b_nic.private_ip, 8080) == ""
        # An address of the VPC's block that no subnet routes never leaves for the host.
        routes = subprocess.run(
            ["ip", "-n", networks.netns(vpc), "route"], capture_output=True, text=True, check=True
        ).stdout
        assert "unreachable 10.9.0.0/16" in routes
        # The last instance of a subnet takes its bridge and DHCP away, not the VPC's.
        await networks.release("i-b")
        assert " br1:" not in _links_of(networks.netns(vpc))
        assert _dhcp_servers(networks, second.network_id) == []
        assert _dhcp_servers(networks, first.network_id) != []
        # Nor does the host keep a route to its public address into the VPC that stays.
        assert host_routes(plugged["i-b"].public_ip) == ""
        assert host_routes(plugged["i-a"].public_ip) != ""
        with serving(a.netns, "", 8080):
            await networks.set_instance_firewall("i-a", everything)
            assert host_reach(plugged["i-a"].public_ip, 8080).startswith("peer ")
        await networks.release("i-a")
        assert (
            networks.netns(vpc)
            not in subprocess.run(
                ["ip", "netns"], capture_output=True, text=True, check=True
            ).stdout
        )


async def test_an_instance_without_a_public_address_reaches_only_its_metadata_through_the_host(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, "111111111111", 1)
    mapped_nic = _nic(subnet, 5)
    unmapped_nic = replace(_nic(subnet, 6), public_address=False)
    everything = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))
    # An address of the host's own that is neither transit nor public: the LAN, the Internet.
    with _outside() as outside:
        async with (
            guest(networks, "i-pub", mapped_nic) as pub,
            guest(networks, "i-priv", unmapped_nic) as priv,
        ):
            mapped, unmapped = networks.plugged("i-pub"), networks.plugged("i-priv")
            assert mapped is not None and unmapped is not None
            assert mapped.mapped and not unmapped.mapped
            await networks.set_firewall(
                subnet.network_id,
                {mapped_nic.private_ip: everything, unmapped_nic.private_ip: everything},
            )
            with serving(pub.netns, "", 22), serving(priv.netns, "", 22):
                # The host reaches the one with a public address, never the other.
                assert host_reach(mapped.public_ip, 22).startswith("peer ")
                assert host_connect(unmapped.public_ip, 22) == ""
                # Its subnet's neighbours still reach it.
                assert pub.reach(unmapped_nic.private_ip, 22) == f"peer {mapped_nic.private_ip}"
            with serving(None, outside, 8443):
                assert pub.reach(outside, 8443) == f"peer {mapped.public_ip}"
                assert priv.connect(outside, 8443) == ""
            # The metadata service still hears it, by its host-facing address.
            with serving(None, networks.host_transit_ip(subnet.network_id), layout.imds_port):
                assert priv.reach("169.254.169.254", 80) == f"peer {unmapped.public_ip}"
            # Started again with a public address (a NIC asking for one): the host reaches it.
            await networks.plug("i-priv", replace(unmapped_nic, public_address=True))
            with serving(priv.netns, "", 22):
                assert host_reach(unmapped.public_ip, 22).startswith("peer ")


# -- Elastic IPs ------------------------------------------------------------------------------


def _elastic_ip() -> str:
    """An address of no range of the host's (198.18.0.0/15, set aside for benchmarks)."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


@contextmanager
def _outside() -> Iterator[str]:
    """An address of the host's own that is neither transit nor public: the LAN, the Internet."""
    with outside_addresses() as (address,):
        yield address


EVERYTHING = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))


async def test_an_elastic_ip_reaches_the_instance_as_its_groups_allow_and_is_its_source_out(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    elastic = _elastic_ip()
    nic = replace(_nic(network, 5), elastic_ip=elastic)
    with _outside() as outside:
        async with guest(networks, "i-eip", nic) as g:
            await networks.set_instance_firewall("i-eip", SSH_FROM_ANYWHERE)
            plugged = networks.plugged("i-eip")
            assert plugged is not None and plugged.elastic_ip == elastic
            host_ip = networks.host_transit_ip(network.network_id)
            assert f"dev {layout.link_prefix}t" in host_routes(elastic)
            with serving(g.netns, "", 22), serving(g.netns, "", 8080):
                # Its security groups decide, as for its public address: 22 open, 8080 not.
                assert host_reach(elastic, 22) == f"peer {host_ip}"
                assert host_connect(elastic, 8080) == ""
                # Its public address still reaches it.
                assert host_reach(plugged.public_ip, 22) == f"peer {host_ip}"
            # What it sends out through the host leaves from its Elastic IP…
            with serving(None, outside, 8443):
                assert g.reach(outside, 8443) == f"peer {elastic}"
            # …but its metadata requests from its host-facing address, which the service knows.
            with serving(None, host_ip, layout.imds_port):
                assert g.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
            # Setting what it has changes nothing.
            assert await networks.set_elastic_ip("i-eip", elastic)
            assert host_routes(elastic) != ""
        await networks.release("i-eip")
        assert host_routes(elastic) == ""


async def test_an_unmapped_instance_with_an_elastic_ip_is_reached_and_reaches_out_until_it_goes(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, "111111111111", 1)
    nic = replace(_nic(subnet, 6), public_address=False)
    elastic = _elastic_ip()
    with _outside() as outside:
        async with guest(networks, "i-priv", nic) as priv:
            await networks.set_instance_firewall("i-priv", EVERYTHING)
            unmapped = networks.plugged("i-priv")
            assert unmapped is not None
            with serving(priv.netns, "", 22), serving(None, outside, 8443):
                assert host_connect(elastic, 22) == ""
                assert priv.connect(outside, 8443) == ""
                assert await networks.set_elastic_ip("i-priv", elastic)
                assert host_reach(elastic, 22).startswith("peer ")
                assert priv.reach(outside, 8443) == f"peer {elastic}"
                # Its host-facing address stays host-only.
                assert host_connect(unmapped.public_ip, 22) == ""
                with serving(None, networks.host_transit_ip(subnet.network_id), layout.imds_port):
                    assert priv.reach("169.254.169.254", 80) == f"peer {unmapped.public_ip}"
                # Taken away: back to an instance without a public address.
                assert await networks.set_elastic_ip("i-priv", None)
                assert await networks.set_elastic_ip("i-priv", None)  # what it has
                assert host_routes(elastic) == ""
                assert host_connect(elastic, 22) == ""
                assert priv.connect(outside, 8443) == ""
    assert not await networks.set_elastic_ip("i-nobody", elastic)  # not plugged here


async def test_an_elastic_ip_on_a_secondary_address_reaches_it_and_leaves_from_it(
    networks: TenantNetworks,
) -> None:
    """Decision 0161's addendum: an Elastic IP translated to a NIC's secondary address — the
    guest holding it — reaches the guest there, and what the guest sends from that address
    leaves from the Elastic IP; from its primary (no public address) nothing leaves."""
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, "111111111111", 1)
    secondary = "10.9.1.19"
    elastic = _elastic_ip()
    nic = replace(
        _nic(subnet, 7), public_address=False, secondary_ips=(secondary,), elastic_ip=elastic,
        elastic_private_ip=secondary,
    )  # fmt: skip
    with _outside() as outside:
        async with guest(networks, "i-second", nic) as g:
            assert g.run("ip", "addr", "add", f"{secondary}/24", "dev", "eth0").returncode == 0
            await networks.set_instance_firewall("i-second", EVERYTHING)
            with serving(g.netns, secondary, 22), serving(None, outside, 8443):
                assert host_reach(elastic, 22).startswith("peer ")
                assert g.connect_from(secondary, outside, 8443, reach=True) == f"peer {elastic}"
                assert g.connect(outside, 8443) == ""
        await networks.release("i-second")
        assert host_routes(elastic) == ""


async def test_an_elastic_ip_moved_to_another_tenants_instance_reaches_that_one_only(
    networks: TenantNetworks,
) -> None:
    first, second = _network("111111111111"), _network("222222222222")
    a_nic, b_nic = _nic(first, 5), _nic(second, 5)
    elastic = _elastic_ip()
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        await networks.set_instance_firewall("i-a", EVERYTHING)
        await networks.set_instance_firewall("i-b", EVERYTHING)
        a_host, b_host = (networks.host_transit_ip(n.network_id) for n in (first, second))
        with serving(a.netns, "", 22), serving(b.netns, "", 22):
            assert await networks.set_elastic_ip("i-a", elastic)
            assert host_reach(elastic, 22) == f"peer {a_host}"
            # Held by a: refused to b, and a keeps it.
            with pytest.raises(AddressRefused, match="routed to i-a"):
                await networks.set_elastic_ip("i-b", elastic)
            assert host_reach(elastic, 22) == f"peer {a_host}"
            # Moved as EC2 moves it: taken from a, then given to b.
            assert await networks.set_elastic_ip("i-a", None)
            assert await networks.set_elastic_ip("i-b", elastic)
            assert host_reach(elastic, 22) == f"peer {b_host}"
            [route] = host_routes(elastic).splitlines()
            b_plugged = networks.plugged("i-b")
            assert b_plugged is not None
            assert networks.netns(second.network_id) == b_plugged.netns
            # a's namespace no longer answers for it, nor does b's ruleset forget b's own.
            a_plugged = networks.plugged("i-a")
            assert a_plugged is not None and a_plugged.elastic_ip is None
            assert elastic not in _ruleset(a_plugged.netns)
            assert elastic in _ruleset(b_plugged.netns)
            assert route.startswith(f"{elastic} via ")


def _ruleset(netns: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, "nft", "list", "ruleset"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


async def test_an_elastic_ip_survives_the_agent_and_a_reboot_and_old_state_reads_as_none(
    networks: TenantNetworks, tmp_path: Path, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    elastic = _elastic_ip()
    nic = replace(_nic(network, 5), public_address=False, elastic_ip=elastic)
    await networks.plug("i-back", nic)
    await networks.set_instance_firewall("i-back", SSH_FROM_ANYWHERE)
    # A host reboot loses namespaces, links and routes; the agent restarts with its state file.
    subprocess.run(["ip", "netns", "del", networks.netns(network.network_id)], check=True)
    subprocess.run(["ip", "route", "del", f"{elastic}/32"], check=False)
    again = TenantNetworks(tmp_path / "net", layout)
    await again.restore()
    assert host_routes(elastic) != ""
    async with guest(again, "i-back", nic) as g:
        with serving(g.netns, "", 22):
            assert host_reach(elastic, 22).startswith("peer ")
    # A state file written before Elastic IPs has no such field: none.
    state = tmp_path / "net" / "networks.json"
    document = json.loads(state.read_text())
    for item in document["nics"]:
        del item["elastic_ip"]
    state.write_text(json.dumps(document))
    older = TenantNetworks(tmp_path / "net", layout)
    plugged = older.plugged("i-back")
    assert plugged is not None and plugged.elastic_ip is None


async def test_an_elastic_ip_the_host_cannot_route_is_refused_and_changes_nothing(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    network = _network("111111111111")
    elastic = _elastic_ip()
    plugged = await networks.plug("i-one", replace(_nic(network, 5), elastic_ip=elastic))
    await networks.plug("i-two", _nic(network, 6))
    public = str(ipaddress.IPv4Network(layout.public_cidr).network_address + 200)
    transit = str(ipaddress.IPv4Network(layout.transit_cidr).network_address + 200)
    refused = {
        "not-an-address": "not an IPv4 address",
        "2001:db8::1": "not an IPv4 address",
        f"{_elastic_ip()}/32": "not an IPv4 address",
        "169.254.169.254": "unicast",
        "127.0.0.1": "unicast",
        "224.0.0.5": "unicast",
        "0.0.0.0": "unicast",  # noqa: S104 (an address refused, nothing bound)
        public: f"own range {layout.public_cidr}",
        plugged.public_ip: f"own range {layout.public_cidr}",
        transit: f"own range {layout.transit_cidr}",
        elastic: "routed to i-one",
    }
    for address, reason in refused.items():
        with pytest.raises(AddressRefused, match=reason):
            await networks.set_elastic_ip("i-two", address)
    two = networks.plugged("i-two")
    assert two is not None and two.elastic_ip is None
    # Nor is an instance plugged, nor its network built, with another's address.
    other = _network("222222222222")
    with pytest.raises(AddressRefused, match="routed to i-one"):
        await networks.plug("i-three", replace(_nic(other, 5), elastic_ip=elastic))
    assert networks.plugged("i-three") is None and other.network_id not in networks._state.networks
    # A second plug of i-one with its own address is the same plug.
    assert (await networks.plug("i-one", replace(_nic(network, 5), elastic_ip=elastic))) == plugged


def test_the_rendered_ruleset_with_elastic_ips_is_valid_nft() -> None:
    ruleset = render_firewall(
        {"10.0.0.5": InstanceFirewall(), "10.0.0.6": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.0.5": "100.65.0.1", "10.0.0.6": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        unmapped=["10.0.0.6"],
        elastic={"10.0.0.5": "198.18.0.5", "10.0.0.6": "198.18.0.6"},
    )
    guard = render_uplink_guard("eth9", "andr", ["198.18.0.5", "198.18.0.6"])
    empty_guard = render_uplink_guard("eth9", "andr", [])
    name = "chk" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for document in (ruleset, guard, empty_guard):
            result = subprocess.run(
                ["ip", "netns", "exec", name, "nft", "-c", "-f", "-"],
                input=document, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert result.returncode == 0, result.stderr
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


async def test_an_elastic_ip_is_announced_on_the_uplink_and_only_it_crosses_from_there(
    tmp_path: Path, layout: NetworkLayout
) -> None:
    """A router of the operator's segment (a namespace behind a veth, the host's end the
    uplink) reaches the Elastic IP through the host, which answers ARP for it; not the
    instance's host-only public address, though the router routes it to the host."""
    uplink, router = f"{layout.link_prefix}u", "r" + secrets.token_hex(4)
    segment = f"198.18.{secrets.randbelow(256)}"
    elastic = f"{segment}.50"
    setup = [
        ["ip", "netns", "add", router],
        ["ip", "link", "add", uplink, "type", "veth", "peer", "name", "eth0", "netns", router],
        ["ip", "addr", "add", f"{segment}.2/24", "dev", uplink],
        ["ip", "link", "set", uplink, "up"],
        ["ip", "-n", router, "link", "set", "lo", "up"],
        ["ip", "-n", router, "addr", "add", f"{segment}.1/24", "dev", "eth0"],
        ["ip", "-n", router, "link", "set", "eth0", "up"],
        ["ip", "-n", router, "route", "add", layout.public_cidr, "via", f"{segment}.2"],
    ]
    announcing = replace(layout, elastic_ip_uplink=uplink)
    networks = TenantNetworks(tmp_path / "net", announcing)
    nic = replace(_nic(_network("111111111111"), 5), elastic_ip=elastic)
    try:
        for command in setup:
            subprocess.run(command, check=True, capture_output=True)
        outside = Guest(router, nic)
        async with guest(networks, "i-up", nic) as g:
            await networks.set_instance_firewall("i-up", EVERYTHING)
            plugged = networks.plugged("i-up")
            assert plugged is not None
            assert elastic in _proxies(uplink)
            with serving(g.netns, "", 22):
                assert outside.reach(elastic, 22) == f"peer {segment}.1"
                assert outside.connect(plugged.public_ip, 22) == ""
            with serving(router, "", 9000):
                assert g.reach(f"{segment}.1", 9000) == f"peer {elastic}"
            await networks.set_elastic_ip("i-up", None)
            assert elastic not in _proxies(uplink)
            with serving(g.netns, "", 22):
                assert outside.connect(elastic, 22) == ""
        await networks.release("i-up")
        guard = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert f"andromede_eip_{layout.link_prefix}" not in guard
    finally:
        for network_id in list(networks._state.networks):
            await networks.remove(network_id)
        subprocess.run(["ip", "link", "del", uplink], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", router], capture_output=True, check=False)


def _proxies(link: str) -> str:
    return subprocess.run(
        ["ip", "neigh", "show", "proxy", "dev", link], capture_output=True, text=True, check=True
    ).stdout
