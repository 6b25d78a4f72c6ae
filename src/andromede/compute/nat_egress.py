"""Where a VPC's NAT gateways translate, and what each host of the VPC is told of them
(decision 0129), pure.

A NAT gateway's address is seen from one place: one host of the VPC — its *egress host* —
translates for every instance routed to it, the others send it that traffic over the overlay
(:class:`~andromede.compute.driver.NatRoute`). The egress host is chosen among the hosts that
hold instances routed to the gateway, by rendezvous hashing on the gateway's id
(:func:`egress_host`): every gateway process computes the same one from the same records, it
moves only when that host's last such instance goes (then its connections through the
gateway are cut, as those through a failed EC2 NAT gateway are), and gateways spread over the
hosts. Hosts without an overlay endpoint cannot reach another's router: each translates for
its own instances (a VPC does not span such hosts anyway).

What a route sends to a gateway is cut down, per source subnet, to what is not routed more
specifically elsewhere in its table (longest prefix wins, as in any route table — the hosts'
rules then never overlap for one source), and to what the gateway's own subnet reaches through
an internet gateway: on EC2 a public NAT gateway in a subnet without a route to an internet
gateway carries nothing out.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection, Iterable, Mapping, Sequence

from andromede.compute.driver import NatRoute, NatSource
from andromede.compute.model import Instance
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import Subnet
from andromede.compute.routing import LOCAL, RouteTable, RoutingView, route_state, table_of_subnet

__all__ = ["egress_host", "nat_routes_by_host", "nat_targets"]

_Block = ipaddress.IPv4Network


def egress_host(nat_gateway_id: str, candidates: Collection[str]) -> str | None:
    """The host translating for the gateway among ``candidates`` (rendezvous hashing)."""
    if not candidates:
        return None
    return max(
        sorted(candidates),
        key=lambda host: hashlib.sha256(f"{nat_gateway_id}\0{host}".encode()).digest(),
    )


def _minus(block: _Block, holes: Iterable[_Block]) -> list[_Block]:
    """``block`` without every hole strictly inside it."""
    parts = [block]
    for hole in holes:
        if hole == block or not hole.subnet_of(block):
            continue
        kept: list[_Block] = []
        for part in parts:
            if hole.subnet_of(part):
                kept += part.address_exclude(hole)
            elif not part.subnet_of(hole):
                kept.append(part)
        parts = kept
    return parts


def _within(blocks: Sequence[_Block], limits: Sequence[_Block]) -> list[_Block]:
    """The parts of ``blocks`` inside one of ``limits``."""
    kept: list[_Block] = []
    for block in blocks:
        for limit in limits:
            if block.subnet_of(limit):
                kept.append(block)
            elif limit.subnet_of(block):
                kept.append(limit)
    return list(ipaddress.collapse_addresses(kept))


def _internet_reach(view: RoutingView, vpc_id: str, subnet_id: str) -> list[_Block]:
    """What a subnet's table routes to an attached internet gateway."""
    tables = [t for t in view.tables if t.vpc_id == vpc_id]
    table = table_of_subnet(subnet_id, tables)
    if table is None:
        return []
    return [
        _Block(route.destination)
        for route in table.routes
        if route.gateway_id not in (LOCAL, "")
        and route.nat_gateway_id is None
        and route_state(route, vpc_id, view.gateways, view.nat_gateways) == "active"
    ]


def nat_targets(view: RoutingView, vpc_id: str, table: RouteTable) -> dict[str, tuple[_Block, ...]]:
    """NAT gateway id → what ``table`` sends to it that it carries out: its active routes'
    destinations less every more specific route of the table (to anything), within what the
    gateway's own subnet reaches through an internet gateway."""
    active = [
        route
        for route in table.routes
        if route.gateway_id != LOCAL
        and route_state(route, vpc_id, view.gateways, view.nat_gateways) == "active"
    ]
    everything = [_Block(route.destination) for route in table.routes]
    targets: dict[str, list[_Block]] = {}
    for route in active:
        if route.nat_gateway_id is None:
            continue
        gateway = view.nat_gateways[route.nat_gateway_id]
        parts = _minus(_Block(route.destination), everything)
        carried = _within(parts, _internet_reach(view, vpc_id, gateway.subnet_id))
        targets.setdefault(gateway.nat_gateway_id, []).extend(carried)
    return {
        nat_id: tuple(ipaddress.collapse_addresses(blocks))
        for nat_id, blocks in sorted(targets.items())
        if blocks
    }


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
        for nat_id, blocks in nat_targets(view, vpc_id, table).items():
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
