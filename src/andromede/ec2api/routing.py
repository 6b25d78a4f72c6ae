"""EC2's route tables (decision 0121):
DescribeRouteTables (pages of ``MaxResults`` 5 to 100 with ``NextToken``) with the filters
clients find tables by (Terraform's ``aws_vpc``: ``association.main`` with ``vpc-id``; its
association waiters: ``association.route-table-association-id``), Create/DeleteRouteTable,
Create/Replace/DeleteRoute to an internet gateway, Associate/DisassociateRouteTable and
ReplaceRouteTableAssociation (the main association too, as
``aws_main_route_table_association`` moves it). A route leads to an internet gateway
(``GatewayId``), a NAT gateway (``NatGatewayId``, decision 0129), a VPC peering connection
(``VpcPeeringConnectionId``, decision 0139) or a network interface (``NetworkInterfaceId``,
or ``InstanceId`` for an instance's only interface, decision 0161's addendum: shown with the
instance it is attached to, ``blackhole`` once detached or deleted), for a block
(``DestinationCidrBlock``) or a customer-managed prefix list of the caller's
(``DestinationPrefixListId``, decision 0149's addendum: shown as ``destinationPrefixListId``,
filter ``route.destination-prefix-list-id``); a subnet's whole block routed to an interface,
and the local route's target replaced by one and given back (``LocalTarget``), decision 0179;
to anything else, an IPv6 destination, and an edge association are refused by name
(UnsupportedOperation): there is nothing else here for them to lead to yet. Network ACLs
are ``network_acls.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from andromede.compute.nat_gateway import NatGateway
from andromede.compute.network import NetworkInterface
from andromede.compute.routing import (
    LOCAL,
    InternetGateway,
    Route,
    RouteTable,
    RouteTableAssociation,
    route_state,
)
from andromede.compute.vpc_peering import VpcPeeringConnection
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["ROUTING_ACTIONS"]

# What a route's state is read against: the tenant's internet gateways, NAT gateways, the
# VPC peering connections it is a side of and its network interfaces, by id.
_Targets = tuple[
    Mapping[str, InternetGateway],
    Mapping[str, NatGateway],
    Mapping[str, VpcPeeringConnection],
    Mapping[str, NetworkInterface],
    # Each VPC's IPv6 blocks (decision 0217), shown as local routes of its tables.
    Mapping[str, tuple[str, ...]],
]


def _state(route: Route, table: RouteTable, targets: _Targets) -> str:
    gateways, nats, peerings, interfaces, _ = targets
    return route_state(route, table.vpc_id, gateways, nats, peerings, interfaces)


def _instance_of(route: Route, targets: _Targets) -> NetworkInterface | None:
    """The interface a route leads to while attached to an instance (EC2 then shows the
    instance too)."""
    interface = targets[3].get(route.network_interface_id or "")
    return interface if interface is not None and interface.instance_id else None


async def _targets(call: Call) -> _Targets:
    _, gateways = await call.compute.route_table_view(call.tenant_id)
    nats = await call.compute.nat_gateways_by_id(call.tenant_id)
    interfaces = {
        i.interface_id: i
        for i in await call.compute.describe_network_interfaces(call.tenant_id, ())
    }
    ipv6 = {
        v.vpc_id: tuple(b.cidr for b in v.ipv6_blocks)
        for v in await call.compute.describe_vpcs(call.tenant_id, ())
    }
    return gateways, nats, await call.compute.peerings_by_id(call.tenant_id), interfaces, ipv6


def _text(value: bool) -> str:
    return "true" if value else "false"


# -- route tables ----------------------------------------------------------------------------


def _write_association(xml: XmlWriter, table: RouteTable, a: RouteTableAssociation) -> None:
    xml.open("item")
    xml.element("main", a.main)
    xml.element("routeTableAssociationId", a.association_id)
    xml.element("routeTableId", table.route_table_id)
    if a.subnet_id is not None:
        xml.element("subnetId", a.subnet_id)
    xml.open("associationState")
    xml.element("state", "associated")
    xml.close("associationState")
    xml.close("item")


def _write_route_table(xml: XmlWriter, table: RouteTable, targets: _Targets, element: str) -> None:
    xml.open(element)
    xml.open("associationSet")
    for association in table.associations:
        _write_association(xml, table, association)
    xml.close("associationSet")
    xml.open("propagatingVgwSet")
    xml.close("propagatingVgwSet")
    xml.element("routeTableId", table.route_table_id)
    xml.open("routeSet")
    for route in table.routes:
        xml.open("item")
        xml.element("destinationCidrBlock", route.destination or None)
        xml.element("destinationPrefixListId", route.destination_prefix_list_id)
        # A local route whose target is an interface shows the interface only (0179).
        shown_gateway = "" if route.network_interface_id else route.gateway_id
        xml.element("gatewayId", shown_gateway or None)
        attached = _instance_of(route, targets)
        if attached is not None:
            xml.element("instanceId", attached.instance_id)
            xml.element("instanceOwnerId", attached.tenant_id)
        xml.element("networkInterfaceId", route.network_interface_id)
        xml.element("natGatewayId", route.nat_gateway_id)
        xml.element("vpcPeeringConnectionId", route.vpc_peering_connection_id)
        xml.element("origin", route.origin)
        xml.element("state", _state(route, table, targets))
        xml.close("item")
    # Routes to IPv6 blocks (decision 0217), to an internet gateway.
    for route in table.ipv6_routes:
        xml.open("item")
        xml.element("destinationIpv6CidrBlock", route.destination)
        xml.element("gatewayId", route.gateway_id)
        xml.element("origin", route.origin)
        xml.element("state", _state(route, table, targets))
        xml.close("item")
    # The VPC's IPv6 blocks reach within it, as EC2's local route to each says; derived, not
    # stored: no route to them can be made or replaced (decision 0217).
    for block in targets[4].get(table.vpc_id, ()):
        xml.open("item")
        xml.element("destinationIpv6CidrBlock", block)
        xml.element("gatewayId", LOCAL)
        xml.element("origin", "CreateRouteTable")
        xml.element("state", "active")
        xml.close("item")
    xml.close("routeSet")
    write_tags(xml, table.tags)
    xml.element("vpcId", table.vpc_id)
    xml.element("ownerId", table.tenant_id)
    xml.close(element)


def _route_table_filters(
    targets: _Targets,
) -> Callable[[str], Callable[[object], list[str]] | None]:
    def of(get: Callable[[RouteTable], list[str]]) -> Callable[[object], list[str]]:
        return lambda t: get(t) if isinstance(t, RouteTable) else []

    fields = {
        "route-table-id": of(lambda t: [t.route_table_id]),
        "vpc-id": of(lambda t: [t.vpc_id]),
        "owner-id": of(lambda t: [t.tenant_id]),
        # EC2: "Route tables that do not have an association ID are not returned" for
        # association.main=false.
        "association.main": of(lambda t: [_text(a.main) for a in t.associations]),
        "association.route-table-association-id": of(
            lambda t: [a.association_id for a in t.associations]
        ),
        "association.route-table-id": of(lambda t: [t.route_table_id for _ in t.associations]),
        "association.subnet-id": of(
            lambda t: [a.subnet_id for a in t.associations if a.subnet_id is not None]
        ),
        "association.gateway-id": of(lambda t: []),
        "route.destination-cidr-block": of(
            lambda t: [r.destination for r in t.routes if r.destination]
        ),
        "route.destination-prefix-list-id": of(
            lambda t: [
                r.destination_prefix_list_id
                for r in t.routes
                if r.destination_prefix_list_id is not None
            ]
        ),
        "route.gateway-id": of(
            lambda t: [
                r.gateway_id for r in t.routes if r.gateway_id and not r.network_interface_id
            ]
        ),
        "route.instance-id": of(
            lambda t: [i.instance_id for r in t.routes if (i := _instance_of(r, targets))]
        ),
        "route.nat-gateway-id": of(
            lambda t: [r.nat_gateway_id for r in t.routes if r.nat_gateway_id is not None]
        ),
        "route.vpc-peering-connection-id": of(
            lambda t: [
                r.vpc_peering_connection_id
                for r in t.routes
                if r.vpc_peering_connection_id is not None
            ]
        ),
        # IPv6 routes (decision 0217): stored ones and each VPC block's derived local one.
        "route.destination-ipv6-cidr-block": of(
            lambda t: [
                *(r.destination for r in t.ipv6_routes),
                *targets[4].get(t.vpc_id, ()),
            ]
        ),
        "route.origin": of(lambda t: [r.origin for r in t.routes]),
        "route.state": of(lambda t: [_state(r, t, targets) for r in t.routes]),
    }
    return with_tags(fields)


async def describe_route_tables(call: Call) -> None:
    p = call.params
    ids = p.values("RouteTableId")
    tables = await call.compute.describe_route_tables(call.tenant_id, ids)
    targets = await _targets(call)
    filters = Filters(p.filters(), _route_table_filters(targets))
    chosen, next_token = paged(
        p,
        [t for t in tables if matches(filters, t)],
        lambda t: t.route_table_id,
        most=100,
        ids="RouteTableId",
    )
    xml = call.result
    xml.open("routeTableSet")
    for table in chosen:
        _write_route_table(xml, table, targets, "item")
    xml.close("routeTableSet")
    xml.element("nextToken", next_token)


async def create_route_table(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateRouteTable", frozenset({"VpcId", "TagSpecification", "ClientToken"}))
    token = p.get("ClientToken")
    table = await call.compute.create_route_table(
        call.tenant_id, p.required("VpcId"), resource_tags(p, "route-table"), token
    )
    _write_route_table(call.result, table, await _targets(call), "routeTable")
    if token is not None:
        call.result.element("clientToken", token)


async def delete_route_table(call: Call) -> None:
    await call.compute.delete_route_table(call.tenant_id, call.params.required("RouteTableId"))
    write_return(call.result)


# What a route could lead to besides an internet gateway, a NAT gateway, a VPC peering
# connection or a network interface, and IPv6 destinations: refused by name, never dropped
# (decision 0060).
_TARGETS = (
    "GatewayId",
    "NatGatewayId",
    "VpcPeeringConnectionId",
    "NetworkInterfaceId",
    "InstanceId",
)
_DESTINATIONS = ("DestinationCidrBlock", "DestinationPrefixListId")
# Decision 0217: a route to an IPv6 block, to an internet gateway.
_IPV6_DESTINATION = "DestinationIpv6CidrBlock"
_ROUTE_HANDLED = frozenset({"RouteTableId", *_DESTINATIONS, _IPV6_DESTINATION, *_TARGETS})
# ReplaceRoute only: the local route given back its own target (decision 0179).
_LOCAL_TARGET = "LocalTarget"


def _destination(call: Call) -> tuple[str | None, str | None]:
    """The block or the prefix list a route is for: exactly one of them (EC2's words)."""
    p = call.params
    cidr, prefix_list_id = (p.get(name) or None for name in _DESTINATIONS)
    if cidr is None and prefix_list_id is None:
        raise Ec2Error(
            "MissingParameter",
            "The request must contain exactly one of: destinationCidrBlock, "
            "destinationIpv6CidrBlock, destinationPrefixListId",
        )
    if cidr is not None and prefix_list_id is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter destinationCidrBlock cannot be used with the parameter "
            "destinationPrefixListId",
        )
    return cidr, prefix_list_id


