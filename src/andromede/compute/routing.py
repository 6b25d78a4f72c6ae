"""A VPC's routing, pure: internet gateways, route tables and their associations, what they
let each instance reach (decisions 0100 and 0121).

An **internet gateway** (``igw-…``) is a tenant's record, attached to at most one VPC, a VPC
having at most one. A **route table** (``rtb-…``) belongs to a VPC; it holds the ``local``
route of the VPC's block (made with it, never removed) and the routes a tenant adds, each to an
internet gateway; its associations are explicit ones with subnets and, for exactly one table of
each VPC, the *main* association, which stands for every subnet without an explicit one. The
main table's id is derived from the VPC's (it was before tables were stored, and Terraform's
state holds it as ``main_route_table_id``).

**What routes mean here.** A guest's packets leave its VPC through its host (decision 0015); the
host sends out only what the instance's firewall lets through, so a route table is enforced by
confining each instance's firewall (:func:`confine`) to what its subnet's table reaches
(:func:`reach`): the VPC's block always (``local``), the destination of every *active*
route to an internet gateway attached to the VPC for an instance with a public address, and
for its egress, with a public address or not, what its active routes to a NAT gateway
(``nat_gateway.py``, decision 0129) send there and the gateway carries out
(:meth:`RoutingView.nat_targets`). On EC2 too an instance is on the internet only
with a public address *and* a route to an internet gateway, or through a NAT gateway its
routes lead to; without the route its rules open nothing beyond the VPC. A route to a gateway
detached or deleted, or to a NAT gateway deleted or failed, stays in its table as a
``blackhole``, as on EC2.

A route to a VPC peering connection (``vpc_peering.py``, decision 0139) adds, in both
directions and with or without a public address, what it sends there inside the peer VPC's
block (:meth:`RoutingView.peer_targets`) while the connection is active: a peering carries
nothing beyond the two VPCs (EC2 has no transitive or edge-to-edge routing). A packet between
two peered VPCs passes only where both sides' tables send it: the sender's egress is confined
to its routes, the receiver's ingress to its own.

A route's destination is a block, or a customer-managed **prefix list** (decision 0149's
addendum): the route stands for one route per block of the list's current version, to the
same target (:func:`expanded`), and everything above reads the table expanded so — the hosts
see blocks only. EC2's precedence: the longest prefix wins whatever the kind of route; with
equal prefixes a route to a block (a static route) wins over a list's entry; two lists
holding one block to different targets, EC2 picks one at random and keeps it — here the
route to the list whose id sorts first. A list's entry equal to or inside the VPC's block is
the ``local`` route's. Against the table's routes quota a route to a list weighs the list's
``MaxEntries`` (:func:`routes_weight`).

Network ACLs are records of their own (``network_acl.py``, decision 0128).
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from andromede.compute.driver_network import (
    FirewallRule,
    InstanceFirewall,
    InterfaceRoute,
)
from andromede.compute.errors import InvalidParameterValue
from andromede.compute.model import FORMAT_VERSION, Instance, Tags
from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface, Subnet, Vpc
from andromede.compute.vpc_peering import PeeringState, VpcPeeringConnection

__all__ = [
    "LOCAL",
    "InternetGateway",
    "Route",
    "RouteTable",
    "RouteTableAssociation",
    "RoutingView",
    "confine",
    "default_internet_gateway_id",
    "destination_cidr",
    "expanded",
    "interface_routes",
    "main_route_table",
    "reach",
    "route_state",
    "routes_weight",
    "table_of_subnet",
]

LOCAL: Final = "local"
# The origin EC2 reports for a route made with its table (the local route, and the default
# VPC's route to its gateway) and for one a caller added.
ORIGIN_TABLE: Final = "CreateRouteTable"
ORIGIN_ROUTE: Final = "CreateRoute"


def _derived(prefix: str, of: str) -> str:
    digest = hashlib.sha256(f"andromede-{prefix}:{of}".encode()).hexdigest()
    return f"{prefix}-{digest[:17]}"


@dataclass(frozen=True, slots=True)
class InternetGateway:
    gateway_id: str
    tenant_id: str
    # The VPC it is attached to, if any.
    vpc_id: str | None = None
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0

    @property
    def resource_id(self) -> str:
        return self.gateway_id


@dataclass(frozen=True, slots=True)
class Route:
    # An IPv4 block in canonical form; empty for a route to a prefix list.
    destination: str
    # ``local`` (the VPC's own block) or an internet gateway's id; empty for a route to a
    # NAT gateway.
    gateway_id: str
    origin: str = ORIGIN_ROUTE
    # A NAT gateway's id, for a route to one (decision 0129; older records have none).
    nat_gateway_id: str | None = None
    # A VPC peering connection's id, for a route to one (decision 0139; older records have
    # none). Its ``gateway_id`` is empty.
    vpc_peering_connection_id: str | None = None
    # A customer-managed prefix list's id, for a route whose destination is one (decision
    # 0149's addendum; older records have none). Its ``destination`` is empty.
    destination_prefix_list_id: str | None = None
    # An elastic network interface's id, for a route to one (decision 0161's addendum; older
    # records have none): CreateRoute's ``InstanceId`` is stored as the instance's interface.
    # Its ``gateway_id`` is empty — but for the local route whose target ReplaceRoute made an
    # interface (decision 0179): it stays ``local`` (never deleted, never counted) and its
    # target is the interface until ``LocalTarget`` gives it back.
    network_interface_id: str | None = None

    @property
    def key(self) -> str:
        """What the route is found by in its table: its block, or its prefix list's id."""
        return self.destination_prefix_list_id or self.destination

    @property
    def target(self) -> str:
        """What the route leads to: ``local``, an internet gateway's, a NAT gateway's or a VPC
        peering connection's or a network interface's id."""
        return (
            self.nat_gateway_id
            or self.vpc_peering_connection_id
            or self.network_interface_id
            or self.gateway_id
        )


