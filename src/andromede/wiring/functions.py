"""AWS Lambda's wiring (decision 0286): the functions service over the metadata database,
its code and environments sealed under the account's key ring (the queues' sealer), the
runtimes this host can run (the ``python3.x`` interpreters on its ``PATH``), a role checked
against the identity service (the account's, trusting ``lambda.amazonaws.com``), code read
from the account's buckets as the caller, and its REST-JSON app put into ``apis`` under
``lambda``, the SigV4 service its calls are signed for. Invocations run in this host's
bubblewrap sandboxes (when ``bwrap`` is installed) with the execution role's session, log
to CloudWatch Logs, are metered, and the queued Event invocations are run by a worker
started into ``background``; with the queues, the event source mappings (decision 0295) are
served and polled by a poller started into ``background`` too, Kinesis and DynamoDB streams
among their sources (decision 0301: the streams found among ``apis``, OnFailure records to
SQS, or SNS through ``pubsub``)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodbapi.app import DynamoApp
from andromede.function_code_buckets import BucketCode
from andromede.function_invocations import NotifiedFunctions, lambda_invocations
from andromede.function_log_groups import FunctionLogGroups
from andromede.function_sources import FunctionRoles, MappingPoller, source_access
from andromede.function_streams import (
    FailureDestinations,
    InvokerFunctions,
    StreamAccess,
    StreamPoller,
    destination_access,
)
from andromede.functions.code import CodeLimits
from andromede.functions.event_queue import EventWorker
from andromede.functions.event_queue_sql import SqlEventQueue
from andromede.functions.invoker import Invoker, RoleCredentials
from andromede.functions.mapping_service import EventSourceMappings
from andromede.functions.mappings_sql import SqlMappingStore
from andromede.functions.sandbox import SandboxLimits, SandboxPool
from andromede.functions.service import (
    LAMBDA_PRINCIPAL,
    FunctionLimits,
    FunctionsService,
    RoleCheck,
)
from andromede.functions.service_invoke import INVOKE_ACTION, ServiceAudit, ServiceInvocations
from andromede.functions.store_sql import SqlFunctionStore
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.errors import IamError
from andromede.iam.policy.service_grants import service_may
from andromede.iam.service import IdentityService
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.service import KeyService
from andromede.lambdaapi.app import LambdaApp
from andromede.lambdaapi.invoke_actions import invoke_actions
from andromede.lambdaapi.mapping_actions import mapping_actions
from andromede.logs.service import LogsService
from andromede.notifications.delivery import Deliverer
from andromede.notifications.pubsub import PubSubService
from andromede.queues.service import QueueService
from andromede.replication_grants import role_trusts
from andromede.s3.authorise import S3Authoriser
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.stream_reading import StreamReader
from andromede.wiring.queues import KeySealer

__all__ = [
    "function_limits",
    "host_runtimes",
    "lambda_api",
    "mapping_poll_policy",
    "notified_functions",
    "role_sessions",
    "sandbox_limits",
    "service_audit",
    "trusting_roles",
]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The Python runtimes AWS offers, newest first; a host serves those it has an interpreter of.
PYTHON_RUNTIMES: Final = ("python3.13", "python3.12", "python3.11", "python3.10", "python3.9")


def host_runtimes() -> tuple[str, ...]:
    """The ``python3.x`` runtimes whose interpreter this host has."""
    return tuple(r for r in PYTHON_RUNTIMES if shutil.which(r) is not None)


def function_limits(settings: Settings, runtimes: tuple[str, ...]) -> FunctionLimits:
    return FunctionLimits(
        runtimes=runtimes,
        code=CodeLimits(
            max_zip_bytes=settings.lambda_max_zip_bytes,
            max_unzipped_bytes=settings.lambda_max_unzipped_bytes,
        ),
        max_code_storage=settings.lambda_code_storage_bytes,
        max_environment_bytes=settings.lambda_max_environment_bytes,
        max_policy_bytes=settings.lambda_max_policy_bytes,
        concurrency_limit=settings.lambda_concurrency_limit,
    )


def trusting_roles(identity: IdentityService) -> RoleCheck:
    """Whether a role is the account's and trusts Lambda, as the identity service knows it."""

    async def trusted(tenant_id: str, role_arn: str) -> bool:
        try:
            role = await identity.get_role_by_arn(role_arn)
        except IamError:
            return False
        return role.tenant_id == tenant_id and role_trusts(
            role.assume_role_policy_document, LAMBDA_PRINCIPAL
        )

    return trusted


