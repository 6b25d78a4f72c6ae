"""AWS Step Functions' wiring (decision 0271): the state machines' and executions' services
over the metadata database, their definitions, inputs, outputs and histories sealed under
each account's key ring (``wiring.queues.KeySealer``, the sealer SQS's messages use), a
machine's role judged by the identity service (it must be the account's and trust
``states.amazonaws.com``), the API app under ``states``, its SigV4 service, and the runner
every ``serve`` runs, its Task states calling SQS, SNS, EventBridge and Step Functions as the
machine's role (``state_tasks``), each state an execution enters counted into its account's
``stepfunctions.state-transitions``."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.db.doorbells import STEP_FUNCTIONS
from andromede.http.ratelimit import RateLimiter
from andromede.iam.service import IdentityService
from andromede.iam.service_roles import TrustSource, trusted_role
from andromede.kms.service import KeyService
from andromede.logs.service import LogsService
from andromede.metrics.sink import MetricsSink
from andromede.notifications.pubsub import PubSubService
from andromede.queues.service import QueueService
from andromede.role_log_groups import RoleLogGroups
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.state_map_runs import MapRunBounds, StateMapRuns
from andromede.state_tasks import RoleSessions, StateTasks
from andromede.stepfunctions.activity_service import ActivitiesService, ActivityLimits
from andromede.stepfunctions.activity_store_sql import SqlActivityStore
from andromede.stepfunctions.distributed_map import MapRunHost
from andromede.stepfunctions.execution_logs import log_group_name, log_records
from andromede.stepfunctions.execution_service import ExecutionLimits, ExecutionsService
from andromede.stepfunctions.execution_store_sql import SqlExecutionStore
from andromede.stepfunctions.executions import Execution, HistoryEvent
from andromede.stepfunctions.express import SyncExecutions
from andromede.stepfunctions.halting import StopSignals
from andromede.stepfunctions.map_child_store_sql import SqlMapChildStore
from andromede.stepfunctions.map_children import (
    MapChildStore,
    abort_running_children,
    forget_execution_runs,
)
from andromede.stepfunctions.map_run_store_sql import SqlMapRunStore
from andromede.stepfunctions.map_runs import ABORTED, MapRunStore, abort_running
from andromede.stepfunctions.runner import ExecutionsRunner, RunnerPolicy
from andromede.stepfunctions.service import (
    STATES_PRINCIPAL,
    RoleCheck,
    StateMachineLimits,
    StateMachinesService,
)
from andromede.stepfunctions.store_sql import SqlStateMachineStore
from andromede.stepfunctions.variables import VariableLimits
from andromede.stepfunctions.version_service import VersionLimits, VersionsService
from andromede.stepfunctions.version_store_sql import SqlVersionStore
from andromede.stepfunctionsapi.app import StatesApp
from andromede.storage.service import ObjectService
from andromede.wiring.events import EventsParts
from andromede.wiring.queues import KeySealer

__all__ = [
    "MachineLogGroups",
    "TransitionBilling",
    "execution_limits",
    "runner_policy",
    "states_api",
    "states_limits",
    "trusting_roles",
]

log = logging.getLogger(__name__)

TRANSITIONS: Final = "stepfunctions.state-transitions"
NAMESPACE: Final = "AWS/States"
_ENDED: Final = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "ABORTED": "ExecutionsAborted",
    "TIMED_OUT": "ExecutionsTimedOut",
}


def states_limits(settings: Settings) -> StateMachineLimits:
    return StateMachineLimits(
        max_state_machines=settings.stepfunctions_max_state_machines,
        max_definition_size=settings.stepfunctions_max_definition_size,
    )


def runner_policy(settings: Settings) -> RunnerPolicy:
    return RunnerPolicy(
        pass_interval=settings.stepfunctions_pass_interval,
        lease_ms=int(settings.stepfunctions_execution_lease * 1000),
        retention_ms=settings.stepfunctions_execution_retention_days * 86_400_000,
        variables=variable_limits(settings),
    )


def variable_limits(settings: Settings) -> VariableLimits:
    """Workflow variables' sizes (decision 0329)."""
    return VariableLimits(
        variable_size=settings.stepfunctions_max_variable_size,
        assign_size=settings.stepfunctions_max_assign_size,
        total_size=settings.stepfunctions_max_variables_size,
    )


def execution_limits(settings: Settings) -> ExecutionLimits:
    return ExecutionLimits(
        max_payload_size=settings.stepfunctions_max_payload_size,
        max_history_events=settings.stepfunctions_max_history_events,
        redrive_window_ms=settings.stepfunctions_redrive_days * 86_400_000,
        stop_wait=settings.stepfunctions_stop_wait,
    )