@dataclass(frozen=True, slots=True)
class RouteTableAssociation:
    association_id: str
    # None: the main association, which stands for every subnet without an explicit one.
    subnet_id: str | None

    @property
    def main(self) -> bool:
        return self.subnet_id is None


@dataclass(frozen=True, slots=True)
class RouteTable:
    route_table_id: str
    tenant_id: str
    vpc_id: str
    routes: tuple[Route, ...]
    associations: tuple[RouteTableAssociation, ...] = ()
    tags: Tags = ()
    format_version: int = FORMAT_VERSION
    revision: int = 0
    # CreateRouteTable's idempotency: the token, and a digest of what was asked with it.
    client_token: str | None = None
    request_digest: str = ""
    # Routes to IPv6 blocks (decision 0217), each's ``destination`` an IPv6 CIDR: kept apart
    # from ``routes``, whose readers (the hosts' routing, the firewalls' reach) are IPv4's.
    # Stored and shown; the hosts route no IPv6 beyond the VPC yet.
    ipv6_routes: tuple[Route, ...] = ()

    @property
    def resource_id(self) -> str:
        return self.route_table_id

    @property
    def main(self) -> bool:
        return any(a.main for a in self.associations)

    def route_to(self, key: str) -> Route | None:
        """The route to a block, or to a prefix list by its id (:attr:`Route.key`)."""
        return next((r for r in self.routes if r.key == key), None)


def default_internet_gateway_id(tenant_id: str) -> str:
    """The id of the tenant's default VPC's internet gateway (stable: made on first need by
    whichever gateway gets there first, as the default VPC is)."""
    digest = hashlib.sha256(f"andromede-default-igw:{tenant_id}".encode()).hexdigest()
    return f"igw-{digest[:17]}"


