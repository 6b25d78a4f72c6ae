"""EC2's internet gateway and route table calls (decision 0121), made in process as the
console's signed-in principal through ``wire_ec2.Ec2Wire``: EC2's own authorisation, audit and
errors answer them. Each answer is read into the small rows the internet gateways and route
tables pages show; nothing here decides what EC2 allows.

Functions over ``Ec2Wire.call`` rather than more methods of it, as ``wire_ec2_more``, so that
the console's one EC2 wire stays the one ``Console.ec2`` holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal
from xml.etree.ElementTree import Element

from andromede.console.wire_ec2 import Ec2Wire, filter_params, name_of, tagged, tags_of, text
from andromede.http.response import Scope
from andromede.iam.model import Principal

__all__ = [
    "LOCAL",
    "AssociationRow",
    "GatewayRow",
    "RouteChange",
    "RouteRow",
    "RouteTableRow",
    "associate_route_table",
    "attach_internet_gateway",
    "change_route",
    "create_internet_gateway",
    "create_route_table",
    "delete_internet_gateway",
    "delete_route",
    "delete_route_table",
    "describe_internet_gateways",
    "describe_route_table",
    "describe_route_tables",
    "detach_internet_gateway",
    "disassociate_route_table",
    "is_nat_gateway",
    "is_peering",
    "make_main",
]

# The target EC2 names a table's route within its VPC's block: made with the table, and
# never removed.
LOCAL: Final = "local"
RouteChange = Literal["CreateRoute", "ReplaceRoute"]
_NAT_GATEWAY_PREFIX: Final = "nat-"
_PEERING_PREFIX: Final = "pcx-"


def is_nat_gateway(target: str) -> bool:
    """Whether a route's target is a NAT gateway (decision 0129) rather than an internet
    gateway: EC2's ids say which (``nat-…``, ``igw-…``), so one select offers both."""
    return target.startswith(_NAT_GATEWAY_PREFIX)


def is_peering(target: str) -> bool:
    """Whether a route's target is a VPC peering connection (``pcx-…``, decision 0139)."""
    return target.startswith(_PEERING_PREFIX)


# The parameter of CreateRoute and ReplaceRoute, and the element of DescribeRouteTables' route,
# naming each kind of target; an internet gateway's (and ``local``) is the gateway's.
_TARGET_PARAMETERS: Final = (
    (is_nat_gateway, "NatGatewayId"),
    (is_peering, "VpcPeeringConnectionId"),
    # A network interface (decision 0161's addendum).
    (lambda target: target.startswith("eni-"), "NetworkInterfaceId"),
)
_TARGET_ELEMENTS: Final = (
    "gatewayId",
    "natGatewayId",
    "vpcPeeringConnectionId",
    "networkInterfaceId",
)


@dataclass(frozen=True, slots=True)
class GatewayRow:
    gateway_id: str
    name: str
    vpc_id: str  # "" while detached
    state: str  # the attachment's ("available" while attached), "" while detached


@dataclass(frozen=True, slots=True)
class RouteRow:
    # A block, or a managed prefix list's id (decision 0149's addendum).
    destination: str
    # An internet gateway's, a NAT gateway's (decision 0129) or a VPC peering connection's id
    # (decision 0139), or ``LOCAL``.
    target: str
    # "active", or "blackhole" once its gateway is detached or deleted, its connection no
    # longer active
    state: str
    origin: str

    @property
    def local(self) -> bool:
        return self.target == LOCAL

    @property
    def to_nat_gateway(self) -> bool:
        return is_nat_gateway(self.target)

    @property
    def to_peering(self) -> bool:
        return is_peering(self.target)


@dataclass(frozen=True, slots=True)
class AssociationRow:
    association_id: str
    subnet_id: str  # "" for the VPC's main association
    main: bool


