"""Topics, as Ceph RGW keeps them for bucket notifications: a name per tenant, an ARN
``arn:aws:sns:<region>:<account>:<name>`` and attributes, of which ``push-endpoint`` says
where events go. Pure: no I/O.

Attributes taken (RGW's names): ``push-endpoint`` (an ``http`` or ``https`` URL), ``OpaqueData``
(copied into each event as ``opaqueData``), ``persistent`` (``true``/``false``: every topic
here is delivered from a durable queue, so both are accepted and shown back), ``verify-ssl``
(``true`` only: certificates are always checked), ``cloudevents`` (``false`` only), ``Policy``
(the topic's resource policy: who of other accounts may publish, subscribe…, evaluated by the
SNS API, decision 0168), ``DeliveryPolicy`` (the defaults of its http(s) subscriptions,
decision 0168), ``FifoTopic`` and ``ContentBasedDeduplication`` (SNS's FIFO topics, decision
0171: a FIFO topic's name ends with ``.fifo`` and only its does; ``FifoTopic`` is set at
creation only; both are kept filled in on a FIFO topic, and absent on the others),
``FifoThroughputScope`` (``Topic`` or ``MessageGroup``: what a deduplication id is unique
within), ``ArchivePolicy`` (FIFO topics only, decision 0175; ``BeginningArchiveTime`` kept
beside it by the service, never set by a caller) and ``DisplayName`` (SNS's: up to 100 ASCII
printable characters, the From name of the topic's mails, decision 0180's addendum) and
``KmsMasterKeyId`` (the KMS key its messages are sealed under at rest, decision 0212),
``TracingConfig`` (``PassThrough`` or ``Active``, decision 0351), and
the delivery status logging attributes (``notifications.feedback``, decision 0212). AMQP
and Kafka endpoints, and their attributes, are refused as not implemented.

A topic's tags (decision 0175) are kept in its document beside its attributes.

A push endpoint carrying credentials (``https://user:secret@host/``) is refused: the secret
would be kept and shown back by GetTopicAttributes, and RGW itself refuses it over clear HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from andromede.notifications.archive import (
    ARCHIVE_POLICY,
    BEGINNING_ARCHIVE_TIME,
    check_archive_policy,
    retention_days,
)
from andromede.notifications.deliverypolicy import check_topic_policy
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.feedback import check_feedback, is_feedback
from andromede.notifications.message_protection import DATA_PROTECTION_POLICY, check_document

__all__ = [
    "FORMAT_VERSION",
    "PUSH_ENDPOINT",
    "Topic",
    "check_attributes",
    "check_fifo",
    "check_name",
    "parse_topic_arn",
    "topic_arn",
]

FORMAT_VERSION: Final = 1
PUSH_ENDPOINT: Final = "push-endpoint"
OPAQUE_DATA: Final = "OpaqueData"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,256}")
_MAX_OPAQUE = 1024
_MAX_POLICY = 30 * 1024
_BOOLEANS = ("true", "false")
# Attribute → the values it may take (None: any text, bounded below).
_TAKEN: Final[Mapping[str, tuple[str, ...] | None]] = {
    PUSH_ENDPOINT: None,
    OPAQUE_DATA: None,
    "persistent": _BOOLEANS,
    "verify-ssl": ("true",),
    "cloudevents": ("false",),
    "Policy": None,
    "DeliveryPolicy": None,
    "FifoTopic": _BOOLEANS,
    "ContentBasedDeduplication": _BOOLEANS,
    "FifoThroughputScope": ("Topic", "MessageGroup"),
    ARCHIVE_POLICY: None,
    BEGINNING_ARCHIVE_TIME: None,
    "DisplayName": None,
    "KmsMasterKeyId": None,
    DATA_PROTECTION_POLICY: None,
    # X-Ray's mode (decision 0351): either passes the publisher's trace header on; no
    # segments are sent (no X-Ray here), so ``Active`` is kept and shown back only.
    "TracingConfig": ("PassThrough", "Active"),
}
# SNS's DisplayName: at most 100 printable ASCII characters (spaces, hyphens, underscores
# among them). No control character (AWS's console lets a tab in; not here), so nothing a
# mail header could be broken with.
_DISPLAY_NAME: Final = re.compile(r"[\x20-\x7e]{0,100}")
FIFO_TOPIC: Final = "FifoTopic"
CONTENT_DEDUP: Final = "ContentBasedDeduplication"
THROUGHPUT_SCOPE: Final = "FifoThroughputScope"
# Attributes of FIFO topics only (SNS refuses them on the others).
_FIFO_ONLY: Final = (CONTENT_DEDUP, THROUGHPUT_SCOPE, ARCHIVE_POLICY)
_FIFO_SUFFIX: Final = ".fifo"
_NOT_IMPLEMENTED: Final = frozenset(
    {
        "amqp-exchange",
        "amqp-ack-level",
        "kafka-ack-level",
        "use-ssl",
        "ca-location",
        "mechanism",
        "kafka-brokers",
        "max_retries",
        "retry_sleep_duration",
        "time_to_live",
    }
)


def topic_arn(region: str, tenant_id: str, name: str) -> str:
    return f"arn:aws:sns:{region}:{tenant_id}:{name}"


def parse_topic_arn(arn: str) -> tuple[str, str, str]:
    """(region, account, name) of a topic ARN; InvalidTopic for anything else."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[:3] != ["arn", "aws", "sns"] or not all(parts[3:]):
        raise InvalidTopic("Invalid parameter: TopicArn")
    return parts[3], parts[4], parts[5]


