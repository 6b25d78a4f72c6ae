"""SQS-style queues (decision 0158): list the account's queues with their message counts
(visible, in flight, delayed), create one, delete one after a ticked box.

Every read and change is SQS's own call, made as the signed-in principal
(``wire_queues.SqsWire``), so its policies, checks and errors decide — a bad name, a FIFO
name, the account's queue limit — and it audits the changes as it audits boto3's. A refused
creation shows the page again with the API's error and status, and the form as it was typed
(the flow of every list page: ``list_pages.ListPage``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.list_pages import ListPage
from andromede.console.wire_queues import QueueRow, SqsWire

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]


def _texts(_: Callable[[str], str]) -> tuple[str, str]:
    return _("Queues"), _("This server serves no queues.")


def _wire(console: Console) -> SqsWire | None:
    return console.sqs


async def _rows(sqs: SqsWire, request: Request, session: Session) -> list[QueueRow]:
    return await sqs.list_queues(request.scope, session.principal)


async def _create(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sqs.create_queue(request.scope, session.principal, f.get("name", "").strip())


async def _delete(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sqs.delete_queue(request.scope, session.principal, f.get("queue_url", ""))


_PAGE: Final = ListPage(
    path="/queues",
    template="queues.html",
    rows_name="queues",
    wire=_wire,
    rows=_rows,
    texts=_texts,
)
ROUTES: Final[list[tuple[str, Any, list[str]]]] = _PAGE.routes(create=_create, delete=_delete)
