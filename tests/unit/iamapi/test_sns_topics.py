"""The SNS-style topic API of bucket notifications (decision 0132), in process, called and
parsed with botocore's own SNS model: the five calls and their shapes, RGW's attributes, the
refusals (a push endpoint with credentials, AMQP/Kafka, an unknown attribute, a bad name,
the tenant's limit), ``sns:*`` through IAM policies, the audit record of each change, and
tenant isolation: another tenant never reads, changes or deletes a topic it does not own."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iamapi.sns import ACTIONS
from andromede.iamapi.sns_subscriptions import SUBSCRIPTION_ACTIONS
from support.queryapp import ApiError, Client, World

REGION = "eu-fr-1"


async def create(client: Client, name: str, **attributes: str) -> str:
    answer = await client.call("sns", "CreateTopic", Name=name, Attributes=attributes)
    return str(answer["TopicArn"])


async def refused(client: Client, operation: str, code: str, **params: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await client.call("sns", operation, **params)
    assert caught.value.code == code, caught.value
    return caught.value


def test_every_action_is_an_sns_action() -> None:
    assert set(ACTIONS) == {
        "AddPermission",  # decision 0168, tested in test_sns_cross_account.py
        "RemovePermission",
        "CreateTopic",
        "DeleteTopic",
        "GetTopicAttributes",
        "ListTopics",
        "SetTopicAttributes",
        "TagResource",  # decision 0175, tested in test_sns_archive.py
        "UntagResource",
        "ListTagsForResource",
        "PutDataProtectionPolicy",  # decision 0215, tested in test_sns_data_protection.py
        "GetDataProtectionPolicy",
        *SUBSCRIPTION_ACTIONS,  # decision 0163, tested in test_sns_subscriptions.py
    }


async def test_a_topics_life(root: Client, world: World) -> None:
    arn = await create(root, "uploads", **{"push-endpoint": "https://hooks.example/s3"})
    assert arn == f"arn:aws:sns:{REGION}:{world.tenant_id}:uploads"
    attributes = (await root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert attributes["TopicArn"] == arn
    assert attributes["Name"] == "uploads"
    assert attributes["push-endpoint"] == "https://hooks.example/s3"
    assert attributes["EndpointAddress"] == "https://hooks.example/s3"
    await root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="OpaqueData", AttributeValue="x"
    )
    attributes = (await root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert attributes["OpaqueData"] == "x"
    # CreateTopic again (RGW): the same ARN, the attributes replaced.
    again = await create(root, "uploads", **{"push-endpoint": "http://hooks.example/v2"})
    assert again == arn
    listed = (await root.call("sns", "ListTopics"))["Topics"]
    assert listed == [{"TopicArn": arn}]
    await root.call("sns", "DeleteTopic", TopicArn=arn)
    await refused(root, "GetTopicAttributes", "NotFound", TopicArn=arn)
    await root.call("sns", "DeleteTopic", TopicArn=arn)  # deleting none succeeds, as on SNS


@pytest.mark.parametrize(
    ("name", "attributes", "fragment"),
    [
        ("leaky", {"push-endpoint": "https://user:hunter2@hooks.example/"}, "credentials"),
        ("rabbit", {"push-endpoint": "amqp://broker.example/"}, "not implemented"),
        ("kafka", {"kafka-ack-level": "broker"}, "not implemented"),
        ("odd", {"colour": "blue"}, "AttributeName"),
        ("ftp", {"push-endpoint": "ftp://files.example/"}, "http or https"),
        ("unverified", {"verify-ssl": "false"}, "verify-ssl"),
        ("bad name!", {}, "Topic Name"),
    ],
)
async def test_topics_that_cannot_be_taken_are_refused(
    root: Client, name: str, attributes: dict[str, str], fragment: str
) -> None:
    error = await refused(root, "CreateTopic", "InvalidParameter", Name=name, Attributes=attributes)
    assert error.status == 400 and fragment in error.message
    assert "hunter2" not in error.message
    assert (await root.call("sns", "ListTopics"))["Topics"] == []


async def test_a_tenant_holds_at_most_its_limit(root: Client) -> None:
    for n in range(3):
        await create(root, f"t{n}")
    error = await refused(root, "CreateTopic", "TopicLimitExceeded", Name="one-more")
    assert error.status == 403


async def test_another_tenant_never_reaches_a_topic(root: Client, world: World) -> None:
    arn = await create(root, "private", **{"push-endpoint": "https://hooks.example/a"})
    _, keys = await world.new_tenant("intruder")
    intruder = world.client(keys)
    await refused(intruder, "GetTopicAttributes", "NotFound", TopicArn=arn)
    await refused(
        intruder,
        "SetTopicAttributes",
        "NotFound",
        TopicArn=arn,
        AttributeName="push-endpoint",
        AttributeValue="https://evil.example/",
    )
    await intruder.call("sns", "DeleteTopic", TopicArn=arn)
    assert (await intruder.call("sns", "ListTopics"))["Topics"] == []
    # Its own topic of the same name is its own.
    theirs = await create(intruder, "private")
    assert theirs != arn
    attributes = (await root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert attributes["push-endpoint"] == "https://hooks.example/a"


async def test_users_need_sns_actions_in_their_policies(root: Client, world: World) -> None:
    arn = await create(root, "shared")
    await root.call("iam", "CreateUser", UserName="bare")
    key = (await root.call("iam", "CreateAccessKey", UserName="bare"))["AccessKey"]
    bare = world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    for operation, params in (
        ("CreateTopic", {"Name": "mine"}),
        ("GetTopicAttributes", {"TopicArn": arn}),
        ("ListTopics", {}),
        ("DeleteTopic", {"TopicArn": arn}),
    ):
        error = await refused(bare, operation, "AccessDenied", **params)
        assert error.status == 403
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["sns:GetTopicAttributes"], "Resource": arn},
            {"Effect": "Allow", "Action": "sns:CreateTopic", "Resource": f"{arn[:-6]}team-*"},
        ],
    }
    await root.call(
        "iam", "PutUserPolicy", UserName="bare", PolicyName="p", PolicyDocument=json.dumps(policy)
    )
    await bare.call("sns", "GetTopicAttributes", TopicArn=arn)
    await create(bare, "team-a")
    await refused(bare, "CreateTopic", "AccessDenied", Name="other")


async def test_changes_are_audited(root: Client, world: World) -> None:
    arn = await create(root, "watched", **{"push-endpoint": "https://hooks.example/?k=s3cr3t"})
    await root.call("sns", "DeleteTopic", TopicArn=arn)
    await world.audit.flush()
    events = [e for _, e in await world.audit_store.list_events(None, after_id=0, limit=100)]
    sns = [(e.action, e.resource, e.outcome.value) for e in events if e.action.startswith("sns:")]
    assert sns == [("sns:CreateTopic", arn, "success"), ("sns:DeleteTopic", arn, "success")]
    assert all("s3cr3t" not in json.dumps(e.details) for e in events)
