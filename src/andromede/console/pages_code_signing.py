"""Lambda's code signing configurations in the console (decision 0386 served, 0396 shown):
the account's configurations listed, one made — its allowed publishers ticked among the
account's signing profile versions (Signer's list as the principal reads it), ``Warn`` or
``Enforce`` for code they did not sign, a description —, one shown with the functions that
use it, edited, and deleted after a ticked box (refused while a function uses it: Lambda's
``ResourceConflictException`` shown in its words); and a function's code signing page, which
shows its configuration and sets or removes it (Put and DeleteFunctionCodeSigningConfig).

Every read and change is Lambda's own call as the signed-in principal
(``wire_lambda_code_signing``), so its policies, checks and words decide; a refused form
shows the page again with its error and the fields as typed. Signer's list only offers
choices: a version the principal may not list is typed as an ARN, Lambda checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import (
    Change,
    Form,
    Handler,
    Page,
    Typed,
    action,
    page_read,
    signed_in,
    typed_form,
)
from andromede.console.lambda_function_pages import (
    function_shown,
    page_on_get,
    posted_change,
    render_function_page,
    section_read,
)
from andromede.console.pages_lambda import function_url, no_lambda
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_lambda import LambdaWire
from andromede.console.wire_lambda_code_signing import (
    POLICIES,
    CodeSigningRow,
    attach_config,
    attached_config,
    code_signing_config,
    code_signing_configs,
    config_functions,
    delete_code_signing_config,
    detach_config,
    put_code_signing_config,
)
from andromede.console.wire_signer import ProfileRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["CONFIGS_URL", "ROUTES", "config_url", "function_signing_url"]

CONFIGS_URL: Final = f"{CONSOLE_PATH}/code-signing-configs"
_FIELDS: Final = 48  # the publishers' boxes (Lambda allows 20) and the typed ones
_FUNCTION_ACTIONS: Final = frozenset({"attach", "detach"})


def config_url(arn: str) -> str:
    return f"{CONFIGS_URL}/{quote(arn, safe=':')}"


def function_signing_url(name: str) -> str:
    return f"{function_url(name)}/code-signing"


def _lambda(console: Console) -> LambdaWire | None:
    return console.functions


def _action(page: Page, change: Change[LambdaWire], *, form: str = "", confirmed: bool = False
            ) -> Handler:  # fmt: skip
    return action(page, change, wire=_lambda, form=form, confirmed=confirmed,
                  max_fields=_FIELDS)  # fmt: skip


async def _versions(console: Console, request: Request, session: Session) -> list[ProfileRow]:
    """The profile versions offered as publishers: the account's profiles not canceled, as
    Signer lists them to the principal (none where Signer is not served or refuses)."""
    if console.signer is None:
        return []
    with suppress(WireError):
        return await console.signer.profiles(request.scope, session.principal, canceled=False)
    return []


def _chosen(fields: Mapping[str, str]) -> list[str]:
    """The publishers a form holds: its ticked boxes (``publisher_<n>``), then the ARNs
    typed one a line, in that order, each once."""
    ticked = [v for k, v in sorted(fields.items()) if k.startswith("publisher_") and v]
    typed = [line.strip() for line in fields.get("publishers_typed", "").splitlines()]
    return list(dict.fromkeys(p for p in [*ticked, *typed] if p))


async def _configs_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows, error, status = await page_read(
        console, request, console.functions,
        lambda wire: code_signing_configs(wire, request.scope, session.principal),
        list[CodeSigningRow](),
        absent=no_lambda, error=error, status=status,
    )  # fmt: skip
    form = typed_form(typed, "config")
    return console.render(
        request, "code_signing_configs.html", session=session, status=status,
        title=_("Code signing configurations"), configs=rows, policies=POLICIES,
        versions=await _versions(console, request, session), typed=form,
        chosen=_chosen(form), served=console.functions is not None, error=error,
    )  # fmt: skip


async def _config_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    arn = request.path_params["arn"]
    config: CodeSigningRow | None = None  # shown even where its functions' listing is refused

    async def read(wire: LambdaWire) -> list[str]:
        nonlocal config
        origin, principal = request.scope, session.principal
        config = await code_signing_config(wire, origin, principal, arn)
        return await config_functions(wire, origin, principal, arn)

    functions, error, status = await page_read(
        console, request, console.functions, read, list[str](),
        absent=no_lambda, error=error, status=status,
    )  # fmt: skip
    form = typed_form(typed, "edit")
    return console.render(
        request, "code_signing_config.html", session=session, status=status,
        title=_("Code signing configuration {id}").format(id=arn.rsplit(":", 1)[-1]),
        arn=arn, config=config, functions=functions, policies=POLICIES,
        versions=await _versions(console, request, session), typed=form,
        chosen=_chosen(form) if form else list(config.publishers if config else ()),
        error=error,
    )  # fmt: skip


async def _put(wire: LambdaWire, request: Request, session: Session, f: Form, arn: str) -> str:
    made = await put_code_signing_config(
        wire, request.scope, session.principal, arn, publishers=_chosen(f),
        policy=f.get("policy", ""), description=f.get("description", "").strip(),
    )  # fmt: skip
    return config_url(made or arn)


async def _create(wire: LambdaWire, request: Request, session: Session, f: Form) -> str:
    return await _put(wire, request, session, f, "")


async def _update(wire: LambdaWire, request: Request, session: Session, f: Form) -> str:
    return await _put(wire, request, session, f, request.path_params["arn"])


async def _delete(wire: LambdaWire, request: Request, session: Session, f: Form) -> str:
    arn = request.path_params["arn"]
    await delete_code_signing_config(wire, request.scope, session.principal, arn)
    return CONFIGS_URL


# -- a function's configuration -----------------------------------------------------------
async def _function_page(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    *,
    typed: dict[str, str] | None = None,
    typed_form: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    wire = console.functions
    attached = ""
    configs: list[CodeSigningRow] = []
    signing_error = ""
    function, error, status = await function_shown(console, request, session, name, error, status)
    if wire is not None and function is not None:
        origin, principal = request.scope, session.principal
        attached, signing_error = await section_read(
            console, request, attached_config(wire, origin, principal, name), ""
        )
        with suppress(WireError):  # the choice only: Lambda checks the ARN sent
            configs = await code_signing_configs(wire, origin, principal)
    return render_function_page(
        console, request, session, "lambda_code_signing.html", name, function,
        action_url=function_signing_url(name), typed=typed, typed_form=typed_form,
        error=error, status=status, attached=attached, configs=configs,
        signing_error=signing_error,
    )  # fmt: skip


async def _function_change(
    wire: LambdaWire,
    request: Request,
    session: Session,
    name: str,
    action: str,
    fields: dict[str, str],
) -> str:
    origin, principal = request.scope, session.principal
    if action == "attach":
        await attach_config(wire, origin, principal, name, fields.get("config", "").strip())
    else:
        await detach_config(wire, origin, principal, name)
    return "code-signing"


@signed_in
async def function_change(console: Console, request: Request, session: Session) -> Response:
    return await posted_change(
        console, request, session, page=_function_page, page_url=function_signing_url,
        actions=_FUNCTION_ACTIONS, max_fields=8, change=_function_change,
    )  # fmt: skip


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/code-signing-configs", signed_in(_configs_page), ["GET"]),
    ("/code-signing-configs", _action(_configs_page, _create, form="config"), ["POST"]),
    ("/code-signing-configs/{arn}", signed_in(_config_page), ["GET"]),
    (
        "/code-signing-configs/{arn}/update",
        _action(_config_page, _update, form="edit"),
        ["POST"],
    ),
    (
        "/code-signing-configs/{arn}/delete",
        _action(_config_page, _delete, confirmed=True),
        ["POST"],
    ),
    ("/functions/{name}/code-signing", page_on_get(_function_page), ["GET"]),
    ("/functions/{name}/code-signing/{action}", function_change, ["POST"]),
]
