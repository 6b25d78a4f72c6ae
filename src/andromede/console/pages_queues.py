"""SQS-style queues (decision 0158): list the account's queues with their type, encryption
and message counts (visible, in flight, delayed), create one, delete one after a ticked box.
Each queue's name links to its settings page (``pages_queue_settings``).

A queue is made standard or FIFO (decision 0164: the name given ``.fifo``, ``FifoQueue`` and,
ticked, ``ContentBasedDeduplication``), encrypted by SQS (SSE-SQS) or under a KMS key of the
account (decision 0165: ``KmsMasterKeyId``, chosen among the aliases and keys KMS lists to the
same principal — ``alias/aws/sqs`` always offered, the AWS managed key SQS makes on first use).

Every read and change is SQS's own call, made as the signed-in principal
(``wire_queues.SqsWire``), so its policies, checks and errors decide — a bad name, a FIFO
name on a standard queue, the account's queue limit — and it audits the changes as it audits
boto3's. A refused
creation shows the page again with the API's error and status, and the form as it was typed
(the flow of every list page: ``list_pages.ListPage``).

Decision 0419: the queues of the Region the address names (``?region=``, the console's own
by default; ``console.regions``), every call — the listing, the KMS keys offered, a creation
or a deletion — made in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.list_pages import ListPage
from andromede.console.wire_queues import QueueRow, SqsWire
from andromede.queues.sse import AWS_MANAGED_SQS_KEY_ALIAS

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "key_choices"]


def _texts(_: Callable[[str], str]) -> tuple[str, str]:
    return _("Queues"), _("This server serves no queues.")


def _wire(console: Console) -> SqsWire | None:
    return console.sqs


async def _rows(sqs: SqsWire, request: Request, session: Session) -> list[QueueRow]:
    return await sqs.list_queues(request.scope, session.principal)


async def key_choices(
    console: Console,
    request: Request,
    session: Session,
    managed_alias: str = AWS_MANAGED_SQS_KEY_ALIAS,
) -> list[tuple[str, str]]:
    """The KMS keys a queue's form offers: the account's aliases and keys as KMS lists them
    to the signed-in principal (none where KMS is not served or refuses), after the service's
    own alias (SQS's, or ``managed_alias``: SNS's for a topic's form, ``pages_topics``). Also
    the queue settings page's (``pages_queue_settings``)."""
    keys = [(managed_alias, managed_alias)]
    if console.kms is not None:
        listed = await console.kms.key_choices(
            request.scope, session.principal, limit=console.settings.console_page_size
        )
        keys.extend(choice for choice in listed if choice[0] != managed_alias)
    return keys


async def _choices(console: Console, request: Request, session: Session) -> dict[str, Any]:
    return {"kms_keys": await key_choices(console, request, session)}


def _attributes(f: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """CreateQueue's name and attributes from the form: a FIFO queue's name given its
    ``.fifo`` (unless typed), the encryption chosen (SSE-SQS when no key is)."""
    name, attributes = f.get("name", "").strip(), {}
    if f.get("queue_type") == "fifo":
        name = name if name.endswith(".fifo") else f"{name}.fifo"
        attributes["FifoQueue"] = "true"
        deduplication = f.get("content_based_deduplication") == "yes"
        attributes["ContentBasedDeduplication"] = "true" if deduplication else "false"
    kms_key = f.get("kms_key", "").strip()
    if kms_key:
        attributes["KmsMasterKeyId"] = kms_key
    else:
        attributes["SqsManagedSseEnabled"] = "true"
    return name, attributes


async def _create(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    name, attributes = _attributes(f)
    await sqs.create_queue(request.scope, session.principal, name, attributes)


async def _delete(sqs: SqsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sqs.delete_queue(request.scope, session.principal, f.get("queue_url", ""))


_PAGE: Final = ListPage(
    path="/queues",
    template="queues.html",
    rows_name="queues",
    wire=_wire,
    rows=_rows,
    texts=_texts,
    choices=_choices,
    regional=True,  # decision 0419: each declared Region's queues (decision 0414)
)
ROUTES: Final[list[tuple[str, Any, list[str]]]] = _PAGE.routes(create=_create, delete=_delete)
