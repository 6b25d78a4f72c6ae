"""Queues and messages as SQS defines them (decision 0158). Pure: no I/O.

A queue is a name in its tenant's account, with an ARN ``arn:aws:sqs:<region>:<account>:<name>``,
attributes (SQS's names and ranges, defaults filled in), tags and two timestamps. A message is
its body, its message attributes and its system attributes (``AWSTraceHeader``); the three
are sealed together at rest (:class:`Payload` is the form that is sealed), and their MD5s are
computed here as SQS computes them, since the SDKs of other languages check them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from andromede.queues.errors import (
    InvalidAttributeName,
    InvalidAttributeValue,
    InvalidMessageContents,
    InvalidParameterValue,
    QueueDoesNotExist,
)
from andromede.queues.redrive_allow import RedriveAllowPolicy

__all__ = [
    "DEFAULTS",
    "FORMAT_VERSION",
    "MAX_MESSAGE_ATTRIBUTES",
    "TRACE_HEADER",
    "MessageAttribute",
    "Payload",
    "Queue",
    "RedrivePolicy",
    "attributes_md5",
    "body_md5",
    "check_body",
    "check_message_attributes",
    "check_name",
    "check_queue_attributes",
    "message_size",
    "parse_queue_arn",
    "queue_arn",
    "xml_unsafe",
]

# The system attribute that carries a message's X-Ray trace header (and so its Lambda
# lineage: decisions 0328, 0336), the one a sender may set.
TRACE_HEADER: Final = "AWSTraceHeader"

FORMAT_VERSION: Final = 1
MAX_MESSAGE_ATTRIBUTES: Final = 10
_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,256}")
_MAX_POLICY = 20 * 1024
# Settable attributes, their defaults (as shown back) and integer ranges (None: text).
DEFAULTS: Final[Mapping[str, str]] = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "SqsManagedSseEnabled": "true",
}
_RANGES: Final[Mapping[str, tuple[int, int]]] = {
    "DelaySeconds": (0, 900),
    "MaximumMessageSize": (1024, 1024 * 1024),
    "MessageRetentionPeriod": (60, 1_209_600),
    "ReceiveMessageWaitTimeSeconds": (0, 20),
    "VisibilityTimeout": (0, 43_200),
    "KmsDataKeyReusePeriodSeconds": (60, 86_400),
}
_TEXT: Final = frozenset(
    {"Policy", "RedrivePolicy", "KmsMasterKeyId", "SqsManagedSseEnabled", "RedriveAllowPolicy"}
)
# FIFO queues' own attributes: kept as given here, checked by andromede.queues.fifo.
_FIFO: Final = frozenset(
    {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)
_TRANSPORT_STRING = 1
_TRANSPORT_BINARY = 2
# XML 1.0's characters, which SQS allows in a body and in string attributes.
_INVALID_CHARACTERS = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def queue_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:sqs:{region}:{tenant_id}:{name}"


def parse_queue_arn(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of a queue ARN; QueueDoesNotExist for anything else."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
        raise QueueDoesNotExist()
    return parts[3], parts[4], parts[5]


def check_name(name: str) -> str:
    """A queue name: 1-80 characters, ``.fifo`` included for a FIFO queue (whose attribute
    goes with the suffix: ``andromede.queues.fifo``)."""
    base = name.removesuffix(".fifo")
    if not _NAME.fullmatch(base) or len(name) > 80:
        raise InvalidParameterValue(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length"
        )
    return name


@dataclass(frozen=True, slots=True)
class RedrivePolicy:
    dead_letter_arn: str
    max_receive_count: int

    @staticmethod
    def parse(text: str) -> RedrivePolicy:
        try:
            data = json.loads(text)
            arn = data["deadLetterTargetArn"]
            count = int(data["maxReceiveCount"])
        except (ValueError, TypeError, KeyError) as exc:
            raise InvalidAttributeValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not "
                "a valid JSON map with deadLetterTargetArn and maxReceiveCount."
            ) from exc
        if not isinstance(arn, str) or not 1 <= count <= 1000:
            raise InvalidAttributeValue(
                "Value for parameter RedrivePolicy is invalid. Reason: Invalid value for "
                "maxReceiveCount: must be between 1 and 1000."
            )
        return RedrivePolicy(arn, count)


def check_queue_attributes(
    attributes: Mapping[str, str], *, max_message_size: int
) -> dict[str, str]:
    """The settable attributes as kept (integers normalised); InvalidAttributeName for one SQS
    does not have or that is not settable, InvalidAttributeValue for one out of range."""
    kept: dict[str, str] = {}
    for name, value in attributes.items():
        if name in _FIFO:
            if len(value) > 32:
                raise InvalidAttributeValue(f"Invalid value for the parameter {name}.")
            kept[name] = value
            continue
        if name in _RANGES:
            low, high = _RANGES[name]
            if name == "MaximumMessageSize":
                high = max_message_size
            try:
                number = int(value)
            except ValueError:
                number = low - 1
            if not low <= number <= high:
                raise InvalidAttributeValue(
                    f"Invalid value for the parameter {name}. Reason: must be between {low} "
                    f"and {high}."
                )
            kept[name] = str(number)
        elif name in _TEXT:
            kept[name] = _check_text(name, value)
        else:
            raise InvalidAttributeName(f"Unknown Attribute {name[:128]}.")
    if kept.get("Policy") == "":
        kept.pop("Policy")
    for optional in ("RedrivePolicy", "RedriveAllowPolicy"):
        if kept.get(optional) == "":
            kept.pop(optional)
    return kept


def _check_text(name: str, value: str) -> str:
    if name == "SqsManagedSseEnabled":
        if value.lower() not in ("true", "false"):
            raise InvalidAttributeValue("Invalid value for the parameter SqsManagedSseEnabled.")
        return value.lower()
    if name == "Policy" and value:
        if len(value) > _MAX_POLICY:
            raise InvalidAttributeValue("Invalid value for the parameter Policy: too long.")
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise InvalidAttributeValue(
                "Invalid value for the parameter Policy: not a JSON document."
            ) from exc
        if not isinstance(parsed, dict):
            raise InvalidAttributeValue("Invalid value for the parameter Policy.")
    if name == "RedrivePolicy" and value:
        RedrivePolicy.parse(value)
    if name == "RedriveAllowPolicy" and value:
        RedriveAllowPolicy.parse(value)
    if len(value) > _MAX_POLICY:
        raise InvalidAttributeValue(f"Invalid value for the parameter {name}: too long.")
    return value


@dataclass(frozen=True, slots=True)
class Queue:
    tenant_id: str
    name: str
    region: str
    attributes: Mapping[str, str]  # as set: defaults are not stored
    created_at: datetime
    modified_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return queue_arn(self.region, self.tenant_id, self.name)

    def attribute(self, name: str) -> str | None:
        return self.attributes.get(name, DEFAULTS.get(name))

    def seconds(self, name: str) -> int:
        return int(self.attribute(name) or 0)

    @property
    def redrive(self) -> RedrivePolicy | None:
        text = self.attributes.get("RedrivePolicy")
        return RedrivePolicy.parse(text) if text else None

    def document(self) -> str:
        return json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "attributes": dict(self.attributes),
                "tags": dict(self.tags),
            },
            separators=(",", ":"),
        )

    @staticmethod
    def parts_of(document: str) -> tuple[dict[str, str], dict[str, str]]:
        """(attributes, tags) of a stored document."""
        data = json.loads(document)
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown queue format {data.get('format_version')!r}")
        return (
            {str(k): str(v) for k, v in data["attributes"].items()},
            {str(k): str(v) for k, v in data.get("tags", {}).items()},
        )


@dataclass(frozen=True, slots=True)
class MessageAttribute:
    """One message attribute: its data type (``String``, ``Number``, ``Binary``, each with an
    optional ``.label``) and its value (text, or bytes for a Binary)."""

    data_type: str
    string_value: str | None = None
    binary_value: bytes | None = None

    @property
    def binary(self) -> bool:
        return self.data_type.split(".", 1)[0] == "Binary"

    def size(self, name: str) -> int:
        value = self.binary_value if self.binary else (self.string_value or "").encode()
        return len(name.encode()) + len(self.data_type.encode()) + len(value or b"")

    def to_json(self) -> dict[str, str]:
        if self.binary:
            return {
                "DataType": self.data_type,
                "BinaryValue": base64.b64encode(self.binary_value or b"").decode(),
            }
        return {"DataType": self.data_type, "StringValue": self.string_value or ""}

    @staticmethod
    def from_json(name: str, value: Any) -> MessageAttribute:
        """One attribute as the JSON protocol carries it (``BinaryValue`` in base64)."""
        if not isinstance(value, dict):
            raise InvalidParameterValue(f"The message attribute '{name[:256]}' is malformed.")
        data_type = value.get("DataType")
        if not isinstance(data_type, str) or not data_type:
            raise InvalidParameterValue(
                f"The message attribute '{name[:256]}' must contain non-empty message "
                "attribute type."
            )
        base = data_type.split(".", 1)[0]
        if base not in ("String", "Number", "Binary") or len(data_type) > 256:
            raise InvalidParameterValue(
                f"The type of message (user) attribute '{name[:256]}' is invalid. You must use "
                "only the following supported type prefixes: Binary, Number, String."
            )
        if base == "Binary":
            raw = value.get("BinaryValue")
            if not isinstance(raw, str) or not raw:
                raise InvalidParameterValue(
                    f"The message attribute '{name[:256]}' with type 'Binary' must use field "
                    "'Binary'."
                )
            try:
                decoded = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidParameterValue(
                    f"The message attribute '{name[:256]}' is not valid base64."
                ) from exc
            return MessageAttribute(data_type, binary_value=decoded)
        text = value.get("StringValue")
        if not isinstance(text, str) or not text:
            raise InvalidParameterValue(
                f"The message attribute '{name[:256]}' with type '{base}' must use field 'String'."
            )
        if base == "Number":
            try:
                number = Decimal(text)
            except InvalidOperation as exc:
                raise InvalidParameterValue(
                    f"Can't cast the value of message (user) attribute '{name[:256]}' to a number."
                ) from exc
            if not number.is_finite():
                raise InvalidParameterValue(f"The number in '{name[:256]}' must be finite.")
        elif _INVALID_CHARACTERS.search(text):
            raise InvalidMessageContents(
                f"Invalid characters found in the message attribute '{name[:256]}'."
            )
        return MessageAttribute(data_type, string_value=text)


def check_message_attributes(attributes: Mapping[str, MessageAttribute]) -> None:
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise InvalidParameterValue(
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum "
            f"[{MAX_MESSAGE_ATTRIBUTES}]."
        )
    for name in attributes:
        lowered = name.lower()
        if (
            not _ATTRIBUTE_NAME.fullmatch(name)
            or lowered.startswith(("aws.", "amazon."))
            or name.startswith(".")
            or name.endswith(".")
            or ".." in name
        ):
            raise InvalidParameterValue(f"Message (user) attribute name '{name[:256]}' is invalid.")


def xml_unsafe(text: str) -> bool:
    """Whether ``text`` holds a character SQS refuses (none that XML 1.0 cannot carry)."""
    return _INVALID_CHARACTERS.search(text) is not None


def check_body(body: str) -> None:
    if not body:
        raise InvalidParameterValue("The request must contain the parameter MessageBody.")
    if _INVALID_CHARACTERS.search(body):
        raise InvalidMessageContents("Invalid characters found in the message body.")


def message_size(body: str, attributes: Mapping[str, MessageAttribute]) -> int:
    """What counts against MaximumMessageSize: the body and every attribute's name, type and
    value, in bytes."""
    return len(body.encode()) + sum(value.size(name) for name, value in attributes.items())


def body_md5(body: str) -> str:
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def attributes_md5(attributes: Mapping[str, MessageAttribute]) -> str | None:
    """SQS's digest of message attributes (None for none): for each attribute in order of
    name, its name, its data type and its value, each as a 4-byte big-endian length and the
    bytes, with one transport byte (1 text, 2 binary) before the value."""
    if not attributes:
        return None
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        for part in (name.encode(), value.data_type.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if value.binary:
            raw = value.binary_value or b""
            digest.update(bytes([_TRANSPORT_BINARY]) + struct.pack(">I", len(raw)) + raw)
        else:
            raw = (value.string_value or "").encode()
            digest.update(bytes([_TRANSPORT_STRING]) + struct.pack(">I", len(raw)) + raw)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Payload:
    """What is sealed of a message: its body and its attributes, user and system."""

    body: str
    attributes: Mapping[str, MessageAttribute] = field(default_factory=dict)
    system: Mapping[str, MessageAttribute] = field(default_factory=dict)
    sender: str = ""  # SenderId: the sender's account, or S3's name for bucket events

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": FORMAT_VERSION,
                "body": self.body,
                "sender": self.sender,
                "attributes": {k: v.to_json() for k, v in self.attributes.items()},
                "system": {k: v.to_json() for k, v in self.system.items()},
            },
            separators=(",", ":"),
        ).encode()

    @staticmethod
    def decode(data: bytes) -> Payload:
        parsed = json.loads(data)
        if parsed.get("v") != FORMAT_VERSION:
            raise ValueError(f"unknown message format {parsed.get('v')!r}")
        return Payload(
            parsed["body"],
            {k: MessageAttribute.from_json(k, v) for k, v in parsed["attributes"].items()},
            {k: MessageAttribute.from_json(k, v) for k, v in parsed["system"].items()},
            parsed.get("sender", ""),
        )
