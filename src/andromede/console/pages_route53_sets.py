"""Route 53's reusable delegation sets (decision 0346) in the console (decision 0354): one
page, ``/console/delegation-sets``. The account's sets in pages of ``console_page_size``, each
with its name servers and the hosted zones on it (linked); a set created from the platform's
servers or from a public zone's own (the zone then on it); a set deleted after a ticked box —
refused while a zone uses it, in the reader's language. Every call is Route 53's own as the
signed-in principal (``wire_route53_sets``): its IAM decisions, checks, audit and words.
A new zone is put on a set from the hosted zones page's creation form.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, action, first_refusal, signed_in
from andromede.console.pages_ec2 import field
from andromede.console.route53_sharing import in_words
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_route53 import ZoneRow
from andromede.console.wire_route53_sets import DelegationSetRow, SetCalls

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/delegation-sets"
_MARKER_LENGTH: Final = 64
_ZONE_CHOICES: Final = 100  # the public zones offered to make a set of their servers


def _calls(console: Console) -> SetCalls | None:
    return None if console.route53 is None else SetCalls(console.route53)


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    calls = _calls(console)
    sets: list[DelegationSetRow] = []
    zones: list[ZoneRow] = []
    next_href = ""
    if calls is None or console.route53 is None:
        error, status = _("This server serves no Amazon Route 53."), 404
    else:
        origin, principal = request.scope, session.principal
        marker = request.query_params.get("marker", "")[:_MARKER_LENGTH]
        try:
            sets, next_marker = await calls.sets(
                origin, principal, marker=marker, limit=console.settings.console_page_size
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if next_marker:
                next_href = f"{_URL}?{urlencode({'marker': next_marker})}"
        with suppress(WireError):  # the creation form's choices only
            listed = await console.route53.zones(origin, principal, marker="", limit=_ZONE_CHOICES)
            zones = [z for z in listed[0] if not z.private]
    return console.render(
        request,
        "route53_delegation_sets.html",
        session=session,
        status=status,
        title=_("Route 53 reusable delegation sets"),
        sets=sets,
        next_href=next_href,
        zones=zones,
        typed=typed or {},
        error=error,
    )


async def _create(calls: SetCalls, request: Request, session: Session, f: Form) -> str:
    try:
        set_id = await calls.create_set(request.scope, session.principal, field(f, "zone"))
    except WireError as exc:
        raise in_words(request, exc) from exc
    return f"{_URL}#set-{set_id}"


async def _delete(calls: SetCalls, request: Request, session: Session, f: Form) -> str:
    try:
        await calls.delete_set(request.scope, session.principal, field(f, "set_id"))
    except WireError as exc:
        raise in_words(request, exc) from exc
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/delegation-sets", signed_in(_page), ["GET"]),
    ("/delegation-sets", action(_page, _create, wire=_calls, form="create"), ["POST"]),
    ("/delegation-sets/delete", action(_page, _delete, wire=_calls, confirmed=True), ["POST"]),
]
