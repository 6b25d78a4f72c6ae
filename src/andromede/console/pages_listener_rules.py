"""An Application Load Balancer listener's rules page (decision 0216 served, 0111 shown),
addressed by the load balancer's name and the listener's port (one listener a port): the
listener's rules by priority, each one's conditions and action as readable text, the default
rule last; a rule created (priority, one or more conditions — path-pattern, host-header,
http-request-method, query-string, source-ip, http-header — and an action: forward, fixed
response or redirect, ``elb_forms``), deleted, its priority changed (SetRulePriorities).

Every read and change is ELBv2's own call as the signed-in principal (``wire_elb_rules``):
ELBv2's checks and errors decide — a priority in use, too many conditions, a redirect to
itself, the default rule neither deleted nor moved — in its code and words, and it audits
them. A refused change shows the page again with the error and the form as it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.elb_forms import (
    ACTION_KINDS,
    CONTENT_TYPES,
    REDIRECT_CODES,
    action_choice,
    condition_choices,
)
from andromede.console.handlers import first_refusal, signed_in
from andromede.console.pages_ec2 import field
from andromede.console.pages_load_balancers import LBS_URL, elb_action, no_elb
from andromede.console.wire import WireError
from andromede.console.wire_elb import ElbWire, ListenerRow, TargetGroupRow
from andromede.console.wire_elb_rules import (
    RuleRow,
    create_rule,
    delete_rule,
    rules,
    set_rule_priority,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_RULES_PATH: Final = "/load-balancers/{name}/listeners/{port}/rules"


def _rules_url(request: Request) -> str:
    name = quote(request.path_params["name"], safe="")
    return f"{LBS_URL}/{name}/listeners/{quote(request.path_params['port'], safe='')}/rules"


async def _rules_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name, port = request.path_params["name"], request.path_params["port"]
    listener: ListenerRow | None = None
    found: list[RuleRow] = []
    groups: list[TargetGroupRow] = []
    if console.elb is None:
        error, status = no_elb(console, request)
    else:
        origin, who = request.scope, session.principal
        try:
            [lb] = await console.elb.load_balancers(origin, who, [name])
            listener = next(
                (row for row in await console.elb.listeners(origin, who, lb.arn)
                 if row.port == port), None,
            )  # fmt: skip
            if listener is None:
                error, status = error or _("No listener on this port."), 404
            else:
                found = await rules(console.elb, origin, who, listener.arn)
            with suppress(WireError):  # the action form's choices only: ELBv2 decides
                groups = [
                    g for g in await console.elb.target_groups(origin, who)
                    if g.vpc_id == lb.vpc_id
                ]  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "elb_listener_rules.html",
        session=session,
        status=status,
        title=_("Listener rules") + f" {name}:{port}",
        name=name,
        port=port,
        listener=listener,
        rules=found,
        target_groups=groups,
        action_kinds=ACTION_KINDS,
        content_types=CONTENT_TYPES,
        redirect_codes=REDIRECT_CODES,
        typed=typed or {},
        error=error,
    )


async def _create_rule(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    await create_rule(
        elb, request.scope, session.principal, field(f, "listener_arn"), field(f, "priority"),
        condition_choices(f), action_choice(f),
    )  # fmt: skip
    return _rules_url(request)


async def _delete_rule(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    await delete_rule(elb, request.scope, session.principal, field(f, "rule_arn"))
    return _rules_url(request)


async def _set_priority(elb: ElbWire, request: Request, session: Session, f: dict[str, str]) -> str:
    await set_rule_priority(
        elb, request.scope, session.principal, field(f, "rule_arn"), field(f, "priority")
    )
    return _rules_url(request)


def _priority_form(f: Mapping[str, str]) -> str:
    """A rule's own priority form (one a row), named by its rule's ARN."""
    return f"priority-{f.get('rule_arn', '')}"


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    (_RULES_PATH, signed_in(_rules_page), ["GET"]),
    (_RULES_PATH, elb_action(_rules_page, _create_rule, form="rule"), ["POST"]),
    (f"{_RULES_PATH}/delete", elb_action(_rules_page, _delete_rule), ["POST"]),
    (f"{_RULES_PATH}/priority",
     elb_action(_rules_page, _set_priority, form=_priority_form), ["POST"]),
]  # fmt: skip
