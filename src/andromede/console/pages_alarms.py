"""CloudWatch alarms in the console (decision 0111, session 47: alarms; the API is decision
0177): the account's metric alarms as DescribeAlarms lists them — each state in words, not
colour alone —, filtered by state and name prefix, in pages of ``console_page_size``; an
alarm's page (its definition, its metric's chart over the last 3 hours with the threshold
drawn, its history, its actions enabled or disabled, its deletion after a ticked box); and
the form that creates an alarm on a metric, reached from that metric's chart, its ALARM, OK
and INSUFFICIENT_DATA actions SNS topics among those SNS lists to the user; the same form
pre-filled to edit an alarm (``?edit=NAME``: PutMetricAlarm again under its name). A
metric-math alarm (decision 0183) is shown with its queries, read-only. Session 48: the
alarm's state set by hand (SetAlarmState, as ``aws cloudwatch set-alarm-state``), its tags
set from the form (``Tags`` on a create, TagResource/UntagResource on an edit), its history
in pages of ``console_page_size`` filtered by item type.

Every read and change is CloudWatch's own call as the signed-in principal (``wire_alarms``),
so its IAM decisions and checks answer: a refusal shows CloudWatch's code and message with
its status, and the form as typed, never a 500. The changes are CSRF-checked POSTs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import wire_alarms
from andromede.console.alarm_band import band_of, band_series
from andromede.console.handlers import (
    Form,
    Handler,
    Typed,
    action,
    first_refusal,
    posted,
    signed_in,
)
from andromede.console.metric_chart import RANGES, STATISTICS, auto_period, draw, draw_series
from andromede.console.pages_metrics import graph_href, number_text, parse_dimensions
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_alarms import AlarmHistoryRow, AlarmPage, AlarmQuery, AlarmRow
from andromede.console.wire_metrics import CloudWatchWire, MetricPoint, MetricRow
from andromede.http.response import Scope
from andromede.iam.model import Principal

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "alarm_definition"]

STATES: Final = ("OK", "ALARM", "INSUFFICIENT_DATA")
COMPARISONS: Final = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}
MISSING_DATA: Final = ("missing", "notBreaching", "breaching", "ignore")
HISTORY_TYPES: Final = ("ConfigurationUpdate", "StateUpdate", "Action")
# DescribeAlarms' MaxRecords may not pass 100.
_MOST_RECORDS: Final = 100
_LIST: Final = f"{CONSOLE_PATH}/alarms"
_NEW: Final = f"{CONSOLE_PATH}/metrics/alarm"
_CHART_SPAN: Final = RANGES["3h"]
# The form's fields: the ALARM, OK and INSUFFICIENT_DATA topics among them, and an edit's
# hidden ones (20 in all) — more than ``console.form``'s usual bound of 16.
_ACTION_FIELDS: Final = ("topic_arn", "ok_topic_arn", "insufficient_topic_arn")
_FORM_FIELDS: Final = 24


def _alarm_url(name: str) -> str:
    return f"{_LIST}/{quote(name, safe='')}"


def _state_texts(_: Any) -> dict[str, str]:
    return {"OK": _("OK"), "ALARM": _("In alarm"), "INSUFFICIENT_DATA": _("Insufficient data")}


def _integer(typed: str) -> int | str:
    """A count as typed: the integer, or the text itself for CloudWatch to refuse."""
    text = typed.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def _threshold(typed: str) -> float | str:
    text = typed.strip()
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def parse_tags(typed: str) -> list[tuple[str, str]]:
    """The form's tags, one ``Key=Value`` a line (a line without ``=`` is a key with an
    empty value), blank lines skipped; CloudWatch checks keys and values."""
    pairs = []
    for line in typed.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            pairs.append((key.strip(), value.strip()))
    return pairs


def alarm_definition(fields: Mapping[str, str]) -> dict[str, Any]:
    """PutMetricAlarm's members from the create form, as typed: a number that is not one is
    sent as its text (CloudWatch refuses it), an empty "datapoints to alarm" is left out
    (CloudWatch takes the evaluation periods), the topics chosen are the ALARM, OK and
    INSUFFICIENT_DATA actions; an edit's hidden fields keep the actions disabled and the
    unit."""
    statistic = fields.get("statistic", "").strip()
    dimensions = parse_dimensions(fields.get("dimensions", "").splitlines())
    definition: dict[str, Any] = {
        "AlarmName": fields.get("alarm_name", "").strip(),
        "Namespace": fields.get("namespace", "").strip(),
        "MetricName": fields.get("metric", "").strip(),
        "Dimensions": [{"Name": n, "Value": v or ""} for n, v in dimensions],
        ("ExtendedStatistic" if statistic.startswith("p") else "Statistic"): statistic,
        "Period": _integer(fields.get("period", "")),
        "EvaluationPeriods": _integer(fields.get("evaluation_periods", "")),
        "Threshold": _threshold(fields.get("threshold", "")),
        "ComparisonOperator": fields.get("comparison", "").strip(),
        "TreatMissingData": fields.get("treat_missing_data", "").strip() or "missing",
        "AlarmActions": [a for a in (fields.get("topic_arn", "").strip(),) if a],
    }
    for member, field in (
        ("OKActions", "ok_topic_arn"),
        ("InsufficientDataActions", "insufficient_topic_arn"),
    ):
        if fields.get(field, "").strip():
            definition[member] = [fields[field].strip()]
    # An edit keeps what the form does not show: PutMetricAlarm replaces the whole alarm,
    # and would turn disabled actions on again and forget its unit.
    if fields.get("actions_enabled") == "no":
        definition["ActionsEnabled"] = False
    if fields.get("unit", "").strip():
        definition["Unit"] = fields["unit"].strip()
    if fields.get("datapoints_to_alarm", "").strip():
        definition["DatapointsToAlarm"] = _integer(fields["datapoints_to_alarm"])
    if fields.get("description", "").strip():
        definition["AlarmDescription"] = fields["description"].strip()
    # An update's Tags are ignored by PutMetricAlarm (AWS's rule): an edit retags after it.
    tags = parse_tags(fields.get("tags", ""))
    if tags and fields.get("editing") != "yes":
        definition["Tags"] = [{"Key": k, "Value": v} for k, v in tags]
    return definition


@signed_in
async def alarms_page(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    query = request.query_params
    state = query.get("state", "") if query.get("state", "") in STATES else ""
    prefix = query.get("prefix", "").strip()
    token = query.get("token") or None
    error, status = None, 200
    listed = AlarmPage([], None)
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        try:
            listed = await wire_alarms.describe(
                console.metrics, request.scope, session.principal, prefix=prefix or None,
                state=state or None, next_token=token,
                max_records=min(_MOST_RECORDS, console.settings.console_page_size),
            )  # fmt: skip
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    filters = [(k, v) for k, v in (("state", state), ("prefix", prefix)) if v]
    next_href = None
    if listed.next_token:
        next_href = f"{_LIST}?{urlencode([*filters, ('token', listed.next_token)])}"
    return console.render(
        request,
        "alarms.html",
        session=session,
        status=status,
        title=_("Alarms"),
        alarms=[(a, _alarm_url(a.name)) for a in listed.alarms],
        bands={a.name: b.condition for a in listed.alarms if (b := band_of(a, _))},
        states=STATES,
        state_texts=_state_texts(_),
        comparisons=COMPARISONS,
        state=state,
        prefix=prefix,
        filtered=bool(filters),
        next_href=next_href,
        error=error,
    )


def _drawn(points: list[MetricPoint], unit: str) -> list[MetricPoint]:
    """The alarm's unit's datapoints, else the first unit's (GetMetricStatistics answers a
    period once per unit)."""
    units = sorted({p.unit for p in points})
    chosen = unit if unit in units else (units[0] if units else "")
    return [p for p in points if p.unit == chosen]


async def _alarm_page(
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
    alarm: AlarmRow | None = None
    events: list[AlarmHistoryRow] = []
    history_next: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    tags_error = ""
    query = request.query_params
    history_type = query.get("history_type", "")
    history_type = history_type if history_type in HISTORY_TYPES else ""
    points: list[MetricPoint] = []
    banded: tuple[list[tuple[int, float]], ...] | None = None  # a band alarm's 3 lines
    end = (int(time.time()) // 60 + 1) * 60
    start = end - _CHART_SPAN
    if console.metrics is None:
        error, status = _("This server serves no metrics."), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            found = await wire_alarms.describe(console.metrics, origin, principal, names=[name])
            alarm = next((a for a in found.alarms if a.name == name), None)
            if alarm is None:
                raise WireError("ResourceNotFound", _("No alarm of that name."), 404)
            past = await wire_alarms.history(
                console.metrics, origin, principal, name, console.settings.console_page_size,
                item_type=history_type or None, next_token=query.get("history_token") or None,
            )  # fmt: skip
            events, history_next = past.items, past.next_token
            try:
                tags = await wire_alarms.tags(console.metrics, origin, principal, alarm.arn)
            except WireError as exc:
                # A user allowed the alarm but not its tags still sees the alarm.
                tags_error = console.error_text(request, exc)
            # A math alarm watches no single metric: its queries are listed, not charted.
            if not alarm.is_math:
                points = await _alarm_points(
                    console.metrics, console, origin, principal, alarm, (start, end)
                )
            elif alarm.threshold_metric_id:  # the band and its metric (decision 0189)
                banded = await band_series(console.metrics, origin, principal, alarm, (start, end))
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    drawn = _drawn(points, alarm.unit if alarm else "")
    chart = None
    band = band_of(alarm, _) if alarm is not None else None
    rows = [(_when_text(p.at), number_text(p.value), p.unit) for p in drawn]
    band_rows: list[tuple[str, str, str, str]] = []
    chart_title = f"{alarm.metric_name} · {alarm.statistic}" if alarm else ""
    if alarm is not None and not alarm.is_math:
        unit = drawn[0].unit if drawn else (alarm.unit or "None")
        chart = draw([(p.at, p.value) for p in drawn], start, end, unit, alarm.threshold)
    elif alarm is not None and band is not None and banded is not None:
        values, lower, upper = banded
        edges = [(_("Band lower edge"), lower), (_("Band upper edge"), upper)]
        chart = draw_series(
            [(band.metric, values), *edges], start, end, alarm.unit or "None", (lower, upper)
        )
        chart_title, low, high = band.condition, dict(lower), dict(upper)
        band_rows = [
            (_when_text(at), number_text(value), _edge(low, at), _edge(high, at))
            for at, value in values
        ]
    metric_href = ""
    if alarm is not None and not alarm.is_math:
        metric = MetricRow(alarm.namespace, alarm.metric_name, alarm.dimensions)
        metric_href = graph_href(metric, stat=alarm.statistic)
    return console.render(
        request,
        "alarm.html",
        session=session,
        status=status,
        title=f"{_('Alarm')} {name}",
        name=name,
        alarm=alarm,
        state_texts=_state_texts(_),
        comparisons=COMPARISONS,
        chart=chart,
        rows=rows,
        band=band,
        band_rows=band_rows,
        chart_title=chart_title,
        start_text=_when_text(start),
        end_text=_when_text(end),
        events=events,
        history_types=HISTORY_TYPES,
        history_type=history_type,
        history_next_href=_history_href(name, history_type, history_next),
        tags=tags,
        tags_error=tags_error,
        states=STATES,
        metric_href=metric_href,
        threshold_text=number_text(alarm.threshold) if alarm else "",
        query_hrefs=[_query_href(q) for q in alarm.queries] if alarm else [],
        not_editable=_not_editable(_, alarm) if alarm else None,
        edit_href=f"{_NEW}?{urlencode([('edit', name)])}",
        error=error,
    )


def _edge(edge: Mapping[int, float], at: int) -> str:
    return number_text(edge[at]) if at in edge else ""


async def _alarm_points(
    wire: CloudWatchWire,
    console: Console,
    origin: Scope,
    principal: Principal,
    alarm: AlarmRow,
    span: tuple[int, int],
) -> list[MetricPoint]:
    """The alarm's metric's statistic at its own period, unless the 3 hours would pass the
    datapoint limit."""
    start, end = span
    most = console.settings.metrics_max_datapoints
    period = alarm.period
    if period <= 0 or math.ceil(_CHART_SPAN / period) > most:
        period = auto_period(_CHART_SPAN, most)
    metric = MetricRow(alarm.namespace, alarm.metric_name, alarm.dimensions)
    return await wire.statistics(
        origin, principal, metric, start=start, end=end, period=period,
        statistic=alarm.statistic,
    )  # fmt: skip


def _history_href(name: str, item_type: str, token: str | None) -> str:
    """The history's next page: the alarm's page with CloudWatch's token and the filter."""
    if not token:
        return ""
    pairs = [*((("history_type", item_type),) if item_type else ()), ("history_token", token)]
    return f"{_alarm_url(name)}?{urlencode(pairs)}#alarm-history"


