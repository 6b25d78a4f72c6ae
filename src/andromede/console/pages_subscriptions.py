"""A notification topic's page (decision 0163; decision 0111, sessions 47 and 52): its key
(``KmsMasterKeyId``, decision 0212) shown and changed among the account's keys and SNS's
``alias/aws/sns``, its message data protection policy shown (decision 0215), and its
subscriptions: the page lists them (protocol, endpoint, owner, filter policy and its scope; one
awaiting its confirmation shown as such, with nothing to act on yet, as SNS gives it no ARN),
subscribes a queue of the account (chosen among those SQS lists to the user), an https
endpoint or a Firehose delivery stream of the account as one of its roles, raw or not
(decision 0226; the streams and roles as Firehose and IAM list them to the user), with a
filter policy; sets a subscription's filter policy; unsubscribes after a
ticked box.

Every read and change is SNS's own call, made as the signed-in principal
(``wire_topics.SnsWire``), so its policies, checks and errors decide — an endpoint that is not
an https URL, a FIFO queue on a standard topic, a filter policy that is not one — and it
audits the changes as it audits boto3's. A refused change shows the page again with SNS's
error and status, and the form as it was typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from andromede.console.handlers import Form, Typed, action, first_refusal, signed_in
from andromede.console.pages_firehose import role_choices, stream_choices
from andromede.console.pages_topics import topic_key_choices
from andromede.console.session import CONSOLE_PATH
from andromede.console.wire import WireError
from andromede.console.wire_iam import RoleRow
from andromede.console.wire_queues import QueueRow
from andromede.console.wire_topics import KMS_MASTER_KEY_ID, SnsWire, SubscriptionRow, TopicRow

if TYPE_CHECKING:
    from andromede.console.app import Console, Session

__all__ = ["ROUTES"]

FILTER_POLICY: Final = "FilterPolicy"
FILTER_POLICY_SCOPE: Final = "FilterPolicyScope"
SUBSCRIPTION_ROLE_ARN: Final = "SubscriptionRoleArn"
RAW_MESSAGE_DELIVERY: Final = "RawMessageDelivery"


def _topic_url(name: str) -> str:
    return f"{CONSOLE_PATH}/topics/{quote(name, safe='')}"


async def _topic_arn(sns: SnsWire, request: Request, session: Session) -> str:
    """The ARN of the caller's topic named in the path; SNS's own NotFound for none."""
    name = request.path_params["name"]
    arns = await sns.topic_arns(request.scope, session.principal)
    found = next((arn for arn in arns if arn.rsplit(":", 1)[-1] == name), None)
    if found is None:
        raise WireError("NotFound", "Topic does not exist", 404)
    return found


async def _page(
    console: Console,
    request: Request,
    session: Session,
    *,
    typed: Typed | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The topic's subscriptions, the subscribe form and each filter form (as typed after a
    refusal: ``typed`` by the form's name, a filter form's by its subscription's ARN)."""
    _ = console.catalogue(request).gettext
    name = request.path_params["name"]
    arn = ""
    rows: list[SubscriptionRow] = []
    queues: list[QueueRow] = []
    topic: TopicRow | None = None
    protection, protection_error = "", ""
    keys: list[tuple[str, str]] = []
    streams: list[tuple[str, str]] = []
    roles: list[RoleRow] = []
    if console.sns is None:
        error, status = _("This server serves no notification topics."), 404
    else:
        try:
            arn = await _topic_arn(console.sns, request, session)
            rows = await console.sns.subscriptions(request.scope, session.principal, arn)
        except WireError as exc:
            error, status = first_refusal(console, request, exc, error, status)
        if arn:
            topic = await console.sns.topic(request.scope, session.principal, arn)
            keys = await topic_key_choices(console, request, session)
            try:
                protection = await console.sns.data_protection_policy(
                    request.scope, session.principal, arn
                )
            except WireError as exc:  # the policy's section says so; the rest is shown
                protection_error = console.error_text(request, exc)
        if arn and console.sqs is not None:
            # Only the form's choices: Subscribe decides (a queue of the other type, or one
            # that is not the caller's, is SNS's refusal).
            try:
                queues = [
                    q
                    for q in await console.sqs.list_queues(request.scope, session.principal)
                    if q.arn
                ]
            except WireError:
                queues = []
        if arn:  # a firehose subscription's choices, as the user may list them
            streams = await stream_choices(console, request, session)
            roles = await role_choices(console, request, session)
    return console.render(
        request,
        "topic.html",
        session=session,
        status=status,
        title=f"{_('Notification topic')} {name}",
        name=name,
        topic_arn=arn,
        subscriptions=rows,
        queues=queues,
        streams=streams,
        roles=roles,
        topic=topic,
        kms_keys=keys,
        protection=_indented(protection),
        protection_error=protection_error,
        typed=typed or {},
        error=error,
    )


