"""The overlay's pure parts on the host side: router MACs, the bridge rules on the VXLAN port,
the metadata guard, the layout's checks, and the port call through the agent's wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    NetworkPeer,
    NetworkSpec,
)
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import (
    NetworkLayout,
    OverlayPort,
    foreign_metadata_guards,
    render_metadata_guard,
    render_overlay_filter,
    router_mac,
)
from andromede.hypervisor.wire import CALLS, decode, encode


def test_a_router_mac_is_the_same_wherever_it_is_computed_and_differs_per_host() -> None:
    mac = router_mac("subnet-1", "192.0.2.1", 4789)
    assert mac == router_mac("subnet-1", "192.0.2.1", 4789)
    assert mac != router_mac("subnet-1", "192.0.2.2", 4789)
    assert mac != router_mac("subnet-2", "192.0.2.1", 4789)
    first = int(mac.split(":")[0], 16)
    assert first & 0b10 and not first & 0b1  # locally administered, unicast
    assert len(mac.split(":")) == 6


def test_only_routed_ipv4_between_routers_crosses_the_vxlan_port() -> None:
    rules = render_overlay_filter(
        [OverlayPort("vxlan0", "02:00:00:00:00:01", ["02:00:00:00:00:03", "02:00:00:00:00:02"])]
    )
    assert 'iifname "vxlan0" ether daddr != 02:00:00:00:00:01 drop' in rules
    assert 'oifname "vxlan0" ether daddr != { 02:00:00:00:00:02, 02:00:00:00:00:03 } drop' in rules
    assert 'oifname "vxlan0" ether saddr != 02:00:00:00:00:01 drop' in rules
    for hook in ("iifname", "oifname"):
        assert f'{hook} "vxlan0" ether type != ip drop' in rules  # ARP stays on each host
        assert f'{hook} "vxlan0" ip daddr 169.254.169.254 drop' in rules
        assert f'{hook} "vxlan0" udp dport {{ 67, 68 }} drop' in rules  # DHCP too
    # Nothing is bridged between the VXLAN port and a tap: it is routed, through the rules.
    forward = rules.split("chain forward {")[1].split("}")[0]
    assert 'iifname "vxlan0" drop' in forward and 'oifname "vxlan0" drop' in forward
    # Replaced atomically, as the security groups are.
    assert rules.startswith("table bridge andromede_overlay\ndelete table bridge")


def test_with_no_peer_nothing_leaves_by_the_vxlan_port() -> None:
    rules = render_overlay_filter([OverlayPort("vxlan0", "02:00:00:00:00:01")])
    output = rules.split("chain output {")[1].split("}")[0]
    assert '    oifname "vxlan0" drop' in output.splitlines()


def test_each_subnet_of_a_vpc_has_its_own_port_router_and_peers() -> None:
    rules = render_overlay_filter(
        [
            OverlayPort("vxlan1", "02:00:00:00:01:01", ["02:00:00:00:01:02"]),
            OverlayPort("vxlan0", "02:00:00:00:00:01", ["02:00:00:00:00:02"]),
        ]
    )
    for port, router, peer in (("vxlan0", "00", "00"), ("vxlan1", "01", "01")):
        assert f'iifname "{port}" ether daddr != 02:00:00:00:{router}:01 drop' in rules
        assert f'oifname "{port}" ether saddr != 02:00:00:00:{router}:01 drop' in rules
        assert f'oifname "{port}" ether daddr != {{ 02:00:00:00:{peer}:02 }} drop' in rules
    forward = rules.split("chain forward {")[1].split("}")[0]
    for port in ("vxlan0", "vxlan1"):
        assert f'iifname "{port}" drop' in forward and f'oifname "{port}" drop' in forward


def test_a_vpc_router_filters_every_subnet_bridge_and_keeps_unmapped_instances_in() -> None:
    firewall = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    rules = render_firewall(
        {"10.9.1.4": firewall, "10.9.2.4": firewall},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={"10.9.1.4": "100.65.0.1", "10.9.2.4": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        bridges=["br1", "br0"],
        unmapped=["10.9.2.4"],
    )
    assert 'iifname { "br0", "br1" } ip daddr 169.254.169.254 tcp dport 80' in rules
    assert 'iifname { "br0", "br1" } ip daddr { 100.64.0.0/24, 100.65.0.0/24 } drop' in rules
    assert 'iifname { "br0", "br1" } udp dport 67 accept' in rules
    # The mapped instance is reached from the host; the unmapped one is not, and reaches
    # nothing through it but the metadata service (accepted before, by its original address).
    assert 'iifname "transit" ip daddr 100.65.0.1 dnat to 10.9.1.4' in rules
    assert "dnat to 10.9.2.4" not in rules
    assert 'oifname "transit" ip saddr 10.9.2.4 snat to 100.65.0.2' in rules
    forward = rules.split("chain forward {")[1].split("\n  }")[0].splitlines()
    drop = forward.index('    oifname "transit" ip saddr { 10.9.2.4 } drop')
    metadata = next(n for n, text in enumerate(forward) if "169.254.169.254 accept" in text)
    assert metadata < drop < forward.index('    oifname "transit" accept')


def test_remote_instances_are_reached_from_local_ones_only() -> None:
    firewall = InstanceFirewall(ingress=(FirewallRule("tcp", 22, 22, "0.0.0.0/0"),))
    rules = render_firewall(
        {"10.0.0.5": firewall},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={"10.0.0.5": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        remote=["10.0.0.9", "10.0.0.6"],
    )
    line = 'oifname "br0" ip saddr { 10.0.0.5 } ip daddr { 10.0.0.6, 10.0.0.9 } accept'
    assert line in rules
    forward = rules.split("chain forward {")[1].split("\n  }")[0].splitlines()
    # After the sender's egress chain, never before it.
    egress = next(n for n, text in enumerate(forward) if "jump egress_0" in text)
    assert forward.index(f"    {line}") > egress
    no_overlay = render_firewall(
        {"10.0.0.5": firewall},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
    )
    assert "ip daddr { 10.0.0" not in no_overlay


def test_the_metadata_guard_lets_in_only_the_transit_links_and_the_host() -> None:
    layout = NetworkLayout(transit_cidr="100.64.0.0/16", imds_port=16925, link_prefix="andr")
    rules = render_metadata_guard(layout)
    assert "table inet andromede_imds_andr {" in rules
    assert 'ip daddr 100.64.0.0/16 tcp dport 16925 iifname "lo" return' in rules
    assert 'ip daddr 100.64.0.0/16 tcp dport 16925 iifname != "andrt*" drop' in rules
    assert rules.index('iifname "lo" return') < rules.index('!= "andrt*" drop')


def _guard_table(prefix: str, cidr: str, port: int) -> str:
    """A metadata guard as ``nft list ruleset`` prints it."""
    return (
        f"table inet andromede_imds_{prefix} {{\n\tchain input {{\n"
        "\t\ttype filter hook input priority filter; policy accept;\n"
        f'\t\tip daddr {cidr} tcp dport {port} iifname "lo" return\n'
        f'\t\tip daddr {cidr} tcp dport {port} iifname != "{prefix}t*" drop\n'
        "\t}\n}\n"
    )


def test_another_prefixs_guard_on_an_overlapping_range_at_the_same_port_is_found() -> None:
    layout = NetworkLayout(transit_cidr="100.64.79.0/24", imds_port=16925, link_prefix="q2b3c")
    ruleset = "".join(
        [
            "table ip andromede_nat {\n\tchain prerouting {\n\t}\n}\n",
            _guard_table("q2b3c", "100.64.79.0/24", 16925),  # its own
            _guard_table("q1688", "100.64.79.0/24", 16925),  # a stale one: the same range
            _guard_table("wide", "100.64.0.0/16", 16925),  # a wider range holding it
            _guard_table("port", "100.64.79.0/24", 16926),  # another port: harmless
            _guard_table("apart", "100.64.80.0/24", 16925),  # another range: harmless
        ]
    )
    assert foreign_metadata_guards(ruleset, layout) == [
        "andromede_imds_q1688",
        "andromede_imds_wide",
    ]
    assert foreign_metadata_guards(_guard_table("q2b3c", "100.64.79.0/24", 16925), layout) == []
    assert foreign_metadata_guards("", layout) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"underlay_address": "not-an-address"},
        {"underlay_address": "2001:db8::1"},
        {"vxlan_port": 0},
        {"vxlan_port": 70000},
        {"underlay_mtu": 600},
    ],
)
def test_bad_overlay_layouts_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        NetworkLayout(**changes)  # type: ignore[arg-type]


def test_the_overlay_mtu_leaves_room_for_the_encapsulation() -> None:
    assert NetworkLayout().overlay_mtu == 1450
    assert NetworkLayout(underlay_mtu=9000).overlay_mtu == 8950


def test_peers_survive_the_wire() -> None:
    peers = (NetworkPeer("192.0.2.2", 4789, ("172.31.0.5", "172.31.0.6")),)
    call = CALLS["set_network_peers"]
    decoded = [decode(kind, encode(value)) for (_, kind), value in zip(
        call.parameters, ("subnet-1", peers), strict=True
    )]  # fmt: skip
    assert decoded == ["subnet-1", peers]


async def test_a_remote_driver_tells_the_agents_host_its_peers(tmp_path: Path) -> None:
    driver = MemoryDriver("h1", underlay_address="192.0.2.1", vxlan_port=4790)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="h1")
    try:
        capacity = await remote.capacity()
        assert (capacity.underlay_address, capacity.vxlan_port) == ("192.0.2.1", 4790)
        peers = (NetworkPeer("192.0.2.2", 4789, ("172.31.0.5",)),)
        await remote.set_network_peers("subnet-1", peers)
        assert driver.peers == {"subnet-1": peers}
        assert driver.peer_networks == {"subnet-1": None}
        # With the subnet, as a host holding instances of its VPC is told (decision 0106).
        subnet = NetworkSpec(
            "subnet-2", "111111111111", "10.9.2.0/24", 77, vpc_id="vpc-1", vpc_cidr="10.9.0.0/16"
        )
        await remote.set_network_peers("subnet-2", peers, network=subnet)
        assert driver.peers["subnet-2"] == peers
        assert driver.peer_networks["subnet-2"] == subnet
    finally:
        await remote.close()
        stop.set()
        await task
