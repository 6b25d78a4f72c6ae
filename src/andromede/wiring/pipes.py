"""EventBridge Pipes' wiring (decision 0258): the service over the metadata database with the
settings' bounds, its sources and targets read and written as the pipes' roles
(``pipe_sources``, ``pipe_targets``), its API app, and the runner every ``serve`` runs.

**Billing and metrics.** Each event a pipe sends (past its filters) is counted into its
account's ``pipes.requests``, one request per 64 KiB chunk begun, as AWS bills Pipes'
requests; each batch into its ``AWS/EventBridge/Pipes`` metrics (dimension ``PipeName``):
``Invocations``, ``EventCount``, ``EventSize``, ``ExecutionSucceeded`` or
``ExecutionFailed``, ``TargetStageSucceeded`` or ``TargetStageFailed``, ``Duration``. A
pipe's execution log records go into its ``LogConfiguration``'s CloudWatch Logs group as its
role (:class:`PipeLogGroups`), its S3 bucket and Firehose stream too
(``pipe_log_destinations``, decision 0268); its enrichment is an API destination invoked by
EventBridge's invoker (``pipe_enrichments``), a function or a state machine. Kinesis,
Firehose, Lambda and Step Functions are found in ``apis`` when needed (``serve`` makes them
before or after; a state machine's type, asked at CreatePipe, too, decision 0316);
EventBridge's event buses and API destinations are EventBridge's own (its connections and
its invoker's policy, the pipe's role judged instead of a rule target's).

**Regions** (decision 0408). Pipes are served in every Region the gateway serves: one
:class:`PipesService` a Region over its view of the one table (``pipes.regional_store``), the
API picking by the SigV4 scope, and one runner a Region, whose pipes read that Region's
DynamoDB streams, send to its event buses and call its API destinations — found, authorised
and called with their connection's secret in that Region only (an invoker a Region over its
connections). Each Region's metrics are its own series (decision 0360), its requests billed
in it."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.db.doorbells import SOURCES
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodbapi.app import DynamoApp
from andromede.events.api_invoker import ApiDestinationInvoker, InvocationPolicy
from andromede.events.connections import ConnectionService
from andromede.events.service import EventsService
from andromede.firehose.service import FirehoseService
from andromede.firehoseapi.app import FirehoseApp
from andromede.functions.lineage import furthest
from andromede.http.outbound import networks
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.errors import IamError
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import TrustSource
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.log_group_targets import LogTargetWriter
from andromede.logs.service import LogsService
from andromede.metrics.regions import series_owner
from andromede.metrics.sink import MetricsSink
from andromede.notifications.pubsub import PubSubService
from andromede.pipe_enrichments import PipeEnrichments
from andromede.pipe_functions import PipeFunctions
from andromede.pipe_log_destinations import (
    PipeLogBuckets,
    PipeLogDestinations,
    PipeLogStreams,
    PipeLogWriter,
)
from andromede.pipe_roles import PIPES_PRINCIPAL, PipeRoles
from andromede.pipe_sources import PipeSources
from andromede.pipe_state_machines import PipeStateMachines
from andromede.pipe_targets import PipeTargets
from andromede.pipes.errors import EndpointRefused
from andromede.pipes.execution_logs import log_group_name
from andromede.pipes.model import Pipe
from andromede.pipes.regional_store import RegionalPipeStore
from andromede.pipes.runner import BatchTargets, PipesRunner, RunnerPolicy
from andromede.pipes.service import MachineTypes, PipesLimits, PipesService
from andromede.pipes.store_sql import SqlPipeStore
from andromede.pipesapi.app import PipesApp
from andromede.queues.service import QueueService
from andromede.role_log_groups import RoleLogGroups
from andromede.settings import Settings
from andromede.stepfunctions.errors import StepFunctionsError
from andromede.stepfunctionsapi.app import StatesApp
from andromede.storage.service import ObjectService

__all__ = [
    "PipeLogGroups",
    "PipesMetering",
    "billed_requests",
    "machine_types",
    "pipe_api_invoker",
    "pipes_api",
]

log = logging.getLogger(__name__)

REQUESTS: Final = "pipes.requests"
NAMESPACE: Final = "AWS/EventBridge/Pipes"
_CHUNK: Final = 64 * 1024  # AWS counts each 64 KiB chunk of an event as one request
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def billed_requests(sizes: Sequence[int]) -> int:
    return sum(max(1, -(-size // _CHUNK)) for size in sizes)


class PipesMetering:
    """``pipes.runner.PipeObserver`` over billing and the metrics sink (``AWS/EventBridge/
    Pipes``, dimension ``PipeName``)."""

    def __init__(
        self,
        billing: BillingService | None,
        region: str,
        sink: MetricsSink | None = None,
        *,
        home: str | None = None,
    ) -> None:
        self._billing = billing
        self._region = region
        self._sink = sink
        # Decision 0360: another Region's series kept apart from the default Region's.
        self._home = region if home is None else home

    def sent(self, pipe: Pipe, sizes: Sequence[int]) -> None:
        if self._billing is not None and sizes:
            self._billing.count(pipe.tenant_id, self._region, REQUESTS, billed_requests(sizes))

    def executed(
        self, pipe: Pipe, events: int, size: int, failed: bool, duration_ms: float
    ) -> None:
        if self._sink is None:
            return
        dims = [("PipeName", pipe.name)]
        owner = series_owner(pipe.tenant_id, self._region, self._home)
        for name, value, unit in (
            ("Invocations", 1.0, "Count"),
            ("EventCount", float(events), "Count"),
            ("EventSize", float(size), "Bytes"),
            ("ExecutionFailed" if failed else "ExecutionSucceeded", 1.0, "Count"),
            ("TargetStageFailed" if failed else "TargetStageSucceeded", 1.0, "Count"),
            ("Duration", duration_ms, "Milliseconds"),
        ):
            self._sink.record(owner, NAMESPACE, name, dims, value, unit)


class PipeLogGroups:
    """``pipes.runner.PipeLogSink``: a pipe's execution records into its CloudWatch Logs
    group, as its role (which must trust ``pipes.amazonaws.com`` and be allowed
    ``logs:CreateLogStream`` and ``logs:PutLogEvents``), one stream a pipe; counted in
    ``logs.ingested`` as vended logs. A refusal is said at INFO, never raised."""

    def __init__(self, groups: RoleLogGroups) -> None:
        self._groups = groups

    async def write(self, pipe: Pipe, records: Sequence[dict[str, Any]]) -> None:
        name = log_group_name(pipe)
        if name is None:
            return
        events = [(int(r["timestamp"]), json.dumps(r, separators=(",", ":"))) for r in records]
        try:
            refused = await self._groups.deliver(
                pipe.tenant_id,
                pipe.role_arn,
                name,
                {f"pipes/{pipe.name}": events},
                TrustSource.of(pipe.arn),
            )
        except Exception:  # a pipe's log must not stop its events
            log.exception("Pipe %s: its execution log could not be written", pipe.arn)
            return
        if refused is not None:
            log.info("Pipe %s: its execution log was refused: %s", pipe.arn, refused)


def pipe_api_invoker(
    settings: Settings, connections: ConnectionService | None, roles: PipeRoles, region: str
) -> ApiDestinationInvoker | None:
    """EventBridge's invoker of API destinations for the pipes of ``region``, judging a pipe's
    role (trusting ``pipes.amazonaws.com``) instead of a rule target's. ``connections``: that
    Region's, and no other's (decision 0408): an API destination is found, authorised and
    called with its connection's secret in the pipe's own Region, an ARN of another Region
    finding nothing (``NO_RESOURCE``)."""
    if connections is None:
        return None

    async def role_allows(
        tenant_id: str, role_arn: str, destination_arn: str, pipe_arn: str | None
    ) -> bool:
        # The pipe's name, so that the probe's ARN is the pipe's (its trust's aws:SourceArn).
        name = "pipe" if pipe_arn is None else pipe_arn.rsplit("/", 1)[-1]
        probe = Pipe(tenant_id, name, region, "", {}, destination_arn, {}, role_arn)
        try:
            session = await roles.session(probe)
            await roles.require(session, "events:InvokeApiDestination", destination_arn)
        except (EndpointRefused, IamError):
            return False
        return True

    return ApiDestinationInvoker(
        connections,
        role_allows,
        InvocationPolicy(
            timeout=settings.events_api_destination_timeout,
            max_response=settings.events_api_destination_max_response,
            allowed=networks(settings.events_api_destination_allow_cidrs),
            allow_http=settings.events_api_destination_allow_http,
        ),
    )


def machine_types(apis: MutableMapping[str, ASGIApp]) -> MachineTypes:
    """A state machine's type as Step Functions knows it (None when it is not found or Step
    Functions is not served), for CreatePipe's and UpdatePipe's checks (decision 0316)."""

    async def machine_type(tenant_id: str, arn: str) -> str | None:
        app = apis.get(StatesApp.name)
        if not isinstance(app, StatesApp):
            return None
        try:
            target = await app.service.resolve(tenant_id, arn)
        except StepFunctionsError:
            return None
        return target.machine.machine_type.value

    return machine_type


def pipes_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None,
    queues: QueueService,
    pubsub: PubSubService,
    events: Mapping[str, EventsService],
    connections: Mapping[str, ConnectionService],
    sink: MetricsSink | None = None,
    logs: LogsService | None = None,
    objects: ObjectService | None = None,
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]]]:
    """The Pipes API app of ``serve`` put into ``apis`` (under ``pipes``, its SigV4 service),
    its runners, started, and what closing a tenant deletes of it (its pipes and their
    checkpoints). ``events`` and ``connections``: EventBridge's services and connections of
    each declared Region (decisions 0349, 0400); the pipes of a Region send to its buses and
    call its API destinations (decision 0408)."""
    home = settings.region
    store = SqlPipeStore(db)
    regions = sorted(settings.served_region_names | {home})
    services: dict[str, PipesService] = {}
    for region in regions:
        # Decision 0408: each Region's pipes apart, in one table (``pipes.regional_store``).
        view = RegionalPipeStore(store, region, home) if len(regions) > 1 else store
        service = PipesService(
            view,
            region,
            PipesLimits(max_pipes=settings.pipes_max_pipes),
            machine_types=machine_types(apis),
        )
        service.home = home
        services[region] = service
    parts = _PipeParts(apis, settings, db, identity, audit, billing, queues, pubsub, sink)
    runners = [
        parts.runner(services[region], events.get(region), connections.get(region), logs, objects)
        for region in regions
    ]
    apis[PipesApp.name] = PipesApp(
        services[home], identity, audit, settings, rate_limiter, regions=services
    )
    task = asyncio.create_task(_run_all(runners), name="pipes")
    return task, services[home].store.forget_tenant


async def _run_all(runners: Sequence[PipesRunner]) -> None:
    """Every Region's runner until cancelled (which cancels each)."""
    await asyncio.gather(*(runner.run_forever() for runner in runners))