class TransitionBilling:
    """``stepfunctions.runner.TransitionMeter`` over billing and the metrics sink: each state
    entered into ``stepfunctions.state-transitions``; AWS's ``AWS/States`` metrics per state
    machine (dimension ``StateMachineArn``): ``ExecutionsStarted``, ``ExecutionsSucceeded``,
    ``ExecutionsFailed``, ``ExecutionsAborted``, ``ExecutionsTimedOut``, ``ExecutionTime``
    (milliseconds)."""

    def __init__(
        self, billing: BillingService | None, region: str, sink: MetricsSink | None = None
    ) -> None:
        self._billing = billing
        self._region = region
        self._sink = sink

    def transitions(self, execution: Execution, count: int) -> None:
        if self._billing is not None:
            self._billing.count(execution.tenant_id, self._region, TRANSITIONS, count)

    def started(self, execution: Execution) -> None:
        self._record(execution, "ExecutionsStarted", 1.0, "Count")

    def ended(self, execution: Execution) -> None:
        name = _ENDED.get(execution.status.value)
        if name is not None:
            self._record(execution, name, 1.0, "Count")
        if execution.stopped is not None:
            elapsed = float(execution.stopped - execution.started)
            self._record(execution, "ExecutionTime", elapsed, "Milliseconds")

    def _record(self, execution: Execution, name: str, value: float, unit: str) -> None:
        if self._sink is not None:
            dims = [("StateMachineArn", execution.machine_arn)]
            self._sink.record(execution.tenant_id, NAMESPACE, name, dims, value, unit)


class MachineLogGroups:
    """``stepfunctions.runner.ExecutionLogs``: an execution's records into its machine's
    CloudWatch Logs group as the machine's role (which must trust ``states.amazonaws.com`` and
    be allowed ``logs:CreateLogStream`` and ``logs:PutLogEvents``), one stream an execution
    (``states/<machine>/<execution>``); metered ``logs.ingested`` as vended logs. A refusal is
    said at INFO, never raised."""

    def __init__(self, groups: RoleLogGroups) -> None:
        self._groups = groups

    async def write(
        self, execution: Execution, logging: dict[str, Any], events: list[HistoryEvent]
    ) -> None:
        name = log_group_name(logging)
        records = log_records(execution, logging, events)
        if name is None or not records:
            return
        stream = f"states/{execution.machine_name}/{execution.name}"[:512]
        try:
            refused = await self._groups.deliver(
                execution.tenant_id,
                execution.role_arn,
                name,
                {stream: records},
                TrustSource.of(execution.machine_arn),
            )
        except Exception:  # an execution's log must not stop it
            log.exception("Execution %s: its log could not be written", execution.arn)
            return
        if refused is not None:
            log.info("Execution %s: its log was refused: %s", execution.arn, refused)


def trusting_roles(identity: IdentityService) -> RoleCheck:
    """Whether a role is the account's and trusts Step Functions for a state machine (its
    ``aws:SourceArn``, its account ``aws:SourceAccount``), as the identity service knows it."""

    async def trusted(tenant_id: str, role_arn: str, machine_arn: str) -> bool:
        source = TrustSource.of(machine_arn)
        return (
            await trusted_role(identity, tenant_id, role_arn, STATES_PRINCIPAL, source) is not None
        )

    return trusted


def aborting_map_runs(
    store: MapRunStore, children: MapChildStore | None = None
) -> Callable[[Execution], Awaitable[None]]:
    """What an execution's end does to its Map runs still RUNNING: ABORTED (decision 0322),
    and to their children still RUNNING (decision 0369)."""

    async def abort(execution: Execution) -> None:
        now = execution.stopped or int(time.time() * 1000)
        if not await abort_running(store, execution.tenant_id, execution.arn, now):
            return  # no run was left running: neither were its children
        for run in await store.list_for_execution(execution.tenant_id, execution.arn):
            if children is not None and run.status == ABORTED:
                await abort_running_children(children, execution.tenant_id, run.arn, now)

    return abort


def purging_map_runs(
    store: MapRunStore, children: MapChildStore | None, batch: int
) -> Callable[[str, str], Awaitable[None]]:
    """What goes with an execution purged at ``stepfunctions_execution_retention_days``: its
    Map runs and their children (decision 0372)."""

    async def purge(tenant_id: str, execution_arn: str) -> None:
        await forget_execution_runs(store, children, tenant_id, execution_arn, batch)

    return purge


def map_run_host(
    settings: Settings,
    identity: IdentityService,
    audit: AuditService,
    objects: ObjectService | None,
    store: MapRunStore,
    children: MapChildStore | None = None,
    stops: StopSignals | None = None,
) -> Callable[[RoleSessions], MapRunHost] | None:
    """The distributed Maps' host (decision 0322), where S3 is served: made with the task
    runner's role sessions; ``stops``: the executions' (a child's stop rung there, 0407)."""
    if objects is None:
        return None
    present = objects
    bounds = MapRunBounds(
        max_bytes=settings.stepfunctions_item_reader_max_bytes,
        max_items=settings.stepfunctions_map_run_max_items,
        max_concurrency=settings.stepfunctions_map_run_max_concurrency,
        children_kept=settings.stepfunctions_map_run_children_kept,
        redrive_window_ms=settings.stepfunctions_redrive_days * 86_400_000,
        max_history_events=settings.stepfunctions_max_history_events,
    )
    authoriser = S3Authoriser(identity.policies_for, settings.region)

    def made(sessions: RoleSessions) -> MapRunHost:
        return StateMapRuns(present, authoriser, sessions, store, bounds, audit, children, stops)

    return made


