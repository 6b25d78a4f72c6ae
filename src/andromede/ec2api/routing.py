"""EC2's DescribeRouteTables and DescribeNetworkAcls: each VPC's main route table and default
network ACL, as ``compute/routing.py`` derives them (decision 0100), with the filters clients
use to find them (Terraform's ``aws_vpc``: ``vpc-id`` with ``association.main`` or
``default``). Creating, changing or associating route tables, routes and ACLs is not in the
API (``InvalidAction``): there is nothing else for them to route to yet.
"""

from __future__ import annotations

from collections.abc import Callable

from andromede.compute.routing import NetworkAcl, RouteTable
from andromede.ec2api.filters import Filters, matches, with_tags
from andromede.ec2api.protocol import Action, Call
from andromede.ec2api.xml import write_tags
from andromede.http.xml import XmlWriter

__all__ = ["ROUTING_ACTIONS"]


def _text(value: bool) -> str:
    return "true" if value else "false"


# -- route tables ----------------------------------------------------------------------------


def _write_route_table(xml: XmlWriter, table: RouteTable) -> None:
    xml.open("item")
    xml.element("routeTableId", table.route_table_id)
    xml.element("vpcId", table.vpc_id)
    xml.element("ownerId", table.tenant_id)
    xml.open("routeSet")
    xml.open("item")
    xml.element("destinationCidrBlock", table.local_cidr)
    xml.element("gatewayId", "local")
    xml.element("state", "active")
    xml.element("origin", "CreateRouteTable")
    xml.close("item")
    xml.close("routeSet")
    xml.open("associationSet")
    xml.open("item")
    xml.element("routeTableAssociationId", table.main_association_id)
    xml.element("routeTableId", table.route_table_id)
    xml.element("main", True)
    xml.open("associationState")
    xml.element("state", "associated")
    xml.close("associationState")
    xml.close("item")
    xml.close("associationSet")
    xml.open("propagatingVgwSet")
    xml.close("propagatingVgwSet")
    write_tags(xml, table.tags)
    xml.close("item")


def _route_table_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[RouteTable], list[str]]) -> Callable[[object], list[str]]:
        return lambda t: get(t) if isinstance(t, RouteTable) else []

    fields = {
        "route-table-id": of(lambda t: [t.route_table_id]),
        "vpc-id": of(lambda t: [t.vpc_id]),
        "owner-id": of(lambda t: [t.tenant_id]),
        "association.main": of(lambda t: ["true"]),
        "association.route-table-association-id": of(lambda t: [t.main_association_id]),
        "association.route-table-id": of(lambda t: [t.route_table_id]),
        # Subnets are associated implicitly, and EC2 lists no association for those.
        "association.subnet-id": of(lambda t: []),
        "association.gateway-id": of(lambda t: []),
        "route.destination-cidr-block": of(lambda t: [t.local_cidr]),
        "route.gateway-id": of(lambda t: ["local"]),
        "route.origin": of(lambda t: ["CreateRouteTable"]),
        "route.state": of(lambda t: ["active"]),
    }
    return with_tags(fields)(name)


async def describe_route_tables(call: Call) -> None:
    p = call.params
    tables = await call.compute.describe_route_tables(call.tenant_id, p.values("RouteTableId"))
    filters = Filters(p.filters(), _route_table_filter)
    xml = call.result
    xml.open("routeTableSet")
    for table in tables:
        if matches(filters, table):
            _write_route_table(xml, table)
    xml.close("routeTableSet")


# -- network ACLs ----------------------------------------------------------------------------


def _write_network_acl(xml: XmlWriter, acl: NetworkAcl) -> None:
    xml.open("item")
    xml.element("networkAclId", acl.network_acl_id)
    xml.element("vpcId", acl.vpc_id)
    xml.element("ownerId", acl.tenant_id)
    xml.element("default", acl.is_default)
    xml.open("entrySet")
    for rule in acl.rules:
        xml.open("item")
        xml.element("ruleNumber", rule.number)
        xml.element("protocol", rule.protocol)
        xml.element("ruleAction", rule.action)
        xml.element("egress", rule.egress)
        xml.element("cidrBlock", rule.cidr)
        xml.close("item")
    xml.close("entrySet")
    xml.open("associationSet")
    for association_id, subnet_id in acl.associations:
        xml.open("item")
        xml.element("networkAclAssociationId", association_id)
        xml.element("networkAclId", acl.network_acl_id)
        xml.element("subnetId", subnet_id)
        xml.close("item")
    xml.close("associationSet")
    write_tags(xml, acl.tags)
    xml.close("item")


def _network_acl_filter(name: str) -> Callable[[object], list[str]] | None:
    def of(get: Callable[[NetworkAcl], list[str]]) -> Callable[[object], list[str]]:
        return lambda a: get(a) if isinstance(a, NetworkAcl) else []

    fields = {
        "network-acl-id": of(lambda a: [a.network_acl_id]),
        "vpc-id": of(lambda a: [a.vpc_id]),
        "owner-id": of(lambda a: [a.tenant_id]),
        "default": of(lambda a: [_text(a.is_default)]),
        "association.subnet-id": of(lambda a: [subnet for _, subnet in a.associations]),
        "association.association-id": of(lambda a: [assoc for assoc, _ in a.associations]),
        "association.network-acl-id": of(lambda a: [a.network_acl_id for _ in a.associations]),
        "entry.rule-number": of(lambda a: [str(r.number) for r in a.rules]),
        "entry.rule-action": of(lambda a: [r.action for r in a.rules]),
        "entry.egress": of(lambda a: [_text(r.egress) for r in a.rules]),
        "entry.protocol": of(lambda a: [r.protocol for r in a.rules]),
        "entry.cidr": of(lambda a: [r.cidr for r in a.rules]),
    }
    return with_tags(fields)(name)


async def describe_network_acls(call: Call) -> None:
    p = call.params
    acls = await call.compute.describe_network_acls(call.tenant_id, p.values("NetworkAclId"))
    filters = Filters(p.filters(), _network_acl_filter)
    xml = call.result
    xml.open("networkAclSet")
    for acl in acls:
        if matches(filters, acl):
            _write_network_acl(xml, acl)
    xml.close("networkAclSet")


ROUTING_ACTIONS: dict[str, Action] = {
    "DescribeRouteTables": Action(describe_route_tables, mutating=False),
    "DescribeNetworkAcls": Action(describe_network_acls, mutating=False),
}