def _query_href(query: AlarmQuery) -> str:
    """A math alarm's metric query's chart, with its statistic; none for an expression."""
    if not query.metric_name:
        return ""
    metric = MetricRow(query.namespace, query.metric_name, query.dimensions)
    return graph_href(metric, stat=query.statistic if query.statistic in STATISTICS else "")


def _not_editable(_: Any, alarm: AlarmRow) -> str | None:
    """Why the form may not edit ``alarm`` (None: it may). The form sets one metric and one
    action per state: rather than drop what it cannot show, it leaves such alarms alone."""
    if alarm.is_math:
        return str(
            _(
                "This alarm is on metric math: it is shown here but not editable in the console "
                "(change it with PutMetricAlarm's Metrics, from the API)."
            )
        )
    actions = (alarm.alarm_actions, alarm.ok_actions, alarm.insufficient_data_actions)
    if any(len(one) > 1 for one in actions):
        return str(
            _(
                "This alarm has more than one action for a state: it is not editable in the "
                "console (change it from the API)."
            )
        )
    return None


def _when_text(at: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(at))


alarm_page = signed_in(_alarm_page)


def _metrics(console: Console) -> CloudWatchWire | None:
    return console.metrics


def _change(kind: str) -> Handler:
    """A POST of an alarm's page (``handlers.action``): ``actions`` (enable or disable its
    actions), ``state`` (SetAlarmState with the state and reason typed) or ``delete`` (once its
    box is ticked). CloudWatch's refusal: the page again with it."""

    async def change(wire: CloudWatchWire, request: Request, session: Session, f: Form) -> str:
        name, origin, principal = request.path_params["name"], request.scope, session.principal
        if kind == "delete":
            await wire_alarms.delete(wire, origin, principal, name)
            return _LIST
        if kind == "state":
            # Sent as typed: CloudWatch refuses an unknown state or an empty reason.
            state, reason = f.get("state", ""), f.get("reason", "").strip()
            await wire_alarms.set_state(wire, origin, principal, name, state, reason)
        else:
            enabled = f.get("enabled") == "yes"
            await wire_alarms.set_actions(wire, origin, principal, name, enabled)
        return _alarm_url(name)

    return action(_alarm_page, change, wire=_metrics, confirmed=kind == "delete")


