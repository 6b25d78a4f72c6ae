"""SNS message data protection (decision 0215) through the SNS API, called and parsed with
botocore's own model over the real services: PutDataProtectionPolicy and
GetDataProtectionPolicy (and CreateTopic's DataProtectionPolicy), SNS's refusals; a Publish
holding a term an inbound Deny names refused with AuthorizationError (a PublishBatch entry
failed alone); inbound De-identify masking what subscribers receive; outbound Deny and
De-identify per subscriber's account; audit reports into a vended Logs group; the IAM
actions each call needs."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from andromede.iamapi.sns import ACTIONS
from andromede.notifications.protected_messages import MessageGuard
from andromede.vended_log_groups import VendedLogGroups
from support.logsapp import logs_world
from support.snsworld import Sns, refused, sns_world, topic

EMAIL = "arn:aws:dataprotection::aws:data-identifier/EmailAddress"


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path) as made:
        yield made


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Name": "pii", "Version": "2021-06-01", "Statement": list(statements)})


def statement(operation: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "DataDirection": "Inbound",
        "Principal": ["*"],
        "DataIdentifier": [EMAIL],
        "Operation": operation,
        **fields,
    }


def test_the_calls_are_served() -> None:
    assert {"PutDataProtectionPolicy", "GetDataProtectionPolicy"} <= set(ACTIONS)


async def test_put_get_and_remove_a_policy(sns: Sns) -> None:
    arn = await topic(sns.root, "pii")
    answer = await sns.root.call("sns", "GetDataProtectionPolicy", ResourceArn=arn)
    assert answer.get("DataProtectionPolicy", "") == ""
    document = policy(statement({"Deny": {}}))
    await sns.root.call(
        "sns", "PutDataProtectionPolicy", ResourceArn=arn, DataProtectionPolicy=document
    )
    answer = await sns.root.call("sns", "GetDataProtectionPolicy", ResourceArn=arn)
    assert answer["DataProtectionPolicy"] == document
    # Its own calls show it, not the attributes; SetTopicAttributes does not take it.
    attributes = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert "DataProtectionPolicy" not in attributes
    await refused(
        sns.root,
        "SetTopicAttributes",
        "InvalidParameter",
        TopicArn=arn,
        AttributeName="DataProtectionPolicy",
        AttributeValue=document,
    )
    # CreateTopic again (an idempotent deployment) does not lift it.
    await sns.root.call("sns", "CreateTopic", Name="pii")
    answer = await sns.root.call("sns", "GetDataProtectionPolicy", ResourceArn=arn)
    assert answer["DataProtectionPolicy"] == document
    await sns.root.call("sns", "PutDataProtectionPolicy", ResourceArn=arn, DataProtectionPolicy="")
    answer = await sns.root.call("sns", "GetDataProtectionPolicy", ResourceArn=arn)
    assert answer.get("DataProtectionPolicy", "") == ""
    # CreateTopic takes one too.
    made = await sns.root.call("sns", "CreateTopic", Name="born", DataProtectionPolicy=document)
    answer = await sns.root.call("sns", "GetDataProtectionPolicy", ResourceArn=made["TopicArn"])
    assert answer["DataProtectionPolicy"] == document


async def test_refusals_in_snss_words(sns: Sns) -> None:
    arn = await topic(sns.root, "pii")
    error = await refused(
        sns.root,
        "PutDataProtectionPolicy",
        "InvalidParameter",
        ResourceArn=arn,
        DataProtectionPolicy=policy(statement({"Deny": {}}, DataDirection="Up")),
    )
    assert "DataDirection" in str(error) and error.status == 400
    await refused(
        sns.root,
        "PutDataProtectionPolicy",
        "NotFound",
        ResourceArn=arn + "-gone",
        DataProtectionPolicy=policy(statement({"Deny": {}})),
    )
    await refused(sns.root, "GetDataProtectionPolicy", "NotFound", ResourceArn=arn + "-gone")
    await refused(sns.root, "GetDataProtectionPolicy", "InvalidParameter", ResourceArn="arn:x")
    await refused(
        sns.root,
        "CreateTopic",
        "InvalidParameter",
        Name="bad",
        DataProtectionPolicy="{}",
    )


async def test_inbound_deny_and_deidentify(sns: Sns) -> None:
    arn = await topic(sns.root, "pii")
    queue = await sns.queue(sns.world.tenant_id, "pii-q")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    card = "arn:aws:dataprotection::aws:data-identifier/CreditCardNumber"
    await sns.root.call(
        "sns",
        "PutDataProtectionPolicy",
        ResourceArn=arn,
        DataProtectionPolicy=policy(
            statement({"Deny": {}}, DataIdentifier=[card]),
            statement({"Deidentify": {"MaskConfig": {"MaskWithCharacter": "#"}}}),
        ),
    )
    error = await refused(
        sns.root, "Publish", "AuthorizationError", TopicArn=arn, Message="card 4111111111111111"
    )
    assert error.status == 403
    batch = await sns.root.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {"Id": "bad", "Message": "card 4111 1111 1111 1111"},
            {"Id": "ok", "Message": "write to ana@example.com"},
        ],
    )
    assert [f["Id"] for f in batch["Failed"]] == ["bad"]
    assert batch["Failed"][0]["Code"] == "AuthorizationError"
    bodies = await sns.received(queue)
    assert [json.loads(b)["Message"] for b in bodies] == ["write to ###############"]


async def test_the_platforms_own_messages_are_protected_too(sns: Sns) -> None:
    # An S3 event or an Auto Scaling notification is published by the platform, not through
    # Publish: the topic's policy judges it as a publish of the topic's account.
    arn = await topic(sns.root, "pii")
    queue = await sns.queue(sns.world.tenant_id, "pii-q")
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    card = "arn:aws:dataprotection::aws:data-identifier/CreditCardNumber"
    await sns.root.call(
        "sns",
        "PutDataProtectionPolicy",
        ResourceArn=arn,
        DataProtectionPolicy=policy(
            statement({"Deny": {}}, DataIdentifier=[card], Principal=[sns.world.tenant_id]),
            statement({"Deidentify": {"MaskConfig": {}}}),
        ),
    )
    tenant = sns.world.tenant_id
    assert await sns.topics.publish(tenant, arn, '{"note": "from ana@example.com"}')
    assert await sns.topics.publish(tenant, arn, '{"note": "card 4111111111111111"}')
    # The refused one reaches no subscriber and is not retried.
    assert await sns.received(queue) == ['{"note": "from ***************"}']
    assert await sns.received(queue) == []


async def test_outbound_statements_follow_the_subscriber(sns: Sns) -> None:
    arn = await topic(sns.root, "pii")
    queue = await sns.queue(sns.world.tenant_id, "pii-q")
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    own = sns.world.tenant_id
    # The principal that subscribed is the subscription's, shown and never set by hand.
    (held,) = (await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn))[
        "Subscriptions"
    ]
    shown = await sns.root.call(
        "sns", "GetSubscriptionAttributes", SubscriptionArn=held["SubscriptionArn"]
    )
    assert shown["Attributes"]["SubscriptionPrincipal"] == f"arn:aws:iam::{own}:root"
    await refused(
        sns.root,
        "SetSubscriptionAttributes",
        "InvalidParameter",
        SubscriptionArn=held["SubscriptionArn"],
        AttributeName="SubscriptionPrincipal",
        AttributeValue="arn:aws:iam::999999999999:root",
    )
    await sns.root.call(
        "sns",
        "PutDataProtectionPolicy",
        ResourceArn=arn,
        DataProtectionPolicy=policy(
            statement({"Deny": {}}, DataDirection="Outbound", Principal=["999999999999"]),
            statement({"Deidentify": {"RedactConfig": {}}}, DataDirection="Outbound"),
        ),
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="to ana@example.com.")
    assert await sns.received(queue) == ["to ."]
    await sns.root.call(
        "sns",
        "PutDataProtectionPolicy",
        ResourceArn=arn,
        DataProtectionPolicy=policy(
            statement({"Deny": {}}, DataDirection="Outbound", Principal=[own]),
        ),
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="to ana@example.com")
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="nothing to hide")
    assert await sns.received(queue) == ["nothing to hide"]


async def test_audit_reports_go_to_the_vended_group(sns: Sns, tmp_path: Path) -> None:
    metered: list[tuple[str, int]] = []
    for logs in logs_world(tmp_path / "logs"):
        logs.clock.now = time.time() * 1000
        sns.pubsub.guard = MessageGuard(lambda: datetime.now(UTC), draw=lambda: 0.0)  # sampled
        sns.pubsub.guard.findings = VendedLogGroups(
            logs.service, ingested=lambda tenant, size, meter: metered.append((tenant, size))
        )
        arn = await topic(sns.root, "pii")
        audit = {
            "Audit": {
                "SampleRate": 99,
                "FindingsDestination": {"CloudWatchLogs": {"LogGroup": "/aws/vendedlogs/pii"}},
            }
        }
        await sns.root.call(
            "sns",
            "PutDataProtectionPolicy",
            ResourceArn=arn,
            DataProtectionPolicy=policy(statement(audit)),
        )
        published = await sns.root.call("sns", "Publish", TopicArn=arn, Message="ana@example.com")
        await sns.root.call("sns", "Publish", TopicArn=arn, Message="clean")
        # The report with findings written (the group and stream made); the clean message
        # has no NoFindingsDestination.
        events, _, _ = await logs.service.get_events(
            sns.world.tenant_id, "/aws/vendedlogs/pii", "pii",
            start=None, end=None, start_from_head=True, limit=None, token=None,
        )  # fmt: skip
        (report,) = [json.loads(e.message) for e in events]
        assert report["messageId"] == published["MessageId"] and report["resourceArn"] == arn
        assert report["callerPrincipal"].endswith(":root")
        assert report["dataIdentifiers"] == [
            {"name": "EmailAddress", "count": 1, "detections": [{"start": 0, "end": 15}]}
        ]
        assert metered == [(sns.world.tenant_id, len(events[0].message.encode()) + 26)]


async def test_users_need_the_sns_actions_and_puts_are_audited(sns: Sns) -> None:
    arn = await topic(sns.root, "pii")
    await sns.root.call("iam", "CreateUser", UserName="reader")
    key = (await sns.root.call("iam", "CreateAccessKey", UserName="reader"))["AccessKey"]
    reader = sns.world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await refused(reader, "GetDataProtectionPolicy", "AccessDenied", ResourceArn=arn)
    allowed = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sns:GetDataProtectionPolicy", "Resource": arn}
        ],
    }
    await sns.root.call(
        "iam",
        "PutUserPolicy",
        UserName="reader",
        PolicyName="p",
        PolicyDocument=json.dumps(allowed),
    )
    await reader.call("sns", "GetDataProtectionPolicy", ResourceArn=arn)
    await refused(
        reader,
        "PutDataProtectionPolicy",
        "AccessDenied",
        ResourceArn=arn,
        DataProtectionPolicy=policy(statement({"Deny": {}})),
    )
    await sns.root.call(
        "sns",
        "PutDataProtectionPolicy",
        ResourceArn=arn,
        DataProtectionPolicy=policy(statement({"Deny": {}})),
    )
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=100)]
    assert ("sns:PutDataProtectionPolicy", arn) in [(e.action, e.resource) for e in events]