def _route_parameters(
    call: Call, action: str
) -> tuple[str, tuple[str | None, str | None], dict[str, str | None]]:
    """The table, the destination (a block or a prefix list), and the target by parameter
    name: the internet gateway, the NAT gateway, the peering connection, the network
    interface or the instance (one)."""
    p = call.params
    handled = _ROUTE_HANDLED | {_LOCAL_TARGET} if action == "ReplaceRoute" else _ROUTE_HANDLED
    p.refuse_unhandled(action, handled)
    given = {name: p.get(name) or None for name in _TARGETS}
    named = [name for name, value in given.items() if value is not None]
    local = p.get(_LOCAL_TARGET)
    if local is not None and local.lower() not in ("true", "false"):
        raise Ec2Error(
            "InvalidParameterValue", f"Value ({local[:16]}) for parameter localTarget is invalid."
        )
    if local is not None and local.lower() == "true":
        given[_LOCAL_TARGET] = "true"
        named.append(_LOCAL_TARGET)
    if not named:
        p.required("GatewayId")  # EC2's MissingParameter: a route must lead somewhere
    if len(named) > 1:
        raise Ec2Error(
            "InvalidParameterCombination",
            f"The parameter {named[0]} cannot be used with the parameter {named[1]}",
        )
    return p.required("RouteTableId"), _destination(call), given


