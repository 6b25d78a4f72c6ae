"""A Lambda function's URLs and provisioned concurrency page in the console (decision 0320),
beside its main page (decision 0296) and its triggers page (decision 0306): its **function
URLs** — one for ``$LATEST`` and one an alias — listed (the address as a link, auth type,
invoke mode, CORS), created, updated and deleted after a ticked box (Create, Update and
DeleteFunctionUrlConfig), and for a URL of auth type NONE the public permission AWS's console
adds (AddPermission of ``lambda:InvokeFunctionUrl`` to ``*`` with ``FunctionUrlAuthType``
NONE), offered only on a button that says it makes the function public; its **provisioned
concurrency** per version or alias listed (requested, allocated, available, status and its
reason), set and removed (Put and DeleteProvisionedConcurrencyConfig).

Its own page so that the function's page stays the one GetFunction it was. Each change is
Lambda's own call as the signed-in principal (``wire_lambda_urls``); a refusal is shown in
Lambda's words with the form as typed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import FormFault, refusal, signed_in, words
from andromede.console.lambda_function_pages import (
    function_shown,
    page_on_get,
    posted_change,
    render_function_page,
    section_read,
)
from andromede.console.pages_lambda import function_url, whole_number
from andromede.console.wire import WireError
from andromede.console.wire_lambda import AliasRow, LambdaWire, VersionRow
from andromede.console.wire_lambda_urls import (
    ProvisionedRow,
    UrlConfigRow,
    allow_public_url,
    delete_provisioned,
    delete_url_config,
    list_provisioned,
    list_url_configs,
    put_provisioned,
    put_url_config,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "urls_url"]

_ACTIONS: Final = frozenset(
    {"url", "delete-url", "public-url", "provisioned", "delete-provisioned"}
)
_FIELDS: Final = 24
AUTH_TYPES: Final = ("AWS_IAM", "NONE")
INVOKE_MODES: Final = ("BUFFERED", "RESPONSE_STREAM")


def urls_url(name: str) -> str:
    return f"{function_url(name)}/urls"


def _listed(text: str) -> list[str]:
    """A CORS list typed one a line or comma-separated."""
    return [part.strip() for part in text.replace("\n", ",").split(",") if part.strip()]


def url_settings(fields: dict[str, str]) -> dict[str, Any]:
    """The form's URL settings as Lambda names them; CORS only when something of it is typed
    (an update without it keeps none: AWS's console sends ``Cors`` empty to clear it)."""
    cors: dict[str, Any] = {}
    for field, key in (
        ("cors_origins", "AllowOrigins"),
        ("cors_methods", "AllowMethods"),
        ("cors_headers", "AllowHeaders"),
        ("cors_expose", "ExposeHeaders"),
    ):
        if listed := _listed(fields.get(field, "")):
            cors[key] = listed
    if fields.get("cors_credentials") == "yes":
        cors["AllowCredentials"] = True
    if fields.get("cors_max_age", "").strip():
        cors["MaxAge"] = whole_number(fields["cors_max_age"])
    settings: dict[str, Any] = {
        "AuthType": fields.get("auth_type", ""),
        "InvokeMode": fields.get("invoke_mode", "") or "BUFFERED",
        "Cors": cors,
    }
    return settings


async def _urls_page(
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
    urls: list[UrlConfigRow] = []
    provisioned: list[ProvisionedRow] = []
    versions: list[VersionRow] = []
    aliases: list[AliasRow] = []
    urls_error = provisioned_error = ""
    function, error, status = await function_shown(console, request, session, name, error, status)
    if wire is not None and function is not None:
        origin, principal = request.scope, session.principal
        urls, urls_error = await section_read(
            console, request, list_url_configs(wire, origin, principal, name), []
        )
        provisioned, provisioned_error = await section_read(
            console, request, list_provisioned(wire, origin, principal, name), []
        )
        try:
            versions = await wire.versions(origin, principal, name)
            aliases = await wire.aliases(origin, principal, name)
        except WireError as exc:
            provisioned_error = provisioned_error or refusal(console, request, exc)[0]
    alias_names = [alias.name for alias in aliases]
    fronted = {row.qualifier for row in urls}
    return render_function_page(
        console, request, session, "lambda_urls.html", name, function,
        action_url=urls_url(name), typed=typed, typed_form=typed_form, error=error,
        status=status,
        urls=urls,
        urls_error=urls_error,
        # A URL fronts $LATEST or an alias (not a version); one each.
        url_targets=[q for q in ["$LATEST", *alias_names] if q not in fronted],
        provisioned=provisioned,
        provisioned_error=provisioned_error,
        # Provisioned concurrency is a version's or an alias's, never $LATEST's.
        provisioned_targets=[*alias_names, *(v.version for v in versions)],
        auth_types=AUTH_TYPES,
        invoke_modes=INVOKE_MODES,
    )  # fmt: skip


urls_page = page_on_get(_urls_page)


async def _change(
    wire: LambdaWire,
    request: Request,
    session: Session,
    name: str,
    action: str,
    fields: dict[str, str],
) -> str:
    """The change ``action`` makes with the form's ``fields``; the page's section to show."""
    origin, principal = request.scope, session.principal
    qualifier = fields.get("qualifier", "")
    if action == "url":
        await put_url_config(
            wire, origin, principal, name, qualifier, url_settings(fields),
            create=fields.get("existing") != "yes",
        )  # fmt: skip
        return "urls"
    if action == "public-url":
        await allow_public_url(wire, origin, principal, name, qualifier)
        return "urls"
    if action == "provisioned":
        executions = whole_number(fields.get("executions", ""))
        await put_provisioned(wire, origin, principal, name, qualifier, executions)
        return "provisioned"
    if fields.get("confirm") != "yes":
        raise FormFault(words(request)("Tick the box to confirm the deletion."))
    if action == "delete-url":
        await delete_url_config(wire, origin, principal, name, qualifier)
        return "urls"
    await delete_provisioned(wire, origin, principal, name, qualifier)
    return "provisioned"


@signed_in
async def change(console: Console, request: Request, session: Session) -> Response:
    return await posted_change(
        console, request, session, page=_urls_page, page_url=urls_url, actions=_ACTIONS,
        max_fields=_FIELDS, change=_change,
    )  # fmt: skip


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/functions/{name}/urls", urls_page, ["GET"]),
    ("/functions/{name}/urls/{action}", change, ["POST"]),
]
