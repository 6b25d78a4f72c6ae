"""Decision 0300's destinations as the function's execution role, through the real SQS API,
SNS's real API and Lambda's own app in process (SNS and EventBridge also through recording
apps, their calls' shape checked): a record sent to a queue only when the role may
``sqs:SendMessage`` (a refusal logged and audited, never raised), a dead letter with AWS's
message attributes, a function destination invoked as an Event invocation, a topic
published to only when the role may ``sns:Publish``, a bus's event of AWS's detail type;
and the check PutFunctionEventInvokeConfig and ``DeadLetterConfig`` make of the role's
permissions, in AWS's words."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from andromede.function_destinations import FunctionDestinations, destination_access
from andromede.function_sources import FunctionRoles
from andromede.functions.errors import InvalidParameterValue
from andromede.functions.model import FunctionVersion
from andromede.http.asgi import TRUSTED_PRINCIPAL_SCOPE_KEY
from andromede.settings import Settings
from andromede.sqsapi.app import SqsApp
from support.lambda_mappings import MappingWorld, mapping_world
from support.lambdaapp import REGION, TRUST
from support.snsworld import sns_world, topic

SEND = "sqs:SendMessage"
RECORD: dict[str, Any] = {
    "version": "1.0",
    "requestContext": {"requestId": "r-1", "condition": "RetriesExhausted"},
    "requestPayload": {"n": 1},
}


@dataclass
class RecordingApp:
    """An API that answers 200 and keeps each call's scope and body."""

    answer: bytes = b"{}"
    calls: list[tuple[dict[str, Any], bytes]] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        self.calls.append((scope, message["body"]))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": self.answer})


@dataclass
class Destinations:
    world: MappingWorld
    sender: FunctionDestinations
    sns: RecordingApp
    events: RecordingApp

    async def version(self, name: str, actions: list[str]) -> FunctionVersion:
        lam = self.world.lam
        role = await lam.role(f"role-{name}")
        if actions:
            await lam.identity.put_role_policy(lam.tenant_id, f"role-{name}", "send", json.dumps({
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }))  # fmt: skip
        await lam.function(name, Role=role)
        return (await lam.functions.resolve(lam.tenant_id, name, None))[1]


@pytest.fixture
async def dest(tmp_path: Path) -> AsyncIterator[Destinations]:
    async for world in mapping_world(tmp_path):
        settings = Settings(data_dir=tmp_path, region=REGION)
        sqs = SqsApp(world.queues, world.lam.identity, world.lam.audit, settings)
        sns = RecordingApp(b"<PublishResponse/>")
        events = RecordingApp(b'{"Entries": [{"EventId": "e-1"}], "FailedEntryCount": 0}')
        apis: dict[str, Any] = {"sqs": sqs, "sns": sns, "events": events, "lambda": world.lam.app}
        sender = FunctionDestinations(
            FunctionRoles(world.lam.identity, REGION), apis, world.lam.audit, REGION
        )
        yield Destinations(world, sender, sns, events)


async def test_a_queue_as_the_role_or_refused_and_audited(dest: Destinations) -> None:
    world = dest.world
    queue = await world.queue("results")
    allowed = await dest.version("allowed", [SEND])
    await dest.sender.deliver(allowed, queue, RECORD)
    await dest.sender.dead_letter(
        allowed, queue, b'{"n": 1}',
        {"RequestID": "r-1", "ErrorCode": "200", "ErrorMessage": "asked to fail"},
    )  # fmt: skip
    held = await world.queues.get_queue(world.lam.tenant_id, world.lam.tenant_id, "results")
    got = await world.queues.receive(held, max_messages=10, visibility=30, wait=0)
    bodies = sorted((m.payload.body, m.payload.attributes) for m in got)
    assert json.loads(bodies[1][0]) == RECORD and bodies[1][1] == {}
    assert bodies[0][0] == '{"n": 1}'
    assert {k: v.string_value for k, v in bodies[0][1].items()} == {
        "RequestID": "r-1", "ErrorCode": "200", "ErrorMessage": "asked to fail"}  # fmt: skip
    refused = await dest.version("refused", [])
    await dest.sender.deliver(refused, queue, RECORD)  # no raise
    assert await world.visible("results") == []
    await world.lam.audit.flush()
    listed = await world.lam.audit_store.list_events(None, after_id=0, limit=500)
    failures = [e for _, e in listed if e.action == SEND and e.outcome.value == "failure"]
    assert any(e.principal == refused.role and e.resource == queue for e in failures)