def main_route_table(vpc: Vpc, internet_gateway_id: str | None = None) -> RouteTable:
    """The VPC's main route table as it is made with the VPC: its ``local`` route and, given
    the VPC's internet gateway (the default VPC's, as on EC2), ``0.0.0.0/0`` to it — a route
    EC2 adds after making the table, so its origin is ``CreateRoute``."""
    routes = [Route(vpc.cidr, LOCAL, ORIGIN_TABLE)]
    if internet_gateway_id is not None:
        routes.append(Route("0.0.0.0/0", internet_gateway_id, ORIGIN_ROUTE))
    return RouteTable(
        _derived("rtb", vpc.vpc_id),
        vpc.tenant_id,
        vpc.vpc_id,
        tuple(routes),
        (RouteTableAssociation(_derived("rtbassoc", vpc.vpc_id), None),),
    )


def destination_cidr(cidr: str) -> str:
    """A route's destination in canonical form; EC2's InvalidParameterValue otherwise (an IPv6
    destination included: the tenant networks carry IPv4 only)."""
    try:
        block = ipaddress.IPv4Network(cidr, strict=False)
    except ValueError:
        raise InvalidParameterValue(
            f"Value ({cidr[:64]}) for parameter destinationCidrBlock is invalid. "
            "This is not a valid CIDR block."
        ) from None
    return str(block)


def expanded(table: RouteTable, lists: Mapping[str, Sequence[str]]) -> RouteTable:
    """``table`` with each route to a prefix list replaced by one route per block of the
    list's current version (``lists``: blocks by list id), to the same target, in EC2's
    precedence (the module docstring): a block a route names already, or one an earlier list
    (by id) gave, or one equal to or inside the local route's is left out; an IPv6 block
    routes nothing on the IPv4 tenant networks."""
    if not any(r.destination_prefix_list_id for r in table.routes):
        return table
    static = [r for r in table.routes if r.destination_prefix_list_id is None]
    taken = {r.destination for r in static}
    local = [ipaddress.IPv4Network(r.destination) for r in static if r.gateway_id == LOCAL]
    derived: list[Route] = []
    to_lists = sorted(
        (r for r in table.routes if r.destination_prefix_list_id is not None),
        key=lambda r: r.key,
    )
    for route in to_lists:
        for cidr in lists.get(route.key, ()):
            try:
                block = ipaddress.IPv4Network(cidr)
            except ValueError:
                continue
            if str(block) in taken or any(block.subnet_of(own) for own in local):
                continue
            taken.add(str(block))
            derived.append(replace(route, destination=str(block), destination_prefix_list_id=None))
    return replace(table, routes=(*static, *derived))


def routes_weight(routes: Iterable[Route], max_entries: Mapping[str, int]) -> int:
    """The routes counted against EC2's routes-per-table quota: the local route not at all, a
    route to a prefix list as the list's ``MaxEntries`` (whatever it holds now), any other as
    one."""
    return sum(
        max_entries.get(r.destination_prefix_list_id, 1) if r.destination_prefix_list_id else 1
        for r in routes
        if r.gateway_id != LOCAL
    )


def route_state(
    route: Route,
    vpc_id: str,
    gateways: Mapping[str, InternetGateway],
    nat_gateways: Mapping[str, NatGateway] | None = None,
    peerings: Mapping[str, VpcPeeringConnection] | None = None,
    interfaces: Mapping[str, NetworkInterface] | None = None,
) -> str:
    """``active`` for the local route, a route to a gateway attached to the table's VPC, a
    route to an available NAT gateway of the table's VPC, a route to an active VPC peering
    connection of the table's VPC and a route to a network interface of the VPC attached to an
    instance; ``blackhole`` for a route whose gateway was detached or deleted, whose NAT
    gateway was deleted or failed, whose peering connection is no longer active, or whose
    interface is detached or deleted, as EC2 shows it."""
    if route.gateway_id == LOCAL and route.network_interface_id is None:
        return "active"
    if route.gateway_id.startswith("vpce-"):
        # A VPC endpoint's route lives and goes with its endpoint (decision 0160).
        return "active"
    if route.vpc_peering_connection_id is not None:
        peering = (peerings or {}).get(route.vpc_peering_connection_id)
        return (
            "active"
            if peering is not None
            and peering.state is PeeringState.ACTIVE
            and peering.peer_of(vpc_id) is not None
            else "blackhole"
        )
    if route.network_interface_id is not None:
        interface = (interfaces or {}).get(route.network_interface_id)
        return (
            "active"
            if interface is not None and interface.instance_id and interface.vpc_id == vpc_id
            else "blackhole"
        )
    if route.nat_gateway_id is not None:
        nat = (nat_gateways or {}).get(route.nat_gateway_id)
        return (
            "active" if nat is not None and nat.available and nat.vpc_id == vpc_id else "blackhole"
        )
    gateway = gateways.get(route.gateway_id)
    return "active" if gateway is not None and gateway.vpc_id == vpc_id else "blackhole"


