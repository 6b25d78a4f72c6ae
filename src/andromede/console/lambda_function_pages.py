"""What a Lambda function's console pages share (its main page, decision 0296; its
triggers page, 0306; its URLs and provisioned concurrency page, 0320): the function read
first as the signed-in principal (GetFunction; the page's refusal where Lambda is not served
or refuses it), what every one renders alike (its title, the function, the form as typed, its
links), its GET, and a POST's course — the action checked, the form read, the change made,
then the page's section by a redirect (303), or the page again with Lambda's refusal and the
form as typed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.handlers import (
    FormFault,
    Handler,
    fault_or_refusal,
    page_read,
    refusal,
    signed_in,
)
from andromede.console.pages_lambda import function_url, no_lambda
from andromede.console.wire import WireError
from andromede.console.wire_lambda import FunctionDetail, LambdaWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "FunctionChange",
    "FunctionPage",
    "function_shown",
    "page_on_get",
    "posted_change",
    "render_function_page",
    "section_read",
]

Shown = TypeVar("Shown")


class FunctionPage(Protocol):
    """A function's page, shown again after a refused change with the form as typed."""

    def __call__(
        self,
        console: Console,
        request: Request,
        session: Session,
        name: str,
        *,
        typed: dict[str, str] | None = None,
        typed_form: str = "",
        error: str | None = None,
        status: int = 200,
    ) -> Awaitable[Response]: ...


# The change an action makes with the form's fields: the page's section to show next, or
# the answer itself where the change leads elsewhere.
FunctionChange = Callable[
    [LambdaWire, Request, "Session", str, str, dict[str, str]], Awaitable[str | Response]
]


async def function_shown(
    console: Console,
    request: Request,
    session: Session,
    name: str,
    error: str | None,
    status: int,
) -> tuple[FunctionDetail | None, str | None, int]:
    """The function a page shows, and the page's refusal and status: none where this server
    serves no Lambda (404) or Lambda refuses GetFunction (an action's refusal, given as
    ``error``, shown first)."""
    return await page_read(
        console, request, console.functions,
        lambda wire: wire.function(request.scope, session.principal, name), None,
        absent=no_lambda, error=error, status=status,
    )  # fmt: skip


async def section_read(
    console: Console, request: Request, reading: Awaitable[Shown], nothing: Shown
) -> tuple[Shown, str]:
    """What a page's section shows, read as the signed-in principal, and ``""``; or
    ``nothing`` and Lambda's refusal, shown in the section while the others show theirs."""
    try:
        return await reading, ""
    except WireError as exc:
        return nothing, refusal(console, request, exc)[0]


def render_function_page(
    console: Console,
    request: Request,
    session: Session,
    template: str,
    name: str,
    function: FunctionDetail | None,
    *,
    action_url: str,
    typed: dict[str, str] | None,
    typed_form: str,
    error: str | None,
    status: int,
    **sections: Any,
) -> Response:
    """``template`` with what every function page shows alike (its title, the function, the
    form ``typed_form`` as typed after a refusal, the link to the function's main page and
    the address of its actions) and the page's own ``sections``."""
    _ = console.catalogue(request).gettext
    return console.render(
        request,
        template,
        session=session,
        status=status,
        title=f"{_('Function')} {name}",
        name=name,
        function=function,
        typed_form=typed_form,
        form=dict(typed or {}) if typed_form else {},
        function_href=function_url(name),
        action_url=action_url,
        error=error,
        **sections,
    )


def page_on_get(page: FunctionPage) -> Handler:
    """The GET of a function's ``page``, for a signed-in caller: the function its path names."""

    @signed_in
    async def shown(console: Console, request: Request, session: Session) -> Response:
        return await page(console, request, session, request.path_params.get("name", ""))

    return shown


async def posted_change(
    console: Console,
    request: Request,
    session: Session,
    *,
    page: FunctionPage,
    page_url: Callable[[str], str],
    actions: frozenset[str],
    max_fields: int,
    change: FunctionChange,
) -> Response:
    """One POST of a function's page: the change made, then the page at its section by a
    redirect (303); or the page again with Lambda's refusal and the form as typed."""
    name, action = request.path_params.get("name", ""), request.path_params.get("action", "")
    if action not in actions:
        return await page(console, request, session, name)
    fields = await console.form(request, session, max_fields=max_fields)
    if fields is None:
        return console.refused_form(request, session)
    wire = console.functions
    if wire is None:
        return await page(console, request, session, name)
    try:
        section = await change(wire, request, session, name, action, fields)
    except (FormFault, WireError) as exc:
        error, status = fault_or_refusal(console, request, exc)
        return await page(
            console, request, session, name, typed=fields, typed_form=action,
            error=error, status=status,
        )  # fmt: skip
    if isinstance(section, Response):
        return section
    return RedirectResponse(f"{page_url(name)}#{section}", status_code=303)
