"""EventBridge's global endpoints in the console (decision 0355 served, 0366 shown): the
account's endpoints of the console's Region (their primary), one made — a name, a bus of that
name in this Region and in the secondary Region chosen among the deployment's others, the
Route 53 health check whose failure sends events to the secondary, replication on or off
with the role it sends events as —, one shown (its state, EndpointId and URL, its routing,
its buses, its health check's status as Route 53 answers it), its failover edited (the same
settings, UpdateEndpoint) and one deleted after a ticked box.

Every read and change is EventBridge's own call as the signed-in principal
(``wire_event_endpoints.EndpointCalls``), so its policies, checks and words decide — a name
taken, a bus missing in the secondary Region, replication without a role — and a refused
form shows the page again with its error and the fields as typed. The choices offered (the
buses, health checks and roles) are each service's own lists as the principal reads them;
none of them decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

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
from andromede.console.pages_event_archives import no_events
from andromede.console.route53_health_reading import HealthReadings
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_event_endpoints import EndpointCalls, EndpointRow, EndpointSettings
from andromede.console.wire_events import BusRow, EventsWire
from andromede.console.wire_route53_health import HealthCheckCalls

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "endpoint_url"]

ENDPOINTS_URL: Final = f"{CONSOLE_PATH}/event-endpoints"
_OFFERED: Final = 100  # each choice list's first page: buses, health checks, roles


def endpoint_url(name: str) -> str:
    return f"{ENDPOINTS_URL}/{quote(name, safe='')}"


def _events(console: Console) -> EventsWire | None:
    return console.events


def _action(page: Page, change: Change[EventsWire], *, form: str = "", confirmed: bool = False
            ) -> Handler:  # fmt: skip
    return action(page, change, wire=_events, form=form, confirmed=confirmed)


def _home(console: Console) -> str:
    """The console's Region: its EventBridge calls are that Region's, an endpoint's primary."""
    return console.settings.region


def _secondaries(console: Console) -> list[str]:
    """The Regions an endpoint may fail over to: the deployment's others."""
    home = _home(console)
    return [r.name for r in console.settings.declared_regions if r.name != home]


async def _choices(console: Console, request: Request, session: Session) -> dict[str, Any]:
    """The forms' choices: the buses, the Route 53 health checks and the roles the principal
    may list (none of one where its service is not served or refuses: EventBridge then
    answers what is missing)."""
    origin, principal = request.scope, session.principal
    buses: list[BusRow] = []
    checks: list[tuple[str, str]] = []
    roles: list[str] = []
    if console.events is not None:
        with suppress(WireError):
            buses = await console.events.buses(origin, principal, limit=_OFFERED)
    if console.route53 is not None:
        with suppress(WireError):
            listed, _ = await HealthCheckCalls(console.route53).page(
                origin, principal, marker="", limit=_OFFERED
            )
            checks = [
                (f"arn:aws:route53:::healthcheck/{c.health_check_id}", f"{c.health_check_id} "
                 f"({c.type}{': ' + c.endpoint if c.endpoint else ''})")
                for c in listed
            ]  # fmt: skip
    if console.iam is not None:
        with suppress(WireError):
            page = await console.iam.list_roles(origin, principal, marker=None, page_size=_OFFERED)
            roles = [role.arn for role in page.rows]
    return {
        "buses": buses,
        "health_checks": checks,
        "roles": roles,
        "secondaries": _secondaries(console),
        "home": _home(console),
    }


async def _endpoints_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[EndpointRow] = []
    next_href = None
    wire = console.events
    if wire is None:
        error, status = no_events(console, request)
    else:
        token = request.query_params.get("token", "")[:2048]
        try:
            rows, following = await EndpointCalls(wire).page(
                request.scope, session.principal, token=token,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if following:
                next_href = f"{ENDPOINTS_URL}?token={quote(following, safe='')}"
    return console.render(
        request,
        "event_endpoints.html",
        session=session,
        status=status,
        title=_("Global endpoints"),
        endpoints=rows,
        next_href=next_href,
        typed=_as_typed(typed, "endpoint"),
        error=error,
        **await _choices(console, request, session),
    )


async def _endpoint_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    endpoint: EndpointRow | None = None
    health = ""  # the health check's status as Route 53 answers it now
    wire = console.events
    if wire is None:
        error, status = no_events(console, request)
    else:
        origin, principal = request.scope, session.principal
        try:
            endpoint = await EndpointCalls(wire).get(origin, principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if endpoint is not None and console.route53 is not None:
            with suppress(WireError):  # the page without the status rather than no page
                health = await _health(
                    HealthCheckCalls(console.route53), request, session, endpoint
                )
    return console.render(
        request,
        "event_endpoint.html",
        session=session,
        status=status,
        title=_("Global endpoint {name}").format(name=name),
        name=name,
        endpoint=endpoint,
        health=health,
        typed=_as_typed(typed, "failover"),
        error=error,
        **await _choices(console, request, session),
    )


async def _health(
    calls: HealthCheckCalls, request: Request, session: Session, endpoint: EndpointRow
) -> str:
    """The health check's status as the failover reads it (decision 0371's one reading,
    which Route 53's DNS answers and EventBridge's failover use)."""
    origin, principal = request.scope, session.principal
    check = await calls.get(origin, principal, endpoint.health_check_id)
    return await HealthReadings(calls, origin, principal).status(check)


def _as_typed(typed: Mapping[str, Mapping[str, str]] | None, form: str) -> dict[str, str]:
    """A refused form's fields as typed; an unticked replication box sends nothing."""
    fields = dict((typed or {}).get(form, {}))
    if fields:
        fields.setdefault("replication", "DISABLED")
    return fields


def _settings(request: Request, f: Form) -> EndpointSettings:
    """The form's settings; a FormFault for a choice left empty before EventBridge is asked
    (its own checks answer the rest)."""
    _ = words(request)
    bus, secondary, check = (f.get(k, "").strip() for k in ("bus", "secondary", "health_check"))
    if not bus or not secondary or not check:
        raise FormFault(_("Choose the event bus, the secondary Region and the health check."))
    return EndpointSettings(
        bus_arn=bus,
        secondary=secondary,
        health_check=check,
        replication=f.get("replication") == "ENABLED",
        role_arn=f.get("role_arn", "").strip(),
        description=f.get("description", "").strip(),
    )


async def _create(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    name = f.get("name", "").strip()
    await EndpointCalls(wire).create(request.scope, session.principal, name, _settings(request, f))
    return endpoint_url(name)


async def _update(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await EndpointCalls(wire).update(request.scope, session.principal, name, _settings(request, f))
    return endpoint_url(name)


async def _delete(wire: EventsWire, request: Request, session: Session, f: Form) -> str:
    await EndpointCalls(wire).delete(request.scope, session.principal, request.path_params["name"])
    return ENDPOINTS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/event-endpoints", signed_in(_endpoints_page), ["GET"]),
    ("/event-endpoints", _action(_endpoints_page, _create, form="endpoint"), ["POST"]),
    ("/event-endpoints/{name}", signed_in(_endpoint_page), ["GET"]),
    ("/event-endpoints/{name}/update", _action(_endpoint_page, _update, form="failover"), ["POST"]),
    ("/event-endpoints/{name}/delete", _action(_endpoint_page, _delete, confirmed=True), ["POST"]),
]
