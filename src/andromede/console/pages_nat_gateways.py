"""NAT gateways (decision 0129): list the account's (a VPC's, from ``?vpc_id=``) with their
state, subnet and addresses; create one in a subnet of the account's, holding one of its free
Elastic IPs (with a Name, and a ClientToken so that the form sent twice makes one); delete one
after a ticked box. A route table's page offers the available ones of its VPC as a route's
target (``pages_routing``).

Every read and change is EC2's own call, made as the signed-in principal
(``wire_nat_gateways`` over ``wire_ec2.Ec2Wire``), so EC2's policies, states and errors decide
— an address held elsewhere (Resource.AlreadyAssociated), a VPC without an internet gateway
(Gateway.NotAttached), the quota (NatGatewayLimitExceeded) — and EC2 audits the changes as it
audits boto3's. A refused creation shows the page again with EC2's error and status, and the
form as it was sent (its ClientToken too, so that sending it again after a fix is still one
gateway).

The form offers the addresses associated with nothing only, as the AWS console does; it does
not allocate one itself: a form that allocated, then created, sent twice, would allocate twice
and the second creation would name another address with the same ClientToken (EC2's
IdempotentParameterMismatch), an address left behind. The page links to the Elastic IPs page
instead, where one is allocated in one click.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_addresses as addresses
from andromede.console import wire_nat_gateways as nat_gateways
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, client_token, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_addresses import AddressRow
from andromede.console.wire_ec2 import Ec2Wire, SubnetRow
from andromede.console.wire_nat_gateways import NatGatewayRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_NAT_GATEWAYS_URL: Final = f"{CONSOLE_PATH}/nat-gateways"


async def _nat_gateways_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The account's gateways (``?vpc_id=``: that VPC's), and the create form's choices."""
    _ = console.catalogue(request).gettext
    vpc_id = request.query_params.get("vpc_id", "")
    rows: list[NatGatewayRow] = []
    subnets: list[SubnetRow] = []
    free: list[AddressRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            rows = await nat_gateways.describe_nat_gateways(
                console.ec2, origin, principal, vpc_id=vpc_id or None
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only the create form's choices: CreateNatGateway decides (EC2 refuses a subnet or
        # an address that is not the caller's, or one associated meanwhile).
        with suppress(WireError):
            subnets = await console.ec2.describe_subnets(origin, principal)
        with suppress(WireError):
            held = await addresses.describe_addresses(console.ec2, origin, principal)
            free = [a for a in held if not a.associated]
    return console.render(
        request,
        "ec2_nat_gateways.html",
        session=session,
        status=status,
        title=_("NAT gateways"),
        nat_gateways=rows,
        subnets=subnets,
        addresses=free,
        vpc_id=vpc_id,
        client_token=client_token(),
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await nat_gateways.create_nat_gateway(
        ec2, request.scope, who, field(f, "subnet_id"), field(f, "allocation_id"),
        field(f, "name"), field(f, "client_token"),
    )  # fmt: skip
    return _NAT_GATEWAYS_URL


async def _delete(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await nat_gateways.delete_nat_gateway(
        ec2, request.scope, who, request.path_params["nat_gateway_id"]
    )
    return _NAT_GATEWAYS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/nat-gateways", signed_in(_nat_gateways_page), ["GET"]),
    ("/nat-gateways", action(_nat_gateways_page, _create, form="create"), ["POST"]),
    ("/nat-gateways/{nat_gateway_id}/delete",
     action(_nat_gateways_page, _delete, confirmed=True), ["POST"]),
]  # fmt: skip
