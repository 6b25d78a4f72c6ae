"""An Auto Scaling group's "Automatic scaling" page in the console (decision 0111, session 50;
decisions 0177, 0159, 0197 served): ``/console/auto-scaling-groups/{name}/scaling``, linked
from the group's page. Its scaling policies of every type (simple, step, target tracking,
predictive — whose forecast stays on the group's page) with their alarms; a target tracking
policy put on one of Auto Scaling's predefined metrics, a simple or a step policy put and,
when one is chosen, one of the account's CloudWatch alarms made to call it (the policy's ARN
added to the alarm's ALARM actions); a policy deleted after a ticked box; the group's
scheduled actions, one put (a start time read as UTC, a cron recurrence, an end, sizes) or
deleted after a ticked box; its lifecycle hooks, listed.

Every read and change is Auto Scaling's (or, for the alarm, CloudWatch's) own call as the
signed-in principal (``wire_scaling``), so its policies, checks and words decide; a refused form
shows the page again with its error and the fields as typed.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console import wire_alarms, wire_scaling
from andromede.console.handlers import (
    Change,
    Form,
    FormFault,
    Handler,
    Page,
    Typed,
    action,
    first_refusal,
    signed_in,
    words,
)
from andromede.console.pages_ec2 import field
from andromede.console.pages_event_archives import form_time
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_autoscaling import AutoScalingWire
from andromede.console.wire_metrics import CloudWatchWire
from andromede.console.wire_scaling import HookRow, PolicyRow, ScheduleRow, StepRow
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ADJUSTMENT_TYPES", "ROUTES", "STEP_ROWS", "TRACKED_METRICS"]

# Target tracking's predefined metrics Auto Scaling takes here (decision 0177):
# ALBRequestCountPerTarget is refused by the service (it needs a ResourceLabel), so not offered.
TRACKED_METRICS: Final = (
    "ASGAverageCPUUtilization",
    "ASGAverageNetworkIn",
    "ASGAverageNetworkOut",
)
ADJUSTMENT_TYPES: Final = ("ChangeInCapacity", "ExactCapacity", "PercentChangeInCapacity")
STEP_ROWS: Final = 3  # the step form's rows; a row without an adjustment is not sent
_GROUPS_URL: Final = f"{CONSOLE_PATH}/auto-scaling-groups"
_ALARMS_LISTED: Final = 100  # DescribeAlarms' MaxRecords bound (AWS's)
_FIELDS: Final = 24


@dataclass(frozen=True, slots=True)
class _Wires:
    """Auto Scaling, and CloudWatch for the alarm a simple or step policy is linked to."""

    autoscaling: AutoScalingWire
    metrics: CloudWatchWire | None


def _wires(console: Console) -> _Wires | None:
    if console.autoscaling is None:
        return None
    return _Wires(console.autoscaling, console.metrics)


def _action(page: Page, change: Change[_Wires], *, form: str = "",
            confirmed: bool = False) -> Handler:  # fmt: skip
    return action(page, change, wire=_wires, form=form, max_fields=_FIELDS, confirmed=confirmed)


def _whom(
    wires: _Wires, request: Request, session: Session
) -> tuple[AutoScalingWire, Scope, Principal, str]:
    """A change's first arguments: Auto Scaling, the request's origin, the caller, the group."""
    return wires.autoscaling, request.scope, session.principal, request.path_params["name"]


def _scaling_url(request: Request) -> str:
    return f"{_GROUPS_URL}/{quote(request.path_params['name'], safe='')}/scaling"


async def _alarm_names(console: Console, request: Request, session: Session) -> list[str]:
    """The account's metric alarms, the simple and step forms' choices (none when CloudWatch
    refuses: the policy is then put without one)."""
    if console.metrics is None:
        return []
    with suppress(WireError):
        page = await wire_alarms.describe(
            console.metrics, request.scope, session.principal, max_records=_ALARMS_LISTED
        )
        return [alarm.name for alarm in page.alarms]
    return []


async def _scaling_page(
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
    found = False
    policies: list[PolicyRow] = []
    schedules: list[ScheduleRow] = []
    hooks: list[HookRow] = []
    wire = console.autoscaling
    if wire is None:
        error, status = _("This server serves no EC2 Auto Scaling."), 404
    else:
        origin, who = request.scope, session.principal
        try:
            found = bool(await wire.groups(origin, who, [name]))
            if not found:
                error, status = _("No Auto Scaling group named {name}.").format(name=name), 404
            else:
                policies = await wire_scaling.policies(wire, origin, who, name)
                schedules = await wire_scaling.scheduled_actions(wire, origin, who, name)
                hooks = await wire_scaling.lifecycle_hooks(wire, origin, who, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "autoscaling_scaling.html",
        session=session,
        status=status,
        title=_("Automatic scaling") + f" {name}",
        name=name,
        found=found,
        policies=policies,
        schedules=schedules,
        hooks=hooks,
        alarms=await _alarm_names(console, request, session) if found else [],
        metrics=TRACKED_METRICS,
        adjustment_types=ADJUSTMENT_TYPES,
        step_rows=range(1, STEP_ROWS + 1),
        typed=typed or {},
        error=error,
    )


async def _link_alarm(
    wires: _Wires, request: Request, session: Session, f: Form, policy_arn: str
) -> None:
    """The chosen alarm (if any) made to call the policy just put."""
    alarm = field(f, "alarm")
    if not alarm or wires.metrics is None:
        return
    attached = await wire_scaling.attach_alarm(
        wires.metrics, request.scope, session.principal, alarm, policy_arn
    )
    if not attached:
        _ = words(request)
        raise FormFault(_("No CloudWatch alarm named {name}.").format(name=alarm), 404)


async def _put_tracking(wires: _Wires, request: Request, session: Session, f: Form
                        ) -> str:  # fmt: skip
    await wire_scaling.put_target_tracking(
        *_whom(wires, request, session), field(f, "policy"),
        metric=field(f, "metric"), target=field(f, "target"),
        disable_scale_in=bool(f.get("disable_scale_in")), warmup=field(f, "warmup"),
    )  # fmt: skip
    return _scaling_url(request)


async def _put_simple(wires: _Wires, request: Request, session: Session, f: Form
                      ) -> str:  # fmt: skip
    arn = await wire_scaling.put_simple(
        *_whom(wires, request, session), field(f, "policy"),
        adjustment_type=field(f, "adjustment_type"), adjustment=field(f, "adjustment"),
        cooldown=field(f, "cooldown"),
    )  # fmt: skip
    await _link_alarm(wires, request, session, f, arn)
    return _scaling_url(request)


def _steps(f: Form) -> list[StepRow]:
    """The step rows typed: those with an adjustment, in the form's order."""
    rows = [
        StepRow(field(f, f"lower_{n}"), field(f, f"upper_{n}"), field(f, f"step_{n}"))
        for n in range(1, STEP_ROWS + 1)
    ]
    return [row for row in rows if row.adjustment]


