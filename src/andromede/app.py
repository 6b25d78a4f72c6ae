"""Composition root: builds every service from the settings and serves them as one ASGI app.

The :class:`Application` is itself the ASGI callable, so any ASGI server runs it the same way:
the lifespan start-up prepares the data folder, runs the migrations, wires the services,
bootstraps the first tenant and the first platform operator (writing their credentials files)
and starts the background tasks (audit flush, orphan sweeper, identity upkeep); shutdown stops
them after the server has drained its requests.

What each service is built from is ``andromede.wiring``'s (one module per concern, the
background upkeep loops and the command line's openers among them); this module owns the
application itself: the start-up order, the request dispatch between the APIs served on one
endpoint, and the shutdown. The factories stay importable from here (``__all__``).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from andromede.api.app import ManagementApi
from andromede.api_routing import api_service
from andromede.audit.access_store_sql import SqlAccessRequestStore
from andromede.audit.service import AuditService
from andromede.audit.store_sql import SqlAuditStore
from andromede.billing.service import BillingService
from andromede.cloudwatchapi.app import CloudWatchApp
from andromede.compute.service import ComputeService
from andromede.console.app import CONSOLE_PATH, ConsoleApp
from andromede.db.database import Database
from andromede.db.doorbells import NOTIFICATIONS, REPLICATION, SNS_REPLAYS
from andromede.ec2api.app import Ec2App
from andromede.http.outbound import TlsContextOnDemand
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.iam.service import BootstrapResult, IdentityService
from andromede.iamapi.app import QueryApp
from andromede.iamapi.autoscaling import autoscaling_spec
from andromede.iamapi.autoscaling_linked_role import role_users
from andromede.iamapi.iam import IAM
from andromede.iamapi.sns import sns_spec
from andromede.iamapi.sns_certificate import SnsCertificateApp
from andromede.iamapi.sns_metering import sns_meter
from andromede.iamapi.sts import STS
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.service import KeyService
from andromede.kmsapi.app import KmsApp
from andromede.logconfig import configure_logging
from andromede.metrics.sink import BufferedSink
from andromede.notifications.delivery import Deliverer
from andromede.notifications.store_sql import SqlEventQueue, SqlTopicStore
from andromede.notifications.store_sql_archive import SqlArchiveStore
from andromede.notifications.store_sql_subscriptions import SqlSubscriptionStore
from andromede.object_keys import KmsObjectCipher, key_service, object_cipher, root_key_provider
from andromede.platform_metrics import (
    MeteredQueueStore,
    PlatformMetrics,
    QueueActivity,
)
from andromede.s3.app import S3App
from andromede.s3control.app import S3ControlApp
from andromede.settings import Settings, load_settings
from andromede.sqsapi.app import SqsApp
from andromede.sse_kms_keys import ReplicaKmsKeys, S3KmsKeys
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.batch_jobs import BatchJobStore
from andromede.storage.expiration_view import MAX_REFRESH_PERIOD, ExpirationView
from andromede.storage.lifecycle_runner import LifecycleRunner
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.storage.service import ObjectService
from andromede.storage.store_sql import SqlMetadataStore
from andromede.storage.sweeper import Sweeper
from andromede.vpc_endpoint_front import EndpointGate
from andromede.wiring.acm import acm_api
from andromede.wiring.audit import (
    audit_key_files,
    audit_key_name,
    audit_key_schedule,
    audit_witnessing,
    open_audit_trail,
    operator_access_service,
)
from andromede.wiring.billing import (
    MeteredQueueSink,
    billing_service,
    delivery_meter,
    instance_meter,
    usage_sampler,
)
from andromede.wiring.compute import (
    autoscaling_reconciler,
    autoscaling_service,
    endpoint_gate,
    flow_log_task,
    hosts_reader,
    open_instance_metadata,
    run_hypervisor_agent,
    start_compute,
)
from andromede.wiring.console import console_app
from andromede.wiring.deployment import (
    bootstrap_accounts,
    credentials_ini,
    database_url,
    migrate,
    open_metadata_database,
    prepare,
    reencrypt_legacy_objects,
    write_credentials,
)
from andromede.wiring.dynamodb import dynamodb_api
from andromede.wiring.dynamodb_insights import dynamodb_insights
from andromede.wiring.events import events_parts
from andromede.wiring.firehose import firehose_api
from andromede.wiring.functions import lambda_api, notified_functions
from andromede.wiring.identity import identity_service, tenant_closer
from andromede.wiring.insight_rules import insight_rules
from andromede.wiring.kinesis import kinesis_api
from andromede.wiring.kms import customer_key_service, xks_auditor
from andromede.wiring.loadbalancing import (
    LbMetrics,
    elb_app,
    load_balancer_upkeep,
    load_balancing_service,
)
from andromede.wiring.logs import flow_log_destinations, logs_api, sns_observers, sns_status_logger
from andromede.wiring.metric_streams import metric_streams
from andromede.wiring.metrics import (
    alarm_service,
    anomaly_service,
    dashboard_service,
    metrics_service,
    metrics_tasks,
)
from andromede.wiring.operator_cli import (
    open_billing,
    open_identity,
    open_image_library,
    open_invoicing,
    open_metadata,
    open_tenant_closer,
    operator_cli_principal,
    record_operator_action,
    rotate_audit_signing_key,
)
from andromede.wiring.pipes import pipes_api
from andromede.wiring.pubsub import (
    archive_upkeep,
    pubsub_service,
    shredded_event_recorder,
    signing_keys,
    sns_firehose,
    sns_mailer,
    topic_sealer,
)
from andromede.wiring.queues import (
    BucketEventQueues,
    EventKeySealer,
    KeySealer,
    message_mover,
    queue_service,
)
from andromede.wiring.route53 import nearest_region, route53_api, route53_limits
from andromede.wiring.route53_health import route53_health
from andromede.wiring.secrets import secrets_api
from andromede.wiring.ssm import ssm_api, ssm_events
from andromede.wiring.stepfunctions import states_api
from andromede.wiring.storage import (
    LIFECYCLE_PRINCIPAL,
    access_point_stores,
    batch_runner,
    delivery_policy,
    inventory_reporter,
    lifecycle_auditor,
    open_blob_stores,
    operator_access_check,
    replication_grants,
    replicator_for,
    request_metrics,
    s3_services,
    storage_limits,
    topic_service,
)
from andromede.wiring.storage_lens import storage_lens
from andromede.wiring.upkeep import (
    audit_retention,
    auto_invoicing,
    autoscaling_upkeep,
    compute_upkeep,
    identity_upkeep,
    kms_upkeep,
    lapse_access_requests,
)

# The service factories moved to andromede.wiring; their names stay importable from here,
# where the command line, the benchmarks and the tests have always found them.
__all__ = [
    "LIFECYCLE_PRINCIPAL",
    "Application",
    "api_service",
    "audit_key_files",
    "audit_key_name",
    "audit_key_schedule",
    "audit_retention",
    "audit_witnessing",
    "auto_invoicing",
    "autoscaling_reconciler",
    "autoscaling_service",
    "autoscaling_upkeep",
    "billing_service",
    "create_app",
    "credentials_ini",
    "customer_key_service",
    "database_url",
    "delivery_policy",
    "identity_service",
    "instance_meter",
    "key_service",
    "lapse_access_requests",
    "lifecycle_auditor",
    "migrate",
    "open_audit_trail",
    "open_billing",
    "open_blob_stores",
    "open_identity",
    "open_image_library",
    "open_instance_metadata",
    "open_invoicing",
    "open_metadata",
    "open_tenant_closer",
    "operator_access_check",
    "operator_access_service",
    "operator_cli_principal",
    "prepare",
    "record_operator_action",
    "reencrypt_legacy_objects",
    "replication_grants",
    "replicator_for",
    "rotate_audit_signing_key",
    "run_hypervisor_agent",
    "s3_services",
    "start_compute",
    "storage_limits",
    "tenant_closer",
    "topic_service",
    "usage_sampler",
    "write_credentials",
    "xks_auditor",
]

log = logging.getLogger(__name__)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(slots=True)
class _Running:
    db: Database
    audit: AuditService
    billing: BillingService
    s3: S3App
    # The other AWS-style APIs on the same endpoint, by credential-scope service name.
    apis: dict[str, ASGIApp]
    # The management REST API, on its own listener (api_port).
    management: ManagementApi
    # The web console, under /console/ on the management API's listener (decision 0111).
    console: ConsoleApp
    background: list[asyncio.Task[None]]
    identity: IdentityService
    keys: KeyService
    # Closes what the blob store holds open (the RADOS connection), after the requests end.
    close_blobs: Callable[[], Awaitable[None]] | None = None
    compute: ComputeService | None = None
    # Closes the connections kept to external key store proxies (decision 0101).
    customer_keys: CustomerKeyService | None = None
    # What the hypervisor agents forward from their VPC endpoints (decision 0160).
    endpoint_gate: EndpointGate | None = None


class Application:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._running: _Running | None = None
        self.bootstrap: BootstrapResult | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if self._running is None:  # a server without lifespan support: start on first use
            await self.start()
        running = self._running
        if running is None:  # stopped while this request was arriving
            raise RuntimeError("the application is stopped")
        if scope["type"] == "http":
            # The management API has its own listener, told apart by the port the connection
            # arrived on (so no bucket name can shadow its paths); see decision 0010.
            server = scope.get("server")
            if server is not None and server[1] == self.settings.api_port:
                path: str = scope["path"]
                if path == CONSOLE_PATH or path.startswith(f"{CONSOLE_PATH}/"):
                    await running.console(scope, receive, send)
                else:
                    await running.management(scope, receive, send)
                return
            service = api_service(scope)
            # A request an agent forwarded from a VPC endpoint: to the same API, once its
            # origin holds and the endpoint is that API's (decisions 0160, 0174).
            attested = EndpointGate.attested(scope)
            if attested is not None and running.endpoint_gate is not None:
                served = running.s3 if service == "s3" else running.apis.get(service)
                await running.endpoint_gate.serve(attested, service, served, scope, receive, send)
                return
            if service != "s3":
                api = running.apis.get(service)
                if api is not None:
                    await api(scope, receive, send)
                    return
        await running.s3(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:
                    log.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        if self._running is not None:
            return
        settings = self.settings
        # Blob writes block in fsync for about a millisecond each: asyncio's default pool (cpu+4
        # threads) would queue concurrent PUTs behind each other rather than the disk.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=settings.io_threads, thread_name_prefix="andromede-io")
        )
        url = await migrate(settings)
        db = open_metadata_database(settings, url)
        identity = identity_service(settings, db)
        audit_store = SqlAuditStore(db)
        audit = AuditService(audit_store, flush_interval=settings.audit_flush_interval)
        billing = billing_service(settings, db)
        # The root key provider first: a token key signs the audit log on its session.
        provider = await asyncio.to_thread(root_key_provider, settings)
        try:
            trail = await open_audit_trail(settings, db, audit_store, provider)
        except BaseException:
            await asyncio.to_thread(provider.close)
            raise
        operator_access = operator_access_service(settings, SqlAccessRequestStore(db), audit)
        keys = key_service(settings, provider)
        # The writes' notification events sealed under their tenants' keys (decision 0163's
        # addendum), before each write's transaction.
        event_sealer = EventKeySealer(keys)
        identity.certificate_sealer = KeySealer(keys)  # IAM server certificates' keys (0205)
        store = SqlMetadataStore(
            db, row_memo_size=settings.opened_headers_cache_size, event_sealer=event_sealer
        )
        blobs, close_blobs = await open_blob_stores(settings)
        cipher = object_cipher(settings, keys)
        objects = ObjectService(store, blobs, storage_limits(settings), cipher)
        self.bootstrap = await bootstrap_accounts(settings, identity)
        customer_keys = customer_key_service(settings, db, identity, keys, audit)
        if isinstance(cipher, KmsObjectCipher):
            # SSE-KMS under keys of external key stores: data keys through the customer's proxy
            # (via S3 in the key's region, which is the bucket's: decision 0142).
            cipher.attach_external(customer_keys)
        # One sweeper per served region, each deleting only in its own region's store.
        sweepers = {
            region: Sweeper(
                store,
                region_blobs,
                orphan_grace=settings.orphan_grace,
                interval=settings.sweeper_interval,
                regions=(region, None) if region == settings.region else (region,),
            )
            for region, region_blobs in blobs.regions.items()
        }
        audit.start()
        billing.start()
        background = [
            *(
                asyncio.create_task(sweeper.run_forever(), name=f"sweeper-{region}")
                for region, sweeper in sweepers.items()
            ),
            asyncio.create_task(identity_upkeep(settings, identity), name="identity-upkeep"),
            asyncio.create_task(audit_retention(settings, audit_store), name="audit-retention"),
            *(
                asyncio.create_task(witnessing.run_forever(), name="audit-witnessing")
                for witnessing in [audit_witnessing(settings, db, trail, audit_store)]
                if witnessing is not None
            ),
            *(
                asyncio.create_task(
                    audit_key_schedule(settings, db, provider, audit).run_forever(),
                    name="audit-key-rotation",
                )
                for _ in range(1 if settings.audit_key_rotation_days else 0)
            ),
            asyncio.create_task(
                audit_key_files(settings, db, audit).run_forever(), name="audit-key-files"
            ),
            asyncio.create_task(
                lapse_access_requests(settings, operator_access), name="access-request-lapse"
            ),
            asyncio.create_task(kms_upkeep(settings, customer_keys), name="kms-upkeep"),
            asyncio.create_task(
                LifecycleRunner(
                    objects,
                    store,
                    interval=settings.lifecycle_interval,
                    on_action=lifecycle_auditor(audit),
                    regions=settings.served_region_names,
                ).run_forever(),
                name="lifecycle",
            ),
        ]
        access_logs = AccessLogDelivery(
            objects,
            store,
            interval=settings.server_access_log_interval,
            max_buffered_lines=settings.server_access_log_buffer,
        )
        background.append(asyncio.create_task(access_logs.run_forever(), name="access-logs"))
        # The x-amz-expiration header's view of the rules: never staler than the pass's own
        # reading of them, and at most a minute behind another gateway's changes (0086).
        expirations = ExpirationView(
            store, period=min(settings.lifecycle_interval, MAX_REFRESH_PERIOD)
        )
        await expirations.refresh()
        background.append(asyncio.create_task(expirations.run_forever(), name="expirations"))
        background.append(
            asyncio.create_task(
                inventory_reporter(
                    settings, objects, store, audit, ReplicaKmsKeys(customer_keys, audit, billing)
                ).run_forever(),
                name="inventory",
            )
        )
        grants = replication_grants(settings, identity, audit)
        replicator = replicator_for(
            settings,
            objects,
            SqlReplicationQueue(db),
            ReplicaKmsKeys(customer_keys, audit, billing),
            grants,
            db.doorbells.of(REPLICATION),  # rung by this process's commits (decision 0206)
        )
        background.append(asyncio.create_task(replicator.run_forever(), name="replication"))
        events = SqlEventQueue(db, event_sealer)
        topics = topic_service(settings, SqlTopicStore(db), events)
        # SQS-style queues (decision 0158), bucket events' other destination; their store
        # counts the messages into the platform's AWS/SQS metrics (decision 0172).
        metrics = metrics_service(settings, db)
        metrics_sink, queue_activity = BufferedSink(metrics), QueueActivity()
        queue_store = MeteredQueueStore(db, metrics_sink, queue_activity)
        queues = queue_service(settings, db, keys, customer_keys, audit, billing, queue_store)
        queues.observe(queue_store)  # empty receives and sent sizes (decisions 0181, 0414)
        event_queues = BucketEventQueues(queues)
        # Message move tasks out of dead-letter queues (decision 0165), resumed at start.
        mover = message_mover(settings, db)
        background.append(asyncio.create_task(mover.run_forever(), name="queue-moves"))
        # SNS subscriptions and Publish (decision 0163), fanned out by the same worker.
        subscriptions = SqlSubscriptionStore(db)
        sns_keys = signing_keys(settings, subscriptions)
        # FIFO topics' archives and replays (decision 0175), sealed as the events are.
        archive = SqlArchiveStore(db, event_sealer)
        pubsub = pubsub_service(settings, topics, subscriptions, events, sns_keys, queues, archive)
        pubsub.sealer = topic_sealer(settings, keys, customer_keys, audit, billing)  # 0212
        upkeep = archive_upkeep(
            settings, archive, topics, pubsub, doorbell=db.doorbells.of(SNS_REPLAYS)
        )
        background.append(asyncio.create_task(upkeep.run_forever(), name="sns-archive"))
        eventbridge = events_parts(  # decisions 0192, 0200, 0273
            settings, db, queues, topics, pubsub, event_sealer, identity, metrics_sink
        )
        deliverer = Deliverer(
            events,
            topics,
            delivery_policy(settings),
            tls=TlsContextOnDemand(None).get,
            queues=MeteredQueueSink(event_queues, billing),
            bus=eventbridge.bucket_events(),  # buckets' EventBridgeConfiguration
            subscribers=pubsub,
            shredded=shredded_event_recorder(audit),
            on_delivered=delivery_meter(billing, settings.region),
            mailer=sns_mailer(settings),  # SNS email subscriptions (decision 0180)
            doorbell=db.doorbells.of(NOTIFICATIONS),
        )
        background.append(asyncio.create_task(deliverer.run_forever(), name="notifications"))
        rate_limiter = RateLimiter(settings.rate_limit_per_key)
        access_points, mraps = access_point_stores(db)  # single- and Multi-Region (0157, 0385)
        s3_metrics = request_metrics(settings, store, metrics)  # AWS/S3 requests (0187)
        background.append(asyncio.create_task(s3_metrics.run_forever(), name="s3-req-metrics"))
        notified = notified_functions(deliverer)  # SNS's and S3's Lambda functions (0293)
        r53_places = route53_limits(settings)  # the clients' places, read once: DNS and MRAPs
        s3 = S3App(
            s3_services(
                settings,
                objects,
                identity,
                S3KmsKeys(
                    customer_keys,
                    audit,
                    bucket_key_ttl=settings.data_key_cache_ttl,
                    billing=billing,
                ),
                allowed_regions=identity.allowed_regions,
                access_logs=access_logs,
                expirations=expirations,
                operator_access=operator_access,
                replicator=replicator,
                replication_grants=grants,
                topics=topics,
                access_points=access_points,
                multi_region_access_points=mraps,
                queues=event_queues,
                functions=notified,
                request_metrics=s3_metrics,
                nearest_region=nearest_region(settings, r53_places),  # decision 0413
            ),
            identity,
            audit,
            rate_limiter,
            billing=billing,
        )
        apis: dict[str, ASGIApp] = {
            spec.name: QueryApp(spec, identity, audit, settings, rate_limiter)
            for spec in (IAM, STS)
        }
        # Bucket notification topics, SNS-style as Ceph RGW serves them (decision 0132).
        apis["sns"] = QueryApp(
            sns_spec(topics, settings.region, pubsub),
            identity,
            audit,
            settings,
            rate_limiter,
            meter=sns_meter(billing, settings.region),
        )
        apis[SnsCertificateApp.name] = SnsCertificateApp(sns_keys)
        apis[SqsApp.name] = SqsApp(
            queues, identity, audit, settings, rate_limiter, mover, billing=billing
        )
        apis[KmsApp.name] = KmsApp(
            customer_keys, identity, audit, settings, rate_limiter, billing=billing
        )
        # Secrets Manager (decision 0190), its secrets sealed under KMS keys; purged in upkeep.
        secrets, purge = secrets_api(
            settings, db, customer_keys, identity, audit, rate_limiter, billing
        )
        apis[secrets.name] = secrets
        background.append(purge)
        # Parameter Store (decision 0229): every value sealed, SecureString under KMS keys.
        ssm = ssm_api(settings, db, keys, customer_keys, identity, audit, rate_limiter, billing)
        apis[ssm.name] = ssm
        # Connections' secrets in Secrets Manager, archives under KMS keys (decision 0204).
        eventbridge.under_customer_keys(secrets.service, keys, customer_keys, audit, billing)
        # CloudWatch Logs (decision 0186): its API, retention sweep and metric filters' writes.
        logs, sweep = logs_api(
            settings, db, keys, customer_keys, identity, audit, rate_limiter, billing, metrics,
            objects, ReplicaKmsKeys(customer_keys, audit, billing), apis, metrics_sink,
        )  # fmt: skip
        apis[logs.name] = logs
        background.append(sweep)
        compute = await start_compute(settings, db, keys, objects, identity,
            customer_keys=customer_keys, audit=audit, billing=billing)  # fmt: skip
        apis[Ec2App.name] = Ec2App(compute, identity, audit, settings, rate_limiter)
        batch_jobs = BatchJobStore(db)
        apis[S3ControlApp.name] = S3ControlApp(objects, identity, audit, settings, batch_jobs,
            rate_limiter, access_points=access_points, vpc_owned=compute.owns_vpc,
            multi_region=mraps)  # fmt: skip
        background.append(storage_lens(apis, settings, db, objects, audit,
            ReplicaKmsKeys(customer_keys, audit, billing), metrics))  # fmt: skip
        # S3 Batch Operations (decision 0152's addendum): one job at a time per gateway.
        background.append(
            asyncio.create_task(
                batch_runner(
                    settings,
                    objects,
                    batch_jobs,
                    audit,
                    grants.for_batch_operations(),
                    SqlReplicationQueue(db),
                ).run_forever(),
                name="batch-operations",
            )
        )
        # EC2 Auto Scaling (decision 0156): its calls, and its reconciler in every gateway,
        # each group converged by the one holding its lease.
        scaling = autoscaling_service(settings, db, compute, audit, topics, metrics)
        identity.linked_role_users = role_users(scaling, settings.region)  # decision 0208
        # CloudWatch alarms (decision 0177): SNS and scaling policies their actions.
        alarms, tracking = alarm_service(settings, db, metrics, pubsub, scaling, identity)
        alarms.state_events = eventbridge.alarm_events()  # "CloudWatch Alarm State Change"
        apis["autoscaling"] = QueryApp(autoscaling_spec(scaling, settings.region, tracking),
            identity, audit, settings, rate_limiter)  # fmt: skip
        # Network Load Balancers (decision 0191).
        balancers = load_balancing_service(settings, db, compute, scaling)
        apis["elasticloadbalancing"] = elb_app(settings, balancers, identity, audit,
            rate_limiter, objects)  # fmt: skip
        # Certificate Manager (decision 0230): its certificates presented by the listeners too.
        _, forget_certificates, acm_expiry = acm_api(apis, settings, db, identity, audit,
            rate_limiter, balancers, eventbridge.service, metrics_sink)  # fmt: skip
        background.append(acm_expiry)
        lb_metrics = LbMetrics.over(db, metrics, metrics_sink)  # AWS/NetworkELB
        lb_upkeep = load_balancer_upkeep(settings, balancers, compute, scaling, lb_metrics)
        background.append(asyncio.create_task(lb_upkeep, name="load-balancers"))
        reconciler = autoscaling_reconciler(settings, scaling, identity)
        background.append(
            asyncio.create_task(autoscaling_upkeep(settings, reconciler), name="autoscaling")
        )
        background.append(
            asyncio.create_task(compute_upkeep(settings, compute), name="compute-upkeep")
        )
        # CloudWatch metrics (decision 0172): the API, the roll-up, the platform's own metrics.
        streams, stream_task, forget_metric_streams = metric_streams(  # decision 0233
            settings, db, metrics, identity, apis, metrics_sink, billing, audit, reconciler.owner
        )
        background.append(stream_task)
        apis[CloudWatchApp.name] = CloudWatchApp(
            metrics,
            identity,
            audit,
            settings,
            rate_limiter,
            billing=billing,
            alarms=alarms,
            dashboards=dashboard_service(settings, db),
            anomaly=anomaly_service(settings, db, metrics),
            streams=streams,
            insights=insight_rules(settings, db, keys, logs.service, metrics, billing, background),
        )
        apis["events"] = eventbridge.api(identity, audit, rate_limiter, billing)
        # Parameter Store's public parameters, events and policy upkeep (decision 0241).
        background.append(ssm_events(settings, ssm, compute, eventbridge.service, audit))
        eventbridge.stream_targets(apis, billing)  # streams, log groups as targets (0238, 0277)
        background += eventbridge.background(reconciler.owner)
        compute.on_transition = eventbridge.instance_events(compute.on_transition)
        compute.spot_warning = eventbridge.spot_warnings()  # decision 0202
        platform = PlatformMetrics(metrics_sink, queues=queue_store, activity=queue_activity,
            scaling=scaling, owner=reconciler.owner)  # fmt: skip
        background += metrics_tasks(
            settings, db, metrics, metrics_sink, platform, compute, alarms, objects,
            reconciler.owner,
        )  # fmt: skip
        # VPC flow logs (0153, 0348): the hosts' counts into buckets, log groups or streams.
        groups = flow_log_destinations(settings, identity, logs.service, billing, audit, apis)
        firehose, forget_streams = firehose_api(apis, settings, db, keys, identity, audit,
            rate_limiter, billing, objects, customer_keys, metrics_sink,
            sns_firehose(pubsub, deliverer, identity, settings))  # fmt: skip
        background.append(firehose)
        kinesis, forget_kinesis, kinesis_held = kinesis_api(apis, settings, db, keys, identity,
            audit, rate_limiter, billing, customer_keys, metrics_sink)  # fmt: skip
        background.append(kinesis)
        dynamodb, forget_tables = dynamodb_api(apis, settings, db, keys, identity, audit,
            rate_limiter, billing, customer_keys, metrics_sink, objects)  # fmt: skip
        background.append(dynamodb)
        dynamodb_insights(apis, metrics, settings)  # Contributor Insights (decision 0278)
        pipes, forget_pipes = pipes_api(apis, settings, db, identity, audit, rate_limiter, billing,
            queues, pubsub, eventbridge.regions, eventbridge.regional_connections, metrics_sink,
            logs.service, objects)  # fmt: skip
        states, forget_states = states_api(apis, settings, db, keys, identity, audit, rate_limiter,
            billing, queues, pubsub, eventbridge, metrics_sink, logs.service, objects)  # fmt: skip
        background += [pipes, states]  # EventBridge Pipes (0258), Step Functions (0271)
        forget_zones = route53_api(apis, settings, db, identity, audit, rate_limiter, compute,
            billing, background, balancers, customer_keys, keys, r53_places)  # fmt: skip
        forget_checks = route53_health(apis, settings, db, metrics_sink, alarms, background)
        forget_fns = lambda_api(apis, settings, db, keys, identity, audit, rate_limiter, objects,
            logs.service, billing, background, notified, queues, pubsub, metrics_sink,
            s3)  # fmt: skip
        deliverer.on_status = sns_status_logger(settings, identity, logs.service, billing, audit)
        sns_observers(pubsub, deliverer, settings, logs.service, billing, metrics_sink)
        background.append(flow_log_task(settings, compute, objects, billing, metrics_sink, groups))
        sampler = usage_sampler(
            settings, billing, objects, compute, customer_keys, identity, archive.archived_bytes,
            balancers.count_by_tenant, secrets.service.held,
            logs.service.store.stored_bytes_by_tenant, ssm.service.advanced_held, kinesis_held,
        )  # fmt: skip
        background.append(asyncio.create_task(sampler.run_forever(), name="billing-sampler"))
        if settings.billing_auto_invoice_delay is not None:
            background.append(
                asyncio.create_task(
                    auto_invoicing(settings, identity, billing, audit), name="auto-invoicing"
                )
            )
        # What a closed tenant leaves in the services wired above (Firehose to Route 53).
        forgotten = [forget_streams, forget_kinesis, ssm.service.store.forget_tenant, forget_states,
            forget_certificates, forget_metric_streams, forget_tables, forget_pipes, forget_zones,
            forget_checks, forget_fns, eventbridge.endpoints.forget_tenant]  # fmt: skip
        closer = tenant_closer(identity, keys, customer_keys, buckets=objects.list_buckets,
            topics=topics, queues=queues, moves=mover, logs=logs.service,
            events=eventbridge.store, others=forgotten)  # fmt: skip
        # The hosts' supervised processes for the operators' Prometheus (decision 0389).
        management = ManagementApi(identity, audit, settings, rate_limiter, close_tenant=closer,
            trail=trail, operator_access=operator_access, billing=billing, buckets=objects,
            hosts=hosts_reader(compute))  # fmt: skip
        # The console calls the APIs in process as its logged-in users (decision 0111).
        console = console_app(
            settings, identity, audit, billing, s3, apis, objects=objects, trail=trail,
            operator_access=operator_access, secrets=secrets, logs=logs,
        )  # fmt: skip
        self._running = _Running(
            db=db,
            audit=audit,
            billing=billing,
            s3=s3,
            apis=apis,
            management=management,
            console=console,
            background=background,
            identity=identity,
            close_blobs=close_blobs,
            keys=keys,
            compute=compute,
            customer_keys=customer_keys,
            endpoint_gate=endpoint_gate(settings, compute),
        )

    async def stop(self) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        for task in running.background:
            task.cancel()
        for task in running.background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if running.compute is not None:
            # Work on the hosts still running is cut short; reconcile finishes it next start.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(running.compute.close(), self.settings.shutdown_timeout)
        if running.customer_keys is not None:
            await running.customer_keys.aclose()
        await running.identity.flush_key_usage()
        await running.audit.close()
        await running.billing.close()
        await running.db.close()
        if running.close_blobs is not None:
            await running.close_blobs()
        await asyncio.to_thread(running.keys.close)


def _end_with_parent() -> None:
    """Make this worker process receive SIGTERM when the serving process ends, however it ends.

    Without it, a ``kill -9`` of ``andromede serve`` left its workers running, still holding the
    port and serving requests.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the parent died before the request above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def create_app() -> Application:
    """Factory for the worker processes of ASGI servers started by import path (settings from
    ANDROMEDE_* and the ANDROMEDE_CONFIG file)."""
    _end_with_parent()
    settings = load_settings()
    # A spawned worker starts with logging unconfigured: without this its access lines (INFO)
    # went nowhere, and its other records only through logging's last-resort handler.
    configure_logging(settings)
    return Application(settings)
