"""AWS Step Functions' JSON 1.0 app in process (decision 0271): StatesApp over the in-memory
identity store, a state machine store and an execution store (memory by default), its runner
stepped by the tests (``run``) with no real sleeping; calls made through botocore's
own model of the service (its serializer and parser, the parameters validated first), signed
with SigV4 for service ``states``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import botocore.session
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.validate import validate_parameters

from andromede.audit.service import AuditService
from andromede.audit.store import MemoryAuditStore
from andromede.billing.model import parse_month
from andromede.billing.service import BillingService
from andromede.billing.store import MemoryBillingStore
from andromede.events.dispatcher import Deliveries
from andromede.events.memory import MemoryEventsStore
from andromede.events.service import EventsService
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import IdentityService
from andromede.iam.store_memory import MemoryIdentityStore
from andromede.queues.memory import MemoryQueueStore
from andromede.queues.service import QueueLimits, QueueService
from andromede.settings import Settings
from andromede.state_tasks import StateTasks
from andromede.stepfunctions.activity_service import ActivitiesService, ActivityLimits
from andromede.stepfunctions.activity_store import MemoryActivityStore
from andromede.stepfunctions.execution_memory import MemoryExecutionStore
from andromede.stepfunctions.execution_service import ExecutionLimits, ExecutionsService
from andromede.stepfunctions.execution_store import ExecutionStore
from andromede.stepfunctions.express import SyncExecutions
from andromede.stepfunctions.map_children import MemoryMapChildStore
from andromede.stepfunctions.map_runs import MemoryMapRunStore
from andromede.stepfunctions.memory import MemoryStateMachineStore
from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from andromede.stepfunctions.service import StateMachineLimits, StateMachinesService
from andromede.stepfunctions.store import StateMachineStore
from andromede.stepfunctions.version_service import VersionLimits, VersionsService
from andromede.stepfunctions.version_store import MemoryVersionStore, VersionStore
from andromede.stepfunctionsapi.app import CONTENT_TYPE, StatesApp
from andromede.storage.blob_memory import MemoryBlobStore
from andromede.storage.service import ObjectService
from andromede.storage.store_memory import MemoryMetadataStore
from andromede.wiring.queues import KeySealer
from andromede.wiring.stepfunctions import (
    TransitionBilling,
    aborting_map_runs,
    map_run_host,
    purging_map_runs,
    trusting_roles,
)
from support.batch_world import LIMITS
from support.firehoseapp import RecordingSink
from support.json_client import JsonReply, Signers, signed_json_post
from support.keys import cipher_in, key_service_in

__all__ = ["MODEL", "REGION", "TRUST", "CallFailed", "Clock", "World", "states_world"]

REGION: Final = "eu-fr-1"
MODEL: Final = botocore.session.get_session().get_service_model("stepfunctions")
TRUST: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


class Clock:
    """The runner's time: real by default, moved on by the tests (a Wait, a retry's sleep)."""

    def __init__(self) -> None:
        self.offset = 0
        self.slept: list[float] = []

    def now(self) -> int:
        return int(time.time() * 1000) + self.offset

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.offset += int(seconds * 1000)


@dataclass
class CallFailed(Exception):
    status: int
    code: str
    message: str
    body: dict[str, Any]


class _NoTargets:
    """EventBridge's target sink where no rule of the tests' buses has a target."""

    async def send(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("no target was expected to receive an event")


@dataclass
class World(Signers):
    app: StatesApp
    identity: IdentityService
    credentials: Credentials | None
    tenant_id: str
    machines: StateMachinesService
    audit_store: MemoryAuditStore
    audit: AuditService
    executions: ExecutionsService
    runner: ExecutionsRunner
    clock: Clock
    billing: BillingService
    queues: QueueService
    activities: ActivitiesService
    dynamodb: list[Any]  # the DynamoDB app the Task states call, once a test put one
    lambdas: list[Any]  # the Lambda app the Task states call, once a test put one
    sink: RecordingSink
    versions: VersionsService
    objects: ObjectService  # S3 as a distributed Map reads and writes it (decision 0322)
    map_runs: MemoryMapRunStore
    events: EventsService  # the buses ``events:putEvents`` Task states write to
    map_children: MemoryMapChildStore  # a Map run's child executions (decision 0369)

    async def run(self) -> int:
        """One pass of the runner, waited for: the executions due stepped until they wait or
        end."""
        return await self.runner.run_pass(wait=True)

    async def kinds(self, execution_arn: str) -> list[str]:
        """The types of the execution's history events, in order."""
        history = await self.client("GetExecutionHistory", executionArn=execution_arn)
        return [e["type"] for e in history["events"]]

    async def usage(self, meter: str) -> int:
        await self.billing.flush()
        month = parse_month(datetime.now(UTC).strftime("%Y-%m"))
        report = await self.billing.usage_report(self.tenant_id, month)
        return sum(line.quantity for line in report.lines if line.meter == meter)

    async def raw(self, action: str, payload: dict[str, Any] | bytes) -> JsonReply:
        return await signed_json_post(
            self.app,
            f"AWSStepFunctions.{action}",
            payload,
            content_type=CONTENT_TYPE,
            credentials=self.credentials,
            service="states",
            region=REGION,
        )

    async def client(self, operation: str, **params: Any) -> dict[str, Any]:
        """``operation`` as boto3 sends it, its answer parsed by botocore's JSON parser; a
        failure raises :class:`CallFailed`."""
        model = MODEL.operation_model(operation)
        validate_parameters(params, model.input_shape)
        request = create_serializer("json").serialize_to_request(params, model)
        reply = await self.raw(operation, request["body"])
        parsed = create_parser("json").parse(
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

    async def role(
        self, name: str = "machine", trust: str = TRUST, policy: str | None = None
    ) -> str:
        role = await self.identity.create_role(self.tenant_id, name, trust)
        if policy is not None:
            await self.identity.put_role_policy(self.tenant_id, name, "tasks", policy)
        return role.arn

    async def queue(self, name: str) -> str:
        """The queue's URL, as a state machine's sqs:sendMessage names it."""
        await self.queues.create_queue(self.tenant_id, name, {}, {})
        return f"http://127.0.0.1:9000/{self.tenant_id}/{name}"

    async def bodies(self, name: str) -> list[str]:
        queue = await self.queues.get_queue(self.tenant_id, self.tenant_id, name)
        got = await self.queues.receive(queue, max_messages=10, visibility=30, wait=0)
        return [m.payload.body for m in got]

    async def audited(self) -> list[tuple[str, str, str]]:
        await self.audit.flush()
        listed = await self.audit_store.list_events(None, after_id=0, limit=1000)
        return [(e.action, e.resource, e.outcome.value) for _, e in listed]


async def states_world(
    tmp_path: Path,
    store: StateMachineStore | None = None,
    max_state_machines: int = 5,
    execution_store: ExecutionStore | None = None,
    max_history_events: int = 100,
    version_store: VersionStore | None = None,
    version_limits: VersionLimits | None = None,
) -> AsyncIterator[World]:
    settings = Settings(data_dir=tmp_path, region=REGION)
    identity = IdentityService(MemoryIdentityStore(), SecretSealer(os.urandom(32)))
    boot = await identity.bootstrap()
    assert boot is not None
    audit_store = MemoryAuditStore()
    audit = AuditService(audit_store)
    machines = StateMachinesService(
        store or MemoryStateMachineStore(),
        REGION,
        trusting_roles(identity),
        StateMachineLimits(max_state_machines=max_state_machines),
    )
    versions = VersionsService(
        machines, version_store or MemoryVersionStore(), version_limits or VersionLimits()
    )
    machines.versions = versions.store
    clock = Clock()
    executions = ExecutionsService(
        execution_store or MemoryExecutionStore(),
        machines,
        ExecutionLimits(max_payload_size=1024, max_history_events=max_history_events),
        clock=clock.now,
    )
    billing = BillingService(MemoryBillingStore(), region=REGION, instance_types=[])
    dynamodb: list[Any] = []
    lambdas: list[Any] = []
    keys = key_service_in(tmp_path / "keys")
    queues = QueueService(
        MemoryQueueStore(), KeySealer(keys), region=REGION, limits=QueueLimits(poll_interval=0.05)
    )

    async def start_child(
        tenant_id: str, params: dict[str, Any], parent: dict[str, Any] | None
    ) -> tuple[str, int]:
        child = await executions.start(tenant_id, params, parent)
        return child.arn, child.started

    objects = ObjectService(
        MemoryMetadataStore(), MemoryBlobStore(), LIMITS, cipher_in(tmp_path / "s3-keys")
    )
    map_runs = MemoryMapRunStore()
    map_children = MemoryMapChildStore()
    events = EventsService(
        MemoryEventsStore(), Deliveries(_NoTargets(), max_attempts=1), region=REGION
    )
    tasks = StateTasks(
        identity,
        audit,
        REGION,
        queues,
        events=events,
        start_execution=start_child,
        dynamodb=lambda: dynamodb[0] if dynamodb else None,
        lambdas=lambda: lambdas[0] if lambdas else None,
        map_runs=map_run_host(
            settings, identity, audit, objects, map_runs, map_children, executions.stops
        ),
    )
    sink = RecordingSink()
    observer = TransitionBilling(billing, REGION, sink)
    executions.observe_start = observer.started
    executions.observe_end = aborting_map_runs(map_runs, map_children)
    runner = ExecutionsRunner(
        executions,
        RunnerPolicy(pass_interval=0.05, lease_ms=60_000),
        "gateway-a",
        tasks=tasks,
        meter=observer,
        clock=clock.now,
        sleep=clock.sleep,
        purged_with=purging_map_runs(map_runs, map_children, batch=2),  # batches seen to end
    )
    activities = ActivitiesService(
        MemoryActivityStore(),
        executions,
        ActivityLimits(max_activities=3, poll_timeout=0.2, poll_interval=0.05),
    )
    try:
        yield World(
            StatesApp(
                machines,
                identity,
                audit,
                settings,
                executions=executions,
                activities=activities,
                sync=SyncExecutions(machines, tasks, 1024, max_seconds=2.0),
                versions=versions,
                map_runs=map_runs,
                map_children=map_children,
            ),
            identity,
            Credentials(boot.access_key_id, boot.secret_access_key),
            boot.tenant.id,
            machines,
            audit_store,
            audit,
            executions,
            runner,
            clock,
            billing,
            queues,
            activities,
            dynamodb,
            lambdas,
            sink,
            versions,
            objects,
            map_runs,
            events,
            map_children,
        )
    finally:
        keys.close()
        await billing.close()
        await audit.close()
