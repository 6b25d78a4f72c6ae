"""CloudWatch Contributor Insights (decision 0272) in the console (decision 0279): the account's
rules listed (name, state, schema, log groups, managed or not; pages of
``console_page_size``), one made or replaced from a form (``insight_forms``: the account's
log groups ticked or names and prefixes typed, JSON or CLF, keys, the value summed, filters,
Count or Sum, its state; a rule's edit is the form holding its definition), and
a rule's page — its definition, enabled, disabled, deleted after a ticked box, and its report
over the last hour, 3 hours or 24 hours (GetInsightRuleReport: the top contributors with their
values, the approximate unique count, each period's figures), its top contributors drawn as
the metrics pages draw a chart (``metric_chart``).

Each read and change is CloudWatch's own call as the signed-in principal
(``wire_insight_rules`` through ``CloudWatchWire``), so its IAM decisions, checks of the
definition, audit and words answer them; a refusal shows the page again with the form as
typed. A rule's name may hold any printable character, ``/`` included: it travels as the
``name`` query parameter, never as a path segment.
"""

from __future__ import annotations

import time
from contextlib import suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, Typed, action, first_refusal, signed_in, words
from andromede.console.insight_forms import (
    AGGREGATIONS,
    GROUP_FIELD,
    LOG_FORMATS,
    STATES,
    definition_of,
    fields_of,
)
from andromede.console.metric_chart import draw_series
from andromede.console.pages_metrics import number_text
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_insight_rules import REPORT_METRICS, InsightRuleRow, RuleReport
from andromede.console.wire_metrics import CloudWatchWire
from andromede.metrics.insight_rules import MAX_LOG_GROUPS

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["REPORT_RANGES", "ROUTES", "rule_url"]

_URL: Final = f"{CONSOLE_PATH}/insight-rules"
_CREATE: Final = "create"
# The report's ranges (name → seconds, period): AWS's console's quick ranges of a rule.
REPORT_RANGES: Final = {"1h": (3600, 60), "3h": (3 * 3600, 300), "24h": (86400, 900)}
_TOP: Final = 10  # the contributors a report shows, as AWS's console's
# The form's fields besides its ticked groups: name, state, format, fields, keys, value,
# filters, aggregation, other groups, csrf; a rule covers MAX_LOG_GROUPS at most (more is
# CloudWatch's refusal, so a few more are read).
_MAX_FIELDS: Final = 13 + 2 * MAX_LOG_GROUPS


def _wire(console: Console) -> CloudWatchWire | None:
    return console.metrics


def rule_url(name: str, suffix: str = "") -> str:
    return f"{_URL}/rule{suffix}?{urlencode({'name': name})}"


