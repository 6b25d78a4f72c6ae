"""CloudWatch Logs Insights and a tail view in the console (decision 0186 served, 0111 shown).

``/console/log-insights``: a query over one or more of the account's log groups for the last
minutes chosen or a UTC window typed (StartQuery), then its results (GetQueryResults), the page
reloading itself every two seconds while the query is scheduled or running, with "Stop"
(StopQuery). Rows are a table of their fields; the rows of ``pattern`` (and ``diff``,
``anomaly``) are shown as patterns: the pattern, its count and share of the events, its
severity, its counts over the range as a small bar line, the compared window's count and the
change, the anomalies found, the tokens folded.

``/console/log-tail?group=…``: the group's events of the last minutes (FilterLogEvents from
then, with an optional filter pattern), newest last, the page reloading itself every few
seconds — a poll, not AWS's live tail (StartLiveTail is an event stream, which a server-rendered
page without script does not read).

Every read is Logs' own call as the signed-in principal, so its policies, checks and words
decide (a query Logs cannot parse, a group the caller may not read).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, FormFault, action, first_refusal, signed_in, words
from andromede.console.pages_event_archives import form_time
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_insights import (
    QueryResults,
    describe_query,
    get_results,
    start_query,
    stop_query,
    tail_events,
)
from andromede.console.wire_logs import EventRow, LogsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "bar_line"]

_URL: Final = f"{CONSOLE_PATH}/log-insights"
_TAIL_URL: Final = f"{CONSOLE_PATH}/log-tail"
# The ranges the form offers, in minutes (AWS's console's relative choices, up to a week).
RANGES: Final = (5, 15, 30, 60, 180, 720, 1440, 4320, 10080)
DEFAULT_QUERY: Final = "fields @timestamp, @message, @logStream\n| sort @timestamp desc\n| limit 20"
_MAX_QUERY: Final = 10000  # StartQuery's queryString bound (AWS's)
_MAX_GROUPS: Final = 50  # StartQuery's logGroupNames bound (AWS's)
# The pages' own reload intervals, in seconds (display choices: Logs has no say in them).
QUERY_REFRESH: Final = 2
TAIL_REFRESH: Final = 5
TAIL_MINUTES: Final = 5  # the tail shows the events of the last this many minutes…
TAIL_KEPT: Final = 200  # …the latest this many of them
# The pattern rows' fields, in the order the page shows them; other fields follow as columns.
PATTERN_FIELDS: Final = (
    "@pattern",
    "@sampleCount",
    "@ratio",
    "@severityLabel",
    "@visualization",
    "@previousSampleCount",
    "@diffSampleCount",
    "@diffRatio",
    "@diffStatus",
    "@anomalyType",
    "@anomalyDescription",
    "@tokens",
)
_BARS: Final = "▁▂▃▄▅▆▇█"
_UNMASK: Final = "unmask(@message)"


def bar_line(visualization: str) -> str:
    """A pattern's counts over the query's range (``@visualization``, a JSON list) as a line
    of block characters, the highest slice full; "" for anything else."""
    try:
        counts = json.loads(visualization)
    except ValueError:
        return ""
    if not isinstance(counts, list) or not all(
        isinstance(c, int | float) and not isinstance(c, bool) for c in counts
    ):
        return ""
    top = max(counts, default=0)
    if top <= 0:
        return _BARS[0] * len(counts)
    return "".join(_BARS[round(c / top * (len(_BARS) - 1))] for c in counts)


def _percent(value: str) -> str:
    """A ratio (0.25) as the page shows it (25.0 %); as given when it is not a number."""
    try:
        return f"{float(value) * 100:.1f} %"
    except ValueError:
        return value


def _tokens(value: str) -> str:
    """``@tokens`` made readable (indented JSON); as given when it is not JSON."""
    try:
        return json.dumps(json.loads(value), indent=1, ensure_ascii=False)
    except ValueError:
        return value


def _logs(console: Console) -> LogsWire | None:
    return console.logs


async def _insights_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    query_id = request.query_params.get("query", "")[:256]
    groups: list[str] = []
    results: QueryResults | None = None
    form: dict[str, Any] = {"query": DEFAULT_QUERY, "minutes": "60", "groups": []}
    wire = console.logs
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        origin, principal = request.scope, session.principal
        with suppress(WireError):  # the form's choices only: StartQuery decides
            groups = await wire.group_names(origin, principal)
        if query_id and error is None:
            try:
                results = await get_results(wire, origin, principal, query_id)
            except WireError as exc:
                error, status = first_refusal(console, request, exc, error, status)
            with suppress(WireError):  # the form again with the query's text, when Logs has it
                text, group = await describe_query(wire, origin, principal, query_id)
                if text:
                    form.update(query=text, groups=[group])
    given = (typed or {}).get("query")
    if given is not None:
        form = {**given, "groups": [g for g in groups if given.get(f"group_{g}") == "yes"]}
    patterned = results is not None and "@pattern" in results.fields
    return console.render(
        request,
        "log_insights.html",
        session=session,
        status=status,
        title=_("Logs Insights"),
        head_refresh=QUERY_REFRESH if results is not None and results.running else None,
        groups=groups,
        ranges=RANGES,
        form=form,
        query_id=query_id,
        results=results,
        patterned=patterned,
        pattern_fields=[f for f in PATTERN_FIELDS if results and f in results.fields],
        other_fields=[
            f
            for f in (results.fields if results else [])
            if f not in PATTERN_FIELDS or not patterned
        ],
        bar_line=bar_line,
        percent=_percent,
        tokens=_tokens,
        error=error,
    )


def _window(request: Request, f: Form) -> tuple[int, int]:
    """The form's window in epoch seconds: the UTC times typed, else the last minutes chosen."""
    if f.get("start", "").strip() or f.get("end", "").strip():
        start, end = form_time(request, f.get("start", "")), form_time(request, f.get("end", ""))
        return int(start.timestamp()), int(end.timestamp())
    minutes = f.get("minutes", "")
    if not minutes.isdigit() or int(minutes) not in RANGES:
        _ = words(request)
        raise FormFault(_("Choose one of the ranges offered."))
    now = datetime.now(UTC)
    return int((now - timedelta(minutes=int(minutes))).timestamp()), int(now.timestamp())


