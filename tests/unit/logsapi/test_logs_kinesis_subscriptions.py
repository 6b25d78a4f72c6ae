"""CloudWatch Logs subscription filters into a Kinesis data stream (decision 0235), through
Logs' JSON protocol in process (botocore's model of ``logs``) over a real Kinesis service in
memory, read back through its own iterators: the CONTROL_MESSAGE put at creation, the
matching events as one gzip DATA_MESSAGE under the log stream's name as partition key
(``ByLogStream``) or a random one (``Random``); the role that may not ``kinesis:PutRecord``
and the stream that does not exist refused at creation in AWS's words; a stream deleted
later retried, not lost; the account-level policy into a stream; ``FirehoseOfServe`` routing
a Kinesis ARN to the Kinesis of ``serve``."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.kinesis.model import StreamMode
from andromede.kinesis.service import KinesisService
from andromede.log_subscription_delivery import RoleKinesisDestination
from andromede.logs.subscription_service import SubscriptionLimits, Subscriptions
from andromede.logs.subscriptions import MemorySubscriptionStore, OutboxEntry
from andromede.logsapi.app import LogsApp
from andromede.settings import Settings
from andromede.wiring.logs import FirehoseOfServe, LogKeySealer
from support.kinesisapp import REGION, World, kinesis_world
from support.logsapp import NOW, Harness, logs_world
from support.logsubscriptions import LOGS_TRUST, MODEL


def kinesis_put_policy(resource: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kinesis:PutRecord", "Resource": resource}],
        }
    )


@dataclass
class KinesisWire:
    logs: Harness
    kinesis: World
    subscriptions: Subscriptions
    stream_arn: str
    role_arn: str
    dropped: list[tuple[OutboxEntry, str]] = field(default_factory=list)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("json").serialize_to_request(params, model)
        reply = await self.logs.call(operation, request["body"])
        parsed = create_parser("json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def subscribe(self, **more: Any) -> dict[str, Any]:
        params = {
            "logGroupName": "/app/web",
            "filterName": "errors",
            "filterPattern": "ERROR",
            "destinationArn": self.stream_arn,
            "roleArn": self.role_arn,
        } | more
        return await self.client("PutSubscriptionFilter", **params)

    async def put(self, *messages: str, stream: str = "s") -> None:
        events = [{"timestamp": NOW + i, "message": m} for i, m in enumerate(messages)]
        answer = await self.client(
            "PutLogEvents", logGroupName="/app/web", logStreamName=stream, logEvents=events
        )
        assert "Error" not in answer, answer

    async def records(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record of the stream's one shard: its partition key and payload."""
        service: KinesisService = self.kinesis.kinesis
        tenant = self.kinesis.tenant_id
        token = await service.iterator(tenant, "logs", "shardId-000000000000", "TRIM_HORIZON")
        read = await service.records(tenant, token, 1000)
        return [(r.partition_key, json.loads(gzip.decompress(r.data))) for r in read.records]


@pytest.fixture
async def wire(tmp_path: Path) -> AsyncIterator[KinesisWire]:
    async for kin in kinesis_world(tmp_path / "kinesis"):
        for world in logs_world(tmp_path / "logs"):
            world.clock.now = NOW
            dropped: list[tuple[OutboxEntry, str]] = []
            subscriptions = Subscriptions(
                world.service,
                MemorySubscriptionStore(),
                LogKeySealer(world.kit.keys, None),
                RoleKinesisDestination(kin.identity, kin.kinesis, REGION),
                SubscriptionLimits(retry_interval_ms=1000),
                clock=world.clock,
                dropped=lambda entry, why, into=dropped: into.append((entry, why)),
            )
            world.service.subscribers.append(subscriptions)
            settings = Settings(data_dir=tmp_path, region=REGION)
            app = LogsApp(
                world.service, kin.identity, kin.audit, settings, subscriptions=subscriptions
            )
            harness = Harness(
                app, kin.identity, world, kin.audit_store, kin.audit, kin.billing,
                kin.credentials, kin.tenant_id,
            )  # fmt: skip
            stream = await kin.kinesis.create(kin.tenant_id, "logs", 1, StreamMode.PROVISIONED)
            role = await kin.identity.create_role(kin.tenant_id, "cwl", LOGS_TRUST)
            await kin.identity.put_role_policy(
                kin.tenant_id, "cwl", "put", kinesis_put_policy(stream.arn)
            )
            found = KinesisWire(harness, kin, subscriptions, stream.arn, role.arn, dropped)
            await found.client("CreateLogGroup", logGroupName="/app/web")
            for name in ("s", "other"):
                await found.client("CreateLogStream", logGroupName="/app/web", logStreamName=name)
            yield found


