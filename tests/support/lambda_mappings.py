"""Lambda's event source mappings in process (decision 0295): the Lambda world of
``support.lambdaapp`` with the platform's queues (in memory), the mappings' service and API,
and the poller that reads the queues as the functions' roles and invokes the functions in the
real ``bwrap`` sandbox."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from andromede.dynamodb.stream_service import DynamoStreams
from andromede.function_sources import FunctionRoles, MappingPoller, source_access
from andromede.function_streams import (
    FailureDestinations,
    InvokerFunctions,
    StreamAccess,
    StreamPoller,
    destination_access,
)
from andromede.functions.invocation_metrics import FunctionMetrics
from andromede.functions.invoker import Invoker
from andromede.functions.mapping_service import EventSourceMappings
from andromede.functions.mappings import MappingStore, MemoryMappingStore
from andromede.kinesis.service import KinesisService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.lambdaapi.app import LambdaApp
from andromede.lambdaapi.invoke_actions import invoke_actions
from andromede.lambdaapi.mapping_actions import mapping_actions
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueLimits, QueueService
from andromede.settings import Settings
from andromede.stream_reading import StreamReader
from andromede.wiring.queues import KeySealer
from support.lambdaapp import REGION, World, lambda_world

SQS_READ: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": "*",
            }
        ],
    }
)


@dataclass
class MappingWorld:
    lam: World
    queues: QueueService
    mappings: EventSourceMappings
    poller: MappingPoller

    async def reader_role(self, name: str = "reader", policy: str = SQS_READ) -> str:
        arn = await self.lam.role(name)
        await self.lam.identity.put_role_policy(self.lam.tenant_id, name, "read", policy)
        return arn

    async def queue(self, name: str, attributes: dict[str, str] | None = None) -> str:
        made = await self.queues.create_queue(self.lam.tenant_id, name, attributes or {}, {})
        return made.arn

    async def send(self, name: str, body: str) -> None:
        queue = await self.queues.get_queue(self.lam.tenant_id, self.lam.tenant_id, name)
        await self.queues.send_message(queue, body, {}, {}, None, self.lam.tenant_id)

    async def visible(self, name: str) -> list[str]:
        """The bodies of the queue's messages a receive gets now (hidden for 30 s after)."""
        queue = await self.queues.get_queue(self.lam.tenant_id, self.lam.tenant_id, name)
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return sorted(m.payload.body for m in got)


async def mapping_world(
    tmp_path: Path,
    store: MappingStore | None = None,
    kinesis: KinesisService | None = None,
    dynamodb: DynamoStreams | None = None,
) -> AsyncIterator[MappingWorld]:
    """The world; with ``kinesis`` or ``dynamodb``, their streams as sources too (decision
    0301)."""
    async for lam in lambda_world(tmp_path):
        settings = Settings(data_dir=tmp_path, region=REGION)
        keys = KeyService(LocalKeyFileProvider(tmp_path / "queue-keys"))
        queues = QueueService(
            MemoryQueueStore(),
            KeySealer(keys),
            region=REGION,
            limits=QueueLimits(poll_interval=0.05),
        )
        roles = FunctionRoles(lam.identity, REGION)
        held = store or MemoryMappingStore()
        invoker = Invoker(lam.functions, lam.pool, None, lam.logs, lam.meters, lam.queue)
        invoker.metrics = FunctionMetrics(lam.metrics)  # AWS/Lambda into lam.metrics (0323)
        access = StreamAccess(roles, lambda: kinesis, lambda: dynamodb)
        streams = StreamPoller(
            held,
            access,
            StreamReader(lambda: kinesis, lambda: dynamodb, REGION),
            InvokerFunctions(invoker),
            FailureDestinations(roles, access, queues, None),
        )
        streams.metrics = invoker.metrics
        mappings = EventSourceMappings(
            held,
            lam.functions,
            source_access(roles, queues, access.refusal),
            destination_check=destination_access(access),
        )
        actions = invoke_actions(
            invoker, settings.lambda_max_payload_bytes, settings.lambda_max_event_payload_bytes
        )
        app = LambdaApp(
            lam.functions,
            lam.identity,
            lam.audit,
            settings,
            extra_actions=actions | mapping_actions(mappings),
        )
        poller = MappingPoller(
            mappings, roles, queues, invoker, "gateway-a", poll_interval=0.05, streams=streams
        )
        try:
            yield MappingWorld(dataclasses.replace(lam, app=app), queues, mappings, poller)
        finally:
            keys.close()
