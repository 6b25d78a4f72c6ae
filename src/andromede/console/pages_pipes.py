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

Decision 0419: the pipes of the Region the address names (``?region=``, ``console.regions``;
decision 0408), every call — the choices too — made in it, every form and redirect keeping it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, FormFault, action, first_refusal, refusal, signed_in
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
from andromede.console.regions import RegionChoice, region_choice
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


def _served(console: Console) -> Console | None:
    """The console where Pipes is served: a change needs its Region's settings too."""
    return console if console.pipes is not None else None


def _in_region(console: Console, request: Request) -> tuple[PipesWire, Request, RegionChoice]:
    """Pipes, ``request`` made in the Region the address names (a FormFault for one not
    served) and that Region (decision 0419)."""
    if console.pipes is None:  # ``_served`` lets only a console that has it reach a change
        raise WireError("UnknownOperationException", "Pipes is not served", 404)
    region = region_choice(console, request)
    return console.pipes, region.request(request), region


def pipe_url(name: str, region: RegionChoice | None = None, suffix: str = "") -> str:
    url = f"{_URL}/{quote(name, safe='')}{suffix}"
    return url if region is None else region.href(url)


def _asked(
    region: RegionChoice, request: Request, error: str | None, status: int
) -> tuple[Request | None, str | None, int]:
    """``request`` made in the page's Region, or None and the page's refusal (404) for a
    Region not served (an action's own refusal shown first)."""
    try:
        return region.request(request), error, status
    except FormFault as fault:
        return None, (error if error else fault.message), (status if error else fault.status)


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
    region = region_choice(console, request)
    asked, error, status = _asked(region, request, error, status)
    if wire is None:
        error, status = _no_pipes(console, request)
    elif asked is not None:
        try:
            rows, token = await wire.pipes(
                asked.scope, session.principal,
                next_token=request.query_params.get("next", "")[:2048],
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            if token:
                next_href = region.href(f"{_URL}?{urlencode({'next': token})}")
        choices = await pipe_choices(console, asked, session, creating=True)
    return console.render(
        request,
        "pipes.html",
        session=session,
        status=status,
        title=_("EventBridge Pipes"),
        region=region,
        pipes=rows,
        next_href=next_href,
        choices=choices,
        levels=LEVELS,
        log_formats=LOG_FORMATS,
        starting_positions=STARTING_POSITIONS,
        typed=(typed or {}).get("create", {}),
        error=error,
    )


async def _create(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    states: StatesWire | None = console.states  # to ask a state machine target's type
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
        invocation_type=await machine_invocation(states, asked, session, field(f, "target")),
    )
    await wire.create(asked.scope, session.principal, pipe)
    return pipe_url(name, region)


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
    region = region_choice(console, request)
    asked, error, status = _asked(region, request, error, status)
    if wire is None:
        error, status = _no_pipes(console, request)
    elif asked is not None:
        try:
            pipe = await wire.describe(asked.scope, session.principal, name)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            try:
                tags = await wire.tags(asked.scope, session.principal, pipe.arn)
            except WireError as exc:  # its section says so; the rest is shown
                tags_error = refusal(console, request, exc)[0]
            choices = await pipe_choices(console, asked, session, creating=False)
    return console.render(
        request,
        "pipe.html",
        session=session,
        status=status,
        title=f"{_('Pipe')} {name}",
        region=region,
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


async def _start(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    name = request.path_params.get("name", "")
    await wire.start(asked.scope, session.principal, name)
    return pipe_url(name, region)


async def _stop(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    name = request.path_params.get("name", "")
    await wire.stop(asked.scope, session.principal, name)
    return pipe_url(name, region)


async def _update(console: Console, request: Request, session: Session, f: Form) -> str:
    """UpdatePipe from the pipe's edit form, over the pipe as Pipes describes it now."""
    wire, asked, region = _in_region(console, request)
    name = request.path_params.get("name", "")
    pipe = await wire.describe(asked.scope, session.principal, name)
    update = update_of(f, pipe, session.principal.tenant_id or "")
    await wire.update(asked.scope, session.principal, name, update)
    return f"{pipe_url(name, region, '?saved=pipe')}#edit"


async def _tag(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    name = request.path_params.get("name", "")
    arn = (await wire.describe(asked.scope, session.principal, name)).arn
    await wire.tag(asked.scope, session.principal, arn, parse_tags(f.get("tags", "")))
    return f"{pipe_url(name, region, '?saved=tags')}#tags"


async def _untag(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    name = request.path_params.get("name", "")
    arn = (await wire.describe(asked.scope, session.principal, name)).arn
    await wire.untag(asked.scope, session.principal, arn, f.get("key", ""))
    return f"{pipe_url(name, region, '?saved=tags')}#tags"


async def _delete(console: Console, request: Request, session: Session, f: Form) -> str:
    wire, asked, region = _in_region(console, request)
    await wire.delete(asked.scope, session.principal, request.path_params.get("name", ""))
    return region.href(_URL)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/pipes", signed_in(_list_page), ["GET"]),
    (
        "/pipes",
        action(_list_page, _create, wire=_served, form="create", max_fields=_FIELDS),
        ["POST"],
    ),
    ("/pipes/{name}", signed_in(_pipe_page), ["GET"]),
    ("/pipes/{name}/start", action(_pipe_page, _start, wire=_served), ["POST"]),
    ("/pipes/{name}/stop", action(_pipe_page, _stop, wire=_served), ["POST"]),
    (
        "/pipes/{name}/update",
        action(_pipe_page, _update, wire=_served, form="update", max_fields=_FIELDS),
        ["POST"],
    ),
    ("/pipes/{name}/tag", action(_pipe_page, _tag, wire=_served, form="tag"), ["POST"]),
    ("/pipes/{name}/untag", action(_pipe_page, _untag, wire=_served), ["POST"]),
    ("/pipes/{name}/delete", action(_pipe_page, _delete, wire=_served, confirmed=True), ["POST"]),
]
