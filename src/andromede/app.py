"""Composition root: builds every service from the settings and serves them as one ASGI app.

The :class:`Application` is itself the ASGI callable, so any ASGI server runs it the same way:
the lifespan start-up prepares the data folder, runs the migrations, wires the services,
bootstraps the first tenant and the first platform operator (writing their credentials files)
and starts the background tasks (audit flush, orphan sweeper, identity upkeep); shutdown stops
them after the server has drained its requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import getpass
import logging
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from andromede.api.app import ManagementApi
from andromede.audit.access_service import OperatorAccessService
from andromede.audit.access_store import AccessRequestStore
from andromede.audit.access_store_sql import SqlAccessRequestStore
from andromede.audit.cosignature import parse_cosigner_key
from andromede.audit.cosigned import SqlCosignatureStore
from andromede.audit.model import Outcome
from andromede.audit.note import NoteError
from andromede.audit.service import AuditService
from andromede.audit.signing import PUBLIC_KEY_FILE_NAME, publish_verifier_key
from andromede.audit.store import AuditStore
from andromede.audit.store_sql import SqlAuditStore
from andromede.audit.trail import AuditTrail
from andromede.audit.witnessing import WitnessEndpoint, Witnessing
from andromede.audit_keys import (
    RegisteredKeys,
    Rotation,
    ScheduledRotation,
    open_log_signing_key,
    rotate_log_signing_key,
)
from andromede.billing.invoice import Issuer
from andromede.billing.invoices_store import SqlInvoiceStore
from andromede.billing.profiles_store import SqlBillingProfileStore
from andromede.billing.sampler import UsageSampler
from andromede.billing.service import BillingService, RunningInstance
from andromede.billing.store_sql import SqlBillingStore
from andromede.compute.driver import HypervisorDriver
from andromede.compute.images import ImageFiles
from andromede.compute.model import Instance, InstanceState
from andromede.compute.service import ComputeService
from andromede.compute.store_sql import SqlComputeStore
from andromede.compute_adapters import (
    BucketImageSource,
    KmsDiskKeys,
    compute_limits,
    hypervisor_drivers,
    hypervisor_host_driver,
)
from andromede.console.app import CONSOLE_PATH, Console, ConsoleApp
from andromede.console.wire import KmsWire, S3Wire
from andromede.console.wire_ec2 import Ec2Wire
from andromede.console.wire_iam import IamWire, StsWire
from andromede.console.wire_topics import SnsWire
from andromede.db.database import Database, describe_url, open_database
from andromede.db.migrate import upgrade
from andromede.ec2api.app import Ec2App
from andromede.errors import ConfigurationError
from andromede.http.asgi import new_request_id
from andromede.http.outbound import TlsContextOnDemand, networks
from andromede.http.ratelimit import RateLimiter
from andromede.http.response import Receive, Scope, Send
from andromede.http.sigv4 import credential_service
from andromede.hypervisor.agent import serve_agent
from andromede.hypervisor.agent_tls import agent_server_context
from andromede.iam.errors import InvalidTenantTransition
from andromede.iam.model import Principal, Tenant, TenantStatus
from andromede.iam.saml import accepted_endpoints
from andromede.iam.secrets import SecretSealer
from andromede.iam.service import BootstrapResult, IdentityLimits, IdentityService
from andromede.iam.store_sql import SqlIdentityStore
from andromede.iam.tenant_actions import invoice_arn
from andromede.iamapi.app import QueryApp
from andromede.iamapi.iam import IAM
from andromede.iamapi.sns import sns_spec
from andromede.iamapi.sts import STS
from andromede.imds.app import ImdsLimits, MetadataApp, create_metadata_app
from andromede.imds.directory import ComputeInstanceDirectory
from andromede.kms.custom_key_stores import CustomKeyStoreService
from andromede.kms.customer_keys import CustomerKeyService
from andromede.kms.keys_store_sql import SqlCustomerKeyStore
from andromede.kms.providers import RootKeyProvider
from andromede.kms.service import KeyService
from andromede.kms.xks_client import XksCall, XksClient
from andromede.kms.xks_store_sql import SqlCustomKeyStoreStore
from andromede.kmsapi.app import KmsApp
from andromede.kmsapi.authorise import KmsAuthoriser, alias_names
from andromede.logconfig import configure_logging
from andromede.notifications.delivery import Deliverer, DeliveryPolicy
from andromede.notifications.service import TopicService
from andromede.notifications.store import EventQueue, TopicStore
from andromede.notifications.store_sql import SqlEventQueue, SqlTopicStore
from andromede.object_keys import (
    KmsObjectCipher,
    key_service,
    object_cipher,
    root_key_provider,
)
from andromede.replication_grants import S3ReplicationGrants
from andromede.s3.app import S3App
from andromede.s3.authorise import OperatorAccessCheck, S3Authoriser
from andromede.s3.handlers.common import S3Services
from andromede.s3.handlers.encryption import KmsKeyResolver
from andromede.settings import Settings, load_settings
from andromede.sse_kms_keys import ReplicaKmsKeys, S3KmsKeys
from andromede.storage.access_log_delivery import AccessLogDelivery
from andromede.storage.blob_local import LocalBlobStore
from andromede.storage.blobs import BlobStore
from andromede.storage.expiration_view import MAX_REFRESH_PERIOD, ExpirationView
from andromede.storage.lifecycle_runner import LifecycleAction, LifecycleRunner
from andromede.storage.model import Bucket
from andromede.storage.regions import RegionalBlobs
from andromede.storage.replication import ReplicaKeys, ReplicationGrants
from andromede.storage.replication_queue import ReplicationQueue
from andromede.storage.replication_queue_sql import SqlReplicationQueue
from andromede.storage.replicator import Replicator
from andromede.storage.service import ObjectService, StorageLimits
from andromede.storage.store_sql import SqlMetadataStore
from andromede.storage.sweeper import Sweeper

__all__ = [
    "Application",
    "audit_key_name",
    "billing_service",
    "create_app",
    "credentials_ini",
    "database_url",
    "identity_service",
    "key_service",
    "migrate",
    "open_audit_trail",
    "open_billing",
    "open_blob_stores",
    "open_identity",
    "open_image_library",
    "open_instance_metadata",
    "open_invoicing",
    "open_metadata",
    "operator_cli_principal",
    "prepare",
    "record_operator_action",
    "rotate_audit_signing_key",
    "run_hypervisor_agent",
    "s3_services",
    "start_compute",
    "storage_limits",
    "write_credentials",
]

log = logging.getLogger(__name__)

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def database_url(settings: Settings) -> str:
    """The metadata database's URL, in clear: never log it (see ``describe_url``)."""
    return settings.effective_database_url


