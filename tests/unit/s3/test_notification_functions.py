"""S3 event notifications to Lambda functions (decision 0293) in process: the S3 app's
Put/GetBucketNotificationConfiguration with ``CloudFunctionConfiguration`` (boto3's
``LambdaFunctionConfigurations``) validated as S3 validates it — the function there and its
policy letting ``s3.amazonaws.com`` in for the bucket — over decision 0286's Lambda (its own
world: functions made and permitted through botocore's ``lambda`` model), and the bucket's
events delivered by the real notification worker as S3's event JSON, the function run by the
real ``bwrap`` sandbox."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import parsers, serialize

from andromede.function_invocations import NotifiedFunctions
from andromede.functions.service_invoke import ServiceInvocations
from andromede.iam.policy.service_grants import service_may
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.memory import MemoryEventQueue
from andromede.wiring.functions import service_audit
from support.lambdaapp import REGION, handler_zip, lambda_world
from support.lambdaapp import World as LambdaWorld
from support.s3app import Client, in_process_client

B = "/watched"
MODEL = botocore.session.get_session().get_service_model("s3")
PRINT_EVENT = "import json\ndef handler(event, context):\n    print('EVENT', json.dumps(event))\n"


def md5_header(body: bytes) -> dict[str, str]:
    digest = hashlib.md5(body, usedforsecurity=False).digest()
    return {"Content-MD5": base64.b64encode(digest).decode()}


def configuration(*rules: str) -> bytes:
    return (
        "<NotificationConfiguration>" + "".join(rules) + "</NotificationConfiguration>"
    ).encode()


@dataclass
class World:
    s3: Client
    functions: LambdaWorld

    def function_arn(self, name: str = "f") -> str:
        return f"arn:aws:lambda:{REGION}:{self.functions.tenant_id}:function:{name}"

    async def function(self, name: str = "f", bucket: str | None = "watched") -> str:
        await self.functions.function(name, Code={"ZipFile": handler_zip(PRINT_EVENT)})
        if bucket is not None:
            await self.functions.client(
                "AddPermission",
                FunctionName=name,
                StatementId="s3",
                Action="lambda:InvokeFunction",
                Principal="s3.amazonaws.com",
                SourceArn=f"arn:aws:s3:::{bucket}",
                SourceAccount=self.s3.tenant_id,
            )
        return self.function_arn(name)

    async def put(self, body: bytes) -> Any:
        return await self.s3.request("PUT", f"{B}?notification", body, md5_header(body))


def function_rule(arn: str, *events: str, suffix: str | None = None) -> str:
    parts = [f"<Id>fn</Id><CloudFunction>{arn}</CloudFunction>"]
    parts += [f"<Event>{e}</Event>" for e in events]
    if suffix is not None:
        parts.append(
            "<Filter><S3Key><FilterRule><Name>suffix</Name>"
            f"<Value>{suffix}</Value></FilterRule></S3Key></Filter>"
        )
    return "<CloudFunctionConfiguration>" + "".join(parts) + "</CloudFunctionConfiguration>"


def notified(functions: LambdaWorld) -> NotifiedFunctions:
    assert functions.invoker is not None
    invocations = ServiceInvocations(
        functions.functions, functions.invoker, service_may, service_audit(functions.audit)
    )
    return NotifiedFunctions(lambda: invocations)


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async for functions in lambda_world(tmp_path / "lambda"):
        async with in_process_client(tmp_path / "s3", functions=notified(functions)) as s3:
            assert (await s3.request("PUT", B)).status == 200
            yield World(s3, functions)


async def test_a_function_is_validated_as_s3_validates_it(world: World) -> None:
    missing = await world.put(
        configuration(function_rule(world.function_arn("gone"), "s3:ObjectCreated:*"))
    )
    assert missing.status == 400 and missing.error_code() == "InvalidArgument"
    assert b"Unable to validate the following destination configurations" in missing.body
    unpermitted = await world.function("closed", bucket=None)
    refused = await world.put(configuration(function_rule(unpermitted, "s3:ObjectCreated:*")))
    assert refused.error_code() == "InvalidArgument"
    assert b"Not authorized to invoke function" in refused.body
    other_bucket = await world.function("elsewhere", bucket="another")
    refused = await world.put(configuration(function_rule(other_bucket, "s3:ObjectCreated:*")))
    assert refused.error_code() == "InvalidArgument"
    shown = await world.s3.request("GET", f"{B}?notification")
    assert b"CloudFunctionConfiguration" not in shown.body  # nothing kept
    # A topic's element naming a function names no topic.
    wrong = f"<TopicConfiguration><Topic>{unpermitted}</Topic><Event>s3:ObjectCreated:*</Event>"
    assert (await world.put(configuration(wrong + "</TopicConfiguration>"))).status == 400


async def test_a_permitted_function_is_kept_and_shown(world: World) -> None:
    arn = await world.function()
    body = configuration(function_rule(arn, "s3:ObjectCreated:Put", suffix=".jpg"))
    assert (await world.put(body)).status == 200
    text = (await world.s3.request("GET", f"{B}?notification")).body.decode()
    for expected in (
        "<CloudFunctionConfiguration>",
        "<Id>fn</Id>",
        f"<CloudFunction>{arn}</CloudFunction>",
        "<Event>s3:ObjectCreated:Put</Event>",
        "<Name>Suffix</Name><Value>.jpg</Value>",
    ):
        assert expected in text, text
    assert world.s3.event_queue is not None
    assert not [e for e in world.s3.event_queue._entries.values() if "lambda" in e.event.topic_arn]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="no bubblewrap")
async def test_the_buckets_events_reach_the_function(world: World) -> None:
    arn = await world.function()
    body = configuration(function_rule(arn, "s3:ObjectCreated:*", suffix=".jpg"))
    assert (await world.put(body)).status == 200
    assert (await world.s3.request("PUT", f"{B}/cat.jpg", b"meow")).status == 200
    assert (await world.s3.request("PUT", f"{B}/notes.txt", b"skip")).status == 200
    assert world.s3.store is not None and world.s3.topics is not None
    deliverer = Deliverer(
        MemoryEventQueue(world.s3.store.notification_outbox), world.s3.topics, DeliveryPolicy()
    )
    deliverer.functions = notified(world.functions)
    await deliverer.deliver_once()
    while await world.functions.worker.pass_once():
        pass
    printed = [
        json.loads(m.split("EVENT ", 1)[1])
        for _, g, _, m in world.functions.logs.written
        if g == "/aws/lambda/f" and "EVENT " in m
    ]
    ((record,),) = [event["Records"] for event in printed]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "fn"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::watched"
    assert record["s3"]["object"]["key"] == "cat.jpg" and record["s3"]["object"]["size"] == 4


async def test_boto3s_lambda_function_configurations_round_trip(world: World) -> None:
    """The XML botocore's own model writes for ``LambdaFunctionConfigurations``, and the
    answer its parser reads back."""
    arn = await world.function()
    wanted = {
        "Id": "thumbs",
        "LambdaFunctionArn": arn,
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
        "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "images/"}]}},
    }
    operation = MODEL.operation_model("PutBucketNotificationConfiguration")
    request = serialize.create_serializer("rest-xml").serialize_to_request(
        {
            "Bucket": "watched",
            "NotificationConfiguration": {"LambdaFunctionConfigurations": [wanted]},
        },
        operation,
    )
    body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
    assert (await world.put(body)).status == 200
    reply = await world.s3.request("GET", f"{B}?notification")
    shown = parsers.create_parser("rest-xml").parse(
        {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
        MODEL.operation_model("GetBucketNotificationConfiguration").output_shape,
    )
    assert shown["LambdaFunctionConfigurations"] == [wanted]
    assert "TopicConfigurations" not in shown and "QueueConfigurations" not in shown
