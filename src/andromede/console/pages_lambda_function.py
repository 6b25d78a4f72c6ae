"""A Lambda function's page in the console (decision 0296): its configuration (runtime,
handler, role, memory, timeout, state, last modified), code size and SHA-256, environment,
and what changes it — new code by an uploaded .zip (UpdateFunctionCode), its configuration
(UpdateFunctionConfiguration, environment as key/value rows), versions published, aliases
created, moved or deleted (with an optional second version and its weight), its resource
policy's statements (AddPermission, RemovePermission), its reserved concurrency, tags, and
its deletion after a ticked box — plus a **test**: a JSON event invoked synchronously
(``RequestResponse``, ``LogType`` Tail) and its status, payload, function error and log tail
shown. Each is Lambda's own call as the signed-in principal (``wire_lambda.LambdaWire``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import (
    FormFault,
    fault_or_refusal,
    refusal,
    signed_in,
    words,
)
from andromede.console.lambda_function_pages import (
    function_shown,
    page_on_get,
    posted_change,
    render_function_page,
    section_read,
)
from andromede.console.pages_alarms import parse_tags
from andromede.console.pages_lambda import (
    ENVIRONMENT_ROWS,
    FUNCTIONS_URL,
    closing,
    environment_of,
    function_url,
    lambda_roles,
    read_upload,
    whole_number,
)
from andromede.console.wire import WireError
from andromede.console.wire_lambda import (
    AliasRow,
    InvokeResult,
    LambdaWire,
    Statement,
    VersionRow,
    alias_routing,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_ACTIONS: Final = frozenset(
    {
        "configuration", "publish", "alias", "delete-alias", "permission", "remove-permission",
        "concurrency", "tag", "untag", "delete", "test",
    }
)  # fmt: skip
_FIELDS: Final = 64  # the configuration form's key/value rows
_STARTER_EVENT: Final = '{\n  "key": "value"\n}'


def _weight(text: str, words: Callable[[str], str]) -> float | None:
    """A second version's share typed as a percentage, as Lambda's weight (0.0 to 1.0)."""
    try:
        return float(text.strip()) / 100 if text.strip() else None
    except ValueError as exc:
        raise FormFault(words("The weight is a percentage, from 0 to 100.")) from exc


async def _function_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    typed: dict[str, str] | None = None,
    typed_form: str = "",
    result: InvokeResult | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    wire = console.functions
    versions: list[VersionRow] = []
    aliases: list[AliasRow] = []
    statements: list[Statement] = []
    versions_error = policy_error = ""
    function, error, status = await function_shown(console, request, session, name, error, status)
    if wire is not None and function is not None:
        origin, principal = request.scope, session.principal
        try:
            versions = await wire.versions(origin, principal, name)
            aliases = await wire.aliases(origin, principal, name)
        except WireError as exc:
            versions_error = refusal(console, request, exc)[0]
        statements, policy_error = await section_read(
            console, request, wire.statements(origin, principal, name), []
        )
    form = dict(typed or {}) if typed_form else {}
    environment = list(function.environment) if function else []
    if typed_form == "configuration":
        environment = sorted(environment_of(form).items())
    environment += [("", "")] * ENVIRONMENT_ROWS
    return render_function_page(
        console, request, session, "lambda_function.html", name, function,
        action_url=function_url(name), typed=typed, typed_form=typed_form, error=error,
        status=status,
        versions=versions,
        aliases=aliases,
        versions_error=versions_error,
        statements=statements,
        policy_error=policy_error,
        environment=environment,
        runtimes=wire.runtimes if wire else (),
        roles=await lambda_roles(console, request, session) if function else [],
        result=result,
        starter_event=_STARTER_EVENT,
    )  # fmt: skip


function_page = page_on_get(_function_page)


@signed_in
async def upload_code(console: Console, request: Request, session: Session) -> Response:
    """UpdateFunctionCode from the page's multipart form (its .zip read as it arrives)."""
    name = request.path_params.get("name", "")
    wire = console.functions
    if wire is None:
        return await _function_page(console, request, session, name)
    try:
        read = await read_upload(console, request, session)
        if isinstance(read, Response):
            return closing(read)
        if not read[1]:
            raise FormFault(console.catalogue(request).gettext("Choose the code's .zip file."))
        await wire.update_code(request.scope, session.principal, name, read[1])
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        page = await _function_page(
            console, request, session, name, typed_form="code", error=error, status=status
        )
        return closing(page)
    return RedirectResponse(f"{function_url(name)}#code", status_code=303)


