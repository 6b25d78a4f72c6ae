"""Route 53's CIDR collections (decision 0353) in the console (decision 0361): the list,
``/console/cidr-collections`` (the account's collections in pages of ``console_page_size``,
each with its version and locations; one created by name), and a collection's page
(``/console/cidr-collections/<id>``: its locations and their blocks in pages of ListCidrBlocks;
a location's blocks added to or replaced, a location removed after a ticked box, the
collection deleted after a ticked box). Every change is one ChangeCidrCollection under the
version the page showed, so a change made meanwhile elsewhere refuses it whole
(``CidrCollectionVersionMismatchException``, said in the reader's language with the form
kept and the collection as it now is). Every call is Route 53's own as the signed-in
principal (``wire_route53_cidr``): its IAM decisions, checks, audit and words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Form,
    FormFault,
    action,
    fault_or_refusal,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_ec2 import field
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_route53_cidr import CidrCalls, CidrCollectionRow, CidrPage

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "collection_url", "in_words"]

_URL: Final = f"{CONSOLE_PATH}/cidr-collections"
_TOKEN_LENGTH: Final = 64
_CIDR_LIST: Final = 1000  # blocks a change carries at most (botocore's CidrList)
_BLOCK_SEPARATORS: Final = re.compile(r"[\s,]+")


def collection_url(collection_id: str) -> str:
    return f"{_URL}/{quote(collection_id, safe='')}"


def _calls(console: Console) -> CidrCalls | None:
    return None if console.route53 is None else CidrCalls(console.route53)


def in_words(request: Request, exc: WireError) -> WireError | FormFault:
    """Route 53's refusal of a collection's change in the reader's language with its code
    (a ``FormFault`` of its status), where its English would leave the reader without a next
    step; any other as it came."""
    _ = words(request)
    known = {
        "CidrCollectionVersionMismatchException": _(
            "The collection changed since the page was shown: it is shown again as it is now; "
            "send the form again to change that version."
        ),
        "CidrCollectionInUseException": _(
            "This collection still holds locations or record sets name it: remove them first."
        ),
        "CidrCollectionAlreadyExistsException": _(
            "A CIDR collection of this name is already in your account."
        ),
        "NoSuchCidrCollectionException": _("No such CIDR collection in your account."),
        "NoSuchCidrLocationException": _("This location holds no block any more."),
    }
    if exc.code not in known:
        return exc
    return FormFault(f"{known[exc.code]} ({exc.code})", exc.status)


async def _list_page(
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
    collections: list[CidrCollectionRow] = []
    next_href = ""
    if calls is None:
        error, status = _("This server serves no Amazon Route 53."), 404
    else:
        token = request.query_params.get("token", "")[:_TOKEN_LENGTH]
        try:
            collections, next_token = await calls.collections(
                request.scope, session.principal, token=token,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if next_token:
                next_href = f"{_URL}?{urlencode({'token': next_token})}"
    return console.render(
        request,
        "route53_cidr_collections.html",
        session=session,
        status=status,
        title=_("Route 53 CIDR collections"),
        collections=collections,
        next_href=next_href,
        typed=typed or {},
        error=error,
    )


async def _collection_page(
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
    collection_id = request.path_params.get("collection", "")
    collection: CidrCollectionRow | None = None
    blocks = CidrPage(())
    next_href = ""
    if calls is None:
        error, status = _("This server serves no Amazon Route 53."), 404
    else:
        origin, principal = request.scope, session.principal
        token = request.query_params.get("token", "")[:_TOKEN_LENGTH]
        try:
            collection = await calls.collection(origin, principal, collection_id)
            blocks = await calls.blocks(
                origin, principal, collection_id, token=token,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:  # an action's refusal, when there is one, is the one shown
            if error is None:
                error, status = fault_or_refusal(console, request, in_words(request, exc))
        else:
            if blocks.next_token:
                query = urlencode({"token": blocks.next_token})
                next_href = f"{collection_url(collection_id)}?{query}#locations"
    name = collection.name if collection is not None else collection_id
    return console.render(
        request,
        "route53_cidr_collection.html",
        session=session,
        status=status,
        title=f"{_('CIDR collection')} {name}",
        collection_id=collection_id,
        collection=collection,
        locations=blocks.locations,
        next_href=next_href,
        action_url=collection_url(collection_id),
        typed=typed or {},
        error=error,
    )


def _typed_blocks(fields: Form) -> list[str]:
    """The blocks typed, one a line (spaces and commas separate them too)."""
    return [b for b in _BLOCK_SEPARATORS.split(fields.get("blocks", "")) if b]


def _removals(location: str, blocks: list[str]) -> list[tuple[str, str, list[str]]]:
    """``DELETE_IF_EXISTS`` changes taking ``blocks`` from ``location``, a change a
    CidrList's worth."""
    return [
        ("DELETE_IF_EXISTS", location, blocks[start : start + _CIDR_LIST])
        for start in range(0, len(blocks), _CIDR_LIST)
    ]


