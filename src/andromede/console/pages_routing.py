"""Internet gateways and route tables (decision 0121). Internet gateways: list the account's
(those attached to one VPC, from that VPC's row), create one, attach it to a VPC, detach it,
delete it. Route tables: list them (a VPC's, from its row), create one in a VPC; a table's
routes (add one to an internet gateway, to one of the VPC's available NAT gateways, decision
0129, or to one of its active VPC peering connections, decision 0139; replace its target,
delete it) and associations
(associate a subnet, disassociate one, make the table its VPC's main one), and delete it.
Every read and change is EC2's own call, made as the signed-in principal (``wire_routing``
over ``wire_ec2.Ec2Wire``), so EC2's policies, states and errors decide, and EC2 audits the
changes as it audits boto3's. A refused change shows the page again with EC2's error and
status, and what was typed in the form that was sent.

A button a row does not offer (deleting the local route or the main table, disassociating
the main association) is only an aid to the reader: EC2 refuses those calls whoever sends
them. Deleting a gateway or a table asks for a ticked box first, as the console's other
deletions of what holds a network together."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_nat_gateways as nat_gateways
from andromede.console import wire_routing as routing
from andromede.console import wire_vpc_peerings as peerings
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import Change, action, field, no_ec2, vpc_scoped_page
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, SubnetRow
from andromede.console.wire_nat_gateways import NatGatewayRow
from andromede.console.wire_routing import GatewayRow, RouteChange, RouteTableRow
from andromede.console.wire_vpc_peerings import PeeringRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_GATEWAYS_URL: Final = f"{CONSOLE_PATH}/internet-gateways"
_TABLES_URL: Final = f"{CONSOLE_PATH}/route-tables"


def _table_url(route_table_id: str) -> str:
    return f"{_TABLES_URL}/{quote(route_table_id, safe='')}"


# -- internet gateways -----------------------------------------------------------------------


# The account's gateways; with ``?vpc_id=``, the one attached to that VPC.
_gateways_page = vpc_scoped_page(
    "ec2_internet_gateways.html",
    "gateways",
    lambda _: _("Internet gateways"),
    routing.describe_internet_gateways,
)


async def _create_gateway(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await routing.create_internet_gateway(ec2, request.scope, who, field(f, "name"))
    return _GATEWAYS_URL


async def _attach_gateway(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    gateway_id = request.path_params["gateway_id"]
    await routing.attach_internet_gateway(ec2, request.scope, who, gateway_id, field(f, "vpc_id"))
    return _GATEWAYS_URL


async def _detach_gateway(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    gateway_id = request.path_params["gateway_id"]
    await routing.detach_internet_gateway(ec2, request.scope, who, gateway_id, field(f, "vpc_id"))
    return _GATEWAYS_URL


async def _delete_gateway(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await routing.delete_internet_gateway(
        ec2, request.scope, who, request.path_params["gateway_id"]
    )
    return _GATEWAYS_URL


# -- route tables ----------------------------------------------------------------------------


# The account's route tables; with ``?vpc_id=``, that VPC's.
_tables_page = vpc_scoped_page(
    "ec2_route_tables.html", "tables", lambda _: _("Route tables"), routing.describe_route_tables
)


async def _table_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """A table's routes and associations, and the forms that change them; another account's
    table is EC2's InvalidRouteTableID.NotFound, as a table that does not exist."""
    _ = console.catalogue(request).gettext
    route_table_id = request.path_params["route_table_id"]
    table: RouteTableRow | None = None
    gateways: list[GatewayRow] = []
    nats: list[NatGatewayRow] = []
    pcxs: list[PeeringRow] = []
    subnets: list[SubnetRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            table = await routing.describe_route_table(
                console.ec2, origin, principal, route_table_id
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if table is None and error is None:
            error, status = _("No such route table."), 404
        if table is not None:
            # Only the forms' choices: the route's and the association's own calls decide.
            with suppress(WireError):
                gateways = await routing.describe_internet_gateways(console.ec2, origin, principal)
            with suppress(WireError):
                nats = [
                    n
                    for n in await nat_gateways.describe_nat_gateways(
                        console.ec2, origin, principal, vpc_id=table.vpc_id
                    )
                    if n.state == nat_gateways.AVAILABLE
                ]
            with suppress(WireError):
                pcxs = [
                    p
                    for p in await peerings.describe_vpc_peering_connections(
                        console.ec2, origin, principal, vpc_id=table.vpc_id
                    )
                    if p.active
                ]
            with suppress(WireError):
                held = {a.subnet_id for a in table.associations}
                subnets = [
                    s
                    for s in await console.ec2.describe_subnets(origin, principal)
                    if s.vpc_id == table.vpc_id and s.subnet_id not in held
                ]
    return console.render(
        request,
        "ec2_route_table.html",
        session=session,
        status=status,
        title=(table.name or table.route_table_id) if table is not None else route_table_id,
        table=table,
        # The gateway attached to the table's VPC first: the one a route to it may target.
        gateways=sorted(gateways, key=lambda g: table is None or g.vpc_id != table.vpc_id),
        # Beside them, the VPC's NAT gateways a route may lead to (another VPC's, EC2 refuses).
        nat_gateways=nats,
        # And its active peering connections (a pending one, or another VPC's, EC2 refuses).
        peerings=pcxs,
        subnets=subnets,
        typed=typed or {},
        error=error,
    )


async def _create_table(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    route_table_id = await routing.create_route_table(
        ec2, request.scope, who, field(f, "vpc_id"), field(f, "name"), field(f, "client_token")
    )
    # To its page, where its routes and subnets are added (the list, should EC2 name none).
    return _table_url(route_table_id) if route_table_id else _TABLES_URL


async def _delete_table(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await routing.delete_route_table(ec2, request.scope, who, request.path_params["route_table_id"])
    return _TABLES_URL


def _route_change(action_name: RouteChange) -> Change:
    """The form's route made (CreateRoute), or its target replaced (ReplaceRoute)."""

    async def change(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
        route_table_id = request.path_params["route_table_id"]
        await routing.change_route(
            ec2, request.scope, who, action_name,
            route_table_id, field(f, "destination"), field(f, "gateway_id"),
        )  # fmt: skip
        return _table_url(route_table_id)

    return change


async def _delete_route(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    route_table_id = request.path_params["route_table_id"]
    await routing.delete_route(ec2, request.scope, who, route_table_id, field(f, "destination"))
    return _table_url(route_table_id)


async def _associate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    route_table_id = request.path_params["route_table_id"]
    await routing.associate_route_table(
        ec2, request.scope, who, route_table_id, field(f, "subnet_id")
    )
    return _table_url(route_table_id)


async def _disassociate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await routing.disassociate_route_table(ec2, request.scope, who, field(f, "association_id"))
    return _table_url(request.path_params["route_table_id"])


async def _make_main(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    route_table_id = request.path_params["route_table_id"]
    await routing.make_main(ec2, request.scope, who, route_table_id)
    return _table_url(route_table_id)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/internet-gateways", signed_in(_gateways_page), ["GET"]),
    ("/internet-gateways", action(_gateways_page, _create_gateway, form="create"), ["POST"]),
    ("/internet-gateways/{gateway_id}/attach", action(_gateways_page, _attach_gateway), ["POST"]),
    ("/internet-gateways/{gateway_id}/detach", action(_gateways_page, _detach_gateway), ["POST"]),
    ("/internet-gateways/{gateway_id}/delete",
     action(_gateways_page, _delete_gateway, confirmed=True), ["POST"]),
    ("/route-tables", signed_in(_tables_page), ["GET"]),
    ("/route-tables", action(_tables_page, _create_table, form="create"), ["POST"]),
    ("/route-tables/{route_table_id}", signed_in(_table_page), ["GET"]),
    ("/route-tables/{route_table_id}/delete",
     action(_table_page, _delete_table, confirmed=True), ["POST"]),
    ("/route-tables/{route_table_id}/routes/add",
     action(_table_page, _route_change("CreateRoute"), form="route"), ["POST"]),
    ("/route-tables/{route_table_id}/routes/replace",
     action(_table_page, _route_change("ReplaceRoute")), ["POST"]),
    ("/route-tables/{route_table_id}/routes/delete", action(_table_page, _delete_route), ["POST"]),
    ("/route-tables/{route_table_id}/associate",
     action(_table_page, _associate, form="associate"), ["POST"]),
    ("/route-tables/{route_table_id}/disassociate",
     action(_table_page, _disassociate), ["POST"]),
    ("/route-tables/{route_table_id}/main", action(_table_page, _make_main), ["POST"]),
]  # fmt: skip
