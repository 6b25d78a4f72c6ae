"""The delivery worker (decision 0132): every ``serve`` claims queued events and POSTs each, as
S3's event JSON, to its topic's push endpoint.

- **At least once.** An event leaves the queue only when its endpoint answered 2xx, or when
  it is given up: after ``max_attempts`` attempts, its topic gone or without an endpoint, or
  its endpoint refused by the address guard. A gateway that dies mid-push leaves the event
  leased; it is claimed again when the lease ends, so an endpoint may see an event twice (the
  ``sequencer`` and the request id tell duplicates apart).
- **Side by side.** A batch's events are pushed concurrently, so one slow endpoint costs the
  batch one ``timeout``, well within the lease, whatever the batch holds.
- **Backoff.** A failed attempt is tried again after ``retry_base * 2**(attempts-1)``
  seconds, at most ``retry_max``.
- **Server-side request forgery.** The endpoint's host is resolved at each delivery and every
  address must be public unicast or inside ``allowed`` (``notification_endpoint_allow_cidrs``);
  the connection goes to a checked address (``http.outbound.pin``), never to a second
  resolution. Redirects are not followed.
- **Queues.** An event whose destination is an SQS-style queue (decision 0158) is sent into
  it through a :class:`QueueSink`, settled as a push is; one for a bucket's
  ``EventBridgeConfiguration`` (``EVENTBRIDGE_DESTINATION``) goes, likewise, through the
  ``bus`` sink into its owner's default event bus (decision 0192's session 48 addendum).
- **Subscriptions** (decision 0163). An event for a topic is also fanned out to the topic's
  subscriptions (queued anew, one per subscriber, on the first attempt only); a queued
  message whose destination is a subscription's ARN is sent into its queue, or POSTed with
  SNS's ``x-amz-sns-*`` headers, under the same rules.
- **Delivery policies** (decision 0168). An http(s) subscription's ``DeliveryPolicy`` (its
  own or its topic's) replaces the platform's schedule for its messages: how many retries,
  how far apart (SNS's four phases), the ``Content-Type`` of the POST, and at most
  ``maxReceivesPerSecond`` POSTs a second from this gateway (a message over the rate waits
  its turn, or is put back when its turn is further than half a lease away).
- **FIFO topics** (decision 0171). A FIFO topic's subscription's events of a batch are sent
  one after the other, in the queue's order; one put back to be tried again takes the ones
  after it back with it (the queue's claim already holds later ones behind it).
- **Pending subscriptions** (decision 0168) left unconfirmed past their time are deleted by
  the worker every ``sweep_interval`` seconds.
- **Sealed at rest** (decision 0163's addendum). The queue opens each claimed message under
  its tenant's key; one whose key was destroyed (a closed tenant: crypto-shredding) never
  will, and is dropped with ``shredded`` called (an audit event), not tried forever; one the
  key provider could not open now is tried again as a failed push is.
- **Topic keys** (decision 0212). A delivery of a topic under a KMS key opens at each
  attempt; a key disabled or pending deletion since Publish fails the attempt (retried, then
  given up and logged, the refusal audited by the key service), never sent in clear.
- **Mail** (decision 0180). An ``email``/``email-json`` subscription's messages are mailed
  through the operator's SMTP relay (``notifications.smtp``), at most ``per_subscription``
  mails a second to one address and ``per_tenant`` for one tenant's, from this gateway (a
  mail over the rate waits its turn, or is put back as a throttled POST is). The relay's
  5xx gives the message up (then the dead-letter queue); a 4xx or a network failure is tried
  again on the platform's schedule.
- **Firehose** (decision 0226). A ``firehose`` subscription's message is put as one record
  into its delivery stream through ``streams`` (set by the wiring), as its
  ``SubscriptionRoleArn``; a refusal (the role may not, the stream gone or full) is tried
  again on the platform's schedule, then given up (the dead-letter queue), as a push is.
- **Lambda** (decision 0293). A ``lambda`` subscription's message is SNS's Lambda event, and
  an S3 event for a ``CloudFunctionConfiguration`` the event itself, invoked asynchronously
  through ``functions`` (set by the wiring) as ``sns.amazonaws.com`` (``s3.amazonaws.com``)
  by the function's policy; a function gone or not permitting is given up at once (the
  dead-letter queue), anything else tried again, as a push is.
- **Lineage** (decision 0336). The trace header an event was queued with (Publish's, the
  bucket write's) goes with it to a function (its invocation's), a queue (the message's
  ``AWSTraceHeader``) and a topic's subscriptions, so Lambda's recursive loop detection
  sees a loop through a topic or a bucket; an http(s) POST carries it as its
  ``X-Amzn-Trace-Id`` header (decision 0351), as SNS passes the publisher's trace on.
- **No secret in the logs.** A failure is logged with the topic's ARN, the endpoint's host
  and the reason, never the endpoint's path or query (a tenant may put a token there) nor
  the message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from andromede.db.notification_events import EVENTBRIDGE_DESTINATION
from andromede.http.outbound import Network, OutboundError, pin, system_tls_context
from andromede.notifications.delivery_status import DeliveryOutcome
from andromede.notifications.deliverypolicy import EffectivePolicy, RateGate
from andromede.notifications.errors import TopicKeyError
from andromede.notifications.functions import (
    S3_PRINCIPAL,
    SNS_PRINCIPAL,
    FunctionDeferred,
    FunctionRefused,
    Functions,
    sns_event,
)
from andromede.notifications.mails import EMAIL_PROTOCOLS, MailRefused, build_mail
from andromede.notifications.model import Topic
from andromede.notifications.pubsub import Delivery
from andromede.notifications.service import TopicService
from andromede.notifications.smtp import MailDeferred, SmtpMailer
from andromede.notifications.store import EventQueue, QueuedEvent
from andromede.notifications.streams import StreamRefused, SubscriberStreams, record_of
from andromede.notifications.subscriptions import is_subscription_arn
from andromede.notifications.topic_metrics import TopicMetrics
from andromede.wakeup import Doorbell, Pacer

__all__ = ["Deliverer", "DeliveryPolicy", "QueueSink", "Subscribers"]

log = logging.getLogger(__name__)

_SETTING = "notification_endpoint_allow_cidrs"
_TRACE_ID = "X-Amzn-Trace-Id"
# How much of an endpoint's answer a delivery status log keeps (decision 0212).
_RESPONSE_KEPT = 1024


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    interval: float = 1.0  # seconds between claims when the queue was empty
    batch: int = 50
    lease: float = 60.0
    max_attempts: int = 10
    retry_base: float = 2.0
    retry_max: float = 3600.0
    timeout: float = 10.0  # seconds for each of connect, write and read
    allowed: Sequence[Network] = ()
    sweep_interval: float = 300.0  # seconds between sweeps of expired pending subscriptions
    # The longest pause an idle worker backs off to (decision 0206); None: ``interval`` always.
    idle_poll_max: float | None = None


class QueueSink(Protocol):
    """SQS-style queues as destinations (decision 0158): an event whose destination is a
    queue's ARN (``arn:aws:sqs:…``) is sent there instead of pushed over HTTP."""

    async def deliver(
        self, tenant_id: str, queue_arn: str, message: str, trace: str | None = None
    ) -> bool:
        """Whether the message was sent (``trace``: its ``AWSTraceHeader``, decision 0336);
        False when it never can be (queue gone, or its policy no longer allowing S3)."""