async def _put_step(wires: _Wires, request: Request, session: Session, f: Form) -> str:
    arn = await wire_scaling.put_step(
        *_whom(wires, request, session), field(f, "policy"),
        adjustment_type=field(f, "adjustment_type"), steps=_steps(f), warmup=field(f, "warmup"),
    )  # fmt: skip
    await _link_alarm(wires, request, session, f, arn)
    return _scaling_url(request)


async def _delete_policy(wires: _Wires, request: Request, session: Session, f: Form
                         ) -> str:  # fmt: skip
    policy = field(f, "policy")
    await wire_scaling.delete_policy(*_whom(wires, request, session), policy)
    return _scaling_url(request)


def _moment(request: Request, typed: str) -> datetime | None:
    return form_time(request, typed) if typed else None


async def _put_schedule(wires: _Wires, request: Request, session: Session, f: Form
                        ) -> str:  # fmt: skip
    window = _moment(request, field(f, "start")), _moment(request, field(f, "end"))
    await wire_scaling.put_scheduled_action(
        *_whom(wires, request, session), field(f, "action"),
        window=window, recurrence=field(f, "recurrence"), time_zone=field(f, "time_zone"),
        sizes=(field(f, "min_size"), field(f, "max_size"), field(f, "desired")),
    )  # fmt: skip
    return _scaling_url(request)


async def _delete_schedule(wires: _Wires, request: Request, session: Session, f: Form
                           ) -> str:  # fmt: skip
    name = field(f, "action")
    await wire_scaling.delete_scheduled_action(*_whom(wires, request, session), name)
    return _scaling_url(request)


_GROUP: Final = "/auto-scaling-groups/{name}"
ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (f"{_GROUP}/scaling", signed_in(_scaling_page), ["GET"]),
    (f"{_GROUP}/policies/target-tracking",
     _action(_scaling_page, _put_tracking, form="tracking"), ["POST"]),
    (f"{_GROUP}/policies/simple", _action(_scaling_page, _put_simple, form="simple"), ["POST"]),
    (f"{_GROUP}/policies/step", _action(_scaling_page, _put_step, form="step"), ["POST"]),
    (f"{_GROUP}/policies/delete",
     _action(_scaling_page, _delete_policy, confirmed=True), ["POST"]),
    (f"{_GROUP}/scheduled-actions",
     _action(_scaling_page, _put_schedule, form="schedule"), ["POST"]),
    (f"{_GROUP}/scheduled-actions/delete",
     _action(_scaling_page, _delete_schedule, confirmed=True), ["POST"]),
]  # fmt: skip
