"""The shapes Publish's service shares with the delivery worker and the wiring (decision
0163): the subscriber queues and signing keys it is given, its limits, a queued message to a
subscriber (:func:`queued_content` as queued, :class:`Delivery` as sent) and Publish's
answer."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from andromede.notifications.deliverypolicy import EffectivePolicy, RetryPolicy
from andromede.notifications.envelope import SigningKey
from andromede.notifications.subscriptions import Subscription

__all__ = [
    "Delivery",
    "Outgoing",
    "PubSubLimits",
    "Published",
    "SigningKeys",
    "SubscriberQueues",
    "queued_content",
]

_PLATFORM_RETRY = RetryPolicy(2, 3600, 9, backoff="exponential")


class SubscriberQueues(Protocol):
    """The platform's SQS-style queues as subscribers (decision 0158)."""

    async def may_subscribe(self, tenant_id: str, queue_arn: str, *, fifo: bool = False) -> bool:
        """Whether ``queue_arn`` is an existing queue of ``tenant_id`` in this region, a FIFO
        queue when ``fifo`` (a FIFO topic's) and a standard one otherwise."""

    async def send(
        self,
        owner: str,
        queue_arn: str,
        body: str,
        attributes: Mapping[str, tuple[str, str]] | None = None,
        *,
        topic_arn: str,
        group_id: str | None = None,
        dedup_id: str | None = None,
        trace: str | None = None,
    ) -> bool:
        """Send ``body`` (with SQS message ``attributes``: name → (DataType, value)), from
        ``topic_arn``'s subscription of ``owner``; False when it never can be (the queue
        gone, or of another account than the topic's and its policy not letting SNS send
        from this topic). ``group_id``, ``dedup_id``: a FIFO topic's message's (decision
        0171), for a FIFO queue. ``trace``: the publisher's trace header, the message's
        ``AWSTraceHeader`` (decision 0336)."""


class SigningKeys(Protocol):
    async def key(self) -> SigningKey: ...


@dataclass(frozen=True, slots=True)
class PubSubLimits:
    base_url: str  # the shared endpoint as subscribers reach it (SubscribeURL, certificate)
    max_subscriptions: int = 12_500_000
    max_message_size: int = 256 * 1024
    queue_bound: int = 100_000
    # sns_pending_subscription_ttl: an unconfirmed subscription's life.
    pending_ttl: timedelta = timedelta(days=3)
    # The platform's retry schedule in SNS's terms, shown as a subscription's
    # EffectiveDeliveryPolicy when no DeliveryPolicy applies.
    default_retry: RetryPolicy = _PLATFORM_RETRY
    # Whether the operator set an SMTP relay (sns_smtp_host): email subscriptions taken.
    email: bool = False
    # sns_email_confirmation_resend_interval: the least time between two confirmations
    # mailed to one pending email subscription (decision 0180's addendum).
    confirmation_resend: timedelta = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A queued message to a subscriber: what the worker sends."""

    subscription: Subscription
    body: str
    headers: Mapping[str, str]
    # A raw message's attributes, which an sqs subscription passes on as SQS's (as SNS).
    attributes: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    # An http(s) subscription's DeliveryPolicy (its own or its topic's); None: the
    # platform's schedule.
    policy: EffectivePolicy | None = None
    # A FIFO topic's message's group and deduplication ids (decision 0171).
    group_id: str | None = None
    dedup_id: str | None = None
    # The topic's DisplayName when sent (the From name of a mail, decision 0180's addendum).
    display_name: str | None = None
    # The topic's delivery status logging attributes (decision 0212), and when the message
    # was queued (the status log's dwell time; None: queued before decision 0212).
    feedback: Mapping[str, str] = dataclasses.field(default_factory=dict)
    queued_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on its way to a topic's subscriptions (published, or replayed), as
    ``notifications.pubsub`` builds each subscription's notification of it."""

    message_id: str
    message: str
    subject: str | None
    attributes: Mapping[str, tuple[str, str]]
    structure: str | None
    timestamp: datetime
    # A FIFO topic's message's ((group id, deduplication id), sequence number).
    fifo: tuple[tuple[str, str], str] | None = None
    replayed: bool = False
    # The publisher's X-Amzn-Trace-Id, queued with each delivery (decision 0336).
    trace: str | None = None


@dataclass(frozen=True, slots=True)
class Published:
    """Publish's answer: the message id, and a FIFO topic's sequence number."""

    message_id: str
    sequence_number: str | None = None


def queued_content(
    subscription: Subscription,
    body: str,
    kind: str,
    message_id: str,
    at: datetime,
    attributes: Mapping[str, tuple[str, str]] | None = None,
    ids: tuple[str, str] | None = None,
) -> str:
    """What is queued for one subscription (before its topic's key seals it): the body, its
    ``x-amz-sns-*`` headers, when it was queued (the status log's dwell time, decision
    0212), a raw message's attributes and a FIFO topic's ids (customer data, sealed with
    the body)."""
    headers = {
        "x-amz-sns-message-type": kind,
        "x-amz-sns-message-id": message_id,
        "x-amz-sns-topic-arn": subscription.topic_arn,
    }
    if kind == "Notification":
        headers["x-amz-sns-subscription-arn"] = subscription.arn
    if subscription.raw:
        headers["x-amz-sns-rawdelivery"] = "true"
    content: dict[str, object] = {"body": body, "headers": headers, "at": at.isoformat()}
    if attributes:
        content["attributes"] = {name: list(pair) for name, pair in attributes.items()}
    if ids is not None:
        content["group"], content["dedup"] = ids
    return json.dumps(content, separators=(",", ":"))