@dataclass(frozen=True, slots=True)
class RouteTableRow:
    route_table_id: str
    name: str
    vpc_id: str
    routes: tuple[RouteRow, ...]
    associations: tuple[AssociationRow, ...]

    @property
    def main(self) -> bool:
        return any(a.main for a in self.associations)

    @property
    def subnets(self) -> int:
        """How many subnets the table holds explicitly (the main one holds the others too)."""
        return sum(1 for a in self.associations if a.subnet_id)


def _gateway(item: Element) -> GatewayRow:
    attachment = item.find("attachmentSet/item")
    return GatewayRow(
        gateway_id=text(item, "internetGatewayId"),
        name=name_of(tags_of(item)),
        vpc_id=text(attachment, "vpcId") if attachment is not None else "",
        state=text(attachment, "state") if attachment is not None else "",
    )


def _route_table(item: Element) -> RouteTableRow:
    return RouteTableRow(
        route_table_id=text(item, "routeTableId"),
        name=name_of(tags_of(item)),
        vpc_id=text(item, "vpcId"),
        routes=tuple(
            RouteRow(
                destination=text(r, "destinationCidrBlock") or text(r, "destinationPrefixListId"),
                # EC2 names the one target a route has in the element of its kind.
                target=next((t for t in (text(r, e) for e in _TARGET_ELEMENTS) if t), ""),
                state=text(r, "state"),
                origin=text(r, "origin"),
            )
            for r in item.iterfind("routeSet/item")
        ),
        associations=tuple(
            AssociationRow(
                association_id=text(a, "routeTableAssociationId"),
                subnet_id=text(a, "subnetId"),
                main=text(a, "main") == "true",
            )
            for a in item.iterfind("associationSet/item")
        ),
    )


# -- internet gateways -----------------------------------------------------------------------


async def describe_internet_gateways(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, vpc_id: str | None = None
) -> list[GatewayRow]:
    """The caller's gateways (the one attached to ``vpc_id`` only, when given)."""
    params = filter_params("attachment.vpc-id", [vpc_id]) if vpc_id else {}
    root = await ec2.call(origin, who, "DescribeInternetGateways", params)
    return [_gateway(g) for g in root.iterfind("internetGatewaySet/item")]


async def create_internet_gateway(ec2: Ec2Wire, origin: Scope, who: Principal, name: str) -> str:
    """The new gateway's id; it is attached to no VPC."""
    params = tagged("internet-gateway", name)
    root = await ec2.call(origin, who, "CreateInternetGateway", params)
    return text(root, "internetGateway/internetGatewayId")


async def attach_internet_gateway(
    ec2: Ec2Wire, origin: Scope, who: Principal, gateway_id: str, vpc_id: str
) -> None:
    params = {"InternetGatewayId": gateway_id, "VpcId": vpc_id}
    await ec2.call(origin, who, "AttachInternetGateway", params)


async def detach_internet_gateway(
    ec2: Ec2Wire, origin: Scope, who: Principal, gateway_id: str, vpc_id: str
) -> None:
    """From ``vpc_id``, the VPC the page showed it attached to (EC2 names both)."""
    params = {"InternetGatewayId": gateway_id, "VpcId": vpc_id}
    await ec2.call(origin, who, "DetachInternetGateway", params)


async def delete_internet_gateway(
    ec2: Ec2Wire, origin: Scope, who: Principal, gateway_id: str
) -> None:
    await ec2.call(origin, who, "DeleteInternetGateway", {"InternetGatewayId": gateway_id})


# -- route tables ----------------------------------------------------------------------------


async def describe_route_tables(
    ec2: Ec2Wire, origin: Scope, who: Principal, *, vpc_id: str | None = None
) -> list[RouteTableRow]:
    """The caller's route tables (those of ``vpc_id`` only, when given)."""
    params = filter_params("vpc-id", [vpc_id]) if vpc_id else {}
    root = await ec2.call(origin, who, "DescribeRouteTables", params)
    return [_route_table(t) for t in root.iterfind("routeTableSet/item")]


