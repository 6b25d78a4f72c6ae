"""SNS subscriptions and Publish (decision 0163): the service, its SQS-style queues as
subscribers, and the region's SNS signing key (made once, kept in the metadata database
sealed under ``keys/secrets.key``, as every gateway of the region holds that file)."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.errors import ConfigurationError
from andromede.firehose.service import FirehoseService
from andromede.iam.policy.service_grants import service_may
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.notifications.delivery import Deliverer
from andromede.notifications.deliverypolicy import RetryPolicy
from andromede.notifications.envelope import SigningKey, load_signing_key, new_signing_key
from andromede.notifications.errors import InvalidTopic
from andromede.notifications.model import Topic, parse_topic_arn
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.replay import ArchiveUpkeep, UpkeepPolicy
from andromede.notifications.service import TopicService
from andromede.notifications.smtp import SmtpMailer, SmtpRelay
from andromede.notifications.store import (
    ArchiveStore,
    EventQueue,
    QueuedEvent,
    SubscriptionStore,
)
from andromede.queues.errors import QueueError
from andromede.queues.fifo import is_fifo
from andromede.queues.model import TRACE_HEADER, MessageAttribute, Queue, parse_queue_arn
from andromede.queues.service import QueueService
from andromede.settings import Settings
from andromede.sns_firehose import RoleDeliveryStreams
from andromede.wakeup import Doorbell
from andromede.wiring.topic_keys import TopicKmsSealer

__all__ = [
    "StoredSigningKeys",
    "TopicQueues",
    "archive_ender",
    "archive_upkeep",
    "pubsub_service",
    "shredded_event_recorder",
    "signing_keys",
    "sns_base_url",
    "sns_firehose",
    "sns_mailer",
    "topic_sealer",
]

log = logging.getLogger(__name__)

SNS_PRINCIPAL = "sns.amazonaws.com"
S3_PRINCIPAL = "s3.amazonaws.com"
# The sealing context of the key (SecretSealer binds each secret to a name).
_SEAL_NAME = "sns-signing-key"


class StoredSigningKeys:
    """The region's SNS signing key: read from the store, or made and kept by the first
    gateway to need it (another one's, kept first, wins)."""

    def __init__(self, store: SubscriptionStore, sealer: SecretSealer, region: str) -> None:
        self._store = store
        self._sealer = sealer
        self._region = region
        self._key: SigningKey | None = None
        self._lock = asyncio.Lock()

    async def key(self) -> SigningKey:
        if self._key is not None:
            return self._key
        async with self._lock:
            if self._key is None:
                held = await self._store.signing_key()
                if held is None:
                    made, private = await asyncio.to_thread(new_signing_key, self._region, _now())
                    sealed = self._sealer.seal(_SEAL_NAME, private.decode())
                    held = await self._store.add_signing_key(
                        made.key_id, sealed, made.certificate_pem, _now()
                    )
                    # Read again: two gateways making one at once both insert; every one
                    # then uses the first kept (oldest, then smallest id).
                    held = await self._store.signing_key() or held
                    log.info("SNS signing key made (certificate %s)", made.key_id)
                sealed_key, certificate = held
                self._key = load_signing_key(
                    self._sealer.unseal(_SEAL_NAME, sealed_key).encode(), certificate
                )
            return self._key

    async def certificate(self, key_id: str) -> str | None:
        """The certificate served at SigningCertURL, if ``key_id`` is the region's key."""
        key = await self.key()
        return key.certificate_pem if key.key_id == key_id else None


def _now() -> datetime:
    return datetime.now(UTC)


class TopicQueues:
    """The platform's queues as SNS subscribers. A message into a queue of the topic's own
    account is sent as before (decision 0163); one crossing accounts (another account's
    queue subscribed, or a subscriber's queue for another account's topic) only when the
    queue's ``Policy`` lets ``sns.amazonaws.com`` ``sqs:SendMessage`` with the topic as
    ``aws:SourceArn`` (AWS's rule), checked at each delivery (decision 0168)."""

    def __init__(self, queues: QueueService, region: str) -> None:
        self._queues = queues
        self._region = region

    async def may_subscribe(self, tenant_id: str, queue_arn: str, *, fifo: bool = False) -> bool:
        try:
            region, account, name = parse_queue_arn(queue_arn)
            queue = await self._queues.get_queue(tenant_id, account, name)
        except QueueError:
            return False
        # The queue is of the kind asked: the subscription's checks (pubsub) keep a standard
        # topic from FIFO queues (its messages have no group: decision 0164), and let a
        # FIFO topic feed both kinds (decisions 0171, 0175), as on AWS.
        return region == self._region and is_fifo(queue) == fifo

    async def send(
        self,
        owner: str,
        queue_arn: str,
        body: str,
        attributes: Mapping[str, tuple[str, str]] | None = None,
        *,
        topic_arn: str,
        group_id: str | None = None,
        dedup_id: str | None = None,
        trace: str | None = None,
    ) -> bool:
        try:
            region, account, name = parse_queue_arn(queue_arn)
            if region != self._queues.region:  # never another Region's namesake (0414)
                return False
            # The queue in its own account: the platform delivers, as SQS does for SNS.
            queue = await self._queues.get_queue(account, account, name)
            _, topic_account, _ = parse_topic_arn(topic_arn)
        except (QueueError, InvalidTopic):
            return False
        if account != topic_account and not sns_may_send(queue, topic_arn, topic_account):
            log.info("message for %s dropped: the queue's policy does not allow SNS", queue_arn)
            return False
        if is_fifo(queue) != (group_id is not None):
            return False
        # A FIFO topic's ids go along (decision 0171): the queue keeps the group's order and
        # drops a duplicate of the last five minutes (the worker's second try of one).
        await self._queues.send_message(
            queue,
            body,
            _sqs_attributes(attributes or {}),
            # The publisher's trace header, as SNS gives it to SQS (decision 0336).
            {} if not trace else {TRACE_HEADER: MessageAttribute("String", string_value=trace)},
            None,
            SNS_PRINCIPAL,
            group_id=group_id,
            dedup_id=dedup_id,
        )
        return True


def sns_may_send(queue: Queue, topic_arn: str, topic_account: str) -> bool:
    """Whether the queue's policy lets SNS send it the messages of ``topic_arn`` (``Principal``
    ``{"Service": "sns.amazonaws.com"}``, ``sqs:SendMessage``, ``aws:SourceArn`` the topic,
    ``aws:SourceAccount`` its account); a policy that does not parse allows nothing."""
    return service_may(
        queue.attributes.get("Policy"),
        service=SNS_PRINCIPAL,
        action="sqs:SendMessage",
        resource=queue.arn,
        resource_account=queue.tenant_id,
        source_arn=topic_arn,
        source_account=topic_account,
        region=queue.region,
    )


def _sqs_attributes(attributes: Mapping[str, tuple[str, str]]) -> dict[str, MessageAttribute]:
    """SNS's message attributes as SQS's, as SNS passes them on raw delivery: a String.Array
    becomes a String (its JSON), a Binary its decoded bytes."""
    found: dict[str, MessageAttribute] = {}
    for name, (kind, value) in attributes.items():
        if kind.split(".", 1)[0] == "Binary":
            try:
                found[name] = MessageAttribute(kind, binary_value=base64.b64decode(value))
            except ValueError:
                continue
        else:
            found[name] = MessageAttribute(
                "String" if kind == "String.Array" else kind, string_value=value
            )
    return found


def s3_may_publish(topic: Topic, bucket_arn: str, bucket_account: str) -> bool:
    """Whether the topic's policy lets S3 publish the events of ``bucket_arn`` (``Principal``
    ``{"Service": "s3.amazonaws.com"}``, ``sns:Publish``, ``aws:SourceArn`` /
    ``aws:SourceAccount`` as S3 sets them); a policy that does not parse allows nothing."""
    return service_may(
        topic.attributes.get("Policy"),
        service=S3_PRINCIPAL,
        action="sns:Publish",
        resource=topic.arn,
        resource_account=topic.tenant_id,
        source_arn=bucket_arn,
        source_account=bucket_account,
        region=topic.region,
    )


def sns_base_url(settings: Settings) -> str:
    if settings.sns_endpoint_url:
        return settings.sns_endpoint_url
    scheme = "https" if settings.tls_cert is not None else "http"
    return f"{scheme}://{settings.s3_host}:{settings.s3_port}"


def sns_mailer(settings: Settings) -> SmtpMailer | None:
    """The SMTP relay SNS's mails go through (decision 0180); None when the operator set
    none. The password is read from its file here, once, and kept out of every repr."""
    if not settings.sns_smtp_host:
        return None
    base_url = sns_base_url(settings)
    password = ""
    if settings.sns_smtp_password_file is not None:
        try:
            password = Path(settings.sns_smtp_password_file).read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"sns_smtp_password_file {settings.sns_smtp_password_file} cannot be read"
            ) from exc
    return SmtpMailer(
        SmtpRelay(
            host=settings.sns_smtp_host,
            port=settings.sns_smtp_port,
            tls=settings.sns_smtp_tls,
            sender=settings.sns_email_from
            or f"no-reply@{urlsplit(base_url).hostname or 'localhost'}",
            base_url=base_url,
            username=settings.sns_smtp_username,
            password=password,
            timeout=settings.notification_timeout,
            per_subscription=settings.sns_email_per_second,
            per_tenant=settings.sns_email_per_second_per_tenant,
        )
    )