async def _group_names(console: Console, request: Request, session: Session) -> list[str]:
    """The account's log groups (the form's choices only: CloudWatch decides)."""
    if console.logs is None:
        return []
    with suppress(WireError):
        return await console.logs.group_names(request.scope, session.principal)
    return []


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    rows: list[InsightRuleRow] = []
    following: str | None = None
    if wire is None:
        error, status = _("This server serves no CloudWatch."), 404
    else:
        try:
            rows, following = await wire.insight_rules(
                request.scope, session.principal,
                token=request.query_params.get("token", "")[:1024] or None,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    groups = await _group_names(console, request, session)
    form = dict((typed or {}).get(_CREATE, {}))
    editing = request.query_params.get("edit", "")[:128]
    if editing and wire is not None and not form:
        try:  # the rule's edit: the form holds its definition
            rule = await wire.insight_rule(request.scope, session.principal, editing)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            form = {"name": rule.name, "state": rule.state,
                    **fields_of(rule.definition, frozenset(groups))}  # fmt: skip
    return console.render(
        request,
        "insight_rules.html",
        session=session,
        status=status,
        title=_("Contributor Insights"),
        rules=[(row, rule_url(row.name)) for row in rows],
        next_href=f"{_URL}?{urlencode({'token': following})}" if following else None,
        log_groups=groups,
        editing=bool(editing) and "name" in form,
        group_field=GROUP_FIELD,
        log_formats=LOG_FORMATS,
        aggregations=AGGREGATIONS,
        states=STATES,
        form=form,
        error=error,
    )


async def _create(wire: CloudWatchWire, request: Request, session: Session, f: Form) -> str:
    name = f.get("name", "").strip()
    definition = definition_of(f, words(request))
    state = f.get("state", "ENABLED")
    await wire.put_insight_rule(
        request.scope, session.principal, name, state=state, definition=definition
    )
    return rule_url(name)


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _chart_of(report: RuleReport, start: int, end: int) -> Any:
    """The top contributors' lines, each labelled by its keys' values."""
    series = [(" · ".join(one.keys), one.points) for one in report.contributors if one.points]
    return draw_series(series, start, end, "None") if series else None


async def _rule_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    texts = {"1h": _("1 hour"), "3h": _("3 hours"), "24h": _("24 hours")}
    name = request.query_params.get("name", "")[:128]
    chosen = request.query_params.get("range", "")
    span_name = chosen if chosen in REPORT_RANGES else "1h"
    span, period = REPORT_RANGES[span_name]
    # The range ends at the next whole minute, so the current one is in the report.
    end = (int(time.time()) // 60 + 1) * 60
    start = end - span
    wire = _wire(console)
    rule: InsightRuleRow | None = None
    report: RuleReport | None = None
    report_error = ""
    if wire is None:
        error, status = _("This server serves no CloudWatch."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            rule = await wire.insight_rule(origin, principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                report = await wire.insight_rule_report(
                    origin, principal, name, start=start, end=end, period=period,
                    contributors=_TOP,
                )  # fmt: skip
            except WireError as exc:  # its section says so; the definition is shown
                report_error = console.error_text(request, exc)
    return console.render(
        request,
        "insight_rule.html",
        session=session,
        status=status,
        title=_("Contributor Insights rule") + f" {name}",
        name=name,
        rule=rule,
        report=report,
        report_error=report_error,
        chart=_chart_of(report, start, end) if report is not None else None,
        rows=[
            (
                _when(p.at),
                [number_text(p.values[m]) if m in p.values else "-" for m in REPORT_METRICS],
            )
            for p in (report.points if report is not None else ())
        ],
        metrics=REPORT_METRICS,
        number_text=number_text,
        ranges=[(key, texts[key], rule_url(name) + f"&range={key}") for key in REPORT_RANGES],
        span_name=span_name,
        period=period,
        start_text=_when(start),
        end_text=_when(end),
        edit_url=f"{_URL}?{urlencode({'edit': name})}#create-insight-rule-form",
        enable_url=rule_url(name, "/enable"),
        disable_url=rule_url(name, "/disable"),
        delete_url=rule_url(name, "/delete"),
        error=error,
    )


def _change(kind: str) -> Any:
    """A rule's one-call form: enable, disable or delete the rule the page names."""
    calls = {
        "enable": "EnableInsightRules",
        "disable": "DisableInsightRules",
        "delete": "DeleteInsightRules",
    }

    async def change(wire: CloudWatchWire, request: Request, session: Session, f: Form) -> str:
        name = request.query_params.get("name", "")[:128]
        await wire.change_insight_rule(request.scope, session.principal, calls[kind], name)
        return _URL if kind == "delete" else rule_url(name)

    return change


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/insight-rules", signed_in(_list_page), ["GET"]),
    ("/insight-rules",
     action(_list_page, _create, wire=_wire, form=_CREATE, max_fields=_MAX_FIELDS), ["POST"]),
    ("/insight-rules/rule", signed_in(_rule_page), ["GET"]),
    ("/insight-rules/rule/enable", action(_rule_page, _change("enable"), wire=_wire), ["POST"]),
    ("/insight-rules/rule/disable", action(_rule_page, _change("disable"), wire=_wire), ["POST"]),
    ("/insight-rules/rule/delete",
     action(_rule_page, _change("delete"), wire=_wire, confirmed=True), ["POST"]),
]  # fmt: skip
