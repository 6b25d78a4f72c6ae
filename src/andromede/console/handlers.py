"""The console's page-handler plumbing (decision 0195): what every page's handler did first and
last, written once.

A route's handler is ``handler(console, request)`` (``app._routes`` hands it the console of the
request's scope). A page module writes its view without that preamble and wraps it:

- ``signed_in``: a request with a session; without one, the sign-in page (303).
- ``posted``: a form sent with a session and the session's CSRF token; without a session,
  the sign-in page (303); without the token, the form refused (403), nothing done. Past its
  ``max_fields`` fields a form is not read (the app answers 400).
- ``action``: a posted form that makes one API call as the signed-in principal, then goes on
  (303); the API's refusal (its text in the reader's language, its status) shows the page
  again with the fields as typed. A ``confirmed`` action (a deletion) is sent only once its
  box is ticked; unticked, the page again (400), nothing sent. Where the server does not
  serve the API, the page again (it says so).
- ``FormFault``: a form a page refuses before any call (its words, translated), which the
  page shows as it shows an API's refusal.
- ``refusal``: an API's refusal as a page shows it, its text and its status;
  ``first_refusal``: the same for a page's reading, unless the page shows an action's.
- ``page_read``: what a page shows, read through its API as the signed-in principal, with
  the page's refusal and status: the API's absence (404), else its refusal of the reading
  (after an action's, ``first_refusal``); ``typed_form``: one refused form's fields.

The views keep the console's one calling convention, ``(console, request, session)``, that
the pages' own render functions already take, with the checked ``fields`` for a form.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.i18n import catalogue, choose_locale
from andromede.console.session import LANGUAGE_COOKIE
from andromede.console.wire import WireError

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = [
    "Change",
    "Form",
    "FormFault",
    "FormView",
    "Handler",
    "Page",
    "Typed",
    "View",
    "action",
    "first_refusal",
    "page_read",
    "posted",
    "refusal",
    "signed_in",
    "typed_form",
    "words",
]

W = TypeVar("W")
R = TypeVar("R")

Form = dict[str, str]  # a form's fields, its CSRF token checked
Typed = Mapping[str, Mapping[str, str]]  # a refused form's fields as typed, by the form's name
Handler = Callable[["Console", Request], Awaitable[Response]]
View = Callable[["Console", Request, "Session"], Awaitable[Response]]
FormView = Callable[["Console", Request, "Session", Form], Awaitable[Response]]
# A change: the API's call with the form's fields, answering where the browser goes next.
Change = Callable[[W, Request, "Session", Form], Awaitable[str]]


class FormFault(Exception):
    """A form the page refuses before any call, its ``message`` in the reader's language
    (a value typed both ways, a retention not offered); 400 unless said otherwise."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class Page(Protocol):
    """A page shown again after a form: with the API's refusal (``error``, ``status``) and
    the fields typed in the refused form (``typed``, by the form's name; a page whose forms
    are only buttons takes them and shows nothing of them)."""

    def __call__(
        self,
        console: Console,
        request: Request,
        session: Session,
        *,
        typed: Typed | None = ...,
        error: str | None = ...,
        status: int = ...,
    ) -> Awaitable[Response]: ...


def words(request: Request) -> Callable[[str], str]:
    """The reader's catalogue's ``gettext``, for a change's ``FormFault`` (a change is given
    the API, not the console)."""
    chosen = choose_locale(
        request.cookies.get(LANGUAGE_COOKIE), request.headers.get("accept-language", "")
    )
    return catalogue(chosen).gettext


def refusal(console: Console, request: Request, exc: WireError) -> tuple[str, int]:
    """The API's refusal as a page shows it: its text in the reader's language, its status."""
    return console.error_text(request, exc), exc.status


def fault_or_refusal(
    console: Console, request: Request, exc: WireError | FormFault
) -> tuple[str, int]:
    """What a page shows of a POST refused: the form's fault (already in the reader's
    language) or the API's refusal, and its status."""
    if isinstance(exc, FormFault):
        return exc.message, exc.status
    return refusal(console, request, exc)


def first_refusal(
    console: Console, request: Request, exc: WireError, error: str | None, status: int
) -> tuple[str | None, int]:
    """The refusal a page shows: the one it was given (an action's, shown before any of its
    own reading's), else the API's refusal of its reading."""
    return (error, status) if error is not None else refusal(console, request, exc)


async def page_read(
    console: Console,
    request: Request,
    wire: W | None,
    read: Callable[[W], Awaitable[R]],
    nothing: R,
    *,
    absent: Callable[[Console, Request], tuple[str, int]],
    error: str | None,
    status: int,
) -> tuple[R, str | None, int]:
    """What a page shows, ``read`` through its API ``wire`` (None where the server does not
    serve it), and the page's refusal and status: ``nothing`` and ``absent``'s words (404)
    where the API is not served; ``nothing`` and the API's refusal where it refuses the
    reading, unless the page shows an action's refusal (``error``) already."""
    if wire is None:
        return nothing, *absent(console, request)
    try:
        return await read(wire), error, status
    except WireError as exc:
        return nothing, *first_refusal(console, request, exc, error, status)


def typed_form(typed: Typed | None, form: str) -> dict[str, str]:
    """The fields of the refused form ``form`` as typed; none when another form (or none)
    was refused."""
    return dict((typed or {}).get(form, {}))


def signed_in(view: View) -> Handler:
    """``view`` for a signed-in caller; the sign-in page for anyone else."""

    @wraps(view)
    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        return await view(console, request, session)

    return handler


def posted(*, max_fields: int = 16) -> Callable[[FormView], Handler]:
    """``view`` given a signed-in caller's form once its CSRF token is the session's."""

    def wrap(view: FormView) -> Handler:
        @signed_in
        @wraps(view)
        async def checked(console: Console, request: Request, session: Session) -> Response:
            fields = await console.form(request, session, max_fields=max_fields)
            if fields is None:
                return console.refused_form(request, session)
            return await view(console, request, session, fields)

        return checked

    return wrap


def action(
    page: Page,
    change: Change[W],
    *,
    wire: Callable[[Console], W | None],
    form: str | Callable[[Form], str] = "",
    max_fields: int = 16,
    confirmed: bool = False,
) -> Handler:
    """A POST of ``page``'s: ``change`` made with the API ``wire`` gives (None: not served),
    then a redirect (303) to where it answers; or ``page`` again with the API's refusal (or
    the ``FormFault`` ``change`` raised before calling, ``words`` translating it) and,
    when the post was the ``form`` of that name (a function of the fields where a page has one
    such form per row), its fields as typed. A ``confirmed`` action (a deletion) is sent only
    once the form's box is ticked (``confirm=yes``); unticked, the page again (400) and nothing
    sent."""

    @posted(max_fields=max_fields)
    async def handler(
        console: Console, request: Request, session: Session, fields: Form
    ) -> Response:
        if confirmed and fields.get("confirm") != "yes":
            _ = console.catalogue(request).gettext
            return await page(
                console, request, session, error=_("Tick the box to confirm the deletion."),
                status=400,
            )  # fmt: skip
        api = wire(console)
        if api is None:
            return await page(console, request, session)
        try:
            target = await change(api, request, session, fields)
        except (WireError, FormFault) as exc:
            error, status = fault_or_refusal(console, request, exc)
            name = form(fields) if callable(form) else form
            return await page(
                console, request, session, typed={name: fields} if name else {},
                error=error, status=status,
            )  # fmt: skip
        return RedirectResponse(target, status_code=303)

    return handler
