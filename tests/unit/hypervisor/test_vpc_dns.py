"""The VPC resolver's and DHCP servers' dnsmasq arguments (andromede.hypervisor.vpc_dns), the
router's input rule for it, the upstream setting and the state file keeping a VPC's DNS
(decision 0143), the peer blocks a resolver answers too and their way over the agent's wire
(decision 0139's addendum). The real-kernel behaviour is tests/contract/test_vpc_dns.py's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from andromede.compute.driver_network import (
    NetworkSpec,
    VpcDns,
)
from andromede.hypervisor.network_state import NetworkState, load_state, save_state
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout
from andromede.hypervisor.vpc_dns import (
    dhcp_option_args,
    resolver_address,
    resolver_addresses,
    resolver_command,
)
from andromede.hypervisor.wire import decode, encode
from andromede.settings import Settings

DNS = VpcDns(support=True, hostnames=True, domain="ec2.internal", domain_name="ec2.internal")


def test_the_resolver_is_at_the_blocks_base_plus_two_and_the_link_local_address() -> None:
    assert resolver_address("10.0.0.0/16") == "10.0.0.2"
    assert resolver_address("172.31.0.0/16") == "172.31.0.2"
    assert resolver_addresses("10.42.16.0/20") == ("10.42.16.2", "169.254.169.253")


def test_the_resolver_serves_the_vpcs_names_and_forwards_the_rest_upstream(tmp_path: Path) -> None:
    command = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.0.0.0/16", dns=DNS, upstream=("192.0.2.53",)
    )
    assert command == [
        "dnsmasq", f"--pid-file={tmp_path / 'r.pid'}", "--port=53", "--bind-interfaces",
        "--listen-address=10.0.0.2", "--listen-address=169.254.169.253",
        "--no-hosts", "--no-resolv", "--domain-needed", "--bogus-priv",
        "--local=/ec2.internal/", "--synth-domain=ec2.internal,10.0.0.0/16,ip-",
        "--server=192.0.2.53",
    ]  # fmt: skip
    # Hostnames off: the domain is still answered here ("no such name"), never forwarded.
    off = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.0.0.0/16",
        dns=VpcDns(support=True, hostnames=False, domain="ec2.internal"), upstream=(),
    )  # fmt: skip
    assert off is not None
    assert "--local=/ec2.internal/" in off
    assert not [arg for arg in off if arg.startswith(("--synth-domain", "--server"))]
    # Support off: no resolver at all.
    unsupported = VpcDns(support=False, hostnames=True, domain="ec2.internal")
    none = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.0.0.0/16", dns=unsupported, upstream=()
    )
    assert none is None


def test_dhcp_hands_out_the_options_set_with_the_resolver_in_place_of_amazon_provided() -> None:
    assert dhcp_option_args("10.0.0.0/16", DNS) == [
        "--dhcp-option=option:dns-server,10.0.0.2",
        "--dhcp-option=option:domain-name,ec2.internal",
    ]
    options = VpcDns(
        support=False,
        domain="ec2.internal",
        domain_name="corp.example",
        name_servers=("AmazonProvidedDNS", "192.0.2.1", "192.0.2.1"),
        ntp_servers=("192.0.2.123", "192.0.2.124"),
        netbios_name_servers=("192.0.2.137",),
        netbios_node_type=2,
    )
    assert dhcp_option_args("10.0.0.0/16", options) == [
        "--dhcp-option=option:dns-server,192.0.2.1",
        "--dhcp-option=option:domain-name,corp.example",
        "--dhcp-option=option:ntp-server,192.0.2.123,192.0.2.124",
        "--dhcp-option=option:netbios-ns,192.0.2.137",
        "--dhcp-option=option:netbios-nodetype,2",
    ]
    nothing = VpcDns(support=False, name_servers=("AmazonProvidedDNS",))
    assert dhcp_option_args("10.0.0.0/16", nothing) == []


def test_the_router_lets_its_subnets_reach_the_resolver_only_when_it_runs() -> None:
    common = {
        "transit_cidr": "100.64.0.0/16",
        "public_cidr": "100.65.0.0/16",
        "nat": {},
        "host_transit_ip": "100.64.0.1",
        "imds_port": 16925,
        "bridges": ["br0", "br1"],
    }
    on = render_firewall({}, **common, resolver=resolver_addresses("10.0.0.0/16"))  # type: ignore[arg-type]
    assert (
        '    iifname { "br0", "br1" } ip daddr { 10.0.0.2, 169.254.169.253 }'
        " meta l4proto { tcp, udp } th dport 53 accept"
    ) in on.splitlines()
    off = render_firewall({}, **common)  # type: ignore[arg-type]
    assert "dport 53" not in off


def test_the_upstream_resolvers_are_ipv4_addresses(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).hypervisor_dns_upstream == ()
    given = Settings(data_dir=tmp_path, hypervisor_dns_upstream=("192.0.2.53", "192.0.2.54"))
    assert given.hypervisor_dns_upstream == ("192.0.2.53", "192.0.2.54")
    for wrong in (("resolver.example",), ("2001:db8::53",), ("192.0.2.0/24",)):
        with pytest.raises(ValueError, match="hypervisor_dns_upstream"):
            Settings(data_dir=tmp_path, hypervisor_dns_upstream=wrong)
    with pytest.raises(ValueError):
        Settings(data_dir=tmp_path, hypervisor_dns_upstream=tuple(f"192.0.2.{n}" for n in range(9)))
    with pytest.raises(ValueError):
        NetworkLayout(dns_upstream=("not an address",))


def test_the_state_file_keeps_each_vpcs_dns(tmp_path: Path) -> None:
    options = VpcDns(
        support=True, hostnames=True, domain="ec2.internal", domain_name="corp.example",
        name_servers=("192.0.2.1", "AmazonProvidedDNS"), ntp_servers=("192.0.2.123",),
        netbios_name_servers=("192.0.2.137",), netbios_node_type=8,
        peer_blocks=("10.2.0.0/16",),
    )  # fmt: skip
    state = NetworkState(
        dns={"vpc-1": options},
        specs={"subnet-1": NetworkSpec("subnet-1", "t", "10.0.1.0/24", dns=options)},
    )
    save_state(tmp_path / "networks.json", state)
    again = load_state(tmp_path / "networks.json")
    assert again.dns == {"vpc-1": options}
    assert again.specs["subnet-1"].dns == options


def test_a_resolver_answers_its_peers_blocks_too(tmp_path: Path) -> None:
    """The blocks of peered VPCs allowing resolution from this one are synthesised beside
    its own; with its own hostnames off, theirs only; with support off, nothing runs."""
    peered = VpcDns(
        support=True, hostnames=True, domain="ec2.internal",
        peer_blocks=("10.2.0.0/16", "172.20.0.0/20"),
    )  # fmt: skip
    command = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.1.0.0/16", dns=peered, upstream=()
    )
    assert command is not None
    assert [arg for arg in command if arg.startswith(("--synth-domain", "--local"))] == [
        "--local=/ec2.internal/",
        "--synth-domain=ec2.internal,10.1.0.0/16,ip-",
        "--synth-domain=ec2.internal,10.2.0.0/16,ip-",
        "--synth-domain=ec2.internal,172.20.0.0/20,ip-",
    ]
    own_off = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.1.0.0/16",
        dns=VpcDns(hostnames=False, domain="ec2.internal", peer_blocks=("10.2.0.0/16",)),
        upstream=(),
    )  # fmt: skip
    assert own_off is not None
    assert [arg for arg in own_off if arg.startswith("--synth-domain")] == [
        "--synth-domain=ec2.internal,10.2.0.0/16,ip-"
    ]
    unsupported = VpcDns(support=False, domain="ec2.internal", peer_blocks=("10.2.0.0/16",))
    assert (
        resolver_command(
            pidfile=tmp_path / "r.pid", vpc_cidr="10.1.0.0/16", dns=unsupported, upstream=()
        )
        is None
    )
    with pytest.raises(ValueError):
        VpcDns(peer_blocks=("10.2.0.0/33",))


def test_peer_blocks_cross_the_agents_wire_and_are_left_out_while_none() -> None:
    peered = VpcDns(hostnames=True, domain="ec2.internal", peer_blocks=("10.2.0.0/16",))
    assert decode(VpcDns, encode(peered)) == peered
    # An agent older than peer blocks reads a VPC's DNS without them still.
    assert "peer_blocks" not in encode(VpcDns(domain="ec2.internal"))
    assert encode(peered)["peer_blocks"] == ["10.2.0.0/16"]


PUBLIC = "ec2-100-66-0-7.eu-fr-1.compute.cloud.example.fr"


def test_the_resolver_answers_public_names_with_private_addresses(tmp_path: Path) -> None:
    """Decision 0151: each public name of the VPC's instances is an A record of the private
    address (no PTR: the private address's reverse stays its ip- name); with support off,
    nothing runs; a name or an address that is not one is refused before any argument."""
    named = VpcDns(hostnames=True, domain="ec2.internal", public_names=((PUBLIC, "10.1.0.4"),))
    command = resolver_command(
        pidfile=tmp_path / "r.pid", vpc_cidr="10.1.0.0/16", dns=named, upstream=("192.0.2.53",)
    )
    assert command is not None
    assert [arg for arg in command if arg.startswith(("--address", "--host-record"))] == [
        f"--address=/{PUBLIC}/10.1.0.4"
    ]
    assert command[-1] == "--server=192.0.2.53"  # other public names: the operator's DNS
    off = replace(named, support=False)
    assert resolver_command(pidfile=tmp_path / "r.pid", vpc_cidr="10.1.0.0/16", dns=off,
                            upstream=()) is None  # fmt: skip
    for bad in ((PUBLIC, "10.1.0.256"), ("a/b.fr", "10.1.0.4"), ("x.fr/#", "10.1.0.4"),
                ("Upper.fr", "10.1.0.4"), ("bare", "10.1.0.4")):  # fmt: skip
        with pytest.raises(ValueError):
            VpcDns(public_names=(bad,))


def test_public_names_cross_the_wire_and_the_state_file(tmp_path: Path) -> None:
    named = VpcDns(hostnames=True, domain="ec2.internal", public_names=((PUBLIC, "10.1.0.4"),))
    assert decode(VpcDns, encode(named)) == named
    assert encode(named)["public_names"] == [[PUBLIC, "10.1.0.4"]]
    # An agent older than public names reads a VPC's DNS without them still.
    assert "public_names" not in encode(VpcDns(domain="ec2.internal"))
    save_state(tmp_path / "networks.json", NetworkState(dns={"vpc-1": named}))
    assert load_state(tmp_path / "networks.json").dns == {"vpc-1": named}
