"""Lambda functions as destinations of the notification worker (decision 0293): ``lambda``
subscriptions of SNS topics and S3's ``CloudFunctionConfiguration`` event notifications. The
function is invoked asynchronously as the service (``sns.amazonaws.com``,
``s3.amazonaws.com``) by its resource-based policy through :class:`Functions`, a port the
wiring fills over Lambda (``andromede.function_invocations``).

- A ``lambda`` subscription's endpoint is a function's ARN (unqualified, or with a version or
  alias), confirmed at once as SNS confirms it; raw delivery is refused as SNS refuses it. Its
  messages are SNS's Lambda event (:func:`sns_event`): one record, ``EventSource``
  ``aws:sns``, the notification's fields under ``Sns`` with AWS's spellings for Lambda
  (``SigningCertUrl``, ``UnsubscribeUrl``; ``Subject`` null when none).
- A function that is not there, or whose policy does not let the service in for the topic
  (bucket), is :class:`FunctionRefused`: never tried again (a subscription's dead-letter
  queue), as AWS counts a client-side error; anything else is tried again on the worker's
  schedule.
- The invocation carries the trace header the message was published (the event's write
  made) with (decision 0336): Lambda's recursive loop detection stops a function invoked a
  17th time in one chain through a topic or a bucket, as AWS does."""

from __future__ import annotations

import json
import re
from typing import Any, Final, Protocol

__all__ = [
    "FUNCTION_ARN",
    "S3_PRINCIPAL",
    "SNS_PRINCIPAL",
    "FunctionDeferred",
    "FunctionRefused",
    "Functions",
    "sns_event",
]

SNS_PRINCIPAL: Final = "sns.amazonaws.com"
S3_PRINCIPAL: Final = "s3.amazonaws.com"
FUNCTION_ARN: Final = re.compile(
    r"arn:aws:lambda:[a-z0-9-]{1,32}:\d{12}:function:[a-zA-Z0-9_-]{1,64}"
    r"(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)
# The notification's fields as SNS's Lambda event spells them.
_RENAMED: Final = {"SigningCertURL": "SigningCertUrl", "UnsubscribeURL": "UnsubscribeUrl"}
_FIELDS: Final = (
    "Type",
    "MessageId",
    "TopicArn",
    "Subject",
    "Message",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "UnsubscribeURL",
)


class FunctionDeferred(Exception):
    """Lambda cannot take the invocation now (not wired yet): tried again."""


class FunctionRefused(Exception):
    """The function is not there, or its policy does not let the service invoke it."""


class Functions(Protocol):
    async def invoke(
        self,
        service: str,
        function_arn: str,
        event: bytes,
        *,
        source_arn: str,
        source_account: str,
        trace: str | None = None,
    ) -> None:
        """Invoke ``function_arn`` with ``event`` asynchronously as ``service`` for
        ``source_arn``, ``trace`` the trace header the message or event was queued with (its
        lineage: decision 0336); FunctionRefused when no retry can succeed, any other
        exception for a failure worth another."""
        ...


def sns_event(body: str, subscription_arn: str) -> bytes:
    """A notification (SNS's JSON envelope) as SNS invokes a function with it."""
    envelope: dict[str, Any] = json.loads(body)
    sns: dict[str, Any] = {}
    for name in _FIELDS:
        value = envelope.get(name)
        if name == "Subject" or value is not None:
            sns[_RENAMED.get(name, name)] = value
    sns["MessageAttributes"] = envelope.get("MessageAttributes") or {}
    record = {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": sns,
    }
    return json.dumps({"Records": [record]}, separators=(",", ":")).encode()