async def _run(wire: LogsWire, request: Request, session: Session, f: Form) -> str:
    groups = [k.removeprefix("group_") for k, v in f.items() if k.startswith("group_") and v]
    window = _window(request, f)
    query = f.get("query", "")[:_MAX_QUERY]
    if f.get("unmask") == "yes" and not query.lstrip().startswith(_UNMASK):
        # The "Unmask" toggle is AWS's unmask command (decision 0211) before the query's own:
        # Logs authorises logs:Unmask on every group before it runs, and says so when denied.
        query = f"{_UNMASK}\n| {query}"
    query_id = await start_query(wire, request.scope, session.principal, groups, window, query)
    return f"{_URL}?{urlencode({'query': query_id})}"


async def _stop(wire: LogsWire, request: Request, session: Session, f: Form) -> str:
    query_id = f.get("query_id", "")
    await stop_query(wire, request.scope, session.principal, query_id)
    return f"{_URL}?{urlencode({'query': query_id})}"


@signed_in
async def tail(console: Console, request: Request, session: Session) -> Response:
    _ = console.catalogue(request).gettext
    group = request.query_params.get("group", "")[:512]
    pattern = request.query_params.get("pattern", "")[:1024]
    events: list[EventRow] = []
    more = False
    error, status = None, 200
    wire = console.logs
    if wire is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        since = datetime.now(UTC) - timedelta(minutes=TAIL_MINUTES)
        try:
            events, more = await tail_events(
                wire, request.scope, session.principal, group, pattern=pattern,
                since_ms=int(since.timestamp() * 1000), keep=TAIL_KEPT,
            )  # fmt: skip
        except WireError as exc:
            error, status = console.error_text(request, exc), exc.status
    paused = request.query_params.get("paused") == "yes"
    query = {"group": group, **({"pattern": pattern} if pattern else {})}
    return console.render(
        request,
        "log_tail.html",
        session=session,
        status=status,
        title=_("Tail {group}").format(group=group),
        head_refresh=None if paused or error else TAIL_REFRESH,
        group=group,
        pattern=pattern,
        events=events,
        more=more,
        paused=paused,
        minutes=TAIL_MINUTES,
        kept=TAIL_KEPT,
        refresh=TAIL_REFRESH,
        resume_href=f"{_TAIL_URL}?{urlencode(query)}",
        pause_href=f"{_TAIL_URL}?{urlencode({**query, 'paused': 'yes'})}",
        error=error,
    )


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/log-insights", signed_in(_insights_page), ["GET"]),
    ("/log-insights",
     action(_insights_page, _run, wire=_logs, form="query", max_fields=8 + _MAX_GROUPS), ["POST"]),
    ("/log-insights/stop", action(_insights_page, _stop, wire=_logs), ["POST"]),
    ("/log-tail", tail, ["GET"]),
]  # fmt: skip
