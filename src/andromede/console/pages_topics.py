"""Notification topics (decision 0132): list the account's topics with their push endpoint
and opaque data, create one, delete one after a ticked box. A bucket's settings page names
them in its event notification rules (``pages_bucket_settings``).

Every read and change is the SNS-style API's own call, made as the signed-in principal
(``wire_topics.SnsWire``), so its policies, checks and errors decide — an endpoint with
credentials in it, an AMQP endpoint, a bad name, the account's topic limit — and it audits the
changes as it audits boto3's. A refused creation shows the page again with the API's error and
status, and the form as it was typed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_topics import OPAQUE_DATA, PUSH_ENDPOINT, SnsWire, TopicRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

_TOPICS_URL: Final = f"{CONSOLE_PATH}/topics"
# A change: the API's call with the form's fields.
_Change = Callable[[SnsWire, Request, "Session", Mapping[str, str]], Awaitable[None]]


async def _topics_page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Mapping[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    _ = console.catalogue(request).gettext
    rows: list[TopicRow] = []
    if console.sns is None:
        error, status = _("This server serves no notification topics."), 404
    else:
        try:
            rows = await console.sns.list_topics(request.scope, session.principal)
        except WireError as exc:
            if error is None:
                error, status = console.error_text(request, exc), exc.status
    return console.render(
        request,
        "topics.html",
        session=session,
        status=status,
        title=_("Notification topics"),
        topics=rows,
        typed=typed or {},
        error=error,
    )


async def topics(console: Console, request: Request) -> Response:
    session = await console.session(request)
    if session is None:
        return console.to_login()
    return await _topics_page(console, request, session)


async def _create(sns: SnsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sns.create_topic(
        request.scope,
        session.principal,
        f.get("name", "").strip(),
        {PUSH_ENDPOINT: f.get("push_endpoint", "").strip(), OPAQUE_DATA: f.get("opaque_data", "")},
    )


async def _delete(sns: SnsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sns.delete_topic(request.scope, session.principal, f.get("topic_arn", ""))


def _action(change: _Change, *, confirmed: bool = False) -> Any:
    """A POST of the page: the API's call, then a redirect (303); or the page again with the
    API's refusal and the form as typed. A ``confirmed`` action (a deletion) is sent only once
    the form's box is ticked; unticked, the page again (400) and nothing sent."""

    async def handler(console: Console, request: Request) -> Response:
        session = await console.session(request)
        if session is None:
            return console.to_login()
        fields = await console.form(request, session)
        if fields is None:
            return console.refused_form(request, session)
        _ = console.catalogue(request).gettext
        if confirmed and fields.get("confirm") != "yes":
            return await _topics_page(
                console, request, session, error=_("Tick the box to confirm the deletion."),
                status=400,
            )  # fmt: skip
        if console.sns is None:
            return await _topics_page(console, request, session)
        try:
            await change(console.sns, request, session, fields)
        except WireError as exc:
            return await _topics_page(
                console, request, session, typed=fields,
                error=console.error_text(request, exc), status=exc.status,
            )  # fmt: skip
        return RedirectResponse(_TOPICS_URL, status_code=303)

    return handler


ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/topics", topics, ["GET"]),
    ("/topics", _action(_create), ["POST"]),
    ("/topics/delete", _action(_delete, confirmed=True), ["POST"]),
]