def _open_database(settings: Settings, url: str) -> Database:
    return open_database(
        url, pool_size=settings.database_pool_size, timeout=settings.database_timeout
    )


def credentials_ini(access_key_id: str, secret_access_key: str, profile: str) -> str:
    """One profile of an aws-style ``credentials`` file."""
    return (
        f"[{profile}]\n"
        f"aws_access_key_id = {access_key_id}\n"
        f"aws_secret_access_key = {secret_access_key}\n"
    )


def write_credentials(
    path: Path, access_key_id: str, secret_access_key: str, profile: str = "andromede"
) -> None:
    """Write the aws-style credentials file, mode 0600, atomically."""
    content = credentials_ini(access_key_id, secret_access_key, profile)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, content.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


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
            # One endpoint for every AWS-style API: the credential scope's service picks it
            # (as Ceph RGW does); unsigned requests, and services not served here, are S3's —
            # except an unsigned call naming a KMS action, which KMS refuses in its own words.
            service = credential_service(scope.get("query_string", b""), scope["headers"])
            if service is None and _kms_target(scope["headers"]):
                service = "kms"
            elif service is None and _unsigned_sts(scope):
                service = "sts"
            if service is not None and service != "s3":
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
        db = _open_database(settings, url)
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
        store = SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size)
        blobs, close_blobs = await open_blob_stores(settings)
        keys = key_service(settings, provider)
        cipher = object_cipher(settings, keys)
        objects = ObjectService(store, blobs, storage_limits(settings), cipher)
        self.bootstrap = await _bootstrap(settings, identity)
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
            asyncio.create_task(_identity_upkeep(settings, identity), name="identity-upkeep"),
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
                lapse_access_requests(settings, operator_access), name="access-request-lapse"
            ),
            asyncio.create_task(_kms_upkeep(settings, customer_keys), name="kms-upkeep"),
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
        grants = replication_grants(settings, identity, audit)
        replicator = replicator_for(
            settings,
            objects,
            SqlReplicationQueue(db),
            ReplicaKmsKeys(customer_keys, audit),
            grants,
        )
        background.append(asyncio.create_task(replicator.run_forever(), name="replication"))
        events = SqlEventQueue(db)
        topics = topic_service(settings, SqlTopicStore(db), events)
        deliverer = Deliverer(
            events,
            topics,
            delivery_policy(settings),
            tls=TlsContextOnDemand(None).get,
        )
        background.append(asyncio.create_task(deliverer.run_forever(), name="notifications"))
        rate_limiter = RateLimiter(settings.rate_limit_per_key)
        s3 = S3App(
            s3_services(
                settings,
                objects,
                identity,
                S3KmsKeys(customer_keys, audit, bucket_key_ttl=settings.data_key_cache_ttl),
                allowed_regions=identity.allowed_regions,
                access_logs=access_logs,
                expirations=expirations,
                operator_access=operator_access,
                replicator=replicator,
                replication_grants=grants,
                topics=topics,
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
            sns_spec(topics, settings.region), identity, audit, settings, rate_limiter
        )
        apis[KmsApp.name] = KmsApp(
            customer_keys, identity, audit, settings, rate_limiter, billing=billing
        )
        compute = await start_compute(
            settings,
            db,
            keys,
            objects,
            identity,
            customer_keys=customer_keys,
            audit=audit,
            billing=billing,
        )
        apis[Ec2App.name] = Ec2App(compute, identity, audit, settings, rate_limiter)
        background.append(
            asyncio.create_task(_compute_upkeep(settings, compute), name="compute-upkeep")
        )
        sampler = usage_sampler(settings, billing, objects, compute, customer_keys, identity)
        background.append(asyncio.create_task(sampler.run_forever(), name="billing-sampler"))
        if settings.billing_auto_invoice_delay is not None:
            background.append(
                asyncio.create_task(
                    auto_invoicing(settings, identity, billing, audit), name="auto-invoicing"
                )
            )
        management = ManagementApi(
            identity,
            audit,
            settings,
            rate_limiter,
            close_tenant=tenant_closer(
                identity, keys, customer_keys, buckets=objects.list_buckets, topics=topics
            ),
            trail=trail,
            operator_access=operator_access,
            billing=billing,
            buckets=objects,
        )
        # The console calls S3, KMS, IAM, EC2 and SNS in process as its logged-in users, so that
        # their own authorisation, audit and metering answer it (decision 0111).
        console = ConsoleApp(
            Console(
                identity,
                audit,
                settings,
                S3Wire(s3),
                KmsWire(apis[KmsApp.name]),
                iam=IamWire(apis[IAM.name]),
                ec2=Ec2Wire(apis[Ec2App.name]),
                buckets=objects,
                sts=StsWire(apis[STS.name]),
                trail=trail,
                operator_access=operator_access,
                billing=billing,
                sns=SnsWire(apis["sns"]),
            )
        )
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


def _unsigned_sts(scope: Scope) -> bool:
    """Whether an unsigned request is a Query call on the service root, which STS takes: the
    STS actions that need no signature, AssumeRoleWithWebIdentity and AssumeRoleWithSAML, are
    sent that way (boto3, the aws CLI, Kubernetes' IRSA, saml2aws); STS refuses any other
    unsigned action. S3 has no operation
    there: a form-encoded POST on ``/`` is no PostObject (multipart), and an unsigned GET naming
    the action is no ListBuckets a client would send (decision 0087)."""
    if scope.get("path") != "/":
        return False
    if scope["method"] == "GET":
        query = scope.get("query_string", b"")
        return b"Action=AssumeRoleWithWebIdentity" in query or b"Action=AssumeRoleWithSAML" in query
    if scope["method"] != "POST":
        return False
    return any(
        name.lower() == b"content-type"
        and value.split(b";", 1)[0].strip().lower() == b"application/x-www-form-urlencoded"
        for name, value in scope["headers"]
    )


def _kms_target(raw_headers: list[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"x-amz-target" and value.startswith(b"TrentService.")
        for name, value in raw_headers
    )


async def start_compute(
    settings: Settings,
    db: Database,
    keys: KeyService,
    objects: ObjectService,
    identity: IdentityService,
    *,
    customer_keys: CustomerKeyService | None = None,
    audit: AuditService | None = None,
    billing: BillingService | None = None,
) -> ComputeService:
    """The compute service over the hypervisor the settings name, reconciled with what the
    hosts run (a failed reconciliation is logged: the API still serves, and the next start
    tries again)."""
    compute = ComputeService(
        SqlComputeStore(db),
        hypervisor_drivers(settings),
        KmsDiskKeys(
            keys,
            inline=settings.key_provider == "file",
            customer_keys=customer_keys,
            audit=audit,
        ),
        compute_limits(settings),
        ImageFiles(settings.data_dir / "compute" / "images", settings.max_image_size),
        BucketImageSource(objects, S3Authoriser(identity.policies_for, settings.region)),
    )
    if billing is not None:
        compute.on_transition = instance_meter(billing)
    if settings.hypervisor == "memory" and settings.workers > 1:
        log.warning(
            "hypervisor = memory keeps its instances in each worker process: with %d workers "
            "console output and reboots reach only the worker that started an instance; "
            "set workers = 1 or a real hypervisor",
            settings.workers,
        )
    try:
        await compute.reconcile()
    except Exception:
        log.exception("compute: reconciliation with the hypervisor failed")
    return compute


def billing_service(settings: Settings, db: Database) -> BillingService:
    """Metering and the price catalogue over ``db`` (decision 0108)."""
    return BillingService(
        SqlBillingStore(db),
        region=settings.region,
        instance_types=settings.instance_types,
        flush_interval=settings.billing_flush_interval,
        invoices=SqlInvoiceStore(db),
        issuer=Issuer(
            settings.billing_issuer_name,
            settings.billing_issuer_address,
            settings.billing_issuer_vat_id,
            settings.billing_payment_days,
            settings.billing_issuer_country,
            settings.billing_issuer_siret,
            settings.billing_issuer_iban,
            settings.billing_issuer_bic,
        ),
        invoice_prefix=settings.billing_invoice_prefix,
        profiles=SqlBillingProfileStore(db),
        credit_note_prefix=settings.billing_credit_note_prefix,
    )


def instance_meter(
    billing: BillingService,
) -> Callable[[Instance, Instance, datetime], Awaitable[None]]:
    """Compute's state changes as instance runs: entering running opens one, leaving it
    closes it (billed to then, a minute at least)."""

    async def on_transition(before: Instance, after: Instance, at: datetime) -> None:
        if after.state is InstanceState.RUNNING:
            await billing.instance_started(
                after.instance_id,
                after.tenant_id,
                after.instance_type,
                at,
                previous_stop=after.stopped_at,
            )
        elif before.state is InstanceState.RUNNING:
            await billing.instance_stopped(after.instance_id, at)

    return on_transition


def usage_sampler(
    settings: Settings,
    billing: BillingService,
    objects: ObjectService,
    compute: ComputeService,
    customer_keys: CustomerKeyService,
    identity: IdentityService,
) -> UsageSampler:
    """What tenants hold, read through each context's service, sampled for billing."""
    region = settings.region

    async def stored_bytes() -> dict[tuple[str, str], int]:
        return await objects.stored_bytes_by_tenant_and_region()

    async def volume_gib() -> dict[tuple[str, str], int]:
        return {(t, region): g for t, g in (await compute.volume_gib_by_tenant()).items()}

    async def kms_keys() -> dict[tuple[str, str], int]:
        held: dict[tuple[str, str], int] = {}
        for tenant in await identity.list_tenants():
            for key_region, count in (await customer_keys.billable_keys(tenant.id)).items():
                held[(tenant.id, key_region)] = count
        return held

    async def running_instances() -> list[RunningInstance]:
        return [
            RunningInstance(
                i.instance_id, i.tenant_id, i.instance_type, i.last_launch_time, i.stopped_at
            )
            for i in await compute.running_instances()
        ]

    return UsageSampler(
        billing,
        interval=settings.billing_sample_interval,
        stored_bytes=stored_bytes,
        volume_gib=volume_gib,
        kms_keys=kms_keys,
        running_instances=running_instances,
    )


def s3_services(
    settings: Settings,
    objects: ObjectService,
    identity: IdentityService,
    kms_keys: KmsKeyResolver | None = None,
    *,
    allowed_regions: Callable[[str], Awaitable[frozenset[str]]] | None = None,
    access_logs: AccessLogDelivery | None = None,
    expirations: ExpirationView | None = None,
    operator_access: OperatorAccessService | None = None,
    replicator: Replicator | None = None,
    replication_grants: ReplicationGrants | None = None,
    topics: TopicService | None = None,
) -> S3Services:
    authoriser = S3Authoriser(
        identity.policies_for,
        settings.region,
        None if operator_access is None else operator_access_check(operator_access),
    )
    return S3Services(
        objects=objects,
        settings=settings,
        authoriser=authoriser,
        kms_keys=kms_keys,
        allowed_regions=allowed_regions,
        access_keys=identity,
        access_logs=access_logs,
        expirations=expirations,
        replicator=replicator,
        replication_grants=replication_grants,
        topics=topics,
    )


def topic_service(
    settings: Settings, store: TopicStore, queue: EventQueue | None = None
) -> TopicService:
    """The tenants' notification topics (decision 0132), whose ARNs name this region;
    ``queue``: where the test event of each configuration accepted goes (increment 4)."""
    return TopicService(
        store,
        region=settings.region,
        max_topics=settings.max_notification_topics,
        queue=queue,
        queue_bound=settings.notification_queue_per_tenant,
    )


def delivery_policy(settings: Settings) -> DeliveryPolicy:
    """How event notifications are pushed (decision 0132), from the settings."""
    return DeliveryPolicy(
        interval=settings.notification_interval,
        batch=settings.notification_batch,
        lease=settings.notification_lease,
        max_attempts=settings.notification_max_attempts,
        retry_base=settings.notification_retry_base,
        timeout=settings.notification_timeout,
        allowed=networks(settings.notification_endpoint_allow_cidrs),
    )


def replication_grants(
    settings: Settings, identity: IdentityService, audit: AuditService | None
) -> S3ReplicationGrants:
    """Who may replicate into another tenant's bucket (decision 0112, increment 4), decided
    by an S3 authoriser of its own: a role's session is no operator, so it needs no
    operator-access check."""
    return S3ReplicationGrants(
        identity, S3Authoriser(identity.policies_for, settings.region), audit
    )


def replicator_for(
    settings: Settings,
    objects: ObjectService,
    queue: ReplicationQueue,
    replica_keys: ReplicaKeys | None = None,
    grants: ReplicationGrants | None = None,
) -> Replicator:
    """Bucket replication's queueing and worker (decision 0112), claiming only the tasks
    whose two regions this gateway serves; ``replica_keys`` seal the replicas of versions
    under a KMS key; ``grants`` decide copies into another tenant's bucket."""
    return Replicator(
        objects,
        queue,
        regions=settings.served_region_names,
        interval=settings.replication_interval,
        batch=settings.replication_batch,
        lease=settings.replication_lease,
        max_attempts=settings.replication_max_attempts,
        retry_base=settings.replication_retry_base,
        replica_keys=replica_keys,
        grants=grants,
    )


def operator_access_check(service: OperatorAccessService) -> OperatorAccessCheck:
    """S3's question to the access requests, for an operator's credentials (0107)."""

    async def check(principal: Principal, action: str, bucket: str | None) -> bool:
        if principal.session_name is None or principal.tenant_id is None:
            return False
        return await service.allows(
            principal.session_name,
            tenant_id=principal.tenant_id,
            operator_id=principal.user_id or "",
            action=action,
            bucket=bucket,
        )

    return check


def operator_access_service(
    settings: Settings, store: AccessRequestStore, audit: AuditService
) -> OperatorAccessService:
    return OperatorAccessService(
        store,
        audit,
        max_duration=settings.operator_access_max_duration,
        reason_max_length=settings.operator_access_reason_max_length,
        request_ttl=settings.operator_access_request_ttl,
    )


async def open_blob_stores(
    settings: Settings,
) -> tuple[RegionalBlobs, Callable[[], Awaitable[None]] | None]:
    """The blob store of each region this gateway serves, on the backend the settings choose,
    and what closes them (None: nothing to close). No other region's store is opened: its
    folder or pool may not even be reachable (or allowed, by cephx) from this host."""
    served = sorted(settings.served_region_names)
    if settings.blob_backend == "local":
        stores: dict[str, BlobStore] = {}
        for region in served:
            local = LocalBlobStore(settings.region_directory(region), fsync=settings.fsync)
            if settings.blob_directories_at_start:
                await asyncio.to_thread(local.prepare_layout)
            stores[region] = local
        return RegionalBlobs(stores, settings.region), None
    # Imported here: librados is a system package that only RADOS deployments need.
    from andromede.storage.blob_rados import RadosCluster, RadosConfig

    if settings.ceph_conf is None:  # the settings validator already refuses this
        raise ValueError("blob_backend = rados needs ceph_conf")
    cluster = await RadosCluster.connect(
        RadosConfig(
            conf_file=settings.ceph_conf,
            keyring=settings.ceph_keyring,
            user=settings.ceph_user,
            connect_timeout=settings.ceph_connect_timeout,
            op_timeout=settings.ceph_op_timeout,
            reconnect_delay=settings.ceph_reconnect_delay,
            reconnect_delay_max=settings.ceph_reconnect_delay_max,
        )
    )
    try:
        pools = await cluster.blob_stores_by_region(
            {region: settings.region_pool(region) for region in served},
            stripe_size=settings.rados_stripe_size,
        )
    except BaseException:
        await cluster.close()
        raise
    return RegionalBlobs(dict(pools), settings.region), cluster.close


def storage_limits(settings: Settings) -> StorageLimits:
    return StorageLimits(
        max_object_size=settings.max_object_size,
        max_part_size=settings.max_part_size,
        min_part_size=settings.min_part_size,
        max_parts=settings.max_parts,
        max_key_length=settings.max_key_length,
        max_user_metadata_size=settings.max_user_metadata_size,
        read_chunk_size=settings.read_chunk_size,
        deletion_grace=settings.orphan_grace,
        inline_object_max_bytes=settings.inline_object_max_bytes,
        inline_object_regions=settings.inline_region_names,
        opened_headers_memo_size=settings.opened_headers_cache_size,
        notification_queue_per_tenant=settings.notification_queue_per_tenant,
    )


async def migrate(settings: Settings) -> str:
    """Create the data folder and bring the metadata database to the latest schema; returns
    the database URL."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    url = database_url(settings)
    log.info("metadata database %s: migrating to the latest schema", describe_url(url))
    await asyncio.to_thread(upgrade, url)
    return url


def audit_key_name(settings: Settings) -> str:
    """The region's log signing key name; each log's origin is ``<name>/<log>`` (0105)."""
    return f"{settings.s3_domain.strip('.').lower()}/{settings.region}/audit"


async def open_audit_trail(
    settings: Settings, db: Database, store: AuditStore, provider: RootKeyProvider
) -> AuditTrail:
    """The region's signing key (in a file or in ``provider``'s token, made on first start,
    checked against the one the database registered: decision 0134) and the trail served over
    ``store``; the verifier key is published beside the admin credentials."""
    key = await open_log_signing_key(settings, db, audit_key_name(settings), provider)
    await asyncio.to_thread(publish_verifier_key, key, settings.data_dir / PUBLIC_KEY_FILE_NAME)
    return AuditTrail(
        store,
        key,
        max_entries=settings.audit_max_entries,
        cosigned=SqlCosignatureStore(db),
        keys=RegisteredKeys(settings, db, key, provider),  # a rotation reaches it (0140)
    )


def audit_witnessing(
    settings: Settings, db: Database, trail: AuditTrail, store: AuditStore
) -> Witnessing | None:
    """The round asking ``audit_witnesses`` to cosign every log (decision 0122); None
    without witnesses."""
    if not settings.audit_witnesses:
        return None
    endpoints: list[WitnessEndpoint] = []
    for witness in settings.audit_witnesses:
        try:
            endpoints.append(WitnessEndpoint(witness.url, *parse_cosigner_key(witness.key)))
        except NoteError as exc:
            raise ConfigurationError(f"audit_witnesses: {witness.url}: {exc}") from exc
    ca = settings.audit_witness_ca_file
    return Witnessing(
        trail,
        store,
        SqlCosignatureStore(db),
        endpoints,
        interval=settings.audit_witness_interval,
        timeout=settings.audit_witness_timeout,
        verify=True if ca is None else ssl.create_default_context(cafile=str(ca)),
    )


def identity_service(settings: Settings, db: Database) -> IdentityService:
    """The identity service over ``db``, with the secrets key of the data folder."""
    recipients, audiences = accepted_endpoints(
        settings.saml_endpoints, settings.saml_accept_aws_endpoints, settings.region
    )
    limits = IdentityLimits(
        cache_ttl=settings.identity_cache_ttl,
        key_usage_flush_interval=settings.key_usage_flush_interval,
        max_policies_per_entity=settings.max_policies_per_entity,
        password_min_length=settings.password_min_length,
        login_max_failures=settings.login_max_failures,
        login_backoff_max=settings.login_backoff_max,
        console_session_idle_timeout=settings.console_session_idle_timeout,
        console_session_lifetime=settings.console_session_lifetime,
        oidc_ca_bundle=settings.oidc_ca_bundle,
        oidc_timeout=settings.oidc_timeout,
        oidc_allowed_networks=settings.oidc_allowed_networks,
        oidc_jwks_cache_ttl=settings.oidc_jwks_cache_ttl,
        oidc_max_document_size=settings.oidc_max_document_size,
        saml_recipients=recipients,
        saml_audiences=audiences,
        saml_clock_skew=settings.saml_clock_skew,
        saml_max_metadata_size=settings.saml_max_metadata_size,
    )
    return IdentityService(
        SqlIdentityStore(db),
        SecretSealer.from_key_file(settings.data_dir / "keys" / "secrets.key"),
        limits=limits,
    )


def customer_key_service(
    settings: Settings,
    db: Database,
    identity: IdentityService,
    keys: KeyService,
    audit: AuditService | None = None,
) -> CustomerKeyService:
    """The KMS keys over ``db``, decided by key policies with ``identity``'s IAM policies, and
    the external key stores (their proxies' secrets sealed as IAM's access-key secrets are;
    every proxy call audited when ``audit`` is given)."""
    key_store = SqlCustomerKeyStore(db)
    authoriser = KmsAuthoriser(
        identity.policies_for, settings.region, key_aliases=alias_names(key_store)
    )
    client = XksClient(
        region=settings.region,
        timeout=settings.xks_timeout,
        allowed_networks=settings.xks_allowed_networks,
        ca_bundle=settings.xks_ca_bundle,
        client_certificate=(
            None
            if settings.xks_client_cert is None or settings.xks_client_key is None
            else (settings.xks_client_cert, settings.xks_client_key)
        ),
        max_connections=settings.xks_max_connections,
        on_call=None if audit is None else xks_auditor(audit),
    )
    external_stores = CustomKeyStoreService(
        SqlCustomKeyStoreStore(db),
        key_store,
        authoriser,
        client,
        SecretSealer.from_key_file(settings.data_dir / "keys" / "secrets.key"),
    )
    return CustomerKeyService(
        key_store,
        keys,
        authoriser,
        region=settings.region,
        on_demand_rotations=settings.kms_on_demand_rotations,
        grants_per_key=settings.kms_grants_per_key,
        external_stores=external_stores,
        regions=[r.name for r in settings.declared_regions],
    )


def xks_auditor(audit: AuditService) -> Callable[[XksCall], None]:
    """Each call to a customer's XKS proxy as an audit record of its own (decision 0090),
    beside the KMS request's: which proxy API, for which KMS operation, request and key, and
    how it ended. Never a plaintext, a key or the credential."""

    def record(call: XksCall) -> None:
        details = {
            "proxy": call.base_url,
            "kms_operation": call.metadata.kms_operation,
            "duration_ms": f"{call.duration_ms:.1f}",
        }
        if call.external_key_id is not None:
            details["xks_key_id"] = call.external_key_id
        if call.failure is not None:
            details["error"] = call.failure.value
        key_arn = call.metadata.kms_key_arn
        audit.record(
            request_id=call.metadata.kms_request_id or "-",
            tenant_id=call.metadata.account_id,
            principal=call.metadata.aws_principal_arn,
            action=f"kms-xks-proxy:{call.operation}",
            resource=key_arn or call.base_url,
            outcome=Outcome.SUCCESS if call.failure is None else Outcome.FAILURE,
            details=details,
        )

    return record


def tenant_closer(
    identity: IdentityService,
    keys: KeyService,
    customer_keys: CustomerKeyService,
    *,
    buckets: Callable[[str], Awaitable[list[Bucket]]],
    topics: TopicService,
) -> Callable[[str], Awaitable[Tenant]]:
    """What closing a tenant does, from the management API and the command line alike.
    ``buckets``: the tenant's buckets (the object service's ``list_buckets``); ``topics``:
    its event notification topics, deleted with the events queued for them (decision 0132)."""

    async def close(reference: str) -> Tenant:
        """Close the tenant for good, crypto-shredding it first (issue 5, decision 0050):
        every KMS key of its account and its own key ring are destroyed in the root-key
        provider, so no object, volume or ciphertext of it can be read again, whatever
        database copy is restored later. Shredding comes first: if it fails the tenant is
        not closed, and closing again retries it (each destruction is idempotent).

        Refused while the tenant has a bucket with Object Lock (decision 0102): shredding
        would destroy versions that a retention or legal hold promises to keep. The bucket
        goes once its versions may (deleting it needs it empty), then the tenant closes."""
        tenant = await identity.get_tenant(reference)
        if tenant.status is not TenantStatus.CLOSED:
            locked = sorted(b.name for b in await buckets(tenant.id) if b.object_lock is not None)
            if locked:
                raise InvalidTenantTransition(
                    "the tenant has buckets with Object Lock, whose versions closing would "
                    "destroy: " + ", ".join(locked[:10])
                )
            destroyed = await customer_keys.destroy_account_keys(tenant.id)
            await asyncio.to_thread(keys.destroy_tenant_key, tenant.id)
            forgotten = await topics.forget_tenant(tenant.id)
            log.warning(
                "tenant %s closing: its key ring, %d KMS keys and %d notification topics destroyed",
                tenant.id,
                len(destroyed),
                forgotten,
            )
        return await identity.close_tenant(tenant.id)

    return close


@contextlib.asynccontextmanager
async def open_tenant_closer(
    settings: Settings,
) -> AsyncIterator[Callable[[str], Awaitable[Tenant]]]:
    """``tenant_closer`` over the data folder's database and root-key provider: what
    ``andromede admin tenant close`` works with."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    keys = await asyncio.to_thread(key_service, settings)
    try:
        identity = identity_service(settings, db)
        store = SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size)
        yield tenant_closer(
            identity,
            keys,
            customer_key_service(settings, db, identity, keys),
            buckets=store.list_buckets,
            topics=topic_service(settings, SqlTopicStore(db)),
        )
    finally:
        await asyncio.to_thread(keys.close)
        await db.close()


