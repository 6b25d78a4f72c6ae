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
    InterfaceSpec,
)
from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
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


def _forwarded(appliance: Guest, source: str, destination: str) -> int:
    """Packets the appliance guest forwarded from ``source`` to ``destination`` (its own nft
    counter, made by :func:`_count_forwarding`)."""
    listed = appliance.run("nft", "list", "chain", "inet", "count", "forward").stdout
    for line in listed.splitlines():
        if f"ip saddr {source} ip daddr {destination}" in line:
            return int(line.split("packets ")[1].split()[0])
    raise AssertionError(listed)


def _count_forwarding(appliance: Guest, pairs: list[tuple[str, str]]) -> None:
    """The appliance forwards (its check is off) and counts what it forwards, per pair."""
    lines = [
        "table inet count {",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        *(f"    ip saddr {s} ip daddr {d} counter" for s, d in pairs),
        "  }",
        "}",
    ]
    for command in (
        ("sysctl", "-qw", "net.ipv4.ip_forward=1"),
        ("sysctl", "-qw", "net.ipv4.conf.all.send_redirects=0"),
        ("sysctl", "-qw", "net.ipv4.conf.eth0.send_redirects=0"),
    ):
        assert appliance.run(*command).returncode == 0
    counted = subprocess.run(
        ["ip", "netns", "exec", appliance.netns, "nft", "-f", "-"],
        input="\n".join(lines) + "\n", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert counted.returncode == 0, counted.stderr


async def test_a_route_more_specific_than_local_passes_the_appliance_between_subnets(
    networks: TenantNetworks,
) -> None:
    """Decision 0179: subnet A's table routes subnet B's block to an appliance in subnet C;
    A → B passes the appliance (its groups judging it), the reply comes straight back
    (asymmetric: the router's connection tracking must not drop the connection), then B's
    table routes A's block to it too (symmetric); taking the routes back restores the direct
    path and leaves none of the rules."""
    a, b, c = _subnet(0), _subnet(1), _subnet(2)
    client_nic = NicSpec(a, "02:00:00:e1:79:07", "10.0.0.7", public_address=False)
    server_nic = NicSpec(b, "02:00:00:e1:79:17", "10.0.1.7", public_address=False)
    appliance_nic = NicSpec(
        c, "02:00:00:e1:79:25", "10.0.2.5", public_address=False, source_dest_check=False
    )
    inspecting = InstanceFirewall(
        ingress=(FirewallRule("-1", 0, 0, "10.0.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    web = InstanceFirewall(
        ingress=(FirewallRule("tcp", 8080, 8080, "10.0.0.0/16"),),
        egress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),),
    )
    eni = "eni-0000000000000c179"
    to_b = InterfaceRoute(a.network_id, a.cidr, (b.cidr,), eni, "10.0.2.5", c.network_id)
    to_a = InterfaceRoute(b.network_id, b.cidr, (a.cidr,), eni, "10.0.2.5", c.network_id)
    router = a.router_id
    async with (
        guest(networks, "i-appliance", appliance_nic) as appliance,
        guest(networks, "i-client", client_nic) as client,
        guest(networks, "i-server", server_nic) as server,
    ):
        assert await networks.set_instance_firewall("i-appliance", inspecting)
        assert await networks.set_instance_firewall("i-server", web)
        _count_forwarding(appliance, [("10.0.0.7", "10.0.1.7"), ("10.0.1.7", "10.0.0.7")])
        with serving(server.netns, "", 8080):
            # Direct: the local route.
            assert client.reach("10.0.1.7", 8080) == "peer 10.0.0.7"
            assert _forwarded(appliance, "10.0.0.7", "10.0.1.7") == 0
            # A's table: B's block to the appliance. The reply comes straight back.
            await networks.set_interface_routes(router, (to_b,))
            assert client.reach("10.0.1.7", 8080) == "peer 10.0.0.7"
            there = _forwarded(appliance, "10.0.0.7", "10.0.1.7")
            assert there > 0
            assert _forwarded(appliance, "10.0.1.7", "10.0.0.7") == 0
            # The appliance's groups judge what is routed to it, before the server's.
            assert await networks.set_instance_firewall("i-appliance", InstanceFirewall())
            assert client.connect("10.0.1.7", 8080) == ""
            assert await networks.set_instance_firewall("i-appliance", inspecting)
            # B's table too: both ways through it.
            await networks.set_interface_routes(router, (to_b, to_a))
            assert client.reach("10.0.1.7", 8080) == "peer 10.0.0.7"
            assert _forwarded(appliance, "10.0.0.7", "10.0.1.7") > there
            back = _forwarded(appliance, "10.0.1.7", "10.0.0.7")
            assert back > 0
            # A's local route replaced by the appliance (the VPC's block to it), B's direct.
            whole = InterfaceRoute(
                a.network_id, a.cidr, ("10.0.0.0/16",), eni, "10.0.2.5", c.network_id
            )
            await networks.set_interface_routes(router, (whole,))
            before = _forwarded(appliance, "10.0.0.7", "10.0.1.7")
            assert client.reach("10.0.1.7", 8080) == "peer 10.0.0.7"
            assert _forwarded(appliance, "10.0.0.7", "10.0.1.7") > before
            assert _forwarded(appliance, "10.0.1.7", "10.0.0.7") == back
            # Taken back: direct again, nothing more through the appliance, no rule left.
            await networks.set_interface_routes(router, ())
            through = _forwarded(appliance, "10.0.0.7", "10.0.1.7")
            assert client.reach("10.0.1.7", 8080) == "peer 10.0.0.7"
            assert _forwarded(appliance, "10.0.0.7", "10.0.1.7") == through
            assert _forwarded(appliance, "10.0.1.7", "10.0.0.7") == back
            namespace = networks.router_netns(a.network_id)
            assert namespace is not None
            rules = subprocess.run(
                ["ip", "-n", namespace, "rule", "show"], capture_output=True, text=True,
                check=True,
            ).stdout  # fmt: skip
            assert "4999:" not in rules and "lookup 5000" not in rules