@dataclass(frozen=True)
class _PipeParts:
    """What every Region's pipes runner shares (``serve``'s services and sinks)."""

    apis: MutableMapping[str, ASGIApp]
    settings: Settings
    db: Database
    identity: IdentityService
    audit: AuditService
    billing: BillingService | None
    queues: QueueService
    pubsub: PubSubService
    sink: MetricsSink | None

    def kinesis(self) -> KinesisService | None:
        app = self.apis.get(KinesisApp.name)
        return app.service if isinstance(app, KinesisApp) else None

    def firehose(self) -> FirehoseService | None:
        app = self.apis.get(FirehoseApp.name)
        return app.service if isinstance(app, FirehoseApp) else None

    def dynamodb(self, region: str) -> Callable[[], DynamoStreams | None]:
        """The DynamoDB streams of ``region`` (decision 0265: each served Region's own)."""

        def streams() -> DynamoStreams | None:
            app = self.apis.get(DynamoApp.name)
            if not isinstance(app, DynamoApp):
                return None
            held = app.regions.get(region)
            if held is None:
                return app.streams if region == self.settings.region else None
            return held[1]

        return streams

    def ingested(self, region: str) -> Callable[[str, int, str], None]:
        def count(tenant_id: str, size: int, meter: str) -> None:
            if self.billing is not None:
                self.billing.count(tenant_id, region, meter, size)

        return count

    def runner(
        self,
        service: PipesService,
        events: EventsService | None,
        connections: ConnectionService | None,
        logs: LogsService | None,
        objects: ObjectService | None,
    ) -> PipesRunner:
        """The runner of ``service``'s Region, its pipes' role sessions, sources, targets,
        enrichments and log destinations of that Region."""
        settings, apis, region = self.settings, self.apis, service.region
        roles = PipeRoles(self.identity, region)
        invoker = pipe_api_invoker(settings, connections, roles, region)
        functions = PipeFunctions(roles, lambda: apis.get("lambda"))  # decision 0294
        machines = PipeStateMachines(roles, lambda: apis.get(StatesApp.name))  # decision 0316
        writers: list[PipeLogWriter] = [PipeLogStreams(roles, self.firehose)]
        ingested = self.ingested(region)
        log_targets = None if logs is None else LogTargetWriter(lambda: logs, ingested)  # 0277
        if logs is not None:
            writers.append(
                PipeLogGroups(
                    RoleLogGroups(
                        self.identity,
                        logs,
                        service=PIPES_PRINCIPAL,
                        session_name="pipes",
                        audit=self.audit,
                        ingested=None if self.billing is None else ingested,
                    )
                )
            )
        if objects is not None:
            writers.append(PipeLogBuckets(roles, objects))
        bell, probe = self.db.doorbells.follower(SOURCES)  # the sources' rings (0331)
        queues = self.queues.in_region(region) or self.queues  # the Region's (0414)
        runner = PipesRunner(
            service,
            PipeSources(roles, queues, self.kinesis, region, self.dynamodb(region)),
            PipeTargets(
                roles,
                queues,
                self.pubsub,
                events,
                self.kinesis,
                self.firehose,
                None if invoker is None else invoker.send,
                region,
                log_targets,
            ),
            RunnerPolicy(
                poll_interval=settings.pipes_poll_interval,
                lease_ms=int(settings.pipes_reader_lease * 1000),
                idle_poll_max=settings.background_idle_poll_max,
            ),
            f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            PipesMetering(self.billing, region, self.sink, home=settings.region),
            PipeLogDestinations(writers),
            PipeEnrichments(
                roles,
                None
                if invoker is None
                else functools.partial(
                    invoker.invoke, answer_limit=settings.pipes_enrichment_max_response
                ),
                functions,
                machines,
            ),
            BatchTargets(functions, machines),
            bell,
            probe,
            furthest,  # the batch's trace for its enrichment and after it (decision 0364)
        )
        service.on_change = runner.wake
        return runner