_QUEUE_ARN = "arn:aws:sqs:"
_FUNCTION_ARN = "arn:aws:lambda:"


class Subscribers(Protocol):
    """A topic's subscriptions (:class:`~andromede.notifications.pubsub.PubSubService`)."""

    async def fan_out_event(self, topic: Topic, message: str, trace: str | None = None) -> None: ...

    async def delivery(self, arn: str, message: str) -> Delivery | None: ...

    async def send_to_queue(self, delivery: Delivery, trace: str | None = None) -> bool: ...

    async def dead_letter(self, delivery: Delivery) -> bool: ...

    async def expire_pending(self, *, topic_arn: str | None = None) -> int: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Undeliverable(Exception):
    """The event cannot be delivered and never will (its endpoint refused by the guard)."""


class Deliverer:
    def __init__(
        self,
        queue: EventQueue,
        topics: TopicService,
        policy: DeliveryPolicy,
        *,
        tls: Callable[[], ssl.SSLContext] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        queues: QueueSink | None = None,
        bus: QueueSink | None = None,
        subscribers: Subscribers | None = None,
        shredded: Callable[[QueuedEvent], None] | None = None,
        on_delivered: Callable[[Delivery], None] | None = None,
        mailer: SmtpMailer | None = None,
        doorbell: Doorbell | None = None,
    ) -> None:
        """``doorbell``: rung when this process queued events (decision 0206)."""
        self._queue = queue
        self._pacer = Pacer(policy.interval, policy.idle_poll_max, doorbell)
        # The operator's SMTP relay (decision 0180); None: none set.
        self._mailer = mailer
        # Told of each message a subscriber took, to meter it (decision 0169).
        self._on_delivered = on_delivered
        self._shredded = shredded
        self._subscribers = subscribers
        self._queues = queues
        # EventBridge's default buses, for the buckets' EventBridgeConfiguration (decision
        # 0192's session 48 addendum): a port, the events context being another's.
        self._bus = bus
        self._topics = topics
        self._policy = policy
        self._tls = tls
        self._clock = clock
        self.delivered = 0
        self.dropped = 0
        self._gate = RateGate()
        # Events put back by this pass: when each is tried again (for FIFO chains).
        self._put_back: dict[int, datetime] = {}
        # Told of each subscriber's delivery delivered or given up, for SNS's delivery status
        # logs (decision 0212; ``delivery_status.DeliveryStatusLogger``), set by the wiring.
        self.on_status: Callable[[Delivery, DeliveryOutcome], Awaitable[None]] | None = None
        # The topics' AWS/SNS delivery metrics (decision 0221), set by the wiring.
        self.topic_metrics: TopicMetrics | None = None
        # Amazon Data Firehose, for firehose subscriptions (decision 0226), set by the wiring.
        self.streams: SubscriberStreams | None = None
        # AWS Lambda, for lambda subscriptions and buckets' functions (0293), by the wiring.
        self.functions: Functions | None = None
        self._next_sweep = 0.0

    async def sweep(self) -> int:
        """Delete the pending subscriptions past their time (decision 0168); how many."""
        if self._subscribers is None:
            return 0
        gone = await self._subscribers.expire_pending()
        if gone:
            log.info("%d pending subscriptions expired unconfirmed", gone)
        return gone

    async def run_forever(self) -> None:
        while True:
            try:
                if time.monotonic() >= self._next_sweep:
                    self._next_sweep = time.monotonic() + self._policy.sweep_interval
                    await self.sweep()
                done = await self.deliver_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("event notification delivery pass failed")
                done = 0
            if done < self._policy.batch:
                await self._pacer.pause(worked=done > 0)
            else:
                self._pacer.reset()  # a full batch: the next at once, more may wait

    async def deliver_once(self) -> int:
        """Claim and push one batch; how many events were claimed."""
        now = self._clock()
        events = await self._queue.claim(
            now, lease=timedelta(seconds=self._policy.lease), limit=self._policy.batch
        )
        if not events:
            return 0
        # Never httpx's own ``verify=True``: it loads certifi's bundle for every client made.
        verify = self._tls() if self._tls is not None else system_tls_context()
        timeout = httpx.Timeout(self._policy.timeout)
        async with httpx.AsyncClient(
            timeout=timeout, verify=verify, follow_redirects=False, trust_env=False
        ) as client:
            # Side by side: one slow endpoint (a tenant's) must not hold the others' events
            # past their lease, nor the batch past ``timeout`` and a little. A FIFO topic's
            # subscription takes its messages one after the other, in the queue's order.
            singles: list[QueuedEvent] = []
            chains: dict[str, list[QueuedEvent]] = {}
            for event in events:
                if _in_order(event):
                    chains.setdefault(event.topic_arn, []).append(event)
                else:
                    singles.append(event)
            await asyncio.gather(
                *(self._deliver(client, event) for event in singles),
                *(self._deliver_in_order(client, chain) for chain in chains.values()),
            )
        return len(events)

    async def _deliver_in_order(self, client: httpx.AsyncClient, chain: list[QueuedEvent]) -> None:
        """A FIFO topic's messages to one subscription (decision 0171), in the order they were
        queued: once one is put back to be tried again, the ones after it in this batch are
        put back with it (their claim not counted), so none overtakes it here."""
        for n, event in enumerate(chain):
            await self._deliver(client, event)
            again = self._put_back.pop(event.event_id, None)
            if again is not None:
                for later in chain[n + 1 :]:
                    await self._queue.retry(later, again, "behind an earlier message", spent=False)
                return

    async def _deliver(self, client: httpx.AsyncClient, event: QueuedEvent) -> None:
        if event.unopened is not None:
            await self._unopened(event)
            return
        if event.topic_arn.startswith(_QUEUE_ARN):
            await self._deliver_to_queue(event, self._queues)
            return
        if event.topic_arn == EVENTBRIDGE_DESTINATION:
            await self._deliver_to_queue(event, self._bus)
            return
        if event.topic_arn.startswith(_FUNCTION_ARN):
            await self._deliver_to_function(event)
            return
        if is_subscription_arn(event.topic_arn):
            await self._deliver_to_subscriber(client, event)
            return
        topic = await self._topics.topic(event.topic_arn)
        if topic is not None and topic.tenant_id != event.tenant_id:
            # Another account's bucket events (decision 0168): only while the topic's
            # policy still lets S3 publish them.
            bucket = _bucket_of(event.message)
            if bucket is None or not self._topics.takes_bucket_events(
                topic, event.tenant_id, bucket
            ):
                log.info("event for %s dropped: the topic's policy no longer allows it",
                         event.topic_arn)  # fmt: skip
                self.dropped += 1
                await self._queue.drop(event)
                return
        if topic is not None and self._subscribers is not None and event.attempts == 1:
            try:
                await self._subscribers.fan_out_event(topic, event.message, event.trace)
            except TopicKeyError as exc:
                # The topic's KMS key unusable (decision 0212): the event is given up, as a
                # Publish would be refused; the refused key use is in the tenant's audit log.
                log.warning("event for %s dropped: its topic's key: %s", event.topic_arn, exc)
                self.dropped += 1
                await self._queue.drop(event)
                return
            except Exception:
                # Queued again as new, so that its next first attempt fans it out.
                log.exception("event for %s not fanned out: queued again", event.topic_arn)
                await self._queue.add(
                    event.tenant_id,
                    event.topic_arn,
                    event.message,
                    self._clock(),
                    bound=2**62,
                    trace=event.trace,
                )
                await self._queue.drop(event)
                return
        endpoint = None if topic is None else topic.push_endpoint
        if topic is None or endpoint is None:
            if topic is None or self._subscribers is None:
                log.info("event for %s dropped: no such topic or no endpoint", event.topic_arn)
                self.dropped += 1
            await self._queue.drop(event)
            return
        await self._settle(
            event,
            urlsplit(endpoint).hostname or "-",
            self._push(client, endpoint, _message(event, topic), {}),
        )

    async def _unopened(self, event: QueuedEvent) -> None:
        if event.shredded:
            log.warning("event for %s dropped: it no longer opens", event.topic_arn)
            self.dropped += 1
            if self._shredded is not None:
                self._shredded(event)
            await self._queue.drop(event)
            return
        reason = event.unopened or "unopened"

        async def fail() -> None:
            raise _NotOpened(reason)

        await self._settle(event, "-", fail())

    async def _deliver_to_subscriber(self, client: httpx.AsyncClient, event: QueuedEvent) -> None:
        try:
            delivery = (
                None
                if self._subscribers is None
                else await self._subscribers.delivery(event.topic_arn, event.message)
            )
        except TopicKeyError as exc:
            # The topic's KMS key unusable since Publish (decision 0212): a failed attempt,
            # tried again on the schedule, then given up and logged; never sent in clear.
            reason = f"{exc.code}: {exc}"

            async def fail() -> None:
                raise _NotOpened(reason)

            await self._settle(event, "kms", fail())
            return
        if delivery is None:
            log.info("message for %s dropped: no such subscription", event.topic_arn)
            self.dropped += 1
            await self._queue.drop(event)
            return
        exchange = _Exchange()
        if delivery.subscription.protocol == "sqs":
            subscribers = self._subscribers

            async def send() -> None:
                if subscribers is None or not await subscribers.send_to_queue(
                    delivery, event.trace
                ):
                    raise _Undeliverable("no such queue")
                exchange.status = 200

            await self._settle(
                event,
                "sqs",
                self._counted(delivery, send()),
                self._dead_letter(delivery),
                status=self._reporter(delivery, exchange),
            )
            return
        if delivery.subscription.protocol in EMAIL_PROTOCOLS:
            await self._deliver_mail(event, delivery)
            return
        if delivery.subscription.protocol == "firehose":
            await self._deliver_to_stream(event, delivery, exchange)
            return
        if delivery.subscription.protocol == "lambda":
            subscription = delivery.subscription
            invoked = self._invoke(
                SNS_PRINCIPAL,
                subscription.endpoint,
                sns_event(delivery.body, subscription.arn),
                subscription.topic_arn,
                subscription.tenant_id,
                exchange,
                event.trace,
            )
            await self._settle(event, "lambda", self._counted(delivery, invoked),
                self._dead_letter(delivery), status=self._reporter(delivery, exchange))  # fmt: skip
            return
        endpoint = delivery.subscription.endpoint
        policy = delivery.policy
        headers = {
            **delivery.headers,
            "Content-Type": "text/plain; charset=UTF-8" if policy is None else policy.content_type,
            "User-Agent": "Amazon Simple Notification Service Agent",
            # The publisher's trace, as SNS passes it on (decision 0351).
            **({_TRACE_ID: event.trace} if event.trace else {}),
        }
        if policy is not None and policy.max_per_second is not None:
            wait = self._gate.turn(delivery.subscription.arn, policy.max_per_second)
            if not await self._wait_turn(event, wait):
                return
        await self._settle(
            event,
            urlsplit(endpoint).hostname or "-",
            self._counted(
                delivery, self._push(client, endpoint, delivery.body.encode(), headers, exchange)
            ),
            self._dead_letter(delivery),
            policy,
            status=self._reporter(delivery, exchange),
        )

    async def _deliver_to_stream(
        self, event: QueuedEvent, delivery: Delivery, exchange: _Exchange
    ) -> None:
        """A firehose subscription's message, one record into its stream as its role."""
        streams, subscription = self.streams, delivery.subscription

        async def put() -> None:
            role = subscription.role_arn
            if streams is None or role is None:  # Firehose not wired: retried, given up
                raise StreamRefused("Amazon Data Firehose is not served")
            await streams.put(
                subscription.owner, subscription.endpoint, role, record_of(delivery.body)
            )
            exchange.status = 200

        await self._settle(
            event,
            "firehose",
            self._counted(delivery, put()),
            self._dead_letter(delivery),
            status=self._reporter(delivery, exchange),
        )

    async def _deliver_to_function(self, event: QueuedEvent) -> None:
        """A bucket's event for its ``CloudFunctionConfiguration`` (decision 0293)."""
        bucket = _bucket_of(event.message) or ""
        invoked = self._invoke(S3_PRINCIPAL, event.topic_arn, event.message.encode(),
            f"arn:aws:s3:::{bucket}", event.tenant_id, _Exchange(), event.trace)  # fmt: skip
        await self._settle(event, "lambda", invoked)

    async def _invoke(
        self,
        service: str,
        function_arn: str,
        payload: bytes,
        source_arn: str,
        source_account: str,
        exchange: _Exchange,
        trace: str | None,
    ) -> None:
        if self.functions is None:  # Lambda not wired: tried again, then given up
            raise FunctionDeferred("AWS Lambda is not served")
        try:
            await self.functions.invoke(service, function_arn, payload, source_arn=source_arn,
                source_account=source_account, trace=trace)  # fmt: skip
        except FunctionRefused as exc:
            raise _Undeliverable(str(exc)) from exc
        exchange.status = 202

    async def _wait_turn(self, event: QueuedEvent, wait: float) -> bool:
        """Sleep ``wait`` seconds for the message's turn under a rate; False when its turn is
        too far off to hold the lease: it is put back, claimable again then, this claim not
        counted against its retries."""
        if wait > self._policy.lease / 2:
            await self._queue.retry(
                event, self._clock() + timedelta(seconds=wait), "throttled", spent=False
            )
            return False
        await asyncio.sleep(wait)
        return True

    async def _deliver_mail(self, event: QueuedEvent, delivery: Delivery) -> None:
        """An email/email-json subscription's message, mailed through the relay (decision
        0180) under its rates: the subscription's (SNS's 10 a second) and its tenant's."""
        mailer = self._mailer
        subscription = delivery.subscription

        async def send() -> None:
            if mailer is None:  # the relay unset since Subscribe: tried again, not lost
                raise MailDeferred("no SMTP relay is configured")
            relay = mailer.relay
            try:
                message = build_mail(
                    protocol=subscription.protocol,
                    kind=delivery.headers.get("x-amz-sns-message-type", "Notification"),
                    body=delivery.body,
                    recipient=subscription.endpoint,
                    sender=relay.sender,
                    display_name=delivery.display_name,
                    subscription_arn=subscription.arn,
                    base_url=relay.base_url,
                    now=self._clock(),
                )
                await mailer.send(message)
            except MailRefused as exc:
                raise _Undeliverable(str(exc)) from exc

        if mailer is not None:
            relay = mailer.relay
            wait = max(
                self._gate.turn(f"mail:{subscription.tenant_id}", relay.per_tenant),
                self._gate.turn(subscription.arn, relay.per_subscription),
            )
            if not await self._wait_turn(event, wait):
                return
        await self._settle(
            event,
            "smtp",
            self._counted(delivery, send()),
            self._dead_letter(delivery),
            status=self._reporter(delivery, _Exchange()),
        )

    async def _counted(self, delivery: Delivery, attempt: Awaitable[None]) -> None:
        """``attempt``, then, once the subscriber took the message, the meter told of it:
        a failed attempt is no delivery (decision 0169)."""
        await attempt
        if self._on_delivered is not None:
            try:
                self._on_delivered(delivery)
            except Exception:  # metering must not make a delivered message be sent again
                log.exception("delivery to %s not metered", delivery.subscription.arn)

    def _dead_letter(self, delivery: Delivery) -> Callable[[], Awaitable[None]] | None:
        subscribers = self._subscribers
        if subscribers is None or delivery.subscription.dead_letter_queue is None:
            return None

        async def send() -> None:
            sent = False
            try:
                sent = await subscribers.dead_letter(delivery)
            except Exception:  # the message is given up either way
                log.exception("dead-letter queue of %s not reached", delivery.subscription.arn)
            if self.topic_metrics is not None:
                self.topic_metrics.redriven(delivery, sent)

        return send

    def _reporter(
        self, delivery: Delivery, exchange: _Exchange
    ) -> Callable[[QueuedEvent, bool, str], Awaitable[None]] | None:
        """What tells the topic's metrics (decision 0221) and ``on_status`` (decision 0212)
        how the delivery ended; None when no one listens (``on_status`` only listens to the
        deliveries of a topic that logs their status)."""
        metrics = self.topic_metrics
        on_status = self.on_status if delivery.feedback else None
        if metrics is None and on_status is None:
            return None

        async def report(event: QueuedEvent, success: bool, reason: str) -> None:
            if metrics is not None:
                metrics.settled(delivery, success)
            if on_status is None:
                return
            response = exchange.response if success or exchange.response else reason
            outcome = DeliveryOutcome(
                success, exchange.status, response, event.attempts, self._clock()
            )
            try:
                await on_status(delivery, outcome)
            except Exception:  # an observer: the delivery stands
                log.exception("delivery status of %s not told", delivery.subscription.arn)

        return report

    async def _settle(
        self,
        event: QueuedEvent,
        host: str,
        attempt: Awaitable[None],
        given_up: Callable[[], Awaitable[None]] | None = None,
        policy: EffectivePolicy | None = None,
        *,
        status: Callable[[QueuedEvent, bool, str], Awaitable[None]] | None = None,
    ) -> None:
        """``given_up``: called before an event is dropped as undeliverable (a
        subscription's dead-letter queue, decision 0163); ``policy``: a subscription's
        DeliveryPolicy, whose retries replace the platform's (decision 0168); ``status``:
        told of the delivery delivered or given up (decision 0212)."""
        try:
            await attempt
        except _Undeliverable as exc:
            log.warning("event for %s to host %s dropped: %s", event.topic_arn, host, exc)
            self.dropped += 1
            if status is not None:
                await status(event, False, str(exc))
            if given_up is not None:
                await given_up()
            await self._queue.drop(event)
            return
        except Exception as exc:  # every failure of the remote end or the network
            reason = _reason(exc)
            # A DeliveryPolicy's own retries, else the platform's (decision 0168).
            custom = policy.retry if policy is not None and policy.custom_retry else None
            max_attempts = self._policy.max_attempts if custom is None else 1 + custom.retries
            if event.attempts >= max_attempts:
                log.warning(
                    "event for %s to host %s dropped after %d attempts: %s",
                    event.topic_arn,
                    host,
                    event.attempts,
                    reason,
                )
                self.dropped += 1
                if status is not None:
                    await status(event, False, reason)
                if given_up is not None:
                    await given_up()
                await self._queue.drop(event)
                return
            delay = min(self._policy.retry_base * 2 ** (event.attempts - 1), self._policy.retry_max)
            if custom is not None:
                delay = custom.delay(event.attempts)
            log.info(
                "event for %s to host %s not delivered (attempt %d, again in %.0fs): %s",
                event.topic_arn,
                host,
                event.attempts,
                delay,
                reason,
            )
            again = self._clock() + timedelta(seconds=delay)
            if _in_order(event):
                self._put_back[event.event_id] = again
            await self._queue.retry(event, again, reason)
            return
        self.delivered += 1
        if status is not None:
            await status(event, True, "")
        await self._queue.complete(event)

    async def _deliver_to_queue(self, event: QueuedEvent, sink: QueueSink | None) -> None:
        """Into an SQS-style queue of the same platform, or the owner's default event bus:
        no network, the same at-least-once settlement (a failure is tried again with the
        same backoff)."""
        try:
            sent = sink is not None and await sink.deliver(
                event.tenant_id, event.topic_arn, event.message, event.trace
            )
        except Exception as exc:
            if event.attempts >= self._policy.max_attempts:
                log.warning("event for %s dropped after %d attempts", event.topic_arn,
                            event.attempts)  # fmt: skip
                self.dropped += 1
                await self._queue.drop(event)
                return
            delay = min(self._policy.retry_base * 2 ** (event.attempts - 1), self._policy.retry_max)
            await self._queue.retry(
                event, self._clock() + timedelta(seconds=delay), type(exc).__name__
            )
            return
        if not sent:
            log.info("event for %s dropped: no such queue, or S3 not allowed", event.topic_arn)
            self.dropped += 1
            await self._queue.drop(event)
            return
        self.delivered += 1
        await self._queue.complete(event)

    async def _push(
        self,
        client: httpx.AsyncClient,
        endpoint: str,
        body: bytes,
        extra: dict[str, str],
        exchange: _Exchange | None = None,
    ) -> None:
        """POST ``body``; ``exchange``: where the endpoint's answer is noted (its status and
        the start of its body, for the delivery status logs)."""
        try:
            pinned = await pin(endpoint, self._policy.allowed, _SETTING, schemes=("http", "https"))
        except OutboundError as exc:
            raise _Undeliverable(str(exc)) from exc
        headers = {"Host": pinned.host, "Content-Type": "application/json", **extra}
        https = urlsplit(endpoint).scheme == "https"
        last: Exception | None = None
        for target in pinned.targets:
            try:
                response = await client.post(
                    target,
                    content=body,
                    headers=headers,
                    extensions=pinned.extensions if https else {},
                )
            except httpx.TransportError as exc:
                last = exc
                continue
            if exchange is not None:
                exchange.status = response.status_code
                exchange.response = response.text[:_RESPONSE_KEPT]
            if 200 <= response.status_code < 300:
                return
            raise _Refused(response.status_code)
        raise last if last is not None else _Refused(0)