def _ipv6_route(call: Call, action: str) -> tuple[str, str, str] | None:
    """The table, IPv6 destination and internet gateway of a route to an IPv6 block; None
    for a route to an IPv4 block or a prefix list. Its other targets are not offered yet."""
    p = call.params
    destination = p.get(_IPV6_DESTINATION) or None
    if destination is None:
        return None
    handled = _ROUTE_HANDLED | {_LOCAL_TARGET} if action == "ReplaceRoute" else _ROUTE_HANDLED
    p.refuse_unhandled(action, handled)
    for name in _DESTINATIONS:
        if p.get(name):
            raise Ec2Error(
                "InvalidParameterCombination",
                f"The parameter destinationIpv6CidrBlock cannot be used with the parameter "
                f"{name[0].lower()}{name[1:]}",
            )
    for name in _TARGETS[1:]:
        if p.get(name):
            raise Ec2Error(
                "UnsupportedOperation",
                f"A route to an IPv6 block leads to an internet gateway only here: {name}",
            )
    return p.required("RouteTableId"), destination, p.required("GatewayId")


async def create_route(call: Call) -> None:
    ipv6 = _ipv6_route(call, "CreateRoute")
    if ipv6 is not None:
        await call.compute.create_ipv6_route(call.tenant_id, *ipv6)
        write_return(call.result)
        return
    table, (cidr, prefix_list_id), given = _route_parameters(call, "CreateRoute")
    await call.compute.create_route(
        call.tenant_id,
        table,
        cidr,
        given["GatewayId"],
        nat_gateway_id=given["NatGatewayId"],
        vpc_peering_connection_id=given["VpcPeeringConnectionId"],
        destination_prefix_list_id=prefix_list_id,
        network_interface_id=given["NetworkInterfaceId"],
        instance_id=given["InstanceId"],
    )
    write_return(call.result)


