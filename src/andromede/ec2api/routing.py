"""EC2's route tables (decision 0121):
DescribeRouteTables (pages of ``MaxResults`` 5 to 100 with ``NextToken``) with the filters
clients find tables by (Terraform's ``aws_vpc``: ``association.main`` with ``vpc-id``; its
association waiters: ``association.route-table-association-id``), Create/DeleteRouteTable,
Create/Replace/DeleteRoute to an internet gateway, Associate/DisassociateRouteTable and
ReplaceRouteTableAssociation (the main association too, as
``aws_main_route_table_association`` moves it). A route leads to an internet gateway
(``GatewayId``) or a NAT gateway (``NatGatewayId``, decision 0129); to anything else, an IPv6 or
prefix-list destination, and an edge association are refused by name (UnsupportedOperation):
there is nothing else here for them to lead to yet. Network ACLs are ``network_acls.py``'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from andromede.compute.nat_gateway import NatGateway
from andromede.compute.routing import (
    InternetGateway,
    RouteTable,
    RouteTableAssociation,
    route_state,
)
from andromede.ec2api.errors import Ec2Error
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call, paged
from andromede.ec2api.vpcs import resource_tags
from andromede.ec2api.xml import write_return, write_tags
from andromede.http.xml import XmlWriter

__all__ = ["ROUTING_ACTIONS"]


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


def _write_route_table(
    xml: XmlWriter,
    table: RouteTable,
    gateways: Mapping[str, InternetGateway],
    nats: Mapping[str, NatGateway],
    element: str,
) -> None:
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
        xml.element("destinationCidrBlock", route.destination)
        xml.element("gatewayId", route.gateway_id or None)
        xml.element("natGatewayId", route.nat_gateway_id)
        xml.element("origin", route.origin)
        xml.element("state", route_state(route, table.vpc_id, gateways, nats))
        xml.close("item")
    xml.close("routeSet")
    write_tags(xml, table.tags)
    xml.element("vpcId", table.vpc_id)
    xml.element("ownerId", table.tenant_id)
    xml.close(element)


def _route_table_filters(
    gateways: Mapping[str, InternetGateway], nats: Mapping[str, NatGateway]
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
        "route.destination-cidr-block": of(lambda t: [r.destination for r in t.routes]),
        "route.gateway-id": of(lambda t: [r.gateway_id for r in t.routes if r.gateway_id]),
        "route.nat-gateway-id": of(
            lambda t: [r.nat_gateway_id for r in t.routes if r.nat_gateway_id is not None]
        ),
        "route.origin": of(lambda t: [r.origin for r in t.routes]),
        "route.state": of(lambda t: [route_state(r, t.vpc_id, gateways, nats) for r in t.routes]),
    }
    return with_tags(fields)


async def describe_route_tables(call: Call) -> None:
    p = call.params
    ids = p.values("RouteTableId")
    tables = await call.compute.describe_route_tables(call.tenant_id, ids)
    gateways = {g.gateway_id: g for g in await call.compute.describe_internet_gateways(
        call.tenant_id, []
    )}  # fmt: skip
    nats = await call.compute.nat_gateways_by_id(call.tenant_id)
    filters = Filters(p.filters(), _route_table_filters(gateways, nats))
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
        _write_route_table(xml, table, gateways, nats, "item")
    xml.close("routeTableSet")
    xml.element("nextToken", next_token)


async def create_route_table(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("CreateRouteTable", frozenset({"VpcId", "TagSpecification", "ClientToken"}))
    token = p.get("ClientToken")
    table = await call.compute.create_route_table(
        call.tenant_id, p.required("VpcId"), resource_tags(p, "route-table"), token
    )
    _, gateways = await call.compute.route_table_view(call.tenant_id)
    nats = await call.compute.nat_gateways_by_id(call.tenant_id)
    _write_route_table(call.result, table, gateways, nats, "routeTable")
    if token is not None:
        call.result.element("clientToken", token)


async def delete_route_table(call: Call) -> None:
    await call.compute.delete_route_table(call.tenant_id, call.params.required("RouteTableId"))
    write_return(call.result)


# What a route could lead to besides an internet gateway or a NAT gateway, and IPv6 or
# prefix-list destinations: refused by name, never dropped (decision 0060).
_ROUTE_HANDLED = frozenset({"RouteTableId", "DestinationCidrBlock", "GatewayId", "NatGatewayId"})


def _route_parameters(call: Call, action: str) -> tuple[str, str, str | None, str | None]:
    """The table, the destination, and the internet gateway or the NAT gateway (one)."""
    p = call.params
    p.refuse_unhandled(action, _ROUTE_HANDLED)
    gateway, nat = p.get("GatewayId") or None, p.get("NatGatewayId") or None
    if gateway is None and nat is None:
        p.required("GatewayId")  # EC2's MissingParameter: a route must lead somewhere
    if gateway is not None and nat is not None:
        raise Ec2Error(
            "InvalidParameterCombination",
            "The parameter GatewayId cannot be used with the parameter NatGatewayId",
        )
    return p.required("RouteTableId"), p.required("DestinationCidrBlock"), gateway, nat


async def create_route(call: Call) -> None:
    table, destination, gateway, nat = _route_parameters(call, "CreateRoute")
    await call.compute.create_route(call.tenant_id, table, destination, gateway, nat_gateway_id=nat)
    write_return(call.result)


async def replace_route(call: Call) -> None:
    table, destination, gateway, nat = _route_parameters(call, "ReplaceRoute")
    await call.compute.replace_route(
        call.tenant_id, table, destination, gateway, nat_gateway_id=nat
    )
    write_return(call.result)


async def delete_route(call: Call) -> None:
    p = call.params
    p.refuse_unhandled("DeleteRoute", frozenset({"RouteTableId", "DestinationCidrBlock"}))
    await call.compute.delete_route(
        call.tenant_id, p.required("RouteTableId"), p.required("DestinationCidrBlock")
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
