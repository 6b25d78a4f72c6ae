"""SNS http(s) subscriptions delivered by the real worker to a real HTTP receiver on the
loopback (decision 0163): the SubscriptionConfirmation POSTed with SNS's headers and a
signature that verifies, nothing else sent until confirmed, then each Publish POSTed as the
signed envelope with ``x-amz-sns-*`` headers (or raw); a receiver down gets it after the
backoff; an endpoint outside the allowed networks is never reached; an unsubscribed
subscription's queued message is dropped."""

from __future__ import annotations

import ipaddress
import json
import os
from datetime import timedelta

from andromede.iam.secrets import SecretSealer
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.envelope import verify
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.memory_subscriptions import MemorySubscriptionStore
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.service import TopicService
from andromede.wiring.pubsub import StoredSigningKeys
from unit.notifications.test_delivery import LOOPBACK, Clock, Receiver, receiver

__all__ = ["receiver"]

TENANT = "t1"


async def setup(
    allowed: tuple[ipaddress.IPv4Network, ...] = LOOPBACK,
    limits: PubSubLimits | None = None,
) -> tuple[PubSubService, Deliverer, MemoryEventQueue, StoredSigningKeys, Clock, str]:
    clock = Clock()
    events = MemoryEventQueue([])
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=5, clock=clock, queue=events)
    topic = await topics.create_topic(TENANT, "hooks", {})
    store = MemorySubscriptionStore()
    keys = StoredSigningKeys(store, SecretSealer(os.urandom(32)), "eu")
    pubsub = PubSubService(
        topics,
        store,
        events,
        keys,
        None,
        limits or PubSubLimits(base_url="https://sns.test"),
        clock=clock,
    )
    policy = DeliveryPolicy(retry_base=2.0, timeout=2.0, allowed=allowed, batch=10)
    deliverer = Deliverer(events, topics, policy, clock=clock, subscribers=pubsub)
    return pubsub, deliverer, events, keys, clock, topic.arn


async def test_the_handshake_then_signed_notifications(receiver: Receiver) -> None:
    pubsub, deliverer, events, keys, _, topic = await setup()
    endpoint = f"http://127.0.0.1:{receiver.port}/sns?secret=k"
    held = await pubsub.subscribe(TENANT, topic, "http", endpoint, {})
    await pubsub.publish(TENANT, topic, "too early", None, {}, None)
    await deliverer.deliver_once()
    assert len(receiver.requests) == 1
    line, headers, body = receiver.requests[0]
    assert line.startswith("POST /sns?secret=k ")
    assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    assert headers["x-amz-sns-topic-arn"] == topic
    assert headers["content-type"].startswith("text/plain")
    envelope = json.loads(body)
    certificate = (await keys.key()).certificate_pem
    assert verify(envelope, certificate)
    confirmed = await pubsub.confirm(topic, envelope["Token"])
    assert confirmed.arn == held.arn and confirmed.confirmed
    await pubsub.publish(TENANT, topic, "hello", "Greeting", {"n": ("Number", "3")}, None)
    await deliverer.deliver_once()
    _, headers, body = receiver.requests[1]
    assert headers["x-amz-sns-message-type"] == "Notification"
    assert headers["x-amz-sns-subscription-arn"] == held.arn
    notification = json.loads(body)
    assert notification["Message"] == "hello" and notification["Subject"] == "Greeting"
    assert headers["x-amz-sns-message-id"] == notification["MessageId"]
    assert verify(notification, certificate)
    await pubsub.set_attribute(TENANT, held.arn, "RawMessageDelivery", "true")
    await pubsub.publish(TENANT, topic, "just this", None, {}, None)
    await deliverer.deliver_once()
    _, headers, body = receiver.requests[2]
    assert body == b"just this" and headers["x-amz-sns-rawdelivery"] == "true"
    assert await events.waiting(TENANT) == 0


async def test_a_receiver_down_gets_it_after_the_backoff(receiver: Receiver) -> None:
    pubsub, deliverer, events, _, clock, topic = await setup()
    held = await pubsub.subscribe(TENANT, topic, "http", f"http://127.0.0.1:{receiver.port}/", {})
    await deliverer.deliver_once()
    await pubsub.confirm(topic, json.loads(receiver.requests[0][2])["Token"])
    receiver.status = 503
    await pubsub.publish(TENANT, topic, "retry me", None, {}, None)
    await deliverer.deliver_once()
    assert len(receiver.requests) == 2 and await events.waiting(TENANT) == 1
    receiver.status = 200
    await deliverer.deliver_once()  # not due yet
    assert len(receiver.requests) == 2
    clock.now += timedelta(seconds=3)
    await deliverer.deliver_once()
    assert receiver.requests[2][2] == receiver.requests[1][2]  # the same signed bytes
    assert await events.waiting(TENANT) == 0
    # Unsubscribed: a message queued before is dropped, never sent.
    await pubsub.publish(TENANT, topic, "orphan", None, {}, None)
    await pubsub.unsubscribe(TENANT, held.arn)
    await deliverer.deliver_once()
    assert len(receiver.requests) == 3 and await events.waiting(TENANT) == 0


async def test_an_internal_endpoint_not_allowed_is_never_reached(receiver: Receiver) -> None:
    pubsub, deliverer, events, _, _, topic = await setup(allowed=())
    await pubsub.subscribe(TENANT, topic, "http", f"http://127.0.0.1:{receiver.port}/", {})
    await deliverer.deliver_once()
    assert receiver.requests == [] and deliverer.dropped == 1
    assert await events.waiting(TENANT) == 0
