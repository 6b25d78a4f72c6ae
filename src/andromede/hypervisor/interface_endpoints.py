"""A VPC router's lines for its Interface VPC endpoints (decision 0166), pure: for
:func:`~andromede.hypervisor.router_firewall.render_firewall`.

An Interface endpoint is addresses of the VPC's subnets (its network interfaces, held by the
router on their subnets' bridges so that a guest of the same subnet reaches them too). What
any subnet of the VPC sends to one of them on TCP 80 (443) is judged by the endpoint's
security groups, before anything else of the router changes it (a filter chain at the
prerouting hook ahead of the DNAT, where the destination port is still the guest's), then
DNAT'ed to the host's endpoint listener (its TLS listener), let through the forward chain by
its original destination as a gateway endpoint's is, and its source translated to the
instance's host-facing address **and a port of the endpoint's slot**
(:mod:`~andromede.compute.endpoint_ports`): the listener, which sees the connection's two ends
only, knows the endpoint by that port. While a router has Interface endpoints, what it sends
to a gateway endpoint leaves from ports below every slot, so neither passes for the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from andromede.compute.driver_network import (
    EndpointRoute,
    FirewallRule,
)
from andromede.compute.endpoint_ports import interface_source_ports

__all__ = ["interface_accepts", "interface_dnats", "interface_guard", "interface_snats"]


def _set(values: Sequence[str]) -> str:
    ordered = sorted(set(values))
    return ordered[0] if len(ordered) == 1 else "{ " + ", ".join(ordered) + " }"


def _all_addresses(routes: Sequence[EndpointRoute]) -> list[str]:
    return [a for r in routes for a in r.addresses]


def interface_dnats(
    routes: Sequence[EndpointRoute],
    ports: str,
    *,
    host_transit_ip: str,
    port: int,
    tls_port: int = 0,
) -> list[str]:
    """Prerouting (NAT) lines: from the router's bridges (``ports``, an nft interface match)
    to an endpoint's addresses, TCP 80 to the listener at ``port`` and 443 to the TLS
    listener at ``tls_port`` (none without one)."""
    addresses = _all_addresses(routes)
    if not addresses:
        return []
    match = f"    iifname {ports} ip daddr {_set(addresses)}"
    lines = [f"{match} tcp dport 80 dnat to {host_transit_ip}:{port}"]
    if tls_port:
        lines.append(f"{match} tcp dport 443 dnat to {host_transit_ip}:{tls_port}")
    return lines


def interface_guard(
    routes: Sequence[EndpointRoute],
    ports: str,
    rule_line: Callable[[FirewallRule, str, str], str],
) -> list[str]:
    """A base chain at the prerouting hook, before the DNAT: a new connection to an
    endpoint's address on TCP 80 or 443 meets the endpoint's ingress chain (its groups'
    rules, ``rule_line`` rendering each as a security group's), which accepts or drops."""
    if not _all_addresses(routes):
        return []
    lines = [
        "  chain endpoint_guard {",
        "    type filter hook prerouting priority -150; policy accept;",
    ]
    chains: list[str] = []
    for route in routes:
        if not route.addresses:
            continue
        name = f"endpoint_{route.slot}"
        lines.append(
            f"    iifname {ports} ip daddr {_set(route.addresses)} tcp dport {{ 80, 443 }}"
            f" ct state new jump {name}"
        )
        chains += [f"  chain {name} {{"]
        chains += [rule_line(rule, "saddr", "accept") for rule in route.ingress]
        chains += ["    drop", "  }"]
    return [*lines, "  }", *chains]


def interface_accepts(routes: Sequence[EndpointRoute], ports: str) -> list[str]:
    """Forward lines: what was DNAT'ed from an endpoint's address passes to the host, by its
    original destination (its groups judged it before the DNAT)."""
    addresses = _all_addresses(routes)
    if not addresses:
        return []
    return [
        f"    iifname {ports} ct original ip daddr {_set(addresses)}"
        " ct original protocol tcp accept"
    ]


def interface_snats(
    routes: Sequence[EndpointRoute],
    gateway_addresses: Sequence[str],
    nat: Mapping[str, str],
    *,
    transit: str,
) -> list[str]:
    """Postrouting lines, before the instances' own: each instance's (``nat``: private →
    host-facing address) connections to an Interface endpoint leave from the endpoint's
    slot's ports, and those to a gateway endpoint's addresses (``gateway_addresses``) from
    ports below every slot's. None while the router has no Interface endpoint."""
    if not _all_addresses(routes):
        return []
    lines = []
    for private, public in sorted(nat.items()):
        start = f'    oifname "{transit}" ip saddr {private} ct original ip daddr'
        for route in routes:
            if route.addresses:
                low, high = interface_source_ports(route.slot)
                lines.append(
                    f"{start} {_set(route.addresses)} meta l4proto tcp"
                    f" snat to {public}:{low}-{high}"
                )
        if gateway_addresses:
            low, high = interface_source_ports(-1)
            lines.append(
                f"{start} {_set(gateway_addresses)} meta l4proto tcp snat to {public}:{low}-{high}"
            )
    return lines