def pubsub_service(
    settings: Settings,
    topics: TopicService,
    store: SubscriptionStore,
    events: EventQueue,
    keys: StoredSigningKeys,
    queues: QueueService | None,
    archive: ArchiveStore | None = None,
) -> PubSubService:
    topics.s3_may_publish = s3_may_publish
    return PubSubService(
        topics,
        store,
        events,
        keys,
        None if queues is None else TopicQueues(queues, settings.region),
        PubSubLimits(
            base_url=sns_base_url(settings),
            max_subscriptions=settings.sns_max_subscriptions_per_topic,
            max_message_size=settings.sns_max_message_size,
            queue_bound=settings.notification_queue_per_tenant,
            pending_ttl=timedelta(seconds=settings.sns_pending_subscription_ttl),
            default_retry=platform_retry(settings),
            email=bool(settings.sns_smtp_host),
            confirmation_resend=timedelta(seconds=settings.sns_email_confirmation_resend_interval),
        ),
        archive=archive,
    )


def topic_sealer(
    settings: Settings,
    keys: KeyService,
    customer_keys: CustomerKeyService,
    audit: AuditService | None,
    billing: BillingService | None,
) -> TopicKmsSealer:
    """Topics under customer-managed KMS keys (decision 0212), with the queues' data key
    cache bound (``queue_kms_data_key_cache_size``)."""
    return TopicKmsSealer(
        customer_keys, keys, audit, billing, cache_size=settings.queue_kms_data_key_cache_size
    )


