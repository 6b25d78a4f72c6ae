"""EC2 Auto Scaling in the console (decision 0156 served, 0111 shown; session 49, read
only): the account's groups (sizes, instances, health check type) and a group's page — its
health check type and grace period (ELB: its target groups' health counts, decision 0198),
its target groups, and its predictive scaling policies (decision 0197), each with the next
hours' forecast (GetPredictiveScalingForecast) as a small table of load and capacity.

Every read is Auto Scaling's own call as the signed-in principal (``wire_autoscaling``), so
its policies and words decide; a forecast it refuses shows its refusal in the policy's place.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import first_refusal, refusal, signed_in
from andromede.console.wire import WireError
from andromede.console.wire_autoscaling import ForecastHour, GroupRow, PredictivePolicyRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["FORECAST_HOURS", "ROUTES"]

# The hours a policy's forecast table shows, from the current hour: a glance, not a chart
# (AWS's console charts the forecast's 48 hours; GetPredictiveScalingForecast serves them).
FORECAST_HOURS: Final = 12


def _no_autoscaling(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no EC2 Auto Scaling."), 404


@signed_in
async def _groups_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[GroupRow] = []
    error, status = None, 200
    if console.autoscaling is None:
        error, status = _no_autoscaling(console, request)
    else:
        try:
            rows = await console.autoscaling.groups(request.scope, session.principal)
        except WireError as exc:
            error, status = refusal(console, request, exc)
    return console.render(
        request,
        "autoscaling_groups.html",
        session=session,
        status=status,
        title=_("Auto Scaling groups"),
        groups=rows,
        error=error,
    )


@signed_in
async def _group_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    group: GroupRow | None = None
    forecasts: list[tuple[PredictivePolicyRow, list[ForecastHour], str | None]] = []
    error: str | None = None
    status = 200
    wire = console.autoscaling
    if wire is None:
        error, status = _no_autoscaling(console, request)
    else:
        origin, who = request.scope, session.principal
        try:
            found = await wire.groups(origin, who, [name])
            if not found:
                error, status = _("No Auto Scaling group named {name}.").format(name=name), 404
            else:
                group = found[0]
                policies = await wire.predictive_policies(origin, who, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if group is not None and error is None:
            start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
            window = start, start + timedelta(hours=FORECAST_HOURS)
            for policy in policies:
                try:
                    hours = await wire.forecast(origin, who, name, policy.name, window)
                except WireError as exc:  # this policy's forecast refused: said in its place
                    forecasts.append((policy, [], refusal(console, request, exc)[0]))
                else:
                    forecasts.append((policy, hours, None))
    return console.render(
        request,
        "autoscaling_group.html",
        session=session,
        status=status,
        title=_("Auto Scaling group") + f" {name}",
        name=name,
        group=group,
        forecasts=forecasts,
        forecast_hours=FORECAST_HOURS,
        error=error,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/auto-scaling-groups", _groups_page, ["GET"]),
    ("/auto-scaling-groups/{name}", _group_page, ["GET"]),
]
