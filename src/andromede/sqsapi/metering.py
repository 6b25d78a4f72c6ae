"""What one SQS call counts as ``sqs.requests`` and whom it is billed to (decision 0169).

AWS bills every SQS action as a request, and each 64 KiB chunk of a call's payload as one
more: a 256 KiB message is 4 requests. A batch is one call: its chunks are those of the whole
batch's payload (ten 1 KiB messages in one SendMessageBatch are one request). The payload is
what the messages carry — their bodies and their attributes (name, data type and value, as
SQS counts a message's size) — sent for SendMessage(Batch), returned for ReceiveMessage; any
other action carries none and counts one. The queue's owner pays, a caller of another account
included (AWS: "the queue owner pays for shared queue access"); a call on no queue
(ListQueues, a refused CreateQueue) is the caller's.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from andromede.billing.model import payload_requests

__all__ = ["billed_to", "sqs_payload_bytes", "sqs_requests"]

_SENT = frozenset({"SendMessage", "SendMessageBatch"})


def _size(text: object) -> int:
    return len(text.encode()) if isinstance(text, str) else 0


def _attribute_bytes(attributes: object) -> int:
    if not isinstance(attributes, Mapping):
        return 0
    total = 0
    for name, value in attributes.items():
        total += _size(name)
        if not isinstance(value, Mapping):
            continue
        total += _size(value.get("DataType")) + _size(value.get("StringValue"))
        binary = value.get("BinaryValue")
        if isinstance(binary, str):  # base64 on the JSON wire: its decoded bytes count
            try:
                total += len(base64.b64decode(binary, validate=True))
            except (binascii.Error, ValueError):
                total += len(binary)
    return total


def _messages_bytes(messages: Iterable[object], body: str) -> int:
    total = 0
    for message in messages:
        if isinstance(message, Mapping):
            total += _size(message.get(body))
            total += _attribute_bytes(message.get("MessageAttributes"))
            total += _attribute_bytes(message.get("MessageSystemAttributes"))
    return total


def sqs_payload_bytes(
    action: str, params: Mapping[str, Any], result: Mapping[str, Any] | None
) -> int:
    """The payload of one call: the messages it sent or received (bodies and attributes)."""
    if action == "SendMessage":
        return _messages_bytes([params], "MessageBody")
    if action == "SendMessageBatch":
        entries = params.get("Entries")
        return _messages_bytes(entries if isinstance(entries, list) else [], "MessageBody")
    if action == "ReceiveMessage" and result is not None:
        messages = result.get("Messages")
        return _messages_bytes(messages if isinstance(messages, list) else [], "Body")
    return 0


def sqs_requests(action: str, params: Mapping[str, Any], result: Mapping[str, Any] | None) -> int:
    """The requests one call counts: one per 64 KiB chunk of its payload, one at least."""
    return payload_requests(sqs_payload_bytes(action, params, result))


def billed_to(resources: Sequence[str], caller: str, region: str) -> tuple[str, str]:
    """(account, region) billed for a call on ``resources`` (queue ARNs): the first queue's
    owner and region, else the caller in ``region``."""
    for arn in resources:
        parts = arn.split(":", 5)
        if len(parts) == 6 and parts[2] == "sqs" and parts[4]:
            return parts[4], parts[3] or region
    return caller, region
