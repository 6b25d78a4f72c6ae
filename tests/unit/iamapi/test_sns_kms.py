"""SNS topics under a KMS key (decision 0212) in process, botocore's SNS model over the real
services and the real KMS sealer (a CustomerKeyService over its in-memory store): the
``KmsMasterKeyId`` attribute, a message sealed at rest in the event queue and delivered in
clear into the subscribed queue, SNS's ``KMS*`` errors at Publish for a disabled, pending
deletion or missing key and for a publisher not allowed to use it, a delivery queued before
its key was disabled failing (retried, never sent) until the key is enabled again,
``alias/aws/sns`` made on first use, and messages queued before the key was set still
delivered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.credentials import Credentials

from andromede.iam.model import Principal, PrincipalKind
from andromede.kms.customer_keys import Caller, CustomerKeyService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.keys_store import MemoryCustomerKeyStore
from andromede.kms.service import KeyService
from andromede.kmsapi.authorise import KmsAuthoriser
from andromede.wiring.topic_keys import TopicKmsSealer
from support.queryapp import REGION
from support.snsworld import Sns, refused, sns_world


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path) as made:
        keys = KeyService(LocalKeyFileProvider(tmp_path / "kms"))
        identity = made.world.identity
        customer_keys = CustomerKeyService(
            MemoryCustomerKeyStore(),
            keys,
            KmsAuthoriser(identity.policies_for, REGION),
            region=REGION,
        )
        made.pubsub.sealer = TopicKmsSealer(customer_keys, keys, made.world.audit, cache_size=4)
        made.world.extra["keys"] = customer_keys
        try:
            yield made
        finally:
            keys.close()


def root_caller(sns: Sns) -> Caller:
    account = sns.world.tenant_id
    root = Principal(account, None, None, PrincipalKind.ROOT, f"arn:aws:iam::{account}:root")
    return Caller(account, root.arn, root)


def kms(sns: Sns) -> CustomerKeyService:
    keys: CustomerKeyService = sns.world.extra["keys"]
    return keys


async def encrypted_topic(sns: Sns, key_ref: str, name: str = "secret") -> str:
    made = await sns.root.call(
        "sns", "CreateTopic", Name=name, Attributes={"KmsMasterKeyId": key_ref}
    )
    return str(made["TopicArn"])


async def subscribed_queue(sns: Sns, arn: str, name: str = "inbox") -> object:
    queue = await sns.queue(sns.world.tenant_id, name)
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue


async def test_the_attribute_is_kept_shown_and_removed(sns: Sns) -> None:
    key = await kms(sns).create_key(root_caller(sns))
    arn = await encrypted_topic(sns, key.arn)
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert shown["KmsMasterKeyId"] == key.arn
    await sns.root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=""
    )
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert "KmsMasterKeyId" not in shown
    await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=arn,
        AttributeName="KmsMasterKeyId",
        AttributeValue="alias/with space",
    )


async def test_sealed_at_rest_delivered_in_clear_and_refused_with_sns_errors(sns: Sns) -> None:
    key = await kms(sns).create_key(root_caller(sns))
    arn = await encrypted_topic(sns, key.key_id)
    queue = await subscribed_queue(sns, arn)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="the secret plan")
    # What the event queue holds: the KMS form, the message nowhere in clear.
    now = datetime.now(UTC)
    held = await sns.events.claim(now, lease=timedelta(seconds=1), limit=10)
    assert len(held) == 1 and held[0].message.startswith('{"kms":')
    assert "the secret plan" not in held[0].message
    await sns.events.retry(held[0], now, "peeked", spent=False)
    assert await sns.received(queue) == ["the secret plan"]  # type: ignore[arg-type]

    await kms(sns).disable_key(root_caller(sns), key.key_id)
    error = await refused(sns.root, "Publish", "KMSDisabled", TopicArn=arn, Message="no")
    assert error.status == 400
    batch = await sns.root.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "no"}],
    )
    assert [f["Code"] for f in batch["Failed"]] == ["KMSDisabled"]
    await kms(sns).enable_key(root_caller(sns), key.key_id)
    await kms(sns).schedule_key_deletion(root_caller(sns), key.key_id, 7)
    await refused(sns.root, "Publish", "KMSInvalidState", TopicArn=arn, Message="no")
    missing = await encrypted_topic(sns, "alias/nothing-here", "missing")
    await refused(sns.root, "Publish", "KMSNotFound", TopicArn=missing, Message="no")


async def test_a_delivery_queued_before_its_key_was_disabled_fails_until_enabled(
    sns: Sns,
) -> None:
    key = await kms(sns).create_key(root_caller(sns))
    arn = await encrypted_topic(sns, key.key_id)
    queue = await subscribed_queue(sns, arn)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="queued")
    await kms(sns).disable_key(root_caller(sns), key.key_id)
    assert await sns.received(queue) == []  # type: ignore[arg-type]
    assert sns.deliverer.delivered == 0
    # Retried, not dropped: its next attempt, once enabled, delivers it.
    held = await sns.events.claim(
        datetime.now(UTC) + timedelta(hours=1), lease=timedelta(seconds=1), limit=10
    )
    assert len(held) == 1
    await sns.events.retry(held[0], datetime.now(UTC), "peeked", spent=False)
    await kms(sns).enable_key(root_caller(sns), key.key_id)
    assert await sns.received(queue) == ["queued"]  # type: ignore[arg-type]
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=500)]
    refusals = [e for e in events if e.action == "kms:Decrypt" and e.outcome.value != "success"]
    assert refusals and refusals[0].details["invoked_by"] == "sns.amazonaws.com"


async def test_the_aws_managed_key_and_messages_from_before_the_key(sns: Sns) -> None:
    made = await sns.root.call("sns", "CreateTopic", Name="later")
    arn = str(made["TopicArn"])
    queue = await subscribed_queue(sns, arn)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="before")
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="KmsMasterKeyId",
        AttributeValue="alias/aws/sns",
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="after")
    assert sorted(await sns.received(queue)) == ["after", "before"]  # type: ignore[arg-type]
    listed, _ = await kms(sns).list_aliases(root_caller(sns), key_ref=None, limit=100, marker=None)
    assert "alias/aws/sns" in [alias.name for alias in listed]
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=500)]
    made_keys = [e for e in events if e.action == "kms:GenerateDataKey" and e.details.get("via")]
    assert made_keys and all(e.details["invoked_by"] == "sns.amazonaws.com" for e in made_keys)


async def test_a_publisher_needs_the_kms_permissions(sns: Sns) -> None:
    key = await kms(sns).create_key(root_caller(sns))
    arn = await encrypted_topic(sns, key.key_id)
    await sns.root.call("iam", "CreateUser", UserName="app")
    access = (await sns.root.call("iam", "CreateAccessKey", UserName="app"))["AccessKey"]
    app = sns.world.client(Credentials(access["AccessKeyId"], access["SecretAccessKey"]))
    publish_only = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"}],
    }
    await sns.root.call(
        "iam",
        "PutUserPolicy",
        UserName="app",
        PolicyName="p",
        PolicyDocument=json.dumps(publish_only),
    )
    await refused(app, "Publish", "KMSAccessDenied", TopicArn=arn, Message="m")
    both = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": key.arn,
            },
        ],
    }
    await sns.root.call(
        "iam", "PutUserPolicy", UserName="app", PolicyName="p", PolicyDocument=json.dumps(both)
    )
    await app.call("sns", "Publish", TopicArn=arn, Message="m")


async def test_a_platform_event_for_a_topic_whose_key_is_disabled_is_given_up(
    sns: Sns,
) -> None:
    key = await kms(sns).create_key(root_caller(sns))
    arn = await encrypted_topic(sns, key.key_id)
    queue = await subscribed_queue(sns, arn)
    await kms(sns).disable_key(root_caller(sns), key.key_id)
    # An Auto Scaling or alarm notification, queued for the topic as the platform's own.
    assert await sns.topics.publish(sns.world.tenant_id, arn, "scaled out")
    assert await sns.received(queue) == []  # type: ignore[arg-type]
    assert await sns.events.waiting(sns.world.tenant_id) == 0  # given up, not spinning
    assert sns.deliverer.dropped == 1
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=500)]
    assert any(e.action == "kms:GenerateDataKey" and e.outcome.value != "success" for e in events)