async def _held(
    calls: CidrCalls, request: Request, session: Session, collection_id: str, location: str
) -> list[str]:
    """The location's blocks; none for a new location (Route 53 judges its name). Any other
    refusal (a reading not allowed) stops the replacement: it would otherwise add silently."""
    try:
        return await calls.location_blocks(
            request.scope, session.principal, collection_id, location
        )
    except WireError as exc:
        if exc.code == "NoSuchCidrLocationException":
            return []
        raise


async def _create(calls: CidrCalls, request: Request, session: Session, f: Form) -> str:
    try:
        made = await calls.create(request.scope, session.principal, field(f, "name"))
    except WireError as exc:
        raise in_words(request, exc) from exc
    return collection_url(made)


async def _put_location(calls: CidrCalls, request: Request, session: Session, f: Form) -> str:
    """The blocks typed added to the location (made if new), or put in place of its blocks
    ("replace": the ones not typed taken away in the same change, all or nothing)."""
    collection_id = request.path_params.get("collection", "")
    origin, principal = request.scope, session.principal
    location, typed = field(f, "location"), _typed_blocks(f)
    changes: list[tuple[str, str, list[str]]] = []
    try:
        if f.get("mode") == "replace" and location:
            held = await _held(calls, request, session, collection_id, location)
            changes += _removals(location, [b for b in held if b not in typed])
        changes.append(("PUT", location, typed))
        await calls.change(origin, principal, collection_id, field(f, "version"), changes)
    except WireError as exc:
        raise in_words(request, exc) from exc
    return f"{collection_url(collection_id)}#locations"


async def _remove_location(calls: CidrCalls, request: Request, session: Session, f: Form) -> str:
    """Every block of the location taken away (``DELETE_IF_EXISTS``): the location is gone."""
    collection_id = request.path_params.get("collection", "")
    origin, principal = request.scope, session.principal
    location = field(f, "location")
    try:
        held = await calls.location_blocks(origin, principal, collection_id, location)
        changes = _removals(location, held)
        await calls.change(origin, principal, collection_id, field(f, "version"), changes)
    except WireError as exc:
        raise in_words(request, exc) from exc
    return f"{collection_url(collection_id)}#locations"


async def _delete(calls: CidrCalls, request: Request, session: Session, f: Form) -> str:
    try:
        await calls.delete(request.scope, session.principal, request.path_params["collection"])
    except WireError as exc:
        raise in_words(request, exc) from exc
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/cidr-collections", signed_in(_list_page), ["GET"]),
    ("/cidr-collections", action(_list_page, _create, wire=_calls, form="create"), ["POST"]),
    ("/cidr-collections/{collection}", signed_in(_collection_page), ["GET"]),
    (
        "/cidr-collections/{collection}/location",
        action(_collection_page, _put_location, wire=_calls, form="location"),
        ["POST"],
    ),
    (
        "/cidr-collections/{collection}/remove-location",
        action(_collection_page, _remove_location, wire=_calls, confirmed=True),
        ["POST"],
    ),
    (
        "/cidr-collections/{collection}/delete",
        action(_collection_page, _delete, wire=_calls, confirmed=True),
        ["POST"],
    ),
]