async def _identity_upkeep(settings: Settings, identity: IdentityService) -> None:
    """Write access keys' last use in batches; drop expired temporary credentials."""
    next_purge = 0.0
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(settings.key_usage_flush_interval)
        try:
            await identity.flush_key_usage()
            if loop.time() >= next_purge:
                await identity.purge_expired_sessions()
                next_purge = loop.time() + settings.sweeper_interval
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("identity upkeep failed")


async def audit_retention(settings: Settings, store: AuditStore) -> None:
    """Every ``sweeper_interval``: prune the audit entries older than ``audit_retention_days``
    (their text; their hashes stay, decision 0107). Every gateway may run it: pruning twice
    prunes nothing more."""
    while True:
        try:
            cut = datetime.now(UTC) - timedelta(days=settings.audit_retention_days)
            pruned = await store.prune(cut)
            if pruned:
                log.info("audit retention: %d entries older than %s pruned", pruned, cut)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("audit retention failed")
        await asyncio.sleep(settings.sweeper_interval)


def audit_key_schedule(
    settings: Settings, db: Database, provider: RootKeyProvider, audit: AuditService
) -> ScheduledRotation:
    """The region's key rotated every ``audit_key_rotation_days`` (decision 0140's addendum),
    each rotation an event of the platform's log, as the operator's command is."""

    def record(rotation: Rotation) -> None:
        audit.record(
            request_id=f"auto-audit-key-{rotation.generation}",
            tenant_id=None,
            principal="andromede:scheduled-rotation",
            action="andromede:RotateAuditSigningKey",
            resource=f"audit-signing-key/{rotation.generation}",
            outcome=Outcome.SUCCESS,
        )

    return ScheduledRotation(settings, db, audit_key_name(settings), provider, on_rotation=record)


