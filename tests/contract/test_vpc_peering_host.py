"""VPC peering connections on one host, on the real kernel (andromede.hypervisor.peering_links
through TenantNetworks.set_peering_links, decision 0139): two VPCs' instances reach each other
at their private addresses once their routers are joined and both firewalls let it, never
otherwise; an instance whose firewall is confined to its own VPC (its table does not route to
the connection) lets nothing in from the peer; a network ACL still judges; the link goes when
it is no longer told. Needs root and ``ip``, ``nft``, ``dnsmasq``.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from andromede.compute.driver_network import (
    AclEntry,
    FirewallRule,
    InstanceFirewall,
    NetworkSpec,
    NicSpec,
    PeeringLink,
    SubnetAcl,
)
from andromede.hypervisor.peering_links import link_name
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.tenant_networks import guest, needs_root_and_tools, networks, random_layout, serving

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

A_CIDR, B_CIDR = "10.71.0.0/16", "10.72.0.0/16"


def _open_to(*blocks: str) -> InstanceFirewall:
    """A firewall as the control plane confines an open group to what the instance's routes
    reach: everything in and out, within ``blocks``."""
    rules = tuple(FirewallRule("-1", 0, 0, block) for block in blocks)
    return InstanceFirewall(ingress=rules, egress=rules)


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("p")


def _nic(vpc_id: str, vpc_cidr: str, host: int) -> NicSpec:
    prefix = vpc_cidr.split(".0.0/")[0]
    subnet = NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr=f"{prefix}.1.0/24",
        vpc_id=vpc_id,
        vpc_cidr=vpc_cidr,
    )
    return NicSpec(subnet, f"02:00:00:07:00:{host:02x}", f"{prefix}.1.{host}", public_address=False)


def _links(networks: TenantNetworks, router: str) -> str:
    return subprocess.run(
        ["ip", "-n", networks.netns(router), "-o", "link", "show"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


async def test_two_peered_vpcs_reach_each_other_only_where_both_firewalls_let_it(
    networks: TenantNetworks,
) -> None:
    a, b = "vpc-" + secrets.token_hex(4), "vpc-" + secrets.token_hex(4)
    nic_a, nic_b = _nic(a, A_CIDR, 5), _nic(b, B_CIDR, 6)
    link = PeeringLink("pcx-" + secrets.token_hex(8) + "0", a, A_CIDR, b, B_CIDR)
    async with guest(networks, "i-a", nic_a) as ga, guest(networks, "i-b", nic_b) as gb:
        await networks.set_instance_firewall("i-a", _open_to(A_CIDR, B_CIDR))
        await networks.set_instance_firewall("i-b", _open_to(B_CIDR, A_CIDR))
        with serving(gb.netns, "", 7001), serving(ga.netns, "", 7002):
            # Two VPCs share nothing: no way between them.
            assert ga.connect(nic_b.private_ip, 7001) == ""
            await networks.set_peering_links([link])
            assert link_name(link.peering_id, "a") in _links(networks, a)
            assert link_name(link.peering_id, "b") in _links(networks, b)
            # Joined: each reaches the other at its private address, nothing translated.
            assert ga.reach(nic_b.private_ip, 7001) == f"peer {nic_a.private_ip}"
            assert gb.reach(nic_a.private_ip, 7002) == f"peer {nic_b.private_ip}"
            # Pushing what is in force changes nothing.
            await networks.set_peering_links([link])
            assert ga.reach(nic_b.private_ip, 7001) == f"peer {nic_a.private_ip}"
            # b's table no longer routes to the connection: its firewall is confined to its
            # own VPC, and a's packets no longer get in (nor does b reach a).
            await networks.set_instance_firewall("i-b", _open_to(B_CIDR))
            assert ga.connect(nic_b.private_ip, 7001) == ""
            assert gb.connect(nic_a.private_ip, 7002) == ""
            await networks.set_instance_firewall("i-b", _open_to(B_CIDR, A_CIDR))
            assert ga.reach(nic_b.private_ip, 7001) == f"peer {nic_a.private_ip}"
            # A network ACL of b's subnet denying a's block still judges.
            deny = SubnetAcl(
                ingress=(
                    AclEntry(90, False, "-1", A_CIDR),
                    AclEntry(100, True, "-1", "0.0.0.0/0"),
                ),
            )
            await networks.set_acl(nic_b.network.network_id, deny)
            assert ga.connect(nic_b.private_ip, 7001) == ""
            await networks.set_acl(nic_b.network.network_id, SubnetAcl())
            assert ga.reach(nic_b.private_ip, 7001) == f"peer {nic_a.private_ip}"
            # No longer told (deleted, or routed by neither): the link goes.
            await networks.set_peering_links([])
            assert link_name(link.peering_id, "a") not in _links(networks, a)
            assert ga.connect(nic_b.private_ip, 7001) == ""
    await networks.release("i-a")
    await networks.release("i-b")


async def test_a_link_waits_for_both_routers_and_comes_with_the_second(
    networks: TenantNetworks,
) -> None:
    a, b = "vpc-" + secrets.token_hex(4), "vpc-" + secrets.token_hex(4)
    nic_a, nic_b = _nic(a, A_CIDR, 7), _nic(b, B_CIDR, 8)
    link = PeeringLink("pcx-" + secrets.token_hex(8) + "1", a, A_CIDR, b, B_CIDR)
    async with guest(networks, "i-a", nic_a) as ga:
        await networks.set_instance_firewall("i-a", _open_to(A_CIDR, B_CIDR))
        # Only a's router is here: nothing to join yet.
        await networks.set_peering_links([link])
        assert "pcx" not in _links(networks, a)
        async with guest(networks, "i-b", nic_b) as gb:
            await networks.set_instance_firewall("i-b", _open_to(B_CIDR, A_CIDR))
            # The control plane tells the host again once b's instance runs here.
            await networks.set_peering_links([link])
            with serving(gb.netns, "", 7003):
                assert ga.reach(nic_b.private_ip, 7003) == f"peer {nic_a.private_ip}"
        await networks.release("i-b")
    await networks.release("i-a")
