"""The router's Network Load Balancer table (decision 0191), rendered: a DNAT per listener
over its targets by ``numgen`` (one target: a plain DNAT; none: no rule), no source
translation, the node addresses the router holds on each subnet's link."""

from __future__ import annotations

from dataclasses import replace

from andromede.compute.driver_network import FirewallRule, InstanceFirewall
from andromede.hypervisor.load_balancer_rules import (
    LoadBalancerSubnet,
    counter_name,
    flow_mark,
    listener_addresses,
    parse_counter_name,
    render_load_balancers,
    translated_by,
)
from andromede.hypervisor.load_balancers import tracked_flows
from andromede.hypervisor.router_firewall import render_firewall
from andromede.loadbalancing.model import ForwardingView

SUBNETS = (LoadBalancerSubnet("10.0.1.0/24", "br1"), LoadBalancerSubnet("10.0.2.0/24", "br2"))


def _view(targets: tuple[tuple[str, int], ...], port: int = 80) -> ForwardingView:
    return ForwardingView("l1", "vpc-1", ("10.0.1.200", "10.0.2.200"), port, targets)


def test_two_targets_are_chosen_by_numgen_over_an_address_and_port_map() -> None:
    script = render_load_balancers([_view((("10.0.2.11", 7000), ("10.0.2.12", 7001)))])
    assert script.startswith("table ip andromede_nlb\ndelete table ip andromede_nlb\n")
    assert (
        "    ip daddr { 10.0.1.200, 10.0.2.200 } tcp dport 80 dnat ip to numgen random mod 2"
        " map { 0 : 10.0.2.11 . 7000, 1 : 10.0.2.12 . 7001 }"
    ) in script
    assert "type nat hook prerouting priority dstnat - 5; policy accept;" in script
    assert "snat" not in script and "masquerade" not in script  # the client's address kept


def test_one_target_is_a_plain_dnat_and_none_leaves_the_port_closed() -> None:
    one = render_load_balancers([_view((("10.0.2.11", 80),), port=443)])
    assert "tcp dport 443 dnat ip to 10.0.2.11:80" in one
    assert "numgen" not in one
    none = render_load_balancers([_view(())])
    assert "dnat" not in none
    assert "chain prerouting" in render_load_balancers([])


def test_listener_addresses_by_subnet_link() -> None:
    held = listener_addresses([_view(()), _view((), port=443)], SUBNETS)
    assert held == {"br1": ["10.0.1.200"], "br2": ["10.0.2.200"]}


def test_security_groups_drop_a_new_flow_from_a_source_not_admitted() -> None:
    """Session 49: the groups' ingress on the listener's port, merged; other ports' and
    other protocols' rules left out; no rule admitting anything drops every new flow."""
    allowed = (
        ("tcp", 80, 90, "10.0.1.0/25"),
        ("tcp", 80, 80, "10.0.1.128/25"),
        ("udp", 80, 80, "172.16.0.0/12"),
        ("tcp", 443, 443, "192.168.0.0/16"),
        ("-1", 0, 65535, "10.9.9.9/32"),
    )
    view = replace(_view((("10.0.2.11", 80),)), allowed=allowed)
    script = render_load_balancers([view])
    assert (
        "    ip daddr { 10.0.1.200, 10.0.2.200 } tcp dport 80 ct state new"
        " ip saddr != { 10.0.1.0/24, 10.9.9.9/32 } drop"
    ) in script
    assert "type filter hook prerouting priority dstnat - 10;" in script
    closed = render_load_balancers([replace(view, allowed=())])
    assert "tcp dport 80 ct state new drop" in closed
    opened = render_load_balancers([replace(view, allowed=(("-1", 0, 65535, "0.0.0.0/0"),))])
    assert "drop" not in opened
    assert "drop" not in render_load_balancers([_view((("10.0.2.11", 80),))])


def test_each_node_address_has_a_flow_and_a_byte_counter() -> None:
    script = render_load_balancers([_view((("10.0.2.11", 80),))])
    assert "  counter f_10_0_1_200_80 { }" in script
    assert "  counter b_10_0_2_200_80 { }" in script
    assert '    ip daddr 10.0.1.200 tcp dport 80 counter name "f_10_0_1_200_80"' in script
    assert (
        "    ct original ip daddr 10.0.2.200 ct original protocol tcp ct original proto-dst 80"
        ' counter name "b_10_0_2_200_80"'
    ) in script
    assert parse_counter_name("f_10_0_1_200_80") == ("f", "10.0.1.200", 80, "tcp")
    assert parse_counter_name("x_10_0_1_200_80") is None
    assert parse_counter_name(counter_name("b", "10.0.2.200", 443)) == (
        "b",
        "10.0.2.200",
        443,
        "tcp",
    )
    assert "counter" not in render_load_balancers([_view(())])  # nothing forwarded


