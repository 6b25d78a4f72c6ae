"""The router's Network Load Balancer table (decision 0191), rendered: a DNAT per listener
over its targets by ``numgen`` (one target: a plain DNAT; none: no rule), no source
translation, the node addresses the router holds on each subnet's link."""

from __future__ import annotations

from dataclasses import replace

from andromede.hypervisor.load_balancer_rules import (
    LoadBalancerSubnet,
    counter_name,
    listener_addresses,
    parse_counter_name,
    render_load_balancers,
)
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
    assert parse_counter_name("f_10_0_1_200_80") == ("f", "10.0.1.200", 80)
    assert parse_counter_name("x_10_0_1_200_80") is None
    assert parse_counter_name(counter_name("b", "10.0.2.200", 443)) == ("b", "10.0.2.200", 443)
    assert "counter" not in render_load_balancers([_view(())])  # nothing forwarded
