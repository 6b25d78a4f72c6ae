"""SNS ``firehose`` subscriptions (decision 0226) in process: botocore's SNS model over the real
services and delivery worker, the real role machinery (``andromede.sns_firehose``) over a
recording stand-in of the Firehose service's ``get``/``put_records``. Subscribe's rules and
refusals; a notification put, as the role, as one newline-terminated record (its JSON envelope,
or the message alone when raw); a role that may not put is retried then given up into the
dead-letter queue; the deliveries metered and their status logged as Firehose's."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest

from andromede.billing.model import FIXED_METERS, parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.firehose.errors import StreamNotFound
from andromede.firehose.model import PutResult
from andromede.firehose.service import FirehoseService
from andromede.notifications.delivery_status import DeliveryOutcome
from andromede.notifications.pubsub import Delivery
from andromede.settings import Settings
from andromede.sns_firehose import RoleDeliveryStreams
from andromede.wiring.pubsub import sns_firehose
from support.queryapp import REGION
from support.snsworld import Sns, refused, sns_world, topic

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
OTHER_TRUST = TRUST.replace("sns.amazonaws.com", "firehose.amazonaws.com")


def put_policy(resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "firehose:PutRecord",
                        "firehose:PutRecordBatch",
                        "firehose:DescribeDeliveryStream",
                    ],
                    "Resource": resource,
                }
            ],
        }
    )


class Streams:
    """The Firehose service as SNS sees it: its streams, the records put, a full buffer."""

    def __init__(self) -> None:
        self.names = {"archive"}
        self.records: list[tuple[str, str, bytes]] = []
        self.slow_down = False

    async def get(self, tenant_id: str, name: str) -> object:
        if name not in self.names:
            raise StreamNotFound(f"Firehose {name} under account {tenant_id} not found.")
        return object()

    async def put_records(
        self, tenant_id: str, stream_arn: str, records: Sequence[bytes], *, from_logs: bool = False
    ) -> list[PutResult]:
        if self.slow_down:
            return [PutResult(None, "ServiceUnavailableException", "Slow down.") for _ in records]
        self.records += [(tenant_id, stream_arn, r) for r in records]
        return [PutResult(f"id-{len(self.records)}") for _ in records]


class World:
    def __init__(self, sns: Sns, streams: Streams, billing: BillingService) -> None:
        self.sns = sns
        self.streams = streams
        self.billing = billing
        self.tenant = sns.world.tenant_id
        self.stream_arn = f"arn:aws:firehose:{REGION}:{self.tenant}:deliverystream/archive"
        self.role_arn = f"arn:aws:iam::{self.tenant}:role/sns-to-firehose"

    async def role(
        self, name: str = "sns-to-firehose", *, trust: str = TRUST, allow: bool = True
    ) -> str:
        made = await self.sns.root.call(
            "iam", "CreateRole", RoleName=name, AssumeRolePolicyDocument=trust
        )
        if allow:
            await self.sns.root.call(
                "iam",
                "PutRolePolicy",
                RoleName=name,
                PolicyName="put",
                PolicyDocument=put_policy(self.stream_arn),
            )
        return str(made["Role"]["Arn"])

    async def subscribe(self, topic_arn: str, role: str, **attributes: str) -> str:
        answer = await self.sns.root.call(
            "sns",
            "Subscribe",
            TopicArn=topic_arn,
            Protocol="firehose",
            Endpoint=self.stream_arn,
            Attributes={"SubscriptionRoleArn": role, **attributes},
            ReturnSubscriptionArn=True,
        )
        return str(answer["SubscriptionArn"])

    async def deliver(self) -> None:
        await self.sns.deliverer.deliver_once()
        await self.sns.deliverer.deliver_once()

    async def usage(self) -> dict[str, int]:
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(self.tenant, month)
        return {line.meter: line.quantity for line in report.lines}


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    async with sns_world(tmp_path, billing=billing) as sns:
        streams = Streams()
        adapter = RoleDeliveryStreams(sns.world.identity, cast(FirehoseService, streams), REGION)
        sns.pubsub.streams = sns.deliverer.streams = sns.pubsub.guard.streams = adapter
        yield World(sns, streams, billing)


async def test_a_notification_lands_in_the_stream_as_the_role(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "orders")
    role = await world.role()
    subscription = await world.subscribe(arn, role)
    shown = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=subscription))[
        "Attributes"
    ]
    assert shown["Protocol"] == "firehose"
    assert shown["Endpoint"] == world.stream_arn
    assert shown["SubscriptionRoleArn"] == role
    assert shown["PendingConfirmation"] == "false"  # confirmed at once
    await sns.root.call(
        "sns",
        "Publish",
        TopicArn=arn,
        Message="order 42",
        Subject="new",
        MessageAttributes={"store": {"DataType": "String", "StringValue": "lyon"}},
    )
    await world.deliver()
    ((tenant, stream, data),) = world.streams.records
    assert (tenant, stream) == (world.tenant, world.stream_arn)
    assert data.endswith(b"\n") and data.count(b"\n") == 1  # one a line, as AWS's records
    envelope = json.loads(data)
    assert envelope["Type"] == "Notification"
    assert envelope["Message"] == "order 42" and envelope["Subject"] == "new"
    assert envelope["TopicArn"] == arn
    assert envelope["MessageAttributes"]["store"] == {"Type": "String", "Value": "lyon"}
    await sns.root.call(
        "sns",
        "SetSubscriptionAttributes",
        SubscriptionArn=subscription,
        AttributeName="RawMessageDelivery",
        AttributeValue="true",
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="raw body")
    await world.deliver()
    assert world.streams.records[-1][2] == b"raw body\n"
    assert (await world.usage())["sns.deliveries.firehose"] == 2
    assert "sns.deliveries.firehose" in {meter.name for meter in FIXED_METERS}


@pytest.mark.parametrize(
    ("endpoint", "attributes", "reason"),
    [
        ("{stream}", {}, "SubscriptionRoleArn"),  # the role is required
        ("{stream}", {"SubscriptionRoleArn": "not-a-role"}, "SubscriptionRoleArn"),
        ("arn:aws:firehose:{region}:{tenant}:stream/archive", {"SubscriptionRoleArn": "{role}"},
         "Endpoint"),
        ("arn:aws:firehose:elsewhere-1:{tenant}:deliverystream/archive",
         {"SubscriptionRoleArn": "{role}"}, "Endpoint"),
        ("arn:aws:firehose:{region}:123456789012:deliverystream/archive",
         {"SubscriptionRoleArn": "{role}"}, "Endpoint"),
        ("arn:aws:firehose:{region}:{tenant}:deliverystream/missing",
         {"SubscriptionRoleArn": "{role}"}, "not found"),
        ("{stream}", {"SubscriptionRoleArn": "{role}", "DeliveryPolicy": "{{}}"},
         "DeliveryPolicy"),
    ],
)  # fmt: skip
async def test_subscriptions_sns_refuses(
    world: World, endpoint: str, attributes: dict[str, str], reason: str
) -> None:
    arn = await topic(world.sns.root, "refusing")
    role = await world.role()
    fill = {"stream": world.stream_arn, "region": REGION, "tenant": world.tenant, "role": role}
    error = await refused(
        world.sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="firehose",
        Endpoint=endpoint.format(**fill),
        Attributes={k: v.format(**fill) for k, v in attributes.items()},
    )
    assert reason in error.message
    assert world.streams.records == []


async def test_the_role_must_trust_sns_and_only_firehose_takes_one(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "roles")
    untrusting = await world.role("firehose-only", trust=OTHER_TRUST)
    error = await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="firehose",
        Endpoint=world.stream_arn,
        Attributes={"SubscriptionRoleArn": untrusting},
    )
    assert "sns.amazonaws.com" in error.message
    queue = await sns.queue(world.tenant, "q")
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="sqs",
        Endpoint=queue.arn,
        Attributes={"SubscriptionRoleArn": untrusting},
    )
    subscription = await world.subscribe(arn, await world.role())
    for value in ("", untrusting):  # removed, or a role SNS may not assume
        await refused(
            sns.root,
            "SetSubscriptionAttributes",
            "InvalidParameter",
            SubscriptionArn=subscription,
            AttributeName="SubscriptionRoleArn",
            AttributeValue=value,
        )
    # AWS subscribes delivery streams to standard topics only.
    fifo = (
        await sns.root.call(
            "sns", "CreateTopic", Name="orders.fifo", Attributes={"FifoTopic": "true"}
        )
    )["TopicArn"]
    await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=fifo,
        Protocol="firehose",
        Endpoint=world.stream_arn,
        Attributes={"SubscriptionRoleArn": untrusting},
    )


async def test_a_role_that_may_not_put_is_retried_then_dead_lettered(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "refused")
    dlq = await sns.queue(world.tenant, "dead-letters")
    role = await world.role("no-put", allow=False)
    await world.subscribe(arn, role, RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))
    told: list[DeliveryOutcome] = []

    async def on_status(delivery: Delivery, outcome: DeliveryOutcome) -> None:
        told.append(outcome)

    sns.deliverer.on_status = on_status
    await sns.root.call(
        "sns",
        "SetTopicAttributes",
        TopicArn=arn,
        AttributeName="FirehoseFailureFeedbackRoleArn",
        AttributeValue=f"arn:aws:iam::{world.tenant}:role/feedback",
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="kept aside")
    await world.deliver()
    assert world.streams.records == []
    # Tried again on the platform's schedule until given up: claimed as due each time here.
    for _ in range(12):
        for event in await sns.events.claim(
            datetime.now(UTC) + timedelta(days=1), lease=timedelta(seconds=1), limit=10
        ):
            await sns.events.retry(event, datetime.now(UTC), "again", spent=False)
        await sns.deliverer.deliver_once()
    got = await sns.queues.receive(dlq, max_messages=10, visibility=30, wait=0)
    assert [json.loads(m.payload.body)["Message"] for m in got] == ["kept aside"]
    assert [o.success for o in told] == [False]
    assert "AccessDenied" in told[0].provider_response
    assert "sns.deliveries.firehose" not in await world.usage()


async def test_a_full_stream_is_tried_again(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "busy")
    await world.subscribe(arn, await world.role())
    world.streams.slow_down = True
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="later")
    await world.deliver()
    assert world.streams.records == []
    assert await sns.events.waiting(world.tenant) == 1  # kept for its next attempt
    world.streams.slow_down = False
    for event in await sns.events.claim(
        datetime.now(UTC) + timedelta(days=1), lease=timedelta(seconds=60), limit=10
    ):
        await sns.events.retry(event, datetime.now(UTC), "again", spent=False)
    await sns.deliverer.deliver_once()
    assert [r[2] for r in world.streams.records] != []
    assert json.loads(world.streams.records[0][2])["Message"] == "later"


async def test_without_firehose_wired_sns_refuses_then_the_wiring_serves_it(
    world: World, tmp_path: Path
) -> None:
    sns = world.sns
    sns.pubsub.streams = sns.deliverer.streams = sns.pubsub.guard.streams = None
    arn = await topic(sns.root, "unwired")
    role = await world.role()
    error = await refused(
        sns.root,
        "Subscribe",
        "InvalidParameter",
        TopicArn=arn,
        Protocol="firehose",
        Endpoint=world.stream_arn,
        Attributes={"SubscriptionRoleArn": role},
    )
    assert "not served" in error.message
    settings = Settings(data_dir=tmp_path / "data", region=REGION)
    sns_firehose(sns.pubsub, sns.deliverer, sns.world.identity, settings)(
        cast(FirehoseService, world.streams)
    )
    assert isinstance(sns.pubsub.streams, RoleDeliveryStreams)
    assert sns.deliverer.streams is sns.pubsub.streams is sns.pubsub.guard.streams
    await world.subscribe(arn, role)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="wired")
    await world.deliver()
    assert json.loads(world.streams.records[0][2])["Message"] == "wired"