def _typed_from_query(request: Request) -> dict[str, str]:
    """The create form's first values, from the chart it was reached from."""
    query = request.query_params
    pairs = parse_dimensions(query.getlist("dimension"))
    statistic = query.get("stat", "")
    period = query.get("period", "")
    return {
        "namespace": query.get("namespace", "").strip(),
        "metric": query.get("name", "").strip(),
        "dimensions": "\n".join(f"{n}={v or ''}" for n, v in pairs),
        "statistic": statistic if statistic in STATISTICS else "Average",
        "period": period if period.isdigit() else "300",
        "evaluation_periods": "1",
        "datapoints_to_alarm": "",
        "comparison": "GreaterThanThreshold",
        "treat_missing_data": "missing",
    }


def _typed_from_alarm(alarm: AlarmRow) -> dict[str, str]:
    """The edit form's first values: the alarm's settings as DescribeAlarms gives them, the
    name fixed (PutMetricAlarm of the same name replaces it)."""

    def first(actions: tuple[str, ...]) -> str:
        return actions[0] if actions else ""

    return {
        "editing": "yes",
        "alarm_name": alarm.name,
        "description": alarm.description,
        "namespace": alarm.namespace,
        "metric": alarm.metric_name,
        "dimensions": "\n".join(f"{n}={v}" for n, v in alarm.dimensions),
        "statistic": alarm.statistic,
        "period": str(alarm.period),
        "evaluation_periods": str(alarm.evaluation_periods),
        # Shown by DescribeAlarms only when it was given (decision 0183).
        "datapoints_to_alarm": str(alarm.datapoints_to_alarm or ""),
        "threshold": number_text(alarm.threshold),
        "comparison": alarm.comparison,
        "treat_missing_data": alarm.treat_missing_data,
        "topic_arn": first(alarm.alarm_actions),
        "ok_topic_arn": first(alarm.ok_actions),
        "insufficient_topic_arn": first(alarm.insufficient_data_actions),
        "actions_enabled": "yes" if alarm.actions_enabled else "no",
        "unit": alarm.unit,
    }


