"""AWS Lambda's wiring (decision 0286): the functions service over the metadata database,
its code and environments sealed under the account's key ring (the queues' sealer), the
runtimes this host can run (the ``python3.x`` interpreters on its ``PATH``), a role checked
against the identity service (the account's, trusting ``lambda.amazonaws.com``), code read
from the account's buckets as the caller, and its REST-JSON app put into ``apis`` under
``lambda``, the SigV4 service its calls are signed for. Invocations run in this host's
bubblewrap sandboxes (when ``bwrap`` is installed) with the execution role's session, log
to CloudWatch Logs, are metered, and the queued Event invocations are run by a worker
started into ``background``; with the queues, the event source mappings (decision 0295) are
served and polled by a poller started into ``background`` too. The asynchronous invocation
configurations (decision 0300) are served, and the Event worker applies them: retries, the
events' maximum age, the destinations and dead-letter queues, sent as the function's
execution role through the APIs in ``apis``. Layers (decision 0302) are kept beside the
functions, their content sealed as the functions' code. Function URLs (decision 0312,
``wiring.function_urls``) are served under ``lambda-url``. Kinesis and DynamoDB streams are
among the mappings' sources (decision 0301: the streams found among ``apis``, OnFailure
records to SQS, or SNS through ``pubsub``). Provisioned concurrency (decision 0314) is
served, and a task started into ``background`` keeps the configured sandboxes initialised.
The invocations' ``AWS/Lambda`` metrics (decision 0323) go into the platform's metrics sink.
AWS Signer and code signing (decision 0386, ``wiring.signer``) are served beside Lambda.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Final

from andromede.audit.model import Outcome
from andromede.audit.service import AuditService
from andromede.billing.service import BillingService
from andromede.db.database import Database
from andromede.db.doorbells import LAMBDA_EVENTS, SOURCES
from andromede.dynamodb.stream_service import DynamoStreams
from andromede.dynamodbapi.app import DynamoApp
from andromede.function_buckets import BucketRecords
from andromede.function_code_buckets import BucketCode
from andromede.function_deliveries import Channel, RecordSender, api_channels
from andromede.function_destinations import FunctionDestinations, destination_access
from andromede.function_invocations import (
    NotifiedFunctions,
    RotationFunctionInvoker,
    lambda_invocations,
)
from andromede.function_log_groups import FunctionLogGroups
from andromede.function_sources import FunctionRoles, MappingPoller, source_access
from andromede.function_streams import (
    FailureDestinations,
    InvokerFunctions,
    StreamAccess,
    StreamPoller,
)
from andromede.function_streams import (
    destination_access as stream_destination_access,
)
from andromede.functions.api_relay import ApiRelay
from andromede.functions.async_invocations import AsyncInvocations, RetryPolicy
from andromede.functions.code import CodeLimits
from andromede.functions.event_queue import EventWorker
from andromede.functions.event_queue_sql import SqlEventQueue
from andromede.functions.invocation_metrics import FunctionMetrics
from andromede.functions.invoke_config_service import EventInvokeConfigs
from andromede.functions.invoke_configs_sql import SqlInvokeConfigStore
from andromede.functions.invoker import Invoker, RoleCredentials
from andromede.functions.layer_service import LayersService
from andromede.functions.layer_store_sql import SqlLayerStore
from andromede.functions.mapping_service import EventSourceMappings
from andromede.functions.mappings_sql import SqlMappingStore
from andromede.functions.provisioned_service import ProvisionedConcurrency
from andromede.functions.provisioned_sql import SqlProvisionedStore
from andromede.functions.provisioning import Provisioning
from andromede.functions.sandbox import RUNTIME_PATH, SandboxLimits, SandboxPool
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
from andromede.iam.service_roles import TrustSource, trusted_role
from andromede.kinesis.service import KinesisService
from andromede.kinesisapi.app import KinesisApp
from andromede.kms.service import KeyService
from andromede.lambdaapi.access_actions import ACCESS_ACTIONS
from andromede.lambdaapi.actions import FUNCTION_ACTIONS
from andromede.lambdaapi.app import LambdaApp
from andromede.lambdaapi.invoke_actions import invoke_actions
from andromede.lambdaapi.invoke_config_actions import invoke_config_actions
from andromede.lambdaapi.invoke_variants import invoke_variants
from andromede.lambdaapi.layer_actions import layer_actions
from andromede.lambdaapi.mapping_actions import mapping_actions
from andromede.lambdaapi.provisioned_actions import provisioned_actions
from andromede.logs.service import LogsService
from andromede.metrics.sink import MetricsSink
from andromede.notifications.delivery import Deliverer
from andromede.notifications.pubsub import PubSubService
from andromede.queues.service import QueueService
from andromede.s3.app import S3App
from andromede.s3.authorise import S3Authoriser
from andromede.secretsapi.app import SecretsApp
from andromede.settings import Settings
from andromede.storage.service import ObjectService
from andromede.stream_reading import StreamReader
from andromede.wiring.function_urls import function_urls
from andromede.wiring.object_lambda import object_lambda
from andromede.wiring.queues import KeySealer
from andromede.wiring.signer import code_signing

__all__ = [
    "api_relay",
    "function_limits",
    "host_runtimes",
    "lambda_api",
    "mapping_poll_policy",
    "notified_functions",
    "retry_policy",
    "role_sessions",
    "runtime_sdk",
    "sandbox_limits",
    "service_audit",
    "trusting_roles",
]

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
# The Python runtimes AWS offers, newest first; a host serves those it has an interpreter of.
PYTHON_RUNTIMES: Final = ("python3.13", "python3.12", "python3.11", "python3.10", "python3.9")
# boto3 and what it imports, as AWS's Python runtimes carry them (decision 0303).
RUNTIME_SDK: Final = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def host_runtimes() -> tuple[str, ...]:
    """The ``python3.x`` runtimes whose interpreter this host has where the sandbox finds it."""
    return tuple(r for r in PYTHON_RUNTIMES if shutil.which(r, path=RUNTIME_PATH) is not None)


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
        source = TrustSource(account=tenant_id)  # Lambda gives no aws:SourceArn (0321)
        return (
            await trusted_role(identity, tenant_id, role_arn, LAMBDA_PRINCIPAL, source) is not None
        )

    return trusted


def sandbox_limits(settings: Settings, relay: ApiRelay | None = None) -> SandboxLimits:
    return SandboxLimits(
        idle_seconds=settings.lambda_idle_seconds,
        max_processes=settings.lambda_sandbox_processes,
        max_files=settings.lambda_sandbox_files,
        api_socket=None if relay is None else relay.path,
        relay_idle_timeout=settings.lambda_relay_idle_timeout,
        runtime_modules=runtime_sdk(),
    )


def runtime_sdk() -> tuple[tuple[str, str], ...]:
    """The AWS SDK for Python a runtime carries, as AWS's Python runtimes carry boto3 in
    ``/var/runtime`` (decision 0303): the host's own packages (pure Python), bound read-only
    into each sandbox; those the host lacks are left out."""
    found: list[tuple[str, str]] = []
    for name in RUNTIME_SDK:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if spec.submodule_search_locations:
            found.append((str(origin.parent), name))
        else:
            found.append((str(origin), origin.name))
    return tuple(found)


def api_relay(settings: Settings, background: list[asyncio.Task[None]]) -> ApiRelay | None:
    """The gateway's API as the sandboxes reach it (decision 0303), served into
    ``background``; None when the operator turned it off (``lambda_api_relay``)."""
    if not settings.lambda_api_relay:
        return None
    relay = ApiRelay(
        settings.s3_host,
        settings.s3_port,
        tls=settings.tls_cert is not None,
        idle_timeout=settings.lambda_relay_idle_timeout,
    )
    background.append(asyncio.create_task(relay.serve(), name="lambda-api-relay"))
    return relay


def role_sessions(identity: IdentityService) -> RoleCredentials:
    """The execution role's temporary credentials, as Lambda assumes the role for each
    execution environment; none when the role no longer trusts Lambda (the function then
    runs without credentials, as AWS's would fail to)."""

    async def credentials(tenant_id: str, role_arn: str, session: str) -> Mapping[str, str]:
        try:
            role = await identity.get_role_by_arn(role_arn)
            if role.tenant_id != tenant_id:
                return {}
            # Decision 0321: Lambda gives its account (no aws:SourceArn) to the trust policy.
            issued = await identity.issue_service_role_credentials(
                role, LAMBDA_PRINCIPAL, session, TrustSource(account=tenant_id).keys()
            )
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
    metrics: MetricsSink | None = None,
    s3: S3App | None = None,
) -> Callable[[str], Awaitable[int]]:
    """Lambda's app of ``serve`` put into ``apis``, and what closing a tenant deletes of it
    (its functions, versions, code and queued invocations); with ``background``, the worker
    of the queued Event invocations started into it; with ``metrics``, the platform's sink
    its ``AWS/Lambda`` metrics are recorded into (decision 0323); ``s3``, the S3 API Object
    Lambda access points pass operations on to and take their aliases from (0399)."""
    store = SqlFunctionStore(db)
    roles = FunctionRoles(identity, settings.region)
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
        dead_letter_check=destination_access(roles),
    )
    layer_store = SqlLayerStore(db)
    layers = LayersService(layer_store, service, settings.lambda_max_function_layers)
    service.layers = layers
    queue = SqlEventQueue(db)
    ingested = None if billing is None else _ingested(billing, settings.region)
    relay = None if background is None else api_relay(settings, background)
    pool = SandboxPool(sandbox_limits(settings, relay))
    invoker = Invoker(
        service,
        pool,
        role_sessions(identity),
        None if logs is None else FunctionLogGroups(logs, ingested=ingested),
        None if billing is None else _Metering(billing, settings.region),
        queue,
    )
    if metrics is not None:
        invoker.metrics = FunctionMetrics(metrics)
    actions = invoke_actions(
        invoker, settings.lambda_max_payload_bytes, settings.lambda_max_event_payload_bytes
    )
    actions |= invoke_variants(  # decision 0313
        invoker,
        settings.lambda_max_payload_bytes,
        settings.lambda_max_event_payload_bytes,
        settings.lambda_max_streamed_response_bytes,
    )
    config_store = SqlInvokeConfigStore(db)
    buckets = _bucket_records(settings, identity, objects, audit, billing)  # decision 0311
    configs = EventInvokeConfigs(config_store, service, destination_access(roles, buckets))
    actions |= invoke_config_actions(configs, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS})
    actions |= layer_actions(layers)
    provisioned_store = SqlProvisionedStore(db)
    provisioned = ProvisionedConcurrency(provisioned_store, service)
    actions |= provisioned_actions(provisioned, {**FUNCTION_ACTIONS, **ACCESS_ACTIONS, **actions})
    forget_urls = function_urls(
        apis, actions, settings, db, service, invoker, identity, audit, rate_limiter
    )
    forget_signing = code_signing(  # decision 0386
        apis, actions, settings, db, keys, service, objects, identity, audit, rate_limiter
    )
    mapping_store = SqlMappingStore(db)
    poller = None
    if queues is not None:
        sender = RecordSender(roles, api_channels(apis) | _bucket_channel(buckets), audit)
        streams = _stream_mappings(
            apis, settings, roles, queues, pubsub, mapping_store, invoker, sender, buckets, service
        )
        streams.metrics = invoker.metrics  # IteratorAge, the event counts (decision 0323)
        mappings = EventSourceMappings(
            mapping_store,
            service,
            source_access(roles, queues, streams.access.refusal),
            destination_check=stream_destination_access(streams.access),
        )
        actions |= mapping_actions(mappings)
        interval, lease_ms = mapping_poll_policy(settings)
        bell, probe = db.doorbells.follower(SOURCES)  # the sources' rings (decision 0331)
        poller = MappingPoller(
            mappings,
            roles,
            queues,
            invoker,
            "",
            poll_interval=interval,
            lease_ms=lease_ms,
            streams=streams,
            idle_poll_max=settings.background_idle_poll_max,
            doorbell=bell,
            probe=probe,
        )
        mappings.on_change = poller.wake  # a mapping written: settled and polled at once
    app = LambdaApp(service, identity, audit, settings, rate_limiter, extra_actions=actions)
    invocations = ServiceInvocations(service, invoker, service_may, service_audit(audit))
    app.invocations = invocations
    apis[LambdaApp.name] = app
    # S3 Object Lambda's functions, run for the caller (decision 0384).
    object_lambda(apis, settings, db, identity, audit, rate_limiter, invocations, background, s3,
        metrics)  # fmt: skip
    if notified is not None:  # SNS's lambda subscriptions, S3's functions (0293)
        notified.find = lambda_invocations(apis)
    secrets = apis.get(SecretsApp.name)
    if isinstance(secrets, SecretsApp):  # Secrets Manager's rotation functions (0303)
        secrets.service.rotation.functions = RotationFunctionInvoker(lambda_invocations(apis))
    if background is not None:
        owner = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        runner = AsyncInvocations(
            service,
            invoker,
            config_store,
            FunctionDestinations(roles, apis, audit, settings.region, buckets),
            retry_policy(settings),
        )
        worker = EventWorker(
            queue,
            runner,
            owner,
            poll_interval=settings.lambda_event_poll_interval,
            idle_poll_max=settings.background_idle_poll_max,
            doorbell=db.doorbells.of(LAMBDA_EVENTS),
        )
        background.append(asyncio.create_task(worker.run_forever(), name="lambda-events"))
        background.append(asyncio.create_task(_close_on_stop(pool), name="lambda-sandboxes"))
        if poller is not None:
            poller.owner = owner
            background.append(asyncio.create_task(poller.run_forever(), name="lambda-mappings"))
        provisioning = Provisioning(
            provisioned_store,
            service,
            invoker,
            max_sandboxes=settings.lambda_max_provisioned_sandboxes,
            poll_interval=settings.lambda_provisioned_poll_interval,
            metering=None if billing is None else _Metering(billing, settings.region),
        )
        provisioned.wake = provisioning.wake
        background.append(
            asyncio.create_task(provisioning.run_forever(), name="lambda-provisioned")
        )

    async def forget(tenant_id: str) -> int:
        await queue.forget_tenant(tenant_id)
        await mapping_store.forget_tenant(tenant_id)
        await config_store.forget_tenant(tenant_id)
        await provisioned_store.forget_tenant(tenant_id)
        await layer_store.forget_tenant(tenant_id)
        await forget_urls(tenant_id)
        await forget_signing(tenant_id)
        return await store.forget_tenant(tenant_id)

    return forget


