"""Subscriptions and Publish (decision 0163): SNS's fan-out of a topic's messages to SQS
queues and HTTP(S) endpoints.

- **Through the event queue.** Publish (and an S3 event or an Auto Scaling notification
  reaching a topic) builds each matching subscription's body at once, signed, and queues it
  with the subscription's ARN as destination; the delivery worker sends it (into the queue,
  or POSTed with SNS's ``x-amz-sns-*`` headers), settled and retried as any event. So a
  message is delivered at least once and the same bytes each time.
- **Confirmation.** An ``sqs`` subscription of the caller's own queue is confirmed at once;
  an ``http``/``https`` one receives a ``SubscriptionConfirmation`` (an ``email``/``email-json``
  one a mail of it, decision 0180, taken only when the operator set an SMTP relay) and stays
  pending until ConfirmSubscription brings its token back (signed, or unsigned from
  ``SubscribeURL``). A pending email one subscribed again is mailed its confirmation again,
  at most once per ``confirmation_resend`` (decision 0180's addendum; each gateway's own).
- **Across accounts** (decision 0168). The SNS API decides, from the topic's ``Policy`` and
  the caller's IAM, whether another account may act on a topic; once it has, it calls here
  with the topic's account (``topic_account``) beside the caller's. A queue of another
  account is subscribed pending confirmation (the SubscriptionConfirmation is sent into it);
  a message crossing accounts into a queue needs the queue's policy to let
  ``sns.amazonaws.com`` send with the topic as ``aws:SourceArn`` (checked at each delivery).
- **Pending subscriptions expire** (decision 0168) ``pending_ttl`` after they were made
  unconfirmed: ConfirmSubscription then finds no token, and they stop counting toward the
  topic's limit (deleted by the delivery worker's sweep, and before each Subscribe).
- **Delivery policies** (decision 0168): an http(s) subscription's effective
  ``DeliveryPolicy`` (its own, its topic's) travels with each of its deliveries.
- **FIFO topics** (decision 0171): only SQS FIFO queues subscribe; a publish names its
  message group and deduplication id, a duplicate of the last five minutes answers the first
  message's id and sequence number and is not queued again; each delivery carries both ids
  into the FIFO queue (``send_message(group_id=, dedup_id=)``), which keeps the group's order
  and drops a duplicate in its turn. A standard queue subscribes too (decision 0175): it gets
  the messages without their ids, its order and once-only delivery not kept (as on AWS).
- **Archive and replay** (decision 0175): a FIFO topic with an ``ArchivePolicy`` keeps each
  new message (before its fan-out); a subscription's ``ReplayPolicy`` has the archive's
  upkeep (``notifications.replay``) queue those of its window again, marked ``Replayed``.
  While a replay without an end runs, the subscription's live messages are left to it (they
  are in the archive), so it receives them after the older ones, in order; a replay with an
  end takes the subscription off the live messages, as SNS.
- **Topic keys** (decision 0212): a topic's ``KmsMasterKeyId`` has each notification queued
  and each archived message sealed under it (``notifications.topic_keys``), the publisher
  first allowed to use the key; a delivery carries its topic's delivery status logging
  attributes and its queueing time, for the worker's status logs.
- **Firehose** (decision 0226): ``firehose`` subscriptions (``notifications.streams``).
  **Lambda** (decision 0293): ``lambda`` ones (``notifications.functions``).
- **Lineage** (decision 0336): the publisher's trace header is queued with each delivery, for
  a ``lambda`` subscription's invocation and an ``sqs`` one's ``AWSTraceHeader``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from andromede.notifications.archive import (
    REPLAY_PENDING,
    REPLAY_POLICY,
    REPLAY_RUNNING,
    ArchivedMessage,
    Replay,
    ReplayWindow,
    check_replay_policy,
)
from andromede.notifications.deliverypolicy import effective_policy
from andromede.notifications.envelope import confirmation, notification
from andromede.notifications.errors import (
    InvalidTopic,
    NoSuchSubscription,
    NotSubscribable,
    TopicKeyInvalidState,
)
from andromede.notifications.feedback import is_feedback
from andromede.notifications.fifo import (
    DEDUP_INTERVAL,
    dedup_key,
    fifo_endpoint,
    publish_ids,
    sequence_number,
)
from andromede.notifications.mails import EMAIL_PROTOCOLS
from andromede.notifications.messages import check_publish, event_subject, passes
from andromede.notifications.model import Topic
from andromede.notifications.protected_messages import Caller, MessageGuard
from andromede.notifications.pubsub_types import (
    Delivery,
    Outgoing,
    Published,
    PubSubLimits,
    SigningKeys,
    SubscriberQueues,
    queued_content,
)
from andromede.notifications.service import TopicService
from andromede.notifications.store import ArchiveStore, EventQueue, SubscriptionStore
from andromede.notifications.streams import SubscriberStreams, check_stream
from andromede.notifications.subscriptions import (
    REDRIVE_POLICY,
    SUBSCRIPTION_PRINCIPAL,
    SUBSCRIPTION_ROLE,
    Subscription,
    check_endpoint,
    check_subscription_attributes,
)
from andromede.notifications.topic_keys import TopicSealer, kms_key_of, opened_text, sealed_text
from andromede.notifications.topic_metrics import TopicMetrics

__all__ = [
    "Delivery",
    "PubSubLimits",
    "PubSubService",
    "Published",
    "SigningKeys",
    "SubscriberQueues",
    "check_publish",
]

_log = logging.getLogger(__name__)
_PAGE = 100


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PubSubService:
    def __init__(
        self,
        topics: TopicService,
        store: SubscriptionStore,
        queue: EventQueue,
        keys: SigningKeys,
        queues: SubscriberQueues | None,
        limits: PubSubLimits,
        *,
        clock: Callable[[], datetime] = _utcnow,
        archive: ArchiveStore | None = None,
        sealer: TopicSealer | None = None,
    ) -> None:
        """``archive``: where FIFO topics' archives and replays are kept (decision 0175);
        None: ``ArchivePolicy`` and ``ReplayPolicy`` are refused. ``sealer``: a topic's KMS
        key at work (decision 0212; settable by the wiring); None: a topic under a key refuses
        Publish."""
        self.sealer = sealer
        self.guard = MessageGuard(clock)  # its findings writer set by the wiring (0215)
        self.metrics = TopicMetrics()  # its recorder set by the wiring (decision 0221)
        self.streams: SubscriberStreams | None = None  # Firehose, by the wiring (0226)
        self._archive = archive
        self._topics = topics
        self._store = store
        self._queue = queue
        self._keys = keys
        self._queues = queues
        self._limits = limits
        self._clock = clock
        # A topic's subscriptions go with it, as on SNS (DeleteTopic, a tenant closed).
        topics.on_topic_deleted = self.forget_topic
        # Pending email subscription → when this gateway last mailed its confirmation again.
        self._resent: dict[str, datetime] = {}

    @property
    def max_message_size(self) -> int:
        return self._limits.max_message_size

    async def subscribe(
        self,
        tenant_id: str,
        topic_arn: str,
        protocol: str,
        endpoint: str,
        attributes: Mapping[str, str],
        *,
        topic_account: str | None = None,
        principal: str | None = None,
    ) -> Subscription:
        """``tenant_id`` subscribes (the subscription's owner); ``topic_account``: the
        topic's account when the SNS API let another account's caller in (decision 0168);
        ``principal``: the caller's ARN, its ``SubscriptionPrincipal`` (decision 0215)."""
        topic = await self._topics.get_topic(topic_account or tenant_id, topic_arn)
        if protocol in EMAIL_PROTOCOLS and not self._limits.email:
            # Refused, never taken and silently not mailed (decision 0180).
            raise InvalidTopic(
                f"Invalid parameter: Protocol {protocol}: email delivery is not configured "
                "by the operator of this platform (sns_smtp_host)"
            )
        endpoint = check_endpoint(protocol, endpoint)
        kept = check_subscription_attributes(attributes, protocol)
        if principal:
            kept[SUBSCRIPTION_PRINCIPAL] = principal
        if topic.fifo and protocol != "sqs":
            raise InvalidTopic(
                f"Invalid parameter: Invalid protocol type: {protocol} Reason: FIFO topics "
                "deliver to SQS queues only"
            )
        if protocol == "sqs" and endpoint.endswith(".fifo") and not topic.fifo:
            # A FIFO topic takes standard queues too (decision 0175), not the reverse.
            raise InvalidTopic(
                "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be "
                "subscribed to standard SNS topics"
            )
        window = await self._replay_window(topic, kept)
        await self._check_dead_letter(tenant_id, kept, fifo=fifo_endpoint(protocol, endpoint))
        token = None if protocol == "lambda" else secrets.token_hex(64)  # 0293: at once, as SNS
        if protocol == "sqs":
            token = await self._queue_token(tenant_id, topic, endpoint)
        elif protocol == "firehose":  # confirmed at once, as an own queue (decision 0226)
            token = await check_stream(self.streams, tenant_id, endpoint, kept)
        await self.expire_pending(topic_arn=topic.arn)
        candidate = Subscription(
            arn=f"{topic.arn}:{uuid.uuid4()}",
            topic_arn=topic.arn,
            tenant_id=topic.tenant_id,
            owner=tenant_id,
            protocol=protocol,
            endpoint=endpoint,
            attributes=kept,
            token=token,
            created_at=self._clock(),
        )
        held = await self._store.put_subscription(candidate, limit=self._limits.max_subscriptions)
        if held.arn == candidate.arn and held.token is not None:
            await self._send_confirmation(held)
        elif held.token is not None and held.protocol in EMAIL_PROTOCOLS and self._resend(held):
            # Subscribed again while pending: the confirmation mailed again, as SNS does,
            # at most once an interval, or sns:Subscribe would mail an address at will.
            await self._send_confirmation(held)
        if held.arn == candidate.arn and window is not None:
            await self._start_replay(held, window)
        return held

    def _resend(self, subscription: Subscription) -> bool:
        """Whether a pending subscription's confirmation may be mailed again now: none
        since its creation (the first one) or its last resend, within the interval."""
        now, interval = self._clock(), self._limits.confirmation_resend
        # An entry past the interval says no more than the creation time: dropped, so the
        # map holds only the last interval's resends.
        self._resent = {arn: at for arn, at in self._resent.items() if now - at < interval}
        if now - self._resent.get(subscription.arn, subscription.created_at) < interval:
            return False
        self._resent[subscription.arn] = now
        return True

    async def _replay_window(
        self, topic: Topic, attributes: Mapping[str, str]
    ) -> ReplayWindow | None:
        """A ReplayPolicy's window, once SNS's rules hold: a FIFO topic with an archive."""
        text = attributes.get(REPLAY_POLICY)
        if text is None:
            return None
        if self._archive is None or not topic.fifo or topic.archive_days is None:
            raise InvalidTopic(
                "Invalid parameter: ReplayPolicy Reason: the topic has no ArchivePolicy"
            )
        return check_replay_policy(text, self._clock())

    async def _start_replay(self, subscription: Subscription, window: ReplayWindow) -> None:
        if self._archive is None:
            return
        await self._archive.put_replay(
            Replay(
                subscription.arn,
                subscription.topic_arn,
                subscription.tenant_id,
                window.start,
                window.end,
                0,
                REPLAY_PENDING,
            )
        )

    async def replay_status(self, subscription: Subscription) -> str | None:
        """The subscription's ReplayStatus (decision 0175); None: no replay asked."""
        if self._archive is None or REPLAY_POLICY not in subscription.attributes:
            return None
        held = await self._archive.replay(subscription.arn)
        return None if held is None else held.status

    async def _queue_token(self, tenant_id: str, topic: Topic, queue_arn: str) -> str | None:
        """An sqs subscription's confirmation token: none for the caller's own queue
        (confirmed at once); one for a queue of another account of this region, whose owner
        confirms as SNS has them do (the SubscriptionConfirmation is sent into the queue)."""
        if self._queues is None:
            raise NotSubscribable("Authorization error: no queues are served")
        # The queue's kind is its name's (SQS's rule); a FIFO topic takes both (decision 0175).
        if await self._queues.may_subscribe(tenant_id, queue_arn, fifo=queue_arn.endswith(".fifo")):
            return None
        region, account = queue_arn.split(":")[3:5]
        if region != topic.region or account == tenant_id:
            # The caller's own ARN naming no queue of its: refused, as before.
            raise NotSubscribable(
                "Authorization error: the queue is not one of this account's queues"
            )
        return secrets.token_hex(64)

    async def expire_pending(self, *, topic_arn: str | None = None) -> int:
        """Delete the subscriptions left unconfirmed past ``pending_ttl`` (of one topic, or
        all); how many."""
        cutoff = self._clock() - self._limits.pending_ttl
        return await self._store.delete_pending_before(cutoff, topic_arn=topic_arn)

    def _expired(self, subscription: Subscription) -> bool:
        return (
            not subscription.confirmed
            and subscription.created_at + self._limits.pending_ttl <= self._clock()
        )

    async def _check_dead_letter(
        self, tenant_id: str, attributes: Mapping[str, str], *, fifo: bool
    ) -> None:
        """A RedrivePolicy must name a queue of the caller's own account (as on SNS), a FIFO
        queue for a FIFO topic's subscription (``fifo``) and a standard one otherwise."""
        text = attributes.get(REDRIVE_POLICY)
        if text is None:
            return
        target = str(json.loads(text)["deadLetterTargetArn"])
        if self._queues is None or not await self._queues.may_subscribe(
            tenant_id, target, fifo=fifo
        ):
            raise InvalidTopic(
                "Invalid parameter: RedrivePolicy: deadLetterTargetArn is not a queue of this "
                "account"
            )

    async def _send_confirmation(self, subscription: Subscription) -> None:
        if subscription.token is None:
            return
        message_id = str(uuid.uuid4())
        envelope = confirmation(
            message_id=message_id,
            topic_arn=subscription.topic_arn,
            token=subscription.token,
            timestamp=self._clock(),
            key=await self._keys.key(),
            base_url=self._limits.base_url,
        )
        # Into another account's FIFO queue, the confirmation is a group of its own.
        ids = (
            (message_id, message_id)
            if fifo_endpoint(subscription.protocol, subscription.endpoint)
            else None
        )
        await self._enqueue(
            subscription, json.dumps(envelope), "SubscriptionConfirmation", message_id, None, ids
        )

    async def confirm(self, topic_arn: str, token: str) -> Subscription:
        """The subscription of ``topic_arn`` holding ``token``, now confirmed (a confirmed
        one again: SNS answers its ARN). InvalidTopic for a token no one holds."""
        after = ""
        while True:
            page = await self._store.list_subscriptions(
                topic_arn=topic_arn, after=after, limit=_PAGE
            )
            for subscription in page:
                if subscription.token is not None and secrets.compare_digest(
                    subscription.token, token
                ):
                    if self._expired(subscription):
                        # As SNS: the token lapsed with its subscription.
                        await self._store.delete_subscription(subscription.arn)
                        raise InvalidTopic("Invalid token")
                    confirmed = dataclasses.replace(subscription, token=None)
                    await self._store.update_subscription(confirmed)
                    return confirmed
            if len(page) < _PAGE:
                raise InvalidTopic("Invalid token")
            after = page[-1].arn

    async def _visible(self, tenant_id: str, arn: str) -> Subscription:
        """The subscription, if the caller owns it or its topic; NoSuchSubscription."""
        found = await self._store.get_subscription(arn)
        if found is None or tenant_id not in (found.owner, found.tenant_id):
            raise NoSuchSubscription("Subscription does not exist")
        return found

    async def unsubscribe(self, tenant_id: str, arn: str) -> None:
        await self._store.delete_subscription((await self._visible(tenant_id, arn)).arn)

    async def unsubscribe_unsigned(self, arn: str) -> bool:
        """UnsubscribeURL's call: the ARN (its UUID) is the credential, as on SNS."""
        return await self._store.delete_subscription(arn)

    async def get_subscription(self, tenant_id: str, arn: str) -> Subscription:
        return await self._visible(tenant_id, arn)

    async def set_attribute(self, tenant_id: str, arn: str, name: str, value: str) -> None:
        held = await self._visible(tenant_id, arn)
        attributes = {**held.attributes, name: value}
        if value == "" and name != "FilterPolicy":
            attributes.pop(name)
        if name == SUBSCRIPTION_PRINCIPAL:  # Subscribe's, read-only
            raise InvalidTopic(f"Invalid parameter: AttributeName {name}")
        attributes.pop(SUBSCRIPTION_PRINCIPAL, None)
        kept = check_subscription_attributes(attributes, held.protocol)
        if held.principal is not None:
            kept[SUBSCRIPTION_PRINCIPAL] = held.principal
        await self._check_dead_letter(
            tenant_id, kept, fifo=fifo_endpoint(held.protocol, held.endpoint)
        )
        if name == SUBSCRIPTION_ROLE:
            await check_stream(self.streams, held.owner, held.endpoint, kept)
        window = None
        if name == REPLAY_POLICY:
            topic = await self._topics.topic(held.topic_arn)
            if topic is None:
                raise NoSuchSubscription("Subscription does not exist")
            window = await self._replay_window(topic, kept)
        await self._store.update_subscription(dataclasses.replace(held, attributes=kept))
        if name == REPLAY_POLICY and self._archive is not None:
            # A new policy replaces the replay running; an empty one stops it (SNS's
            # "Stop replay").
            if window is None:
                await self._archive.drop_replay(held.arn)
            else:
                await self._start_replay(held, window)

    async def effective_delivery_policy(self, subscription: Subscription) -> str | None:
        """An http(s) subscription's ``EffectiveDeliveryPolicy`` (SNS's JSON)."""
        if subscription.protocol not in ("http", "https"):
            return None
        topic = await self._topics.topic(subscription.topic_arn)
        return effective_policy(
            None if topic is None else topic.delivery_policy,
            subscription.delivery_policy,
            self._limits.default_retry,
        ).document()

    def topic_delivery_policy(self, topic: Topic) -> str:
        """A topic's ``EffectiveDeliveryPolicy``: what its http(s) subscriptions get."""
        return effective_policy(
            topic.delivery_policy, None, self._limits.default_retry
        ).topic_document()

    async def list_subscriptions(
        self,
        tenant_id: str,
        next_token: str | None,
        *,
        topic_arn: str | None = None,
        topic_account: str | None = None,
    ) -> tuple[list[Subscription], str | None]:
        """A page of the caller's subscriptions (or of the topic ``topic_arn``: its own, or
        ``topic_account``'s when the SNS API let the caller in)."""
        if topic_arn is not None:
            await self._topics.get_topic(topic_account or tenant_id, topic_arn)
        page = await self._store.list_subscriptions(
            topic_arn=topic_arn,
            owner=None if topic_arn is not None else tenant_id,
            after=next_token or "",
            limit=_PAGE,
        )
        return page, (page[-1].arn if len(page) == _PAGE else None)

    async def subscription_counts(self, topic_arn: str) -> tuple[int, int]:
        """(confirmed, pending) subscriptions of the topic, for GetTopicAttributes'
        ``SubscriptionsConfirmed`` and ``SubscriptionsPending`` (Terraform reads them); an
        expired pending one is not counted. Paged through the store: a topic holds at most
        ``sns_max_subscriptions_per_topic``."""
        confirmed = pending = 0
        after = ""
        while page := await self._store.list_subscriptions(
            topic_arn=topic_arn, after=after, limit=_PAGE
        ):
            confirmed += sum(1 for held in page if held.confirmed)
            pending += sum(1 for held in page if not held.confirmed and not self._expired(held))
            after = page[-1].arn
        return confirmed, pending

    async def forget_topic(self, topic_arn: str) -> int:
        return await self._store.delete_topic_subscriptions(topic_arn)

    async def publish(
        self,
        tenant_id: str,
        topic_arn: str,
        message: str,
        subject: str | None,
        attributes: Mapping[str, tuple[str, str]],
        structure: str | None,
        *,
        group_id: str | None = None,
        dedup_id: str | None = None,
        publisher: object | None = None,
        caller: Caller | None = None,
        trace: str | None = None,
    ) -> Published:
        """Publish to the caller's topic: the message id (and, on a FIFO topic, its sequence
        number; a duplicate's are the first message's, and it is not queued again).
        ``publisher``: the wire layer's caller, who must be let use the topic's KMS key
        (decision 0212; None: the platform's own publish). ``caller``: the publisher, whom
        the topic's data protection policy judges (decision 0215). ``trace``: the request's
        trace header, queued with each delivery (decision 0336)."""
        topic = await self._topics.get_topic(tenant_id, topic_arn)
        check_publish(message, subject, attributes, structure, self._limits.max_message_size)
        caller = caller or (None, tenant_id)
        published = await self._publish(
            topic,
            self.guard.inbound(topic, message, structure, caller),
            subject,
            attributes,
            structure,
            group_id,
            dedup_id,
            publisher,
            trace,
        )
        await self.guard.audit(topic, message, structure, caller, published.message_id)
        self.metrics.published(topic.arn, message)
        return published

    async def _publish(
        self,
        topic: Topic,
        message: str,
        subject: str | None,
        attributes: Mapping[str, tuple[str, str]],
        structure: str | None,
        group_id: str | None,
        dedup_id: str | None,
        publisher: object | None,
        trace: str | None,
    ) -> Published:
        key = kms_key_of(topic)
        if key is not None:
            if self.sealer is None:
                raise TopicKeyInvalidState("Topics under a KMS key are not offered here.")
            if publisher is not None:
                await self.sealer.authorise(topic, key, publisher)
        ids = publish_ids(topic, message, group_id, dedup_id)
        if ids is None:
            message_id = await self.fan_out(topic, message, subject, attributes, structure, trace)
            return Published(message_id)
        now = self._clock()
        message_id, sequence, fresh = await self._topics.deduplicate(
            topic, dedup_key(topic, ids[1], ids[0]), str(uuid.uuid4()), now, now + DEDUP_INTERVAL
        )
        number = sequence_number(sequence)
        if fresh:
            outgoing = Outgoing(
                message_id, message, subject, attributes, structure, now, (ids, number), trace=trace
            )
            days = topic.archive_days
            if days is not None and self._archive is not None:
                # Archived before its fan-out: a subscription whose replay holds its live
                # messages finds it in the archive (decision 0175).
                record = ArchivedMessage(
                    message_id, number, ids[0], ids[1], message, subject, attributes, structure, now
                ).record()
                record = await sealed_text(self.sealer, topic, record, topic.arn)
                await self._archive.archive(
                    topic.tenant_id, topic.arn, record, now, now + timedelta(days=days)
                )
            await self._fan_out(topic, outgoing)
        return Published(message_id, number)

    async def fan_out(
        self,
        topic: Topic,
        message: str,
        subject: str | None,
        attributes: Mapping[str, tuple[str, str]],
        structure: str | None = None,
        trace: str | None = None,
    ) -> str:
        """Queue a standard topic's message for each confirmed subscription of ``topic`` its
        filter lets through; the message id (one for all, as SNS's)."""
        message_id = str(uuid.uuid4())
        now = self._clock()
        outgoing = Outgoing(message_id, message, subject, attributes, structure, now, trace=trace)
        await self._fan_out(topic, outgoing)
        return message_id

    async def _fan_out(self, topic: Topic, outgoing: Outgoing) -> None:
        held_back = topic.archive_days is not None and self._archive is not None
        per_protocol = json.loads(outgoing.message) if outgoing.structure == "json" else None
        after = ""
        while True:
            page = await self._store.list_subscriptions(
                topic_arn=topic.arn, after=after, limit=_PAGE
            )
            for subscription in page:
                if held_back and await self._replaying(subscription):
                    continue  # the replay running brings it, after the older ones
                await self._send(topic, subscription, outgoing, per_protocol)
            if len(page) < _PAGE:
                return
            after = page[-1].arn

    async def _replaying(self, subscription: Subscription) -> bool:
        """Whether the subscription's live messages are its replay's (decision 0175): while
        a replay without an end runs (it brings them after the older ones), and for good
        once a replay has an end (SNS: "the subscription will no longer receive newly
        published messages")."""
        if self._archive is None or REPLAY_POLICY not in subscription.attributes:
            return False
        held = await self._archive.replay(subscription.arn)
        return held is not None and (
            held.end is not None or held.status in (REPLAY_PENDING, REPLAY_RUNNING)
        )

    async def _send(
        self,
        topic: Topic,
        subscription: Subscription,
        outgoing: Outgoing,
        per_protocol: dict[str, object] | None = None,
    ) -> bool:
        """Queue ``outgoing`` for one subscription, if confirmed and its filter lets it
        through; False only when the tenant's queue is full. ``per_protocol``: a ``json``
        structure's messages, parsed once per fan-out."""
        text = outgoing.message
        if outgoing.structure == "json":
            if per_protocol is None:
                per_protocol = json.loads(outgoing.message)
            text = str(per_protocol.get(subscription.protocol, per_protocol["default"]))
        if not subscription.confirmed:
            return True
        if not passes(subscription, text, outgoing.attributes):
            self.metrics.filtered_out(subscription, text, outgoing.attributes)
            return True
        protected = self.guard.outbound(topic, subscription, text)
        if protected is None:
            return True  # an outbound Deny of the topic's data protection policy (0215)
        text = protected
        fifo = outgoing.fifo
        if subscription.raw:
            body = text
        else:
            body = json.dumps(
                notification(
                    message_id=outgoing.message_id,
                    topic_arn=topic.arn,
                    subscription_arn=subscription.arn,
                    subject=outgoing.subject,
                    message=text,
                    timestamp=outgoing.timestamp,
                    attributes=outgoing.attributes,
                    key=await self._keys.key(),
                    base_url=self._limits.base_url,
                    sequence_number=None if fifo is None else fifo[1],
                    replayed=outgoing.replayed,
                )
            )
        attributes: Mapping[str, tuple[str, str]] | None = None
        if subscription.raw and subscription.protocol == "sqs":
            attributes = dict(outgoing.attributes)
            if outgoing.replayed:
                attributes = {**attributes, "Replayed": ("String", "true")}
        # A standard queue of a FIFO topic takes no group nor deduplication id (decision 0175).
        ids = fifo[0] if fifo is not None and fifo_endpoint("sqs", subscription.endpoint) else None
        message_id = outgoing.message_id
        return await self._enqueue(
            subscription, body, "Notification", message_id, attributes, ids, topic, outgoing.trace
        )

    async def replay_to(
        self, topic: Topic, subscription: Subscription, archived: ArchivedMessage
    ) -> bool:
        """Queue an archived message again for ``subscription``, marked replayed, as it was
        first delivered (same MessageId and Timestamp); False when the tenant's queue is full
        (the replay then waits its next pass)."""
        outgoing = Outgoing(
            archived.message_id,
            archived.message,
            archived.subject,
            archived.attributes,
            archived.structure,
            archived.timestamp,
            ((archived.group_id, archived.dedup_id), archived.sequence_number),
            replayed=True,
        )
        return await self._send(topic, subscription, outgoing)

    async def archived(self, topic: Topic, record: str) -> ArchivedMessage:
        """An archive record of ``topic``, opened (decision 0212)."""
        return ArchivedMessage.of_record(await opened_text(self.sealer, topic, record, topic.arn))

    async def subscription(self, arn: str) -> Subscription | None:
        """The subscription of that ARN, whoever's (for the archive's replays)."""
        return await self._store.get_subscription(arn)

    async def fan_out_event(self, topic: Topic, message: str, trace: str | None = None) -> None:
        """An S3 event or an Auto Scaling notification queued for ``topic``, to its
        subscriptions (decision 0132's events, SNS's subject for S3's and, decision 0188,
        for a group's notifications), with the trace header of the write that made it."""
        if topic.fifo:
            # No message group to give it (S3 refuses FIFO topics; an Auto Scaling group's
            # notification to one is dropped), as AWS takes none there.
            _log.info("event for FIFO topic %s dropped: it has no message group", topic.arn)
            return
        protected = self.guard.from_platform(topic, message)  # decision 0215's addendum
        if protected is None:
            return
        message_id = await self.fan_out(topic, protected, event_subject(message), {}, trace=trace)
        await self.guard.audit(topic, message, None, (None, topic.tenant_id), message_id)
        self.metrics.published(topic.arn, message)

    async def _enqueue(
        self,
        subscription: Subscription,
        body: str,
        kind: str,
        message_id: str,
        attributes: Mapping[str, tuple[str, str]] | None = None,
        ids: tuple[str, str] | None = None,
        topic: Topic | None = None,
        trace: str | None = None,
    ) -> bool:
        """``topic``: a notification's, sealed under its KMS key if it has one."""
        wrapped = queued_content(
            subscription, body, kind, message_id, self._clock(), attributes, ids
        )
        if topic is not None:
            wrapped = await sealed_text(self.sealer, topic, wrapped, subscription.arn)
        queued = await self._queue.add(
            subscription.tenant_id,
            subscription.arn,
            wrapped,
            self._clock(),
            bound=self._limits.queue_bound,
            trace=trace,
        )
        if not queued:
            _log.warning(
                "notification queue of tenant %s full: a message for %s dropped",
                subscription.tenant_id,
                subscription.arn,
            )
        return queued

    async def delivery(self, arn: str, message: str) -> Delivery | None:
        """What to send for a queued message to subscription ``arn``; None when it is gone
        (unsubscribed, or its topic deleted, the subscription then deleted with it)."""
        subscription = await self._store.get_subscription(arn)
        if subscription is None:
            return None
        topic = await self._topics.topic(subscription.topic_arn)
        if topic is None:
            await self._store.delete_subscription(arn)
            return None
        # Opened at each attempt: a topic key disabled since fails it (decision 0212).
        data = json.loads(await opened_text(self.sealer, topic, message, arn))
        attributes = {str(n): (str(k), str(v)) for n, (k, v) in data.get("attributes", {}).items()}
        policy = None
        if subscription.protocol != "sqs" and (
            topic.delivery_policy is not None or subscription.delivery_policy is not None
        ):
            policy = effective_policy(
                topic.delivery_policy, subscription.delivery_policy, self._limits.default_retry
            )
        group, dedup, at = data.get("group"), data.get("dedup"), data.get("at")
        return Delivery(
            subscription,
            str(data["body"]),
            dict(data["headers"]),
            attributes,
            policy,
            None if group is None else str(group),
            None if dedup is None else str(dedup),
            topic.display_name,
            {k: v for k, v in topic.attributes.items() if is_feedback(k)},
            None if at is None else datetime.fromisoformat(str(at)),
        )

    async def dead_letter(self, delivery: Delivery) -> bool:
        """A message given up, into the subscription's dead-letter queue (its
        ``RedrivePolicy``), as it would have been delivered; whether it was sent."""
        target = delivery.subscription.dead_letter_queue
        # A confirmation is no message: SNS dead-letters notifications only.
        notification = delivery.headers.get("x-amz-sns-message-type") == "Notification"
        return (
            target is not None
            and notification
            and self._queues is not None
            and await self._queues.send(
                delivery.subscription.owner,
                target,
                delivery.body,
                topic_arn=delivery.subscription.topic_arn,
                group_id=delivery.group_id,
                dedup_id=delivery.dedup_id,
            )
        )

    async def send_to_queue(self, delivery: Delivery, trace: str | None = None) -> bool:
        return self._queues is not None and await self._queues.send(
            delivery.subscription.owner,
            delivery.subscription.endpoint,
            delivery.body,
            delivery.attributes,
            topic_arn=delivery.subscription.topic_arn,
            group_id=delivery.group_id,
            dedup_id=delivery.dedup_id,
            trace=trace,
        )