async def test_a_function_a_topic_and_a_bus(dest: Destinations) -> None:
    world = dest.world
    tenant = world.lam.tenant_id
    source = await dest.version(
        "source", ["lambda:InvokeFunction", "sns:Publish", "events:PutEvents"]
    )
    await world.lam.function("target")
    target = f"arn:aws:lambda:{REGION}:{tenant}:function:target"
    await dest.sender.deliver(source, target, RECORD)
    (queued,) = world.lam.queue._items.values()
    assert queued.name == "target"
    topic = f"arn:aws:sns:{REGION}:{tenant}:done"
    await dest.sender.dead_letter(source, topic, b'{"n": 1}', {"RequestID": "r-1"})
    ((scope, body),) = dest.sns.calls
    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
    assert scope[TRUSTED_PRINCIPAL_SCOPE_KEY].arn.endswith(":assumed-role/role-source/source")
    assert (form["Action"], form["TopicArn"], form["Message"]) == ("Publish", topic, '{"n": 1}')
    assert form["MessageAttributes.entry.1.Name"] == "RequestID"
    bus = f"arn:aws:events:{REGION}:{tenant}:event-bus/default"
    await dest.sender.deliver(source, bus, RECORD)
    ((scope, body),) = dest.events.calls
    assert dict(scope["headers"])[b"x-amz-target"] == b"AWSEvents.PutEvents"
    (entry,) = json.loads(body)["Entries"]
    assert entry["Source"] == "lambda" and entry["EventBusName"] == bus
    assert entry["DetailType"] == "Lambda Function Invocation Result - Failure"
    assert json.loads(entry["Detail"]) == RECORD
    assert entry["Resources"] == [f"arn:aws:lambda:{REGION}:{tenant}:function:source:$LATEST", bus]


async def test_the_roles_permissions_checked_in_aws_words(dest: Destinations) -> None:
    world = dest.world
    tenant = world.lam.tenant_id
    check = destination_access(FunctionRoles(world.lam.identity, REGION))
    allowed = await dest.version("may", [SEND])
    await check(tenant, allowed.role, f"arn:aws:sqs:{REGION}:{tenant}:q")
    for destination, words in (
        (f"arn:aws:sns:{REGION}:{tenant}:t", "call Publish on SNS"),
        (f"arn:aws:events:{REGION}:{tenant}:event-bus/b", "call PutEvents on EventBridge"),
        (f"arn:aws:lambda:{REGION}:{tenant}:function:f", "call InvokeFunction on Lambda"),
    ):
        with pytest.raises(InvalidParameterValue) as refused:
            await check(tenant, allowed.role, destination)
        assert str(refused.value) == (
            f"The provided execution role does not have permissions to {words}"
        )
    with pytest.raises(InvalidParameterValue, match="cannot be assumed by Lambda"):
        await check(tenant, f"arn:aws:iam::{tenant}:role/none", f"arn:aws:sqs:{REGION}:{tenant}:q")


async def test_the_real_sns_api_takes_the_roles_publish(tmp_path: Path) -> None:
    async with sns_world(tmp_path) as sns:
        world = sns.world
        arn = await topic(sns.root, "letters")
        sender = FunctionDestinations(
            FunctionRoles(world.identity, REGION), world.apps, world.audit, REGION
        )
        versions = []
        for name, actions in (("publisher", ["sns:Publish"]), ("mute", [])):
            role = await world.identity.create_role(world.tenant_id, name, TRUST)
            if actions:
                await world.identity.put_role_policy(world.tenant_id, name, "p", json.dumps({
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
                }))  # fmt: skip
            versions.append(FunctionVersion(
                tenant_id=world.tenant_id, name=f"fn-{name}", version="$LATEST",
                runtime="python3.11", role=role.arn, handler="app.handler", code_sha256="",
                code_size=0, revision_id="r", last_modified=0,
            ))  # fmt: skip
        for version in versions:
            await sender.dead_letter(version, arn, b'{"n": 1}', {"RequestID": "r-1"})
        await world.audit.flush()
        listed = await world.audit_store.list_events(None, after_id=0, limit=500)
        refused = [
            e.principal for _, e in listed
            if e.action == "sns:Publish" and e.outcome.value == "failure"
            and (e.details or {}).get("invoked_by") == "lambda.amazonaws.com"
        ]  # fmt: skip
        assert refused == [versions[1].role]  # the publisher's went through
