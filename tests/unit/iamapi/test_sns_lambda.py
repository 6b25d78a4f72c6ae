"""SNS ``lambda`` subscriptions (decision 0293) in process: botocore's SNS model over the real
services and delivery worker, invoking decision 0286's Lambda (its own world: functions made
and permitted through botocore's ``lambda`` model, run by the real ``bwrap`` sandbox) through
``function_invocations.NotifiedFunctions``. Subscribe's rules (confirmed at once, no raw
delivery); each publish the function's event as AWS's (``Records[0].EventSource``
``aws:sns``, ``Sns`` with AWS's Lambda spellings); filter policies applied; a function whose
policy does not let the topic in given up at once into the dead-letter queue."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from andromede.function_invocations import NotifiedFunctions
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.notifications.functions import sns_event
from andromede.wiring.functions import service_audit
from support.lambdaapp import World as LambdaWorld
from support.lambdaapp import handler_zip, lambda_world
from support.queryapp import REGION
from support.snsworld import Sns, refused, sns_world, topic

PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bubblewrap")


@dataclass
class World:
    sns: Sns
    functions: LambdaWorld

    def function_arn(self, name: str = "f") -> str:
        return f"arn:aws:lambda:{REGION}:{self.functions.tenant_id}:function:{name}"

    async def function(self, name: str = "f", topic_arn: str | None = None) -> str:
        """A function printing its events; SNS let in for ``topic_arn`` when given."""
        await self.functions.function(name, Code={"ZipFile": handler_zip(PRINT_EVENT)})
        if topic_arn is not None:
            await self.functions.client(
                "AddPermission",
                FunctionName=name,
                StatementId="sns",
                Action="lambda:InvokeFunction",
                Principal="sns.amazonaws.com",
                SourceArn=topic_arn,
            )
        return self.function_arn(name)

    async def subscribe(self, topic_arn: str, endpoint: str, **attributes: str) -> str:
        answer = await self.sns.root.call(
            "sns",
            "Subscribe",
            TopicArn=topic_arn,
            Protocol="lambda",
            Endpoint=endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )
        return str(answer["SubscriptionArn"])

    async def events_run(self, name: str = "f") -> list[Any]:
        """Deliver, run the queued invocations; what the function printed of its events."""
        await self.sns.deliverer.deliver_once()
        await self.sns.deliverer.deliver_once()
        while await self.functions.worker.pass_once():
            pass
        return [
            json.loads(m.split("EVENT ", 1)[1])
            for _, g, _, m in self.functions.logs.written
            if g == f"/aws/lambda/{name}" and "EVENT " in m
        ]


def notified(functions: LambdaWorld) -> NotifiedFunctions:
    assert functions.invoker is not None
    invocations = ServiceInvocations(
        functions.functions, functions.invoker, service_may, service_audit(functions.audit)
    )
    return NotifiedFunctions(lambda: invocations)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with sns_world(tmp_path / "sns") as sns:
        async for functions in lambda_world(tmp_path / "lambda"):
            sns.deliverer.functions = notified(functions)
            yield World(sns, functions)


async def test_subscribe_takes_a_function_confirmed_at_once(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "orders")
    subscription = await world.subscribe(arn, world.function_arn() + ":live")
    shown = (await sns.root.call("sns", "GetSubscriptionAttributes", SubscriptionArn=subscription))[
        "Attributes"
    ]
    assert shown["Protocol"] == "lambda" and shown["Endpoint"] == world.function_arn() + ":live"
    assert shown["PendingConfirmation"] == "false"
    listed = await sns.root.call("sns", "ListSubscriptionsByTopic", TopicArn=arn)
    assert [s["Protocol"] for s in listed["Subscriptions"]] == ["lambda"]
    await refused(sns.root, "Subscribe", "InvalidParameter", TopicArn=arn, Protocol="lambda",
        Endpoint=f"arn:aws:sqs:{REGION}:123456789012:q")  # fmt: skip
    await refused(sns.root, "Subscribe", "InvalidParameter", TopicArn=arn, Protocol="lambda",
        Endpoint=world.function_arn(), Attributes={"RawMessageDelivery": "true"})  # fmt: skip


def test_the_event_is_snss_lambda_event() -> None:
    body = json.dumps(
        {
            "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:r:1:t",
            "Message": "hello", "Timestamp": "2026-12-06T21:00:00.000Z",
            "SignatureVersion": "1", "Signature": "c2ln", "SigningCertURL": "https://c/cert.pem",
            "UnsubscribeURL": "https://c/?Action=Unsubscribe",
        }
    )  # fmt: skip
    (record,) = json.loads(sns_event(body, "arn:aws:sns:r:1:t:sub"))["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == "arn:aws:sns:r:1:t:sub"
    assert record["Sns"] == {
        "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:r:1:t",
        "Subject": None, "Message": "hello", "Timestamp": "2026-12-06T21:00:00.000Z",
        "SignatureVersion": "1", "Signature": "c2ln", "SigningCertUrl": "https://c/cert.pem",
        "UnsubscribeUrl": "https://c/?Action=Unsubscribe", "MessageAttributes": {},
    }  # fmt: skip


@needs_bwrap
async def test_each_publish_invokes_the_function_filtered(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "orders")
    subscription = await world.subscribe(
        arn, await world.function(topic_arn=arn), FilterPolicy=json.dumps({"store": ["lyon"]})
    )
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="order 42", Subject="new",
        MessageAttributes={"store": {"DataType": "String", "StringValue": "lyon"}})  # fmt: skip
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="filtered out",
        MessageAttributes={"store": {"DataType": "String", "StringValue": "nantes"}})  # fmt: skip
    (event,) = await world.events_run()
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns" and record["EventSubscriptionArn"] == subscription
    notified = record["Sns"]
    assert (notified["Type"], notified["TopicArn"]) == ("Notification", arn)
    assert (notified["Message"], notified["Subject"]) == ("order 42", "new")
    assert notified["MessageAttributes"] == {"store": {"Type": "String", "Value": "lyon"}}
    assert notified["SignatureVersion"] in ("1", "2") and notified["Signature"]
    assert notified["SigningCertUrl"].startswith("https://sns.test:9000/")
    assert "Action=Unsubscribe" in notified["UnsubscribeUrl"]
    assert notified["MessageId"] and notified["Timestamp"].endswith("Z")


async def test_a_function_not_permitting_the_topic_is_dead_lettered(world: World) -> None:
    sns = world.sns
    arn = await topic(sns.root, "orders")
    other = await topic(sns.root, "other")
    dlq = await sns.queue(sns.world.tenant_id, "dead-letters")
    await world.subscribe(arn, await world.function(topic_arn=other),
        RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn}))  # fmt: skip
    await sns.root.call("sns", "Publish", TopicArn=arn, Message="kept aside")
    assert await world.events_run() == []
    assert not world.functions.queue._items
    got = await sns.queues.receive(dlq, max_messages=10, visibility=30, wait=0)
    assert [json.loads(m.payload.body)["Message"] for m in got] == ["kept aside"]