def check_name(name: str) -> str:
    """SNS's rule: 1 to 256 ASCII letters, digits, hyphens and underscores (a FIFO topic's
    ending with ``.fifo``, counted in the 256)."""
    stem = name.removesuffix(_FIFO_SUFFIX)
    if not _NAME.fullmatch(stem) or len(name) > 256:
        raise InvalidTopic(
            "Invalid parameter: Topic Name: must be 1 to 256 letters, digits, hyphens or "
            "underscores"
        )
    return name


def _check_endpoint(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme in ("amqp", "amqps", "kafka"):
        raise InvalidTopic(f"Invalid parameter: push-endpoint: {parts.scheme} is not implemented")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidTopic("Invalid parameter: push-endpoint must be an http or https URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidTopic(
            "Invalid parameter: push-endpoint must not carry credentials (user:password@)"
        )
    try:
        parts.port  # noqa: B018 - a port that is not a number raises
    except ValueError as exc:
        raise InvalidTopic("Invalid parameter: push-endpoint has an invalid port") from exc
    if len(url) > 2048:
        raise InvalidTopic("Invalid parameter: push-endpoint is longer than 2048 characters")


def check_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """The attributes as kept; InvalidTopic (its message never repeats an endpoint, which
    might hold what a tenant meant to keep private)."""
    kept: dict[str, str] = {}
    for name, value in attributes.items():
        if name in _NOT_IMPLEMENTED:
            raise InvalidTopic(f"Invalid parameter: {name} is not implemented (HTTP push only)")
        if is_feedback(name):
            # Delivery status logging (decision 0212); an empty value: none.
            if value.strip():
                kept[name] = check_feedback(name, value)
            continue
        if name not in _TAKEN:
            raise InvalidTopic(f"Invalid parameter: AttributeName {name[:64]}")
        allowed = _TAKEN[name]
        if allowed is not None and value not in allowed:
            raise InvalidTopic(f"Invalid parameter: {name} must be one of {', '.join(allowed)}")
        if name == PUSH_ENDPOINT:
            _check_endpoint(value)
        elif name == OPAQUE_DATA and len(value) > _MAX_OPAQUE:
            raise InvalidTopic(f"Invalid parameter: OpaqueData is longer than {_MAX_OPAQUE}")
        elif name == "Policy" and len(value) > _MAX_POLICY:
            raise InvalidTopic("Invalid parameter: Policy is too long")
        elif name == "DeliveryPolicy":
            check_topic_policy(value)
        elif name == DATA_PROTECTION_POLICY:
            check_document(value)
        elif name == "DisplayName" and _DISPLAY_NAME.fullmatch(value) is None:
            raise InvalidTopic(
                "Invalid parameter: DisplayName must be at most 100 printable ASCII characters"
            )
        elif name == "KmsMasterKeyId":
            value = _key_reference(value)
            if not value:
                continue  # no key: the topic's new messages are not sealed under one
        elif name == ARCHIVE_POLICY:
            value = check_archive_policy(value)
            if value == "{}":
                continue  # no archive: the attribute goes (and the archive with it)
        kept[name] = value
    return kept


def _key_reference(value: str) -> str:
    """``KmsMasterKeyId`` (decision 0212): a reference KMS could resolve, not looked up when
    set (as SQS's); a missing key fails each Publish with KMSNotFound."""
    value = value.strip()
    if len(value) > 2048 or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise InvalidTopic("Invalid parameter: KmsMasterKeyId")
    return value


def check_fifo(
    name: str, attributes: Mapping[str, str], *, existing: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The attributes (already checked) of a topic being created (``existing`` None) or
    changed (``existing``: its attributes before), with SNS's FIFO rules: ``FifoTopic=true``
    and a ``.fifo`` name go together; ``FifoTopic`` never changes; ``ContentBasedDeduplication``
    belongs to FIFO topics. A FIFO topic's two attributes are kept filled in."""
    kept = {k: v.lower() if k in (FIFO_TOPIC, CONTENT_DEDUP) else v for k, v in attributes.items()}
    if existing is None:
        fifo = kept.pop(FIFO_TOPIC, "false") == "true"
        if fifo != name.endswith(_FIFO_SUFFIX):
            raise InvalidTopic(
                "Invalid parameter: Fifo Topic names must end with .fifo and must be made up "
                "of only uppercase and lowercase ASCII letters, numbers, underscores, and "
                "hyphens, and must be between 1 and 256 characters long."
                if fifo
                else "Invalid parameter: Topic Name"
            )
    else:
        fifo = existing.get(FIFO_TOPIC) == "true"
        if kept.pop(FIFO_TOPIC, "true" if fifo else None) != ("true" if fifo else None):
            # Set at creation only, as on SNS.
            raise InvalidTopic("Invalid parameter: AttributeName FifoTopic")
    if not fifo:
        for name in _FIFO_ONLY:
            if name in kept:
                raise InvalidTopic(
                    f"Invalid parameter: {name} Reason: {name} can only be set for FIFO topics"
                )
        return kept
    kept[FIFO_TOPIC] = "true"
    kept.setdefault(CONTENT_DEDUP, "false")
    kept.setdefault(THROUGHPUT_SCOPE, "Topic")
    return kept


@dataclass(frozen=True, slots=True)
class Topic:
    tenant_id: str
    name: str
    region: str
    attributes: Mapping[str, str]
    created_at: datetime
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return topic_arn(self.region, self.tenant_id, self.name)

    @property
    def push_endpoint(self) -> str | None:
        return self.attributes.get(PUSH_ENDPOINT) or None

    @property
    def fifo(self) -> bool:
        return self.attributes.get(FIFO_TOPIC) == "true"

    @property
    def content_dedup(self) -> bool:
        return self.attributes.get(CONTENT_DEDUP) == "true"

    @property
    def dedup_per_group(self) -> bool:
        """``FifoThroughputScope=MessageGroup``: a deduplication id is unique per group."""
        return self.attributes.get(THROUGHPUT_SCOPE) == "MessageGroup"

    @property
    def archive_days(self) -> int | None:
        """The archive's retention in days; None: no archive (decision 0175)."""
        return retention_days(self.attributes.get(ARCHIVE_POLICY))

    @property
    def policy(self) -> str | None:
        return self.attributes.get("Policy") or None

    @property
    def delivery_policy(self) -> str | None:
        return self.attributes.get("DeliveryPolicy") or None

    @property
    def opaque_data(self) -> str | None:
        return self.attributes.get(OPAQUE_DATA) or None

    @property
    def display_name(self) -> str | None:
        """The From name of the topic's mails; None: none set."""
        return self.attributes.get("DisplayName") or None

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
    def attributes_of(document: str) -> dict[str, str]:
        data = json.loads(document)
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown topic format {data.get('format_version')!r}")
        return {str(k): str(v) for k, v in data["attributes"].items()}

    @staticmethod
    def tags_of(document: str) -> dict[str, str]:
        """The tags of a document (none in one written before decision 0175)."""
        return {str(k): str(v) for k, v in json.loads(document).get("tags", {}).items()}
