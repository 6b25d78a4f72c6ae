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

A connection's credentials go to EventBridge and never come back: ListConnections does not
answer them, and a refused form is shown again without them (the secret fields empty).
Every read and change is EventBridge's own call as the signed-in principal, so its policies,
checks and words decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, FormFault, action, first_refusal, signed_in, words
from andromede.console.pages_event_archives import customer_key_choices, no_events
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_events import ConnectionRow, DestinationRow, EventsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/event-connections"
_LISTED: Final = 100  # ListConnections' and ListApiDestinations' Limit bound (AWS's)
AUTH_TYPES: Final = ("BASIC", "API_KEY")
METHODS: Final = ("POST", "GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Typed fields a refused form may show again: never a credential.
_SECRET_FIELDS: Final = frozenset({"password", "api_key_value", "csrf"})


def _events(console: Console) -> EventsWire | None:
    return console.events


async def _connections_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    connections: list[ConnectionRow] = []
    destinations: list[DestinationRow] = []
    secrets: dict[str, tuple[str, str]] = {}  # by connection: its secret's ARN, its key
    wire = console.events
    if wire is None:
        error, status = no_events(console, request)
    else:
        origin, principal = request.scope, session.principal
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
        connections=connections,
        destinations=destinations,
        secrets=secrets,
        secrets_served=console.secrets is not None,
        key_choices=await customer_key_choices(console, request, session),
        auth_types=AUTH_TYPES,
        methods=METHODS,
        connection_typed=connection_typed,
        destination_typed=typed.get("destination", {}),
        updates=updates,
        error=error,
    )


async def _create(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
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
        request.scope, session.principal, f.get("name", "").strip(), auth, credentials,
        f.get("description", "").strip(), kms_key=f.get("kms_key", "").strip(),
    )  # fmt: skip
    return _URL


def _rate(request: Request, f: Form) -> int | None:
    """The form's rate: empty for none given, else a whole number a second."""
    rate = f.get("rate", "").strip()
    if rate and not rate.isdigit():
        _ = words(request)
        raise FormFault(_("The rate is a whole number of invocations a second."))
    return int(rate) if rate else None


async def _update(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    """UpdateConnection of its own authorization type: blank credentials keep the stored."""
    auth = f.get("auth_type", "")
    credentials = (
        (f.get("username", ""), f.get("password", ""))
        if auth == "BASIC"
        else (f.get("api_key_name", "").strip(), f.get("api_key_value", ""))
    )
    await wire.update_connection(
        request.scope, session.principal, request.path_params["name"], auth, credentials,
        f.get("description", "").strip(),
    )  # fmt: skip
    return _URL


async def _update_destination(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    await wire.update_api_destination(
        request.scope, session.principal, request.path_params["name"],
        f.get("endpoint", "").strip(), f.get("method", ""), _rate(request, f),
    )  # fmt: skip
    return _URL


def _row_form(f: Form) -> str:
    """A row's update form, by the row's kind and name (hidden fields)."""
    return f"update:{f.get('kind', '')}:{f.get('row', '')}"


async def _delete(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    await wire.delete_connection(request.scope, session.principal, request.path_params["name"])
    return _URL


async def _deauthorize(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await wire.deauthorize_connection(request.scope, session.principal, name)
    return _URL


async def _create_destination(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    await wire.create_api_destination(
        request.scope, session.principal, f.get("name", "").strip(), f.get("connection_arn", ""),
        f.get("endpoint", "").strip(), f.get("method", ""), _rate(request, f),
    )  # fmt: skip
    return _URL


async def _delete_destination(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await wire.delete_api_destination(request.scope, session.principal, name)
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/event-connections", signed_in(_connections_page), ["GET"]),
    ("/event-connections",
     action(_connections_page, _create, wire=_events, form="connection"), ["POST"]),
    ("/event-connections/{name}/delete",
     action(_connections_page, _delete, wire=_events, confirmed=True), ["POST"]),
    ("/event-connections/{name}/update",
     action(_connections_page, _update, wire=_events, form=_row_form), ["POST"]),
    ("/event-connections/destinations/{name}/update",
     action(_connections_page, _update_destination, wire=_events, form=_row_form), ["POST"]),
    ("/event-connections/{name}/deauthorize",
     action(_connections_page, _deauthorize, wire=_events), ["POST"]),
    ("/event-connections/destinations",
     action(_connections_page, _create_destination, wire=_events, form="destination"), ["POST"]),
    ("/event-connections/destinations/{name}/delete",
     action(_connections_page, _delete_destination, wire=_events, confirmed=True), ["POST"]),
]  # fmt: skip
