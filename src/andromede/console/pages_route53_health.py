"""Route 53 health checks (decision 0285) in the console (decision 0290): the checks listed
(id, type, endpoint, status as Route 53's failover reads it — decision 0371's
``route53_health_reading`` —, tags; in pages of ``console_page_size``), one created from a
form (type, IP address or domain name, port, path, search string, interval, failure
threshold, inverted, disabled; a CALCULATED check's children ticked and threshold; a
CLOUDWATCH_METRIC check's alarm among the account's), and a check's page: its configuration,
its status, its checkers' observations (GetHealthCheckStatus), its last failures
(GetHealthCheckLastFailureReason), its ``AWS/Route53`` ``HealthCheckStatus`` over the last 3
hours drawn as the metrics pages draw one (``metric_chart``), an update of the version shown
(Route 53's ``HealthCheckVersionMismatch`` when it has moved on), its tags, and its deletion
after a ticked box (``HealthCheckInUse`` in Route 53's words). Every call is Route 53's (and
CloudWatch's) own as the signed-in principal.
"""

from __future__ import annotations

import time
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import wire_alarms
from andromede.console.handlers import (
    Form,
    FormFault,
    fault_or_refusal,
    first_refusal,
    refusal,
    signed_in,
)
from andromede.console.metric_chart import RANGES, Chart, draw
from andromede.console.pages_alarms import parse_tags
from andromede.console.pages_metrics import graph_href, number_text
from andromede.console.route53_health_reading import HealthReadings
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_metrics import MetricRow
from andromede.console.wire_route53 import Route53Wire
from andromede.console.wire_route53_health import (
    CHECK_TYPES,
    HealthCheckCalls,
    HealthCheckRow,
    Observation,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "check_fields", "check_url"]

CHECKS_URL: Final = f"{CONSOLE_PATH}/health-checks"
_ACTIONS: Final = frozenset({"update", "tag", "untag", "delete"})
_MARKER_LENGTH: Final = 64
_MAX_FIELDS: Final = 300  # a calculated check's children (AWS: up to 256) ticked one a field
_CHOICES: Final = 100  # the checks offered as children, the alarms offered
_SPAN: Final = RANGES["3h"]
_PERIOD: Final = 60
_ENDPOINT_TYPES: Final = ("HTTP", "HTTPS", "HTTP_STR_MATCH", "HTTPS_STR_MATCH", "TCP")


def check_url(health_check_id: str) -> str:
    return f"{CHECKS_URL}/{quote(health_check_id, safe='')}"


def _calls(console: Console) -> HealthCheckCalls | None:
    wire: Route53Wire | None = console.route53
    return None if wire is None else HealthCheckCalls(wire)


def _not_served(console: Console, request: Request) -> str:
    return console.catalogue(request).gettext("This server serves no Amazon Route 53.")


def _typed(fields: Form, name: str) -> str | None:
    value = fields.get(name, "").strip()
    return value or None


def check_fields(fields: Form, kind: str, region: str, *, update: bool) -> dict[str, object]:
    """The configuration typed for a check of type ``kind``, as HealthCheckConfig's fields:
    the endpoint's for HTTP(S)/TCP, the children ticked (``child_<id>``) and threshold for
    CALCULATED, the alarm (of the console's Region) for CLOUDWATCH_METRIC; an empty field is
    left out (Route 53 applies its default). The type and interval are not sent on update
    (AWS's model has no field for them)."""
    sent: dict[str, object] = {"type": kind}
    if kind in _ENDPOINT_TYPES:
        names = ["ip_address", "fqdn", "port", "failure_threshold"]
        names += [] if update else ["request_interval"]
        names += ["resource_path"] if kind != "TCP" else []
        names += ["search_string"] if kind.endswith("_STR_MATCH") else []
        sent |= {n: v for n in names if (v := _typed(fields, n)) is not None}
    elif kind == "CALCULATED":
        sent["children"] = [k.removeprefix("child_") for k in fields if k.startswith("child_")]
        if (threshold := _typed(fields, "health_threshold")) is not None:
            sent["health_threshold"] = threshold
    elif kind == "CLOUDWATCH_METRIC":
        sent["alarm"] = (region, fields.get("alarm", "").strip())
        if (status := _typed(fields, "insufficient_data")) is not None:
            sent["insufficient_data"] = status
    sent["inverted"] = fields.get("inverted") == "yes"
    sent["disabled"] = fields.get("disabled") == "yes"
    return sent


