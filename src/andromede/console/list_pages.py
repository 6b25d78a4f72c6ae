"""The console's list-create-delete page over one wire API (queues, notification topics): the
account's resources in a table, a form that creates one, and a deletion sent once its box is
ticked — each the API's own call, made as the signed-in principal.

Owns that page's flow, which each such page had copied: the page (or 404 where the server does
not serve the API), and its POSTs made through ``handlers.action`` (a redirect (303) or the
page again with the API's refusal, its status and the form as typed; an unticked deletion
answered 400 with nothing sent). A page module says what differs: its path, template, texts
and the API's calls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Form,
    FormFault,
    Handler,
    Typed,
    action,
    first_refusal,
    signed_in,
)
from andromede.console.regions import RegionChoice, region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["Change", "Described", "ListPage", "describe_listed"]

W = TypeVar("W")
R = TypeVar("R")
C = TypeVar("C")

# A change: the API's call with the form's fields.
Change = Callable[[W, Request, "Session", Mapping[str, str]], Awaitable[None]]
Route = tuple[str, Any, list[str]]
_SENT: Final = "sent"  # the name the page's forms' fields are shown again under, when refused


@dataclass(frozen=True, slots=True)
class ListPage(Generic[W]):
    """One list page: ``path`` under the console, its ``template`` (given the rows as
    ``rows_name``), the API's client on the console (``wire``; None where not served), its
    listing (``rows``) and its texts, translated by the gettext given (title, not served)."""

    path: str
    template: str
    rows_name: str
    wire: Callable[[Console], W | None]
    rows: Callable[[W, Request, Session], Awaitable[Sequence[Any]]]
    texts: Callable[[Callable[[str], str]], tuple[str, str]]
    # What else the form offers (a queue's KMS keys): more names for the template, read as
    # the signed-in principal; None where the form needs nothing else.
    choices: Callable[[Console, Request, Session], Awaitable[Mapping[str, Any]]] | None = None
    # Decision 0419: the API is regional — the page's calls (its listing, its choices, its
    # changes) are made in the Region its address names (``console.regions``), given to the
    # template as ``region``.
    regional: bool = False

    def _region(self, console: Console, request: Request) -> RegionChoice | None:
        return region_choice(console, request) if self.regional else None

    def routes(self, *, create: Change[W], delete: Change[W]) -> list[Route]:
        return [
            (self.path, signed_in(self.render), ["GET"]),
            (self.path, self.action(create), ["POST"]),
            (f"{self.path}/delete", self.action(delete, confirmed=True), ["POST"]),
        ]

    async def render(
        self,
        console: Console,
        request: Request,
        session: Session,
        *,
        typed: Typed | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        """The page; ``typed``: a refused form's fields (``_SENT``'s, whichever form it was)."""
        title, not_served = self.texts(console.catalogue(request).gettext)
        rows: Sequence[Any] = []
        wire = self.wire(console)
        region = self._region(console, request)
        asked: Request | None = request
        if region is not None:
            try:
                asked = region.request(request)
            except FormFault as fault:  # a Region not served: nothing asked
                asked = None
                error, status = (error, status) if error else (fault.message, fault.status)
        if wire is None:
            error, status = not_served, 404
        elif asked is not None:
            try:
                rows = await self.rows(wire, asked, session)
            except WireError as exc:
                error, status = first_refusal(console, request, exc, error, status)
        listed: dict[str, Any] = {self.rows_name: rows}
        if self.choices is not None and asked is not None:
            listed.update(await self.choices(console, asked, session))
        return console.render(
            request,
            self.template,
            session=session,
            status=status,
            title=title,
            typed=(typed or {}).get(_SENT, {}),
            error=error,
            region=region,
            region_query="" if region is None else region.query,
            **listed,
        )

    def action(self, change: Change[W], *, confirmed: bool = False) -> Handler:
        """A POST of the page (``handlers.action``): the API's call, then the page's own
        address (303); or the page again with the API's refusal and the form as typed."""

        async def redirected(
            served: tuple[Console, W], request: Request, session: Session, fields: Form
        ) -> str:
            console, wire = served
            region = self._region(console, request)
            if region is None:
                await change(wire, request, session, fields)
                return f"{CONSOLE_PATH}{self.path}"
            # A Region not served is the FormFault (404) shown before any call.
            await change(wire, region.request(request), session, fields)
            return f"{CONSOLE_PATH}{self.path}{region.query}"

        return action(self.render, redirected, wire=self._served, form=_SENT, confirmed=confirmed)

    def _served(self, console: Console) -> tuple[Console, W] | None:
        """The API's client with its console (a change needs its Region's settings too)."""
        wire = self.wire(console)
        return None if wire is None else (console, wire)


@dataclass(slots=True)
class Described(Generic[R, C]):
    """A page of names listed, each described: the rows, the names a policy lets the caller
    list and not describe (with the refusal's words), the listing's cursor (``None`` where
    the listing was refused) and the refusal the page shows with its status."""

    error: str | None
    status: int
    rows: list[R] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    names: Sequence[str] = ()
    cursor: C | None = None


async def describe_listed(
    console: Console,
    request: Request,
    listing: Awaitable[tuple[Sequence[str], C]],
    describe: Callable[[str], Awaitable[R]],
    *,
    error: str | None,
    status: int,
) -> Described[R, C]:
    """One page of a listing of names (streams, tables) with each name described, as the
    DynamoDB, Kinesis, Firehose and metric-stream pages show them: a refused listing is the
    page's refusal (after an action's own, ``first_refusal``); a refused description only
    that row's, since a policy may allow listing what it does not allow describing."""
    described: Described[R, C] = Described(error, status)
    try:
        described.names, described.cursor = await listing
    except WireError as exc:
        described.error, described.status = first_refusal(console, request, exc, error, status)
        return described
    for name in described.names:
        try:
            described.rows.append(await describe(name))
        except WireError as exc:
            described.refused.append((name, console.error_text(request, exc)))
    return described