async def _change(
    console: Console,
    wire: LambdaWire,
    request: Request,
    session: Session,
    name: str,
    action: str,
    fields: dict[str, str],
) -> str | Response:
    """The change ``action`` makes with the form's ``fields``; the page's section to show, or
    the answer: the page with a test's result, the list after a deletion."""
    _ = words(request)
    origin, principal = request.scope, session.principal
    if action == "test":
        result = await wire.invoke(
            origin, principal, name, fields.get("event", ""), fields.get("qualifier", "")
        )
        return await _function_page(
            console, request, session, name, typed=fields, typed_form="test", result=result
        )
    if action == "delete":
        if fields.get("confirm") != "yes":
            raise FormFault(_("Tick the box to confirm the deletion."))
        await wire.delete(origin, principal, name)
        return RedirectResponse(FUNCTIONS_URL, status_code=303)
    if action == "configuration":
        settings: dict[str, Any] = {
            "Handler": fields.get("handler", "").strip(),
            "MemorySize": whole_number(fields.get("memory", "")),
            "Timeout": whole_number(fields.get("timeout", "")),
            "Environment": {"Variables": environment_of(fields)},
        }
        for field, key in (("runtime", "Runtime"), ("role", "Role")):
            if fields.get(field):
                settings[key] = fields[field]
        await wire.update_configuration(origin, principal, name, settings)
        return "configuration"
    if action == "publish":
        await wire.publish(origin, principal, name, fields.get("description", "").strip())
        return "versions"
    if action == "alias":
        routing = alias_routing(
            fields.get("second_version", ""), _weight(fields.get("weight", ""), _)
        )
        await wire.put_alias(
            origin, principal, name, fields.get("alias", "").strip(),
            version=fields.get("version", ""), description=fields.get("description", "").strip(),
            routing=routing, create=fields.get("existing") != "yes",
        )  # fmt: skip
        return "aliases"
    if action == "delete-alias":
        await wire.delete_alias(origin, principal, name, fields.get("alias", ""))
        return "aliases"
    if action == "permission":
        permission = {
            "StatementId": fields.get("sid", "").strip(),
            "Action": fields.get("permission_action", "").strip(),
            "Principal": fields.get("principal", "").strip(),
            "SourceArn": fields.get("source_arn", "").strip(),
            "SourceAccount": fields.get("source_account", "").strip(),
        }
        await wire.add_permission(origin, principal, name, permission)
        return "policy"
    if action == "remove-permission":
        await wire.remove_permission(origin, principal, name, fields.get("sid", ""))
        return "policy"
    if action == "concurrency":
        typed = fields.get("reserved", "").strip()
        reserved = whole_number(typed) if typed else None
        if isinstance(reserved, str):
            raise FormFault(_("The reserved concurrency is a whole number."))
        await wire.set_concurrency(origin, principal, name, reserved)
        return "concurrency"
    function = await wire.function(origin, principal, name)
    if action == "tag":
        await wire.tag(origin, principal, function.arn, parse_tags(fields.get("tags", "")))
    elif action == "untag":
        await wire.untag(origin, principal, function.arn, fields.get("key", ""))
    return "tags"


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    """One POST of a function's page (``posted_change``): after a test the page with its
    result, after a deletion the list; after any other change the page's section."""
    return await posted_change(
        console, request, session, page=_function_page, page_url=function_url,
        actions=_ACTIONS, max_fields=_FIELDS, change=partial(_change, console),
    )  # fmt: skip


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/functions/{name}", function_page, ["GET"]),
    ("/functions/{name}/code/upload", upload_code, ["POST"]),
    ("/functions/{name}/{action}", change, ["POST"]),
]
