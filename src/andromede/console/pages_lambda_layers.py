"""AWS Lambda's layers (decision 0302) in the console (decision 0306): the account's layers
and their versions (ListLayers, ListLayerVersions: version, compatible runtimes, description,
licence, creation), a version published from an uploaded .zip (PublishLayerVersion: a name,
a description, the runtimes among those this deployment's Lambda accepts, a licence), a
version deleted after a ticked box (DeleteLayerVersion) — Lambda's own calls as the
signed-in principal, its refusals shown in its words with the form as typed (the file
aside). The .zip is read as it arrives and held in memory only, as a function's code is
(``pages_lambda.read_upload``: the CSRF token checked before the file is read, refused past
``lambda_max_zip_bytes``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import FormFault, fault_or_refusal, first_refusal, signed_in
from andromede.console.pages_lambda import closing, not_served, read_upload
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_lambda_triggers import (
    LayerVersionRow,
    delete_layer_version,
    layer_versions,
    publish_layer_version,
)

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["LAYERS_URL", "ROUTES"]

LAYERS_URL: Final = f"{CONSOLE_PATH}/layers"
_FIELDS: Final = 16


async def _layers_page(
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
    rows: list[LayerVersionRow] = []
    if wire is None:
        error, status = not_served(console, request), 404
    else:
        try:
            rows = await layer_versions(wire, request.scope, session.principal)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
    return console.render(
        request,
        "lambda_layers.html",
        session=session,
        status=status,
        title=_("Lambda layers"),
        versions=rows,
        runtimes=wire.runtimes if wire else (),
        form=typed or {},
        error=error,
    )


layers = signed_in(_layers_page)


@signed_in
async def publish(console: Console, request: Request, session: Session) -> Response:
    """PublishLayerVersion from the multipart form; the list again by a redirect (303), or
    with Lambda's refusal and the form as typed (the file aside)."""
    wire = console.functions
    if wire is None:
        return await _layers_page(console, request, session)
    fields: dict[str, str] = {}
    try:
        read = await read_upload(console, request, session)
        if isinstance(read, Response):
            return closing(read)
        fields, code = read
        if not code:
            raise FormFault(console.catalogue(request).gettext("Choose the layer's .zip file."))
        name = fields.get("name", "").strip()
        await publish_layer_version(
            wire, request.scope, session.principal, name, code=code,
            description=fields.get("description", "").strip(),
            runtimes=[r for r in wire.runtimes if fields.get(f"runtime_{r}") == "yes"],
            license_info=fields.get("license", "").strip(),
        )  # fmt: skip
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        page = await _layers_page(console, request, session, typed=fields, error=error,
                                  status=status)  # fmt: skip
        return closing(page)
    return RedirectResponse(f"{LAYERS_URL}#layer-{quote(name, safe='')}", status_code=303)


@signed_in
async def delete(console: Console, request: Request, session: Session) -> Response:
    """DeleteLayerVersion after the ticked box; the list again (303), or with the refusal."""
    fields = await console.form(request, session, max_fields=_FIELDS)
    if fields is None:
        return console.refused_form(request, session)
    wire = console.functions
    if wire is None:
        return await _layers_page(console, request, session)
    name, version = request.path_params.get("name", ""), request.path_params.get("version", "")
    try:
        if fields.get("confirm") != "yes":
            raise FormFault(
                console.catalogue(request).gettext("Tick the box to confirm the deletion.")
            )
        await delete_layer_version(wire, request.scope, session.principal, name, version)
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await _layers_page(console, request, session, error=error, status=status)
    return RedirectResponse(LAYERS_URL, status_code=303)


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/layers", layers, ["GET"]),
    ("/layers/upload", publish, ["POST"]),
    ("/layers/{name}/versions/{version}/delete", delete, ["POST"]),
]
