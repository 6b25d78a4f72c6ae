"""EC2 Auto Scaling in the console (decision 0156 served, 0111 shown; session 49): the
account's groups (sizes, instances, health check type), one made from a launch template of
the account (its ``$Default`` or ``$Latest`` version, sizes, subnets ticked); a group's page —
its health check type and grace period (ELB: its target groups' health counts, decision
0198), its target groups, and its predictive scaling policies (decision 0197), each with the
next hours' forecast (GetPredictiveScalingForecast) as a small table of load and capacity —
with its sizes changed, each instance's health set (SetInstanceHealth, Healthy or Unhealthy)
and the group deleted (``ForceDelete`` when ticked) after a ticked box. Its scaling policies,
scheduled actions and lifecycle hooks have their own page (``pages_scaling``, session 50).
Session 51: a group's mixed instances policy (decision 0209) shown — its instance types and
weights, the On-Demand base and percentage above it, the allocation strategies, capacity
rebalancing, each instance's type — and given or changed from a form of rows (one instance
type and its weight each) and the distribution's fields; the create form takes the same
fields, a group made with a mixed instances policy once an instance type is typed; the policy
dropped (the group back to its launch template alone) after a ticked box.

Every read and change is Auto Scaling's own call as the signed-in principal
(``wire_autoscaling``), so its policies, checks and words decide (a minimum over the maximum,
a name taken, a group still holding instances); a refused form shows the page again with its
error and the fields as typed; a forecast it refuses shows its refusal in the policy's place.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_ec2_more as more
from andromede.console.handlers import (
    Change,
    Form,
    Handler,
    Page,
    Typed,
    action,
    first_refusal,
    refusal,
    signed_in,
)
from andromede.console.pages_ec2 import field
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_autoscaling import (
    AutoScalingWire,
    ForecastHour,
    GroupRow,
    MixedForm,
    PredictivePolicyRow,
)
from andromede.console.wire_ec2 import SubnetRow
from andromede.console.wire_ec2_more import TemplateRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["FORECAST_HOURS", "ON_DEMAND_STRATEGIES", "ROUTES", "SPOT_STRATEGIES"]

# The hours a policy's forecast table shows, from the current hour: a glance, not a chart
# (AWS's console charts the forecast's 48 hours; GetPredictiveScalingForecast serves them).
FORECAST_HOURS: Final = 12
_GROUPS_URL: Final = f"{CONSOLE_PATH}/auto-scaling-groups"
# The template versions the create form offers: the two a group follows as they move.
_VERSIONS: Final = ("$Default", "$Latest")
_HEALTH: Final = ("Healthy", "Unhealthy")  # SetInstanceHealth's two
# The create form's fields: its own, then one box per subnet of the account.
_CREATE_FIELDS: Final = 64
# A mixed instances policy's (decision 0209): AWS's 40 overrides, two fields each, and the
# distribution's; the form shows the policy's rows and two empty ones, three at least.
_MAX_OVERRIDES: Final = 40
_MIXED_FIELDS: Final = 2 * _MAX_OVERRIDES + 16
_OVERRIDE_ROWS: Final = 3
# The choices the forms offer (Auto Scaling's enumerations; it checks them again).
ON_DEMAND_STRATEGIES: Final = ("prioritized", "lowest-price")
SPOT_STRATEGIES: Final = (
    "lowest-price",
    "capacity-optimized",
    "capacity-optimized-prioritized",
    "price-capacity-optimized",
)


def _no_autoscaling(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no EC2 Auto Scaling."), 404


def _autoscaling(console: Console) -> AutoScalingWire | None:
    return console.autoscaling


def _action(
    page: Page,
    change: Change[AutoScalingWire],
    *,
    form: str = "",
    confirmed: bool = False,
    max_fields: int = _CREATE_FIELDS,
) -> Handler:
    return action(
        page, change, wire=_autoscaling, form=form, max_fields=max_fields, confirmed=confirmed
    )


def _override_rows(typed: Mapping[str, str], shown: int) -> int:
    """How many instance type rows a form shows: those typed or held, and two empty ones."""
    typed_rows = [
        int(k.removeprefix("override_type_"))
        for k in typed
        if k.startswith("override_type_") and k.removeprefix("override_type_").isdigit()
    ]
    held = max([shown, *typed_rows])
    return min(max(held + 2, _OVERRIDE_ROWS), _MAX_OVERRIDES)


def _mixed_form(f: Form) -> MixedForm:
    """The policy the form's fields type: its rows with an instance type, in order."""
    overrides = []
    for n in range(1, _MAX_OVERRIDES + 1):
        instance_type = field(f, f"override_type_{n}")
        if instance_type:
            overrides.append((instance_type, field(f, f"override_weight_{n}")))
    return MixedForm(
        overrides=tuple(overrides),
        on_demand_strategy=field(f, "on_demand_strategy"),
        on_demand_base=field(f, "on_demand_base"),
        on_demand_percentage=field(f, "on_demand_percentage"),
        spot_strategy=field(f, "spot_strategy"),
        spot_pools=field(f, "spot_pools"),
        spot_max_price=field(f, "spot_max_price"),
        capacity_rebalance=bool(f.get("capacity_rebalance")),
    )


