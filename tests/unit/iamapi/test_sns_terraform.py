"""What Terraform's AWS provider reads back of SNS (decision 0163's session 50 addendum), over
the wire with botocore's SNS model and the real services: GetTopicAttributes counts the
topic's confirmed and pending subscriptions and AWS's default ``Policy`` until one is set (the
provider parses it on every read), as the provider and the console show them; the
delivery status sample rates of 0 the provider sets on every topic it makes are taken (nothing
is logged), a malformed rate or a role of a protocol not delivered refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from support.snsworld import Sns, refused, sns_world, topic


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path) as made:
        yield made


async def counts(sns: Sns, arn: str) -> tuple[str, str, str]:
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    return (
        shown["SubscriptionsConfirmed"],
        shown["SubscriptionsPending"],
        shown["SubscriptionsDeleted"],
    )


async def test_topic_attributes_count_its_subscriptions(sns: Sns) -> None:
    arn = await topic(sns.root, "alerts")
    other = await topic(sns.root, "other")
    assert await counts(sns, arn) == ("0", "0", "0")
    queue = await sns.queue(sns.world.tenant_id, "alerts-q")
    made = await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    await sns.root.call(
        "sns", "Subscribe", TopicArn=arn, Protocol="https", Endpoint="https://hooks.example/sns"
    )
    await sns.root.call("sns", "Subscribe", TopicArn=other, Protocol="sqs", Endpoint=queue.arn)
    # The sqs subscription is confirmed at once, the https one waits for its endpoint; the
    # other topic's is not counted.
    assert await counts(sns, arn) == ("1", "1", "0")
    await sns.root.call("sns", "Unsubscribe", SubscriptionArn=made["SubscriptionArn"])
    assert await counts(sns, arn) == ("0", "1", "0")


async def test_zero_sample_rates_taken_and_undelivered_protocols_refused(sns: Sns) -> None:
    made = await sns.root.call(
        "sns",
        "CreateTopic",
        Name="orders.fifo",
        Attributes={"FifoTopic": "true", "HTTPSuccessFeedbackSampleRate": "0"},
    )
    arn = made["TopicArn"]
    for name in ("SQSSuccessFeedbackSampleRate", "LambdaSuccessFeedbackSampleRate"):
        await sns.root.call(
            "sns", "SetTopicAttributes", TopicArn=arn, AttributeName=name, AttributeValue="0"
        )
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert [shown[f"{p}SuccessFeedbackSampleRate"] for p in ("HTTP", "SQS", "Lambda")] == [
        "0",
        "0",
        "0",
    ]
    # Logging of the protocols delivered here is decision 0212's (test_sns_delivery_status).
    for name, value in (
        ("SQSSuccessFeedbackSampleRate", "150"),
        ("HTTPSuccessFeedbackSampleRate", "zero"),
        ("LambdaSuccessFeedbackRoleArn", "arn:aws:iam::123456789012:role/feedback"),
    ):
        await refused(
            sns.root,
            "SetTopicAttributes",
            "InvalidParameter",
            TopicArn=arn,
            AttributeName=name,
            AttributeValue=value,
        )
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="other",
        Attributes={"ApplicationSuccessFeedbackSampleRate": "100"},
    )


async def test_a_topic_without_a_policy_shows_aws_default_one(sns: Sns) -> None:
    arn = await topic(sns.root, "alerts")
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    policy = json.loads(shown["Policy"])
    assert (policy["Version"], policy["Id"]) == ("2008-10-17", "__default_policy_ID")
    [statement] = policy["Statement"]
    assert (statement["Principal"], statement["Resource"]) == ({"AWS": "*"}, arn)
    assert statement["Condition"] == {"StringEquals": {"AWS:SourceOwner": sns.world.tenant_id}}
    assert {"SNS:Publish", "SNS:Receive"} <= set(statement["Action"])
    # Set, the topic's own is shown; the provider's destroy writes the default back, taken.
    own = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{sns.world.tenant_id}:root"},
                    "Action": "sns:Publish",
                    "Resource": arn,
                }
            ],
        }
    )
    for written in (own, shown["Policy"]):
        await sns.root.call(
            "sns",
            "SetTopicAttributes",
            TopicArn=arn,
            AttributeName="Policy",
            AttributeValue=written,
        )
        again = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
        assert json.loads(again["Policy"]) == json.loads(written)