topic_page = signed_in(_page)


def _indented(document: str) -> str:
    """A policy document indented for reading; as given when it is not JSON."""
    try:
        return json.dumps(json.loads(document), indent=2, ensure_ascii=False)
    except ValueError:
        return document


async def _set_key(sns: SnsWire, request: Request, session: Session, f: Form) -> str:
    """SetTopicAttributes ``KmsMasterKeyId``: the key chosen, or none (an empty value)."""
    arn = await _topic_arn(sns, request, session)
    key = f.get("kms_key", "").strip()
    await sns.set_topic_attribute(request.scope, session.principal, arn, KMS_MASTER_KEY_ID, key)
    return _topic_url(request.path_params["name"])


_ENDPOINT_FIELDS: Final = {"sqs": "queue_arn", "firehose": "stream_arn"}


def _subscription(f: Mapping[str, str]) -> tuple[str, str, dict[str, str]]:
    """Subscribe's protocol, endpoint and attributes from the form: a queue's ARN for sqs,
    a delivery stream's with its role for firehose, the URL or address typed for the others;
    raw delivery when ticked."""
    protocol = f.get("protocol", "").strip()
    endpoint = f.get(_ENDPOINT_FIELDS.get(protocol, "endpoint"), "").strip()
    attributes = {FILTER_POLICY: f.get("filter_policy", "").strip()}
    if protocol == "firehose":
        attributes[SUBSCRIPTION_ROLE_ARN] = f.get("role_arn", "").strip()
    if f.get("raw") == "yes":  # any protocol: SNS refuses it where it means nothing (email)
        attributes[RAW_MESSAGE_DELIVERY] = "true"
    if attributes[FILTER_POLICY]:
        attributes[FILTER_POLICY_SCOPE] = f.get("filter_policy_scope", "").strip()
    return protocol, endpoint, attributes


async def _subscribe(sns: SnsWire, request: Request, session: Session, f: Form) -> str:
    arn = await _topic_arn(sns, request, session)
    protocol, endpoint, attributes = _subscription(f)
    await sns.subscribe(request.scope, session.principal, arn, protocol, endpoint, attributes)
    return _topic_url(request.path_params["name"])


async def _set_filter(sns: SnsWire, request: Request, session: Session, f: Form) -> str:
    """The filter policy, then its scope where the form changed it (an empty policy: none)."""
    arn, policy = f.get("subscription_arn", ""), f.get("filter_policy", "").strip()
    origin, principal = request.scope, session.principal
    await sns.set_subscription_attribute(origin, principal, arn, FILTER_POLICY, policy)
    scope = f.get("filter_policy_scope", "").strip()
    if policy and scope and scope != f.get("scope_was", ""):
        await sns.set_subscription_attribute(origin, principal, arn, FILTER_POLICY_SCOPE, scope)
    return _topic_url(request.path_params["name"])


async def _unsubscribe(sns: SnsWire, request: Request, session: Session, f: Form) -> str:
    await sns.unsubscribe(request.scope, session.principal, f.get("subscription_arn", ""))
    return _topic_url(request.path_params["name"])


def _sns(console: Console) -> SnsWire | None:
    return console.sns


def _filter_form(f: Form) -> str:
    """A subscription's filter form is one per row: its fields shown again under its ARN."""
    return f.get("subscription_arn", "")


# Each POST is SNS's call, then the topic's page (303), or the page again with SNS's refusal
# and the form as typed (``handlers.action``); an unsubscription only once its box is ticked.
ROUTES: Final[list[tuple[str, Any, list[str]]]] = [
    ("/topics/{name}", topic_page, ["GET"]),
    ("/topics/{name}/encryption", action(_page, _set_key, wire=_sns, form="encryption"), ["POST"]),
    ("/topics/{name}/subscribe", action(_page, _subscribe, wire=_sns, form="subscribe"), ["POST"]),
    ("/topics/{name}/filter", action(_page, _set_filter, wire=_sns, form=_filter_form), ["POST"]),
    (
        "/topics/{name}/unsubscribe",
        action(_page, _unsubscribe, wire=_sns, form="unsubscribe", confirmed=True),
        ["POST"],
    ),
]
