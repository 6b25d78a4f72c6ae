"""VPC endpoints on the hosts (decision 0160): the settings where they act — the store's
addresses as guests see them (checked, canonical), the listener's port in the hosts' layout
and in their guard against the LAN —, the router's redirection lines, the sender's egress
rules judging them by the store's address (the session-47 addendum), and the routes over the
agent wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from andromede.compute.driver_memory import MemoryDriver
from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
    InstanceFirewall,
)
from andromede.compute_adapters import compute_limits, hypervisor_host_driver
from andromede.hypervisor.agent import agent_ready, serve_agent
from andromede.hypervisor.endpoint_redirect import egress_guard, endpoint_accepts, endpoint_dnats
from andromede.hypervisor.network_guards import render_metadata_guard
from andromede.hypervisor.network_layout import NetworkLayout
from andromede.hypervisor.remote import RemoteDriver
from andromede.hypervisor.router_firewall import render_firewall
from andromede.settings import Settings


def test_the_addresses_are_checked_and_canonical(tmp_path: object) -> None:
    settings = Settings(vpc_endpoint_s3_addresses=("192.0.2.81/24", "198.51.100.7"))
    assert settings.vpc_endpoint_s3_addresses == ("192.0.2.0/24", "198.51.100.7/32")
    assert compute_limits(settings).vpc_endpoint_s3_addresses == settings.vpc_endpoint_s3_addresses
    with pytest.raises(ValidationError, match="vpc_endpoint_s3_addresses"):
        Settings(vpc_endpoint_s3_addresses=("2001:db8::/32",))
    assert compute_limits(Settings(max_vpc_endpoints_per_tenant=3)).max_vpc_endpoints == 3


def test_the_listener_port_reaches_the_hosts_and_their_guard(tmp_path: object) -> None:
    driver = hypervisor_host_driver(Settings(hypervisor_vpce_port=17001))
    layout = driver._config.network_layout
    assert layout.vpce_port == 17001
    guard = render_metadata_guard(layout)
    assert f'tcp dport 17001 iifname != "{layout.link_prefix}t*" drop' in guard
    with pytest.raises(ValueError, match="vpce_port"):
        NetworkLayout(imds_port=17001, vpce_port=17001)


def test_the_router_redirects_only_the_routed_bridges() -> None:
    endpoints = {"br1": ("192.0.2.80/32",), "br2": ("192.0.2.80/32", "198.51.100.0/28"), "br3": ()}
    assert endpoint_dnats(endpoints, host_transit_ip="100.64.0.1", port=17001) == [
        '    iifname "br1" ip daddr 192.0.2.80/32 meta l4proto tcp dnat to 100.64.0.1:17001',
        '    iifname "br2" ip daddr { 192.0.2.80/32, 198.51.100.0/28 } meta l4proto tcp'
        " dnat to 100.64.0.1:17001",
    ]
    assert endpoint_accepts(endpoints) == [
        '    iifname "br1" ct original ip daddr 192.0.2.80/32 ct original protocol tcp accept',
        '    iifname "br2" ct original ip daddr { 192.0.2.80/32, 198.51.100.0/28 }'
        " ct original protocol tcp accept",
    ]


def test_the_senders_egress_judges_the_original_destination() -> None:
    """Before the DNAT, a new connection to the store (from a routed bridge) or to an
    Interface endpoint (from any bridge, on 80 or 443) goes to its sender's egress chain;
    a source without one is dropped; nothing at all without endpoints."""
    senders = ["    ip saddr 10.0.1.11 goto egress_0"]
    lines = egress_guard({"br1": ("192.0.2.80/32",), "br2": ()}, ["10.0.1.200"], '"br1"', senders)
    assert lines == [
        "  chain endpoint_egress {",
        "    type filter hook prerouting priority -160; policy accept;",
        '    iifname "br1" ip daddr 192.0.2.80/32 meta l4proto tcp ct state new'
        " jump endpoint_senders",
        '    iifname "br1" ip daddr 10.0.1.200 tcp dport { 80, 443 } ct state new'
        " jump endpoint_senders",
        "  }",
        "  chain endpoint_senders {",
        "    ip saddr 10.0.1.11 goto egress_0",
        "    drop",
        "  }",
    ]
    assert egress_guard({"br1": ()}, [], '"br1"', senders) == []


def _ruleset(endpoints: dict[str, tuple[str, ...]], firewall: InstanceFirewall) -> str:
    return render_firewall(
        {"10.0.1.11": firewall, "10.0.1.12": InstanceFirewall()},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.1.11": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        bridges=("br1",),
        endpoints=endpoints,
        endpoint_port=16926,
        sources={"02:00:00:00:00:01": ("10.0.1.11",), "02:00:00:00:00:02": ("10.0.1.12",)},
        unchecked={"02:00:00:00:00:02"},
    )


def test_the_router_sends_each_sender_to_its_own_egress_rules() -> None:
    """Every sender to its egress chain (the one the forward chain judges it by), an
    appliance's forward to the appliance's, those chains judging the store's address and the
    guest's port; the metadata service's redirection untouched."""
    to_store = InstanceFirewall(egress=(FirewallRule("tcp", 443, 443, "192.0.2.80/32"),))
    ruleset = _ruleset({"br1": ("192.0.2.80/32",)}, to_store)
    assert "    ip saddr 10.0.1.11 jump egress_0" in ruleset
    senders = ruleset.split("  chain endpoint_senders {\n")[1].split("  }")[0]
    assert senders.splitlines() == [
        "    ether saddr 02:00:00:00:00:02 ip saddr != { 10.0.1.12 } goto egress_1",
        "    ip saddr 10.0.1.11 goto egress_0",
        "    ip saddr 10.0.1.12 goto egress_1",
        "    drop",
    ]
    egress = ruleset.split("  chain egress_0 {\n")[1].split("  }")[0]
    assert egress.splitlines() == ["    ip daddr 192.0.2.80/32 tcp dport 443 return", "    drop"]
    assert "169.254.169.254" not in ruleset.split("chain endpoint_egress")[1].split("}")[0]
    # Without an endpoint, no guard (and no cost to any packet).
    assert "endpoint_egress" not in _ruleset({}, to_store)


async def test_the_routes_cross_the_agent_wire(tmp_path: Path) -> None:
    """``set_endpoint_routes`` from a gateway's remote driver to a host's agent, every field
    intact; an empty set takes them back."""
    driver = MemoryDriver(vcpus=4, memory_mib=4096)
    socket_path = tmp_path / "agent" / "agent.sock"
    stop = asyncio.Event()
    task = asyncio.create_task(serve_agent(driver, socket_path, stop))
    assert await asyncio.to_thread(agent_ready, socket_path, 10.0)
    remote = RemoteDriver(socket_path, host="memory-host")
    route = EndpointRoute("subnet-1", "10.0.1.0/24", "vpc-1", "vpce-1", ("192.0.2.80/32",))
    try:
        await remote.set_endpoint_routes("vpc-1", (route,))
        assert driver.endpoint_routes == {"vpc-1": (route,)}
        await remote.set_endpoint_routes("vpc-1", ())
        assert driver.endpoint_routes == {}
    finally:
        await remote.close()
        stop.set()
        await task
