"""Interface VPC endpoints on the hosts (decision 0166): the source ports of each slot and
their reading back, the router's lines (its groups' guard before the DNAT, the DNAT of TCP 80
and 443, the forward line, the translations into the slot's ports and the gateway's below
them), an endpoint's route over the agent wire with its slot and rules, and the limit of
Interface endpoints per VPC as a setting."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
)
from andromede.compute.endpoint_ports import (
    INTERFACE_PORT_BASE,
    interface_slot_of_port,
    interface_source_ports,
)
from andromede.compute_adapters import compute_limits, endpoint_dns_names
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.interface_endpoints import (
    interface_accepts,
    interface_dnats,
    interface_guard,
    interface_snats,
)
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.router_firewall import render_firewall
from andromede.settings import Settings

RULE = FirewallRule("tcp", 443, 443, "10.0.1.0/24")
ROUTE = EndpointRoute(
    "", "10.0.0.0/16", "vpc-1", "vpce-1", ("10.0.1.200",), slot=2, ingress=(RULE,)
)


def test_each_slot_has_ports_of_its_own_read_back() -> None:
    assert interface_source_ports(-1) == (1024, INTERFACE_PORT_BASE - 1)
    low, high = interface_source_ports(2)
    assert (low, high) == (INTERFACE_PORT_BASE + 2048, INTERFACE_PORT_BASE + 3071)
    assert {interface_slot_of_port(p) for p in (low, high)} == {2}
    assert interface_slot_of_port(INTERFACE_PORT_BASE - 1) == -1
    assert interface_slot_of_port(61000) == -1
    with pytest.raises(ValueError, match="slot"):
        EndpointRoute("", "10.0.0.0/16", "vpc-1", "vpce-1", ("10.0.1.200",), slot=32)


def test_the_router_lines() -> None:
    ports = '{ "br1", "br2" }'
    assert interface_dnats([ROUTE], ports, host_transit_ip="100.64.0.1", port=17001) == [
        f"    iifname {ports} ip daddr 10.0.1.200 tcp dport 80 dnat to 100.64.0.1:17001"
    ]
    with_tls = interface_dnats([ROUTE], ports, host_transit_ip="100.64.0.1", port=1, tls_port=2)
    assert (
        with_tls[1] == f"    iifname {ports} ip daddr 10.0.1.200 tcp dport 443 dnat to 100.64.0.1:2"
    )
    assert interface_accepts([ROUTE], ports) == [
        f"    iifname {ports} ct original ip daddr 10.0.1.200 ct original protocol tcp accept"
    ]
    guard = interface_guard(
        [ROUTE], ports, lambda rule, peer, verdict: f"    {rule.cidr} {verdict}"
    )
    assert guard == [
        "  chain endpoint_guard {",
        "    type filter hook prerouting priority -150; policy accept;",
        f"    iifname {ports} ip daddr 10.0.1.200 tcp dport {{ 80, 443 }} ct state new"
        " jump endpoint_2",
        "  }",
        "  chain endpoint_2 {",
        "    10.0.1.0/24 accept",
        "    drop",
        "  }",
    ]
    snats = interface_snats([ROUTE], ["192.0.2.80/32"], {"10.0.1.11": "100.65.0.7"}, transit="t")
    assert snats == [
        '    oifname "t" ip saddr 10.0.1.11 ct original ip daddr 10.0.1.200 meta l4proto tcp'
        f" snat to 100.65.0.7:{INTERFACE_PORT_BASE + 2048}-{INTERFACE_PORT_BASE + 3071}",
        '    oifname "t" ip saddr 10.0.1.11 ct original ip daddr 192.0.2.80/32 meta l4proto tcp'
        f" snat to 100.65.0.7:1024-{INTERFACE_PORT_BASE - 1}",
    ]
    # Without an Interface endpoint, a gateway's translation is left as it was.
    assert interface_snats([], ["192.0.2.80/32"], {"10.0.1.11": "100.65.0.7"}, transit="t") == []
    whole = render_firewall(
        {}, transit_cidr="100.64.0.0/16", public_cidr="100.65.0.0/16",
        nat={"10.0.1.11": "100.65.0.7"}, host_transit_ip="100.64.0.1", imds_port=16925,
        bridges=["br1"], endpoint_port=16926, interface_endpoints=[ROUTE],
    )  # fmt: skip
    # The translations come before the instance's own, the guard in the filter table.
    assert whole.index("snat to 100.65.0.7:") < whole.index("snat to 100.65.0.7\n")
    assert "chain endpoint_2 {" in whole.split("table inet andromede_filter {")[1]


async def test_the_route_crosses_the_agent_wire(tmp_path: Path) -> None:
    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="memory-host")
    try:
        await remote.set_endpoint_routes("vpc-1", (ROUTE,))
        assert driver.endpoint_routes == {"vpc-1": (ROUTE,)}
    finally:
        await remote.close()
        stop.set()
        await task


def test_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, max_interface_endpoints_per_vpc=3, s3_domain="s3.example.test"
    )
    assert compute_limits(settings).max_interface_endpoints_per_vpc == 3
    assert endpoint_dns_names(settings) == ("s3.example.test",)
    for wrong in (0, 33):
        with pytest.raises(ValidationError):
            Settings(data_dir=tmp_path, max_interface_endpoints_per_vpc=wrong)
