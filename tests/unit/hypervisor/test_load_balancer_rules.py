"""The router's Network Load Balancer table (decision 0191), rendered: a DNAT per listener
over its targets by ``numgen`` (one target: a plain DNAT; none: no rule), no source
translation, the node addresses the router holds on each subnet's link."""

from __future__ import annotations

from andromede.hypervisor.load_balancer_rules import (
    LoadBalancerSubnet,
    listener_addresses,
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
