"""SNS's delivery status logging attributes of a topic (decision 0212). Pure: no I/O.

Per protocol the platform delivers, ``<P>SuccessFeedbackRoleArn``,
``<P>FailureFeedbackRoleArn`` (an IAM role of the topic's account that trusts
``sns.amazonaws.com`` and may write to CloudWatch Logs) and ``<P>SuccessFeedbackSampleRate``
(0 to 100, the percentage of successful deliveries logged; failures are all logged): ``SQS`` for
sqs subscriptions, ``HTTP`` for http and https ones and ``Firehose`` for firehose ones (AWS's
prefixes; decision 0226). The other protocols AWS logs (``Application``, ``Lambda``) are not
delivered here: a sample rate of 0 (what Terraform's ``aws_sns_topic`` sends for each when
none is configured) is kept, as it asks for nothing; another rate or a role is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from andromede.notifications.errors import InvalidTopic

__all__ = [
    "FEEDBACK_ATTRIBUTES",
    "LOGGED_PROTOCOLS",
    "check_feedback",
    "feedback_role",
    "is_feedback",
    "sample_rate",
]

# Subscription protocol → the attributes' prefix.
LOGGED_PROTOCOLS: Final[Mapping[str, str]] = {
    "sqs": "SQS",
    "http": "HTTP",
    "https": "HTTP",
    "firehose": "Firehose",
}
_NOT_DELIVERED: Final = ("Application", "Lambda")
_ROLE: Final = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")


def _names(prefix: str) -> tuple[str, str, str]:
    return (
        f"{prefix}SuccessFeedbackRoleArn",
        f"{prefix}FailureFeedbackRoleArn",
        f"{prefix}SuccessFeedbackSampleRate",
    )


FEEDBACK_ATTRIBUTES: Final = frozenset(
    name for prefix in ("SQS", "HTTP", "Firehose", *_NOT_DELIVERED) for name in _names(prefix)
)


def is_feedback(name: str) -> bool:
    return name in FEEDBACK_ATTRIBUTES


def check_feedback(name: str, value: str) -> str:
    """The attribute's value as kept; InvalidTopic in SNS's words."""
    value = value.strip()
    prefix = next(p for p in ("SQS", "HTTP", "Firehose", *_NOT_DELIVERED) if name.startswith(p))
    if name.endswith("SampleRate"):
        if not value.isdigit() or not 0 <= int(value) <= 100:
            raise InvalidTopic(
                f"Invalid parameter: Attributes Reason: {name}: must be an integer from 0 to 100"
            )
        if prefix in _NOT_DELIVERED and int(value) != 0:
            raise InvalidTopic(
                f"Invalid parameter: {name}: {prefix} deliveries are not made by this platform"
            )
        return str(int(value))
    if prefix in _NOT_DELIVERED:
        raise InvalidTopic(
            f"Invalid parameter: {name}: {prefix} deliveries are not made by this platform"
        )
    if _ROLE.fullmatch(value) is None:
        raise InvalidTopic(f"Invalid parameter: Attributes Reason: {name}: not a valid role ARN")
    return value


def feedback_role(attributes: Mapping[str, str], protocol: str, success: bool) -> str | None:
    """The role a delivery's status is logged as; None: not logged."""
    prefix = LOGGED_PROTOCOLS.get(protocol)
    if prefix is None:
        return None
    success_role, failure_role, _ = _names(prefix)
    return attributes.get(success_role if success else failure_role) or None


def sample_rate(attributes: Mapping[str, str], protocol: str) -> int:
    """The percentage of successful deliveries logged (AWS's default: 0)."""
    prefix = LOGGED_PROTOCOLS.get(protocol)
    if prefix is None:
        return 0
    try:
        return int(attributes.get(_names(prefix)[2], "0"))
    except ValueError:
        return 0
