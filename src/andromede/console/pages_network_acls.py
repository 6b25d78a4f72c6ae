"""Network ACLs (decision 0128): list the account's (a VPC's, from its row), create one in a
VPC; an ACL's entries in each direction in rule order as EC2 lists them, the ``*`` rule
included (add an entry, replace one, delete one; an icmp entry's type and code, decision
0130), its subnets and a form moving one of its VPC's subnets onto it, and delete it.

Every read and change is EC2's own call, made as the signed-in principal
(``wire_network_acls`` over ``wire_ec2.Ec2Wire``), so EC2's policies, checks, quotas and
errors decide — a number taken (NetworkAclEntryAlreadyExists), none to replace or delete
(InvalidNetworkAclEntry.NotFound), the entry quota (NetworkAclEntryLimitExceeded), an ACL
still associated (DependencyViolation) or the default one (InvalidParameterValue) deleted —
and EC2 audits the changes as it audits boto3's. A refused change shows the page again with
EC2's error and status, and the form as it was sent.

A button a row does not offer (changing the ``*`` rule, deleting the default ACL) is only an
aid to the reader: EC2 refuses those calls whoever sends them. Deleting an ACL asks for a
ticked box first, as the console's other deletions of what holds a network together.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_network_acls as acls
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import Change, action, field, no_ec2, vpc_scoped_page
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_ec2 import Ec2Wire, SubnetRow
from andromede.console.wire_network_acls import EntryChange, EntryForm, NetworkAclRow
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ACLS_URL: Final = f"{CONSOLE_PATH}/network-acls"
# The protocols the forms offer: those EC2 filters here (decision 0128), by the names EC2
# takes; "-1" is EC2's "all".
_PROTOCOLS: Final = ("-1", "tcp", "udp", "icmp")


def _acl_url(network_acl_id: str) -> str:
    return f"{_ACLS_URL}/{quote(network_acl_id, safe='')}"


# The account's ACLs; with ``?vpc_id=``, that VPC's.
_acls_page = vpc_scoped_page(
    "ec2_network_acls.html", "acls", lambda _: _("Network ACLs"), acls.describe_network_acls
)


async def _acl_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """An ACL's entries and subnets, and the forms that change them; another account's ACL
    is EC2's InvalidNetworkAclID.NotFound, as an ACL that does not exist."""
    _ = console.catalogue(request).gettext
    network_acl_id = request.path_params["network_acl_id"]
    acl: NetworkAclRow | None = None
    subnets: list[SubnetRow] = []
    held_by: dict[str, str] = {}
    if console.ec2 is None:
        error, status = no_ec2(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            acl = await acls.describe_network_acl(console.ec2, origin, principal, network_acl_id)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if acl is None and error is None:
            error, status = _("No such network ACL."), 404
        if acl is not None:
            # Only the move form's choices, each with the ACL holding it now: the move's own
            # calls decide.
            with suppress(WireError):
                held_by = {
                    a.subnet_id: other.network_acl_id
                    for other in await acls.describe_network_acls(
                        console.ec2, origin, principal, vpc_id=acl.vpc_id
                    )
                    for a in other.associations
                }
                mine = {a.subnet_id for a in acl.associations}
                subnets = [
                    s
                    for s in await console.ec2.describe_subnets(origin, principal)
                    if s.vpc_id == acl.vpc_id and s.subnet_id not in mine
                ]
    typed = typed or {}
    replacing = typed.get("replace", {})
    return console.render(
        request,
        "ec2_network_acl.html",
        session=session,
        status=status,
        title=(acl.name or acl.network_acl_id) if acl is not None else network_acl_id,
        acl=acl,
        subnets=subnets,
        held_by=held_by,
        protocols=_PROTOCOLS,
        typed=typed,
        # A refused replacement's form, as sent: its row is the entry of that direction and
        # number.
        replacing=replacing,
        replacing_key=(replacing.get("direction", ""), replacing.get("rule_number", "")),
        error=error,
    )


async def _create(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    network_acl_id = await acls.create_network_acl(
        ec2, request.scope, who, field(f, "vpc_id"), field(f, "name"), field(f, "client_token")
    )
    # To its page, where its entries and subnets are added (the list, should EC2 name none).
    return _acl_url(network_acl_id) if network_acl_id else _ACLS_URL


async def _delete(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    await acls.delete_network_acl(ec2, request.scope, who, request.path_params["network_acl_id"])
    return _ACLS_URL


def _egress(f: Mapping[str, str]) -> bool:
    return field(f, "direction") == "egress"


def _entry_change(action_name: EntryChange) -> Change:
    """The form's entry added (CreateNetworkAclEntry), or replacing the one of its direction
    and number (ReplaceNetworkAclEntry)."""

    async def change(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
        network_acl_id = request.path_params["network_acl_id"]
        form = EntryForm(
            rule_number=field(f, "rule_number"),
            egress=_egress(f),
            action=field(f, "rule_action"),
            protocol=field(f, "protocol"),
            cidr=field(f, "cidr"),
            from_port=field(f, "from_port"),
            to_port=field(f, "to_port"),
            icmp_type=field(f, "icmp_type"),
            icmp_code=field(f, "icmp_code"),
        )
        await acls.change_entry(ec2, request.scope, who, action_name, network_acl_id, form)
        return _acl_url(network_acl_id)

    return change


async def _delete_entry(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    network_acl_id = request.path_params["network_acl_id"]
    await acls.delete_entry(
        ec2, request.scope, who, network_acl_id,
        egress=_egress(f), rule_number=field(f, "rule_number"),
    )  # fmt: skip
    return _acl_url(network_acl_id)


async def _associate(ec2: Ec2Wire, request: Request, who: Principal, f: dict[str, str]) -> str:
    network_acl_id = request.path_params["network_acl_id"]
    await acls.move_subnet(ec2, request.scope, who, network_acl_id, field(f, "subnet_id"))
    return _acl_url(network_acl_id)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/network-acls", signed_in(_acls_page), ["GET"]),
    ("/network-acls", action(_acls_page, _create, form="create"), ["POST"]),
    ("/network-acls/{network_acl_id}", signed_in(_acl_page), ["GET"]),
    ("/network-acls/{network_acl_id}/delete",
     action(_acl_page, _delete, confirmed=True), ["POST"]),
    ("/network-acls/{network_acl_id}/entries/add",
     action(_acl_page, _entry_change("CreateNetworkAclEntry"), form="entry"), ["POST"]),
    ("/network-acls/{network_acl_id}/entries/replace",
     action(_acl_page, _entry_change("ReplaceNetworkAclEntry"), form="replace"), ["POST"]),
    ("/network-acls/{network_acl_id}/entries/delete",
     action(_acl_page, _delete_entry), ["POST"]),
    ("/network-acls/{network_acl_id}/associate",
     action(_acl_page, _associate, form="associate"), ["POST"]),
]  # fmt: skip