async def describe_route_table(
    ec2: Ec2Wire, origin: Scope, who: Principal, route_table_id: str
) -> RouteTableRow | None:
    """One table; EC2's InvalidRouteTableID.NotFound for another tenant's, as for none."""
    root = await ec2.call(origin, who, "DescribeRouteTables", {"RouteTableId.1": route_table_id})
    return next((_route_table(t) for t in root.iterfind("routeTableSet/item")), None)


async def create_route_table(
    ec2: Ec2Wire, origin: Scope, who: Principal, vpc_id: str, name: str, token: str = ""
) -> str:
    """The new table's id: the ``local`` route only, associated with no subnet. ``token``:
    the form's ClientToken, so that the form sent twice makes one table."""
    params = {"VpcId": vpc_id, **tagged("route-table", name)}
    if token:
        params["ClientToken"] = token
    root = await ec2.call(origin, who, "CreateRouteTable", params)
    return text(root, "routeTable/routeTableId")


async def delete_route_table(
    ec2: Ec2Wire, origin: Scope, who: Principal, route_table_id: str
) -> None:
    await ec2.call(origin, who, "DeleteRouteTable", {"RouteTableId": route_table_id})


async def change_route(
    ec2: Ec2Wire,
    origin: Scope,
    who: Principal,
    action: RouteChange,
    route_table_id: str,
    destination: str,
    target: str,
) -> None:
    """A route to ``destination`` made (CreateRoute), or its target replaced (ReplaceRoute):
    ``target``, an internet gateway (EC2's GatewayId), a NAT gateway (NatGatewayId) or a VPC
    peering connection (VpcPeeringConnectionId): its id says which. ``destination`` is a block
    or a managed prefix list's id (``pl-…``)."""
    kind = next((name for kind_of, name in _TARGET_PARAMETERS if kind_of(target)), "GatewayId")
    params = {"RouteTableId": route_table_id, **_destination(destination), kind: target}
    await ec2.call(origin, who, action, params)


def _destination(destination: str) -> dict[str, str]:
    """EC2's parameter for a route's destination: a prefix list's by its id, else a block."""
    if destination.startswith("pl-"):
        return {"DestinationPrefixListId": destination}
    return {"DestinationCidrBlock": destination}


async def delete_route(
    ec2: Ec2Wire, origin: Scope, who: Principal, route_table_id: str, destination: str
) -> None:
    params = {"RouteTableId": route_table_id, **_destination(destination)}
    await ec2.call(origin, who, "DeleteRoute", params)


async def associate_route_table(
    ec2: Ec2Wire, origin: Scope, who: Principal, route_table_id: str, subnet_id: str
) -> None:
    params = {"RouteTableId": route_table_id, "SubnetId": subnet_id}
    await ec2.call(origin, who, "AssociateRouteTable", params)


async def disassociate_route_table(
    ec2: Ec2Wire, origin: Scope, who: Principal, association_id: str
) -> None:
    await ec2.call(origin, who, "DisassociateRouteTable", {"AssociationId": association_id})


async def make_main(ec2: Ec2Wire, origin: Scope, who: Principal, route_table_id: str) -> None:
    """The table made its VPC's main one: the VPC's main association, as EC2 holds it now,
    moved onto the table (ReplaceRouteTableAssociation, what
    ``aws_main_route_table_association`` does). Nothing to move when it is the main one."""
    table = await describe_route_table(ec2, origin, who, route_table_id)
    if table is None or table.main:
        return
    tables = await describe_route_tables(ec2, origin, who, vpc_id=table.vpc_id)
    main = next((a for t in tables for a in t.associations if a.main), None)
    if main is None:
        return
    params = {"AssociationId": main.association_id, "RouteTableId": route_table_id}
    await ec2.call(origin, who, "ReplaceRouteTableAssociation", params)
