"""A VPC's Amazon-provided DNS and DHCP options on the real kernel (decision 0143): the router's
resolver (andromede.hypervisor.vpc_dns, run by andromede.hypervisor.tenant_network) answers
its own subnets at the VPC block's base plus two and 169.254.169.253, synthesises the
``ip-a-b-c-d`` names of its block while DNS hostnames are on (and of the peer blocks it is
told, decision 0139's addendum), answers the public names of its instances with their private
addresses (decision 0151), refuses what it has no upstream for, and the subnets' DHCP servers
hand out the VPC's options.

As in test_network_acls.py, a "guest" is a network namespace on an isolated port of its
subnet's bridge; it asks with busybox's ``nslookup`` and ``udhcpc``. Needs root and the ``ip``,
``nft``, ``dnsmasq`` and ``busybox`` commands.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    NetworkSpec,
    NicSpec,
    VpcDns,
)
from andromede.hypervisor.tenant_network import NetworkLayout, TenantNetworks
from support.tenant_networks import (
    Guest,
    guest,
    needs_root_and_tools,
    networks,
    outside_addresses,
    random_layout,
)

__all__ = ["needs_root_and_tools", "networks"]  # the fixtures this module takes from support

DOMAIN = "eu-fr-1.compute.internal"
DNS = VpcDns(support=True, hostnames=True, domain=DOMAIN, domain_name=DOMAIN)


@pytest.fixture
def layout() -> NetworkLayout:
    return random_layout("d")


def _subnet(vpc_id: str, block: str, third: int, dns: VpcDns = DNS) -> NetworkSpec:
    return NetworkSpec(
        network_id="subnet-" + secrets.token_hex(4),
        tenant_id="111111111111",
        cidr=f"{block}.{third}.0/24",
        vpc_id=vpc_id,
        vpc_cidr=f"{block}.0.0/16",
        dns=dns,
    )


def _nic(network: NetworkSpec, host: int) -> NicSpec:
    prefix = network.cidr.rsplit(".", 1)[0]
    third = int(prefix.rsplit(".", 1)[1])
    return NicSpec(network=network, mac=f"02:00:00:00:{third:02x}:{host:02x}",
                   private_ip=f"{prefix}.{host}")  # fmt: skip


def _lookup(client: Guest, name: str, server: str) -> str:
    """What busybox's nslookup prints (its answer or its error), "timeout" when none came."""
    done = client.run("timeout", "4", "busybox", "nslookup", name, server, timeout=10)
    return "timeout" if done.returncode == 124 else done.stdout + done.stderr


def _vpc() -> str:
    return "vpc-" + secrets.token_hex(4)


async def test_the_resolver_answers_its_vpcs_names_on_both_addresses_until_turned_off(
    networks: TenantNetworks,
) -> None:
    vpc = _vpc()
    # One subnet over the block's base (10.7.0.2 is on its link), one beside it (routed).
    base, other = _subnet(vpc, "10.7", 0), _subnet(vpc, "10.7", 1)
    a_nic, b_nic = _nic(base, 5), _nic(other, 6)
    name_a, name_b = f"ip-10-7-0-5.{DOMAIN}", f"ip-10-7-1-6.{DOMAIN}"
    async with guest(networks, "i-a", a_nic) as a, guest(networks, "i-b", b_nic) as b:
        # Another instance's name and its own, from either subnet, at either address.
        assert "Address: 10.7.1.6" in _lookup(a, name_b, "10.7.0.2")
        assert "Address: 10.7.0.5" in _lookup(a, name_a, "169.254.169.253")
        assert "Address: 10.7.0.5" in _lookup(b, name_a, "10.7.0.2")
        assert "Address: 10.7.1.6" in _lookup(b, name_b, "169.254.169.253")
        # The reverse (PTR) of an address of the block.
        assert f"name = {name_b}" in _lookup(a, "10.7.1.6", "10.7.0.2")
        # A name of the domain outside the block: no such name, never forwarded.
        assert "NXDOMAIN" in _lookup(a, f"ip-10-8-1-6.{DOMAIN}", "10.7.0.2")
        # Any other name: no upstream resolver is set, so it is refused.
        assert "REFUSED" in _lookup(a, "example.com", "10.7.0.2")
        # DNS hostnames off: the VPC's names no longer resolve; the resolver still answers.
        await networks.set_vpc_dns(vpc, replace(DNS, hostnames=False))
        assert "NXDOMAIN" in _lookup(b, name_a, "10.7.0.2")
        assert "NXDOMAIN" in _lookup(a, name_a, "169.254.169.253")
        await networks.set_vpc_dns(vpc, DNS)
        assert "Address: 10.7.0.5" in _lookup(b, name_a, "10.7.0.2")
        # DNS support off: nothing answers at all.
        await networks.set_vpc_dns(vpc, replace(DNS, support=False))
        assert _lookup(b, name_a, "10.7.0.2") == "timeout"
        assert _lookup(a, name_a, "169.254.169.253") == "timeout"


