"""The stream sources' rig of the Pipes tests (decisions 0258, 0268): pipes beside another
service's world (a Kinesis or DynamoDB one: its identity and service), into memory queues."""

from __future__ import annotations

import json
from pathlib import Path

from andromede.iam.service import IdentityService
from andromede.kms.keyfile import LocalKeyFileProvider
from andromede.kms.service import KeyService
from andromede.pipe_roles import PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_targets import PipeTargets
from andromede.pipes.memory import MemoryPipeStore
from andromede.pipes.runner import PipesRunner, RunnerPolicy
from andromede.pipes.service import PipesService
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueService
from andromede.wiring.queues import KeySealer
from support.pipesapp import REGION, TRUST

__all__ = ["Rig"]


class Rig:
    """Pipes beside another service's world (its identity and service), into memory queues."""

    def __init__(
        self,
        tmp_path: Path,
        identity: IdentityService,
        tenant_id: str,
        kinesis: object = None,
        dynamodb: object = None,
    ) -> None:
        self.keys = KeyService(LocalKeyFileProvider(tmp_path / "pipe-keys"))
        self.queues = QueueService(MemoryQueueStore(), KeySealer(self.keys), region=REGION)
        self.pipes = PipesService(MemoryPipeStore(), REGION)
        self.identity = identity
        self.tenant_id = tenant_id
        roles = PipeRoles(identity, REGION)
        self.sources = PipeSources(
            roles,
            self.queues,
            lambda: kinesis,
            REGION,
            lambda: dynamodb,
        )
        self.targets = PipeTargets(
            roles, self.queues, None, None, lambda: None, lambda: None, None, REGION
        )

    def runner(self, owner: str) -> PipesRunner:
        return PipesRunner(
            self.pipes, self.sources, self.targets, RunnerPolicy(lease_ms=60_000), owner
        )

    async def role(self, policy: str) -> str:
        role = await self.identity.create_role(self.tenant_id, "pipe", TRUST)
        await self.identity.put_role_policy(self.tenant_id, "pipe", "pipe", policy)
        return role.arn

    async def queue(self, name: str) -> str:
        return (await self.queues.create_queue(self.tenant_id, name, {}, {})).arn

    async def bodies(self, name: str) -> list[dict[str, object]]:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, name)
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [json.loads(m.payload.body) for m in got]
