"""SNS across accounts (decision 0168), in process with botocore's SNS model over the real
services and worker: a topic's ``Policy`` lets another account publish, subscribe and read
it, with the caller's own IAM also needed; a refusal by the topic's side answers NotFound
(nothing learnt of a topic not shared), one by the caller's own policies AccessDenied; an
explicit deny in the topic's policy binds its owner too; AddPermission and RemovePermission
edit the policy as SNS does; a queue of another account receives only when its own policy
lets ``sns.amazonaws.com`` send from that topic; a cross-account call is in both logs; the
DeliveryPolicy attributes and EffectiveDeliveryPolicy; a pending subscription's token
refused past its three days."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.queues.model import Queue
from support.queryapp import Client
from support.snsworld import Sns, refused, sns_world, topic


class Now:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def now() -> Now:
    return Now()


@pytest.fixture
async def sns(tmp_path: Path, now: Now) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path, now=now) as made:
        yield made


def shared(arn: str, account: str, *actions: str, **condition: object) -> str:
    statement: dict[str, object] = {
        "Sid": "share",
        "Effect": "Allow",
        "Principal": {"AWS": account},
        "Action": [f"SNS:{a}" for a in actions],
        "Resource": arn,
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


async def set_policy(client: Client, arn: str, policy: str) -> None:
    await client.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="Policy", AttributeValue=policy
    )


def sns_may_send(queue: Queue, topic_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


async def test_a_shared_topic_takes_another_accounts_publish(sns: Sns) -> None:
    arn = await topic(sns.root, "orders")
    queue = await sns.queue(sns.world.tenant_id, "orders-q")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    other_id, keys = await sns.world.new_tenant("partner")
    partner = sns.world.client(keys)
    await refused(partner, "Publish", "NotFound", TopicArn=arn, Message="not yet")
    await set_policy(sns.root, arn, shared(arn, other_id, "Publish", "GetTopicAttributes"))
    await partner.call("sns", "Publish", TopicArn=arn, Message="from the partner")
    await partner.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "batched"}],
    )
    bodies = [json.loads(b)["Message"] for b in await sns.received(queue)]
    assert sorted(bodies) == ["batched", "from the partner"]
    shown = (await partner.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert shown["TopicArn"] == arn
    # Only what the policy grants: not Subscribe, SetTopicAttributes, nor another topic.
    await refused(
        partner, "Subscribe", "NotFound", TopicArn=arn, Protocol="https", Endpoint="https://x/"
    )
    await refused(
        partner,
        "SetTopicAttributes",
        "NotFound",
        TopicArn=arn,
        AttributeName="Policy",
        AttributeValue=shared(arn, "*", "Publish"),
    )
    other_topic = await topic(sns.root, "internal")
    await refused(partner, "Publish", "NotFound", TopicArn=other_topic, Message="m")
    await partner.call("sns", "DeleteTopic", TopicArn=arn)  # not granted: a no-op, as before
    assert (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    # Both sides must allow: the partner's user needs sns:Publish in its own policies too.
    await partner.call("iam", "CreateUser", UserName="app")
    key = (await partner.call("iam", "CreateAccessKey", UserName="app"))["AccessKey"]
    app = sns.world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await refused(app, "Publish", "AccessDenied", TopicArn=arn, Message="m")
    allow = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}],
    }
    await partner.call(
        "iam", "PutUserPolicy", UserName="app", PolicyName="p", PolicyDocument=json.dumps(allow)
    )
    await app.call("sns", "Publish", TopicArn=arn, Message="from the app")
    # The cross-account Publish is in the topic owner's log as well as the caller's.
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=200)]
    publishes = {(e.tenant_id, e.principal) for e in events if e.action == "sns:Publish"}
    assert (sns.world.tenant_id, f"arn:aws:iam::{other_id}:root") in publishes
    assert (other_id, f"arn:aws:iam::{other_id}:root") in publishes


async def test_conditions_and_explicit_denies(sns: Sns) -> None:
    arn = await topic(sns.root, "guarded")
    other_id, keys = await sns.world.new_tenant("partner")
    partner = sns.world.client(keys)
    # A condition the call does not meet: refused as a topic not shared.
    await set_policy(
        sns.root,
        arn,
        shared(arn, other_id, "Publish", IpAddress={"aws:SourceIp": "198.51.100.0/24"}),
    )
    await refused(partner, "Publish", "NotFound", TopicArn=arn, Message="m")
    # An explicit deny in the topic's policy binds its owner too.
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "SNS:Publish", "Resource": arn}
        ],
    }
    await set_policy(sns.root, arn, json.dumps(deny))
    await refused(sns.root, "Publish", "AccessDenied", TopicArn=arn, Message="m")
    error = await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=arn,
        AttributeName="Policy",
        AttributeValue='{"Statement": "nope"}',
    )
    assert "Policy" in error.message


async def test_add_and_remove_permission(sns: Sns) -> None:
    arn = await topic(sns.root, "announced")
    other_id, keys = await sns.world.new_tenant("partner")
    partner = sns.world.client(keys)
    await sns.root.call(
        "sns",
        "AddPermission",
        TopicArn=arn,
        Label="partner-publish",
        AWSAccountId=[other_id],
        ActionName=["Publish"],
    )
    policy = json.loads(
        (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Sid"] == "partner-publish"
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{other_id}:root"}
    assert statement["Action"] == ["SNS:Publish"] and statement["Resource"] == arn
    await partner.call("sns", "Publish", TopicArn=arn, Message="allowed")
    for label, accounts, actions in (
        ("partner-publish", [other_id], ["Publish"]),  # the label is taken
        ("x", [other_id], ["CreateTopic"]),  # no topic action
        ("x", ["not-an-account"], ["Publish"]),
        ("bad label!", [other_id], ["Publish"]),
    ):
        await refused(
            sns.root,
            "AddPermission",
            "InvalidParameter",
            TopicArn=arn,
            Label=label,
            AWSAccountId=accounts,
            ActionName=actions,
        )
    await refused(partner, "AddPermission", "NotFound", TopicArn=arn, Label="mine",
                  AWSAccountId=[other_id], ActionName=["Subscribe"])  # fmt: skip
    await sns.root.call("sns", "RemovePermission", TopicArn=arn, Label="partner-publish")
    attributes = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    # The last statement gone, the topic has no policy: AWS's default one is shown (decision
    # 0163's session 50 addendum), not evaluated — the partner is refused again.
    assert json.loads(attributes["Policy"])["Id"] == "__default_policy_ID"
    await refused(partner, "Publish", "NotFound", TopicArn=arn, Message="again")
    await refused(sns.root, "RemovePermission", "InvalidParameter", TopicArn=arn, Label="gone")
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=200)]
    actions = {e.action for e in events if e.tenant_id == sns.world.tenant_id}
    assert {"sns:AddPermission", "sns:RemovePermission"} <= actions


async def test_subscribing_across_accounts(sns: Sns) -> None:
    arn = await topic(sns.root, "feed")
    other_id, keys = await sns.world.new_tenant("partner")
    partner = sns.world.client(keys)
    await set_policy(sns.root, arn, shared(arn, other_id, "Subscribe"))
    # The partner subscribes its own queue: confirmed at once, its subscription.
    theirs = await sns.queue(other_id, "partner-q")
    sub_arn = (
        await partner.call(
            "sns",
            "Subscribe",
            TopicArn=arn,
            Protocol="sqs",
            Endpoint=theirs.arn,
            ReturnSubscriptionArn=True,
        )
    )["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")
    mine = (await partner.call("sns", "ListSubscriptions"))["Subscriptions"]
    assert [s["SubscriptionArn"] for s in mine] == [sub_arn]
    listed = await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn)
    assert [s["Owner"] for s in listed["Subscriptions"]] == [other_id]
    # Its queue's policy does not let SNS send from this topic yet: nothing arrives.
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="too early")
    assert await sns.received(theirs) == []
    await sns.queues.set_queue_attributes(theirs, {"Policy": sns_may_send(theirs, arn)})
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="now")
    assert [json.loads(b)["Message"] for b in await sns.received(theirs)] == ["now"]
    # The topic's owner subscribes another queue of the partner's: pending until the
    # partner confirms with the token sent into that queue.
    other_queue = await sns.queue(other_id, "partner-q2")
    await sns.queues.set_queue_attributes(other_queue, {"Policy": sns_may_send(other_queue, arn)})
    pending = await sns.root.call(
        "sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=other_queue.arn
    )
    assert pending["SubscriptionArn"] == "pending confirmation"
    (confirmation,) = [json.loads(b) for b in await sns.received(other_queue)]
    assert confirmation["Type"] == "SubscriptionConfirmation"
    confirmed = await partner.call(
        "sns", "ConfirmSubscription", TopicArn=arn, Token=confirmation["Token"]
    )
    assert confirmed["SubscriptionArn"].startswith(arn + ":")
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="to both")
    assert [json.loads(b)["Message"] for b in await sns.received(other_queue)] == ["to both"]


async def test_delivery_policies_and_pending_expiry(sns: Sns, now: Now) -> None:
    arn = await topic(sns.root, "hooks")
    topic_policy = {"http": {"defaultHealthyRetryPolicy": {"numRetries": 5,
                   "minDelayTarget": 2, "maxDelayTarget": 2}}}  # fmt: skip
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps(topic_policy),
    )
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    effective = json.loads(shown["EffectiveDeliveryPolicy"])
    assert effective["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 500}}}),
    )
    own = {"requestPolicy": {"headerContentType": "application/json"}}
    sub = await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="https",
        Endpoint="https://hooks.example/in",
        Attributes={"DeliveryPolicy": json.dumps(own)},
        ReturnSubscriptionArn=True,
    )
    sub_arn = sub["SubscriptionArn"]
    attributes = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=sub_arn))[
        "Attributes"
    ]
    assert json.loads(attributes["DeliveryPolicy"]) == own
    merged = json.loads(attributes["EffectiveDeliveryPolicy"])
    assert merged["healthyRetryPolicy"]["numRetries"] == 5  # the topic's default
    assert merged["requestPolicy"] == {"headerContentType": "application/json"}
    await refused(
        sns.root,
        "SetSubscriptionAttributes",
        "InvalidParameter",
        SubscriptionArn=sub_arn,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps({"healthyRetryPolicy": {"minDelayTarget": 0}}),
    )
    queue = await sns.queue(sns.world.tenant_id, "q")
    sqs_sub = (
        await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    )["SubscriptionArn"]
    await refused(
        sns.root,
        "SetSubscriptionAttributes",
        "InvalidParameter",
        SubscriptionArn=sqs_sub,
        AttributeName="DeliveryPolicy",
        AttributeValue=json.dumps(own),
    )
    # The pending https subscription's token, three days on, is refused and it is gone.
    claimed = await sns.events.claim(now.now, lease=timedelta(seconds=60), limit=10)
    (token,) = [
        json.loads(json.loads(e.message)["body"])["Token"]
        for e in claimed
        if "SubscriptionConfirmation" in e.message
    ]
    now.now += timedelta(days=3)
    await refused(sns.root, "ConfirmSubscription", "InvalidParameter", TopicArn=arn, Token=token)
    await refused(sns.root, "GetSubscriptionAttributes", "NotFound", SubscriptionArn=sub_arn)
