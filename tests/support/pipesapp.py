"""EventBridge Pipes' restJson1 app in process (decision 0258): PipesApp over the in-memory
identity store and a pipe store (memory by default), its runner reading and writing the
platform's queues (in memory) as the pipes' roles; calls made through botocore's own model of
the service (its rest-json serializer and parser, the parameters validated first), signed
with SigV4 for service ``pipes``."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.memory import MemoryPipeStore
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.pipes.service import PipesLimits, PipesService
from andromede.pipes.store import PipeStore
from andromede.pipesapi.app import PipesApp
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueLimits, QueueService
from andromede.settings import Settings
from andromede.wiring.pipes import PipesMetering
from andromede.wiring.queues import KeySealer
from support.asgi import post
from support.firehoseapp import RecordingSink
from support.json_client import JsonReply, Signers

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("pipes")
TRUST: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "pipes.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def allow(*actions: str, resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


PIPE_POLICY: Final = allow(
    "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage"
)


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str
    body: dict[str, Any]


@dataclass
class World(Signers):
    app: PipesApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    pipes: PipesService
    queues: QueueService
    runner: PipesRunner
    audit_store: MemoryAuditStore
    audit: AuditService
    billing: BillingService
    sink: RecordingSink

    async def raw(self, method: str, path: str, body: bytes = b"", query: str = "") -> JsonReply:
        """A signed request as botocore sends it (``path`` percent-encoded as sent)."""
        url = f"http://127.0.0.1:9000{path}" + (f"?{query}" if query else "")
        request = AWSRequest(
            method=method, url=url, data=body, headers={"Content-Type": "application/json"}
        )
        if self.credentials is not None:
            SigV4Auth(self.credentials, "pipes", REGION).add_auth(request)
        status, headers, answer = await post(
            self.app, dict(request.headers.items()), body, ("127.0.0.1", 50000),
            method=method, path=path, query=query.encode(),
        )  # fmt: skip
        assert headers["x-amzn-requestid"]
        return JsonReply(status, headers, answer)

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it, its answer parsed by botocore's rest-json parser;
        a failure raises :class:`CallFailed`."""
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("rest-json").serialize_to_request(params, model)
        query = urlencode(request["query_string"], doseq=True)
        body = request["body"] if isinstance(request["body"], bytes) else request["body"].encode()
        reply = await self.raw(request["method"], request["url_path"], body, query)
        parsed = create_parser("rest-json").parse(
            {"status_code": reply.status, "headers": reply.headers, "body": reply.body},
            model.output_shape,
        )
        if reply.status >= 300:
            raise CallFailed(
                reply.status,
                parsed["Error"]["Code"],
                parsed["Error"]["Message"],
                json.loads(reply.body or b"{}"),
            )
        parsed.pop("ResponseMetadata", None)
        return dict(parsed)

    async def fails(self, operation: str, code: str, **params: Any) -> CallFailed:
        try:
            await self.client(operation, **params)
        except CallFailed as exc:
            assert exc.code == code, (exc.code, exc.message)
            return exc
        raise AssertionError(f"{operation} succeeded")

    async def role(self, name: str = "pipe", trust: str = TRUST, policy: str = PIPE_POLICY) -> str:
        role = await self.identity.create_role(self.tenant_id, name, trust)
        await self.identity.put_role_policy(self.tenant_id, name, "pipe", policy)
        return role.arn

    async def queue(self, name: str) -> str:
        queue = await self.queues.create_queue(self.tenant_id, name, {}, {})
        return queue.arn

    async def send(self, name: str, body: str) -> None:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, name)
        await self.queues.send_message(queue, body, {}, {}, None, self.tenant_id)

    async def bodies(self, name: str) -> list[str]:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, name)
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [m.payload.body for m in got]

    async def usage(self, meter: str) -> int:
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(self.tenant_id, month)
        return sum(line.quantity for line in report.lines if line.meter == meter)


async def pipes_world(tmp_path: Path, store: PipeStore | None = None) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    keys = KeyService(LocalKeyFileProvider(tmp_path / "keys"))
    queues = QueueService(
        MemoryQueueStore(), KeySealer(keys), region=REGION, limits=QueueLimits(poll_interval=0.05)
    )
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    pipes = PipesService(store or MemoryPipeStore(), REGION, PipesLimits(max_pipes=3))
    roles = PipeRoles(identity, REGION)
    sink = RecordingSink()
    runner = PipesRunner(
        pipes,
        PipeSources(roles, queues, lambda: None, REGION),
        PipeTargets(roles, queues, None, None, lambda: None, lambda: None, None, REGION),
        RunnerPolicy(poll_interval=0.05, lease_ms=60_000),
        "gateway-a",
        PipesMetering(billing, REGION, sink),
    )
    try:
        yield World(
            PipesApp(pipes, identity, audit, settings),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            pipes,
            queues,
            runner,
            audit_store,
            audit,
            billing,
            sink,
        )
    finally:
        await billing.close()
        await audit.close()
        keys.close()