def sandbox_limits(settings: Settings) -> SandboxLimits:
    return SandboxLimits(
        idle_seconds=settings.lambda_idle_seconds,
        max_processes=settings.lambda_sandbox_processes,
        max_files=settings.lambda_sandbox_files,
    )


def role_sessions(identity: IdentityService) -> RoleCredentials:
    """The execution role's temporary credentials, as Lambda assumes the role for each
    execution environment; none when the role no longer trusts Lambda (the function then
    runs without credentials, as AWS's would fail to)."""

    async def credentials(tenant_id: str, role_arn: str, session: str) -> Mapping[str, str]:
        try:
            role = await identity.get_role_by_arn(role_arn)
            if role.tenant_id != tenant_id:
                return {}
            issued = await identity.issue_service_role_credentials(role, LAMBDA_PRINCIPAL, session)
        except IamError:
            return {}
        return {
            "AWS_ACCESS_KEY_ID": issued.access_key_id,
            "AWS_SECRET_ACCESS_KEY": issued.secret_access_key,
            "AWS_SESSION_TOKEN": issued.session_token,
        }

    return credentials


def service_audit(audit: AuditService) -> ServiceAudit:
    """A service's invocation of a function (decision 0293) in the function's account's
    trail: the service its principal, ``lambda:InvokeFunction`` on the function's ARN, the
    rule, topic or bucket it was for."""

    def record(
        tenant_id: str, service: str, function_arn: str, source_arn: str, error: str | None
    ) -> None:
        details = {"invoked_by": service, "source_arn": source_arn[:2048]}
        if error is not None:
            details["error"] = error
        audit.record(
            request_id=uuid.uuid4().hex.upper()[:16],
            tenant_id=tenant_id,
            principal=service,
            action=INVOKE_ACTION,
            resource=function_arn[:2048],
            outcome=Outcome.FAILURE if error is not None else Outcome.SUCCESS,
            details=details,
        )

    return record


class _Metering:
    def __init__(self, billing: BillingService, region: str) -> None:
        self._billing = billing
        self._region = region

    def count(self, tenant_id: str, meter: str, quantity: int) -> None:
        self._billing.count(tenant_id, self._region, meter, quantity)


def notified_functions(deliverer: Deliverer) -> NotifiedFunctions:
    """The Lambda functions SNS's ``lambda`` subscriptions and S3's ``CloudFunction``
    notifications invoke through the notification worker (decision 0293), bound to Lambda
    by :func:`lambda_api`."""
    found = NotifiedFunctions()
    deliverer.functions = found
    return found


