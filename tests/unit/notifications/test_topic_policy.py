"""A bucket's TopicConfiguration and the topic's policy (decision 0163): a topic without a
Policy takes its owner's bucket events (as RGW); one with a Policy takes them only when it
lets ``s3.amazonaws.com`` ``sns:Publish`` with the bucket as ``aws:SourceArn`` (as AWS); a
policy that does not parse allows nothing; another account's topic is never taken."""

from __future__ import annotations

import json

from andromede.notifications.memory import MemoryTopicStore
from andromede.notifications.service import TopicService
from andromede.wiring.pubsub import s3_may_publish


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
    assert not await topics.accepts_bucket_events("t2", guarded, "photos")
    await topics.set_attribute("t1", guarded, "Policy", "{not a policy")
    assert not await topics.accepts_bucket_events("t1", guarded, "photos")
