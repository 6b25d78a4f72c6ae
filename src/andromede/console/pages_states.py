"""AWS Step Functions (decision 0271) in the console (decision 0288): the state machines'
list (name, type, created; pages of ``console_page_size``), a machine's creation (name,
STANDARD or EXPRESS, its definition as JSON, a role among the account's, tags), and a machine's
page (its definition, role, logging and tags; its executions filtered by status, in pages; an
execution started with a name and a JSON input; the definition or role updated; its logging
level, execution data and log group among the account's changed; the machine deleted after a
ticked box) — Step Functions' own calls as the signed-in principal
(``wire_states.StatesWire``), so its IAM decisions (``states:<Action>``, ``iam:PassRole``),
checks, audit and words answer them.

A definition Step Functions refuses (``InvalidDefinition``) is shown with
ValidateStateMachineDefinition's diagnostics (code, location, message), the form as typed.
A machine's name is ``[A-Za-z0-9_-]{1,80}``: it travels as a path segment, the page making its
ARN in the signed-in account and the console's Region, which Step Functions checks.
Decision 0296: the machine's page also lists its versions and aliases (changed by
``pages_state_versions``) and starts an execution on a version or an alias, its ARN made from the
machine's and the qualifier chosen.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import (
    Form,
    FormFault,
    fault_or_refusal,
    first_refusal,
    posted,
    refusal,
    signed_in,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_states import (
    AliasRow,
    Diagnostic,
    ExecutionRow,
    MachineDetail,
    MachineRow,
    StatesWire,
    VersionRow,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "EXECUTION_STATUSES",
    "LOG_LEVELS",
    "MACHINE_TYPES",
    "ROUTES",
    "machine_arn",
    "machine_url",
]

MACHINES_URL: Final = f"{CONSOLE_PATH}/state-machines"
MACHINE_TYPES: Final = ("STANDARD", "EXPRESS")
# ListExecutions' statusFilter values, the filter the machine's page offers.
EXECUTION_STATUSES: Final = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
_ACTIONS: Final = frozenset({"start", "update", "logging", "tag", "untag", "delete"})
# The logging levels UpdateStateMachine takes, the logging form's choice.
LOG_LEVELS: Final = ("OFF", "ALL", "ERROR", "FATAL")
_TOKEN_LENGTH: Final = 1024  # a page token carried in a URL
_ROLES_OFFERED: Final = 100
# The creation form's first definition: the smallest machine that runs.
STARTER_DEFINITION: Final = """{
  "Comment": "A first state machine",
  "StartAt": "Hello",
  "States": {
    "Hello": {"Type": "Pass", "Result": {"hello": "world"}, "End": true}
  }
}"""


def _wire(console: Console) -> StatesWire | None:
    return console.states


def _not_served(console: Console, request: Request) -> str:
    return console.catalogue(request).gettext("This server serves no AWS Step Functions.")


def machine_url(name: str) -> str:
    return f"{MACHINES_URL}/{quote(name, safe='')}"


def machine_arn(console: Console, session: Session, name: str) -> str:
    """The ARN of the signed-in account's machine ``name`` in the console's Region."""
    account = session.principal.tenant_id or ""
    return f"arn:aws:states:{console.settings.region}:{account}:stateMachine:{name}"


async def role_choices(console: Console, request: Request, session: Session) -> list[str]:
    """The account's roles as IAM lists them to the signed-in principal (none where it
    refuses): a choice only, Step Functions checks the role trusts it and PassRole."""
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_ROLES_OFFERED
        )
        return [role.arn for role in listed.rows]
    return []


async def log_group_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The account's log groups as Logs lists them to the signed-in principal, each as
    (the ARN Step Functions takes, ending in ``:*``; its name); none where Logs refuses."""
    account = session.principal.tenant_id
    if console.logs is None or account is None:
        return []
    with suppress(WireError):
        names = await console.logs.group_names(request.scope, session.principal)
        region = console.settings.region
        return [(f"arn:aws:logs:{region}:{account}:log-group:{n}:*", n) for n in names]
    return []


