"""A queue's server-side encryption as SQS defines it (decision 0165). Pure: no I/O.

Two modes, exclusive: ``SqsManagedSseEnabled`` (SSE-SQS, the default: messages sealed under
the tenant's own key ring, decision 0158) or ``KmsMasterKeyId`` (SSE-KMS: under a
customer-managed KMS key of the queue's account — a key id, key ARN, alias name or alias ARN,
``alias/aws/sqs`` the account's AWS-managed key for SQS — with data keys reused for
``KmsDataKeyReusePeriodSeconds``). As on SQS, setting one mode clears the other, and asking for
both at once is refused. The key is not looked up when set: SQS does not either, and a key
that does not exist or cannot be used fails each send with KMS's error.

What a queue's messages are sealed with is decided at each send; a message keeps the key it
was sealed under (named in its sealed form), so changing the key applies to new messages
only and old ones stay readable while their key is usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from andromede.queues.errors import InvalidAttributeValue
from andromede.queues.model import Queue

__all__ = [
    "AWS_MANAGED_SQS_KEY_ALIAS",
    "DEFAULT_REUSE_PERIOD",
    "KMS_KEY",
    "REUSE_PERIOD",
    "SQS_MANAGED",
    "kms_key_of",
    "merge_sse",
    "reuse_period_of",
]

KMS_KEY: Final = "KmsMasterKeyId"
REUSE_PERIOD: Final = "KmsDataKeyReusePeriodSeconds"
SQS_MANAGED: Final = "SqsManagedSseEnabled"
AWS_MANAGED_SQS_KEY_ALIAS: Final = "alias/aws/sqs"
DEFAULT_REUSE_PERIOD: Final = 300


def merge_sse(current: Mapping[str, str], given: Mapping[str, str]) -> dict[str, str]:
    """``current`` attributes updated by ``given`` (as SetQueueAttributes merges them), with
    SQS's rules between the two modes applied; InvalidAttributeValue for both at once."""
    merged = {**current, **given}
    key = given.get(KMS_KEY)
    managed = given.get(SQS_MANAGED, "").lower() == "true"
    if key and managed:
        raise InvalidAttributeValue(
            "Invalid value for the parameter SqsManagedSseEnabled. Reason: you can use "
            "SSE-SQS or SSE-KMS, not both."
        )
    if key == "":
        # An empty key id turns SSE-KMS off: back to SSE-SQS.
        merged.pop(KMS_KEY, None)
        merged.pop(REUSE_PERIOD, None)
        merged.pop(SQS_MANAGED, None)
    elif key:
        merged[SQS_MANAGED] = "false"
        merged.setdefault(REUSE_PERIOD, str(DEFAULT_REUSE_PERIOD))
    elif managed:
        merged.pop(KMS_KEY, None)
        merged.pop(REUSE_PERIOD, None)
    return merged


def kms_key_of(queue: Queue) -> str | None:
    """The KMS key reference new messages of ``queue`` are sealed under; None for SSE-SQS."""
    key = queue.attributes.get(KMS_KEY)
    if not key or queue.attributes.get(SQS_MANAGED, "false") == "true":
        return None
    return key


def reuse_period_of(queue: Queue) -> int:
    try:
        return int(queue.attributes.get(REUSE_PERIOD, DEFAULT_REUSE_PERIOD))
    except ValueError:
        return DEFAULT_REUSE_PERIOD
