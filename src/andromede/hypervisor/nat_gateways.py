"""NAT gateways on a host (decision 0129): the rules a VPC's router adds for them, pure.

A NAT gateway is applied by the routers of its VPC
(:class:`~andromede.compute.driver_network.NatRoute`).
One host — the gateway's *egress host* — translates: its router SNATs what the source subnets
send to the route's destinations to the gateway's Elastic IP as it leaves through the transit
link, lets it past the "no public address, nothing out" drop, and lets replies back by
connection tracking; nothing from outside opens a connection to the address. The host routes
the address into the router like an instance's Elastic IP (and announces it on the uplink).

Every other host of the VPC sends that traffic to the egress host's router instead of out of
its own transit link: a policy rule per source subnet looks up a table of the subnet's own
(:func:`routing_table`) holding each destination via a *hop* — a link-local address that is a
permanent neighbour at the egress host's router MAC on that subnet's bridge — so the packet is
routed over the subnet's VXLAN to the router that translates, the sender's security groups
applied on its own host first, as for any packet between hosts. The table throws the VPC's
block and the host's ranges back to the main table: within the VPC, and to the metadata
service, nothing changes. Replies come back de-NATed on the egress host and reach the
instance as any packet from another host does.

The forward chain tells NAT traffic apart by a packet mark set from source and destination,
since the chain has no other way to skip the drop that keeps an instance without a public
address off the transit link: :data:`NAT_MARK` for what this host translates (it may leave
through the transit link), :data:`FORWARD_MARK` for what another host translates (it may leave
only towards that host's router, never through this host's transit link).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from andromede.compute.driver_network import (
    NatRoute,
)

__all__ = [
    "FORWARD_MARK",
    "NAT_MARK",
    "NatHop",
    "forward_marks",
    "hops",
    "inbound_drop",
    "routing_table",
    "rule_priority",
    "snat_rules",
]

NAT_MARK: Final = "0x4e415400"
FORWARD_MARK: Final = "0x4e415401"
# The policy rules and tables of the sources' subnets: one each, numbered from the subnet's
# bridge slot (a namespace holds at most a few hundred subnets).
_FIRST_TABLE: Final = 1000
# The hops: link-local addresses (never the metadata address, 169.254.169.254), one per
# egress host a router forwards to.
_HOPS: Final = ipaddress.IPv4Network("169.254.253.0/24")


def rule_priority(slot: int) -> int:
    """The priority of the policy rule of the subnet on bridge ``br<slot>``."""
    return _FIRST_TABLE + slot


def _is_ours(priority: int) -> bool:
    return _FIRST_TABLE <= priority < _FIRST_TABLE + 4096


@dataclass(frozen=True, slots=True)
class NatHop:
    """Where a subnet's bridge sends what goes through another host's router: the hop
    address, a permanent neighbour at that router's MAC, and the host's VXLAN endpoint."""

    address: str
    via_address: str
    via_port: int


def hops(routes: Sequence[NatRoute]) -> dict[tuple[str, int], NatHop]:
    """The hop of each egress host the routes forward to, numbered in endpoint order (the same
    on every call with the same routes)."""
    endpoints = sorted({(r.via_address, r.via_port) for r in routes if not r.translated_here})
    return {
        endpoint: NatHop(str(_HOPS.network_address + 1 + n), *endpoint)
        for n, endpoint in enumerate(endpoints)
    }


def forward_marks(routes: Sequence[NatRoute]) -> list[str]:
    """The forward chain's lines marking NAT traffic: what a source subnet sends to one of its
    routes' destinations, :data:`NAT_MARK` when this host translates it, else
    :data:`FORWARD_MARK`."""
    return [
        f"    ip saddr {source.cidr} ip daddr {destination} meta mark set"
        f" {NAT_MARK if route.translated_here else FORWARD_MARK}"
        for route in routes
        for source in route.sources
        for destination in route.destinations
    ]


def snat_rules(
    routes: Sequence[NatRoute], *, transit: str, host_ranges: Sequence[str]
) -> list[str]:
    """The postrouting lines translating what leaves through the transit link for the routes
    translated here: before every instance's own SNAT, since the route table decides (an
    instance with a public address in a subnet routed to a NAT gateway leaves through the
    gateway, as on EC2). Never the metadata requests: they keep the host-facing address."""
    excluded = ", ".join(host_ranges)
    lines = []
    for route in routes:
        if not route.translated_here:
            continue
        for source in route.sources:
            for destination in route.destinations:
                lines.append(
                    f'    oifname "{transit}" ip saddr {source.cidr} ip daddr {destination}'
                    f" ip daddr != {{ {excluded} }} snat to {route.address}"
                )
    return lines


def inbound_drop(routes: Sequence[NatRoute], *, transit: str) -> list[str]:
    """The forward chain's line dropping what arrives for a NAT gateway's address that is not
    a reply (those were de-NATed to their instance already): a NAT gateway opens nothing."""
    addresses = sorted({r.address for r in routes if r.translated_here})
    if not addresses:
        return []
    return [f'    iifname "{transit}" ip daddr {{ {", ".join(addresses)} }} drop']


def routing_table(
    slot: int,
    bridge: str,
    network_id: str,
    routes: Sequence[NatRoute],
    *,
    throw: Sequence[str],
) -> list[str]:
    """The ``ip`` commands (inside the router's namespace) filling the policy table of one
    source subnet on a forwarding host: every destination its routes send to another host's
    router, via that host's hop; ``throw`` (the VPC's block, the host's ranges) back to the
    main table. Empty when none of its routes is forwarded."""
    table = _FIRST_TABLE + slot
    by_endpoint = hops(routes)
    commands = []
    for route in routes:
        if route.translated_here or network_id not in {s.network_id for s in route.sources}:
            continue
        hop = by_endpoint[(route.via_address, route.via_port)]
        commands += [
            f"route replace {destination} via {hop.address} dev {bridge} onlink table {table}"
            for destination in route.destinations
        ]
    if not commands:
        return []
    return [f"route replace throw {block} table {table}" for block in throw] + commands


def stale_rules(listed: Sequence[Mapping[str, object]], wanted: Mapping[int, str]) -> list[int]:
    """The priorities of this module's policy rules in ``listed`` (``ip -j rule show``) that
    are not ``wanted`` (priority → source block) as they stand."""
    stale = []
    for rule in listed:
        priority = rule.get("priority")
        if not isinstance(priority, int) or not _is_ours(priority):
            continue
        source = f"{rule.get('src')}/{rule.get('srclen', 32)}"
        if wanted.get(priority) != source or rule.get("table") != str(priority):
            stale.append(priority)
    return stale
