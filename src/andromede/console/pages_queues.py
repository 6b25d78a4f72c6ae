"""SQS-style queues (decision 0158): list the account's queues with their message counts
(visible, in flight, delayed), create one, delete one after a ticked box.

Every read and change is SQS's own call, made as the signed-in principal
(``wire_queues.SqsWire``), so its policies, checks and errors decide — a bad name, a FIFO
name, the account's queue limit — and it audits the changes as it audits boto3's. A refused
creation shows the page again with the API's error and status, and the form as it was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_queues import QueueRow, SqsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_QUEUES_URL: Final = f"{CONSOLE_PATH}/queues"
_Change = Callable[[SqsWire, Request, "Session", Mapping[str, str]], Awaitable[None]]


async def _queues_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[QueueRow] = []
    if console.sqs is None:
        error, status = _("This server serves no queues."), 404
    else:
        try:
            rows = await console.sqs.list_queues(request.scope, session.principal)
        except WireError as exc:
            if error is None:
                error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "queues.html",
        session=session,
        status=status,
        title=_("Queues"),
        queues=rows,
        typed=typed or {},
        error=error,
    )


async def queues(console: Console, request: Request) -> Response:
    session = await console.session(request)
    if session is None:
        return console.to_login()
    return await _queues_page(console, request, session)


async def _create(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sqs.create_queue(request.scope, session.principal, f.get("name", "").strip())


async def _delete(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sqs.delete_queue(request.scope, session.principal, f.get("queue_url", ""))


def _action(change: _Change, *, confirmed: bool = False) -> Any:
    """A POST of the page: SQS's call, then a redirect (303); or the page again with its
    refusal and the form as typed. A ``confirmed`` action (a deletion) is sent only once the
    form's box is ticked; unticked, the page again (400) and nothing sent."""

    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        fields = await console.form(request, session)
        if fields is None:
            return console.refused_form(request, session)
        _ = console.catalogue(request).gettext
        if confirmed and fields.get("confirm") != "yes":
            return await _queues_page(
                console, request, session, error=_("Tick the box to confirm the deletion."),
                status=400,
            )  # fmt: skip
        if console.sqs is None:
            return await _queues_page(console, request, session)
        try:
            await change(console.sqs, request, session, fields)
        except WireError as exc:
            return await _queues_page(
                console, request, session, typed=fields,
                error=console.error_text(request, exc), status=exc.status,
            )  # fmt: skip
        return RedirectResponse(_QUEUES_URL, status_code=303)

    return handler


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/queues", queues, ["GET"]),
    ("/queues", _action(_create), ["POST"]),
    ("/queues/delete", _action(_delete, confirmed=True), ["POST"]),
]
