"""AWS Lambda (decision 0286) in the console (decision 0296): the functions' list (name,
runtime, memory, timeout, last modified; pages of ``console_page_size``) and a function's
creation (name, a runtime this deployment's Lambda accepts, handler, a role among the
account's that trust ``lambda.amazonaws.com``, the code as an uploaded .zip, memory, timeout,
environment variables as key/value rows, tags, a code signing configuration of the account's,
decision 0396) — Lambda's own calls as the signed-in principal (``wire_lambda.LambdaWire``),
so its IAM decisions (``lambda:<Action>``, ``iam:PassRole``), checks, audit and words answer
them.

A form carrying a .zip is posted to a path ending in ``/upload`` and read as it arrives
(``console.upload.StreamedForm``: its fields first, CSRF checked before the file is read), the
file held in memory only and refused past ``lambda_max_zip_bytes``, never written to disk.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import FormFault, fault_or_refusal, first_refusal, signed_in
from andromede.console.pages_alarms import parse_tags
from andromede.console.session import CONSOLE_PATH, tokens_match
from andromede.console.upload import FormError, StreamedForm
from andromede.console.wire import WireError
from andromede.console.wire_lambda import FunctionRow
from andromede.console.wire_lambda_code_signing import CodeSigningRow, code_signing_configs
from andromede.iam.service_roles import TrustSource, role_trusts

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "ENVIRONMENT_ROWS",
    "ROUTES",
    "closing",
    "environment_of",
    "function_url",
    "lambda_roles",
    "no_lambda",
    "read_upload",
    "whole_number",
]

FUNCTIONS_URL: Final = f"{CONSOLE_PATH}/functions"
ENVIRONMENT_ROWS: Final = 4  # empty key/value rows a form offers beyond the variables set
_UPLOAD_FIELDS: Final = 32
_TOKEN_LENGTH: Final = 1024
_ROLES_OFFERED: Final = 100
LAMBDA_PRINCIPAL: Final = "lambda.amazonaws.com"


def function_url(name: str) -> str:
    return f"{FUNCTIONS_URL}/{quote(name, safe='')}"


def closing(response: Response) -> Response:
    """An answer that may come before the upload's body was read whole: the rest must not be
    taken for a next request on the connection."""
    response.headers["connection"] = "close"
    return response


def not_served(console: Console, request: Request) -> str:
    return console.catalogue(request).gettext("This server serves no AWS Lambda.")


def no_lambda(console: Console, request: Request) -> tuple[str, int]:
    """A page's refusal where this server serves no Lambda: its words, 404."""
    return not_served(console, request), 404


async def lambda_roles(console: Console, request: Request, session: Session) -> list[str]:
    """The account's roles whose trust policy lets Lambda assume them, as IAM lists them to
    the signed-in principal (none where it refuses): a choice only, Lambda checks again."""
    if console.iam is None:
        return []
    with suppress(WireError):
        listed = await console.iam.list_roles(
            request.scope, session.principal, marker=None, page_size=_ROLES_OFFERED
        )
        source = TrustSource(account=session.principal.tenant_id)  # as Lambda gives (0321)
        return [r.arn for r in listed.rows if role_trusts(r.trust_policy, LAMBDA_PRINCIPAL, source)]
    return []


def environment_of(fields: dict[str, str]) -> dict[str, str]:
    """The variables of a form's key/value rows (``env_key_<n>``, ``env_value_<n>``), a row
    without a key left out."""
    variables: dict[str, str] = {}
    for name, key in fields.items():
        if name.startswith("env_key_") and key.strip():
            variables[key.strip()] = fields.get(f"env_value_{name[8:]}", "")
    return variables


def whole_number(text: str) -> int | str:
    """A number typed as Lambda takes it; anything else as typed, for Lambda to refuse."""
    stripped = text.strip()
    return int(stripped) if stripped.isdigit() else stripped


