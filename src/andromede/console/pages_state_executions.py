"""A Step Functions execution's page in the console (decision 0288): DescribeExecution's
status, input, output or error and cause, start and stop dates; its history as a table (each
event's id, type, the state it names, its time and its other details) in pages of
``console_page_size``, as GetExecutionHistory gives them; and StopExecution (with an error
and a cause) while it is RUNNING; RedriveExecution of one FAILED, ABORTED or TIMED_OUT
(decisions 0283, 0296) — Step Functions' own calls as the signed-in principal, so
its IAM decisions, audit and words answer them.

The page is ``/console/state-machines/<machine>/executions/<name>``: the execution's ARN is
made from its machine's, as Step Functions makes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import Form, first_refusal, posted, refusal, signed_in
from andromede.console.pages_states import machine_arn, machine_url
from andromede.console.wire import WireError
from andromede.console.wire_states import ExecutionDetail, HistoryEvent, execution_arn

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "execution_url"]

_TOKEN_LENGTH: Final = 1024


def execution_url(machine: str, name: str) -> str:
    return f"{machine_url(machine)}/executions/{quote(name, safe='')}"


async def _execution_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Form | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    machine = request.path_params.get("name", "")
    name = request.path_params.get("execution", "")
    wire = console.states
    execution: ExecutionDetail | None = None
    events: list[HistoryEvent] = []
    history_error = ""
    next_href = None
    if wire is None:
        error, status = _("This server serves no AWS Step Functions."), 404
    else:
        origin, principal = request.scope, session.principal
        arn = execution_arn(machine_arn(console, session, machine), name)
        try:
            execution = await wire.execution(origin, principal, arn)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            token = request.query_params.get("token", "")[:_TOKEN_LENGTH]
            try:
                page = await wire.history(
                    origin, principal, arn, token=token, limit=console.settings.console_page_size
                )
            except WireError as exc:  # the history's section says so
                history_error = refusal(console, request, exc)[0]
            else:
                events = page.rows
                if page.next_token:
                    query = urlencode({"token": page.next_token})
                    next_href = f"{execution_url(machine, name)}?{query}#history"
    return console.render(
        request,
        "states_execution.html",
        session=session,
        status=status,
        title=f"{_('Execution')} {name}",
        machine=machine,
        machine_href=machine_url(machine),
        name=name,
        execution=execution,
        events=events,
        history_error=history_error,
        next_href=next_href,
        form=typed or {},
        action_url=execution_url(machine, name),
        error=error,
    )


execution_page = signed_in(_execution_page)


@posted()
async def stop(console: Console, request: Request, session: Session, fields: Form) -> Response:
    machine = request.path_params.get("name", "")
    name = request.path_params.get("execution", "")
    wire = console.states
    if wire is None:
        return await _execution_page(console, request, session)
    arn = execution_arn(machine_arn(console, session, machine), name)
    try:
        await wire.stop(
            request.scope, session.principal, arn, error=fields.get("error", "").strip(),
            cause=fields.get("cause", "").strip(),
        )  # fmt: skip
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _execution_page(
            console, request, session, typed=fields, error=error, status=status
        )
    return RedirectResponse(execution_url(machine, name), status_code=303)


@posted()
async def redrive(console: Console, request: Request, session: Session, fields: Form) -> Response:
    """RedriveExecution: the execution runs again from its failed state, as Step Functions
    decides (its refusal, e.g. ``ExecutionNotRedrivable``, shown on the execution's page)."""
    machine = request.path_params.get("name", "")
    name = request.path_params.get("execution", "")
    wire = console.states
    if wire is None:
        return await _execution_page(console, request, session)
    arn = execution_arn(machine_arn(console, session, machine), name)
    try:
        await wire.redrive(request.scope, session.principal, arn)
    except WireError as exc:
        error, status = refusal(console, request, exc)
        return await _execution_page(console, request, session, error=error, status=status)
    return RedirectResponse(execution_url(machine, name), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/state-machines/{name}/executions/{execution}", execution_page, ["GET"]),
    ("/state-machines/{name}/executions/{execution}/redrive", redrive, ["POST"]),
    ("/state-machines/{name}/executions/{execution}/stop", stop, ["POST"]),
]