def retry_policy(settings: Settings) -> RetryPolicy:
    """How the Event worker spaces its retries (decision 0300)."""
    return RetryPolicy(
        first_delay_ms=settings.lambda_event_retry_delay_seconds * 1000,
        throttle_max_delay_ms=settings.lambda_event_throttle_max_delay_seconds * 1000,
    )


def _stream_mappings(
    apis: MutableMapping[str, ASGIApp],
    settings: Settings,
    roles: FunctionRoles,
    queues: QueueService,
    pubsub: PubSubService | None,
    store: SqlMappingStore,
    invoker: Invoker,
    sender: RecordSender,
    buckets: BucketRecords | None,
    sealer: FunctionsService,
) -> StreamPoller:
    """The poller's part for Kinesis and DynamoDB stream mappings (decision 0301): the
    streams found among ``apis`` when read (made after Lambda's app or not served)."""

    def kinesis() -> KinesisService | None:
        app = apis.get(KinesisApp.name)
        return app.service if isinstance(app, KinesisApp) else None

    def dynamodb() -> DynamoStreams | None:
        app = apis.get(DynamoApp.name)
        return app.streams if isinstance(app, DynamoApp) else None

    access = StreamAccess(roles, kinesis, dynamodb, buckets)
    return StreamPoller(
        store,
        access,
        StreamReader(kinesis, dynamodb, settings.region),
        InvokerFunctions(invoker),
        FailureDestinations(roles, access, queues, pubsub, sender),
        sealer=sealer,  # tumbling windows' states (decision 0319)
    )


