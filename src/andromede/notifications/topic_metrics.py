"""SNS's own CloudWatch metrics of a topic (decision 0221), into the topic's account's
``AWS/SNS`` namespace with dimension ``TopicName``, as SNS gives them:

- ``NumberOfMessagesPublished`` (Count) and ``PublishSize`` (Bytes, the message's UTF-8
  size) for each message a topic took: Publish, each PublishBatch entry, and the platform's
  own (alarms, S3 events, Auto Scaling notifications);
- ``NumberOfNotificationsFilteredOut`` and its ``-MessageAttributes``/``-MessageBody``
  part for each subscription whose filter policy turned a message away, or, instead,
  ``-NoMessageAttributes`` (an attribute-scoped policy, a message without attributes),
  ``-InvalidAttributes`` (a ``String.Array`` attribute that is not a JSON array) or
  ``-InvalidMessageBody`` (a body-scoped policy, a body that is not JSON);
- ``NumberOfNotificationsDelivered`` and ``NumberOfNotificationsFailed`` as the delivery
  worker settles each notification (a confirmation is no notification), and
  ``NumberOfNotificationsRedrivenToDlq``/``…FailedToRedriveToDlq`` for each one given up
  toward a subscription's dead-letter queue.

Counted through a :class:`MetricRecorder` (the platform's buffered sink, set by the
wiring: one datum per event, summed per minute there, never a write on Publish's path);
none set, nothing is counted. Like the other observers, a recorder that fails is logged
and never fails a Publish or a delivery.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Final

from andromede.notifications.model import parse_topic_arn
from andromede.notifications.protected_messages import NAMESPACE, MetricRecorder
from andromede.notifications.pubsub_types import Delivery
from andromede.notifications.subscriptions import Subscription

__all__ = ["TopicMetrics", "filtered_out_metrics"]

log = logging.getLogger(__name__)

FILTERED_OUT: Final = "NumberOfNotificationsFilteredOut"


def filtered_out_metrics(
    subscription: Subscription, message: str, attributes: Mapping[str, tuple[str, str]]
) -> tuple[str, ...]:
    """The metrics a message its subscription's filter policy turned away counts in."""
    if subscription.filter_scope == "MessageBody":
        try:
            json.loads(message)
        except ValueError:
            return (f"{FILTERED_OUT}-InvalidMessageBody",)
        return (FILTERED_OUT, f"{FILTERED_OUT}-MessageBody")
    if not attributes:
        return (f"{FILTERED_OUT}-NoMessageAttributes",)
    for kind, value in attributes.values():
        if kind == "String.Array" and not _json_array(value):
            return (f"{FILTERED_OUT}-InvalidAttributes",)
    return (FILTERED_OUT, f"{FILTERED_OUT}-MessageAttributes")


def _json_array(value: str) -> bool:
    try:
        return isinstance(json.loads(value), list)
    except ValueError:
        return False


class TopicMetrics:
    def __init__(self) -> None:
        self.recorder: MetricRecorder | None = None  # set by the wiring

    def _count(self, topic_arn: str, name: str, value: float = 1, unit: str = "Count") -> None:
        recorder = self.recorder
        if recorder is None:
            return
        _, account, topic_name = parse_topic_arn(topic_arn)
        try:
            recorder.record(account, NAMESPACE, name, [("TopicName", topic_name)], value, unit)
        except Exception:  # an observer: the message stands whatever happens here
            log.exception("sns metric %s of %s not recorded", name, topic_arn)

    def published(self, topic_arn: str, message: str) -> None:
        self._count(topic_arn, "NumberOfMessagesPublished")
        self._count(topic_arn, "PublishSize", len(message.encode()), "Bytes")

    def filtered_out(
        self, subscription: Subscription, message: str, attributes: Mapping[str, tuple[str, str]]
    ) -> None:
        for name in filtered_out_metrics(subscription, message, attributes):
            self._count(subscription.topic_arn, name)

    def settled(self, delivery: Delivery, delivered: bool) -> None:
        """A notification delivered, or given up after its retries."""
        if _is_notification(delivery):
            name = "NumberOfNotificationsDelivered" if delivered else "NumberOfNotificationsFailed"
            self._count(delivery.subscription.topic_arn, name)

    def redriven(self, delivery: Delivery, sent: bool) -> None:
        """A notification given up, sent to its dead-letter queue or not."""
        if _is_notification(delivery):
            name = "RedrivenToDlq" if sent else "FailedToRedriveToDlq"
            self._count(delivery.subscription.topic_arn, f"NumberOfNotifications{name}")


def _is_notification(delivery: Delivery) -> bool:
    return delivery.headers.get("x-amz-sns-message-type") == "Notification"
