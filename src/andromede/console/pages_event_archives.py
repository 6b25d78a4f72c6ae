"""EventBridge archives and replays in the console (decision 0196 served, 0111 shown): the
account's archives (name, bus, state, retention, events kept), one made from a bus with an
optional event pattern and retention in days, one deleted after a ticked box; its replays
(name, archive, the window replayed, state), one started of a window (UTC) from an archive
to the bus it records, one cancelled. Session 50: an archive edited (``?edit=NAME``: its
description, pattern and retention read by DescribeArchive, sent by UpdateArchive); its
customer key (``KmsKeyIdentifier``, decision 0204) chosen among the account's KMS keys at
creation and edit, and shown in its row (DescribeArchive: ListArchives does not answer it).

Every read and change is EventBridge's own call as the signed-in principal
(``wire_events.EventsWire``), so its policies, checks and words decide — an archive named
twice, a window that ends before it starts, a replay no longer running — and a refused form
shows the page again with its error and the fields as typed.

Decision 0419: the archives and replays of the Region the address names (``?region=``,
``console.regions``; decision 0397), every call — the customer keys offered too — made in it,
every form and redirect keeping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Change,
    Form,
    FormFault,
    Handler,
    Page,
    action,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.regions import region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_events import ArchiveRow, BusRow, EventsWire, ReplayRow
from andromede.http.response import Scope

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "customer_key_choices", "form_time", "no_events"]

_ARCHIVES_URL: Final = f"{CONSOLE_PATH}/event-archives"
_LISTED: Final = 100  # ListArchives' and ListReplays' Limit bound (AWS's)
_TIME_FORMATS: Final = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M")


def no_events(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no EventBridge."), 404


def _served(console: Console) -> Console | None:
    """The console where EventBridge is served: a change needs its Region's settings too."""
    return console if console.events is not None else None


def _in_region(console: Console, request: Request) -> tuple[EventsWire, Scope, str]:
    """EventBridge, the origin of its calls in the Region the address names (a FormFault
    for one not served) and the page's address in that Region (decision 0419)."""
    if console.events is None:  # ``_served`` lets only a console that has it reach a change
        raise WireError("UnknownOperationException", "EventBridge is not served", 404)
    choice = region_choice(console, request)
    return console.events, choice.origin(request), f"{_ARCHIVES_URL}{choice.query}"


def _action(page: Page, change: Change[Console], *, form: str = "", confirmed: bool = False
            ) -> Handler:  # fmt: skip
    return action(page, change, wire=_served, form=form, confirmed=confirmed)


async def customer_key_choices(
    console: Console, request: Request, session: Session, *, origin: Scope | None = None
) -> list[tuple[str, str]]:
    """The customer keys a form offers (KMS's aliases, then key ids, as KMS lists them to the
    signed-in principal; none where KMS is not served or refuses), of the Region ``origin``
    names (the console's own by default, decision 0406). The AWS managed aliases
    (``alias/aws/…``) are left out: EventBridge can use only a key whose policy lets it."""
    if console.kms is None:
        return []
    listed = await console.kms.key_choices(
        origin or request.scope, session.principal, limit=console.settings.console_page_size
    )
    return [choice for choice in listed if not choice[0].startswith("alias/aws/")]


def form_time(request: Request, value: str) -> datetime:
    """A form's time (a ``datetime-local`` field, read as UTC); a FormFault for anything else."""
    for layout in _TIME_FORMATS:
        with suppress(ValueError):
            return datetime.strptime(value.strip(), layout).replace(tzinfo=UTC)
    _ = words(request)
    raise FormFault(_("Type the time as YYYY-MM-DDTHH:MM (UTC)."))


