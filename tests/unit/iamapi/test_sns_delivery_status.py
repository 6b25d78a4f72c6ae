"""SNS's delivery status logging (decision 0212) in process: botocore's SNS model over the real
services and worker, the real Logs service and the role machinery. The feedback attributes'
rules; a delivery into a queue logged as the topic's role into
``sns/<region>/<account>/<topic>`` in AWS's JSON shape, sampled at the rate; a delivery given
up logged into ``…/Failure``; a role that does not trust ``sns.amazonaws.com`` or may not write
logs nothing, and the deliveries stand."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from andromede.logs.errors import ResourceNotFound
from andromede.logs.service import LogsService
from andromede.notifications.delivery_status import DeliveryStatusLogger
from andromede.role_log_groups import RoleLogGroups
from support.logsapp import logs_world
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
LOGS = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
    }
)


class Draw:
    value = 0.5

    def __call__(self) -> float:
        return self.value


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[Sns, LogsService, Draw]]:
    async with sns_world(tmp_path) as sns:
        for logs in logs_world(tmp_path / "logs"):
            logs.clock.now = time.time() * 1000
            draw = Draw()
            groups = RoleLogGroups(
                sns.world.identity,
                logs.service,
                service="sns.amazonaws.com",
                session_name="sns-delivery-status",
            )
            sns.deliverer.on_status = DeliveryStatusLogger(groups, draw=draw)
            yield sns, logs.service, draw


async def set_attribute(sns: Sns, arn: str, name: str, value: str) -> None:
    await sns.root.call(
        "sns", "SetTopicAttributes", TopicArn=arn, AttributeName=name, AttributeValue=value
    )


async def logged(sns: Sns, logs: LogsService, group: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    try:
        streams, _ = await logs.describe_streams(
            sns.world.tenant_id, group, prefix="", order_by="LogStreamName",
            descending=False, limit=None, token=None,
        )  # fmt: skip
    except ResourceNotFound:
        return []
    for stream in streams:
        events, _, _ = await logs.get_events(
            sns.world.tenant_id, group, stream.name,
            start=None, end=None, start_from_head=True, limit=None, token=None,
        )  # fmt: skip
        found += [json.loads(e.message) for e in events]
    return found


async def test_the_feedback_attributes(world: tuple[Sns, LogsService, Draw]) -> None:
    sns, _, _ = world
    arn = await topic(sns.root, "audited")
    role = f"arn:aws:iam::{sns.world.tenant_id}:role/sns-logs"
    for name, value in (
        ("SQSSuccessFeedbackRoleArn", role),
        ("HTTPFailureFeedbackRoleArn", role),
        ("SQSSuccessFeedbackSampleRate", "35"),
        ("LambdaSuccessFeedbackSampleRate", "0"),
    ):
        await set_attribute(sns, arn, name, value)
    shown = (await sns.root.call("sns", "GetTopicAttributes", TopicArn=arn))["Attributes"]
    assert shown["SQSSuccessFeedbackRoleArn"] == role
    assert shown["SQSSuccessFeedbackSampleRate"] == "35"
    for name, value in (
        ("SQSSuccessFeedbackSampleRate", "101"),
        ("SQSSuccessFeedbackSampleRate", "ten"),
        ("SQSFailureFeedbackRoleArn", "not-a-role"),
        ("LambdaSuccessFeedbackRoleArn", role),
        ("LambdaSuccessFeedbackSampleRate", "50"),
    ):
        await refused(
            sns.root,
            "SetTopicAttributes",
            "InvalidParameter",
            TopicArn=arn,
            AttributeName=name,
            AttributeValue=value,
        )


async def test_deliveries_logged_as_the_role_sampled(
    world: tuple[Sns, LogsService, Draw],
) -> None:
    sns, logs, draw = world
    tenant = sns.world.tenant_id
    arn = await topic(sns.root, "orders")
    queue = await sns.queue(tenant, "orders-q")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    role = f"arn:aws:iam::{tenant}:role/sns-logs"
    await set_attribute(sns, arn, "SQSSuccessFeedbackRoleArn", role)
    await set_attribute(sns, arn, "SQSSuccessFeedbackSampleRate", "100")
    group = f"sns/{REGION}/{tenant}/orders"
    # No such role yet; then one not trusting SNS: nothing logged, the messages delivered.
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="one")
    await sns.world.identity.create_role(tenant, "sns-logs", TRUST.replace("sns.", "ec2."))
    await sns.world.identity.put_role_policy(tenant, "sns-logs", "logs", LOGS)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="two")
    assert len(await sns.received(queue)) == 2
    assert await logged(sns, logs, group) == []
    await sns.world.identity.delete_role_policy(tenant, "sns-logs", "logs")
    await sns.world.identity.delete_role(tenant, "sns-logs")
    await sns.world.identity.create_role(tenant, "sns-logs", TRUST)
    await sns.world.identity.put_role_policy(tenant, "sns-logs", "logs", LOGS)
    published = await sns.root.call("sns", "Publish", TopicArn=arn, Message="three")
    await sns.received(queue)
    (record,) = await logged(sns, logs, group)
    assert record["status"] == "SUCCESS"
    assert record["notification"]["messageId"] == published["MessageId"]
    assert record["notification"]["topicArn"] == arn
    delivery = record["delivery"]
    assert delivery["destination"] == queue.arn
    assert delivery["statusCode"] == 200 and delivery["attempts"] == 1
    assert delivery["dwellTimeMs"] >= 0 and "providerResponse" in delivery
    # Sampled: a rate of 35 logs a draw under 0.35, not one over.
    await set_attribute(sns, arn, "SQSSuccessFeedbackSampleRate", "35")
    draw.value = 0.9
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="not sampled")
    await sns.received(queue)  # drawn at delivery
    draw.value = 0.2
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="sampled")
    await sns.received(queue)
    assert len(await logged(sns, logs, group)) == 2
    assert await logged(sns, logs, group + "/Failure") == []


async def test_a_delivery_given_up_is_logged_as_a_failure(
    world: tuple[Sns, LogsService, Draw],
) -> None:
    sns, logs, _ = world
    tenant = sns.world.tenant_id
    arn = await topic(sns.root, "lost")
    queue = await sns.queue(tenant, "lost-q")
    await sns.root.call("sns", "Subscribe", TopicArn=arn, Protocol="sqs", Endpoint=queue.arn)
    await sns.world.identity.create_role(tenant, "sns-logs", TRUST)
    await sns.world.identity.put_role_policy(tenant, "sns-logs", "logs", LOGS)
    role = f"arn:aws:iam::{tenant}:role/sns-logs"
    await set_attribute(sns, arn, "SQSFailureFeedbackRoleArn", role)
    await sns.queues.delete_queue(queue)
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="nowhere")
    await sns.deliverer.deliver_once()
    (record,) = await logged(sns, logs, f"sns/{REGION}/{tenant}/lost/Failure")
    assert record["status"] == "FAILURE"
    assert record["delivery"]["destination"] == queue.arn
    assert "no such queue" in record["delivery"]["providerResponse"]
    # No success role: the successes of another topic's queue are not logged.
    assert await logged(sns, logs, f"sns/{REGION}/{tenant}/lost") == []