def _check_form(check: HealthCheckRow | None) -> Form:
    """The update form filled with the check's configuration."""
    if check is None:
        return {}
    form = {
        "ip_address": check.ip_address,
        "fqdn": check.fqdn,
        "port": check.port,
        "resource_path": check.resource_path,
        "search_string": check.search_string,
        "failure_threshold": check.failure_threshold,
        "health_threshold": check.health_threshold,
        "alarm": check.alarm[1] if check.alarm else "",
        "insufficient_data": check.insufficient_data,
        "inverted": "yes" if check.inverted else "",
        "disabled": "yes" if check.disabled else "",
    }
    return form | {f"child_{child}": "yes" for child in check.children}


def _reset(check: HealthCheckRow, sent: dict[str, object]) -> list[str]:
    """The elements the update empties: a domain name or path the check had and the form no
    longer holds (UpdateHealthCheck's ``ResetElements``)."""
    reset = []
    if check.fqdn and "fqdn" not in sent and check.type in _ENDPOINT_TYPES:
        reset.append("FullyQualifiedDomainName")
    if check.resource_path and "resource_path" not in sent and check.type != "TCP":
        reset.append("ResourcePath")
    return reset


async def _alarm_choices(console: Console, request: Request, session: Session) -> list[str]:
    """The account's metric alarms' names as CloudWatch lists them (none where it refuses)."""
    if console.metrics is None:
        return []
    with suppress(WireError):
        page = await wire_alarms.describe(
            console.metrics, request.scope, session.principal, max_records=_CHOICES
        )
        return [a.name for a in page.alarms]
    return []


async def _child_choices(
    calls: HealthCheckCalls, request: Request, session: Session, but: str = ""
) -> list[HealthCheckRow]:
    with suppress(WireError):
        checks, _ = await calls.page(request.scope, session.principal, marker="", limit=_CHOICES)
        return [c for c in checks if c.health_check_id != but]
    return []


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    calls = _calls(console)
    rows: list[tuple[HealthCheckRow, str, list[tuple[str, str]]]] = []
    children: list[HealthCheckRow] = []
    next_href = None
    if calls is None or console.route53 is None:
        error, status = _not_served(console, request), 404
    else:
        origin, principal = request.scope, session.principal
        marker = request.query_params.get("marker", "")[:_MARKER_LENGTH]
        try:
            checks, next_marker = await calls.page(
                origin, principal, marker=marker, limit=console.settings.console_page_size
            )
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            readings = HealthReadings(calls, origin, principal)
            for check in checks:
                tags: list[tuple[str, str]] = []
                with suppress(WireError):
                    tags = await console.route53.tags(
                        origin, principal, check.health_check_id, kind="healthcheck"
                    )
                rows.append((check, await readings.status(check), tags))
            if next_marker:
                next_href = f"{CHECKS_URL}?{urlencode({'marker': next_marker})}"
        children = await _child_choices(calls, request, session)
    return console.render(
        request,
        "route53_health_checks.html",
        session=session,
        status=status,
        title=_("Route 53 health checks"),
        rows=rows,
        next_href=next_href,
        check_types=CHECK_TYPES,
        children=children,
        alarms=await _alarm_choices(console, request, session) if calls else [],
        region=console.settings.region,
        form=typed or {},
        error=error,
    )


checks_page = signed_in(_list_page)


@signed_in
async def create(console: Console, request: Request, session: Session) -> Response:
    fields = await console.form(request, session, max_fields=_MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    calls = _calls(console)
    if calls is None:
        return await _list_page(console, request, session)
    kind = fields.get("type", "")
    sent = check_fields(fields, kind, console.settings.region, update=False)
    try:
        check_id = await calls.create(request.scope, session.principal, sent)
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _list_page(console, request, session, typed=fields, error=error, status=status)
    return RedirectResponse(check_url(check_id), status_code=303)


async def _status_chart(
    console: Console, request: Request, session: Session, check_id: str
) -> dict[str, Any]:
    """The check's ``HealthCheckStatus`` (its minimum each minute: 0 once a report was
    unhealthy) over the last 3 hours, or CloudWatch's refusal in its place."""
    _ = console.catalogue(request).gettext
    end = (int(time.time()) // 60 + 1) * 60
    start = end - _SPAN
    metric = MetricRow("AWS/Route53", "HealthCheckStatus", (("HealthCheckId", check_id),))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(start))
    until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(end))
    shown: dict[str, Any] = {"start_text": when, "end_text": until, "error": None}
    shown["href"] = graph_href(metric, stat="Minimum", range="3h", period=str(_PERIOD))
    if console.metrics is None:
        shown["error"] = _("This server serves no metrics.")
        return shown
    try:
        points = await console.metrics.statistics(
            request.scope, session.principal, metric, start=start, end=end, period=_PERIOD,
            statistic="Minimum",
        )  # fmt: skip
    except WireError as exc:
        shown["error"] = console.error_text(request, exc)
        return shown
    chart: Chart = draw([(p.at, p.value) for p in points], start, end, "None")
    shown["chart"] = chart
    shown["rows"] = [
        (time.strftime("%Y-%m-%d %H:%M", time.gmtime(p.at)), number_text(p.value)) for p in points
    ]
    return shown


