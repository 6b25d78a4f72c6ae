"""An http(s) subscription's DeliveryPolicy applied by the real worker to a real receiver on
the loopback (decision 0168): its retries (immediate, then minDelayTarget apart) replace the
platform's schedule and end the message after ``1 + numRetries`` attempts, its
``headerContentType`` is the POST's Content-Type, its throttle spaces the POSTs; and pending
subscriptions expire: ConfirmSubscription refuses their token, they stop counting toward
the topic's limit, the worker's sweep deletes them."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from andromede.notifications.delivery import Deliverer
from andromede.notifications.errors import InvalidTopic, SubscriptionLimitExceeded
from andromede.notifications.memory import MemoryEventQueue
from andromede.notifications.pubsub import PubSubLimits, PubSubService
from andromede.notifications.subscriptions import Subscription
from unit.notifications.test_delivery import Clock, Receiver, receiver
from unit.notifications.test_subscriber_delivery import TENANT, setup

__all__ = ["receiver"]


async def confirmed(
    receiver: Receiver, policy: dict[str, object]
) -> tuple[PubSubService, Deliverer, MemoryEventQueue, Clock, str, Subscription]:
    pubsub, deliverer, events, _, clock, topic = await setup()
    held = await pubsub.subscribe(
        TENANT,
        topic,
        "http",
        f"http://127.0.0.1:{receiver.port}/",
        {"DeliveryPolicy": json.dumps(policy)},
    )
    await deliverer.deliver_once()
    await pubsub.confirm(topic, json.loads(receiver.requests[0][2])["Token"])
    return pubsub, deliverer, events, clock, topic, held


async def test_a_subscriptions_retries_replace_the_platforms(receiver: Receiver) -> None:
    pubsub, deliverer, events, clock, topic, _ = await confirmed(
        receiver,
        {
            "healthyRetryPolicy": {
                "minDelayTarget": 30,
                "maxDelayTarget": 30,
                "numRetries": 2,
                "numNoDelayRetries": 1,
            },
            "requestPolicy": {"headerContentType": "application/json"},
        },
    )
    receiver.status = 503
    await pubsub.publish(TENANT, topic, "flaky", None, {}, None)
    await deliverer.deliver_once()  # attempt 1 fails
    await deliverer.deliver_once()  # retry 1: no delay
    assert len(receiver.requests) == 3
    assert receiver.requests[1][1]["content-type"] == "application/json"
    await deliverer.deliver_once()  # retry 2 waits minDelayTarget, not the platform's 2 s
    clock.now += timedelta(seconds=29)
    await deliverer.deliver_once()
    assert len(receiver.requests) == 3 and await events.waiting(TENANT) == 1
    clock.now += timedelta(seconds=1)
    await deliverer.deliver_once()  # retry 2 fails: 1 + numRetries attempts spent
    assert len(receiver.requests) == 4 and await events.waiting(TENANT) == 0
    assert deliverer.dropped == 1


async def test_the_throttle_spaces_the_posts(receiver: Receiver) -> None:
    pubsub, deliverer, _, _, topic, _ = await confirmed(
        receiver, {"throttlePolicy": {"maxReceivesPerSecond": 5}}
    )
    for n in range(3):
        await pubsub.publish(TENANT, topic, f"m{n}", None, {}, None)
    started = time.monotonic()
    await deliverer.deliver_once()
    assert len(receiver.requests) == 4
    # Three POSTs at most five a second: the last waited two fifths of a second at least
    # (the confirmation took the first slot just before).
    assert time.monotonic() - started >= 0.35


async def test_pending_subscriptions_expire() -> None:
    pubsub, deliverer, _, _, clock, topic = await setup()
    made = []
    for n in range(3):
        made.append(await pubsub.subscribe(TENANT, topic, "https", f"https://h{n}.example/", {}))
    clock.now += timedelta(days=3)
    # Past its three days, a pending subscription's token is refused and it is gone.
    with pytest.raises(InvalidTopic):
        await pubsub.confirm(topic, str(made[0].token))
    with pytest.raises(InvalidTopic):
        await pubsub.confirm(topic, str(made[0].token))  # gone: no one holds it now
    # The worker's sweep deletes the others.
    assert await deliverer.sweep() == 2
    page, _ = await pubsub.list_subscriptions(TENANT, None, topic_arn=topic)
    assert page == []


async def test_expired_ones_stop_counting_toward_the_limit() -> None:
    limits = PubSubLimits(base_url="https://sns.test", max_subscriptions=2)
    pubsub, _, _, _, clock, topic = await setup(limits=limits)
    await pubsub.subscribe(TENANT, topic, "https", "https://a.example/", {})
    clock.now += timedelta(days=2)
    await pubsub.subscribe(TENANT, topic, "https", "https://b.example/", {})
    with pytest.raises(SubscriptionLimitExceeded):
        await pubsub.subscribe(TENANT, topic, "https", "https://c.example/", {})
    clock.now += timedelta(days=1, seconds=1)  # the first is three days old: expired
    await pubsub.subscribe(TENANT, topic, "https", "https://c.example/", {})
    page, _ = await pubsub.list_subscriptions(TENANT, None, topic_arn=topic)
    assert sorted(s.endpoint for s in page) == ["https://b.example/", "https://c.example/"]


async def test_a_policy_without_retries_keeps_the_platforms(receiver: Receiver) -> None:
    pubsub, deliverer, events, clock, topic, _ = await confirmed(
        receiver, {"requestPolicy": {"headerContentType": "application/xml"}}
    )
    receiver.status = 503
    await pubsub.publish(TENANT, topic, "xml", None, {}, None)
    await deliverer.deliver_once()
    assert receiver.requests[1][1]["content-type"] == "application/xml"
    clock.now += timedelta(seconds=1)
    await deliverer.deliver_once()  # the platform's 2 s (retry_base), not SNS's 20 s default
    assert len(receiver.requests) == 2
    clock.now += timedelta(seconds=1)
    await deliverer.deliver_once()
    assert len(receiver.requests) == 3 and await events.waiting(TENANT) == 1
