"""SNS subscriptions and Publish (decision 0163), in process, called and parsed with
botocore's own SNS model over the real services (in-memory stores, real queues with sealed
messages, the real delivery worker): an sqs subscription confirmed at once, Publish with
attributes through a filter policy into the queue as a signed envelope (or raw), an http
subscription's confirmation handshake (its SubscribeURL taken unsigned), S3-style events of a
topic fanned out, the listings and their NextToken, the refusals in SNS's words, IAM and
isolation: another tenant never sees, changes or removes a subscription it does not own."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.credentials import Credentials

from andromede.iamapi.sns import ACTIONS
from andromede.iamapi.sns_subscriptions import SUBSCRIPTION_ACTIONS
from andromede.notifications.envelope import verify
from support.asgi import post
from support.queryapp import REGION
from support.snsworld import Sns, refused, sns_world, topic


@pytest.fixture
async def sns(tmp_path: Path) -> AsyncIterator[Sns]:
    async with sns_world(tmp_path) as made:
        yield made


async def unsigned(sns: Sns, **params: str) -> tuple[int, bytes]:
    body = "&".join(f"{k}={v}" for k, v in params.items()).encode()
    status, _, answer = await post(
        sns.world.apps["sns"],
        {"Content-Type": "application/x-www-form-urlencoded"},
        body,
        ("192.0.2.20", 40000),
    )
    return status, answer


def test_every_subscription_action_is_served() -> None:
    assert {"Subscribe", "Publish", "PublishBatch", "ConfirmSubscription"} <= set(ACTIONS)


async def test_publish_through_a_filter_into_a_queue_signed(sns: Sns) -> None:
    arn = await topic(sns.root, "orders")
    queue = await sns.queue(sns.world.tenant_id, "orders-q")
    sub = await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"FilterPolicy": json.dumps({"store": ["example_corp"]})},
    )
    sub_arn = sub["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")  # an sqs subscription is confirmed at once
    for store in ("example_corp", "other_corp"):
        await sns.root.call(
            "sns",
            "Publish",
            TopicArn=arn,
            Message=f"for {store}",
            Subject="Order",
            MessageAttributes={"store": {"DataType": "String", "StringValue": store}},
        )
    bodies = await sns.received(queue)
    assert len(bodies) == 1
    envelope = json.loads(bodies[0])
    assert envelope["Type"] == "Notification" and envelope["Message"] == "for example_corp"
    assert envelope["Subject"] == "Order" and envelope["TopicArn"] == arn
    assert envelope["MessageAttributes"]["store"] == {"Type": "String", "Value": "example_corp"}
    key_id = urlsplit(envelope["SigningCertURL"]).path.split("-", 1)[1][:-4]
    certificate = await sns.keys.certificate(key_id)
    assert certificate is not None and verify(envelope, certificate)
    assert sub_arn in envelope["UnsubscribeURL"].replace("%3A", ":")
    # Raw delivery: the message itself.
    await sns.root.call(
        "sns",
        "SetSubscriptionAttributes",
        SubscriptionArn=sub_arn,
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )
    attributes = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=sub_arn))[
        "Attributes"
    ]
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["PendingConfirmation"] == "false"
    await sns.root.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[
            {
                "Id": "a",
                "Message": "raw one",
                "MessageAttributes": {
                    "store": {"DataType": "String", "StringValue": "example_corp"}
                },
            },
            {"Id": "b", "Message": "filtered out"},
        ],
    )
    assert await sns.received(queue) == ["raw one"]
    # Raw delivery passes the message attributes on as SQS's, as SNS does.
    await sns.root.call(
        "sns",
        "Publish",
        TopicArn=arn,
        Message="with attributes",
        MessageAttributes={
            "store": {"DataType": "String", "StringValue": "example_corp"},
            "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
        },
    )
    await sns.deliverer.deliver_once()
    (got,) = await sns.queues.receive(queue, max_messages=10, visibility=30, wait=0)
    assert got.payload.body == "with attributes"
    shown = {n: (a.data_type, a.string_value) for n, a in got.payload.attributes.items()}
    assert shown == {"store": ("String", "example_corp"), "tags": ("String", '["a", "b"]')}
    await sns.root.call("sns", "Unsubscribe", SubscriptionArn=sub_arn)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="after")
    assert await sns.received(queue) == []


async def test_message_structure_json_and_body_scope(sns: Sns) -> None:
    arn = await topic(sns.root, "structured")
    queue = await sns.queue(sns.world.tenant_id, "structured-q")
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={
            "RawMessageDelivery": "true",
            "FilterPolicyScope": "MessageBody",
            "FilterPolicy": json.dumps({"kind": [{"prefix": "big"}]}),
        },
    )
    await sns.root.call(
        "sns",
        "Publish",
        TopicArn=arn,
        MessageStructure="json",
        Message=json.dumps({"default": "{}", "sqs": json.dumps({"kind": "bigger"})}),
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message=json.dumps({"kind": "small"}))
    assert await sns.received(queue) == [json.dumps({"kind": "bigger"})]
    await refused(
        sns.root,
        "Publish",
        "InvalidParameter",
        TopicArn=arn,
        MessageStructure="json",
        Message='{"sqs": "no default"}',
    )


async def test_an_http_subscription_waits_for_its_confirmation(sns: Sns) -> None:
    arn = await topic(sns.root, "hooks")
    answer = await sns.root.call(
        "sns", "Subscribe", TopicArn=arn, Protocol="https", Endpoint="https://hooks.example/sns"
    )
    assert answer["SubscriptionArn"] == "pending confirmation"
    claimed = await sns.events.claim(datetime.now(UTC), lease=timedelta(seconds=60), limit=10)
    assert len(claimed) == 1
    wrapped = json.loads(claimed[0].message)
    assert wrapped["headers"]["x-amz-sns-message-type"] == "SubscriptionConfirmation"
    envelope = json.loads(wrapped["body"])
    certificate = await sns.keys.certificate((await sns.keys.key()).key_id)
    assert certificate is not None and verify(envelope, certificate)
    # Published before confirmation: nothing is queued for it.
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="early")
    assert await sns.events.waiting(sns.world.tenant_id) == 1
    # A wrong token is refused; the SubscribeURL's own, unsigned, confirms.
    status, body = await unsigned(sns, Action="ConfirmSubscription", TopicArn=arn, Token="nope")
    assert status == 400 and b"InvalidParameter" in body
    query = parse_qs(urlsplit(envelope["SubscribeURL"]).query)
    status, body = await unsigned(
        sns, Action="ConfirmSubscription", TopicArn=arn, Token=query["Token"][0]
    )
    assert status == 200, body
    listed = (await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn))["Subscriptions"]
    assert listed[0]["SubscriptionArn"].startswith(arn + ":")
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="now")
    assert await sns.events.waiting(sns.world.tenant_id) == 2
    # The UnsubscribeURL's call, unsigned: the subscription ARN is the credential.
    status, body = await unsigned(
        sns, Action="Unsubscribe", SubscriptionArn=listed[0]["SubscriptionArn"]
    )
    assert status == 200, body
    assert (await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn))[
        "Subscriptions"
    ] == []
    status, body = await unsigned(sns, Action="ListSubscriptions")
    assert status == 403 and b"MissingAuthenticationToken" in body
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=100)]
    confirmed = [e for e in events if e.action == "sns:ConfirmSubscription"]
    assert [e.outcome.value for e in confirmed] == ["failure", "success"]
    assert confirmed[1].resource == listed[0]["SubscriptionArn"]
    assert confirmed[1].tenant_id == sns.world.tenant_id
    assert all(query["Token"][0] not in json.dumps(e.details) for e in events)


async def test_signed_confirmations_and_unsubscriptions_are_in_the_callers_trail(
    sns: Sns,
) -> None:
    arn = await topic(sns.root, "signed-hooks")
    await sns.root.call(
        "sns", "Subscribe", TopicArn=arn, Protocol="https", Endpoint="https://hooks.example/s"
    )
    claimed = await sns.events.claim(datetime.now(UTC), lease=timedelta(seconds=60), limit=10)
    token = json.loads(json.loads(claimed[0].message)["body"])["Token"]
    confirmed = await sns.root.call("sns", "ConfirmSubscription", TopicArn=arn, Token=token)
    subscription = confirmed["SubscriptionArn"]
    await sns.root.call("sns", "Unsubscribe", SubscriptionArn=subscription)
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=100)]
    signed = [
        e
        for e in events
        if e.action in ("sns:ConfirmSubscription", "sns:Unsubscribe")
        and e.outcome.value == "success"
    ]
    assert [e.action for e in signed] == ["sns:ConfirmSubscription", "sns:Unsubscribe"]
    for event in signed:
        assert event.tenant_id == sns.world.tenant_id
        assert event.resource == subscription
        assert event.principal is not None and event.principal.endswith(":root")
    assert all(token not in json.dumps(e.details) for e in events)


async def test_a_topics_events_fan_out_to_its_subscriptions(sns: Sns) -> None:
    arn = await topic(sns.root, "s3-events")
    queue = await sns.queue(sns.world.tenant_id, "s3-q")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    event = json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})
    assert await sns.topics.publish(sns.world.tenant_id, arn, event)  # as S3's or ASG's
    bodies = await sns.received(queue)
    envelope = json.loads(bodies[0])
    assert envelope["Message"] == event and envelope["Subject"] == "Amazon S3 Notification"


async def test_listings_page_with_next_token(sns: Sns) -> None:
    arn = await topic(sns.root, "many")
    for n in range(101):
        await sns.pubsub.subscribe(
            sns.world.tenant_id, arn, "https", f"https://hooks.example/{n}", {}
        )
    first = await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn)
    assert len(first["Subscriptions"]) == 100 and first["NextToken"]
    rest = await sns.root.call(
        "sns", "ListSubscriptionsByTopic", TopicArn=arn, NextToken=first["NextToken"]
    )
    assert len(rest["Subscriptions"]) == 1 and "NextToken" not in rest
    mine = await sns.root.call("sns", "ListSubscriptions")
    assert len(mine["Subscriptions"]) == 100
    # DeleteTopic deletes its subscriptions, as on SNS; so does closing the tenant.
    await sns.root.call("sns", "DeleteTopic", TopicArn=arn)
    assert (await sns.root.call("sns", "ListSubscriptions"))["Subscriptions"] == []
    other = await topic(sns.root, "closing")
    await sns.pubsub.subscribe(sns.world.tenant_id, other, "https", "https://h.example/", {})
    assert await sns.topics.forget_tenant(sns.world.tenant_id) == 1
    assert (await sns.root.call("sns", "ListSubscriptions"))["Subscriptions"] == []


@pytest.mark.parametrize(
    ("protocol", "endpoint", "attributes", "code"),
    [
        ("email", "a@example.com", {}, "InvalidParameter"),
        ("https", "http://hooks.example/", {}, "InvalidParameter"),
        ("https", "https://u:p@hooks.example/", {}, "InvalidParameter"),
        ("sqs", "not-an-arn", {}, "InvalidParameter"),
        # Another account's queue is subscribed pending its confirmation (decision 0168);
        # one of another region is not.
        ("sqs", "arn:aws:sqs:elsewhere-1:123456789012:q", {}, "AuthorizationError"),
        ("https", "https://h.example/", {"FilterPolicy": "{bad"}, "InvalidParameter"),
        ("https", "https://h.example/", {"RedrivePolicy": "{}"}, "InvalidParameter"),
        ("https", "https://h.example/", {"Colour": "blue"}, "InvalidParameter"),
    ],
)
async def test_subscriptions_that_cannot_be_taken(
    sns: Sns, protocol: str, endpoint: str, attributes: dict[str, str], code: str
) -> None:
    arn = await topic(sns.root, "refusing")
    await refused(
        sns.root,
        "Subscribe",
        code,
        TopicArn=arn,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
    )


async def test_publish_refusals(sns: Sns) -> None:
    arn = await topic(sns.root, "limits")
    await refused(sns.root, "Publish", "InvalidParameter", TopicArn=arn, Message="x" * 5000)
    await refused(
        sns.root,
        "Publish",
        "InvalidParameter",
        TopicArn=arn,
        Message="m",
        MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}},
    )
    await refused(sns.root, "Publish", "NotFound", TopicArn=arn + "-gone", Message="m")
    error = await refused(
        sns.root,
        "PublishBatch",
        "TooManyEntriesInBatchRequest",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": str(n), "Message": "m"} for n in range(11)],
    )
    assert error.status == 400


async def test_another_tenant_never_reaches_a_subscription(sns: Sns) -> None:
    arn = await topic(sns.root, "private")
    queue = await sns.queue(sns.world.tenant_id, "private-q")
    sub_arn = (
        await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    )["SubscriptionArn"]
    intruder_id, keys = await sns.world.new_tenant("intruder")
    intruder = sns.world.client(keys)
    await refused(intruder, "GetSubscriptionAttributes", "NotFound", SubscriptionArn=sub_arn)
    await refused(
        intruder,
        "SetSubscriptionAttributes",
        "NotFound",
        SubscriptionArn=sub_arn,
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )
    await refused(intruder, "Unsubscribe", "NotFound", SubscriptionArn=sub_arn)
    await refused(intruder, "Publish", "NotFound", TopicArn=arn, Message="spoof")
    await refused(
        intruder,
        "Subscribe",
        "NotFound",
        TopicArn=arn,
        Protocol="https",
        Endpoint="https://evil.example/",
    )
    await refused(intruder, "ListSubscriptionsByTopic", "NotFound", TopicArn=arn)
    assert (await intruder.call("sns", "ListSubscriptions"))["Subscriptions"] == []
    await refused(
        intruder,
        "PublishBatch",
        "NotFound",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "spoof"}],
    )
    await refused(intruder, "ConfirmSubscription", "InvalidParameter", TopicArn=arn, Token="x")
    tried = {
        "GetSubscriptionAttributes",
        "SetSubscriptionAttributes",
        "Unsubscribe",
        "Publish",
        "Subscribe",
        "ListSubscriptionsByTopic",
        "ListSubscriptions",
        "PublishBatch",
        "ConfirmSubscription",
    }
    assert tried == set(SUBSCRIPTION_ACTIONS)  # a new action comes with its isolation case
    # Its own topic cannot feed the victim's queue either: the subscription waits for a
    # confirmation the queue never receives, its policy not letting SNS send from that
    # topic (decision 0168).
    own = await topic(intruder, "mine")
    pending = await intruder.call(
        "sns", "Subscribe", TopicArn=own, Protocol="sqs", Endpoint=queue.arn
    )
    assert pending["SubscriptionArn"] == "pending confirmation"
    await intruder.call("sns", "Publish", TopicArn=own, Message="spam")
    assert await sns.received(queue) == []
    assert intruder_id != sns.world.tenant_id
    assert (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=sub_arn))[
        "Attributes"
    ]["Endpoint"] == queue.arn


async def test_users_need_sns_actions_and_changes_are_audited(sns: Sns) -> None:
    arn = await topic(sns.root, "guarded")
    await sns.root.call("iam", "CreateUser", UserName="bare")
    key = (await sns.root.call("iam", "CreateAccessKey", UserName="bare"))["AccessKey"]
    bare = sns.world.client(Credentials(key["AccessKeyId"], key["SecretAccessKey"]))
    await refused(bare, "Publish", "AccessDenied", TopicArn=arn, Message="m")
    await refused(
        bare,
        "PublishBatch",
        "AccessDenied",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}],
    )
    await refused(
        bare,
        "Subscribe",
        "AccessDenied",
        TopicArn=arn,
        Protocol="https",
        Endpoint="https://h.example/",
    )
    await refused(bare, "ListSubscriptions", "AccessDenied")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sns:Publish", "Resource": arn}],
    }
    await sns.root.call(
        "iam", "PutUserPolicy", UserName="bare", PolicyName="p", PolicyDocument=json.dumps(policy)
    )
    await bare.call("sns", "Publish", TopicArn=arn, Message="m")
    await bare.call(
        "sns",
        "PublishBatch",
        TopicArn=arn,
        PublishBatchRequestEntries=[{"Id": "a", "Message": "m"}],
    )
    await sns.world.audit.flush()
    events = [e for _, e in await sns.world.audit_store.list_events(None, after_id=0, limit=100)]
    published = [(e.action, e.resource) for e in events if e.action.startswith("sns:Publish")]
    assert ("sns:Publish", arn) in published and ("sns:PublishBatch", arn) in published


async def test_a_message_given_up_goes_to_the_dead_letter_queue(sns: Sns) -> None:
    arn = await topic(sns.root, "redriven")
    dlq = await sns.queue(sns.world.tenant_id, "dead-letters")
    redrive = json.dumps({"deadLetterTargetArn": dlq.arn})
    # The loopback is no allowed address here: every push is refused by the guard.
    await sns.root.call(
        "sns",
        "Subscribe",
        TopicArn=arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:9/",
        Attributes={"RedrivePolicy": redrive},
    )
    claimed = await sns.events.claim(datetime.now(UTC), lease=timedelta(seconds=60), limit=10)
    token = json.loads(json.loads(claimed[0].message)["body"])["Token"]
    await sns.pubsub.confirm(arn, token)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="undeliverable")
    bodies = await sns.received(dlq)
    assert [json.loads(b)["Message"] for b in bodies] == ["undeliverable"]
    assert await sns.events.waiting(sns.world.tenant_id) == 1  # the leased confirmation
    other_id, _ = await sns.world.new_tenant("elsewhere")
    foreign = json.dumps({"deadLetterTargetArn": f"arn:aws:sqs:{REGION}:{other_id}:q"})
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="http",
        Endpoint="http://127.0.0.1:10/",
        Attributes={"RedrivePolicy": foreign},
    )
