"""Notification topics (decision 0132): list the account's topics with their push endpoint, opaque
data and key, create one (under a KMS key of the account's or SNS's ``alias/aws/sns`` when one
is chosen: ``KmsMasterKeyId``, decision 0212), delete one after a ticked box. A bucket's
settings page names them in its event notification rules (``pages_bucket_settings``); each
topic's name links to its subscriptions (``pages_subscriptions``).

Every read and change is the SNS-style API's own call, made as the signed-in principal
(``wire_topics.SnsWire``), so its policies, checks and errors decide — an endpoint with
credentials in it, an AMQP endpoint, a bad name, the account's topic limit — and it audits the
changes as it audits boto3's. A refused creation shows the page again with the API's error and
status, and the form as it was typed (the flow of every list page: ``list_pages.ListPage``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from starlette.requests import Request

from andromede.console.list_pages import ListPage
from andromede.console.pages_queues import key_choices
from andromede.console.wire_topics import (
    KMS_MASTER_KEY_ID,
    OPAQUE_DATA,
    PUSH_ENDPOINT,
    SnsWire,
    TopicRow,
)
from andromede.notifications.topic_keys import AWS_MANAGED_SNS_KEY

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES", "topic_key_choices"]


def _texts(_: Callable[[str], str]) -> tuple[str, str]:
    return _("Notification topics"), _("This server serves no notification topics.")


def _wire(console: Console) -> SnsWire | None:
    return console.sns


async def _rows(sns: SnsWire, request: Request, session: Session) -> list[TopicRow]:
    return await sns.list_topics(request.scope, session.principal)


async def topic_key_choices(
    console: Console, request: Request, session: Session
) -> list[tuple[str, str]]:
    """The keys a topic's forms offer: SNS's ``alias/aws/sns``, then the account's (also the
    topic's page's, ``pages_subscriptions``)."""
    return await key_choices(console, request, session, AWS_MANAGED_SNS_KEY)


async def _choices(console: Console, request: Request, session: Session) -> dict[str, Any]:
    return {"kms_keys": await topic_key_choices(console, request, session)}


async def _create(sns: SnsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sns.create_topic(
        request.scope,
        session.principal,
        f.get("name", "").strip(),
        {
            PUSH_ENDPOINT: f.get("push_endpoint", "").strip(),
            OPAQUE_DATA: f.get("opaque_data", ""),
            KMS_MASTER_KEY_ID: f.get("kms_key", "").strip(),
        },
    )


async def _delete(sns: SnsWire, request: Request, session: Session, f: Mapping[str, str]) -> None:
    await sns.delete_topic(request.scope, session.principal, f.get("topic_arn", ""))


_PAGE: Final = ListPage(
    path="/topics",
    template="topics.html",
    rows_name="topics",
    wire=_wire,
    rows=_rows,
    texts=_texts,
    choices=_choices,
)
ROUTES: Final[list[tuple[str, Any, list[str]]]] = _PAGE.routes(create=_create, delete=_delete)
