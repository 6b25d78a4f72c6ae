"""Where a VPC's NAT gateways translate, and what each host of the VPC is told of them
(decision 0129), pure.

A NAT gateway's address is seen from one place: one host of the VPC — its *egress host* —
translates for every instance routed to it, the others send it that traffic over the overlay
(:class:`~andromede.compute.driver_network.NatRoute`). The egress host is chosen among the
hosts that hold instances routed to the gateway, by rendezvous hashing on the gateway's id
(:func:`egress_host`): every gateway process computes the same one from the same records, it
moves only when that host's last such instance goes (then its connections through the
gateway are cut, as those through a failed EC2 NAT gateway are), and gateways spread over the
hosts. Hosts without an overlay endpoint cannot reach another's router: each translates for
its own instances (a VPC does not span such hosts anyway).

What a route sends to a gateway is what the gateway carries out for its source subnet
(:meth:`~andromede.compute.routing.RoutingView.nat_targets`: cut to what no more specific route
of its table takes — the hosts' rules then never overlap for one source — and to what the
gateway's own subnet reaches through an internet gateway), the very blocks the instances'
firewalls open for their egress.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection, Mapping, Sequence

from andromede.compute.driver_network import (
    NatRoute,
    NatSource,
)
from andromede.compute.model import Instance
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import Subnet
from andromede.compute.routing import RoutingView, table_of_subnet

__all__ = ["egress_host", "nat_routes_by_host"]

_Block = ipaddress.IPv4Network


def egress_host(nat_gateway_id: str, candidates: Collection[str]) -> str | None:
    """The host translating for the gateway among ``candidates`` (rendezvous hashing)."""
    if not candidates:
        return None
    return max(
        sorted(candidates),
        key=lambda host: hashlib.sha256(f"{nat_gateway_id}\0{host}".encode()).digest(),
    )


def nat_routes_by_host(
    view: RoutingView,
    vpc_id: str,
    subnets: Sequence[Subnet],
    wired: Sequence[Instance],
    endpoints: Mapping[str, tuple[str, int]],
) -> dict[str, tuple[NatRoute, ...]]:
    """What each host holding ``wired`` instances of the VPC is told (none: an empty tuple,
    which takes back what it was told before). ``subnets`` are the VPC's; ``endpoints`` the
    hosts' VXLAN endpoints, for those that have one."""
    vpc_hosts = sorted({i.host for i in wired})
    told: dict[str, list[NatRoute]] = {host: [] for host in vpc_hosts}
    tables = [t for t in view.tables if t.vpc_id == vpc_id]
    # gateway → destinations → the source subnets sending them there.
    groups: dict[str, dict[tuple[_Block, ...], list[Subnet]]] = {}
    for subnet in subnets:
        table = table_of_subnet(subnet.subnet_id, tables)
        if table is None:
            continue
        for nat_id, blocks in view.nat_targets(vpc_id, table).items():
            groups.setdefault(nat_id, {}).setdefault(blocks, []).append(subnet)
    for nat_id, by_destinations in sorted(groups.items()):
        gateway: NatGateway = view.nat_gateways[nat_id]
        source_ids = {s.subnet_id for sources in by_destinations.values() for s in sources}
        routed_hosts = {i.host for i in wired if i.subnet_id in source_ids}
        overlaid = {host for host in routed_hosts if host in endpoints}
        home = egress_host(nat_id, overlaid)
        for host in sorted(routed_hosts | ({home} if home else set())):
            if host not in told:
                continue
            if host in endpoints and home is not None and host != home:
                via_address, via_port = endpoints[home]
            else:
                via_address, via_port = "", 0
            for blocks, sources in sorted(by_destinations.items(), key=lambda item: str(item[0])):
                told[host].append(
                    NatRoute(
                        gateway.nat_gateway_id,
                        gateway.public_ip,
                        tuple(NatSource(s.subnet_id, s.cidr) for s in sources),
                        tuple(str(block) for block in blocks),
                        via_address=via_address,
                        via_port=via_port,
                    )
                )
    return {host: tuple(routes) for host, routes in told.items()}
