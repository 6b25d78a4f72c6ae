"""Elastic IPs on a host without a kernel: the checks an address passes, the router's rules for
it, the uplink's guard and setting (the real kernel: tests/contract/test_tenant_networks.py)."""

from __future__ import annotations

import pytest

from andromede.compute.driver_network import (
    InstanceFirewall,
)
from andromede.hypervisor.elastic_ips import check_elastic_ip, render_uplink_guard
from andromede.hypervisor.errors import AddressRefused
from andromede.hypervisor.router_firewall import render_firewall
from andromede.hypervisor.tenant_network import NetworkLayout

RANGES = ("100.64.0.0/16", "100.65.0.0/16")


def test_an_address_is_checked_and_given_back_in_its_usual_form() -> None:
    held = {"198.18.0.9": "i-other"}
    assert check_elastic_ip("198.18.0.5", "i-one", host_ranges=RANGES, held=held) == "198.18.0.5"
    # What an instance holds already is its own to set again.
    assert check_elastic_ip("198.18.0.9", "i-other", host_ranges=RANGES, held=held) == "198.18.0.9"
    for address, reason in [
        ("198.18.0.9", "routed to i-other"),
        ("100.65.3.4", "own range 100.65.0.0/16"),
        ("100.64.0.1", "own range 100.64.0.0/16"),
        ("192.0.2.7", "an address of the host"),
        ("255.255.255.255", "unicast"),
        ("240.0.0.1", "unicast"),
        ("169.254.169.254", "unicast"),
        ("198.018.0.5", "not an IPv4 address"),
        ("", "not an IPv4 address"),
    ]:
        with pytest.raises(AddressRefused, match=reason):
            check_elastic_ip(
                address, "i-one", host_ranges=RANGES, host_addresses=("192.0.2.7",), held=held
            )


def test_the_router_nats_an_elastic_ip_and_keeps_the_metadata_on_the_host_facing_address() -> None:
    rules = render_firewall(
        {"10.9.1.4": InstanceFirewall(), "10.9.1.5": InstanceFirewall()},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={"10.9.1.4": "100.65.0.1", "10.9.1.5": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        unmapped=["10.9.1.5"],
        elastic={"10.9.1.5": "198.18.0.5"},
    )
    # Unmapped but with an Elastic IP: reached at it (not at its host-facing address), and
    # not dropped on its way out.
    assert 'iifname "transit" ip daddr 198.18.0.5 dnat to 10.9.1.5' in rules
    assert "ip daddr 100.65.0.2 dnat" not in rules
    assert "saddr { 10.9.1.5 } drop" not in rules
    postrouting = rules.split("chain postrouting {")[1].split("\n  }")[0].splitlines()
    metadata = postrouting.index(
        '    oifname "transit" ip saddr 10.9.1.5 ip daddr 100.64.0.1 snat to 100.65.0.2'
    )
    assert postrouting.index('    oifname "transit" ip saddr 10.9.1.5 snat to 198.18.0.5') == (
        metadata + 1
    )
    # The other instance's rules are what they were.
    assert '    oifname "transit" ip saddr 10.9.1.4 snat to 100.65.0.1' in postrouting
    assert 'iifname "transit" ip daddr 100.65.0.1 dnat to 10.9.1.4' in rules


def test_the_uplink_guard_lets_in_only_the_elastic_ips_and_replies() -> None:
    guard = render_uplink_guard("eth1", "andr", ["198.18.0.6", "198.18.0.5"])
    assert "elements = { 198.18.0.5, 198.18.0.6 }" in guard
    assert 'iifname "eth1" oifname "andrt*" ct state established,related accept' in guard
    assert 'iifname "eth1" oifname "andrt*" ip daddr != @elastic drop' in guard
    assert "elements" not in render_uplink_guard("eth1", "andr", [])


@pytest.mark.parametrize("uplink", ["has space", "a-name-much-too-long", "eth0/1"])
def test_an_uplink_must_be_an_interface_name(uplink: str) -> None:
    with pytest.raises(ValueError, match="elastic_ip_uplink"):
        NetworkLayout(elastic_ip_uplink=uplink)
    assert NetworkLayout(elastic_ip_uplink="bond0.42").elastic_ip_uplink == "bond0.42"
    assert NetworkLayout().elastic_ip_uplink == ""  # none: nothing announced


def test_an_elastic_ip_on_a_secondary_address_is_nat_ed_there() -> None:
    """Decision 0161's addendum: an interface's Elastic IP translated to its secondary address
    reaches it there and what it sends from that address leaves from the Elastic IP; its
    primary keeps its own way."""
    rules = render_firewall(
        {"10.9.1.5": InstanceFirewall(), "10.9.1.9": InstanceFirewall()},
        transit_cidr="100.64.0.0/24",
        public_cidr="100.65.0.0/24",
        nat={"10.9.1.5": "100.65.0.2"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
        unmapped=["10.9.1.5", "10.9.1.9"],
        elastic={"10.9.1.9": "198.18.0.9"},
    )
    assert 'iifname "transit" ip daddr 198.18.0.9 dnat to 10.9.1.9' in rules
    postrouting = rules.split("chain postrouting {")[1].split("\n  }")[0].splitlines()
    assert '    oifname "transit" ip saddr 10.9.1.9 snat to 198.18.0.9' in postrouting
    assert '    oifname "transit" ip saddr 10.9.1.5 snat to 100.65.0.2' in postrouting
    # The primary, without a public address, still goes nowhere through the host.
    assert 'oifname "transit" ip saddr { 10.9.1.5 } drop' in rules
