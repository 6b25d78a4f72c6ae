"""VPC peering connections (decision 0139): list those the account is a side of, requester or
accepter (both VPCs, their owner accounts and blocks, EC2's status and its message, a pending
request's expiry; a VPC's from ``?vpc_id=``); request one from a VPC of the account's to a
peer VPC (the account's own, or another account's named by its id, with a Name); accept or
reject one pending for the account; delete one after a ticked box. A route table's page offers
the active ones of its VPC as a route's target (``pages_routing``).

Every read and change is EC2's own call, made as the signed-in principal
(``wire_vpc_peerings`` over ``wire_ec2.Ec2Wire``), so EC2's policies, transition table and
errors decide — the requester accepting its own request to another account
(OperationNotPermitted), a connection no longer pending (InvalidStateTransition), a VPC's
active connections quota (ActiveVpcPeeringConnectionPerVpcLimitExceeded) — and EC2 audits the
changes as it audits boto3's. A refused request shows the page again with EC2's error and
status, and the form as it was sent.

EC2 reports a request it cannot make (overlapping blocks, another account's peer VPC that is
not there) through the connection's state rather than an error: the connection is made
``failed``, with a message saying why. The console shows that answer as it shows a refusal —
the page again, EC2's message and the form as sent, so that the peer VPC is corrected and sent
again — while the failed connection stays listed for EC2's while.

The accept, reject and delete buttons a row offers (accept and reject to the accepter of a
pending request; delete to either side once active, to the requester while pending) are only
an aid to the reader: EC2 refuses the others whoever sends them. CreateVpcPeeringConnection
takes no ClientToken: the form sent twice is refused the second time by EC2
(VpcPeeringConnectionAlreadyExists), one connection made.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_vpc_peerings as peerings
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import action, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, VpcRow
from andromede.console.wire_vpc_peerings import PeeringRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_PEERINGS_URL: Final = f"{CONSOLE_PATH}/peering-connections"
# The status of the page showing a request EC2 answered ``failed``: what was sent could not be
# made, as a refusal (the failed connection itself is listed).
_FAILED_STATUS: Final = 400


async def _peerings_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The connections the account is a side of (``?vpc_id=``: that VPC's), and the create
    form's choice of the account's VPCs."""
    _ = console.catalogue(request).gettext
    vpc_id = request.query_params.get("vpc_id", "")
    rows: list[PeeringRow] = []
    vpcs: list[VpcRow] = []
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            rows = await peerings.describe_vpc_peering_connections(
                console.ec2, origin, principal, vpc_id=vpc_id or None
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only the create form's choice: CreateVpcPeeringConnection decides (EC2 refuses a
        # VPC that is not the caller's).
        with suppress(WireError):
            vpcs = await console.ec2.describe_vpcs(origin, principal)
    return console.render(
        request,
        "ec2_peering_connections.html",
        session=session,
        status=status,
        title=_("Peering connections"),
        peerings=rows,
        vpcs=vpcs,
        vpc_id=vpc_id,
        account=session.principal.tenant_id or "",
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    made = await peerings.create_vpc_peering_connection(
        ec2, request.scope, who, field(f, "vpc_id"), field(f, "peer_vpc_id"),
        field(f, "peer_owner_id"), field(f, "name"),
    )  # fmt: skip
    if made.status == peerings.FAILED:
        # EC2's answer, not a refusal: shown as one, with EC2's message ("Overlapping CIDRs").
        raise WireError(peerings.FAILED, made.message, _FAILED_STATUS)
    return _PEERINGS_URL


async def _accept(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await peerings.accept_vpc_peering_connection(
        ec2, request.scope, who, request.path_params["peering_id"]
    )
    return _PEERINGS_URL


async def _reject(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await peerings.reject_vpc_peering_connection(
        ec2, request.scope, who, request.path_params["peering_id"]
    )
    return _PEERINGS_URL


async def _delete(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await peerings.delete_vpc_peering_connection(
        ec2, request.scope, who, request.path_params["peering_id"]
    )
    return _PEERINGS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/peering-connections", signed_in(_peerings_page), ["GET"]),
    ("/peering-connections", action(_peerings_page, _create, form="create"), ["POST"]),
    ("/peering-connections/{peering_id}/accept", action(_peerings_page, _accept), ["POST"]),
    ("/peering-connections/{peering_id}/reject", action(_peerings_page, _reject), ["POST"]),
    ("/peering-connections/{peering_id}/delete",
     action(_peerings_page, _delete, confirmed=True), ["POST"]),
]  # fmt: skip
