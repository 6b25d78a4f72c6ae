"""Subscriptions of a topic (decision 0163): who receives what is published to it. Pure: no
I/O.

A subscription's ARN is its topic's followed by a random UUID, as SNS's. Protocols: ``sqs``
(a queue ARN of this platform), ``http`` and ``https`` (a URL, confirmed by the endpoint
through the SubscriptionConfirmation handshake: until then the subscription holds its token
and receives nothing), ``email`` and ``email-json`` (one bare address, confirmed through the
SubscribeURL of the mail it is sent, decision 0180), ``firehose`` (a delivery stream's ARN,
with the ``SubscriptionRoleArn`` SNS puts its records as, required: decision 0226),
``lambda`` (a function's ARN, confirmed at once: decision 0293).
Attributes taken: ``RawMessageDelivery``
(not ``true`` for email nor lambda), ``FilterPolicy``, ``FilterPolicyScope``, ``RedrivePolicy`` (a
dead-letter queue of the subscriber's account), ``DeliveryPolicy`` (http and https only,
decision 0168), ``ReplayPolicy`` (a FIFO topic's archive replayed, decision 0175: checked
here as JSON, its window and topic by the service; ``{}`` removes it); the others SNS has
are refused as not implemented, never kept and ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from andromede.notifications.deliverypolicy import check_subscription_policy
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.filterpolicy import check_filter_policy
from andromede.notifications.functions import FUNCTION_ARN
from andromede.notifications.mails import EMAIL_PROTOCOLS, check_address

__all__ = [
    "DELIVERY_POLICY",
    "PROTOCOLS",
    "REDRIVE_POLICY",
    "SUBSCRIPTION_PRINCIPAL",
    "SUBSCRIPTION_ROLE",
    "Subscription",
    "check_endpoint",
    "check_subscription_attributes",
    "is_subscription_arn",
]

PROTOCOLS: Final = ("sqs", "http", "https", *EMAIL_PROTOCOLS, "firehose", "lambda")
RAW: Final = "RawMessageDelivery"
FILTER_POLICY: Final = "FilterPolicy"
FILTER_SCOPE: Final = "FilterPolicyScope"
_SCOPES: Final = ("MessageAttributes", "MessageBody")
REDRIVE_POLICY: Final = "RedrivePolicy"
DELIVERY_POLICY: Final = "DeliveryPolicy"
SUBSCRIPTION_ROLE: Final = "SubscriptionRoleArn"
_ROLE: Final = re.compile(r"arn:aws:iam::\d{12}:role/[\w+=,.@/-]{1,512}")
_STREAM: Final = re.compile(r"arn:aws:firehose:[a-z0-9-]{1,32}:\d{12}:deliverystream/[\w.-]{1,64}")
REPLAY_POLICY: Final = "ReplayPolicy"
# The principal that subscribed (decision 0215), shown by GetSubscriptionAttributes and judged
# by outbound data protection statements; set by Subscribe only.
SUBSCRIPTION_PRINCIPAL: Final = "SubscriptionPrincipal"
FORMAT_VERSION: Final = 1


def is_subscription_arn(arn: str) -> bool:
    """``arn:aws:sns:<region>:<account>:<topic>:<uuid>``: seven parts, none empty."""
    parts = arn.split(":")
    return len(parts) == 7 and parts[:3] == ["arn", "aws", "sns"] and all(parts[3:])


def check_endpoint(protocol: str, endpoint: str) -> str:
    """The endpoint as kept; InvalidTopic (InvalidParameter) for a protocol or an endpoint
    that cannot be taken. The message never repeats a URL (it may hold a token)."""
    if protocol not in PROTOCOLS:
        raise InvalidTopic(
            f"Invalid parameter: Protocol {protocol[:32]} is not supported "
            "(sqs, http, https, email, email-json, firehose, lambda)"
        )
    if protocol in EMAIL_PROTOCOLS:
        return check_address(endpoint)
    if protocol == "sqs":
        parts = endpoint.split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"] or not all(parts[3:]):
            raise InvalidTopic("Invalid parameter: SQS endpoint ARN")
        return endpoint
    if protocol == "lambda":  # decision 0293
        if FUNCTION_ARN.fullmatch(endpoint) is None:
            raise InvalidTopic("Invalid parameter: Lambda endpoint ARN")
        return endpoint
    if protocol == "firehose":
        if _STREAM.fullmatch(endpoint) is None:
            raise InvalidTopic(
                "Invalid parameter: Endpoint Reason: not a Firehose delivery stream ARN"
            )
        return endpoint
    parts_url = urlsplit(endpoint)
    if parts_url.scheme != protocol or not parts_url.hostname:
        raise InvalidTopic(f"Invalid parameter: Endpoint must be an {protocol} URL")
    if parts_url.username is not None or parts_url.password is not None:
        raise InvalidTopic("Invalid parameter: Endpoint must not carry credentials")
    try:
        parts_url.port  # noqa: B018 - a port that is not a number raises
    except ValueError as exc:
        raise InvalidTopic("Invalid parameter: Endpoint has an invalid port") from exc
    if len(endpoint) > 2048:
        raise InvalidTopic("Invalid parameter: Endpoint is longer than 2048 characters")
    return endpoint


def check_subscription_attributes(
    attributes: Mapping[str, str], protocol: str = "http"
) -> dict[str, str]:
    """The attributes as kept (an empty value removes one); InvalidTopic otherwise."""
    kept: dict[str, str] = {}
    for name, value in attributes.items():
        if name == DELIVERY_POLICY:
            if protocol not in ("http", "https"):
                # SNS's: only HTTP/S delivery policies can be changed.
                raise InvalidTopic(
                    f"Invalid parameter: DeliveryPolicy: Delivery protocol [{protocol}] does "
                    "not support delivery policies"
                )
            if value.strip():
                kept[name] = check_subscription_policy(value)
            continue
        if name == SUBSCRIPTION_ROLE:
            if not value.strip():
                continue
            if protocol != "firehose":
                raise InvalidTopic(
                    f"Invalid parameter: {name} Reason: only firehose subscriptions take a role"
                )
            if _ROLE.fullmatch(value) is None:
                raise InvalidTopic(f"Invalid parameter: {name} Reason: not a valid role ARN")
            kept[name] = value
        elif name == RAW:
            if value.lower() not in ("true", "false"):
                raise InvalidTopic("Invalid parameter: RawMessageDelivery must be true or false")
            if protocol in (*EMAIL_PROTOCOLS, "lambda") and value.lower() == "true":
                # SNS's: a mail is always the message with its footer, or its JSON; a
                # function always gets SNS's Lambda event.
                raise InvalidTopic(
                    f"Invalid parameter: Attributes Reason: Delivery protocol [{protocol}] "
                    "does not support raw message delivery"
                )
            kept[name] = value.lower()
        elif name == FILTER_SCOPE:
            if value not in _SCOPES:
                raise InvalidTopic(
                    "Invalid parameter: FilterPolicyScope must be MessageAttributes or MessageBody"
                )
            kept[name] = value
        elif name == FILTER_POLICY:
            if value.strip() not in ("", "{}"):
                kept[name] = value
        elif name == REDRIVE_POLICY:
            if value.strip():
                kept[name] = _check_redrive(value)
        elif name == REPLAY_POLICY:
            if value.strip() not in ("", "{}"):
                kept[name] = value
        else:
            raise InvalidTopic(f"Invalid parameter: AttributeName {name[:64]}")
    if protocol == "firehose" and SUBSCRIPTION_ROLE not in kept:
        # AWS: "Specifying a valid ARN for this attribute is required for Firehose delivery
        # stream subscriptions."
        raise InvalidTopic(
            f"Invalid parameter: {SUBSCRIPTION_ROLE} Reason: a firehose subscription requires "
            "the ARN of a role SNS assumes to put records into the delivery stream"
        )
    if FILTER_POLICY in kept:
        check_filter_policy(kept[FILTER_POLICY], kept.get(FILTER_SCOPE, _SCOPES[0]))
    return kept


def _check_redrive(text: str) -> str:
    """``{"deadLetterTargetArn": "<an SQS queue ARN>"}``, as SNS takes it."""
    try:
        policy = json.loads(text)
    except ValueError:
        policy = None
    target = policy.get("deadLetterTargetArn") if isinstance(policy, dict) else None
    if not isinstance(target, str) or set(policy) != {"deadLetterTargetArn"}:
        raise InvalidTopic("Invalid parameter: RedrivePolicy: deadLetterTargetArn is required")
    check_endpoint("sqs", target)
    return text


@dataclass(frozen=True, slots=True)
class Subscription:
    arn: str
    topic_arn: str
    tenant_id: str  # the topic's account
    owner: str  # the subscriber's account
    protocol: str
    endpoint: str
    attributes: Mapping[str, str]
    token: str | None  # None once confirmed
    created_at: datetime

    @property
    def confirmed(self) -> bool:
        return self.token is None

    @property
    def principal(self) -> str | None:
        return self.attributes.get(SUBSCRIPTION_PRINCIPAL) or None

    @property
    def role_arn(self) -> str | None:
        return self.attributes.get(SUBSCRIPTION_ROLE) or None

    @property
    def raw(self) -> bool:
        return self.attributes.get(RAW) == "true"

    @property
    def dead_letter_queue(self) -> str | None:
        text = self.attributes.get(REDRIVE_POLICY)
        return None if not text else str(json.loads(text)["deadLetterTargetArn"])

    @property
    def delivery_policy(self) -> str | None:
        return self.attributes.get(DELIVERY_POLICY) or None

    @property
    def filter_scope(self) -> str:
        return self.attributes.get(FILTER_SCOPE, _SCOPES[0])

    @property
    def filter_policy(self) -> dict[str, object] | None:
        text = self.attributes.get(FILTER_POLICY)
        if not text:
            return None
        policy = json.loads(text)
        return policy if isinstance(policy, dict) and policy else None

    def document(self) -> str:
        return json.dumps(
            {
                "format_version": FORMAT_VERSION,
                "attributes": dict(self.attributes),
                "token": self.token,
            },
            separators=(",", ":"),
        )

    @staticmethod
    def parse_document(document: str) -> tuple[dict[str, str], str | None]:
        data = json.loads(document)
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown subscription format {data.get('format_version')!r}")
        token = data.get("token")
        return {str(k): str(v) for k, v in data["attributes"].items()}, (
            None if token is None else str(token)
        )
