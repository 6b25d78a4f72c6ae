"""Routes to network interfaces on the hosts (decision 0161's addendum), pure: the policy tables
each routed subnet gets, the forward chain's lines, the stale rules found, and the routes over
the agent wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
)
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.interface_routes import (
    EXEMPT_PRIORITY,
    exempt_key,
    exempt_rules,
    exempt_spec,
    ingress_lines,
    mark_lines,
    routing_commands,
    stale_priorities,
)
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.router_firewall import render_firewall

ROUTE = InterfaceRoute(
    "subnet-a", "10.0.1.0/24", ("192.168.77.0/24", "198.51.100.0/28"), "eni-1", "10.0.2.5",
    "subnet-b",
)  # fmt: skip


def test_each_routed_subnet_gets_a_table_of_its_own() -> None:
    bridges = {"subnet-a": (1, "br1", "10.0.1.0/24"), "subnet-b": (2, "br2", "10.0.2.0/24")}
    commands, wanted = routing_commands([ROUTE], bridges, throw=["10.0.0.0/16"])
    assert wanted == {5001: "10.0.1.0/24"}
    assert commands == [
        "route flush table 5001",
        "route flush table 5002",
        "route replace throw 10.0.0.0/16 table 5001",
        "route replace 192.168.77.0/24 via 10.0.2.5 dev br2 table 5001",
        "route replace 198.51.100.0/28 via 10.0.2.5 dev br2 table 5001",
    ]
    # The interface's subnet not built here: nothing reaches its address from here.
    commands, wanted = routing_commands([ROUTE], {"subnet-a": bridges["subnet-a"]}, throw=[])
    assert (commands, wanted) == (["route flush table 5001"], {})


def test_only_this_modules_rules_not_wanted_are_stale() -> None:
    listed = [
        {"priority": 0, "table": "local"},
        {"priority": 1001, "src": "10.0.1.0", "srclen": 24, "table": "1001"},  # a NAT gateway's
        {"priority": 5001, "src": "10.0.1.0", "srclen": 24, "table": "5001"},
        {"priority": 5002, "src": "10.0.2.0", "srclen": 24, "table": "5002"},
    ]
    assert stale_priorities(listed, {5001: "10.0.1.0/24"}) == [5002]


def test_what_is_routed_meets_the_interfaces_ingress_here_or_leaves_for_its_host() -> None:
    bridges = {"subnet-a": "br1", "subnet-b": "br2"}
    assert ingress_lines([ROUTE], {"10.0.2.5": 3}, (), bridges) == [
        '    oifname "br2" ip saddr 10.0.1.0/24 ip daddr 192.168.77.0/24 jump ingress_3',
        '    oifname "br2" ip saddr 10.0.1.0/24 ip daddr 198.51.100.0/28 jump ingress_3',
    ]
    assert ingress_lines([ROUTE], {}, ("10.0.2.5",), bridges) == [
        '    oifname "br2" ip saddr 10.0.1.0/24 ip daddr 192.168.77.0/24 accept',
        '    oifname "br2" ip saddr 10.0.1.0/24 ip daddr 198.51.100.0/28 accept',
    ]
    assert ingress_lines([ROUTE], {}, (), bridges) == []
    # The interface's subnet not built here: nothing leaves for it.
    assert ingress_lines([ROUTE], {"10.0.2.5": 3}, (), {"subnet-a": "br1"}) == []


# Decision 0179: subnet A's table routes subnet B's block to the appliance in subnet C.
INSIDE = InterfaceRoute(
    "subnet-a", "10.0.1.0/24", ("10.0.3.0/24",), "eni-1", "10.0.2.5", "subnet-c"
)


def test_an_appliances_forward_goes_by_the_main_table() -> None:
    bridges = {"subnet-a": (1, "br1", "10.0.1.0/24"), "subnet-c": (2, "br2", "10.0.2.0/24")}
    wanted = exempt_rules([INSIDE], bridges)
    assert wanted == {
        ("", "", "0x100000/0x100000"),
        ("br1", "10.0.1.0/24", ""),
        ("br2", "10.0.2.0/24", ""),
    }
    assert sorted(exempt_spec(key) for key in wanted) == [
        "fwmark 0x100000/0x100000",
        "iif br1 to 10.0.1.0/24",
        "iif br2 to 10.0.2.0/24",
    ]
    assert exempt_rules([], bridges) == set()
    # Read back from ``ip -j rule show`` as the kernel lists them.
    listed = [
        {"priority": EXEMPT_PRIORITY, "src": "all", "fwmark": "0x100000", "fwmask": "0x100000",
         "table": "main"},
        {"priority": EXEMPT_PRIORITY, "src": "all", "dst": "10.0.1.0", "dstlen": 24,
         "iif": "br1", "table": "main"},
        {"priority": 5001, "src": "10.0.1.0", "srclen": 24, "table": "5001"},
    ]  # fmt: skip
    held = {key for rule in listed if (key := exempt_key(rule)) is not None}
    assert wanted - held == {("br2", "10.0.2.0/24", "")}


def test_the_appliances_path_is_marked_before_routing() -> None:
    forwarders = {"02:00:00:00:00:05": ("10.0.2.5",)}
    assert mark_lines([INSIDE], {"subnet-c": "br2"}, forwarders) == [
        "    ether saddr 02:00:00:00:00:05 ip saddr != { 10.0.2.5 }"
        " meta mark set meta mark | 0x00100000 | 0x00200000",
        '    iifname "br2" ip saddr 10.0.1.0/24 ip daddr 10.0.3.0/24'
        " meta mark set meta mark | 0x00200000",
    ]
    assert mark_lines([], {"subnet-c": "br2"}, forwarders) == []


def test_the_appliances_groups_judge_before_the_destinations() -> None:
    """Every egress chain, then what leaves for the appliance, then the ingress chains; what
    is invalid on the appliance's path is judged rather than dropped."""
    everything = InstanceFirewall(
        ingress=(FirewallRule("-1", 0, 0, "10.0.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    ruleset = render_firewall(
        {"10.0.1.7": everything, "10.0.2.5": everything, "10.0.3.7": everything},
        transit_cidr="100.64.0.0/24", public_cidr="100.65.0.0/24", nat={},
        host_transit_ip="100.64.0.1", imds_port=8775, bridges=["br1", "br2", "br3"],
        sources={"02:00:00:00:00:05": ("10.0.2.5",)}, unchecked={"02:00:00:00:00:05"},
        interface_routes=[INSIDE],
        route_bridges={"subnet-a": "br1", "subnet-c": "br2", "subnet-b": "br3"},
    )  # fmt: skip
    lines = ruleset.splitlines()
    assert "    ct state invalid meta mark & 0x00200000 == 0 drop" in lines
    routed = lines.index(
        '    oifname "br2" ip saddr 10.0.1.0/24 ip daddr 10.0.3.0/24 jump ingress_1'
    )
    assert (
        max(
            lines.index(f"    ip saddr {a} jump egress_{n}")
            for n, a in enumerate(("10.0.1.7", "10.0.2.5", "10.0.3.7"))
        )
        < routed
    )
    assert routed < min(lines.index(f"    ip daddr {a} jump ingress_{n}") for n, a in enumerate(
        ("10.0.1.7", "10.0.2.5", "10.0.3.7")))  # fmt: skip
    assert "  chain route_marks {" in lines


def test_a_bad_block_is_refused() -> None:
    with pytest.raises(ValueError):
        InterfaceRoute("subnet-a", "10.0.1.0/24", ("not-a-block",), "eni-1", "10.0.2.5", "b")


async def test_the_routes_cross_the_agent_wire(tmp_path: Path) -> None:
    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="memory-host")
    try:
        await remote.set_interface_routes("vpc-1", (ROUTE,))
        assert driver.interface_routes == {"vpc-1": (ROUTE,)}
        await remote.set_interface_routes("vpc-1", ())
        assert driver.interface_routes == {}
    finally:
        await remote.close()
        stop.set()
        await task