async def lapse_access_requests(settings: Settings, service: OperatorAccessService) -> None:
    """Every ``sweeper_interval``: expire the operator access requests left pending past
    ``operator_access_request_ttl``, each lapse an event of its tenant's log (decision 0114).
    Reads lapse what they touch anyway; this puts the lapse in the log when nobody looks."""
    while True:
        try:
            lapsed = await service.lapse_due()
            if lapsed:
                log.info("operator access: %d pending requests lapsed undecided", lapsed)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("operator access lapse failed")
        await asyncio.sleep(settings.sweeper_interval)


async def _compute_upkeep(settings: Settings, compute: ComputeService) -> None:
    """Purge the records of instances terminated longer ago than the retention, bring every
    host's firewalls and overlay peers back to the records every ``compute_resync_interval``,
    and stop or terminate the instances whose guest powered off (decision 0145)."""
    loop = asyncio.get_running_loop()
    next_purge = loop.time() + settings.sweeper_interval
    next_resync = loop.time() + settings.compute_resync_interval
    next_check = loop.time() + settings.instance_shutdown_check_interval
    while True:
        await asyncio.sleep(max(0.0, min(next_purge, next_resync, next_check) - loop.time()))
        try:
            if loop.time() >= next_check:
                next_check = loop.time() + settings.instance_shutdown_check_interval
                await compute.notice_guest_shutdowns()
                await compute.resume_image_creations()  # decision 0148
            if loop.time() >= next_purge:
                next_purge = loop.time() + settings.sweeper_interval
                await compute.purge_terminated()
            if loop.time() >= next_resync:
                next_resync = loop.time() + settings.compute_resync_interval
                await compute.resync_hosts()
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("compute upkeep failed")