def interface_routes(
    view: RoutingView, vpc_id: str, subnets: Iterable[Subnet]
) -> tuple[InterfaceRoute, ...]:
    """What a VPC's routers forward to network interfaces (decision 0161's addendum): for
    each subnet of the VPC, what its table (explicit or main) sends to each interface attached
    to an instance (:meth:`RoutingView.interface_targets`), to the interface's primary address
    on its own subnet."""
    mine = [t for t in view.tables if t.vpc_id == vpc_id]
    routes: list[InterfaceRoute] = []
    for subnet in sorted(subnets, key=lambda s: s.subnet_id):
        table = table_of_subnet(subnet.subnet_id, mine) if subnet.vpc_id == vpc_id else None
        if table is None:
            continue
        for interface_id, blocks in view.interface_targets(vpc_id, table).items():
            interface = view.interfaces[interface_id]
            routes.append(
                InterfaceRoute(
                    subnet.subnet_id,
                    subnet.cidr,
                    tuple(str(b) for b in blocks),
                    interface_id,
                    interface.private_ip,
                    interface.subnet_id,
                )
            )
    return tuple(routes)


def table_of_subnet(subnet_id: str, tables: Iterable[RouteTable]) -> RouteTable | None:
    """The table routing ``subnet_id``: the one associated with it explicitly, else its VPC's
    main table (``tables`` are one VPC's). None only when the VPC has no main table."""
    main: RouteTable | None = None
    for table in tables:
        for association in table.associations:
            if association.subnet_id == subnet_id:
                return table
            if association.main:
                main = table
    return main


def reach(
    vpc_cidr: str,
    table: RouteTable | None,
    gateways: Mapping[str, InternetGateway],
    *,
    public_address: bool,
) -> tuple[ipaddress.IPv4Network, ...]:
    """The blocks an instance of a subnet routed by ``table`` exchanges packets with through
    its VPC and its internet gateway: its VPC's, and with a public address the destinations of
    the table's active routes to an internet gateway. What its routes to NAT gateways add, for
    its egress, is :meth:`RoutingView.nat_targets`'."""
    blocks = [ipaddress.IPv4Network(vpc_cidr)]
    if public_address and table is not None:
        blocks += [
            ipaddress.IPv4Network(route.destination)
            for route in table.routes
            if route.gateway_id not in (LOCAL, "")
            and route.nat_gateway_id is None
            and route.vpc_peering_connection_id is None
            and route.network_interface_id is None
            and route_state(route, table.vpc_id, gateways) == "active"
        ]
    return tuple(ipaddress.collapse_addresses(blocks))


def _minus(
    block: ipaddress.IPv4Network, holes: Iterable[ipaddress.IPv4Network]
) -> list[ipaddress.IPv4Network]:
    """``block`` without every hole strictly inside it."""
    parts = [block]
    for hole in holes:
        if hole == block or not hole.subnet_of(block):
            continue
        kept: list[ipaddress.IPv4Network] = []
        for part in parts:
            if hole.subnet_of(part):
                kept += part.address_exclude(hole)
            elif not part.subnet_of(hole):
                kept.append(part)
        parts = kept
    return parts