async def _check_page(
    console: Console,
    request: Request,
    session: Session,
    check_id: str,
    *,
    typed: Form | None = None,
    typed_form: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    calls = _calls(console)
    check: HealthCheckRow | None = None
    observations: list[Observation] = []
    failures: list[Observation] = []
    observations_error, tags_error = "", ""
    tags: list[tuple[str, str]] = []
    children: list[HealthCheckRow] = []
    chart: dict[str, Any] = {}
    summary = "Unknown"
    if calls is None or console.route53 is None:
        error, status = _not_served(console, request), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            check = await calls.get(origin, principal, check_id)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                observations = await calls.status(origin, principal, check_id)
                failures = await calls.last_failures(origin, principal, check_id)
            except WireError as exc:  # a calculated check's: said in its section
                observations_error = refusal(console, request, exc)[0]
            summary = await HealthReadings(calls, origin, principal).status(check, observations)
            try:
                tags = await console.route53.tags(origin, principal, check_id, kind="healthcheck")
            except WireError as exc:
                tags_error = refusal(console, request, exc)[0]
            if check.type == "CALCULATED":
                children = await _child_choices(calls, request, session, but=check_id)
            chart = await _status_chart(console, request, session, check_id)
    return console.render(
        request,
        "route53_health_check.html",
        session=session,
        status=status,
        title=f"{_('Health check')} {check_id}",
        check_id=check_id,
        check=check,
        summary=summary,
        observations=observations,
        failures=failures,
        observations_error=observations_error,
        chart=chart,
        tags=tags,
        tags_error=tags_error,
        children=children,
        alarms=await _alarm_choices(console, request, session)
        if check and check.type == "CLOUDWATCH_METRIC"
        else [],
        region=console.settings.region,
        typed_form=typed_form,
        form=dict(typed or {}) if typed_form else {},
        update_form=dict(typed or {}) if typed_form == "update" else _check_form(check),
        action_url=check_url(check_id),
        error=error,
    )


@signed_in
async def check_page(console: Console, request: Request, session: Session) -> Response:
    return await _check_page(console, request, session, request.path_params.get("check", ""))


async def _update(
    console: Console, calls: HealthCheckCalls, request: Request, session: Session, check_id: str,
    fields: Form,
) -> None:  # fmt: skip
    check = await calls.get(request.scope, session.principal, check_id)
    sent = check_fields(fields, check.type, console.settings.region, update=True)
    await calls.update(
        request.scope, session.principal, check_id, version=fields.get("version", ""),
        fields=sent, reset=_reset(check, sent),
    )  # fmt: skip


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a check's page: the change made, then the page (the list after the
    deletion) by a redirect (303); or the page again with Route 53's refusal and the form as
    typed."""
    check_id = request.path_params.get("check", "")
    action = request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _check_page(console, request, session, check_id)
    fields = await console.form(request, session, max_fields=_MAX_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    calls, wire = _calls(console), console.route53
    if calls is None or wire is None:
        return await _check_page(console, request, session, check_id)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    target = check_url(check_id)
    try:
        if action == "update":
            await _update(console, calls, request, session, check_id, fields)
        elif action == "tag":
            add = parse_tags(fields.get("tags", ""))
            await wire.change_tags(origin, principal, check_id, add=add, kind="healthcheck")
        elif action == "untag":
            remove = [fields.get("key", "")]
            await wire.change_tags(origin, principal, check_id, remove=remove, kind="healthcheck")
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await calls.delete(origin, principal, check_id)
            target = CHECKS_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _check_page(
            console, request, session, check_id, typed=fields, typed_form=action, error=error,
            status=status,
        )  # fmt: skip
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/health-checks", checks_page, ["GET"]),
    ("/health-checks", create, ["POST"]),
    ("/health-checks/{check}", check_page, ["GET"]),
    ("/health-checks/{check}/{action}", change, ["POST"]),
]
