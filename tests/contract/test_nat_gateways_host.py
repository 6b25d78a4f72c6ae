"""NAT gateways on one host, on the real kernel (andromede.hypervisor.nat_gateways through
TenantNetworks.set_nat_routes, decision 0129): an instance without a public address reaches
what its subnet routes to a NAT gateway, seen from outside at the gateway's address; nothing
opens a connection to it through that address; the host-facing address still carries its
metadata requests; and the address leaves the host with the routes. The two-host path (the
egress host translating for the other's instances over the overlay) is in
test_overlay_networks.py. Needs root and ``ip``, ``nft``, ``dnsmasq``, ``busybox``.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver import (
    FirewallRule,
    InstanceFirewall,
    NatRoute,
    NatSource,
    NetworkSpec,
    NicSpec,
)
from andromede.hypervisor.errors import AddressRefused
from andromede.hypervisor.network_state import load_state
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.tenant_networks import (
    guest,
    host_connect,
    host_routes,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
    serving,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

EVERYTHING_IN = InstanceFirewall(ingress=(FirewallRule("-1", 0, 0, "0.0.0.0/0"),))


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("n")


def _subnet(vpc_id: str, third: int) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr=f"10.9.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr="10.9.0.0/16",
    )


def _private_nic(subnet: NetworkSpec, host: int) -> NicSpec:
    prefix = subnet.cidr.rsplit(".", 1)[0]
    return NicSpec(subnet, f"02:00:00:09:00:{host:02x}", f"{prefix}.{host}", public_address=False)


def _address() -> str:
    """A NAT gateway's address: of no range of the host's (198.18.0.0/15)."""
    return f"198.{18 + secrets.randbelow(2)}.{secrets.randbelow(256)}.{1 + secrets.randbelow(254)}"


def _route(nat_id: str, address: str, subnet: NetworkSpec, *destinations: str) -> NatRoute:
    return NatRoute(
        nat_id,
        address,
        (NatSource(subnet.network_id, subnet.cidr),),
        destinations or ("0.0.0.0/0",),
    )


async def test_a_private_instance_reaches_out_through_its_nat_gateway_and_nothing_comes_in(
    networks: TenantNetworks, layout: NetworkLayout, tmp_path: Path
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    private = _subnet(vpc, 1)
    nic = _private_nic(private, 5)
    address = _address()
    with outside_addresses(2) as (outside, elsewhere):
        async with guest(networks, "i-private", nic) as g:
            await networks.set_instance_firewall("i-private", EVERYTHING_IN)
            plugged = networks.plugged("i-private")
            assert plugged is not None
            host_ip = networks.host_transit_ip(private.network_id)
            with serving(None, outside, 8443):
                # Without a route to a NAT gateway: nothing out but the metadata service.
                assert g.connect(outside, 8443) == ""
                # Its subnet routes outside/32 to a NAT gateway: out, from the gateway's address.
                await networks.set_nat_routes(
                    vpc, [_route("nat-1", address, private, f"{outside}/32")]
                )
                assert g.reach(outside, 8443) == f"peer {address}"
                assert f"dev {layout.link_prefix}t" in host_routes(address)
            with serving(None, elsewhere, 8443):
                # A destination the route does not name stays out of reach.
                assert g.connect(elsewhere, 8443) == ""
            # The gateway opens nothing: its address reaches no port of the instance, open to all.
            with serving(g.netns, "", 22):
                assert host_connect(address, 22) == ""
            # Its metadata requests keep its host-facing address, which the service knows.
            with serving(None, host_ip, layout.imds_port):
                assert g.reach("169.254.169.254", 80) == f"peer {plugged.public_ip}"
            # The whole Internet through it, and the state file keeps the routes.
            await networks.set_nat_routes(vpc, [_route("nat-1", address, private)])
            with serving(None, elsewhere, 8443):
                assert g.reach(elsewhere, 8443) == f"peer {address}"
            kept = load_state(tmp_path / "net" / "networks.json").nat[vpc]
            assert kept == (_route("nat-1", address, private),)
            # Pushing what is in force changes nothing; taking the routes away closes the way.
            await networks.set_nat_routes(vpc, [_route("nat-1", address, private)])
            await networks.set_nat_routes(vpc, [])
            assert host_routes(address) == ""
            with serving(None, elsewhere, 8443):
                assert g.connect(elsewhere, 8443) == ""
        await networks.release("i-private")
    assert vpc not in networks._state.nat


async def test_a_public_instance_in_a_nat_routed_subnet_leaves_from_the_gateway(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    """The route table decides, as on EC2: an instance with its own public address in a subnet
    whose table sends a destination to a NAT gateway reaches it from the gateway's address."""
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 2)
    nic = replace(_private_nic(subnet, 6), public_address=True)
    address = _address()
    with outside_addresses(2) as (outside, other):
        async with guest(networks, "i-public", nic) as g:
            await networks.set_nat_routes(vpc, [_route("nat-2", address, subnet, f"{outside}/32")])
            with serving(None, outside, 9000), serving(None, other, 9000):
                assert g.reach(outside, 9000) == f"peer {address}"
                plugged = networks.plugged("i-public")
                assert plugged is not None
                assert g.reach(other, 9000) == f"peer {plugged.public_ip}"