async def test_a_vpc_resolver_never_answers_another_vpcs_names(
    networks: TenantNetworks,
) -> None:
    mine, theirs = _subnet(_vpc(), "10.7", 1), _subnet(_vpc(), "10.6", 1)
    async with guest(networks, "i-a", _nic(mine, 5)) as a, guest(networks, "i-b", _nic(theirs, 5)):
        assert "Address: 10.7.1.5" in _lookup(a, f"ip-10-7-1-5.{DOMAIN}", "10.7.0.2")
        assert "NXDOMAIN" in _lookup(a, f"ip-10-6-1-5.{DOMAIN}", "10.7.0.2")
        assert "NXDOMAIN" in _lookup(a, f"ip-10-6-1-5.{DOMAIN}", "169.254.169.253")


async def test_a_peer_blocks_names_resolve_only_while_the_router_is_told_them(
    networks: TenantNetworks,
) -> None:
    """Decision 0139's addendum: a VPC peered with one allowing DNS resolution from it is told
    that VPC's block (``VpcDns.peer_blocks``); its resolver answers those names then (A and
    PTR, at both addresses), whatever its own hostnames, and no longer once told without
    it. The other VPC's resolver is not changed by it."""
    vpc = _vpc()
    mine, theirs = _subnet(vpc, "10.7", 1), _subnet(_vpc(), "10.6", 1)
    peer_name, own_name = f"ip-10-6-1-5.{DOMAIN}", f"ip-10-7-1-5.{DOMAIN}"
    peered = replace(DNS, peer_blocks=("10.6.0.0/16",))
    async with (
        guest(networks, "i-a", _nic(mine, 5)) as a,
        guest(networks, "i-b", _nic(theirs, 5)) as b,
    ):
        assert "NXDOMAIN" in _lookup(a, peer_name, "10.7.0.2")
        await networks.set_vpc_dns(vpc, peered)
        assert "Address: 10.6.1.5" in _lookup(a, peer_name, "10.7.0.2")
        assert "Address: 10.6.1.5" in _lookup(a, peer_name, "169.254.169.253")
        assert f"name = {peer_name}" in _lookup(a, "10.6.1.5", "10.7.0.2")
        assert "Address: 10.7.1.5" in _lookup(a, own_name, "10.7.0.2")
        # Nothing beyond the peer's block; and one way only: the peer's resolver was not told.
        assert "NXDOMAIN" in _lookup(a, f"ip-10-5-1-5.{DOMAIN}", "10.7.0.2")
        assert "NXDOMAIN" in _lookup(b, own_name, "10.6.0.2")
        # Its own hostnames off: its own names go, the peer's stay (the control plane lists a
        # peer block by the peer VPC's attributes).
        await networks.set_vpc_dns(vpc, replace(peered, hostnames=False))
        assert "NXDOMAIN" in _lookup(a, own_name, "10.7.0.2")
        assert "Address: 10.6.1.5" in _lookup(a, peer_name, "10.7.0.2")
        # Told without it (the option off, the connection deleted): no such name again.
        await networks.set_vpc_dns(vpc, DNS)
        assert "NXDOMAIN" in _lookup(a, peer_name, "10.7.0.2")
        assert "Address: 10.7.1.5" in _lookup(a, own_name, "10.7.0.2")


PUBLIC_SUFFIX = "eu-fr-1.compute.cloud.example.fr"


async def test_a_public_name_resolves_to_the_private_address_inside_the_vpc(
    networks: TenantNetworks,
) -> None:
    """Decision 0151: the public names of the VPC's instances the router is told
    (``VpcDns.public_names``) are answered with the private addresses, at both addresses, so
    traffic between instances stays in the VPC; the private address's reverse stays its
    ``ip-`` name; other public names are not the router's (refused without an upstream), nor
    the names it is no longer told."""
    vpc = _vpc()
    subnet = _subnet(vpc, "10.7", 1)
    a_name, b_name = f"ec2-100-66-0-5.{PUBLIC_SUFFIX}", f"ec2-100-66-0-6.{PUBLIC_SUFFIX}"
    named = replace(DNS, public_names=((a_name, "10.7.1.5"), (b_name, "10.7.1.6")))
    async with (
        guest(networks, "i-a", _nic(subnet, 5)) as a,
        guest(networks, "i-b", _nic(subnet, 6)) as b,
    ):
        assert "REFUSED" in _lookup(a, b_name, "10.7.0.2")
        await networks.set_vpc_dns(vpc, named)
        assert "Address: 10.7.1.6" in _lookup(a, b_name, "10.7.0.2")
        assert "Address: 10.7.1.5" in _lookup(b, a_name, "169.254.169.253")
        assert "Address: 10.7.1.5" in _lookup(a, a_name, "10.7.0.2")  # its own
        assert f"name = ip-10-7-1-6.{DOMAIN}" in _lookup(a, "10.7.1.6", "10.7.0.2")
        other = _lookup(a, f"ec2-100-66-0-7.{PUBLIC_SUFFIX}", "10.7.0.2")
        assert "REFUSED" in other and "Address: 10.7" not in other
        # Hostnames off, the control plane tells no public name: not answered any more.
        await networks.set_vpc_dns(vpc, replace(DNS, hostnames=False))
        gone = _lookup(a, b_name, "10.7.0.2")
        assert "REFUSED" in gone and "10.7.1.6" not in gone