async def replace_route(call: Call) -> None:
    ipv6 = _ipv6_route(call, "ReplaceRoute")
    if ipv6 is not None:
        await call.compute.replace_ipv6_route(call.tenant_id, *ipv6)
        write_return(call.result)
        return
    table, (cidr, prefix_list_id), given = _route_parameters(call, "ReplaceRoute")
    await call.compute.replace_route(
        call.tenant_id,
        table,
        cidr,
        given["GatewayId"],
        nat_gateway_id=given["NatGatewayId"],
        vpc_peering_connection_id=given["VpcPeeringConnectionId"],
        destination_prefix_list_id=prefix_list_id,
        network_interface_id=given["NetworkInterfaceId"],
        instance_id=given["InstanceId"],
        local_target=given.get(_LOCAL_TARGET) is not None,
    )
    write_return(call.result)


async def delete_route(call: Call) -> None:
    p = call.params
    p.refuse_unhandled(
        "DeleteRoute", frozenset({"RouteTableId", *_DESTINATIONS, _IPV6_DESTINATION})
    )
    table = p.required("RouteTableId")
    ipv6 = p.get(_IPV6_DESTINATION) or None
    if ipv6 is not None:
        if any(p.get(name) for name in _DESTINATIONS):
            raise Ec2Error(
                "InvalidParameterCombination",
                "The request must contain exactly one of: destinationCidrBlock, "
                "destinationIpv6CidrBlock, destinationPrefixListId",
            )
        await call.compute.delete_ipv6_route(call.tenant_id, table, ipv6)
        write_return(call.result)
        return
    cidr, prefix_list_id = _destination(call)
    await call.compute.delete_route(
        call.tenant_id, table, cidr, destination_prefix_list_id=prefix_list_id
    )
    write_return(call.result)


def _write_association_state(xml: XmlWriter) -> None:
    xml.open("associationState")
    xml.element("state", "associated")
    xml.close("associationState")


async def associate_route_table(call: Call) -> None:
    p = call.params
    # GatewayId: an edge association (ingress routing), which needs gateways that route in.
    p.refuse_unhandled("AssociateRouteTable", frozenset({"RouteTableId", "SubnetId"}))
    association = await call.compute.associate_route_table(
        call.tenant_id, p.required("RouteTableId"), p.required("SubnetId")
    )
    call.result.element("associationId", association.association_id)
    _write_association_state(call.result)


async def disassociate_route_table(call: Call) -> None:
    await call.compute.disassociate_route_table(
        call.tenant_id, call.params.required("AssociationId")
    )
    write_return(call.result)


async def replace_route_table_association(call: Call) -> None:
    p = call.params
    association = await call.compute.replace_route_table_association(
        call.tenant_id, p.required("AssociationId"), p.required("RouteTableId")
    )
    call.result.element("newAssociationId", association.association_id)
    _write_association_state(call.result)


def _table_arn(call: Call) -> list[str]:
    return [call.arn("route-table", call.params.get("RouteTableId") or "*")]


def _association_arns(call: Call) -> list[str]:
    # EC2 authorises AssociateRouteTable on the table and on the subnet.
    subnet = call.params.get("SubnetId")
    return [*_table_arn(call), *([call.arn("subnet", subnet)] if subnet else [])]


ROUTING_ACTIONS: dict[str, Action] = {
    "DescribeRouteTables": Action(describe_route_tables, mutating=False),
    "CreateRouteTable": Action(
        create_route_table,
        mutating=True,
        resources=lambda c: [c.arn("route-table"), c.arn("vpc", c.params.get("VpcId") or "*")],
    ),
    "DeleteRouteTable": Action(delete_route_table, mutating=True, resources=_table_arn),
    "CreateRoute": Action(create_route, mutating=True, resources=_table_arn),
    "ReplaceRoute": Action(replace_route, mutating=True, resources=_table_arn),
    "DeleteRoute": Action(delete_route, mutating=True, resources=_table_arn),
    "AssociateRouteTable": Action(
        associate_route_table, mutating=True, resources=_association_arns
    ),
    "DisassociateRouteTable": Action(disassociate_route_table, mutating=True),
    "ReplaceRouteTableAssociation": Action(
        replace_route_table_association, mutating=True, resources=_table_arn
    ),
}