async def _archives_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    archives: list[ArchiveRow] = []
    replays: list[ReplayRow] = []
    buses: list[BusRow] = []
    typed = typed or {}
    # The archive whose edit form is open: the link's, or the refused edit's.
    editing = request.query_params.get("edit", "")[:64] or typed.get("update", {}).get("archive")
    edited: dict[str, str] = {}
    keys: dict[str, str] = {}  # each archive's customer key, "" for EventBridge's own
    key_choices: list[tuple[str, str]] = []
    choice = region_choice(console, request)
    wire = console.events
    origin: Scope | None = None
    if wire is None:
        error, status = no_events(console, request)
    else:
        try:
            origin = choice.origin(request)
        except FormFault as fault:  # a Region not served: nothing asked
            error, status = (error, status) if error is not None else (fault.message, fault.status)
    if wire is not None and origin is not None:
        principal = session.principal
        try:
            archives = await wire.archives(origin, principal, limit=_LISTED)
            replays = await wire.replays(origin, principal, limit=_LISTED)
            held = next((a for a in archives if a.name == editing), None)
            if held is not None:
                description, pattern, key = await wire.archive_settings(
                    origin, principal, held.name
                )
                retention = str(held.retention_days or "")
                edited = {"archive": held.name, "description": description, "pattern": pattern}
                edited |= {"retention": retention, "key": key, **typed.get("update", {})}
            for archive in archives:
                with suppress(WireError):  # a row without its key rather than no page
                    keys[archive.name] = (
                        await wire.archive_settings(origin, principal, archive.name)
                    )[2]
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        with suppress(WireError):  # the create form's choices only: CreateArchive decides
            buses = await wire.buses(origin, principal, limit=_LISTED)
        key_choices = await customer_key_choices(console, request, session, origin=origin)
    return console.render(
        request,
        "event_archives.html",
        session=session,
        status=status,
        title=_("Archives and replays"),
        region=choice,
        archives=archives,
        replays=replays,
        buses=buses,
        archive_typed=typed.get("archive", {}),
        replay_typed=typed.get("replay", {}),
        edited=edited,
        keys=keys,
        key_choices=key_choices,
        error=error,
    )


def _retention(request: Request, value: str) -> int | None:
    """The form's retention: empty for forever, else a whole number of days."""
    if not value.strip():
        return None
    if not value.strip().isdigit():
        _ = words(request)
        raise FormFault(_("The retention is a whole number of days."))
    return int(value)


async def _create(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.create_archive(
        origin, session.principal, f.get("name", "").strip(), f.get("bus_arn", ""),
        pattern=f.get("pattern", "").strip(),
        retention_days=_retention(request, f.get("retention", "")),
        kms_key=f.get("kms_key", "").strip(),
    )  # fmt: skip
    return page


async def _update(console: Console, request: Request, session: Session, f: Form) -> str:
    """UpdateArchive: an empty retention is forever (AWS's 0), an empty pattern keeps the
    archive's (EventBridge takes none to mean "unchanged")."""
    wire, origin, page = _in_region(console, request)
    await wire.update_archive(
        origin, session.principal, request.path_params["name"],
        description=f.get("description", "").strip(), pattern=f.get("pattern", "").strip(),
        retention_days=_retention(request, f.get("retention", "")) or 0,
        kms_key=f.get("kms_key", "").strip(),
    )  # fmt: skip
    return page


async def _delete(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.delete_archive(origin, session.principal, request.path_params["name"])
    return page


async def _replay(console: Console, request: Request, session: Session, f: Form) -> str:
    """StartReplay of the window typed, from the archive chosen to the bus it records."""
    window = form_time(request, f.get("start", "")), form_time(request, f.get("end", ""))
    wire, origin, page = _in_region(console, request)
    principal = session.principal
    archive_arn, bus_arn = await wire.archive_source(origin, principal, f.get("archive", ""))
    await wire.start_replay(
        origin, principal, f.get("name", "").strip(), archive_arn, bus_arn, window
    )
    return page


async def _cancel(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.cancel_replay(origin, session.principal, request.path_params["name"])
    return page


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/event-archives", signed_in(_archives_page), ["GET"]),
    ("/event-archives", _action(_archives_page, _create, form="archive"), ["POST"]),
    ("/event-archives/{name}/delete", _action(_archives_page, _delete, confirmed=True), ["POST"]),
    ("/event-archives/{name}/update", _action(_archives_page, _update, form="update"), ["POST"]),
    ("/event-archives/replays", _action(_archives_page, _replay, form="replay"), ["POST"]),
    ("/event-archives/replays/{name}/cancel", _action(_archives_page, _cancel), ["POST"]),
]
