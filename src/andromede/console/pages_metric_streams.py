"""CloudWatch metric streams (decision 0233) in the console (decision 0239): the account's
streams listed (state, Firehose stream, output format, include or exclude filters, role;
pages of ``console_page_size``), one made or replaced (name, a Firehose stream of the
account, a role of the account, the output format, namespace filters to include or to
exclude, each optionally narrowed to metric names), started and stopped, and deleted after a
ticked box — CloudWatch's own calls as the signed-in principal (``CloudWatchWire``), so its
IAM decisions (``iam:PassRole`` on the role too), checks, audit and words answer them. The
Firehose streams and roles offered are the form's choices only, read as the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Form,
    FormFault,
    Typed,
    action,
    signed_in,
    words,
)
from andromede.console.list_pages import Described, describe_listed
from andromede.console.pages_firehose import role_choices, stream_choices
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire_metric_streams import MetricStreamRow, NamespaceFilter
from andromede.console.wire_metrics import CloudWatchWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["OUTPUT_FORMATS", "ROUTES", "parse_filters"]

_URL: Final = f"{CONSOLE_PATH}/metric-streams"
_CREATE: Final = "create"
# CloudWatch's output formats (PutMetricStream's OutputFormat), as it names them.
OUTPUT_FORMATS: Final = ("json", "opentelemetry1.0", "opentelemetry0.7")


def _wire(console: Console) -> CloudWatchWire | None:
    return console.metrics


def parse_filters(text: str) -> list[NamespaceFilter]:
    """One filter a line: a namespace, then any metric names it is narrowed to, separated by
    spaces (``AWS/EC2 CPUUtilization NetworkIn``); blank lines skipped. CloudWatch checks
    them."""
    filters = []
    for line in text.splitlines():
        words_of = line.split()
        if words_of:
            filters.append((words_of[0], tuple(words_of[1:])))
    return filters


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
    described: Described[MetricStreamRow, str | None] = Described(error, status)
    if wire is None:
        described.error, described.status = _("This server serves no CloudWatch."), 404
    else:
        origin, principal = request.scope, session.principal
        listing = wire.metric_stream_names(
            origin, principal,
            token=request.query_params.get("token", "")[:1024] or None,
            limit=console.settings.console_page_size,
        )  # fmt: skip
        described = await describe_listed(
            console, request, listing, lambda name: wire.metric_stream(origin, principal, name),
            error=error, status=status,
        )  # fmt: skip
    token = described.cursor
    next_href = f"{_URL}?{urlencode({'token': token})}" if token else None
    form = dict((typed or {}).get(_CREATE, {}))
    return console.render(
        request,
        "metric_streams.html",
        session=session,
        status=described.status,
        title=_("Metric streams"),
        streams=described.rows,
        refused=described.refused,
        next_href=next_href,
        firehose_streams=await stream_choices(console, request, session),
        roles=await role_choices(console, request, session),
        output_formats=OUTPUT_FORMATS,
        form=form,
        error=described.error,
    )


async def _create(wire: CloudWatchWire, request: Request, session: Session, f: Form) -> str:
    filters = parse_filters(f.get("filters", ""))
    excluded = f.get("filter_kind") == "exclude"
    if not f.get("firehose_arn", "").strip() or not f.get("role_arn", "").strip():
        _ = words(request)
        raise FormFault(_("Choose a Firehose stream and a role."))
    await wire.put_metric_stream(
        request.scope, session.principal, f.get("name", "").strip(),
        firehose_arn=f.get("firehose_arn", "").strip(), role_arn=f.get("role_arn", "").strip(),
        output_format=f.get("output_format", "").strip(),
        include=() if excluded else filters, exclude=filters if excluded else (),
    )  # fmt: skip
    return f"{_URL}#{quote('metric-stream-' + f.get('name', '').strip())}"


def _change(name: str) -> Any:
    """A stream's one-call form ``name`` (start, stop, delete)."""

    async def change(wire: CloudWatchWire, request: Request, session: Session, f: Form) -> str:
        stream = request.path_params["name"]
        if name == "delete":
            await wire.delete_metric_stream(request.scope, session.principal, stream)
        else:
            await wire.set_metric_stream_running(
                request.scope, session.principal, stream, running=name == "start"
            )
        return _URL

    return change


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/metric-streams", signed_in(_list_page), ["GET"]),
    ("/metric-streams", action(_list_page, _create, wire=_wire, form=_CREATE), ["POST"]),
    ("/metric-streams/{name}/start", action(_list_page, _change("start"), wire=_wire), ["POST"]),
    ("/metric-streams/{name}/stop", action(_list_page, _change("stop"), wire=_wire), ["POST"]),
    ("/metric-streams/{name}/delete",
     action(_list_page, _change("delete"), wire=_wire, confirmed=True), ["POST"]),
]  # fmt: skip