async def read_upload(
    console: Console, request: Request, session: Session
) -> tuple[dict[str, str], bytes] | Response:
    """A multipart form's fields and its file's bytes (b"" when no file was chosen), or the
    console's refusal: a form without the session's CSRF token (403), one not as the console
    renders it (400). A file past ``lambda_max_zip_bytes`` is a :class:`FormFault`."""
    _ = console.catalogue(request).gettext
    limit = console.settings.lambda_max_zip_bytes
    code = bytearray()
    try:
        form = StreamedForm(request.headers.get("content-type", ""), max_fields=_UPLOAD_FIELDS)
        async for chunk in request.stream():
            for event in form.feed(chunk):
                if not isinstance(event, bytes):  # the file begins: the fields are known
                    if not tokens_match(session.csrf, form.fields.get("csrf")):
                        return console.refused_form(request, session)
                    continue
                code += event
                if len(code) > limit:
                    message = _("The .zip file is larger than this server's Lambda accepts")
                    raise FormFault(f"{message} ({limit} bytes).", status=413)
        form.finish()
    except FormError:
        return console.refused_form(request, session, status=400)
    if not tokens_match(session.csrf, form.fields.get("csrf")):
        return console.refused_form(request, session)
    return form.fields, bytes(code)


async def _list_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    wire = console.functions
    rows: list[FunctionRow] = []
    next_href = None
    if wire is None:
        error, status = not_served(console, request), 404
    else:
        marker = request.query_params.get("marker", "")[:_TOKEN_LENGTH]
        try:
            listed = await wire.functions(
                request.scope, session.principal, marker=marker,
                limit=console.settings.console_page_size,
            )  # fmt: skip
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        else:
            rows = listed.rows
            if listed.next_marker:
                next_href = f"{FUNCTIONS_URL}?{urlencode({'marker': listed.next_marker})}"
    form = typed or {"handler": "app.handler", "memory": "128", "timeout": "3"}
    return console.render(
        request,
        "lambda_functions.html",
        session=session,
        status=status,
        title=_("Lambda functions"),
        functions=rows,
        next_href=next_href,
        runtimes=wire.runtimes if wire else (),
        roles=await lambda_roles(console, request, session) if wire else [],
        signing_configs=await _signing_configs(console, request, session),
        form=form,
        environment=[
            (form.get(f"env_key_{n}", ""), form.get(f"env_value_{n}", ""))
            for n in range(1, ENVIRONMENT_ROWS + 1)
        ],
        error=error,
    )


functions = signed_in(_list_page)


async def _signing_configs(
    console: Console, request: Request, session: Session
) -> list[CodeSigningRow]:
    """The code signing configurations the creation form offers (decision 0396): the
    account's as Lambda lists them to the principal; none where it refuses (the field is
    optional, and Lambda checks the one sent)."""
    if console.functions is None:
        return []
    with suppress(WireError):
        return await code_signing_configs(console.functions, request.scope, session.principal)
    return []


@signed_in
async def create(console: Console, request: Request, session: Session) -> Response:
    """CreateFunction from the multipart creation form; the function's page by a redirect
    (303), or the list again with Lambda's refusal and the form as typed (the file aside)."""
    wire = console.functions
    if wire is None:
        return await _list_page(console, request, session)
    fields: dict[str, str] = {}
    try:
        read = await read_upload(console, request, session)
        if isinstance(read, Response):
            return closing(read)
        fields, code = read
        if not code:
            raise FormFault(console.catalogue(request).gettext("Choose the code's .zip file."))
        name = fields.get("name", "").strip()
        settings: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": fields.get("runtime", ""),
            "Handler": fields.get("handler", "").strip(),
            "Role": fields.get("role", ""),
            "MemorySize": whole_number(fields.get("memory", "128")),
            "Timeout": whole_number(fields.get("timeout", "3")),
        }
        variables = environment_of(fields)
        if variables:
            settings["Environment"] = {"Variables": variables}
        tags = parse_tags(fields.get("tags", ""))
        if tags:
            settings["Tags"] = dict(tags)
        if fields.get("code_signing_config"):
            settings["CodeSigningConfigArn"] = fields["code_signing_config"]
        await wire.create(request.scope, session.principal, settings, code)
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        page = await _list_page(console, request, session, typed=fields, error=error, status=status)
        return closing(page)
    return RedirectResponse(function_url(name), status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/functions", functions, ["GET"]),
    ("/functions/upload", create, ["POST"]),
]
