"""Interfaces beyond an instance's primary on the real kernel (decision 0161): a namespace
"guest" (support.netns_guest) with a second veth plugged under its interface's id, as the QEMU
driver plugs a hot-plugged NIC's tap. Traffic reaches the second interface's address through
its own subnet's bridge, its own security groups apply there and not the primary's, a new
manager on the same state (an agent restarted) still holds it, and its release leaves nothing.
A route to an appliance's interface (decision 0161's addendum) carries a subnet's traffic
through the appliance guest to a network behind it.
Needs root and ``ip``, ``nft``, ``dnsmasq``, ``busybox``."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
    InterfaceSpec,
    NetworkSpec,
    NicSpec,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.netns_guest import network_behind
from support.tenant_networks import (
    Guest,
    guest,
    needs_root_and_tools,
    networks,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

_TENANT = "111111111111"
_VPC = "vpc-0000000000000e161"


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("f")


def _subnet(third: int) -> NetworkSpec:
    return NetworkSpec(
        f"subnet-e161{third:04d}", _TENANT, f"10.0.{third}.0/24", vpc_id=_VPC,
        vpc_cidr="10.0.0.0/16",
    )  # fmt: skip


async def test_the_second_interface_is_reached_behind_its_own_groups(
    networks: TenantNetworks, tmp_path: Path, layout: NetworkLayout
) -> None:
    first, second = _subnet(0), _subnet(1)
    primary = NicSpec(first, "02:00:00:e1:61:05", "10.0.0.5", public_address=False)
    web = InstanceFirewall(ingress=(FirewallRule("tcp", 8080, 8080, "10.0.0.0/16"),))
    eni = InterfaceSpec(
        "eni-0000000000000e161", 1,
        NicSpec(second, "02:00:00:e1:61:06", "10.0.1.5", public_address=False), web,
    )  # fmt: skip
    client_nic = NicSpec(first, "02:00:00:e1:61:07", "10.0.0.7", public_address=False)
    async with (
        guest(networks, "i-multihomed", primary, [eni]) as multihomed,
        guest(networks, "i-client", client_nic) as client,
    ):
        with serving(multihomed.netns, "", 8080):
            # Its own group lets 8080 in on its address; the primary's (none) does not.
            assert client.reach("10.0.1.5", 8080) == "peer 10.0.0.7"
            assert client.connect("10.0.0.5", 8080) == ""
            # Its rules replaced alone (what attaching it again does): nothing comes in.
            assert await networks.set_instance_firewall(eni.interface_id, InstanceFirewall())
            assert client.connect("10.0.1.5", 8080) == ""
            assert await networks.set_instance_firewall(eni.interface_id, web)
            assert client.reach("10.0.1.5", 8080) == "peer 10.0.0.7"
            # A secondary address (decision 0161), once the guest holds it, behind the same
            # rules; not behind them once the interface lets it go.
            with_secondary = replace(eni.nic, secondary_ips=("10.0.1.9",))
            await networks.plug(eni.interface_id, with_secondary, web)
            for command in (
                ("ip", "addr", "add", "10.0.1.9/24", "dev", "eth1"),
                ("ip", "rule", "add", "from", "10.0.1.9", "table", "101"),
            ):
                assert multihomed.run(*command).returncode == 0
            assert client.reach("10.0.1.9", 8080) == "peer 10.0.0.7"
            await networks.plug(eni.interface_id, eni.nic, web)
            assert client.connect("10.0.1.9", 8080) == ""
        # From an address it does not hold: dropped while its check is on; with it off, out
        # behind its own egress rules (an appliance), as on EC2.
        assert multihomed.run("ip", "addr", "add", "10.0.1.77/24", "dev", "eth1").returncode == 0
        assert (
            multihomed.run("ip", "rule", "add", "from", "10.0.1.77", "table", "101").returncode == 0
        )
        open_client = InstanceFirewall(ingress=(FirewallRule("tcp", 9090, 9090, "10.0.0.0/16"),))
        assert await networks.set_instance_firewall("i-client", open_client)
        with serving(client.netns, "", 9090):
            spoofed = Guest(multihomed.netns, eni.nic)
            assert spoofed.connect_from("10.0.1.77", "10.0.0.7", 9090) == ""
            await networks.plug(eni.interface_id, replace(eni.nic, source_dest_check=False), web)
            assert spoofed.connect_from("10.0.1.77", "10.0.0.7", 9090, reach=True) == (
                "peer 10.0.1.77"
            )
            await networks.plug(eni.interface_id, eni.nic, web)
            assert spoofed.connect_from("10.0.1.77", "10.0.0.7", 9090) == ""
        again = TenantNetworks(tmp_path / "net", layout)
        await again.restore()
        held = again.plugged(eni.interface_id)
        assert held is not None and (held.private_ip, held.mac) == ("10.0.1.5", eni.nic.mac)
        await networks.release(eni.interface_id)
        assert networks.plugged(eni.interface_id) is None
        with serving(multihomed.netns, "", 8080):
            assert client.connect("10.0.1.5", 8080) == ""
            assert networks.plugged("i-multihomed") is not None


async def test_a_route_to_an_appliances_interface_carries_traffic_through_it(
    networks: TenantNetworks,
) -> None:
    first, second = _subnet(0), _subnet(1)
    client_nic = NicSpec(first, "02:00:00:e1:61:17", "10.0.0.7", public_address=False)
    appliance_nic = NicSpec(
        second, "02:00:00:e1:61:15", "10.0.1.5", public_address=False, source_dest_check=False
    )
    open_in = InstanceFirewall(
        ingress=(FirewallRule("tcp", 8080, 8080, "10.0.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    route = InterfaceRoute(
        first.network_id, first.cidr, ("192.168.77.0/24",), "eni-0000000000000a161",
        "10.0.1.5", second.network_id,
    )  # fmt: skip
    router = first.router_id
    async with (
        guest(networks, "i-appliance", appliance_nic) as appliance,
        guest(networks, "i-client", client_nic) as client,
    ):
        assert await networks.set_instance_firewall("i-appliance", open_in)
        with network_behind(appliance.netns) as behind, serving(behind, "", 8080):
            # Without the route, the router has nowhere to send it but out (and drops it).
            assert client.connect("192.168.77.2", 8080) == ""
            await networks.set_interface_routes(router, (route,))
            # Through the appliance, which forwards it: the source is the client's own.
            assert client.reach("192.168.77.2", 8080) == "peer 10.0.0.7"
            # The appliance's groups judge what is routed to it.
            assert await networks.set_instance_firewall("i-appliance", InstanceFirewall())
            assert client.connect("192.168.77.2", 8080) == ""
            assert await networks.set_instance_firewall("i-appliance", open_in)
            assert client.reach("192.168.77.2", 8080) == "peer 10.0.0.7"
            # Taken back: the policy rule goes, nothing reaches the network behind.
            await networks.set_interface_routes(router, ())
            namespace = networks.router_netns(first.network_id)
            assert namespace is not None
            rules = subprocess.run(
                ["ip", "-n", namespace, "rule", "show"], capture_output=True, text=True,
                check=True,
            ).stdout  # fmt: skip
            assert "lookup 5000" not in rules
            assert client.connect("192.168.77.2", 8080) == ""