async def test_an_interface_endpoints_private_names_resolve_to_its_addresses(
    networks: TenantNetworks,
) -> None:
    """Decision 0166: with an Interface endpoint's private DNS on, the control plane tells
    the router the object store's name with each of the endpoint's addresses; the name and
    every name under it (a virtual-hosted bucket's) are answered with both."""
    vpc = _vpc()
    subnet = _subnet(vpc, "10.7", 1)
    store = "s3.eu-fr-1.example.test"
    named = replace(DNS, public_names=((store, "10.7.1.200"), (store, "10.7.2.200")))
    async with guest(networks, "i-a", _nic(subnet, 5)) as a:
        await networks.set_vpc_dns(vpc, named)
        for name in (store, f"reports.{store}"):
            answer = _lookup(a, name, "10.7.0.2")
            assert "Address: 10.7.1.200" in answer and "Address: 10.7.2.200" in answer


DHCP_EVENT = """#!/bin/sh
[ "$1" = bound ] && echo "dns=$dns domain=$domain ntp=$ntpsrv wins=$wins"
exit 0
"""


def _lease(client: Guest, tmp_path: Path) -> str:
    script = tmp_path / f"event-{secrets.token_hex(3)}"
    script.write_text(DHCP_EVENT)
    script.chmod(0o700)
    done = client.run(
        "busybox", "udhcpc", "-i", "eth0", "-f", "-n", "-q", "-t", "5", "-T", "1",
        "-O", "ntpsrv", "-O", "wins", "-s", str(script), timeout=30,
    )  # fmt: skip
    return done.stdout


async def test_dhcp_hands_out_the_vpcs_options(networks: TenantNetworks, tmp_path: Path) -> None:
    vpc = _vpc()
    subnet = _subnet(vpc, "10.7", 3)
    async with guest(networks, "i-a", _nic(subnet, 5)) as a:
        # EC2's default options: the resolver and the Region's domain.
        assert f"dns=10.7.0.2 domain={DOMAIN} ntp= wins=" in _lease(a, tmp_path)
        # A DHCP options set of the tenant's.
        options = replace(
            DNS,
            domain_name="corp.example",
            name_servers=("192.0.2.53", "AmazonProvidedDNS"),
            ntp_servers=("192.0.2.123",),
            netbios_name_servers=("192.0.2.137",),
            netbios_node_type=2,
        )
        await networks.set_vpc_dns(vpc, options)
        assert (
            "dns=192.0.2.53 10.7.0.2 domain=corp.example ntp=192.0.2.123 wins=192.0.2.137"
            in _lease(a, tmp_path)
        )
        # DNS support off: the Amazon-provided resolver is not handed out, the others are.
        await networks.set_vpc_dns(vpc, replace(options, support=False))
        assert "dns=192.0.2.53 domain=corp.example" in _lease(a, tmp_path)


async def test_other_names_go_to_the_upstream_resolvers(tmp_path: Path) -> None:
    """``hypervisor_dns_upstream``: a resolver of the host's own (on an address of its
    loopback, reached from the router's transit address) answers the names that are not the
    VPC's; the VPC's own are still answered by the router, never asked upstream."""
    with outside_addresses() as [upstream]:
        pidfile = tmp_path / "upstream.pid"
        subprocess.run(
            ["dnsmasq", f"--pid-file={pidfile}", "--port=53", "--bind-interfaces",
             f"--listen-address={upstream}", "--no-hosts", "--no-resolv",
             "--address=/example.test/192.0.2.99", f"--address=/{DOMAIN}/192.0.2.98",
             f"--address=/{PUBLIC_SUFFIX}/100.66.0.99"],
            check=True,
        )  # fmt: skip
        manager = TenantNetworks(
            tmp_path / "net", replace(random_layout("u"), dns_upstream=(upstream,))
        )
        try:
            own_public = f"ec2-100-66-0-5.{PUBLIC_SUFFIX}"
            named = replace(DNS, public_names=((own_public, "10.7.1.5"),))
            subnet = _subnet(_vpc(), "10.7", 1, named)
            async with guest(manager, "i-a", _nic(subnet, 5)) as a:
                assert "Address: 192.0.2.99" in _lookup(a, "www.example.test", "10.7.0.2")
                assert "Address: 10.7.1.5" in _lookup(a, f"ip-10-7-1-5.{DOMAIN}", "10.7.0.2")
                assert "NXDOMAIN" in _lookup(a, f"ip-10-6-1-5.{DOMAIN}", "10.7.0.2")
                # Its VPC's public names: the private address; another VPC's: the public
                # one, as the operator's DNS answers it (decision 0151).
                assert "Address: 10.7.1.5" in _lookup(a, own_public, "10.7.0.2")
                other = _lookup(a, f"ec2-100-66-0-7.{PUBLIC_SUFFIX}", "10.7.0.2")
                assert "Address: 100.66.0.99" in other
        finally:
            for network_id in list(manager._state.networks):
                await manager.remove(network_id)
            subprocess.run(["kill", pidfile.read_text().strip()], check=False)