async def test_matching_events_land_in_the_stream_by_log_stream(wire: KinesisWire) -> None:
    assert "Error" not in await wire.subscribe()
    [(_, control)] = await wire.records()  # put synchronously, as AWS's health check
    assert control["messageType"] == "CONTROL_MESSAGE"
    assert control["logEvents"][0]["message"] == (
        "CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."
    )
    await wire.put("ERROR one", "fine", "ERROR two")
    await wire.put("ERROR three", stream="other")
    assert len(await wire.records()) == 1  # PutLogEvents waited on nothing
    assert await wire.subscriptions.deliver_once("gw") == 2
    data = [(key, m) for key, m in await wire.records() if m["messageType"] == "DATA_MESSAGE"]
    # ByLogStream: the log stream's name (the two deliveries are not ordered between them).
    assert sorted(key for key, _ in data) == ["other", "s"]
    [first] = [m for key, m in data if key == "s"]
    assert (first["logGroup"], first["logStream"], first["owner"]) == (
        "/app/web", "s", wire.kinesis.tenant_id,
    )  # fmt: skip
    assert first["subscriptionFilters"] == ["errors"]
    assert [e["message"] for e in first["logEvents"]] == ["ERROR one", "ERROR two"]
    described = await wire.client("DescribeSubscriptionFilters", logGroupName="/app/web")
    [kept] = described["subscriptionFilters"]
    assert (kept["destinationArn"], kept["distribution"]) == (wire.stream_arn, "ByLogStream")


async def test_random_distribution_spreads_partition_keys(wire: KinesisWire) -> None:
    assert "Error" not in await wire.subscribe(distribution="Random")
    await wire.put("ERROR one")
    await wire.put("ERROR two")
    await wire.subscriptions.deliver_once("gw")
    keys = [key for key, m in await wire.records() if m["messageType"] == "DATA_MESSAGE"]
    assert len(keys) == 2 and len(set(keys)) == 2 and "s" not in keys
    assert all(len(k) == 32 for k in keys)


async def test_a_role_or_stream_that_cannot_take_it_is_refused(wire: KinesisWire) -> None:
    kin = wire.kinesis
    await kin.identity.put_role_policy(
        kin.tenant_id, "cwl", "put", kinesis_put_policy("arn:aws:kinesis:*:*:stream/other")
    )
    answer = await wire.subscribe()
    assert answer["Error"]["Code"] == "InvalidParameterException"
    assert answer["Error"]["Message"].startswith(
        "Could not deliver test message to specified Kinesis stream."
    )
    await kin.identity.put_role_policy(kin.tenant_id, "cwl", "put", kinesis_put_policy("*"))
    missing = wire.stream_arn.replace(":stream/logs", ":stream/none")
    answer = await wire.subscribe(destinationArn=missing)
    assert answer["Error"]["Code"] == "InvalidParameterException"
    assert await wire.subscriptions.store.list_filters(kin.tenant_id, "/app/web", "", "", 5) == []


async def test_a_stream_deleted_later_is_retried_not_lost(wire: KinesisWire) -> None:
    assert "Error" not in await wire.subscribe()
    await wire.kinesis.kinesis.delete(wire.kinesis.tenant_id, "logs")
    await wire.put("ERROR lost?")
    assert await wire.subscriptions.deliver_once("gw") == 0
    assert wire.dropped == []  # waiting for its retry, not given up
    await wire.kinesis.kinesis.create(wire.kinesis.tenant_id, "logs", 1, StreamMode.PROVISIONED)
    wire.logs.world.clock.now += 1000
    assert await wire.subscriptions.deliver_once("gw") == 1
    [(key, data)] = await wire.records()
    assert (key, data["logEvents"][0]["message"]) == ("s", "ERROR lost?")


async def test_the_account_policy_into_a_stream(wire: KinesisWire) -> None:
    document = json.dumps(
        {
            "DestinationArn": wire.stream_arn,
            "RoleArn": wire.role_arn,
            "FilterPattern": "ERROR",
            "Distribution": "ByLogStream",
        }
    )
    answer = await wire.client(
        "PutAccountPolicy", policyName="all", policyDocument=document,
        policyType="SUBSCRIPTION_FILTER_POLICY", scope="ALL",
    )  # fmt: skip
    assert "Error" not in answer, answer
    await wire.put("ERROR everywhere", stream="other")
    assert await wire.subscriptions.deliver_once("gw") == 1
    [_, (key, data)] = await wire.records()
    assert (key, data["subscriptionFilters"]) == ("other", ["all"])


async def test_serve_routes_a_kinesis_arn_to_its_kinesis(wire: KinesisWire) -> None:
    kin = wire.kinesis
    routed = FirehoseOfServe({}, kin.identity, REGION)
    why = await routed.deliver(kin.tenant_id, wire.role_arn, wire.stream_arn, [b"x"], "k")
    assert why == "Kinesis is not served by this deployment"
    routed = FirehoseOfServe({kin.app.name: kin.app}, kin.identity, REGION)
    assert await routed.deliver(kin.tenant_id, wire.role_arn, wire.stream_arn, [b"x"], "k") is None
    token = await kin.kinesis.iterator(
        kin.tenant_id, "logs", "shardId-000000000000", "TRIM_HORIZON"
    )
    read = await kin.kinesis.records(kin.tenant_id, token, 10)
    assert [(r.partition_key, r.data) for r in read.records] == [("k", b"x")]
    other = wire.stream_arn.replace(kin.tenant_id, "999999999999")
    why = await routed.deliver(kin.tenant_id, wire.role_arn, other, [b"x"], "k")
    assert why == "the destination is no Kinesis stream of the account"