def _within(
    blocks: Sequence[ipaddress.IPv4Network], limits: Sequence[ipaddress.IPv4Network]
) -> list[ipaddress.IPv4Network]:
    """The parts of ``blocks`` inside one of ``limits``."""
    kept: list[ipaddress.IPv4Network] = []
    for block in blocks:
        for limit in limits:
            if block.subnet_of(limit):
                kept.append(block)
            elif limit.subnet_of(block):
                kept.append(limit)
    return list(ipaddress.collapse_addresses(kept))


def _confined(
    rules: Sequence[FirewallRule],
    blocks: Sequence[ipaddress.IPv4Network],
    ipv6_blocks: Sequence[ipaddress.IPv6Network] = (),
) -> tuple[FirewallRule, ...]:
    kept: dict[FirewallRule, None] = {}
    for rule in rules:
        peer = ipaddress.ip_network(rule.cidr)
        # An IPv6 peer is confined to the VPC's own IPv6 blocks, all an IPv6 route reaches
        # (decision 0217: no route leads IPv6 beyond the VPC).
        within: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (
            ipv6_blocks if peer.version == 6 else blocks
        )
        for block in within:
            if peer.subnet_of(block):  # type: ignore[arg-type]
                kept[rule] = None
            elif block.subnet_of(peer):  # type: ignore[arg-type]
                kept[replace(rule, cidr=str(block))] = None
    return tuple(kept)


def _without_ipv6(firewall: InstanceFirewall) -> InstanceFirewall:
    return InstanceFirewall(
        tuple(r for r in firewall.ingress if ":" not in r.cidr),
        tuple(r for r in firewall.egress if ":" not in r.cidr),
    )


def confine(
    firewall: InstanceFirewall,
    blocks: Sequence[ipaddress.IPv4Network],
    ipv6_blocks: Sequence[ipaddress.IPv6Network] = (),
) -> InstanceFirewall:
    """``firewall`` with each rule's peer range cut down to ``blocks`` (an IPv6 peer's to
    ``ipv6_blocks``): a rule wider than a block allows that block, a rule inside one stays, a
    rule outside all of them goes."""
    return InstanceFirewall(
        _confined(firewall.ingress, blocks, ipv6_blocks),
        _confined(firewall.egress, blocks, ipv6_blocks),
    )


