"""Elastic IPs (decision 0125): list the account's addresses (public address, allocation id,
Name, the instance and private address each is associated with, the association's id),
allocate one (with a Name), associate one with an instance of the account (moving it from
another only when "allow reassociation" is ticked), disassociate it, release it.

Every read and change is EC2's own call, made as the signed-in principal (``wire_addresses``
over ``wire_ec2.Ec2Wire``), so EC2's policies, states and errors decide — the quota
(AddressLimitExceeded), an address in use (InvalidIPAddress.InUse), one associated elsewhere
(Resource.AlreadyAssociated), a VPC without an internet gateway (Gateway.NotAttached) — and
EC2 audits the changes as it audits boto3's. A refused change shows the page again with EC2's
error and status, and, for the associate form, the instance chosen and the box as they were.
Releasing asks for a ticked box first, as the console's other deletions do: an address given
back to the pool may go to another account.

An address a NAT gateway holds (decision 0129) is the gateway's: EC2 refuses to move,
disassociate or release it (AuthFailure), so its row offers none of these and names the
gateway instead of an instance, found by the interface DescribeAddresses names among the
gateways DescribeNatGateways shows. A user EC2 refuses DescribeNatGateways sees the
interface's id instead; the row still offers nothing, since here only a NAT gateway's
interface holds an address without an instance (AssociateAddress needs an instance's).
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
from andromede.console.pages_ec2 import action, field, no_ec2
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_addresses import AddressRow
from andromede.console.wire_ec2 import Ec2Wire, InstanceRow
from andromede.console.wire_nat_gateways import NatGatewayRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ADDRESSES_URL: Final = f"{CONSOLE_PATH}/elastic-ips"


async def _addresses_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The account's addresses, and the instances an address may be associated with."""
    _ = console.catalogue(request).gettext
    rows: list[AddressRow] = []
    instances: list[InstanceRow] = []
    gateways: dict[str, NatGatewayRow] = {}  # by their interface's id
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            rows = await addresses.describe_addresses(console.ec2, origin, principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        # Only the associate form's choices and the instances' names: the association's own
        # call decides (EC2 refuses a terminated instance, or one that is not the caller's).
        with suppress(WireError):
            instances = await console.ec2.live_instances(origin, principal)
        # Only to name the gateway holding an address: its row offers nothing either way.
        with suppress(WireError):
            gateways = {
                n.network_interface_id: n
                for n in await nat_gateways.describe_nat_gateways(console.ec2, origin, principal)
                if n.network_interface_id and not n.deleted
            }
    typed = typed or {}
    return console.render(
        request,
        "ec2_elastic_ips.html",
        session=session,
        status=status,
        title=_("Elastic IPs"),
        addresses=rows,
        instances=instances,
        names={i.instance_id: i.name for i in instances},
        nat_gateways=gateways,
        typed=typed.get("allocate", {}),
        # A refused association's form, as sent: its address is the one of the path posted to.
        associating=typed.get("associate", {}),
        associating_id=request.path_params.get("allocation_id", "") if "associate" in typed else "",
        error=error,
    )


async def _allocate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await addresses.allocate_address(ec2, request.scope, who, field(f, "name"))
    return _ADDRESSES_URL


async def _associate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await addresses.associate_address(
        ec2, request.scope, who, request.path_params["allocation_id"], field(f, "instance_id"),
        allow_reassociation=f.get("allow_reassociation") == "yes",
    )  # fmt: skip
    return _ADDRESSES_URL


async def _disassociate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await addresses.disassociate_address(ec2, request.scope, who, field(f, "association_id"))
    return _ADDRESSES_URL


async def _release(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await addresses.release_address(ec2, request.scope, who, request.path_params["allocation_id"])
    return _ADDRESSES_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/elastic-ips", signed_in(_addresses_page), ["GET"]),
    ("/elastic-ips", action(_addresses_page, _allocate, form="allocate"), ["POST"]),
    ("/elastic-ips/{allocation_id}/associate",
     action(_addresses_page, _associate, form="associate"), ["POST"]),
    ("/elastic-ips/{allocation_id}/disassociate",
     action(_addresses_page, _disassociate), ["POST"]),
    ("/elastic-ips/{allocation_id}/release",
     action(_addresses_page, _release, confirmed=True), ["POST"]),
]  # fmt: skip
