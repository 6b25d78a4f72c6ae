"""Bucket event notifications: delivery to topics and endpoints, their queues and limits;
and the SQS-style queues (decision 0158), which take bucket events too; SNS subscriptions
and Publish (decision 0163).

One group of ``andromede.settings.Settings``, which is composed of them all; the fields keep
their ``ANDROMEDE_<NAME>`` environment variables and TOML keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from andromede.settings.cidr import cidr_networks


class NotificationSettings(BaseModel):
    """Delivery of bucket event notifications."""

    notification_endpoint_allow_cidrs: tuple[str, ...] = Field(
        default=(),
        description="Networks (CIDR) that bucket event notifications may be pushed to beside "
        "public unicast addresses; a topic's push endpoint is resolved at each delivery and "
        "refused if an address is internal (loopback, private, link-local, metadata) and in "
        "none of these (decision 0132).",
    )
    notification_interval: float = Field(
        default=1.0,
        gt=0,
        description="Seconds between claims of the event notification queue when it was "
        "empty (decision 0132).",
    )
    notification_batch: int = Field(
        default=50,
        gt=0,
        description="Event notifications claimed at once by a gateway (decision 0132).",
    )
    notification_lease: float = Field(
        default=60.0,
        gt=0,
        description="Seconds a claimed event notification is a gateway's; one that dies "
        "leaves it to be claimed again after this (decision 0132).",
    )
    notification_max_attempts: int = Field(
        default=10,
        gt=0,
        description="Pushes of an event notification tried before it is dropped (decision 0132).",
    )
    notification_retry_base: float = Field(
        default=2.0,
        gt=0,
        description="Seconds before a failed event notification push is tried again, doubled "
        "at each further attempt, at most an hour (decision 0132).",
    )
    notification_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to connect to, send to and hear from a push endpoint, each "
        "(decision 0132).",
    )
    notification_queue_per_tenant: int = Field(
        default=100_000,
        gt=0,
        description="Event notifications a tenant may have waiting; further events are "
        "dropped and logged, the writes themselves taken (decision 0132).",
    )
    max_notification_topics: int = Field(
        default=1000,
        gt=0,
        description="Notification topics (SNS-style, for bucket events) a tenant may hold "
        "(decision 0132).",
    )

    max_queues: int = Field(
        default=1000,
        gt=0,
        description="SQS-style queues a tenant may hold in a Region (decisions 0158, 0414).",
    )
    queue_max_message_size: int = Field(
        default=262_144,
        ge=1024,
        le=1_048_576,
        description="Largest message body and attributes, in bytes, a queue may take, the "
        "ceiling of its MaximumMessageSize and of a batch's total (decision 0158).",
    )
    queue_max_in_flight: int = Field(
        default=120_000,
        gt=0,
        description="Messages of one queue that may be in flight (received, neither deleted "
        "nor visible again) before ReceiveMessage answers OverLimit, as on SQS (decision 0158).",
    )
    queue_query_max_parameters: int = Field(
        default=1000,
        ge=100,
        le=100_000,
        description="Most parameters one SQS Query request may carry, its form and query "
        "string together; more are refused (InvalidParameterValue) before any is read, as a "
        "batch of ten messages with ten attributes each needs about 400 (decision 0173).",
    )
    queue_long_poll_interval: float = Field(
        default=1.0,
        gt=0,
        le=20,
        description="Seconds between looks at a queue while a long poll waits, for messages "
        "sent through another gateway; a send through the same one wakes it at once "
        "(decision 0158).",
    )
    queue_kms_data_key_cache_size: int = Field(
        default=1000,
        gt=0,
        description="Data keys of SSE-KMS queues a gateway holds for their reuse period, each "
        "of the made and the opened ones, emptied when full (decision 0165).",
    )
    queue_move_task_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between a gateway's passes over the running message move tasks; "
        "each pass moves up to a task's rate times the time since its last pass (decision 0165).",
    )
    queue_move_task_max_rate: int = Field(
        default=500,
        gt=0,
        description="Most messages a second a message move task moves, and the ceiling of its "
        "MaxNumberOfMessagesPerSecond, as on SQS (decision 0165).",
    )
    sns_max_subscriptions_per_topic: int = Field(
        default=10_000,
        gt=0,
        description="Subscriptions (sqs, http, https) one SNS topic may hold (decision 0163).",
    )
    sns_max_message_size: int = Field(
        default=262_144,
        ge=1024,
        le=262_144,
        description="Largest SNS Publish message, body and attributes, in bytes: SNS's 256 "
        "KiB at most (decision 0163).",
    )
    sns_endpoint_url: str = Field(
        default="",
        description="The shared endpoint's URL as SNS subscribers reach it (https://host:port),"
        " for the SubscribeURL, UnsubscribeURL and SigningCertURL of SNS messages; empty: "
        "http(s)://<s3_host>:<s3_port> (decision 0163).",
    )
    sns_pending_subscription_ttl: float = Field(
        default=259_200.0,
        gt=0,
        description="Seconds an http(s) subscription (or another account's queue) may stay "
        "pending confirmation before it is deleted and stops counting toward the topic's "
        "limit: SNS's three days (decision 0168).",
    )
    sns_pending_sweep_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between the delivery worker's sweeps of expired pending SNS "
        "subscriptions (decision 0168).",
    )

    sns_max_tags_per_topic: int = Field(
        default=50,
        gt=0,
        le=50,
        description="Tags one SNS topic may hold: SNS's 50 at most (decision 0175).",
    )
    sns_replay_interval: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="Seconds between a gateway's passes over the running SNS replays; each "
        "pass queues up to sns_archive_batch archived messages per replay (decision 0175).",
    )
    sns_archive_expiry_interval: float = Field(
        default=300.0,
        gt=0,
        description="Seconds between a gateway's deletions of the SNS FIFO topics' expired "
        "archived messages, a few batches of sns_archive_batch each (decision 0175).",
    )
    sns_archive_batch: int = Field(
        default=100,
        gt=0,
        le=10_000,
        description="Archived SNS messages one step of the archive's upkeep replays or "
        "deletes (decision 0175).",
    )

    # SNS email and email-json subscriptions through the operator's SMTP relay (decision 0180).
    sns_smtp_host: str = Field(
        default="",
        description="SMTP relay that SNS email and email-json subscriptions are mailed "
        "through; empty: Subscribe refuses those protocols with InvalidParameter (decision "
        "0180).",
    )
    sns_smtp_port: int = Field(
        default=587,
        gt=0,
        lt=65536,
        description="Port of the SMTP relay (587 for STARTTLS, 465 for implicit TLS) "
        "(decision 0180).",
    )
    sns_smtp_tls: Literal["starttls", "implicit", "none"] = Field(
        default="starttls",
        description="TLS to the SMTP relay: starttls (required, the certificate checked), "
        "implicit (TLS from the first byte) or none (clear, refused with a username) "
        "(decision 0180).",
    )
    sns_smtp_username: str = Field(
        default="",
        description="User name the gateway logs in to the SMTP relay with; empty: no login "
        "(decision 0180).",
    )
    sns_smtp_password_file: Path | None = Field(
        default=None,
        description="File holding the SMTP relay's password (never the password itself "
        "here), read at start and never logged (decision 0180).",
    )
    sns_email_from: str = Field(
        default="",
        description="From address of SNS mails; empty: no-reply@ the SNS endpoint's host name "
        "(decision 0180).",
    )
    sns_email_per_second: float = Field(
        default=10.0,
        gt=0,
        description="Mails a second one email subscription is sent from a gateway, more "
        "waiting their turn: SNS's 10 (decision 0180).",
    )
    sns_email_per_second_per_tenant: float = Field(
        default=50.0,
        gt=0,
        description="Mails a second a gateway sends for all of one tenant's email "
        "subscriptions together, sparing the relay's reputation (decision 0180).",
    )
    sns_email_confirmation_resend_interval: float = Field(
        default=60.0,
        gt=0,
        le=86_400,
        description="Seconds at least between two confirmations a gateway mails again to one "
        "pending email subscription subscribed again (decision 0180's addendum).",
    )

    @model_validator(mode="after")
    def _smtp_login_over_tls(self) -> NotificationSettings:
        # A password sent in clear over the network is refused, not warned about.
        if self.sns_smtp_username and self.sns_smtp_tls == "none":
            raise ValueError("sns_smtp_username needs sns_smtp_tls starttls or implicit")
        if self.sns_smtp_username and self.sns_smtp_password_file is None:
            raise ValueError("sns_smtp_username needs sns_smtp_password_file")
        if any(c in self.sns_email_from for c in "\r\n<>,; ") or (
            self.sns_email_from and "@" not in self.sns_email_from
        ):
            raise ValueError("sns_email_from must be a bare address (name@domain)")
        return self

    @field_validator("notification_endpoint_allow_cidrs")
    @classmethod
    def _notification_networks(
        cls, value: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return cidr_networks(value, info)

    @field_validator("sns_endpoint_url")
    @classmethod
    def _sns_endpoint(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.username is not None
        ):
            raise ValueError("sns_endpoint_url must be an http(s)://host[:port] URL")
        return value.rstrip("/")
