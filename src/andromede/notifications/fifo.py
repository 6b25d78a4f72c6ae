"""SNS FIFO topics' own rules (decision 0171). Pure: no I/O.

A FIFO topic's publish names its message group (``MessageGroupId``) and its deduplication id
(``MessageDeduplicationId``, or the SHA-256 of the message under content-based deduplication);
a standard topic's refuses both, as SNS does. The store keeps only a digest of the
deduplication id bound to the topic (:func:`dedup_key`; and to the group under
``FifoThroughputScope=MessageGroup``), five minutes (:data:`DEDUP_INTERVAL`);
the ids themselves travel sealed in the queued deliveries, into the subscribed FIFO queues.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Final

from andromede.notifications.errors import InvalidTopic
from andromede.notifications.model import Topic

__all__ = ["DEDUP_INTERVAL", "dedup_key", "fifo_endpoint", "publish_ids", "sequence_number"]

# SNS's deduplication interval: fixed at five minutes by AWS.
DEDUP_INTERVAL: Final = timedelta(minutes=5)
# Group and deduplication ids: 1-128 letters, digits and punctuation (SNS's rule).
_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
# A sequence number looks like SNS's (20 digits) and grows with the store's own order.
_SEQUENCE_BASE: Final = 10**19


def _check_id(parameter: str, value: str) -> str:
    if not _ID.fullmatch(value):
        raise InvalidTopic(
            f"Invalid parameter: {parameter} Reason: it must be 1 to 128 letters, digits or "
            "punctuation"
        )
    return value


def publish_ids(
    topic: Topic, message: str, group_id: str | None, dedup_id: str | None
) -> tuple[str, str] | None:
    """A publish's (group id, deduplication id) on a FIFO topic, None on a standard one;
    InvalidTopic (SNS's InvalidParameter) for what SNS refuses."""
    if not topic.fifo:
        given = (("MessageGroupId", group_id), ("MessageDeduplicationId", dedup_id))
        for parameter, value in given:
            if value is not None:
                raise InvalidTopic(
                    f"Invalid parameter: {parameter} Reason: The request includes "
                    f"{parameter} parameter that is not valid for this topic type"
                )
        return None
    if group_id is None:
        raise InvalidTopic(
            "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
        )
    _check_id("MessageGroupId", group_id)
    if dedup_id is None:
        if not topic.content_dedup:
            raise InvalidTopic(
                "Invalid parameter: The topic should either have ContentBasedDeduplication "
                "enabled or MessageDeduplicationId provided explicitly"
            )
        dedup_id = hashlib.sha256(message.encode()).hexdigest()
    return group_id, _check_id("MessageDeduplicationId", dedup_id)


def dedup_key(topic: Topic, dedup_id: str, group_id: str) -> str:
    """What the store keeps of a deduplication id: a digest bound to the topic, and to the
    message group under ``FifoThroughputScope=MessageGroup`` (decision 0175: the same id in
    two groups is then two messages, as in SNS's high-throughput mode)."""
    digest = hashlib.sha256(b"andromede-sns-fifo\x00")
    parts = [topic.tenant_id, topic.name, dedup_id]
    if topic.dedup_per_group:
        parts.append(group_id)
    for part in parts:
        raw = part.encode()
        digest.update(len(raw).to_bytes(4, "big") + raw)
    return digest.hexdigest()


def sequence_number(sequence: int) -> str:
    return str(_SEQUENCE_BASE + sequence)


def fifo_endpoint(protocol: str, endpoint: str) -> bool:
    """Whether the subscription's endpoint is a FIFO queue (a FIFO topic's may be standard
    ones too, decision 0175): the one kind that takes group and deduplication ids."""
    return protocol == "sqs" and endpoint.endswith(".fifo")