def archive_ender(
    archive: ArchiveStore, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Topic], Awaitable[None]]:
    """What ends a topic's archive (TopicService.on_archive_ended, decision 0175): its
    messages expire now, deleted by the archive's upkeep."""

    async def ended(topic: Topic) -> None:
        await archive.end_archive(topic.arn, clock())

    return ended


def archive_upkeep(
    settings: Settings,
    archive: ArchiveStore,
    topics: TopicService,
    pubsub: PubSubService,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    doorbell: Doorbell | None = None,
) -> ArchiveUpkeep:
    """FIFO topics' archives kept up (decision 0175): replays advanced, expired messages
    deleted; a topic's archive ended with its ArchivePolicy or the topic. ``doorbell``: rung
    when this process started a replay (decision 0206)."""
    upkeep = ArchiveUpkeep(
        archive,
        topics,
        pubsub,
        UpkeepPolicy(
            batch=settings.sns_archive_batch,
            interval=settings.sns_replay_interval,
            expiry_interval=settings.sns_archive_expiry_interval,
            idle_poll_max=settings.background_idle_poll_max,
        ),
        clock=clock,
        doorbell=doorbell,
    )

    topics.on_archive_ended = archive_ender(archive, clock)
    return upkeep


def sns_firehose(
    pubsub: PubSubService, deliverer: Deliverer, identity: IdentityService, settings: Settings
) -> Callable[[FirehoseService], None]:
    """What gives SNS the Firehose service once made (decision 0226): its firehose
    subscriptions checked and delivered, and data protection's Firehose findings put, through
    ``RoleDeliveryStreams``."""

    def wire(firehose: FirehoseService) -> None:
        streams = RoleDeliveryStreams(identity, firehose, settings.region)
        pubsub.streams = deliverer.streams = pubsub.guard.streams = streams

    return wire


def platform_retry(settings: Settings) -> RetryPolicy:
    """The worker's own schedule (``notification_retry_base`` doubled at each attempt, at most
    an hour, ``notification_max_attempts``) in SNS's terms, for EffectiveDeliveryPolicy."""
    return RetryPolicy(
        min_delay=max(1, math.ceil(settings.notification_retry_base)),
        max_delay=3600,
        retries=settings.notification_max_attempts - 1,
        backoff="exponential",
    )


def signing_keys(settings: Settings, store: SubscriptionStore) -> StoredSigningKeys:
    return StoredSigningKeys(
        store,
        SecretSealer.from_key_file(settings.data_dir / "keys" / "secrets.key"),
        settings.region,
    )


def shredded_event_recorder(audit: AuditService) -> Callable[[QueuedEvent], None]:
    """A pending notification event that no longer opens (its tenant closed, its key
    destroyed: decision 0163's addendum), dropped by the worker, as an event of the tenant's
    log: the platform gave up a delivery it had accepted."""

    def record(event: QueuedEvent) -> None:
        audit.record(
            request_id=f"notification-event-{event.event_id}",
            tenant_id=event.tenant_id,
            principal="andromede:notification-worker",
            action="andromede:DropUnreadableNotificationEvent",
            resource=event.topic_arn,
            outcome=Outcome.FAILURE,
            details={"reason": event.unopened or "unreadable"},
        )

    return record
