"""A CloudWatch Logs group's export tasks in the console (decision 0186's session-49
addendum served, 0111 shown): the group's latest tasks (name, the window exported, bucket
and prefix, status and its message), one created into a bucket for a window (UTC) typed,
one cancelled while pending or running.

Every read and change is Logs' own call as the signed-in principal (``wire_logs``), so its
policies, checks and words decide — a bucket whose policy does not let Logs write, a window
that ends before it starts, a second active task — and a refused form shows the page again
with its error and the fields as typed. DescribeExportTasks lists the account's tasks; the
page shows the group's among its latest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, action, first_refusal, signed_in
from andromede.console.pages_event_archives import form_time
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_logs import ExportRow, LogsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "exports_url"]

_URL: Final = f"{CONSOLE_PATH}/log-exports"
_LISTED: Final = 50  # DescribeExportTasks' limit bound (AWS's)
_ACTIVE: Final = frozenset({"PENDING", "RUNNING"})


def exports_url(group: str) -> str:
    return f"{_URL}?{urlencode({'group': group})}"


def _logs(console: Console) -> LogsWire | None:
    return console.logs


def _group_of(request: Request, fields: Mapping[str, str] | None = None) -> str:
    return ((fields or {}).get("group") or request.query_params.get("group", ""))[:512]


async def _exports_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    group = _group_of(request, (typed or {}).get("export"))
    rows: list[ExportRow] = []
    if console.logs is None:
        error, status = _("This server serves no CloudWatch Logs."), 404
    else:
        try:
            rows = await console.logs.export_tasks(request.scope, session.principal, limit=_LISTED)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "log_exports.html",
        session=session,
        status=status,
        title=_("Export tasks of {group}").format(group=group),
        group=group,
        tasks=[row for row in rows if row.group == group],
        active=_ACTIVE,
        typed=(typed or {}).get("export", {}),
        error=error,
    )


async def _create(logs: LogsWire, request: Request, session: Session, f: Form) -> str:
    window = form_time(request, f.get("start", "")), form_time(request, f.get("end", ""))
    group = _group_of(request, f)
    await logs.create_export_task(
        request.scope, session.principal, group, window, f.get("bucket", "").strip(),
        prefix=f.get("prefix", "").strip(), name=f.get("name", "").strip(),
    )  # fmt: skip
    return exports_url(group)


async def _cancel(logs: LogsWire, request: Request, session: Session, f: Form) -> str:
    await logs.cancel_export_task(request.scope, session.principal, f.get("task_id", ""))
    return exports_url(_group_of(request, f))


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/log-exports", signed_in(_exports_page), ["GET"]),
    ("/log-exports", action(_exports_page, _create, wire=_logs, form="export"), ["POST"]),
    ("/log-exports/cancel", action(_exports_page, _cancel, wire=_logs, form="export"), ["POST"]),
]
