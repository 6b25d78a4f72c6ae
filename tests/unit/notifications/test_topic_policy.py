"""A bucket's TopicConfiguration and the topic's policy (decision 0163): a topic without a
Policy takes its owner's bucket events (as RGW); one with a Policy takes them only when it
lets ``s3.amazonaws.com`` ``sns:Publish`` with the bucket as ``aws:SourceArn`` (as AWS); a
policy that does not parse allows nothing; another account's topic only when its policy lets
S3 publish that account's bucket events, checked again by the worker (decision 0168)."""

from __future__ import annotations

import json

from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue, MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.wiring.pubsub import s3_may_publish
from unit.notifications.test_delivery import LOOPBACK, Clock, Receiver, receiver

__all__ = ["receiver"]


def policy(topic_arn: str, bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": topic_arn,
                    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"}},
                }
            ],
        }
    )


async def test_a_topics_policy_decides_which_buckets_publish() -> None:
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=5)
    topics.s3_may_publish = s3_may_publish
    open_topic = (await topics.create_topic("t1", "rgw-style", {})).arn
    assert await topics.accepts_bucket_events("t1", open_topic, "any-bucket")
    guarded = (await topics.create_topic("t1", "guarded", {})).arn
    await topics.set_attribute("t1", guarded, "Policy", policy(guarded, "photos"))
    assert await topics.accepts_bucket_events("t1", guarded, "photos")
    assert not await topics.accepts_bucket_events("t1", guarded, "invoices")
    # Another account's bucket only as the policy says (decision 0168): it names photos.
    assert not await topics.accepts_bucket_events("t2", guarded, "invoices")
    assert not await topics.accepts_bucket_events("t2", open_topic, "any-bucket")
    await topics.set_attribute("t1", guarded, "Policy", "{not a policy")
    assert not await topics.accepts_bucket_events("t1", guarded, "photos")


def from_account(topic_arn: str, account: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "s3.amazonaws.com"},
                    "Action": "SNS:Publish",
                    "Resource": topic_arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                }
            ],
        }
    )


async def test_another_accounts_bucket_needs_the_topics_policy() -> None:
    """Decision 0168: a bucket of t2 may name t1's topic when its policy lets S3 publish
    with t2 as ``aws:SourceAccount``; a topic without a policy is its owner's alone."""
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=5)
    topics.s3_may_publish = s3_may_publish
    arn = (await topics.create_topic("t1", "shared", {})).arn
    assert not await topics.accepts_bucket_events("t2", arn, "photos")
    await topics.set_attribute("t1", arn, "Policy", from_account(arn, "t2"))
    assert await topics.accepts_bucket_events("t2", arn, "photos")
    assert not await topics.accepts_bucket_events("t3", arn, "photos")
    assert not await topics.accepts_bucket_events("t2", arn + "-gone", "photos")


async def test_the_worker_checks_another_accounts_events_again(receiver: Receiver) -> None:
    """An event of t2's bucket reaches t1's topic while its policy allows it, and is dropped
    once the topic's owner takes the permission back."""
    topics = TopicService(MemoryTopicStore(), region="eu", max_topics=5)
    topics.s3_may_publish = s3_may_publish
    arn = (
        await topics.create_topic(
            "t1", "shared", {"push-endpoint": f"http://127.0.0.1:{receiver.port}/"}
        )
    ).arn
    await topics.set_attribute("t1", arn, "Policy", from_account(arn, "t2"))
    message = json.dumps({"Records": [{"s3": {"bucket": {"name": "photos"}}}]})
    outbox: list[tuple[str, str, str, str | None]] = [("t2", arn, message, None)]
    queue = MemoryEventQueue(outbox)
    policy = DeliveryPolicy(allowed=LOOPBACK, timeout=2.0)
    deliverer = Deliverer(queue, topics, policy, clock=Clock())
    await deliverer.deliver_once()
    assert len(receiver.requests) == 1
    await topics.set_attribute("t1", arn, "Policy", "")
    outbox.append(("t2", arn, message, None))
    await deliverer.deliver_once()
    assert len(receiver.requests) == 1 and deliverer.dropped == 1
    assert await queue.waiting("t2") == 0
