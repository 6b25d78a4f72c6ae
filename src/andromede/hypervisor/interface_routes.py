"""Routes to network interfaces on a host (decision 0161's addendum), pure: the policy routes
and the forward chain's lines a VPC's router applies for them.

A subnet whose route table sends destinations to an interface (an appliance: a firewall, a
NAT instance, with its source/destination check off) gets a policy rule of its own looking up
a table of its own (:func:`routing_commands`), numbered from its bridge's slot apart from the
NAT gateways' (:mod:`~andromede.hypervisor.nat_gateways`): each destination via the
interface's primary address on its own subnet's bridge. The control plane sends the
destinations less every more specific route of the table (longest prefix wins there), so the
NAT gateways' tables and these never hold one block twice and their order does not matter; a
lookup that matches nothing here goes on to the main table.

What is forwarded so meets its sender's egress rules, then the interface's ingress rules
(:func:`ingress_lines`): the security groups of the appliance judge what is routed to it, as on
EC2, whatever the packet's destination address. Across hosts: the sender's router routes it
onto the interface's subnet's bridge, whose permanent neighbour for the interface's address is
the appliance host's router (an overlay peer, decision 0161); that router, holding the sender's
subnet as a stub, routes it by the same rule to the interface, its ingress rules judging it
there. Keyed on the source subnet's block, not the bridge it came in on, for that reason.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import Final

from andromede.compute.driver import InterfaceRoute

__all__ = ["ingress_lines", "routing_commands", "stale_priorities"]

# One table and rule per source subnet, numbered from its bridge slot, away from the NAT
# gateways' (1000 + slot) and below the main table's rule (32766).
_FIRST_TABLE: Final = 5000
_SLOTS: Final = 4096


def _priority(slot: int) -> int:
    return _FIRST_TABLE + slot


def routing_commands(
    routes: Sequence[InterfaceRoute],
    bridges: Mapping[str, tuple[int, str, str]],
    *,
    throw: Sequence[str],
) -> tuple[list[str], dict[int, str]]:
    """The ``ip -batch`` commands (inside the router's namespace) refilling each subnet's
    table, and the policy rules wanted (priority → source block). ``bridges``: network id →
    (slot, bridge, block) of the subnets built here. A route whose interface's subnet is not
    built here is left out (nothing here reaches its address); ``throw`` (the VPC's block, the
    host's ranges) go back to the main table."""
    commands = [f"route flush table {_priority(slot)}" for slot, _, _ in bridges.values()]
    wanted: dict[int, str] = {}
    for network_id, (slot, _, cidr) in sorted(bridges.items()):
        table = _priority(slot)
        lines = [
            f"route replace {destination} via {route.target_ip}"
            f" dev {bridges[route.target_network_id][1]} table {table}"
            for route in routes
            if route.network_id == network_id and route.target_network_id in bridges
            for destination in route.destinations
        ]
        if lines:
            wanted[table] = str(ipaddress.IPv4Network(cidr))
            commands += [f"route replace throw {block} table {table}" for block in throw]
            commands += lines
    return commands, wanted


def stale_priorities(
    listed: Sequence[Mapping[str, object]], wanted: Mapping[int, str]
) -> list[int]:
    """The priorities of this module's policy rules in ``listed`` (``ip -j rule show``) that
    are not ``wanted`` as they stand."""
    stale = []
    for rule in listed:
        priority = rule.get("priority")
        if not isinstance(priority, int) or not _FIRST_TABLE <= priority < _FIRST_TABLE + _SLOTS:
            continue
        source = f"{rule.get('src')}/{rule.get('srclen', 32)}"
        if wanted.get(priority) != source or rule.get("table") != str(priority):
            stale.append(priority)
    return stale


def ingress_lines(
    routes: Sequence[InterfaceRoute],
    chains: Mapping[str, int],
    remote: Collection[str],
) -> list[str]:
    """The forward chain's lines for what a subnet routes to an interface, after the sender's
    egress chain let it through: to the interface's ingress chain when it is plugged here
    (``chains``: private address → its number); let on towards its host when it is an
    overlay peer (``remote``), whose router judges it."""
    lines = []
    for route in routes:
        number = chains.get(route.target_ip)
        if number is not None:
            verdict = f"jump ingress_{number}"
        elif route.target_ip in remote:
            verdict = "accept"
        else:
            continue
        lines += [
            f"    ip saddr {route.cidr} ip daddr {destination} {verdict}"
            for destination in route.destinations
        ]
    return lines
