"""Amazon EventBridge Pipes (decision 0258) in the console (decision 0263): the account's
pipes listed in pages of ``console_page_size`` (name, current and desired state, source,
target), one created — a name, a source among the account's SQS queues, Kinesis streams and
DynamoDB tables' streams, a target among its SQS queues, SNS topics, Kinesis and Firehose
streams and event buses, one of its roles, an optional filter pattern (JSON) and input
template, running or stopped —; a pipe's page (DescribePipe's fields, its StateReason, its
source and target parameters as JSON), started, stopped, deleted after a ticked box.

Pipes' own calls as the signed-in principal (``wire_pipes.PipesWire``): it checks the role,
the source and the target, and its refusals are shown in its words with the form as typed.
The choices are what each service lists to the principal (none where one refuses); Pipes
decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, action, first_refusal, signed_in
from andromede.console.pages_ec2 import field
from andromede.console.pages_firehose import stream_choices
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_pipes import NewPipe, PipeRow, PipeSummary, PipesWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/pipes"
_OFFERED: Final = 100  # the choices a form offers of each kind


def _wire(console: Console) -> PipesWire | None:
    return console.pipes


def pipe_url(name: str) -> str:
    return f"{_URL}/{quote(name, safe='')}"


def _no_pipes(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no EventBridge Pipes."), 404


async def _kinesis(console: Console, request: Request, session: Session) -> list[tuple[str, str]]:
    account = session.principal.tenant_id
    if console.kinesis is None or account is None:
        return []
    with suppress(WireError):
        names, _more = await console.kinesis.names(
            request.scope, session.principal, after=None, limit=_OFFERED
        )
        region = console.settings.region
        return [(f"arn:aws:kinesis:{region}:{account}:stream/{n}", f"Kinesis: {n}") for n in names]
    return []


async def _queues(console: Console, request: Request, session: Session) -> list[tuple[str, str]]:
    if console.sqs is None:
        return []
    with suppress(WireError):
        queues = await console.sqs.list_queues(request.scope, session.principal)
        return [(q.arn, f"SQS: {q.name}") for q in queues if q.arn]
    return []


async def _table_streams(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The enabled streams of the account's first tables (as DynamoDB describes them)."""
    wire = console.dynamodb
    if wire is None:
        return []
    choices: list[tuple[str, str]] = []
    with suppress(WireError):
        names, _last = await wire.names(
            request.scope, session.principal, after=None, limit=console.settings.console_page_size
        )
        for name in names:
            with suppress(WireError):  # a table the user may list, not describe
                table = await wire.describe(request.scope, session.principal, name)
                if table.stream_view and table.stream_arn:
                    choices.append((table.stream_arn, f"DynamoDB: {name}"))
    return choices


async def _sources(console: Console, request: Request, session: Session) -> list[tuple[str, str]]:
    return [
        *await _queues(console, request, session),
        *await _kinesis(console, request, session),
        *await _table_streams(console, request, session),
    ]


async def _targets(console: Console, request: Request, session: Session) -> list[tuple[str, str]]:
    choices = [*await _queues(console, request, session)]
    if console.sns is not None:
        with suppress(WireError):
            topics = await console.sns.topic_arns(request.scope, session.principal)
            choices += [(arn, f"SNS: {arn.rsplit(':', 1)[-1]}") for arn in topics if arn]
    choices += await _kinesis(console, request, session)
    streams = await stream_choices(console, request, session)
    choices += [(arn, f"Firehose: {name}") for arn, name in streams]
    if console.events is not None:
        with suppress(WireError):
            buses = await console.events.buses(request.scope, session.principal, limit=_OFFERED)
            choices += [(bus.arn, f"EventBridge: {bus.name}") for bus in buses if bus.arn]
    return choices


async def _roles(console: Console, request: Request, session: Session) -> list[str]:
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_OFFERED
        )
        return [role.arn for role in listed.rows]
    return []


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    rows: list[PipeSummary] = []
    next_href = None
    sources: list[tuple[str, str]] = []
    targets: list[tuple[str, str]] = []
    roles: list[str] = []
    if wire is None:
        error, status = _no_pipes(console, request)
    else:
        try:
            rows, token = await wire.pipes(
                request.scope, session.principal,
                next_token=request.query_params.get("next", "")[:2048],
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if token:
                next_href = f"{_URL}?{urlencode({'next': token})}"
        sources = await _sources(console, request, session)
        targets = await _targets(console, request, session)
        roles = await _roles(console, request, session)
    return console.render(
        request,
        "pipes.html",
        session=session,
        status=status,
        title=_("EventBridge Pipes"),
        pipes=rows,
        next_href=next_href,
        sources=sources,
        targets=targets,
        roles=roles,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    name = field(f, "name")
    pipe = NewPipe(
        name=name,
        source=field(f, "source"),
        target=field(f, "target"),
        role_arn=field(f, "role_arn"),
        description=field(f, "description"),
        filter_pattern=field(f, "filter_pattern"),
        input_template=f.get("input_template", ""),
        running=f.get("state", "RUNNING") != "STOPPED",
    )
    await wire.create(request.scope, session.principal, pipe)
    return pipe_url(name)


async def _pipe_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, Mapping[str, str]] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    name = request.path_params.get("name", "")
    wire = _wire(console)
    pipe: PipeRow | None = None
    if wire is None:
        error, status = _no_pipes(console, request)
    else:
        try:
            pipe = await wire.describe(request.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "pipe.html",
        session=session,
        status=status,
        title=f"{_('Pipe')} {name}",
        name=name,
        pipe=pipe,
        action_url=pipe_url(name),
        error=error,
    )


async def _start(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params.get("name", "")
    await wire.start(request.scope, session.principal, name)
    return pipe_url(name)


async def _stop(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params.get("name", "")
    await wire.stop(request.scope, session.principal, name)
    return pipe_url(name)


async def _delete(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    await wire.delete(request.scope, session.principal, request.path_params.get("name", ""))
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/pipes", signed_in(_list_page), ["GET"]),
    ("/pipes", action(_list_page, _create, wire=_wire, form="create"), ["POST"]),
    ("/pipes/{name}", signed_in(_pipe_page), ["GET"]),
    ("/pipes/{name}/start", action(_pipe_page, _start, wire=_wire), ["POST"]),
    ("/pipes/{name}/stop", action(_pipe_page, _stop, wire=_wire), ["POST"]),
    ("/pipes/{name}/delete", action(_pipe_page, _delete, wire=_wire, confirmed=True), ["POST"]),
]