@dataclass(slots=True)
class _Exchange:
    """What a subscriber answered (decision 0212's status logs)."""

    status: int | None = None
    response: str = ""


class _NotOpened(Exception):
    """The key provider did not open the message this time."""


class _Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"the endpoint answered {status}")


def _reason(exc: Exception) -> str:
    """A failure's cause, without the URL httpx puts in some messages."""
    if isinstance(exc, _Refused | _NotOpened | MailDeferred | StreamRefused):
        return str(exc)
    return type(exc).__name__


def _in_order(event: QueuedEvent) -> bool:
    """Whether the event is a FIFO topic's message to a subscription (decision 0171): its
    destination, the subscription's ARN, is the topic's and a UUID."""
    return is_subscription_arn(event.topic_arn) and event.topic_arn.rsplit(":", 1)[0].endswith(
        ".fifo"
    )


def _bucket_of(message: str) -> str | None:
    """The bucket an S3 event message (a record set, or the test event) tells of."""
    try:
        data = json.loads(message)
        if "Bucket" in data:
            return str(data["Bucket"])
        return str(data["Records"][0]["s3"]["bucket"]["name"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def _message(event: QueuedEvent, topic: Topic) -> bytes:
    """The queued message with the topic's OpaqueData as each record's ``opaqueData`` (RGW)."""
    opaque = topic.opaque_data
    if opaque is None:
        return event.message.encode()
    data = json.loads(event.message)
    for record in data.get("Records", []):
        record["opaqueData"] = opaque
    return json.dumps(data, separators=(",", ":")).encode()