async def _choices(
    console: Console, request: Request, session: Session
) -> tuple[list[TemplateRow], list[SubnetRow]]:
    """The account's launch templates and subnets, the create form's choices only: Auto
    Scaling decides what it accepts."""
    templates: list[TemplateRow] = []
    subnets: list[SubnetRow] = []
    if console.ec2 is not None:
        with suppress(WireError):
            templates = await more.describe_launch_templates(
                console.ec2, request.scope, session.principal
            )
        with suppress(WireError):
            subnets = await console.ec2.describe_subnets(request.scope, session.principal)
    return templates, subnets


async def _groups_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[GroupRow] = []
    templates: list[TemplateRow] = []
    subnets: list[SubnetRow] = []
    if console.autoscaling is None:
        error, status = _no_autoscaling(console, request)
    else:
        try:
            rows = await console.autoscaling.groups(request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        templates, subnets = await _choices(console, request, session)
    return console.render(
        request,
        "autoscaling_groups.html",
        session=session,
        status=status,
        title=_("Auto Scaling groups"),
        groups=rows,
        templates=templates,
        versions=_VERSIONS,
        subnets=subnets,
        typed=(typed or {}).get("create", {}),
        override_rows=_override_rows((typed or {}).get("create", {}), 0),
        on_demand_strategies=ON_DEMAND_STRATEGIES,
        spot_strategies=SPOT_STRATEGIES,
        error=error,
    )


async def _group_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    group: GroupRow | None = None
    forecasts: list[tuple[PredictivePolicyRow, list[ForecastHour], str | None]] = []
    policies: list[PredictivePolicyRow] = []
    markets: dict[str, str] = {}  # each instance's, as EC2 answers it (Auto Scaling does not)
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
        if group is not None and console.ec2 is not None:
            ids = [m.instance_id for m in group.members]
            try:
                markets = await console.ec2.lifecycles(origin, who, ids)
            except WireError:
                pass  # not the user's to read from EC2: the column says "-"
        if group is not None:
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
        markets=markets,
        forecast_hours=FORECAST_HOURS,
        typed=(typed or {}).get("sizes", {}),
        mixed_typed=(typed or {}).get("mixed", {}),
        override_rows=_override_rows(
            (typed or {}).get("mixed", {}),
            len(group.mixed.overrides) if group and group.mixed else 0,
        ),
        on_demand_strategies=ON_DEMAND_STRATEGIES,
        spot_strategies=SPOT_STRATEGIES,
        health_choices=_HEALTH,
        error=error,
    )


def _ticked(f: Mapping[str, str], prefix: str) -> list[str]:
    """The ticked boxes: the form's ``<prefix><id>`` fields, in the form's order."""
    return [k.removeprefix(prefix) for k, v in f.items() if k.startswith(prefix) and v]


def _sizes(f: Form) -> tuple[str, str, str]:
    return field(f, "min_size"), field(f, "max_size"), field(f, "desired")


async def _create(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    name = field(f, "name")
    template = field(f, "template"), field(f, "version")
    mixed = _mixed_form(f)
    await wire.create_group(
        request.scope, session.principal, name, template, _sizes(f), _ticked(f, "subnet_"),
        mixed if mixed.overrides else None,
    )  # fmt: skip
    return f"{_GROUPS_URL}/{quote(name, safe='')}"


async def _update(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await wire.update_sizes(request.scope, session.principal, name, _sizes(f))
    return f"{_GROUPS_URL}/{quote(name, safe='')}"


async def _set_mixed(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    """The group's mixed instances policy, over its own launch template as Auto Scaling
    answers it now (not a field of the form)."""
    name = request.path_params["name"]
    found = await wire.groups(request.scope, session.principal, [name])
    template = (found[0].template_id, found[0].template_version) if found else ("", "")
    await wire.set_mixed(request.scope, session.principal, name, template, _mixed_form(f))
    return f"{_GROUPS_URL}/{quote(name, safe='')}"


async def _drop_mixed(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    """The group back to its plain launch template (the policy's), its policy dropped."""
    name = request.path_params["name"]
    found = await wire.groups(request.scope, session.principal, [name])
    template = (found[0].template_id, found[0].template_version) if found else ("", "")
    await wire.use_template(request.scope, session.principal, name, template)
    return f"{_GROUPS_URL}/{quote(name, safe='')}"


async def _health(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await wire.set_health(
        request.scope, session.principal, field(f, "instance_id"), field(f, "health")
    )
    return f"{_GROUPS_URL}/{quote(name, safe='')}"


async def _delete(wire: AutoScalingWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params["name"]
    await wire.delete_group(request.scope, session.principal, name, force=bool(f.get("force")))
    return _GROUPS_URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/auto-scaling-groups", signed_in(_groups_page), ["GET"]),
    (
        "/auto-scaling-groups",
        _action(_groups_page, _create, form="create", max_fields=_CREATE_FIELDS + _MIXED_FIELDS),
        ["POST"],
    ),
    ("/auto-scaling-groups/{name}", signed_in(_group_page), ["GET"]),
    ("/auto-scaling-groups/{name}/sizes", _action(_group_page, _update, form="sizes"), ["POST"]),
    ("/auto-scaling-groups/{name}/health", _action(_group_page, _health), ["POST"]),
    (
        "/auto-scaling-groups/{name}/plain",
        _action(_group_page, _drop_mixed, confirmed=True),
        ["POST"],
    ),
    (
        "/auto-scaling-groups/{name}/mixed",
        _action(_group_page, _set_mixed, form="mixed", max_fields=_MIXED_FIELDS),
        ["POST"],
    ),
    (
        "/auto-scaling-groups/{name}/delete",
        _action(_group_page, _delete, confirmed=True),
        ["POST"],
    ),
]