# Who the audit names for lifecycle actions: the platform's service, acting on the bucket
# owner's rule (AWS's is the S3 service principal).
LIFECYCLE_PRINCIPAL = "s3.lifecycle"


def lifecycle_auditor(audit: AuditService) -> Callable[[LifecycleAction], None]:
    """Each lifecycle expiry and abort as an audit event of the bucket owner's account: the
    platform acting on the customer's data, under the customer's rule, is an access like any
    other (decision 0082)."""

    def record(action: LifecycleAction) -> None:
        expired = action.upload_id is None
        audit.record(
            request_id=new_request_id(),
            tenant_id=action.tenant_id,
            principal=LIFECYCLE_PRINCIPAL,
            action="s3:DeleteObject" if expired else "s3:AbortMultipartUpload",
            resource=f"arn:aws:s3:::{action.bucket}/{action.key}",
            outcome=Outcome.SUCCESS,
            details={
                "operation": "LifecycleExpiration" if expired else "LifecycleAbort",
                "rule": action.rule_id or "",
                **({} if expired else {"upload_id": action.upload_id or ""}),
            },
        )

    return record


async def auto_invoicing(
    settings: Settings, identity: IdentityService, billing: BillingService, audit: AuditService
) -> None:
    """Every ``billing_sample_interval``: once ``billing_auto_invoice_delay`` has passed since
    a month's end, every open tenant's invoice of that month (decision 0123), each an event of
    its tenant's log by the platform. Suspended tenants are invoiced too (they hold data);
    closed ones are not."""
    delay = timedelta(seconds=settings.billing_auto_invoice_delay or 0)
    while True:
        try:
            tenants = [
                (t.id, t.name)
                for t in await identity.list_tenants()
                if t.status is not TenantStatus.CLOSED
            ]
            for invoice in await billing.issue_due_invoices(tenants, delay):
                audit.record(
                    request_id=f"auto-{invoice.number}",
                    tenant_id=invoice.tenant_id,
                    principal="andromede:auto-invoicing",
                    action="andromede:IssueInvoice",
                    resource=invoice_arn(invoice.tenant_id, invoice.number),
                    outcome=Outcome.SUCCESS,
                )
                log.info("invoice %s issued for %s", invoice.number, invoice.tenant_id)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("automatic invoicing failed")
        await asyncio.sleep(settings.billing_sample_interval)


