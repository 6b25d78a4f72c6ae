"""Routes to network interfaces on the hosts (decision 0161's addendum), pure: the policy tables
each routed subnet gets, the forward chain's lines, the stale rules found, and the routes over
the agent wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from andromede.compute.driver import InterfaceRoute
from andromede.compute.driver_memory import MemoryDriver
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.interface_routes import (
    ingress_lines,
    routing_commands,
    stale_priorities,
)
from andromede.hypervisor.remote import RemoteDriver

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
    assert ingress_lines([ROUTE], {"10.0.2.5": 3}, ()) == [
        "    ip saddr 10.0.1.0/24 ip daddr 192.168.77.0/24 jump ingress_3",
        "    ip saddr 10.0.1.0/24 ip daddr 198.51.100.0/28 jump ingress_3",
    ]
    assert ingress_lines([ROUTE], {}, ("10.0.2.5",)) == [
        "    ip saddr 10.0.1.0/24 ip daddr 192.168.77.0/24 accept",
        "    ip saddr 10.0.1.0/24 ip daddr 198.51.100.0/28 accept",
    ]
    assert ingress_lines([ROUTE], {}, ()) == []


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
