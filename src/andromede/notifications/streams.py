"""SNS into Amazon Data Firehose (decision 0226): ``firehose`` subscriptions and the data
protection findings a topic's audit writes into a delivery stream. Pure rules and the port;
the wiring gives the port over the Firehose service (``andromede.sns_firehose``).

- A ``firehose`` subscription names a delivery stream of the subscriber's account, in the
  topic's Region, and the ``SubscriptionRoleArn`` SNS assumes to put records into it (a role
  of that account trusting ``sns.amazonaws.com``): both checked at Subscribe (and the role
  again when SetSubscriptionAttributes changes it), then the subscription is confirmed at
  once, as one of the subscriber's own queues is. AWS subscribes standard topics only.
- Each notification (its JSON envelope, or the message alone with ``RawMessageDelivery``) is
  one record, followed by a newline: Firehose adds no separator, and AWS's SNS records land
  in the bucket one a line. The delivery worker puts it as the role, at each attempt: the
  role's policies must allow ``firehose:PutRecord`` on the stream then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.subscriptions import SUBSCRIPTION_ROLE

__all__ = ["StreamRefused", "SubscriberStreams", "check_stream", "record_of"]


class StreamRefused(Exception):
    """A record the stream did not take: why (the role may not, the stream gone or full…)."""


class SubscriberStreams(Protocol):
    async def check(self, tenant_id: str, stream_arn: str, role_arn: str) -> str | None:
        """None when ``stream_arn`` is a delivery stream of ``tenant_id`` in this Region and
        ``role_arn`` a role of it that SNS may assume; else why not."""

    async def put(self, tenant_id: str, stream_arn: str, role_arn: str | None, data: bytes) -> None:
        """One record into the stream of ``tenant_id``, as ``role_arn`` (None: as the platform,
        for the findings of a topic's own audit); :class:`StreamRefused` when not taken."""


def record_of(body: str) -> bytes:
    """A notification as its record: newline-terminated (see the module's docstring)."""
    return (body + "\n").encode()


async def check_stream(
    streams: SubscriberStreams | None,
    owner: str,
    endpoint: str,
    attributes: Mapping[str, str],
) -> str | None:
    """A firehose subscription's stream and role as SNS checks them (InvalidTopic: SNS's
    ``InvalidParameter``); its confirmation token: none, it is confirmed at once."""
    if streams is None:
        raise InvalidTopic(
            "Invalid parameter: Protocol firehose: Amazon Data Firehose is not served here"
        )
    role = attributes[SUBSCRIPTION_ROLE]  # required by check_subscription_attributes
    refused = await streams.check(owner, endpoint, role)
    if refused is not None:
        raise InvalidTopic(f"Invalid parameter: {refused}")
    return None