def lambda_api(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    db: Database,
    keys: KeyService,
    identity: IdentityService,
    audit: AuditService,
    rate_limiter: RateLimiter | None,
    objects: ObjectService | None,
    logs: LogsService | None = None,
    billing: BillingService | None = None,
    background: list[asyncio.Task[None]] | None = None,
    notified: NotifiedFunctions | None = None,
    queues: QueueService | None = None,
    pubsub: PubSubService | None = None,
) -> Callable[[str], Awaitable[int]]:
    """Lambda's app of ``serve`` put into ``apis``, and what closing a tenant deletes of it
    (its functions, versions, code and queued invocations); with ``background``, the worker
    of the queued Event invocations started into it."""
    store = SqlFunctionStore(db)
    service = FunctionsService(
        store,
        settings.region,
        KeySealer(keys),
        trusting_roles(identity),
        function_limits(settings, host_runtimes()),
        None
        if objects is None
        else BucketCode(
            objects,
            S3Authoriser(identity.policies_for, settings.region),
            settings.lambda_max_zip_bytes,
        ),
    )
    queue = SqlEventQueue(db)
    ingested = None if billing is None else _ingested(billing, settings.region)
    invoker = Invoker(
        service,
        SandboxPool(sandbox_limits(settings)),
        role_sessions(identity),
        None if logs is None else FunctionLogGroups(logs, ingested=ingested),
        None if billing is None else _Metering(billing, settings.region),
        queue,
    )
    actions = invoke_actions(
        invoker, settings.lambda_max_payload_bytes, settings.lambda_max_event_payload_bytes
    )
    mapping_store = SqlMappingStore(db)
    poller = None
    if queues is not None:
        roles = FunctionRoles(identity, settings.region)
        streams = _stream_mappings(apis, settings, roles, queues, pubsub, mapping_store, invoker)
        mappings = EventSourceMappings(
            mapping_store,
            service,
            source_access(roles, queues, streams.access.refusal),
            destination_check=destination_access(streams.access),
        )
        actions |= mapping_actions(mappings)
        interval, lease_ms = mapping_poll_policy(settings)
        poller = MappingPoller(
            mappings,
            roles,
            queues,
            invoker,
            "",
            poll_interval=interval,
            lease_ms=lease_ms,
            streams=streams,
        )
    app = LambdaApp(service, identity, audit, settings, rate_limiter, extra_actions=actions)
    app.invocations = ServiceInvocations(service, invoker, service_may, service_audit(audit))
    apis[LambdaApp.name] = app
    if notified is not None:  # SNS's lambda subscriptions, S3's functions (0293)
        notified.find = lambda_invocations(apis)
    if background is not None:
        owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        worker = EventWorker(
            queue, invoker.run_queued, owner, poll_interval=settings.lambda_event_poll_interval
        )
        background.append(asyncio.create_task(worker.run_forever(), name="lambda-events"))
        if poller is not None:
            poller.owner = owner
            background.append(asyncio.create_task(poller.run_forever(), name="lambda-mappings"))

    async def forget(tenant_id: str) -> int:
        await queue.forget_tenant(tenant_id)
        await mapping_store.forget_tenant(tenant_id)
        return await store.forget_tenant(tenant_id)

    return forget


def _stream_mappings(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    roles: FunctionRoles,
    queues: QueueService,
    pubsub: PubSubService | None,
    store: SqlMappingStore,
    invoker: Invoker,
) -> StreamPoller:
    """The poller's part for Kinesis and DynamoDB stream mappings (decision 0301): the
    streams found among ``apis`` when read (made after Lambda's app or not served)."""

    def kinesis() -> KinesisService | None:
        app = apis.get(KinesisApp.name)
        return app.service if isinstance(app, KinesisApp) else None

    def dynamodb() -> DynamoStreams | None:
        app = apis.get(DynamoApp.name)
        return app.streams if isinstance(app, DynamoApp) else None

    access = StreamAccess(roles, kinesis, dynamodb)
    return StreamPoller(
        store,
        access,
        StreamReader(kinesis, dynamodb, settings.region),
        InvokerFunctions(invoker),
        FailureDestinations(roles, access, queues, pubsub),
    )


def mapping_poll_policy(settings: Settings) -> tuple[float, int]:
    """(seconds between the mapping poller's passes, its lease in ms)."""
    return settings.lambda_mapping_poll_interval, settings.lambda_mapping_lease_seconds * 1000


def _ingested(billing: BillingService, region: str) -> Callable[[str, int, str], None]:
    def ingested(tenant_id: str, size: int, meter: str) -> None:
        billing.count(tenant_id, region, meter, size)

    return ingested