def _bucket_records(
    settings: Settings,
    identity: IdentityService,
    objects: ObjectService | None,
    audit: AuditService,
    billing: BillingService | None,
) -> BucketRecords | None:
    """S3 buckets as Lambda's OnFailure destinations (decision 0311), where S3 is served."""
    if objects is None:
        return None

    def count(tenant_id: str, quantity: int, meter: str) -> None:
        if billing is not None:
            billing.count(tenant_id, settings.region, meter, quantity)

    authoriser = S3Authoriser(identity.policies_for, settings.region)
    return BucketRecords(objects, authoriser, settings.region, audit, count)


def _bucket_channel(buckets: BucketRecords | None) -> dict[str, Channel]:
    return {} if buckets is None else {"s3": buckets}


def mapping_poll_policy(settings: Settings) -> tuple[float, int]:
    """(seconds between the mapping poller's passes, its lease in ms)."""
    return settings.lambda_mapping_poll_interval, settings.lambda_mapping_lease_seconds * 1000


def _ingested(billing: BillingService, region: str) -> Callable[[str, int, str], None]:
    def ingested(tenant_id: str, size: int, meter: str) -> None:
        billing.count(tenant_id, region, meter, size)

    return ingested


async def _close_on_stop(pool: SandboxPool) -> None:
    """Wait until ``serve`` stops (this task cancelled with the other background ones), then
    stop the warm sandboxes and remove their unpacked code."""
    try:
        await asyncio.Event().wait()
    finally:
        await pool.close()
