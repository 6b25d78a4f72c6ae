"""Creating and editing a CloudWatch dashboard from the console (decision 0111, session 48):
the body edited as JSON in a form — the list page's "Create dashboard" with a name and a
starting body, a dashboard's "Edit" with its body as GetDashboard gives it — and saved with
PutDashboard as the signed-in principal. CloudWatch checks the body (decision 0185), so its
refusal (``InvalidParameterInput``, each validation error's data path and message) is shown
with the form as typed, and its warnings (``DashboardValidationMessages`` of a body stored
all the same) are shown on the form after the save rather than lost in a redirect.

The drawing of a dashboard is ``pages_dashboards``'s; nothing here reads the widgets.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console import wire_dashboards
from andromede.console.handlers import Form, Handler, posted, signed_in
from andromede.console.pages_dashboards import dashboard_url
from andromede.console.wire import WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "STARTING_BODY", "validation_messages"]

# A new dashboard's body as the form offers it: one text widget to replace.
STARTING_BODY: Final = json.dumps(
    {
        "widgets": [
            {
                "type": "text",
                "x": 0,
                "y": 0,
                "width": 24,
                "height": 2,
                "properties": {"markdown": "# My dashboard"},
            }
        ]
    },
    indent=2,
)
_ERRORS_AT: Final = "validation errors: "


def validation_messages(message: str) -> list[tuple[str, str]]:
    """The data paths and messages of PutDashboard's refusal, from its message (CloudWatch
    names each error there, as AWS's ``DashboardInvalidInputError`` does); none when the
    message holds no such list."""
    _, found, listed = message.partition(_ERRORS_AT)
    if not found:
        return []
    try:
        items = json.loads(listed)
    except ValueError:
        return []
    return [
        (str(item.get("dataPath", "")), str(item.get("message", "")))
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]


def _no_metrics(console: Console, request: Request) -> WireError:
    _ = console.catalogue(request).gettext
    return WireError("NotFound", _("This server serves no metrics."), 404)


async def _form_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    name: str,
    body: str,
    creating: bool,
    error: WireError | None = None,
    warnings: list[tuple[str, str]] | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    title = _("Create dashboard") if creating else f"{_('Edit dashboard')} {name}"
    return console.render(
        request,
        "dashboard_edit.html",
        session=session,
        status=error.status if error else status,
        title=title,
        name=name,
        body=body,
        creating=creating,
        dashboard_href=dashboard_url(name) if name else "",
        messages=validation_messages(error.message) if error else [],
        warnings=warnings or [],
        region=console.settings.region,
        error=console.error_text(request, error) if error else None,
    )


@signed_in
async def new_page(console: Console, request: Request, session: Session) -> Response:
    return await _form_page(console, request, session, name="", body=STARTING_BODY, creating=True)


@signed_in
async def edit_page(console: Console, request: Request, session: Session) -> Response:
    """The form with the dashboard's body; GetDashboard's refusal (none of that name:
    ``ResourceNotFound``, 404) shown without a form."""
    name = request.path_params["name"]
    if console.metrics is None:
        return await _form_page(
            console, request, session, name=name, body="", creating=False,
            error=_no_metrics(console, request),
        )  # fmt: skip
    try:
        body = await wire_dashboards.get(console.metrics, request.scope, session.principal, name)
    except WireError as exc:
        return await _form_page(
            console, request, session, name=name, body="", creating=False, error=exc
        )
    return await _form_page(console, request, session, name=name, body=body, creating=False)


def _save(creating: bool) -> Handler:
    """PutDashboard of the form's body (a creation's name typed, an edit's the path's): then
    the dashboard's page (303), or the form with CloudWatch's warnings, or with its refusal
    and the body as typed."""

    @posted()
    async def handler(
        console: Console, request: Request, session: Session, fields: Form
    ) -> Response:
        name = fields.get("name", "").strip() if creating else request.path_params["name"]
        body = fields.get("body", "")
        if console.metrics is None:
            return await _form_page(
                console, request, session, name=name, body=body, creating=creating,
                error=_no_metrics(console, request),
            )  # fmt: skip
        try:
            warnings = await wire_dashboards.put(
                console.metrics, request.scope, session.principal, name, body
            )
        except WireError as exc:
            return await _form_page(
                console, request, session, name=name, body=body, creating=creating, error=exc
            )
        if warnings:
            # Stored: the form again as an edit, with what CloudWatch warned of.
            return await _form_page(
                console, request, session, name=name, body=body, creating=False,
                warnings=warnings,
            )  # fmt: skip
        return RedirectResponse(dashboard_url(name), status_code=303)

    return handler


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    # A dashboard's name is letters, digits, "-" and "_": "new" could be one, so the
    # creation form is not at /dashboards/new.
    ("/dashboards-new", new_page, ["GET"]),
    ("/dashboards", _save(creating=True), ["POST"]),
    ("/dashboards/{name}/edit", edit_page, ["GET"]),
    ("/dashboards/{name}/edit", _save(creating=False), ["POST"]),
]