async def diagnostics_of(
    wire: StatesWire, request: Request, session: Session, exc: WireError, fields: Form
) -> list[Diagnostic]:
    """ValidateStateMachineDefinition's diagnostics of the definition typed, when Step
    Functions refused it as ``InvalidDefinition`` (none otherwise, or if that is refused)."""
    if exc.code != "InvalidDefinition":
        return []
    with suppress(WireError):
        return await wire.validate(
            request.scope, session.principal, fields.get("definition", ""),
            fields.get("type", ""),
        )  # fmt: skip
    return []


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Form | None = None,
    diagnostics: list[Diagnostic] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    rows: list[MachineRow] = []
    next_href = None
    if wire is None:
        error, status = _not_served(console, request), 404
    else:
        token = request.query_params.get("token", "")[:_TOKEN_LENGTH]
        try:
            listed = await wire.machines(
                request.scope, session.principal, token=token,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            rows = listed.rows
            if listed.next_token:
                next_href = f"{MACHINES_URL}?{urlencode({'token': listed.next_token})}"
    return console.render(
        request,
        "states_machines.html",
        session=session,
        status=status,
        title=_("Step Functions state machines"),
        machines=rows,
        next_href=next_href,
        types=MACHINE_TYPES,
        roles=await role_choices(console, request, session) if wire else [],
        form=typed or {"definition": STARTER_DEFINITION, "type": "STANDARD"},
        diagnostics=diagnostics or [],
        error=error,
    )


machines = signed_in(_list_page)


@posted()
async def create(console: Console, request: Request, session: Session, fields: Form) -> Response:
    wire = _wire(console)
    if wire is None:
        return await _list_page(console, request, session)
    name = fields.get("name", "").strip()
    try:
        await wire.create(
            request.scope, session.principal, name=name,
            machine_type=fields.get("type", ""), definition=fields.get("definition", ""),
            role_arn=fields.get("role_arn", ""), tags=parse_tags(fields.get("tags", "")),
        )  # fmt: skip
    except WireError as exc:
        error, status = refusal(console, request, exc)
        found = await diagnostics_of(wire, request, session, exc, fields)
        return await _list_page(
            console, request, session, typed=fields, diagnostics=found, error=error, status=status
        )
    return RedirectResponse(machine_url(name), status_code=303)


async def _machine_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    typed: Form | None = None,
    typed_form: str = "",
    diagnostics: list[Diagnostic] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = _wire(console)
    machine: MachineDetail | None = None
    executions: list[ExecutionRow] = []
    executions_error, tags_error = "", ""
    tags: list[tuple[str, str]] = []
    versions: list[VersionRow] = []
    aliases: list[AliasRow] = []
    versions_error = ""
    next_href = None
    wanted = request.query_params.get("status", "")
    wanted = wanted if wanted in EXECUTION_STATUSES else ""
    if wire is None:
        error, status = _not_served(console, request), 404
    else:
        origin, principal = request.scope, session.principal
        try:
            machine = await wire.machine(origin, principal, machine_arn(console, session, name))
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            token = request.query_params.get("token", "")[:_TOKEN_LENGTH]
            try:
                listed = await wire.executions(
                    origin, principal, machine.arn, status=wanted, token=token,
                    limit=console.settings.console_page_size,
                )  # fmt: skip
            except WireError as exc:  # the executions' section says so; the rest is shown
                executions_error = refusal(console, request, exc)[0]
            else:
                executions = listed.rows
                if listed.next_token:
                    query = {"status": wanted} if wanted else {}
                    query["token"] = listed.next_token
                    next_href = f"{machine_url(name)}?{urlencode(query)}#executions"
            try:
                tags = await wire.tags(origin, principal, machine.arn)
            except WireError as exc:
                tags_error = refusal(console, request, exc)[0]
            try:
                versions = await wire.versions(origin, principal, machine.arn)
                aliases = await wire.aliases(origin, principal, machine.arn)
            except WireError as exc:  # the versions' section says so
                versions_error = refusal(console, request, exc)[0]
    form = dict(typed or {}) if typed_form else {}
    return console.render(
        request,
        "states_machine.html",
        session=session,
        status=status,
        title=f"{_('State machine')} {name}",
        name=name,
        machine=machine,
        executions=executions,
        executions_error=executions_error,
        statuses=EXECUTION_STATUSES,
        wanted=wanted,
        next_href=next_href,
        tags=tags,
        tags_error=tags_error,
        versions=versions,
        aliases=aliases,
        versions_error=versions_error,
        roles=await role_choices(console, request, session) if machine else [],
        log_levels=LOG_LEVELS,
        log_groups=await log_group_choices(console, request, session) if machine else [],
        typed_form=typed_form,
        form=form,
        diagnostics=diagnostics or [],
        action_url=machine_url(name),
        error=error,
    )


@signed_in
async def machine_page(console: Console, request: Request, session: Session) -> Response:
    return await _machine_page(console, request, session, request.path_params.get("name", ""))


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a machine's page: the change made, then the page (or the execution
    started's, or the list after a deletion) by a redirect (303); or the page again with Step
    Functions' refusal and the form as typed."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in _ACTIONS:
        return await _machine_page(console, request, session, name)
    fields = await console.form(request, session)
    if fields is None:
        return console.refused_form(request, session)
    wire = _wire(console)
    if wire is None:
        return await _machine_page(console, request, session, name)
    _ = console.catalogue(request).gettext
    origin, principal = request.scope, session.principal
    arn = machine_arn(console, session, name)
    target = machine_url(name)
    try:
        if action == "start":
            # A version's number or an alias's name: its ARN is the machine's and it.
            qualifier = fields.get("qualifier", "").strip()
            started = await wire.start(
                origin, principal, f"{arn}:{qualifier}" if qualifier else arn,
                name=fields.get("execution_name", "").strip(), input=fields.get("input", ""),
            )  # fmt: skip
            target = f"{target}/executions/{quote(started.rsplit(':', 1)[-1], safe='')}"
        elif action == "update":
            await wire.update(
                origin, principal, arn, definition=fields.get("definition", ""),
                role_arn=fields.get("role_arn", ""),
            )  # fmt: skip
        elif action == "logging":
            await wire.set_logging(
                origin, principal, arn, level=fields.get("level", ""),
                include_execution_data=fields.get("include_execution_data") == "yes",
                log_group_arn=fields.get("log_group_arn", ""),
            )  # fmt: skip
            target = f"{target}#logging"
        elif action == "tag":
            await wire.tag(origin, principal, arn, parse_tags(fields.get("tags", "")))
        elif action == "untag":
            await wire.untag(origin, principal, arn, fields.get("key", ""))
        else:
            if fields.get("confirm") != "yes":
                raise FormFault(_("Tick the box to confirm the deletion."))
            await wire.delete(origin, principal, arn)
            target = MACHINES_URL
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        found: list[Diagnostic] = []
        if action == "update" and isinstance(exc, WireError):
            current = {"type": "", **fields}
            found = await diagnostics_of(wire, request, session, exc, current)
        return await _machine_page(
            console, request, session, name, typed=fields, typed_form=action,
            diagnostics=found, error=error, status=status,
        )  # fmt: skip
    return RedirectResponse(target, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/state-machines", machines, ["GET"]),
    ("/state-machines", create, ["POST"]),
    ("/state-machines/{name}", machine_page, ["GET"]),
    ("/state-machines/{name}/{action}", change, ["POST"]),
]
