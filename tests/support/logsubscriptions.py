"""The subscription filters' test world (decision 0225): Logs' JSON protocol in process, calls
made through botocore's model of ``logs``, over a real Firehose service whose deliverer writes
into an in-memory object service. Shared by the subscription filters' tests and the
account-level subscription filter policies' (decision 0232)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.log_subscription_delivery import RoleFirehoseDestination
from andromede.logs.subscription_service import SubscriptionLimits, Subscriptions
from andromede.logs.subscriptions import MemorySubscriptionStore, OutboxEntry
from andromede.logsapi.app import LogsApp
from andromede.settings import Settings
from andromede.wiring.logs import LogKeySealer
from support.batch_world import read
from support.firehoseapp import REGION, World, firehose_world
from support.logsapp import NOW, Harness, logs_world

MODEL = botocore.session.get_session().get_service_model("logs")
LOGS_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)
EMAIL = "jane.doe@example.fr"


def put_records_policy(resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["firehose:PutRecord", "firehose:PutRecordBatch"],
                    "Resource": resource,
                }
            ],
        }
    )


@dataclass
class Wire:
    logs: Harness
    firehose: World
    subscriptions: Subscriptions
    stream_arn: str
    role_arn: str
    dropped: list[tuple[OutboxEntry, str]] = field(default_factory=list)
    attempts: list[tuple[int, int, bool]] = field(default_factory=list)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it; a failure answers its ``Error``."""
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

    async def fails(self, operation: str, code: str, **params: Any) -> str:
        answer = await self.client(operation, **params)
        assert "Error" in answer, answer
        assert answer["Error"]["Code"] == code, answer["Error"]
        return str(answer["Error"]["Message"])

    async def subscribe(self, name: str = "errors", pattern: str = "ERROR", **more: Any) -> None:
        params = {
            "logGroupName": "/app/web",
            "filterName": name,
            "filterPattern": pattern,
            "destinationArn": self.stream_arn,
            "roleArn": self.role_arn,
        } | more
        assert "Error" not in await self.client("PutSubscriptionFilter", **params)

    async def put(self, *messages: str, stream: str = "s") -> None:
        events = [{"timestamp": NOW + i, "message": m} for i, m in enumerate(messages)]
        answer = await self.client(
            "PutLogEvents", logGroupName="/app/web", logStreamName=stream, logEvents=events
        )
        assert "Error" not in answer, answer

    async def landed(self) -> list[dict[str, Any]]:
        """Every record the bucket holds, each gzip member one subscription payload."""
        await self.firehose.deliverer.run_pass()
        listing = await self.firehose.objects.list_objects("landing", prefix="", max_keys=100)
        messages = []
        for found in sorted(listing.objects, key=lambda o: o.key):
            body = await read(self.firehose.objects, "landing", found.key)
            text = gzip.decompress(body).decode()  # the members, concatenated as they came
            decoder = json.JSONDecoder()
            at = 0
            while at < len(text):
                message, at = decoder.raw_decode(text, at)
                messages.append(message)
        return messages

    async def data(self) -> list[dict[str, Any]]:
        return [m for m in await self.landed() if m["messageType"] == "DATA_MESSAGE"]


async def subscription_wire(tmp_path: Path) -> AsyncIterator[Wire]:
    """A Logs API over a real Firehose whose deliverer writes into an in-memory object
    service; one DirectPut stream ``logs``, a role ``cwl`` trusting Logs and allowed to put
    into it, a group ``/app/web`` with its stream ``s``."""
    async for fire in firehose_world(tmp_path / "firehose"):
        for world in logs_world(tmp_path / "logs"):
            world.clock.now = NOW
            dropped: list[tuple[OutboxEntry, str]] = []
            attempts: list[tuple[int, int, bool]] = []
            subscriptions = Subscriptions(
                world.service,
                MemorySubscriptionStore(),
                LogKeySealer(world.kit.keys, None),
                RoleFirehoseDestination(fire.identity, fire.firehose, REGION),
                SubscriptionLimits(max_outbox_bytes=64 * 1024, retry_interval_ms=1000),
                clock=world.clock,
                dropped=lambda entry, why, into=dropped: into.append((entry, why)),
                delivered=lambda e, ok, into=attempts: into.append((e.events, e.size, ok)),
            )
            world.service.subscribers.append(subscriptions)
            settings = Settings(data_dir=tmp_path, region=REGION)
            app = LogsApp(
                world.service, fire.identity, fire.audit, settings, subscriptions=subscriptions
            )
            harness = Harness(
                app,
                fire.identity,
                world,
                fire.audit_store,
                fire.audit,
                fire.billing,
                fire.credentials,
                fire.tenant_id,
            )
            made = await fire.client(
                "CreateDeliveryStream",
                DeliveryStreamName="logs",
                DeliveryStreamType="DirectPut",
                ExtendedS3DestinationConfiguration={
                    "RoleARN": await fire.role(),
                    "BucketARN": await fire.bucket(),
                    "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
                },
            )
            await fire.deliverer.run_pass()  # CREATING → ACTIVE
            role = await fire.identity.create_role(fire.tenant_id, "cwl", LOGS_TRUST)
            await fire.identity.put_role_policy(
                fire.tenant_id, "cwl", "put", put_records_policy(made["DeliveryStreamARN"])
            )
            found = Wire(harness, fire, subscriptions, made["DeliveryStreamARN"], role.arn)
            found.dropped, found.attempts = dropped, attempts
            await found.client("CreateLogGroup", logGroupName="/app/web")
            await found.client("CreateLogStream", logGroupName="/app/web", logStreamName="s")
            yield found
