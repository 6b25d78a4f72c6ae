"""Amazon EventBridge Pipes (decisions 0258, 0268) in the console (decisions 0263, 0276): the
account's pipes listed in pages of ``console_page_size`` (name, current and desired state,
source, target), one created — a name, a source among the account's SQS queues, Kinesis
streams and DynamoDB tables' streams (a stream's starting position), a target among its SQS
queues, SNS topics, Kinesis and Firehose streams, event buses and state machines (a STANDARD
one started, an EXPRESS one run: decision 0316), one of its roles, an optional filter pattern
(JSON) and input template, an API destination or an EXPRESS state machine as its enrichment
with its input template, its logs (level, a log group, a bucket with a prefix and format, a
Firehose stream, the execution data), running or stopped —; a pipe's page (DescribePipe's
fields, its StateReason, enrichment, logs, source and target parameters as JSON), changed by
UpdatePipe (description, desired state, role, filters, input template, batch size and window,
a stream source's dead-letter queue, the enrichment, the logs), tagged and untagged, started,
stopped, deleted after a ticked box.

Pipes' own calls as the signed-in principal (``wire_pipes.PipesWire``): it checks the role,
the source and the target, and its refusals are shown in its words with the form as typed.
The choices (``pipe_forms``) are what each service lists to the principal (none where one
refuses); Pipes decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, action, first_refusal, refusal, signed_in
from andromede.console.pages_alarms import parse_tags
from andromede.console.pages_ec2 import field
from andromede.console.pipe_forms import (
    LEVELS,
    LOG_FORMATS,
    STARTING_POSITIONS,
    PipeChoices,
    edit_values,
    log_of,
    machine_invocation,
    pipe_choices,
    update_of,
)
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_pipes import NewPipe, PipeRow, PipeSummary, PipesWire
from andromede.console.wire_states import StatesWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_URL: Final = f"{CONSOLE_PATH}/pipes"
_FIELDS: Final = 32  # the create and edit forms' fields, with room


def _wire(console: Console) -> PipesWire | None:
    return console.pipes


def pipe_url(name: str) -> str:
    return f"{_URL}/{quote(name, safe='')}"


def _no_pipes(console: Console, request: Request) -> tuple[str, int]:
    _ = console.catalogue(request).gettext
    return _("This server serves no EventBridge Pipes."), 404


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
    choices = PipeChoices()
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
        choices = await pipe_choices(console, request, session, creating=True)
    return console.render(
        request,
        "pipes.html",
        session=session,
        status=status,
        title=_("EventBridge Pipes"),
        pipes=rows,
        next_href=next_href,
        choices=choices,
        levels=LEVELS,
        log_formats=LOG_FORMATS,
        starting_positions=STARTING_POSITIONS,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


def _creating(console: Console) -> tuple[PipesWire, StatesWire | None] | None:
    """Pipes' wire, and Step Functions' to ask a state machine target's type."""
    return None if console.pipes is None else (console.pipes, console.states)


async def _create(
    wires: tuple[PipesWire, StatesWire | None], request: Request, session: Session, f: Form
) -> str:
    wire, states = wires
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
        starting_position=field(f, "starting_position"),
        enrichment=field(f, "enrichment"),
        enrichment_template=f.get("enrichment_template", ""),
        log=log_of(f, session.principal.tenant_id or ""),
        invocation_type=await machine_invocation(states, request, session, field(f, "target")),
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
    saved = request.query_params.get("saved", "")
    pipe: PipeRow | None = None
    tags: list[tuple[str, str]] = []
    tags_error = ""
    choices = PipeChoices()
    if wire is None:
        error, status = _no_pipes(console, request)
    else:
        try:
            pipe = await wire.describe(request.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                tags = await wire.tags(request.scope, session.principal, pipe.arn)
            except WireError as exc:  # its section says so; the rest is shown
                tags_error = refusal(console, request, exc)[0]
            choices = await pipe_choices(console, request, session, creating=False)
    return console.render(
        request,
        "pipe.html",
        session=session,
        status=status,
        title=f"{_('Pipe')} {name}",
        name=name,
        pipe=pipe,
        tags=tags,
        tags_error=tags_error,
        choices=choices,
        levels=LEVELS,
        log_formats=LOG_FORMATS,
        values=edit_values(pipe, (typed or {}).get("update")) if pipe is not None else {},
        tag_typed=(typed or {}).get("tag", {}),
        saved=saved if saved in ("pipe", "tags") else "",
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


async def _update(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    """UpdatePipe from the pipe's edit form, over the pipe as Pipes describes it now."""
    name = request.path_params.get("name", "")
    pipe = await wire.describe(request.scope, session.principal, name)
    update = update_of(f, pipe, session.principal.tenant_id or "")
    await wire.update(request.scope, session.principal, name, update)
    return f"{pipe_url(name)}?saved=pipe#edit"


async def _tag(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params.get("name", "")
    arn = (await wire.describe(request.scope, session.principal, name)).arn
    await wire.tag(request.scope, session.principal, arn, parse_tags(f.get("tags", "")))
    return f"{pipe_url(name)}?saved=tags#tags"


async def _untag(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    name = request.path_params.get("name", "")
    arn = (await wire.describe(request.scope, session.principal, name)).arn
    await wire.untag(request.scope, session.principal, arn, f.get("key", ""))
    return f"{pipe_url(name)}?saved=tags#tags"


async def _delete(wire: PipesWire, request: Request, session: Session, f: Form) -> str:
    await wire.delete(request.scope, session.principal, request.path_params.get("name", ""))
    return _URL


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/pipes", signed_in(_list_page), ["GET"]),
    (
        "/pipes",
        action(_list_page, _create, wire=_creating, form="create", max_fields=_FIELDS),
        ["POST"],
    ),
    ("/pipes/{name}", signed_in(_pipe_page), ["GET"]),
    ("/pipes/{name}/start", action(_pipe_page, _start, wire=_wire), ["POST"]),
    ("/pipes/{name}/stop", action(_pipe_page, _stop, wire=_wire), ["POST"]),
    (
        "/pipes/{name}/update",
        action(_pipe_page, _update, wire=_wire, form="update", max_fields=_FIELDS),
        ["POST"],
    ),
    ("/pipes/{name}/tag", action(_pipe_page, _tag, wire=_wire, form="tag"), ["POST"]),
    ("/pipes/{name}/untag", action(_pipe_page, _untag, wire=_wire), ["POST"]),
    ("/pipes/{name}/delete", action(_pipe_page, _delete, wire=_wire, confirmed=True), ["POST"]),
]