async def _kms_upkeep(settings: Settings, customer_keys: CustomerKeyService) -> None:
    """Destroy KMS keys whose deletion window is over; rotate keys whose rotation is due;
    delete imported key material past its expiry."""
    while True:
        try:
            report = await customer_keys.upkeep()
            for key_id in report.destroyed:
                log.warning("KMS key %s: deletion window over, key material destroyed", key_id)
            for key_id in report.rotated:
                log.info("KMS key %s: rotated automatically", key_id)
            for key_id in report.expired:
                log.warning("KMS key %s: imported key material expired, deleted", key_id)
        except Exception:  # a failed round must not end the loop; the next one retries
            log.exception("KMS key upkeep failed")
        await asyncio.sleep(settings.kms_upkeep_interval)


async def _bootstrap(settings: Settings, identity: IdentityService) -> BootstrapResult | None:
    result = await identity.bootstrap()
    if result is not None:
        write_credentials(settings.credentials_path, result.access_key_id, result.secret_access_key)
        log.warning(
            "first start: tenant %s created; its root user's access key is in %s",
            result.tenant.name,
            settings.credentials_path,
        )
    operator = await identity.bootstrap_operator()
    if operator is not None:
        write_credentials(
            settings.operator_credentials_path,
            operator.access_key_id,
            operator.secret_access_key,
            profile="andromede-operator",
        )
        log.warning(
            "platform operator %s created; its access key is in %s",
            operator.operator.name,
            settings.operator_credentials_path,
        )
    return result