@dataclass(frozen=True, slots=True)
class RoutingView:
    """One tenant's VPCs, route tables, internet gateways and NAT gateways, read once to
    compute the firewalls of many instances."""

    vpcs: Mapping[str, Vpc]
    tables: Sequence[RouteTable]
    gateways: Mapping[str, InternetGateway]
    # By id, deleted ones included while their records last (decision 0129).
    nat_gateways: Mapping[str, NatGateway] = field(default_factory=dict)
    # By id, the VPC peering connections the tenant is a side of (decision 0139).
    peerings: Mapping[str, VpcPeeringConnection] = field(default_factory=dict)
    # The blocks of the current version of each of the tenant's prefix lists, by id.
    prefix_lists: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # By id, the tenant's network interfaces (decision 0161's addendum: routes may lead to one).
    interfaces: Mapping[str, NetworkInterface] = field(default_factory=dict)
    # The object store's addresses as guests see them: what a route to a gateway endpoint
    # carries out (decision 0160's session-47 addendum).
    endpoint_blocks: Sequence[str] = ()

    def expand(self, table: RouteTable) -> RouteTable:
        """``table`` with its routes to prefix lists as routes to their blocks
        (:func:`expanded`)."""
        return expanded(table, self.prefix_lists)

    def _table_of(self, instance: Instance) -> tuple[Vpc, RouteTable | None] | None:
        vpc = self.vpcs.get(instance.vpc_id) if instance.vpc_id is not None else None
        if vpc is None or not vpc.routing_made or instance.subnet_id is None:
            return None
        mine = [t for t in self.tables if t.vpc_id == vpc.vpc_id]
        table = table_of_subnet(instance.subnet_id, mine)
        return vpc, None if table is None else self.expand(table)

    def _routes_to_endpoint(self, instance: Instance) -> bool:
        """Whether the instance's subnet's table (unexpanded: the AWS-managed list is none of
        the tenant's) routes the object store's list to a gateway endpoint."""
        if not self.endpoint_blocks or instance.subnet_id is None:
            return False
        mine = [t for t in self.tables if t.vpc_id == instance.vpc_id]
        table = table_of_subnet(instance.subnet_id, mine)
        return table is not None and any(
            r.gateway_id.startswith("vpce-") and r.destination_prefix_list_id for r in table.routes
        )

    def reach_of(
        self, instance: Instance, *, through_nat: bool = True, through_peering: bool = True
    ) -> tuple[ipaddress.IPv4Network, ...] | None:
        """What the instance's subnet's route table lets it reach (:func:`reach`, with
        ``through_nat`` what its NAT gateways carry out for it: :meth:`nat_targets`, and with
        ``through_peering`` what its peering connections lead to: :meth:`peer_targets`); None
        when its VPC's routing is not stored yet (a VPC made before decision 0121, until the
        first call that needs its routing makes it): such a VPC keeps the reach it had, all."""
        found = self._table_of(instance)
        if found is None:
            return None
        vpc, table = found
        blocks = reach(vpc.cidr, table, self.gateways, public_address=instance.has_public_address)
        if table is None:
            return blocks
        carried: list[ipaddress.IPv4Network] = []
        if through_nat:
            carried += [b for bs in self.nat_targets(vpc.vpc_id, table).values() for b in bs]
            # A gateway endpoint carries connections out to the store, never in (as a NAT
            # gateway): the sender's egress rules judge them on the hosts (0160's addendum).
            if self._routes_to_endpoint(instance):
                carried += [ipaddress.IPv4Network(b) for b in self.endpoint_blocks]
        if through_peering:
            carried += [b for bs in self.peer_targets(vpc.vpc_id, table).values() for b in bs]
            # An appliance's routes carry both ways, as a peering's: what it forwards back
            # from behind it reaches the instance's ingress rules.
            carried += [b for bs in self.interface_targets(vpc.vpc_id, table).values() for b in bs]
        if not carried:
            return blocks
        return tuple(ipaddress.collapse_addresses([*blocks, *carried]))

    def peer_targets(
        self, vpc_id: str, table: RouteTable
    ) -> dict[str, tuple[ipaddress.IPv4Network, ...]]:
        """Peering connection id → what ``table`` sends to it that it carries (decision 0139):
        its active routes' destinations less every more specific route of the table (longest
        prefix wins), within the peer VPC's block — a peering carries nothing else. In the
        connections' id order; one carrying nothing is left out."""
        table = self.expand(table)
        everything = [ipaddress.IPv4Network(route.destination) for route in table.routes]
        targets: dict[str, list[ipaddress.IPv4Network]] = {}
        for route in table.routes:
            peering_id = route.vpc_peering_connection_id
            if peering_id is None:
                continue
            if route_state(route, vpc_id, self.gateways, peerings=self.peerings) != "active":
                continue
            peer = self.peerings[peering_id].peer_of(vpc_id)
            if peer is None or not peer[1]:
                continue
            parts = _minus(ipaddress.IPv4Network(route.destination), everything)
            targets.setdefault(peering_id, []).extend(
                _within(parts, [ipaddress.IPv4Network(peer[1])])
            )
        return {
            peering_id: tuple(ipaddress.collapse_addresses(blocks))
            for peering_id, blocks in sorted(targets.items())
            if blocks
        }

    def interface_targets(
        self, vpc_id: str, table: RouteTable
    ) -> dict[str, tuple[ipaddress.IPv4Network, ...]]:
        """Network interface id → what ``table`` sends to it (decision 0161's addendum): its
        active routes' destinations less every more specific route of the table (longest
        prefix wins). In the interfaces' id order; one receiving nothing is left out."""
        table = self.expand(table)
        everything = [ipaddress.IPv4Network(route.destination) for route in table.routes]
        targets: dict[str, list[ipaddress.IPv4Network]] = {}
        for route in table.routes:
            interface_id = route.network_interface_id
            if interface_id is None:
                continue
            if route_state(route, vpc_id, {}, interfaces=self.interfaces) != "active":
                continue
            parts = _minus(ipaddress.IPv4Network(route.destination), everything)
            targets.setdefault(interface_id, []).extend(parts)
        return {
            interface_id: tuple(ipaddress.collapse_addresses(blocks))
            for interface_id, blocks in sorted(targets.items())
            if blocks
        }

    def nat_targets(
        self, vpc_id: str, table: RouteTable
    ) -> dict[str, tuple[ipaddress.IPv4Network, ...]]:
        """NAT gateway id → what ``table`` sends to it that it carries out (decision 0129): its
        active routes' destinations less every more specific route of the table, to anything
        (longest prefix wins, as in any route table), within what the gateway's own subnet
        reaches through an internet gateway — on EC2 a public NAT gateway in a subnet without
        a route to an internet gateway carries nothing out. In the gateways' id order; a
        gateway carrying nothing is left out."""
        table = self.expand(table)
        everything = [ipaddress.IPv4Network(route.destination) for route in table.routes]
        targets: dict[str, list[ipaddress.IPv4Network]] = {}
        for route in table.routes:
            if route.nat_gateway_id is None:
                continue
            if route_state(route, vpc_id, self.gateways, self.nat_gateways) != "active":
                continue
            gateway = self.nat_gateways[route.nat_gateway_id]
            parts = _minus(ipaddress.IPv4Network(route.destination), everything)
            targets.setdefault(gateway.nat_gateway_id, []).extend(
                _within(parts, self._internet_reach(vpc_id, gateway.subnet_id))
            )
        return {
            nat_id: tuple(ipaddress.collapse_addresses(blocks))
            for nat_id, blocks in sorted(targets.items())
            if blocks
        }

    def _internet_reach(self, vpc_id: str, subnet_id: str) -> list[ipaddress.IPv4Network]:
        """What a subnet's table routes to an attached internet gateway."""
        table = table_of_subnet(subnet_id, [t for t in self.tables if t.vpc_id == vpc_id])
        if table is None:
            return []
        table = self.expand(table)
        return [
            ipaddress.IPv4Network(route.destination)
            for route in table.routes
            if route.gateway_id not in (LOCAL, "")
            and route.nat_gateway_id is None
            and route.vpc_peering_connection_id is None
            and route.network_interface_id is None
            and route_state(route, vpc_id, self.gateways) == "active"
        ]

    def firewall(self, instance: Instance, groups_merged: InstanceFirewall) -> InstanceFirewall:
        """The instance's security groups, merged, confined to what its routes reach: its
        egress to all it reaches, its ingress to what reaches it back without a NAT gateway
        (a NAT gateway lets connections out, never in; their replies are the host's
        stateful firewall's, as for every connection the instance opens)."""
        blocks = self.reach_of(instance)
        vpc = self.vpcs.get(instance.vpc_id or "")
        ipv6 = [ipaddress.IPv6Network(b.cidr) for b in (vpc.ipv6_blocks if vpc else ())]
        if blocks is None:
            # Unconfined, as before route tables, but for IPv6 ranges: none reach a host of
            # a VPC without an IPv6 block (decision 0217), so an agent older than them is
            # never told one.
            return groups_merged if ipv6 else _without_ipv6(groups_merged)
        inward = self.reach_of(instance, through_nat=False) or blocks
        return InstanceFirewall(
            confine(groups_merged, inward, ipv6).ingress,
            confine(groups_merged, blocks, ipv6).egress,
        )

    def internet_facing(self, instance: Instance) -> bool:
        """Whether the instance is reached from outside its VPC: a public address and an
        active route beyond the VPC's block to an internet gateway (a NAT gateway lets
        connections out, never in)."""
        if not instance.has_public_address:
            return False
        blocks = self.reach_of(instance, through_nat=False, through_peering=False)
        if blocks is None or instance.vpc_id is None:
            return True
        own = ipaddress.IPv4Network(self.vpcs[instance.vpc_id].cidr)
        return any(block != own for block in blocks)
