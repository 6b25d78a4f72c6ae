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

**Inside the VPC** (decision 0179: a destination more specific than ``local`` — a subnet's
block, or the VPC's whole block when the local route's target is an interface): the packet an
appliance forwards on keeps its sender's source, so the rule keyed on that source would send
it back to the appliance. Three things keep it from looping (:func:`exempt_rules`, before
every table of this module): what a NIC with its source/destination check off sends from an
address it does not hold — what it forwards — is marked (:data:`FORWARDED`,
:func:`mark_lines`) and looked up in the main table; what arrives on a subnet's bridge for an
address of that subnet is delivered there (the last hop from another host, and traffic
within a subnet, which no route table redirects, as on EC2); and the first hop is told from
the others by the bridge it leaves through (the appliance's), so the appliance's ingress
rules judge it before the destination's (:func:`ingress_lines`, placed before the ingress
chains). The forward is asymmetric when only one table routes through the appliance: the
appliance's host may then see one direction of a connection only, which connection tracking
calls invalid (an ACK after a SYN it saw without the SYN-ACK); what it marks
:data:`ON_PATH` (to or from an appliance) is judged by the security groups instead of
dropped as invalid.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping, Sequence
from typing import Final

from andromede.compute.driver_network import (
    InterfaceRoute,
)

__all__ = [
    "EXEMPT_PRIORITY",
    "FORWARDED",
    "ON_PATH",
    "exempt_key",
    "exempt_rules",
    "exempt_spec",
    "ingress_lines",
    "mark_lines",
    "routing_commands",
    "stale_priorities",
]

# One table and rule per source subnet, numbered from its bridge slot, away from the NAT
# gateways' (1000 + slot) and below the main table's rule (32766).
_FIRST_TABLE: Final = 5000
_SLOTS: Final = 4096
# The rules that keep an appliance's forward from looping (decision 0179), before the tables.
EXEMPT_PRIORITY: Final = _FIRST_TABLE - 1
# Bits of the packet mark, set before routing, apart from the NAT gateways' whole values.
FORWARDED: Final = "0x00100000"
ON_PATH: Final = "0x00200000"


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


def _mark(value: str, mask: str) -> str:
    return f"{int(value, 16):#x}/{int(mask, 16):#x}"


def exempt_rules(
    routes: Sequence[InterfaceRoute], bridges: Mapping[str, tuple[int, str, str]]
) -> set[tuple[str, str, str]]:
    """The rules (at :data:`EXEMPT_PRIORITY`, looking up the main table) wanted while the
    router has routes to interfaces, as (input bridge, destination, mark): what an appliance
    forwards goes by the main table, and so does what arrives on a subnet's bridge for that
    subnet (see the module docstring). ``bridges`` as :func:`routing_commands` takes them."""
    if not routes:
        return set()
    wanted = {("", "", _mark(FORWARDED, FORWARDED))}
    for _, bridge, cidr in bridges.values():
        wanted.add((bridge, str(ipaddress.IPv4Network(cidr)), ""))
    return wanted


def exempt_key(rule: Mapping[str, object]) -> tuple[str, str, str] | None:
    """An ``ip -j rule show`` entry at :data:`EXEMPT_PRIORITY` as :func:`exempt_rules` keys
    it; None for a rule at another priority."""
    if rule.get("priority") != EXEMPT_PRIORITY:
        return None
    destination = f"{rule['dst']}/{rule.get('dstlen', 32)}" if "dst" in rule else ""
    mark = (
        _mark(str(rule["fwmark"]), str(rule.get("fwmask", "0xffffffff")))
        if "fwmark" in rule
        else ""
    )
    return str(rule.get("iif", "")), destination, mark


def exempt_spec(key: tuple[str, str, str]) -> str:
    """The selector of an ``ip rule`` command for a key of :func:`exempt_rules`."""
    bridge, destination, mark = key
    parts = [f"iif {bridge}"] if bridge else []
    parts += [f"to {destination}"] if destination else []
    parts += [f"fwmark {mark}"] if mark else []
    return " ".join(parts)


def mark_lines(
    routes: Sequence[InterfaceRoute],
    bridges: Mapping[str, str],
    forwarders: Mapping[str, Sequence[str]],
) -> list[str]:
    """A prerouting chain's lines (before the routing decision): :data:`FORWARDED` on what a
    NIC with its check off (``forwarders``: MAC → its addresses) sends from an address it
    does not hold; :data:`ON_PATH` on that, and on what a routed subnet sends to an
    interface's destinations on the interface's bridge here (``bridges``: network id →
    bridge)."""
    if not routes:
        return []
    both = f"{FORWARDED} | {ON_PATH}"
    lines = [
        f"    ether saddr {mac} ip saddr != {{ {', '.join(addresses)} }}"
        f" meta mark set meta mark | {both}"
        for mac, addresses in sorted(forwarders.items())
        if addresses
    ]
    for route in routes:
        bridge = bridges.get(route.target_network_id)
        if bridge is None:
            continue
        lines += [
            f'    iifname "{bridge}" ip saddr {route.cidr} ip daddr {destination}'
            f" meta mark set meta mark | {ON_PATH}"
            for destination in route.destinations
        ]
    return lines


def ingress_lines(
    routes: Sequence[InterfaceRoute],
    chains: Mapping[str, int],
    remote: Collection[str],
    bridges: Mapping[str, str],
) -> list[str]:
    """The forward chain's lines for what a subnet routes to an interface, after the sender's
    egress chain let it through and before the destinations' ingress chains (the destination
    may be an instance of the VPC, decision 0179): what leaves through the interface's bridge
    (``bridges``: network id → bridge) to the interface's ingress chain when it is plugged
    here (``chains``: private address → its number); let on towards its host when it is an
    overlay peer (``remote``), whose router judges it."""
    lines = []
    for route in routes:
        bridge = bridges.get(route.target_network_id)
        number = chains.get(route.target_ip)
        if bridge is None:
            continue
        if number is not None:
            verdict = f"jump ingress_{number}"
        elif route.target_ip in remote:
            verdict = "accept"
        else:
            continue
        lines += [
            f'    oifname "{bridge}" ip saddr {route.cidr} ip daddr {destination} {verdict}'
            for destination in route.destinations
        ]
    return lines