@contextlib.asynccontextmanager
async def open_identity(settings: Settings) -> AsyncIterator[IdentityService]:
    """The identity service over the data folder's database, migrated first: what the operator
    command line works on, beside a running server or not (SQLite WAL lets both write)."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    try:
        yield identity_service(settings, db)
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_metadata(
    settings: Settings,
) -> AsyncIterator[tuple[IdentityService, SqlMetadataStore]]:
    """Identity and object metadata over the data folder's database, migrated first: what the
    operator's reports read (no blob store is opened)."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    try:
        yield (
            identity_service(settings, db),
            SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size),
        )
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def open_billing(settings: Settings) -> AsyncIterator[tuple[IdentityService, BillingService]]:
    """Identity and billing over the data folder's database, migrated first: what
    ``andromede admin usage`` reads."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    try:
        yield identity_service(settings, db), billing_service(settings, db)
    finally:
        await db.close()


def operator_cli_principal() -> str:
    """``operator-cli:<the machine's user>`` (its uid where the user has no name)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry (a bare container)
        user = f"uid-{os.getuid()}"
    return f"operator-cli:{user}"


async def record_operator_action(
    settings: Settings, *, tenant_id: str | None, action: str, resource: str
) -> None:
    """One event of an operator's command-line action (``andromede admin …``) in the log of
    the tenant it touched (the platform's for none): the command line writes to the database
    as the management API does, and is audited as the API is — every access, the operator's
    included, lands in the log. The principal is the machine's user who ran it."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    audit = AuditService(SqlAuditStore(db))
    try:
        audit.record(
            request_id=f"cli-{new_request_id()}",
            tenant_id=tenant_id,
            principal=operator_cli_principal(),
            action=action,
            resource=resource,
            outcome=Outcome.SUCCESS,
        )
    finally:
        await audit.close()
        await db.close()


async def rotate_audit_signing_key(
    settings: Settings, *, to: Literal["file", "hsm"], reason: str
) -> Rotation:
    """``andromede admin audit-key rotate``: the region's log signing key replaced by a new
    one in a key file or in the token, the transition signed by both (decision 0140), then
    recorded as the operator's action in the platform's log (signed by the new key)."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    try:
        provider = await asyncio.to_thread(root_key_provider, settings)
        try:
            rotation = await rotate_log_signing_key(
                settings, db, audit_key_name(settings), provider, to=to, reason=reason
            )
        finally:
            await asyncio.to_thread(provider.close)
    finally:
        await db.close()
    await record_operator_action(
        settings,
        tenant_id=None,
        action="andromede:RotateAuditSigningKey",
        resource=f"audit-signing-key/{rotation.generation}",
    )
    return rotation


