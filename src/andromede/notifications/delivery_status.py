"""SNS's delivery status logs (decision 0212): each delivery of a topic whose
``<P>SuccessFeedbackRoleArn`` / ``<P>FailureFeedbackRoleArn`` is set (``feedback``) written,
as that role, into the account's CloudWatch Logs group ``sns/<region>/<account>/<topic>``
(successes, sampled at ``<P>SuccessFeedbackSampleRate`` percent) or
``sns/<region>/<account>/<topic>/Failure`` (every delivery given up), in AWS's JSON::

    {"notification": {"messageMD5Sum", "messageId", "topicArn", "timestamp"},
     "delivery": {"deliveryId", "destination", "providerResponse", "dwellTimeMs",
                  "attempts", "statusCode"},
     "status": "SUCCESS" | "FAILURE"}

One stream per subscription (its UUID). What the role may not write, or a Logs service that
fails, is logged by the platform and never changes the delivery's outcome: status logging is
an observer, as on AWS. The writing is behind :class:`StatusLogs` (``wiring``: the Logs
service, as the role, through the platform's role machinery).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from andromede.notifications.feedback import feedback_role, sample_rate
from andromede.notifications.model import parse_topic_arn
from andromede.notifications.pubsub_types import Delivery

__all__ = ["DeliveryOutcome", "DeliveryStatusLogger", "StatusLogs", "log_group", "status_record"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """How one delivery ended: delivered (``success``), or given up."""

    success: bool
    status_code: int | None
    provider_response: str
    attempts: int
    at: datetime


class StatusLogs(Protocol):
    async def write(
        self, tenant_id: str, role_arn: str, group: str, stream: str, event: tuple[int, str]
    ) -> str | None:
        """One (timestamp in ms, message) event into the tenant's ``group`` as ``role_arn``;
        None, or why it was not written (``Access error``…)."""


def log_group(topic_arn: str, success: bool) -> str:
    region, account, name = parse_topic_arn(topic_arn)
    group = f"sns/{region}/{account}/{name}"
    return group if success else f"{group}/Failure"


def _message_of(delivery: Delivery) -> str:
    """The published message (a signed envelope's ``Message``, or the raw body)."""
    if delivery.subscription.raw:
        return delivery.body
    try:
        return str(json.loads(delivery.body)["Message"])
    except (ValueError, KeyError, TypeError):
        return delivery.body


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{at.microsecond // 1000:03d}"


def status_record(delivery: Delivery, outcome: DeliveryOutcome) -> str:
    subscription = delivery.subscription
    queued = delivery.queued_at or outcome.at
    dwell = max(0, int((outcome.at - queued).total_seconds() * 1000))
    destination = subscription.endpoint
    if subscription.protocol in ("http", "https"):
        # Never the endpoint's path or query (a tenant may put a token there), as the
        # platform's own logs: its scheme and host.
        parts = urlsplit(destination)
        port = "" if parts.port is None else f":{parts.port}"
        destination = f"{parts.scheme}://{parts.hostname}{port}"
    record = {
        "notification": {
            "messageMD5Sum": hashlib.md5(  # AWS's field, not a protection
                _message_of(delivery).encode(), usedforsecurity=False
            ).hexdigest(),
            "messageId": delivery.headers.get("x-amz-sns-message-id", ""),
            "topicArn": subscription.topic_arn,
            "timestamp": _stamp(queued),
        },
        "delivery": {
            "deliveryId": str(uuid.uuid4()),
            "destination": destination,
            "providerResponse": outcome.provider_response,
            "dwellTimeMs": dwell,
            "attempts": outcome.attempts,
            "statusCode": outcome.status_code,
        },
        "status": "SUCCESS" if outcome.success else "FAILURE",
    }
    return json.dumps(record, separators=(",", ":"))


class DeliveryStatusLogger:
    """The worker's ``on_status``: logs a delivery's outcome when its topic asks."""

    def __init__(self, logs: StatusLogs, *, draw: Callable[[], float] = random.random) -> None:
        """``draw``: a number in [0, 1) per success, against its sample rate."""
        self._logs = logs
        self._draw = draw
        self.written = 0

    async def __call__(self, delivery: Delivery, outcome: DeliveryOutcome) -> None:
        subscription = delivery.subscription
        if delivery.headers.get("x-amz-sns-message-type") != "Notification":
            return  # a confirmation is no delivery of a message
        role = feedback_role(delivery.feedback, subscription.protocol, outcome.success)
        if role is None:
            return
        if outcome.success and self._draw() * 100 >= sample_rate(
            delivery.feedback, subscription.protocol
        ):
            return
        group = log_group(subscription.topic_arn, outcome.success)
        stream = subscription.arn.rsplit(":", 1)[-1]
        event = (int(outcome.at.timestamp() * 1000), status_record(delivery, outcome))
        try:
            refused = await self._logs.write(subscription.tenant_id, role, group, stream, event)
        except Exception:  # an observer: the delivery stands whatever happens here
            log.exception("delivery status of %s not logged", subscription.topic_arn)
            return
        if refused is not None:
            log.warning(
                "delivery status of %s not logged as %s: %s", subscription.topic_arn, role, refused
            )
            return
        self.written += 1
