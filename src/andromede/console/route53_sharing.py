"""What the hosted zone pages show and send of decision 0346 (decision 0354): the reusable
delegation sets offered to a new public zone, the other accounts' private zones associated
with the caller's VPCs (ListHostedZonesByVPC, for the VPC's owner) and Route 53's refusals of
sets and authorisations in the reader's language (their code kept), where its English alone
would leave the reader without a next step.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Final

from starlette.requests import Request

from andromede.console.handlers import FormFault, words
from andromede.console.wire import WireError
from andromede.console.wire_route53 import Route53Wire
from andromede.console.wire_route53_sets import SetCalls, SharedZoneRow

if TYPE_CHECKING:
    from andromede.console.app import Session

__all__ = ["in_words", "set_choices", "shared_zones"]

_SET_CHOICES: Final = 100  # ListReusableDelegationSets' largest page
_VPCS_ASKED: Final = 100  # the caller's VPCs whose other accounts' zones are listed


def in_words(request: Request, exc: WireError) -> WireError | FormFault:
    """Route 53's refusal of a set or an authorisation in the reader's language with its
    code (a ``FormFault`` of its status), or the refusal as it came for any other."""
    _ = words(request)
    in_use = _("Hosted zones use this delegation set: delete them first.")
    unauthorised = _("The zone's account has not authorised this VPC on the zone.")
    known = {
        "DelegationSetInUse": in_use,
        "DelegationSetAlreadyReusable": _("This zone is already on a reusable delegation set."),
        "NoSuchDelegationSet": _("No such delegation set in your account."),
        "NotAuthorizedException": unauthorised,
        "VPCAssociationAuthorizationNotFound": _("This VPC is not authorised on this zone."),
    }
    if exc.code not in known:
        return exc
    return FormFault(f"{known[exc.code]} ({exc.code})", exc.status)


async def set_choices(
    wire: Route53Wire, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's sets ((id, its id and servers)) for a new zone; none where Route 53
    refuses the listing (the zone is then made without a set)."""
    with suppress(WireError):
        sets, _next = await SetCalls(wire).sets(
            request.scope, session.principal, marker="", limit=_SET_CHOICES, zones=False
        )
        return [(s.set_id, f"{s.set_id} · {', '.join(s.name_servers)}") for s in sets]
    return []


async def shared_zones(
    wire: Route53Wire, request: Request, session: Session, vpcs: list[tuple[str, str]]
) -> list[SharedZoneRow]:
    """Other accounts' zones on the caller's VPCs ((Region, VPC id)); a VPC whose listing
    Route 53 refuses shows none."""
    calls = SetCalls(wire)
    found: list[SharedZoneRow] = []
    for vpc in vpcs[:_VPCS_ASKED]:
        with suppress(WireError):
            found += await calls.shared_zones(request.scope, session.principal, vpc)
    return found