def states_api(
    apis: MutableMapping[str, Any],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    billing: BillingService | None = None,
    queues: QueueService | None = None,
    pubsub: PubSubService | None = None,
    eventbridge: EventsParts | None = None,
    sink: MetricsSink | None = None,
    logs: LogsService | None = None,
    objects: ObjectService | None = None,
) -> tuple[asyncio.Task[None], Callable[[str], Awaitable[int]]]:
    """The Step Functions app of ``serve`` put into ``apis`` (under ``states``), its runner,
    started, and what closing a tenant deletes of it (its state machines and executions)."""
    sealer = KeySealer(keys)
    machines = StateMachinesService(
        SqlStateMachineStore(db, sealer),
        settings.region,
        trusting_roles(identity),
        states_limits(settings),
    )
    versions = VersionsService(
        machines,
        SqlVersionStore(db, sealer),
        VersionLimits(
            max_versions=settings.stepfunctions_max_versions,
            max_aliases=settings.stepfunctions_max_aliases,
        ),
    )
    machines.versions = versions.store
    executions = ExecutionsService(
        SqlExecutionStore(db, sealer), machines, execution_limits(settings)
    )

    async def start_child(
        tenant_id: str, params: dict[str, Any], parent: dict[str, Any] | None
    ) -> tuple[str, int]:
        child = await executions.start(tenant_id, params, parent)
        return child.arn, child.started

    def dynamodb() -> Any:
        return apis.get("dynamodb")  # made before or after this (``serve``'s order)

    def lambdas() -> Any:
        return apis.get("lambda")  # Lambda's app, called as the role (decision 0294)

    map_runs = SqlMapRunStore(db)
    map_children = SqlMapChildStore(db, sealer)  # sealed as the executions are (0369)
    tasks = StateTasks(
        identity, audit, settings.region, queues, pubsub,
        None if eventbridge is None else eventbridge.service, start_child, dynamodb, lambdas,
        map_run_host(settings, identity, audit, objects, map_runs, map_children,
                     executions.stops),
    )  # fmt: skip
    observer = TransitionBilling(billing, settings.region, sink)
    runner = ExecutionsRunner(
        executions,
        # Idle, the passes back off to the ceiling (decision 0326).
        dataclasses.replace(
            runner_policy(settings), idle_poll_max=settings.background_idle_poll_max
        ),
        f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        tasks=tasks,
        meter=observer,
        doorbell=db.doorbells.of(STEP_FUNCTIONS),  # other gateways' commits ring it (0331)
        purged_with=purging_map_runs(map_runs, map_children, runner_policy(settings).batch),
        logs=None
        if logs is None
        else MachineLogGroups(
            RoleLogGroups(
                identity,
                logs,
                service=STATES_PRINCIPAL,
                session_name="states",
                audit=audit,
                ingested=None
                if billing is None
                else (
                    lambda tenant, size, meter: billing.count(tenant, settings.region, meter, size)
                ),
            )
        ),
    )
    executions.on_start = runner.wake
    executions.on_due = runner.due_at
    executions.observe_end = aborting_map_runs(map_runs, map_children)
    executions.observe_start = observer.started
    activities = ActivitiesService(
        SqlActivityStore(db),
        executions,
        ActivityLimits(
            max_activities=settings.stepfunctions_max_activities,
            poll_timeout=settings.stepfunctions_activity_poll_timeout,
            poll_interval=min(1.0, settings.stepfunctions_pass_interval),
        ),
    )
    sync = SyncExecutions(
        machines,
        tasks,
        settings.stepfunctions_max_payload_size,
        max_seconds=settings.stepfunctions_express_max_seconds,
        variables=variable_limits(settings),
    )
    apis[StatesApp.name] = StatesApp(machines, identity, audit, settings, rate_limiter,
                                     executions=executions, activities=activities,
                                     sync=sync, versions=versions,
                                     map_runs=map_runs,
                                     map_children=map_children)  # fmt: skip

    async def forget(tenant_id: str) -> int:
        await executions.store.forget_tenant(tenant_id)
        await activities.store.forget_tenant(tenant_id)
        await versions.store.forget_tenant(tenant_id)
        await map_runs.forget_tenant(tenant_id)
        await map_children.forget_tenant(tenant_id)
        return await machines.store.forget_tenant(tenant_id)

    task = asyncio.create_task(runner.run_forever(), name="stepfunctions")
    return task, forget