def test_a_tcp_udp_listener_translates_both_transports_and_counts_each() -> None:
    """Session 50: one DNAT, guard and pair of counters per transport; a new flow is marked
    with its node's address."""
    view = replace(
        _view((("10.0.2.11", 53),), port=53),
        protocols=("tcp", "udp"),
        allowed=(("udp", 53, 53, "10.0.1.0/24"), ("tcp", 53, 53, "10.0.3.0/24")),
    )
    script = render_load_balancers([view])
    for transport in ("tcp", "udp"):
        assert (
            f"    ip daddr {{ 10.0.1.200, 10.0.2.200 }} {transport} dport 53 dnat ip to "
            "10.0.2.11:53"
        ) in script
    assert (
        "    ip daddr { 10.0.1.200, 10.0.2.200 } udp dport 53 ct state new"
        " ip saddr != { 10.0.1.0/24 } drop"
    ) in script
    assert "tcp dport 53 ct state new ip saddr != { 10.0.3.0/24 } drop" in script
    assert (
        '    ip daddr 10.0.2.200 udp dport 53 counter name "fu_10_0_2_200_53"'
        " ct mark set 0x0a0002c8"
    ) in script
    assert (
        "    ct original ip daddr 10.0.1.200 ct original protocol udp ct original proto-dst 53"
        ' counter name "bu_10_0_1_200_53"'
    ) in script
    assert parse_counter_name("bu_10_0_1_200_53") == ("b", "10.0.1.200", 53, "udp")
    udp_only = render_load_balancers([replace(view, protocols=("udp",), allowed=None)])
    assert "tcp" not in udp_only.replace("ct original protocol", "")
    assert "udp dport 53 dnat ip to 10.0.2.11:53" in udp_only


def test_a_rule_naming_one_address_also_admits_what_that_node_translated() -> None:
    assert flow_mark("10.0.1.200") == "0x0a0001c8"
    rule = FirewallRule("udp", 53, 53, "10.0.1.200/32")
    assert translated_by(rule) == "ct mark 0x0a0001c8"
    assert translated_by(FirewallRule("-1", 0, 65535, "10.0.1.200/32")) == "ct mark 0x0a0001c8"
    assert translated_by(FirewallRule("tcp", 53, 53, "10.0.1.0/24")) is None
    assert translated_by(FirewallRule("icmp", -1, -1, "10.0.1.200/32")) is None


def test_tracked_flows_are_counted_by_original_destination() -> None:
    """``/proc/net/nf_conntrack``'s lines: the original tuple first; a TCP flow closed or in
    TIME_WAIT is no active flow."""
    table = "\n".join(
        [
            "ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.1.11 dst=10.0.1.200 sport=4000"
            " dport=80 src=10.0.2.11 dst=10.0.1.11 sport=7000 dport=4000 [ASSURED] mark=0 use=1",
            "ipv4     2 tcp      6 119 TIME_WAIT src=10.0.1.11 dst=10.0.1.200 sport=4001"
            " dport=80 src=10.0.2.11 dst=10.0.1.11 sport=7000 dport=4001 [ASSURED] mark=0 use=1",
            "ipv4     2 udp      17 29 src=10.0.1.11 dst=10.0.1.200 sport=5000 dport=53"
            " src=10.0.2.12 dst=10.0.1.11 sport=53 dport=5000 mark=0 use=1",
            "ipv4     2 udp      17 20 src=10.0.1.12 dst=10.0.1.200 sport=5001 dport=53"
            " [UNREPLIED] src=10.0.2.12 dst=10.0.1.12 sport=53 dport=5001 mark=0 use=1",
            "ipv4     2 icmp     1 29 src=10.0.1.11 dst=10.0.1.200 type=8 code=0 id=1"
            " src=10.0.1.200 dst=10.0.1.11 type=0 code=0 id=1 mark=0 use=1",
            "garbage",
        ]
    )
    assert tracked_flows(table.splitlines()) == {
        ("10.0.1.200", 80, "tcp"): 1,
        ("10.0.1.200", 53, "udp"): 2,
    }


def test_a_target_s_ingress_chain_admits_the_marked_flows_of_a_rule_s_address() -> None:
    """Session 50: the router's ingress chain of a target holds, beside a rule on one
    address, the same rule on that address's flow mark; a range's rule has no twin."""
    ingress = (
        FirewallRule("udp", 53, 53, "10.0.1.200/32"),
        FirewallRule("tcp", 22, 22, "10.0.0.0/16"),
    )
    ruleset = render_firewall(
        {"10.0.2.11": InstanceFirewall(ingress=ingress)},
        transit_cidr="100.64.0.0/16",
        public_cidr="100.65.0.0/16",
        nat={"10.0.2.11": "100.65.0.1"},
        host_transit_ip="100.64.0.1",
        imds_port=16925,
    )
    chain = ruleset.split("  chain ingress_0 {\n")[1].split("\n  }")[0].splitlines()
    assert chain == [
        "    ip saddr 10.0.1.200/32 udp dport 53 accept",
        "    ct mark 0x0a0001c8 udp dport 53 accept",
        "    ip saddr 10.0.0.0/16 tcp dport 22 accept",
        "    drop",
    ]
