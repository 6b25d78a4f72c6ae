"""FIFO queues' own rules (decision 0164). Pure: no I/O.

A FIFO queue is one created with ``FifoQueue=true`` and a name ending in ``.fifo`` (the two go
together and never change). Its attributes ``ContentBasedDeduplication``,
``DeduplicationScope`` and ``FifoThroughputLimit`` are kept with their defaults filled in, so
a CreateQueue repeating them compares equal. A message names its group (``MessageGroupId``)
and its deduplication id (``MessageDeduplicationId``, or the SHA-256 of its body under
content-based deduplication); both are customer data, sealed in the message's payload, and
the store sees only SHA-256 digests of them bound to the account (:func:`group_key`,
:func:`dedup_key`): enough to group and to find a duplicate, not the ids themselves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

from andromede.queues.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidParameterValue,
    MissingParameter,
)
from andromede.queues.model import Queue

__all__ = [
    "ATTEMPT_INTERVAL",
    "DEDUP_INTERVAL",
    "FIFO_ATTRIBUTES",
    "FIFO_DEFAULTS",
    "attempt_key",
    "check_attempt_id",
    "check_fifo_attributes",
    "dedup_key",
    "group_key",
    "is_fifo",
    "send_ids",
    "sequence_number",
]

# SQS's deduplication interval and ReceiveRequestAttemptId's: fixed at five minutes by AWS.
DEDUP_INTERVAL: Final = timedelta(minutes=5)
ATTEMPT_INTERVAL: Final = timedelta(minutes=5)
FIFO_DEFAULTS: Final[Mapping[str, str]] = {
    "FifoQueue": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "messageQueue",
    "FifoThroughputLimit": "perQueue",
}
FIFO_ATTRIBUTES: Final = tuple(FIFO_DEFAULTS)
_CHOICES: Final[Mapping[str, tuple[str, ...]]] = {
    "ContentBasedDeduplication": ("true", "false"),
    "DeduplicationScope": ("messageQueue", "messageGroup"),
    "FifoThroughputLimit": ("perQueue", "perMessageGroupId"),
}
# Group, deduplication and receive-attempt ids: 1-128 letters, digits and punctuation.
_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
# A sequence number looks like SQS's (20 digits) and grows with the store's own order.
_SEQUENCE_BASE: Final = 10**19


def is_fifo(queue: Queue) -> bool:
    return queue.attributes.get("FifoQueue") == "true"


def check_fifo_attributes(
    name: str, attributes: Mapping[str, str], *, existing: Queue | None = None
) -> dict[str, str]:
    """The attributes of a queue being created (``existing`` None) or changed, their FIFO
    ones checked and, for a FIFO queue, filled with their defaults. A ``.fifo`` name goes
    with ``FifoQueue=true`` and only with it; the FIFO attributes belong to FIFO queues;
    ``perMessageGroupId`` throughput needs the ``messageGroup`` deduplication scope."""
    kept = dict(attributes)
    if existing is None:
        fifo = kept.get("FifoQueue", "false").lower() == "true"
        if kept.pop("FifoQueue", "false").lower() not in ("true", "false"):
            raise InvalidAttributeValue("Invalid value for the parameter FifoQueue.")
        if fifo != name.endswith(".fifo"):
            raise InvalidParameterValue(
                "The name of a FIFO queue can only include alphanumeric characters, hyphens, "
                "or underscores, must end with .fifo suffix and be 1 to 80 in length."
                if fifo
                else "Can only include alphanumeric characters, hyphens, or underscores. "
                "1 to 80 in length"
            )
    else:
        fifo = is_fifo(existing)
        if existing.attributes.get("FifoQueue") != kept.get("FifoQueue"):
            # FifoQueue is set at creation only (SetQueueAttributes does not take it).
            raise InvalidAttributeName("Unknown Attribute FifoQueue.")
        kept.pop("FifoQueue", None)
    if not fifo:
        for attribute in FIFO_ATTRIBUTES:
            if attribute in kept:
                raise InvalidAttributeName(f"Unknown Attribute {attribute}.")
        return kept
    for attribute, choices in _CHOICES.items():
        value = kept.get(attribute, FIFO_DEFAULTS[attribute])
        if attribute == "ContentBasedDeduplication":
            value = value.lower()
        if value not in choices:
            raise InvalidAttributeValue(
                f"Invalid value for the parameter {attribute}. Reason: must be one of "
                + ", ".join(choices)
                + "."
            )
        kept[attribute] = value
    if (
        kept["FifoThroughputLimit"] == "perMessageGroupId"
        and kept["DeduplicationScope"] != "messageGroup"
    ):
        raise InvalidAttributeValue(
            "Invalid value for the parameter FifoThroughputLimit. Reason: perMessageGroupId "
            "is allowed only when the value for DeduplicationScope is messageGroup."
        )
    kept["FifoQueue"] = "true"
    return kept


def _check_id(parameter: str, value: str) -> str:
    if not _ID.fullmatch(value):
        raise InvalidParameterValue(
            f"Value {value[:128]} for parameter {parameter} is invalid. Reason: it must be 1 "
            "to 128 letters, digits or punctuation."
        )
    return value


def send_ids(
    queue: Queue, body: str, group_id: str | None, dedup_id: str | None, delay: int | None
) -> tuple[str, str]:
    """The message's (group id, deduplication id) on a FIFO queue: the group required, the
    deduplication id required unless the queue deduplicates by content (then the body's
    SHA-256); a message's own DelaySeconds is refused (a FIFO queue delays as a whole), but
    for 0, which SQS lets through (SDKs that always send the field rely on it)."""
    if delay:
        raise InvalidParameterValue(
            f"Value {delay} for parameter DelaySeconds is invalid. Reason: The request include "
            "parameter that is not valid for this queue type."
        )
    if group_id is None:
        raise MissingParameter("The request must contain the parameter MessageGroupId.")
    _check_id("MessageGroupId", group_id)
    if dedup_id is None:
        if queue.attributes.get("ContentBasedDeduplication") != "true":
            raise InvalidParameterValue(
                "The queue should either have ContentBasedDeduplication enabled or "
                "MessageDeduplicationId provided explicitly"
            )
        dedup_id = hashlib.sha256(body.encode()).hexdigest()
    return group_id, _check_id("MessageDeduplicationId", dedup_id)


def check_attempt_id(value: str) -> str:
    return _check_id("ReceiveRequestAttemptId", value)


def _digest(*parts: str) -> str:
    # Length-prefixed parts, so ("a", "bc") and ("ab", "c") differ.
    digest = hashlib.sha256(b"andromede-sqs-fifo\x00")
    for part in parts:
        raw = part.encode()
        digest.update(len(raw).to_bytes(4, "big") + raw)
    return digest.hexdigest()


def group_key(tenant_id: str, group_id: str) -> str:
    """What the store keeps of a group id: bound to the account, not to the queue, since a
    redrive moves a message (its group with it) to the dead-letter queue."""
    return _digest("group", tenant_id, group_id)


def dedup_key(queue: Queue, group_id: str, dedup_id: str) -> str:
    """What the store keeps of a deduplication id: per queue, and per group when the queue's
    DeduplicationScope is ``messageGroup``."""
    scope = group_id if queue.attributes.get("DeduplicationScope") == "messageGroup" else ""
    return _digest("dedup", queue.tenant_id, queue.name, scope, dedup_id)


def attempt_key(queue: Queue, attempt_id: str) -> str:
    return _digest("attempt", queue.tenant_id, queue.name, attempt_id)


def sequence_number(sequence: int) -> str:
    return str(_SEQUENCE_BASE + sequence)