def _tags_text(tags: tuple[tuple[str, str], ...]) -> str:
    return "\n".join(f"{k}={v}" for k, v in tags)


async def _new_page(
    console: Console,
    request: Request,
    session: Session,
    typed: Mapping[str, str],
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    topics: list[str] = []
    if console.sns is not None:
        # Only the form's choices: PutMetricAlarm decides (a topic the user may not list can
        # still be typed by boto3, not here).
        try:
            topics = await console.sns.topic_arns(request.scope, session.principal)
        except WireError:
            topics = []
    if console.metrics is None and error is None:
        error, status = _("This server serves no metrics."), 404
    # Each select offers the account's topics and the action the alarm has (an Auto Scaling
    # policy, a topic not listed to the user), so an edit keeps it unless changed.
    choices = {
        field: topics + ([typed[field]] if typed.get(field) and typed[field] not in topics else [])
        for field in _ACTION_FIELDS
    }
    editing = typed.get("editing") == "yes"
    statistics: tuple[str, ...] = STATISTICS
    if typed.get("statistic") and typed["statistic"] not in STATISTICS:
        statistics = (*STATISTICS, typed["statistic"])  # an alarm's p95, say
    metric = MetricRow(
        typed.get("namespace", ""),
        typed.get("metric", ""),
        tuple((n, v or "") for n, v in parse_dimensions(typed.get("dimensions", "").splitlines())),
    )
    return console.render(
        request,
        "alarm_new.html",
        session=session,
        status=status,
        title=f"{_('Edit alarm')} {typed.get('alarm_name', '')}" if editing else _("Create alarm"),
        typed=typed,
        editing=editing,
        alarm_href=_alarm_url(typed.get("alarm_name", "")) if editing else "",
        metric=metric,
        metric_href=graph_href(metric) if metric.name else "",
        statistics=statistics,
        periods=(10, 30, 60, 300, 900, 3600, 21600, 86400),
        comparisons=COMPARISONS,
        missing_data=MISSING_DATA,
        choices=choices,
        error=error,
    )


@signed_in
async def new_alarm_page(console: Console, request: Request, session: Session) -> Response:
    name = request.query_params.get("edit")
    if name is None:
        return await _new_page(console, request, session, _typed_from_query(request))
    return await _edit_page(console, request, session, name)


async def _edit_page(console: Console, request: Request, session: Session, name: str) -> Response:
    """The form pre-filled with the alarm's settings; an alarm it cannot show whole (metric
    math, several actions a state) or none of that name: its refusal, nothing to send."""
    _ = console.catalogue(request).gettext
    empty = {"editing": "yes", "alarm_name": name}
    if console.metrics is None:
        return await _new_page(console, request, session, empty)
    try:
        found = await wire_alarms.describe(
            console.metrics, request.scope, session.principal, names=[name]
        )
    except WireError as exc:
        return await _new_page(
            console, request, session, empty, error=console.error_text(request, exc),
            status=exc.status,
        )  # fmt: skip
    alarm = next((a for a in found.alarms if a.name == name), None)
    if alarm is None:
        return await _new_page(
            console, request, session, empty, error=_("No alarm of that name."), status=404
        )
    refusal = _not_editable(_, alarm)
    if refusal is not None:
        return await _new_page(console, request, session, empty, error=refusal, status=400)
    typed = _typed_from_alarm(alarm)
    try:
        tags = await wire_alarms.tags(console.metrics, request.scope, session.principal, alarm.arn)
    except WireError:
        # Tags the user may not read are not offered, nor changed on the save.
        return await _new_page(console, request, session, {**typed, "tags_unread": "yes"})
    return await _new_page(console, request, session, {**typed, "tags": _tags_text(tags)})


async def _retag_edited(
    console: Console, request: Request, session: Session, name: str, typed: str
) -> None:
    """After an edit's PutMetricAlarm, the alarm's tags made the form's (TagResource and
    UntagResource of the difference with ListTagsForResource's)."""
    if console.metrics is None:
        return
    origin, principal = request.scope, session.principal
    found = await wire_alarms.describe(console.metrics, origin, principal, names=[name])
    alarm = next((a for a in found.alarms if a.name == name), None)
    if alarm is None:
        return
    before = await wire_alarms.tags(console.metrics, origin, principal, alarm.arn)
    after = parse_tags(typed)
    await wire_alarms.retag(console.metrics, origin, principal, alarm.arn, before, after)


@posted(max_fields=_FORM_FIELDS)
async def create_alarm(
    console: Console, request: Request, session: Session, fields: Form
) -> Response:
    if console.metrics is None:
        return await _new_page(console, request, session, fields)
    definition = alarm_definition(fields)
    try:
        await wire_alarms.put(console.metrics, request.scope, session.principal, definition)
        if fields.get("editing") == "yes" and fields.get("tags_unread") != "yes":
            await _retag_edited(
                console, request, session, definition["AlarmName"], fields.get("tags", "")
            )
    except WireError as exc:
        return await _new_page(
            console, request, session, fields, error=console.error_text(request, exc),
            status=exc.status,
        )  # fmt: skip
    return RedirectResponse(_alarm_url(definition["AlarmName"]), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/alarms", alarms_page, ["GET"]),
    # The create form is the metric's (reached from its chart), so no alarm's name (``new``)
    # is taken from the alarms' paths.
    ("/metrics/alarm", new_alarm_page, ["GET"]),
    ("/metrics/alarm", create_alarm, ["POST"]),
    # An alarm's name may hold a "/" (CloudWatch allows it): the path converter takes it.
    ("/alarms/{name:path}", alarm_page, ["GET"]),
    ("/alarms/{name:path}/actions", _change("actions"), ["POST"]),
    ("/alarms/{name:path}/state", _change("state"), ["POST"]),
    ("/alarms/{name:path}/delete", _change("delete"), ["POST"]),
]
