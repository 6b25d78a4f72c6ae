"""EventBridge connections and API destinations in the console (decision 0200 served, 0111
shown): the account's connections (name, authorization type, state and its reason), one made
with BASIC's user name and password or API_KEY's header name and value, deauthorized, or
deleted after a ticked box; its API destinations (name, connection, endpoint, method, rate,
state), one made on a connection, one deleted after a ticked box. Session 50: a connection's
authorization updated (UpdateConnection: the credentials typed replace the stored ones, a
field left blank keeps its own), an API destination's endpoint, method and rate updated
(UpdateApiDestination), each from its row. Session 50, later (decision 0204): each
connection's Secrets Manager secret (DescribeConnection's ``SecretArn``) linked from its row
to the secret's page — read only there, as EventBridge manages it — with the customer key it
is under, chosen at creation among the account's KMS keys.

Decision 0406: each declared Region's connections and API destinations (decision 0400), the
Region chosen on the page (``console.regions``: ``?region=``, the console's own by default),
every call made in it; a connection's secret is linked to its page in the console's own
Region only (the secrets' pages are that Region's), its ARN shown elsewhere.

A connection's credentials go to EventBridge and never come back: ListConnections does not
answer them, and a refused form is shown again without them (the secret fields empty).
Every read and change is EventBridge's own call as the signed-in principal, so its policies,
checks and words decide.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    action,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_event_archives import customer_key_choices, no_events
from andromede.console.regions import region_choice
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_events import ConnectionRow, DestinationRow, EventsWire
from andromede.http.response import Scope

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/event-connections"
_LISTED: Final = 100  # ListConnections' and ListApiDestinations' Limit bound (AWS's)
AUTH_TYPES: Final = ("BASIC", "API_KEY")
METHODS: Final = ("POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Typed fields a refused form may show again: never a credential.
_SECRET_FIELDS: Final = frozenset({"password", "api_key_value", "csrf"})


def _served(console: Console) -> Console | None:
    """The console where EventBridge is served: a change needs its Region's settings too."""
    return console if console.events is not None else None


def _in_region(console: Console, request: Request) -> tuple[EventsWire, Scope, str]:
    """EventBridge, the origin of its calls in the Region the address names (a FormFault
    for one not served) and the page's address in that Region."""
    if console.events is None:  # ``_served`` lets only a console that has it reach a change
        raise WireError("UnknownOperationException", "EventBridge is not served", 404)
    choice = region_choice(console, request)
    return console.events, choice.origin(request), f"{_URL}{choice.query}"


async def _connections_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    connections: list[ConnectionRow] = []
    destinations: list[DestinationRow] = []
    secrets: dict[str, tuple[str, str]] = {}  # by connection: its secret's ARN, its key
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
            connections = await wire.connections(origin, principal, limit=_LISTED)
            destinations = await wire.api_destinations(origin, principal, limit=_LISTED)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        for connection in connections:
            with suppress(WireError):  # a row without its secret rather than no page
                secrets[connection.name] = await wire.connection_secret(
                    origin, principal, connection.name
                )
        key_choices = await customer_key_choices(console, request, session, origin=origin)
    typed = typed or {}
    connection_typed = {
        k: v for k, v in typed.get("connection", {}).items() if k not in _SECRET_FIELDS
    }
    # A refused row's update form, open again as typed (never its credentials).
    updates = {
        form: {k: v for k, v in fields.items() if k not in _SECRET_FIELDS}
        for form, fields in typed.items()
        if form.startswith("update:")
    }
    return console.render(
        request,
        "event_connections.html",
        session=session,
        status=status,
        title=_("Connections and API destinations"),
        region=choice,
        connections=connections,
        destinations=destinations,
        secrets=secrets,
        # The secrets' pages are the console's Region's: another's secret is shown, not linked.
        secrets_served=console.secrets is not None and choice.region == choice.home,
        key_choices=key_choices,
        auth_types=AUTH_TYPES,
        methods=METHODS,
        connection_typed=connection_typed,
        destination_typed=typed.get("destination", {}),
        updates=updates,
        error=error,
    )


async def _create(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    auth = f.get("auth_type", "")
    credentials = (
        (f.get("username", ""), f.get("password", ""))
        if auth == "BASIC"
        else (f.get("api_key_name", "").strip(), f.get("api_key_value", ""))
    )
    if not all(credentials):
        _ = words(request)
        raise FormFault(
            _("Type the user name and the password.")
            if auth == "BASIC"
            else _("Type the API key's header name and its value.")
        )
    await wire.create_connection(
        origin, session.principal, f.get("name", "").strip(), auth, credentials,
        f.get("description", "").strip(), kms_key=f.get("kms_key", "").strip(),
    )  # fmt: skip
    return page


def _rate(request: Request, f: Form) -> int | None:
    """The form's rate: empty for none given, else a whole number a second."""
    rate = f.get("rate", "").strip()
    if rate and not rate.isdigit():
        _ = words(request)
        raise FormFault(_("The rate is a whole number of invocations a second."))
    return int(rate) if rate else None


async def _update(console: Console, request: Request, session: Session, f: Form) -> str:
    """UpdateConnection of its own authorization type: blank credentials keep the stored."""
    wire, origin, page = _in_region(console, request)
    auth = f.get("auth_type", "")
    credentials = (
        (f.get("username", ""), f.get("password", ""))
        if auth == "BASIC"
        else (f.get("api_key_name", "").strip(), f.get("api_key_value", ""))
    )
    await wire.update_connection(
        origin, session.principal, request.path_params["name"], auth, credentials,
        f.get("description", "").strip(),
    )  # fmt: skip
    return page


async def _update_destination(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.update_api_destination(
        origin, session.principal, request.path_params["name"],
        f.get("endpoint", "").strip(), f.get("method", ""), _rate(request, f),
    )  # fmt: skip
    return page


def _row_form(f: Form) -> str:
    """A row's update form, by the row's kind and name (hidden fields)."""
    return f"update:{f.get('kind', '')}:{f.get('row', '')}"


async def _delete(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.delete_connection(origin, session.principal, request.path_params["name"])
    return page


async def _deauthorize(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.deauthorize_connection(origin, session.principal, request.path_params["name"])
    return page


async def _create_destination(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.create_api_destination(
        origin, session.principal, f.get("name", "").strip(), f.get("connection_arn", ""),
        f.get("endpoint", "").strip(), f.get("method", ""), _rate(request, f),
    )  # fmt: skip
    return page


async def _delete_destination(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, origin, page = _in_region(console, request)
    await wire.delete_api_destination(origin, session.principal, request.path_params["name"])
    return page


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/event-connections", signed_in(_connections_page), ["GET"]),
    ("/event-connections",
     action(_connections_page, _create, wire=_served, form="connection"), ["POST"]),
    ("/event-connections/{name}/delete",
     action(_connections_page, _delete, wire=_served, confirmed=True), ["POST"]),
    ("/event-connections/{name}/update",
     action(_connections_page, _update, wire=_served, form=_row_form), ["POST"]),
    ("/event-connections/destinations/{name}/update",
     action(_connections_page, _update_destination, wire=_served, form=_row_form), ["POST"]),
    ("/event-connections/{name}/deauthorize",
     action(_connections_page, _deauthorize, wire=_served), ["POST"]),
    ("/event-connections/destinations",
     action(_connections_page, _create_destination, wire=_served, form="destination"), ["POST"]),
    ("/event-connections/destinations/{name}/delete",
     action(_connections_page, _delete_destination, wire=_served, confirmed=True), ["POST"]),
]  # fmt: skip