async def test_routes_told_before_the_vpc_is_here_apply_when_it_is_and_survive_a_restart(
    networks: TenantNetworks, layout: NetworkLayout, tmp_path: Path
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 3)
    address = _address()
    await networks.set_nat_routes(vpc, [_route("nat-3", address, subnet)])
    assert host_routes(address) == ""  # nothing of the VPC here yet
    with outside_addresses() as (outside,):
        async with guest(networks, "i-later", _private_nic(subnet, 7)) as g:
            assert host_routes(address) != ""
            with serving(None, outside, 9001):
                assert g.reach(outside, 9001) == f"peer {address}"
            # A reboot lost the host route and the ruleset: a new agent rebuilds both.
            subprocess.run(["ip", "route", "del", f"{address}/32"], check=False)
            again = TenantNetworks(tmp_path / "net", layout)
            await again.restore()
            assert host_routes(address) != ""
            with serving(None, outside, 9001):
                assert g.reach(outside, 9001) == f"peer {address}"


async def test_an_address_the_host_cannot_route_is_refused_and_changes_nothing(
    networks: TenantNetworks, layout: NetworkLayout
) -> None:
    vpc = "vpc-" + secrets.token_hex(4)
    subnet = _subnet(vpc, 4)
    elastic = _address()
    async with guest(networks, "i-eip", replace(_private_nic(subnet, 8), elastic_ip=elastic)):
        public = layout.public_cidr.rsplit(".", 1)[0] + ".9"
        for refused in (elastic, public):  # another's Elastic IP here, a host range
            with pytest.raises(AddressRefused):
                await networks.set_nat_routes(vpc, [_route("nat-4", refused, subnet)])
            assert vpc not in networks._state.nat


def test_the_rendered_ruleset_with_nat_gateways_is_valid_nft() -> None:
    subnet = NetworkSpec("subnet-1", "t", "10.9.1.0/24", vpc_id="vpc-1", vpc_cidr="10.9.0.0/16")
    here = _route("nat-a", "198.18.0.7", subnet, "0.0.0.0/1", "128.0.0.0/1")
    there = replace(_route("nat-b", "198.18.0.8", subnet, "8.8.8.0/24"), via_address="192.0.2.2",
                    via_port=4789)  # fmt: skip
    ruleset = render_firewall(
        {"10.9.1.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.64.1.0/24",
        nat={"10.9.1.5": "100.64.1.5"},
        host_transit_ip="100.64.0.1",
        imds_port=20000,
        remote=["10.9.1.9"],
        unmapped=["10.9.1.5"],
        nat_routes=[here, there],
    )
    namespace = "andromede-check-" + secrets.token_hex(3)
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        checked = subprocess.run(
            ["ip", "netns", "exec", namespace, "nft", "-c", "-f", "-"],
            input=ruleset, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert checked.returncode == 0, checked.stderr
    finally:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert "snat to 198.18.0.7" in ruleset and "snat to 198.18.0.8" not in ruleset
    assert 'iifname "transit" ip daddr { 198.18.0.7 } drop' in ruleset