@contextlib.asynccontextmanager
async def open_invoicing(
    settings: Settings,
) -> AsyncIterator[tuple[IdentityService, BillingService, AuditService]]:
    """Identity, billing and the audit service over the data folder's database, migrated
    first: what ``andromede admin invoice`` works on (an issue is an event of the tenant's
    log, as on the management API)."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    audit = AuditService(SqlAuditStore(db))
    try:
        yield identity_service(settings, db), billing_service(settings, db), audit
    finally:
        await audit.close()
        await db.close()


@contextlib.asynccontextmanager
async def open_image_library(
    settings: Settings,
) -> AsyncIterator[tuple[ComputeService, IdentityService]]:
    """The compute service without hypervisors (images only) and the identity service, over the
    data folder's database: what ``andromede admin image import`` works on."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    keys = await asyncio.to_thread(key_service, settings)
    try:
        compute = ComputeService(
            SqlComputeStore(db),
            [],
            KmsDiskKeys(keys, inline=settings.key_provider == "file"),
            compute_limits(settings),
            ImageFiles(settings.data_dir / "compute" / "images", settings.max_image_size),
        )
        yield compute, identity_service(settings, db)
    finally:
        await asyncio.to_thread(keys.close)
        await db.close()


@contextlib.asynccontextmanager
async def open_instance_metadata(
    settings: Settings, driver: HypervisorDriver
) -> AsyncIterator[MetadataApp]:
    """The instance metadata service of the host ``driver`` runs: what the hypervisor agent
    serves to its guests (decision 0021). The agent is a platform component of the host, like
    a gateway: it opens the same metadata database (its schema is the gateways' to migrate) for
    the compute records, and identity over it with the data folder's secrets key to issue the
    instance profiles' credentials."""
    db = _open_database(settings, settings.effective_database_url)
    try:
        directory = ComputeInstanceDirectory(SqlComputeStore(db), driver, settings.region)
        yield create_metadata_app(
            directory, identity_service(settings, db), ImdsLimits.from_settings(settings)
        )
    finally:
        await db.close()


def run_hypervisor_agent(settings: Settings) -> None:
    """Serve this host's QEMU driver on its agent socket — and, with ``hypervisor_agent_listen``,
    to gateways on other machines over mutual TLS (decision 0022) — and the instance metadata
    service to its guests, until SIGTERM/SIGINT (blocking; the body of ``andromede agent`` and
    of the agent process ``andromede serve`` starts)."""
    listen = settings.hypervisor_agent_address
    tls = None
    if listen is not None:
        cert, key, ca = (
            settings.hypervisor_agent_tls_cert,
            settings.hypervisor_agent_tls_key,
            settings.hypervisor_agent_tls_ca,
        )
        if cert is None or key is None or ca is None:  # the settings refuse it too
            raise ConfigurationError("hypervisor_agent_listen needs its certificate, key and CA")
        try:
            tls = agent_server_context(cert, key, ca)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(f"the agent's TLS certificate, key or CA: {exc}") from exc
    driver = hypervisor_host_driver(settings)

    async def main() -> None:
        async with open_instance_metadata(settings, driver) as metadata:
            await serve_agent(
                driver,
                settings.hypervisor_agent_socket,
                metadata_app=metadata,
                listen=listen,
                tls=tls,
            )

    asyncio.run(main())


async def prepare(settings: Settings) -> BootstrapResult | None:
    """The once-per-deployment start-up work (data folder, migrations, first tenant and its
    credentials, the secrets key, the encryption of objects stored before encryption at rest),
    done before worker processes start so they never race on it. Idempotent: every later start
    finds it done. Returns the bootstrap on the first start."""
    url = await migrate(settings)
    db = _open_database(settings, url)
    try:
        result = await _bootstrap(settings, identity_service(settings, db))
        await reencrypt_legacy_objects(settings, db)
        return result
    finally:
        await db.close()


async def reencrypt_legacy_objects(settings: Settings, db: Database) -> int:
    """Encrypt the objects stored before encryption at rest (an Alembic migration cannot reach
    the root-key provider, so this start-up step does it; see decision 0011)."""
    keys = await asyncio.to_thread(key_service, settings)
    blobs, close_blobs = await open_blob_stores(settings)
    try:
        objects = ObjectService(
            SqlMetadataStore(db, row_memo_size=settings.opened_headers_cache_size),
            blobs,
            storage_limits(settings),
            object_cipher(settings, keys),
        )
        done = await objects.reencrypt_legacy_objects()
    finally:
        keys.close()
        if close_blobs is not None:
            await close_blobs()
    if done:
        log.warning("encryption at rest: %d objects stored in clear were encrypted", done)
    return done


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
